"""The claims ledger: combination rule, unchecked reasons, rendering, the record, and `amlab verify`."""
import json

import pytest

from proofs_check import ledger as L
from simulations import cli, experiments

REQUIRED_IDS = (
    "algorithm-1 table-1 eq-2 sec3.1-eps-closed-form sec3.1-limiting-stepsizes sec3.1-stepsize-ordering "
    "sec3.1-area-A sec3.1-area-B sec3.1-area-C lemma-1 assumption-1 assumption-2 assumption-3 assumption-4 "
    "assumption-5 proposition-1 theorem-1 corollary-1 theorem-2 corollary-2 sec5.1.1-toy-fastest memory-cost"
).split()


def row(claim, verdict, method="symbolic", scope=None, evidence="e"):
    details = {} if scope is None else {"scope": scope}
    return {"claim": claim, "verdict": verdict, "method": method, "evidence": evidence, "details": details}


def test_claims_cover_the_required_ids_in_order():
    # The claims added for the paper's other numbered statements, rates, consistency and tables
    # (tests/test_claims_coverage.py) sit between these, in the paper's order.
    assert len(set(L.CLAIM_IDS)) == len(L.CLAIM_IDS)
    positions = [L.CLAIM_IDS.index(c) for c in REQUIRED_IDS]
    assert positions == sorted(positions)
    for claim in L.CLAIMS:
        assert claim["where"] and claim["statement"] and claim["sources"]
        assert set(claim["sources"]) <= {"proofs", *experiments.EXPERIMENTS}


@pytest.mark.parametrize("verdicts, expected", [
    ([], "unchecked"),
    (["unchecked"], "unchecked"),
    (["proved"], "proved"),
    (["proved", "holds"], "proved"),
    (["holds", "unchecked"], "holds"),
    (["proved", "fails"], "fails"),
    (["unsatisfiable", "fails"], "unsatisfiable"),
    (["assumption-violated", "fails"], "fails"),
    (["assumption-violated", "unsatisfiable", "holds"], "unsatisfiable"),
    (["proved", "assumption-violated"], "assumption-violated"),
    (["holds", "not-significant"], "not-significant"),
    (["not-significant", "fails"], "fails"),
    (["not-significant", "assumption-violated"], "assumption-violated"),
    (["not-significant", "unchecked"], "not-significant"),
])
def test_combination_rule(verdicts, expected):
    assert L.combine([row("table-1", v) for v in verdicts]) == expected


def test_proved_steps_alone_do_not_prove_the_claim():
    assert L.combine([row("theorem-1", "proved", scope="step")]) == "unchecked"
    assert L.combine([row("theorem-1", "proved", scope="step"), row("theorem-1", "holds", scope="step")]) == "unchecked"
    assert L.combine([row("theorem-1", "proved", scope="step"), row("theorem-1", "holds", "simulation")]) == "holds"
    entry = {e["claim"]: e for e in L.build_ledger([row("theorem-1", "proved", scope="step")])}["theorem-1"]
    assert entry["verdict"] == "unchecked" and entry["reason"].startswith("only proof steps checked")
    assert L.combine([row("theorem-1", "proved", scope="step"), row("theorem-1", "proved")]) == "proved"
    assert L.combine([row("theorem-1", "proved", scope="step"), row("theorem-1", "fails", scope="step")]) == "unchecked"


def test_a_false_proof_step_is_evidence_not_the_statements_verdict():
    """A counterexample to a step of the paper's proof shows the proof is incomplete; the statement's
    verdict comes from rows about the statement (a claim-scoped counterexample still fails it)."""
    step_fails = row("corollary-1", "fails", scope="step")
    assert L.combine([step_fails, row("corollary-1", "holds", "simulation")]) == "holds"
    assert L.combine([step_fails, row("corollary-1", "assumption-violated", "simulation")]) == "assumption-violated"
    assert L.combine([step_fails, row("corollary-1", "fails", "simulation")]) == "fails"
    assert L.combine([step_fails, row("corollary-1", "proved"), row("corollary-1", "holds", "simulation")]) == "proved"
    step_unsat = row("corollary-1", "unsatisfiable", scope="step")
    assert L.combine([step_unsat, row("corollary-1", "holds", "simulation")]) == "holds"
    entry = {e["claim"]: e for e in L.build_ledger([step_fails])}["corollary-1"]
    assert entry["verdict"] == "unchecked" and "1 of them false" in entry["reason"]


def test_build_ledger_keeps_every_row_and_explains_unchecked():
    rows = [row("table-1", "proved"), row("proposition-1", "holds", "simulation"),
            row("proposition-1", "unsatisfiable")]
    ledger = L.build_ledger(rows, {"escape": "ModuleNotFoundError: No module named 'simulations.escape'\ntrace"})
    by_id = {e["claim"]: e for e in ledger}
    assert [e["claim"] for e in ledger] == list(L.CLAIM_IDS)
    assert by_id["table-1"]["verdict"] == "proved"
    assert by_id["proposition-1"]["verdict"] == "unsatisfiable"
    assert len(by_id["proposition-1"]["rows"]) == 2
    assert by_id["proposition-1"]["methods"] == ["simulation", "symbolic"]
    assert "escape: ModuleNotFoundError" in by_id["lemma-1"]["reason"]
    assert "trace" not in by_id["lemma-1"]["reason"]
    assert "toys" in by_id["sec3.1-area-A"]["reason"]
    assert by_id["memory-cost"]["reason"] == "no check produced a row"


def test_inconclusive_row_gives_its_evidence_as_the_reason():
    rows = [row("sec3.1-area-A", "unchecked", "simulation", evidence="interval [0.9, 1.1] straddles 1")]
    entry = {e["claim"]: e for e in L.build_ledger(rows)}["sec3.1-area-A"]
    assert entry["verdict"] == "unchecked"
    assert "straddles 1" in entry["reason"] and "expected source" not in entry["reason"]
    assert L.headline(entry) == entry["reason"]


def test_build_ledger_rejects_bad_verdicts_and_reports_unknown_claims():
    with pytest.raises(ValueError, match="verdict"):
        L.build_ledger([row("table-1", "probably")])
    ledger = L.build_ledger([row("not-a-claim", "holds")])
    assert ledger[-1]["claim"] == "unknown-claim-ids"


def test_render_and_write(tmp_path):
    ledger = L.build_ledger([row("table-1", "proved", evidence="a | b"), row("theorem-1", "fails", scope="step")])
    text = L.render_markdown(ledger)
    for claim in REQUIRED_IDS:
        assert f"`{claim}`" in text
    assert "a \\| b" in text and "proof step" in text
    from simulations.commands.verify import write_ledger, write_markdown
    path = write_ledger(ledger, tmp_path / "out")
    assert json.loads(path.read_text())[0]["claim"] == "algorithm-1"
    md = write_markdown(ledger, tmp_path / "docs" / "ledger.md")
    assert md.read_text().startswith("# Claims ledger")


def test_record_round_trip_and_comparison(tmp_path):
    ledger = L.build_ledger([row("table-1", "proved")])
    record = tmp_path / "recorded.json"
    assert L.load_recorded(record) == {}
    from simulations.commands.verify import save_recorded
    save_recorded(ledger, record)
    recorded = L.load_recorded(record)
    assert recorded["table-1"] == "proved" and recorded["lemma-1"] == "unchecked"
    assert L.compare_with_recorded(ledger, recorded) == []
    changed = L.build_ledger([row("table-1", "fails")])
    assert L.compare_with_recorded(changed, recorded) == ["table-1: recorded proved, now fails"]
    partial = {k: v for k, v in recorded.items() if k != "eq-2"}
    partial["old-claim"] = "holds"
    diffs = L.compare_with_recorded(ledger, partial)
    assert "eq-2: not recorded, now unchecked" in diffs and any("old-claim" in d for d in diffs)


def test_the_repository_record_names_every_claim():
    recorded = L.load_recorded()
    # A new claim enters the record when it is reviewed (`amlab verify --update-record`).
    assert set(recorded) == set(L.CLAIM_IDS)
    assert set(recorded.values()) <= set(L.VERDICTS)


def test_symbolic_rows_turns_a_crash_into_an_unchecked_row():
    def broken():
        raise RuntimeError("boom")

    rows = L.symbolic_rows([("eq-2", broken)])
    assert rows[0]["claim"] == "eq-2" and rows[0]["verdict"] == "unchecked" and "boom" in rows[0]["evidence"]


def test_every_check_is_registered_once_with_a_known_claim():
    checks = L.symbolic_checks()
    assert len({fn for _, fn in checks}) == len(checks)
    assert {claim for claim, _ in checks} <= set(L.CLAIM_IDS)


def _fake_run_experiment(rows_by_name):
    def run_experiment(name, scale="quick", device="auto", progress=False, out=None, subject="adamomentum",
                       baseline="adam"):
        outcome = experiments.Outcome(name)
        if name in rows_by_name:
            outcome.rows = rows_by_name[name]
        else:
            outcome.error = f"ModuleNotFoundError: No module named 'simulations.{name}'"
        return outcome
    return run_experiment


def test_verify_command_gate(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(L, "symbolic_rows", lambda **kw: [row("table-1", "proved")])
    monkeypatch.setattr(experiments, "run_experiment",
                        _fake_run_experiment({"toys": [row("sec3.1-area-A", "holds", "simulation")]}))
    monkeypatch.setattr(L, "RECORD_PATH", tmp_path / "recorded.json")
    args = ["verify", "--out", str(tmp_path / "out"), "--docs", str(tmp_path / "ledger.md")]
    assert cli.main(args) == 1  # no record yet: every claim differs
    assert cli.main(args + ["--update-record"]) == 0
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "all verdicts agree" in out and "sec3.1-area-A" in out
    ledger = json.loads((tmp_path / "out" / "ledger.json").read_text())
    by_id = {e["claim"]: e for e in ledger}
    assert by_id["sec3.1-area-A"]["verdict"] == "holds"
    assert "escape" in by_id["lemma-1"]["reason"]
    assert (tmp_path / "ledger.md").exists()
    # A changed verdict trips the gate.
    monkeypatch.setattr(L, "symbolic_rows", lambda **kw: [row("table-1", "fails")])
    assert cli.main(args) == 1
    assert "table-1: recorded proved, now fails" in capsys.readouterr().out


def test_verify_keeps_the_default_docs_unless_every_experiment_ran(tmp_path, monkeypatch, capsys):
    from simulations.commands import verify

    monkeypatch.setattr(L, "symbolic_rows", lambda **kw: [row("table-1", "proved")])
    monkeypatch.setattr(L, "RECORD_PATH", tmp_path / "recorded.json")
    (tmp_path / "docs").mkdir()
    (tmp_path / "pyproject.toml").write_text("")  # a source checkout: --write-docs may write there
    monkeypatch.setattr(verify, "DEFAULT_DOCS", tmp_path / "docs" / "default-ledger.md")
    base = ["verify", "--out", str(tmp_path / "out"), "--write-docs"]
    cli.main(base + ["--experiments", ""])
    assert not (tmp_path / "docs" / "default-ledger.md").exists()
    assert "NOT writing" in capsys.readouterr().err
    # An explicit --docs is honoured even then.
    cli.main(base + ["--experiments", "", "--docs", str(tmp_path / "explicit.md")])
    assert (tmp_path / "explicit.md").exists()
    # Every experiment ran: the default path is written with --write-docs, and only with it.
    everything = {name: [] for name in experiments.EXPERIMENTS}
    monkeypatch.setattr(experiments, "run_experiment", _fake_run_experiment(everything))
    cli.main(base[:-1])
    assert not (tmp_path / "docs" / "default-ledger.md").exists()
    assert (tmp_path / "out" / "ledger.md").exists()
    cli.main(base)
    assert (tmp_path / "docs" / "default-ledger.md").exists()


def test_verify_rejects_unknown_experiment(tmp_path):
    with pytest.raises(SystemExit) as exc:
        cli.main(["verify", "--experiments", "nope", "--out", str(tmp_path)])
    assert exc.value.code == 2


@pytest.mark.slow
def test_all_symbolic_checks_run_without_unchecked_rows():
    rows = L.symbolic_rows()
    # Inconclusive by design: an equivalence claim without a margin (Table 3's "as good as SGDM") and
    # the tuning-effort claim the tables cannot measure. Everything else must decide.
    by_design = [r for r in rows if r["details"].get("kind") == "as_good_as" or r["claim"] == "appendix-d-little-tuning"]
    assert rows and all(r["verdict"] != "unchecked" for r in rows if r not in by_design)
    assert not any("raised" in r["evidence"] for r in by_design)
    assert sum(r["details"]["seconds"] for r in rows) < 60


def test_headline_evidence_is_a_claim_scoped_row_when_one_decides():
    step = {"claim": "x", "verdict": "fails", "method": "symbolic", "evidence": "a proof step is false",
            "details": {"scope": "step"}}
    case = {"claim": "x", "verdict": "fails", "method": "simulation", "evidence": "a case breaks the bound",
            "details": {}}
    entry = {"claim": "x", "verdict": "fails", "rows": [step, case]}
    assert L.headline(entry) == "a case breaks the bound"
    assert L.headline({"claim": "x", "verdict": "fails", "rows": [step]}) == "a proof step is false"
