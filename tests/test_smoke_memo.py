"""tests/smoke_memo.py: what it shares equals what it replaces, and it recomputes what differs."""
from __future__ import annotations

import pytest

from proofs_check import ledger
from proofs_check.result import CheckResult
from smoke_memo import _shared_call, share_symbolic_checks


def _without_seconds(rows):
    return [{**r, "details": {k: v for k, v in r["details"].items() if k != "seconds"}} for r in rows]


def test_symbolic_checks_are_shared_per_check_and_keyed_by_the_arguments_they_take(tmp_path, monkeypatch):
    calls = []

    def about_the_paper():
        calls.append("paper")
        return CheckResult("paper-formula", "c1", "holds", "symbolic", "an identity")

    def about_the_method(subject):
        calls.append(("method", subject))
        return CheckResult("method-claim", "c2", "holds", "symbolic", f"for {subject}")

    def broken():
        calls.append("broken")
        raise ValueError("no")

    checks = [("c1", about_the_paper), ("c2", about_the_method), ("c3", broken)]
    monkeypatch.setattr(ledger, "symbolic_checks", lambda: checks)
    plain = {s: ledger.symbolic_rows(subject=s) for s in ("adamomentum", "adam")}
    calls.clear()
    share_symbolic_checks(monkeypatch, tmp_path)
    for _ in range(2):
        for subject in ("adamomentum", "adam"):
            assert _without_seconds(ledger.symbolic_rows(subject=subject)) == _without_seconds(plain[subject])
    # once per check, and the subject-taking one once per subject; a raising check is shared as its row
    assert calls == ["paper", ("method", "adamomentum"), "broken", ("method", "adam")]
    ledger.symbolic_rows(subject="adam")[0]["verdict"] = "fails"  # a copy each time
    assert ledger.symbolic_rows(subject="adam")[0]["verdict"] == "holds"
    # a non-plain subject (an update rule) is not shared
    calls.clear()
    ledger.symbolic_rows(subject=object())
    assert len(calls) == 3


def test_shared_call_hands_back_copies_and_runs_non_plain_calls(tmp_path):
    calls = []

    def compute(n, tag=None, progress=None):
        calls.append((n, tag))
        return {"n": [n]}

    shared = _shared_call(tmp_path, compute)
    first = shared(3, tag="a", progress=True)
    first["n"].append(99)  # mutating a result must not change what the next caller gets
    assert shared(3, tag="a", progress=False) == {"n": [3]} and calls == [(3, "a")]
    shared(3, tag=object())
    assert len(calls) == 2
    with pytest.raises(TypeError):
        shared()
