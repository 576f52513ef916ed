"""amlab regret: outputs, replayable counterexamples, ledger rows."""
import json
import math

import numpy as np
import pytest

from simulations import cli
from simulations.records import make_record
from simulations.regret.experiment import Preset, ledger_rows, reddi_reproduction, run_preset, run_scale
from simulations.regret.problems import ProblemConfig
from simulations.regret.search import _tests, counterexample_config, replay, sample_configs
from simulations.regret.simulate import OptimizerConfig, simulate
from simulations.regret.summary import summarise
from simulations.regret.verdicts import theorem_members

THEOREM_MEMBERS = theorem_members()  # the subject (adamomentum) and adamomentum-max


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
    from simulations.regret.simulate import log_checkpoints
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
    from simulations.regret.simulate import log_checkpoints

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


# ---- non-vanishing regret: the linear part of R(t) = a t + b sqrt(t) + c ---------------------

def _curve_summary(curve_fn, drift_small=10.0, x_tail=1.0, T=20_000, per_seed_fn=None, seeds=1):
    """A periodic-problem summary with mean regret curve curve_fn(t) (and optional per-seed curves)."""
    from simulations.regret.simulate import log_checkpoints
    from simulations.regret.summary import fit_linear_sqrt

    cps = log_checkpoints(T)
    curve = [float(curve_fn(t)) for t in cps]
    problem = ProblemConfig("periodic", period=101, big=100 * drift_small * 1.099, small=drift_small).as_dict()
    s = {"preset": "reddi-periodic", "member": "adam", "problem": problem, "optimizer": {"lr": 0.5},
         "bias_correction": False, "checkpoints": cps, "regret_mean_curve": curve, "steps": T, "seeds": seeds,
         "x_tail_mean": {"estimate": x_tail}, "avg_regret": {"estimate": curve[-1] / T},
         "avg_regret_per_seed": [curve[-1] / T], "avg_regret_ratio": None, "slope_log_regret": None}
    if per_seed_fn is not None:
        rows = np.array([[per_seed_fn(t, k) for k in range(seeds)] for t in cps])
        s["regret_linear_fit"] = fit_linear_sqrt(cps, rows)
        s["regret_mean_curve"] = rows.mean(1).tolist()
        s["avg_regret_per_seed"] = (rows[-1] / T).tolist()
        s["avg_regret"] = {"estimate": float(rows[-1].mean() / T)}
    return s


def _wiggle(t):
    return 3.0 * math.sin(0.7 * math.log(t) * 11)  # a bounded, deterministic oscillation


def test_linear_fit_calibration_sqrt_not_flagged_linear_flagged():
    """Known sqrt(T) regret (large, oscillating) is not flagged; known linear regret is, even when a
    fading sqrt part pulls the two-window growth exponent far below 1 (the case the old test missed)."""
    drift = ProblemConfig(**_curve_summary(lambda t: t)["problem"]).drift_rate
    sqrt_case = _curve_summary(lambda t: 200 * math.sqrt(t) + 40 + _wiggle(t))
    assert sqrt_case["avg_regret"]["estimate"] > drift  # R(T)/T alone would call it non-vanishing
    # a = r (1 + x) with x = 0.94 and a dominating 1000 sqrt(t) (exponent < 0.65, as AdaMomentum at T = 2e4)
    linear_case = _curve_summary(lambda t: drift * 1.94 * t + 1000 * math.sqrt(t) - 500 + _wiggle(t))
    rows = reddi_reproduction([sqrt_case, linear_case])["rows"]
    assert [r["non_vanishing"] for r in rows] == [False, True]
    assert rows[0]["linear_rate_fit"]["a_low"] < drift / 2
    assert rows[1]["linear_rate_fit"]["a"] == pytest.approx(drift * 1.94, rel=0.05)
    assert rows[1]["local_growth_exponent"] < 0.65  # the old exponent test would have rejected it
    assert not _tests(sqrt_case)["passed"] and _tests(linear_case)["passed"]


def test_linear_fit_rejects_a_below_half_the_drift():
    drift = ProblemConfig(**_curve_summary(lambda t: t)["problem"]).drift_rate
    weak = _curve_summary(lambda t: 0.3 * drift * t + 20 * math.sqrt(t) + _wiggle(t))
    strong = _curve_summary(lambda t: 0.8 * drift * t + 20 * math.sqrt(t) + _wiggle(t))
    assert not reddi_reproduction([weak])["rows"][0]["non_vanishing"]
    assert reddi_reproduction([strong])["rows"][0]["non_vanishing"]


def test_linear_fit_per_seed_bound_and_bonferroni():
    """Stochastic configs: the bound on a is over per-seed fits, at the search's Bonferroni level."""
    from simulations.regret.summary import linear_rate

    drift = ProblemConfig(**_curve_summary(lambda t: t)["problem"]).drift_rate
    spread = (-1.0, -0.3, 0.3, 1.0)
    s = _curve_summary(lambda t: t, seeds=4, per_seed_fn=lambda t, k: drift * (1.3 + 0.3 * spread[k]) * t
                       + 30 * math.sqrt(t))
    one, many = linear_rate(s, 0.95), linear_rate(s, 1 - 0.05 / 32)
    assert one["a"] == pytest.approx(1.3 * drift, rel=1e-6)
    assert one["a_low"] >= drift / 2 > many["a_low"]
    assert "seeds" in one["method"]


def test_linear_fit_on_simulated_runs():
    """A real run: AMSGrad on Reddi's problem (x -> -1) has no linear part >= r/2 (Adam at T = 2e4: slow test)."""
    from simulations.regret.summary import linear_rate

    problem = ProblemConfig("periodic", period=101, big=1010.0, small=10.0)
    preset = Preset("reddi-periodic", problem, ("amsgrad",), (OptimizerConfig(lr=0.5, beta1=0.9, beta2=0.99),),
                    5_000, 1)
    rows = {r["member"]: r for r in reddi_reproduction(run_preset(preset, device="cpu"))["rows"]}
    assert not rows["amsgrad"]["non_vanishing"]
    assert rows["amsgrad"]["linear_rate_fit"]["a_low"] < problem.drift_rate / 2
