"""amlab regret: outputs, replayable counterexamples, ledger rows."""
import json

import numpy as np
import pytest

from simulations import cli
from simulations.records import make_record
from simulations.regret import Preset, THEOREM_MEMBERS, ledger_rows, reddi_reproduction, run_preset, run_scale
from simulations.regret_core import OptimizerConfig, simulate
from simulations.regret_problems import ProblemConfig
from simulations.regret_search import _tests, counterexample_config, replay, sample_configs
from simulations.regret_summary import summarise


def test_cli_writes_record_and_figures(tmp_path, capsys):
    code = cli.main(["regret", "--steps", "300", "--optimizers", "adamomentum,adamomentum-max", "--period", "7",
                     "--big", "8", "--small", "1", "--lr", "0.5", "--device", "cpu", "--no-progress",
                     "--out", str(tmp_path)])
    assert code == 0
    record = json.loads((tmp_path / "regret.json").read_text())
    assert record["experiment"] == "regret"
    members = [s["member"] for s in record["results"]["summaries"]]
    assert members == ["adamomentum", "adamomentum-max"]
    s = record["results"]["summaries"][0]
    for key in ("x_final", "regret", "avg_regret", "slope_log_regret", "theorem1", "monitors"):
        assert key in s
    assert (tmp_path / "regret-cli-vs-sqrtT.png").stat().st_size > 0
    assert (tmp_path / "regret-cli-average.png").stat().st_size > 0


def test_cli_bad_input_exits_2(tmp_path):
    with pytest.raises(SystemExit) as err:
        cli.main(["regret", "--period", "0", "--steps", "100", "--out", str(tmp_path), "--no-progress"])
    assert err.value.code == 2
    with pytest.raises(SystemExit) as err:
        cli.main(["regret", "--steps", "5", "--out", str(tmp_path), "--no-progress"])
    assert err.value.code == 2


def test_counterexample_round_trip_and_replay(tmp_path, capsys):
    """Reddi's 3-periodic problem with C = 3 > 2, beta1 = 0, beta2 = 1/(1 + C^2): Adam goes to +1."""
    problem = ProblemConfig("periodic", period=3, big=3.0, small=1.0)
    opt = OptimizerConfig(lr=0.5, beta1=0.0, beta2=1 / (1 + 3.0**2))
    from simulations.regret_core import log_checkpoints
    import torch

    res = simulate("adam", [problem], [opt], 2000, seeds=2, checkpoints=log_checkpoints(2000, count=16))
    summary = summarise(res)[0]
    test = _tests(summary)
    assert test["passed"] and summary["x_tail_mean"]["estimate"] > 0.9
    config = counterexample_config(summary, torch.device("cpu"), torch.float64, test)
    path = tmp_path / "adam-000.json"
    path.write_text(json.dumps(config))
    again = replay(json.loads(path.read_text()), device="cpu")
    assert again["numbers_match"] and again["reproduced"]
    code = cli.main(["regret", "--replay", str(path), "--device", "cpu", "--no-progress", "--out", str(tmp_path)])
    assert code == 0
    assert "reproduced: True" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"kind": "something-else"}))
        cli.main(["regret", "--replay", str(bad), "--no-progress", "--out", str(tmp_path)])


def test_search_configs_are_reproducible_and_have_positive_drift():
    a = sample_configs(20, np.random.default_rng(4))
    b = sample_configs(20, np.random.default_rng(4))
    assert a == b
    assert all(p.drift_rate > 0 for p, _ in a)


def test_ledger_rows_from_a_small_record():
    problem = ProblemConfig("box-linear", dim=2, prob=1.0, power=0.0, drift=0.0)
    summaries = []
    for lam in (None, 0.5):
        preset = Preset("tiny", problem, THEOREM_MEMBERS, (OptimizerConfig(lr=0.3, beta1=0.01, beta2=0.1),), 300, 3,
                        beta1_decay=lam)
        summaries += run_preset(preset, device="cpu")
    record = make_record("regret", {}, {"summaries": summaries, "reddi": reddi_reproduction(summaries)})
    rows = {(r["claim"], r["details"]["member"]): r for r in ledger_rows(record)}
    assert set(rows) == ({(c, m) for c in ("theorem-1", "corollary-1") for m in THEOREM_MEMBERS}
                         | {("theorem-1", "statement-literal-diameter")})
    assert rows[("theorem-1", "adamomentum-max")]["verdict"] == "holds"
    assert rows[("corollary-1", "adamomentum-max")]["verdict"] == "holds"
    # Algorithm 1's v is not monotone on +-1 losses, so the theorem's hypothesis fails there
    assert rows[("theorem-1", "adamomentum")]["verdict"] == "assumption-violated"
    for row in rows.values():
        assert row["method"] == "simulation" and row["evidence"]


@pytest.mark.slow
def test_run_scale_quick_reproduces_reddi_and_gives_verdicts():
    record = run_scale("quick", device="cpu")
    assert record["results"]["reddi"]["reproduced"]
    verdicts = {(r["claim"], r["details"]["member"]): r["verdict"] for r in ledger_rows(record)}
    assert verdicts[("theorem-1", "adamomentum-max")] == "holds"
    assert verdicts[("theorem-1", "adamomentum")] == "assumption-violated"
    found = record["results"]["search"]["per_member"]
    assert found["adam"]["confirmed"] >= 1 and found["amsgrad"]["confirmed"] == 0
