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
    assert verdicts[("theorem-1", "statement-literal-diameter")] == "fails"  # 3 tight runs, beta1 := beta1_1
    found = record["results"]["search"]["per_member"]
    assert found["adam"]["confirmed"] >= 1 and found["amsgrad"]["confirmed"] == 0


# ---- review fixes --------------------------------------------------------------------------

def _synthetic_summary(exponent, drift_small=10.0, x_tail=1.0, per_seed=None, T=10_000):
    """A periodic-problem summary whose mean regret curve is c * T^exponent."""
    from simulations.regret_core import log_checkpoints

    cps = log_checkpoints(T, count=16)
    curve = [5.0 * t**exponent for t in cps]
    avg = curve[-1] / T
    per_seed = per_seed if per_seed is not None else [avg]
    problem = ProblemConfig("periodic", period=101, big=100 * drift_small * 1.001, small=drift_small).as_dict()
    return {"preset": "reddi-periodic", "member": "adam", "problem": problem, "optimizer": {"lr": 0.5},
            "bias_correction": False, "checkpoints": cps, "regret_mean_curve": curve, "steps": T, "seeds": len(per_seed),
            "x_tail_mean": {"estimate": x_tail}, "avg_regret": {"estimate": float(np.mean(per_seed))},
            "avg_regret_per_seed": per_seed, "avg_regret_ratio": 10 ** (exponent - 1), "slope_log_regret": None}


def test_reddi_non_vanishing_needs_linear_growth_not_one_large_average():
    """R ~ sqrt(T) with x at +1 and R(T)/T far above r: not non-vanishing; R ~ T: non-vanishing."""
    sqrt_like = _synthetic_summary(0.5)
    assert sqrt_like["avg_regret"]["estimate"] > ProblemConfig(**sqrt_like["problem"]).drift_rate
    linear = _synthetic_summary(1.0)
    rows = reddi_reproduction([sqrt_like, linear])["rows"]
    assert [r["non_vanishing"] for r in rows] == [False, True]
    assert rows[0]["local_growth_exponent"] == pytest.approx(0.5, abs=0.03)


def test_search_test_rejects_sqrt_growth_and_applies_bonferroni():
    assert not _tests(_synthetic_summary(0.5))["passed"]  # small drift, R(T)/T >= r/2, but R ~ sqrt(T)
    assert _tests(_synthetic_summary(1.0))["passed"]
    drift = ProblemConfig(**_synthetic_summary(1.0)["problem"]).drift_rate
    # 4 seeds around 2 r: the 95% lower bound is above r/2, the Bonferroni(32) one is not
    seeds = [drift * (2.0 + 0.9 * z) for z in (-1.0, -0.3, 0.3, 1.0)]
    s = _synthetic_summary(1.0, per_seed=seeds)
    one, many = _tests(s, 1), _tests(s, 32)
    assert one["avg_regret_low_bonferroni"] >= drift / 2 > many["avg_regret_low_bonferroni"]
    assert one["passed"] and not many["passed"]


def test_literal_row_says_beta1_1_is_used():
    problem = ProblemConfig("box-linear", dim=1, prob=1.0, power=0.0, drift=0.0)
    preset = Preset("tiny", problem, THEOREM_MEMBERS, (OptimizerConfig(lr=0.3, beta1=0.01, beta2=0.1),), 300, 2,
                    beta1_decay=0.5)
    summaries = run_preset(preset, device="cpu")
    record = make_record("regret", {}, {"summaries": summaries, "reddi": reddi_reproduction(summaries)})
    row = [r for r in ledger_rows(record) if r["details"]["member"] == "statement-literal-diameter"][0]
    assert "beta1_1 = beta1*lambda" in row["evidence"] and "max R/RHS(literal)" in row["evidence"]


def test_cli_reports_infinite_and_degenerate_rhs(tmp_path, capsys):
    code = cli.main(["regret", "--steps", "50", "--optimizers", "adamomentum", "--beta1", "0.99", "--beta2", "0.9",
                     "--device", "cpu", "--no-progress", "--out", str(tmp_path / "a")])
    assert code == 0
    out = capsys.readouterr().out
    assert "RHS = inf (gamma >= 1" in out and "R/RHS max = 0" not in out
    code = cli.main(["regret", "--problem", "logistic", "--dim", "2", "--steps", "20", "--optimizers",
                     "adamomentum", "--device", "cpu", "--no-progress", "--out", str(tmp_path / "b")])
    assert code == 0
    assert "nan" not in capsys.readouterr().out


def test_cli_prob_default_depends_on_the_problem(tmp_path):
    cli.main(["regret", "--problem", "box-linear", "--dim", "3", "--steps", "20", "--optimizers", "adamomentum",
              "--device", "cpu", "--no-progress", "--out", str(tmp_path)])
    record = json.loads((tmp_path / "regret.json").read_text())
    s = record["results"]["summaries"][0]
    assert s["problem"]["prob"] == 0.5 and s["regret"]["estimate"] != 0


@pytest.mark.parametrize("content,needle", [(None, "no such file"), ({"kind": "regret-counterexample"}, "'problem'"),
                                            ("{not json", "JSON")])
def test_cli_bad_replay_file_exits_2_naming_the_problem(tmp_path, capsys, content, needle):
    path = tmp_path / "cex.json"
    if content is not None:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(SystemExit) as err:
        cli.main(["regret", "--replay", str(path), "--device", "cpu", "--no-progress", "--out", str(tmp_path)])
    assert err.value.code == 2
    msg = capsys.readouterr().err
    assert "--replay" in msg and needle in msg
