"""``amlab audit``: a torch optimizer the toolkit has never seen, through every experiment and the
invariant suite, on one page (smoke scale: the command's plumbing, not its verdicts)."""
from __future__ import annotations

import contextlib
import json
from html.parser import HTMLParser

import pytest
import torch

from simulations.cli import main
from simulations.experiments import EXPERIMENTS
from simulations.toys import experiment as toys
from smoke_memo import share_symbolic_checks, shared_dir

# one pytest-xdist worker for the whole module: its module-scoped fixture is computed once (--dist loadgroup)
pytestmark = pytest.mark.xdist_group("audit")


class _Sections(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.images = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.ids.append(attrs.get("id"))
        if tag == "img":
            self.images.append(attrs["src"])


@pytest.fixture(scope="module")
def audit_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("audit")
    with pytest.MonkeyPatch.context() as patch, float32_default():
        # the sympy checks that ignore the subject are the report's own (shared for the session);
        # every experiment still runs here for the unseen optimizer
        share_symbolic_checks(patch, shared_dir(tmp_path_factory))
        code = main(["audit", "--optimizer", "torch.optim:NAdam:momentum_decay=0.004", "--scale", "smoke",
                     "--device", "cpu", "--no-progress", "--out", str(out)])
    return code, out


@contextlib.contextmanager
def float32_default():
    """The command line's default dtype (tests/conftest.py makes the tests' float64)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def test_audit_runs_every_experiment_for_an_unseen_torch_optimizer(audit_run):
    code, out = audit_run
    assert code == 0  # every experiment ran (none failed) and the ledger was built
    summary = json.loads((out / "report.json").read_text())
    assert summary["meta"]["subject"] == "torch.optim:NAdam:momentum_decay=0.004"
    assert all(e["ok"] for e in summary["experiments"].values()), summary["experiments"].keys()
    assert set(summary["experiments"]) == set(EXPERIMENTS)
    assert {e["subject"] for e in summary["ledger"]} == {"torch.optim:NAdam:momentum_decay=0.004"}
    invariants = {r["name"]: r["status"] for r in summary["invariants"]}
    assert invariants["odd-symmetry"] == invariants["coordinate-wise"] == "holds"
    assert invariants["stepsize-times-moment"] == "unchecked"  # no such read-out: said, not crashed
    groups = summary["digest"]
    assert set(groups) == {"holds", "fails", "not significant", "hypotheses broken", "not checked",
                           "not about this method (the paper's formulas, other methods)"}
    # the sympy checks of Algorithm 1's formulas say nothing about NAdam
    assert any(item.startswith("algorithm-1:") for item in groups["not about this method (the paper's formulas, other methods)"])
    # What needs a read-out NAdam lacks is listed as not checked, with the reason.
    assert any(item.startswith("sec3.1-area-A: unchecked") and "effective_stepsize" in item
               for item in groups["not checked"])


def test_audit_page_shows_digest_invariants_ledger_and_existing_figures(audit_run):
    _, out = audit_run
    page = (out / "index.html").read_text()
    parser = _Sections()
    parser.feed(page)
    assert {"digest", "invariants", "ledger", "exp-toys", "exp-regret"} <= set(parser.ids)
    assert parser.ids.index("digest") < parser.ids.index("ledger")
    assert parser.images and all((out / src).is_file() for src in parser.images)
    assert "torch.optim:NAdam:momentum_decay=0.004" in page and "smoke scale" in page


def test_audit_numbers_are_the_experiments_own(audit_run):
    """The audit runs the experiment code unchanged: its toys record equals a direct run (whose
    simulate is checked against a hand-stepped torch.optim.NAdam in tests/test_toys.py)."""
    _, out = audit_run
    written = json.loads((out / "toys" / "toys.json").read_text())
    with float32_default():
        direct = toys.run_scale("smoke", device="cpu", subject="torch.optim:NAdam:momentum_decay=0.004")
    assert written["results"]["toys"]["functions"] == json.loads(json.dumps(direct["results"]["toys"]["functions"]))


def test_audit_refuses_a_bad_name_before_any_work(tmp_path):
    with pytest.raises(SystemExit) as err:
        main(["audit", "--optimizer", "torch.optim:NoSuchThing", "--out", str(tmp_path / "a")])
    assert err.value.code == 2
    assert not (tmp_path / "a").exists()
