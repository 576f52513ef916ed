"""The worst-case search (simulations/search): planted violations, controls, replay, seeding, budgets.

Every run is float64 on the CPU with fixed seeds; the search's verdicts are deterministic given the
evaluation budget (the seconds caps here are far above what the budgets need).
"""
from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import torch

from simulations.search import engine, experiment
from simulations.search.online import Theorem1
from simulations.search.smooth import GradientDescentBound
from simulations.search.statements import make
from simulations.search.stepsize import stepsizes

ONLINE_SMALL = {"T_max": 60, "dims": (1,)}


# ---- planted violations are found; correct bounds of methods meeting the hypotheses are not ----

def test_gd_tight_bound_not_refuted_and_third_of_it_refuted():
    correct = engine.search(GradientDescentBound(), budget_evals=192, budget_seconds=60, seed=0)
    weak = engine.search(GradientDescentBound(planted="rhs/3"), budget_evals=192, budget_seconds=60, seed=0)
    assert correct["violations"] == 0 and correct["best_ratio"] <= 1.0
    assert correct["best_ratio"] > 0.9  # Drori-Teboulle's bound is tight: the search gets close to it
    assert weak["violations"] > 0 and weak["best_ratio"] > 1.0


def test_sgd_on_convex_quadratic_not_refuted():
    result = engine.search(GradientDescentBound(families=("quadratic",)), budget_evals=128, budget_seconds=60, seed=1)
    assert result["feasible"] == result["tried"] == 128
    assert result["violations"] == 0 and result["best_ratio"] <= 1.0


def test_theorem1_for_adamomentum_max_on_linear_losses():
    """The proof's reading of Theorem 1 holds for the max variant; a missing sqrt(T) is refuted."""
    opts = dict(T_max=400, dims=(1,), member="adamomentum-max", families=("linear",))
    correct = engine.search(Theorem1("proof-diameter", **opts), budget_evals=128, budget_seconds=60, seed=0)
    planted = engine.search(Theorem1("proof-diameter", planted="no-sqrt-T", **opts), budget_evals=128,
                            budget_seconds=60, seed=0)
    assert correct["feasible"] == correct["tried"]  # v_t <= v_t+1 holds by construction for the max variant
    assert correct["violations"] == 0 and correct["best_ratio"] < 1.0
    assert planted["violations"] > 0


# ---- independent cross-checks of what a case measures ----

def _plain_theorem1(c):
    """Theorem 1's R(T) and right-hand side for one absolute-loss case, by plain float loops."""
    T, p = int(c["T"]), int(c["period"])
    b1, b2, lam, eps, lr = c["beta1"], 1 - c["one_minus_beta2"], c["lam"], c["eps"], c["lr"]
    x, m, v = c["x0"], 0.0, 0.0
    xs, loss, gsq, vs, wsv = [x], 0.0, 0.0, [], 0.0
    for t in range(1, T + 1):
        w, z = (c["w_big"], c["z_big"]) if t % p == 0 else (c["w_small"], c["z_small"])
        loss += w * abs(x - z)
        g = w * (1.0 if x > z else -1.0 if x < z else 0.0)
        gsq += g * g
        b1t = b1 * lam ** (t - 1)
        m = b1t * m + (1 - b1t) * g
        v = b2 * v + (1 - b2) * m * m + eps
        vs.append(v)
        wsv += b1t / (lr / math.sqrt(t)) * math.sqrt(v)
        x = x - lr / math.sqrt(t) * m / math.sqrt(v)
        if t < T:
            xs.append(x)
    nb = T // p
    ns = T - nb
    grid = sorted([c["z_big"], c["z_small"]])  # a weighted sum of |x - z| is minimised at one of the z
    fstar = min(nb * c["w_big"] * abs(y - c["z_big"]) + ns * c["w_small"] * abs(y - c["z_small"]) for y in grid)
    D = max(xs) - min(xs)
    one = 1 - b1
    rhs = (D * D * math.sqrt(T) / (2 * lr * one) * math.sqrt(vs[-1]) + D * D / (2 * one) * wsv
           + lr * math.sqrt(1 + math.log(T)) / (one**3 * (1 - b1 / math.sqrt(b2)) * math.sqrt(1 - b2)) * math.sqrt(gsq))
    drops = sum(vs[i + 1] < vs[i] for i in range(len(vs) - 1))
    return loss - fstar, rhs, drops


def test_theorem1_case_matches_plain_loops():
    c = {"family": "absolute", "d": 1, "lr": 0.03, "beta1": 0.05, "one_minus_beta2": 0.02, "eps": 2e-8, "lam": 0.98,
         "T": 75.0, "period": 31.0, "coord_decay": 1.0, "w_big": 0.34, "w_small": 0.23, "z_big": -4.0,
         "z_small": 4.6, "x0": -4.3, "delta": 1.0, "variant": "absolute-d1"}
    ev = Theorem1("printed").evaluate([c])[0]
    regret, rhs, drops = _plain_theorem1(c)
    assert ev["measured"]["regret"] == pytest.approx(regret, rel=1e-12)
    assert ev["measured"]["rhs"] == pytest.approx(rhs, rel=1e-12)
    assert (ev["measured"]["v_drops"] == 0) == (drops == 0)
    assert ev["ratio"] == pytest.approx(regret / rhs, rel=1e-12)


def test_stepsize_closed_forms_match_the_family():
    """At g = 0 (vhat' = 0) the family's actual stepsizes equal the closed forms the search uses."""
    import torch

    from theory.family import Hyper, effective_stepsize, init_state, step_

    eps, b2 = 1e-6, 0.99
    hyper = Hyper(lr=1.0, beta1=0.9, beta2=b2, eps=eps)
    got = []
    for member in ("adamomentum", "adam"):
        x = torch.zeros(1, 1, dtype=torch.float64)
        state = init_state(member, x, hyper)
        for _ in range(25):
            step_(member, state, x, torch.zeros_like(x), hyper)
        got.append(float(effective_stepsize(member, state, hyper)) * (1 - 0.9**25))  # undo 1/(1-b1^t)
    want = stepsizes(eps, b2, 0.0)
    assert got[0] == pytest.approx(want[0], rel=1e-12) and got[1] == pytest.approx(want[1], rel=1e-12)


def test_corollary1_with_theorem1_schedule_is_vacuous():
    """beta1_1 = beta1 (Theorem 1) with beta1_t = beta1 lam^t forces lam = 1, where the bound is infinite."""
    c = {"family": "linear", "d": 1, "lr": 0.1, "beta1": 0.5, "one_minus_beta2": 0.01, "eps": 1e-8, "T": 50.0,
         "period": 5.0, "coord_decay": 1.0, "small": 1.0, "drift": 0.1, "x0": 0.0, "variant": "linear-d1"}
    st = make("corollary-1", "with-theorem-1", T_max=60, dims=(1,))
    lam_below, lam_one = st.evaluate([dict(c, lam=0.9), dict(c, lam=1.0)])
    assert not lam_below["hypotheses"]["beta1_1 = beta1 (Theorem 1)"]
    assert lam_one["hypotheses"]["beta1_1 = beta1 (Theorem 1)"] and math.isinf(lam_one["measured"]["rhs"])
    assert lam_one["ratio"] == 0.0


# ---- replay, seeding, budgets, bad input ----

def test_every_case_replays_to_the_same_ratio(tmp_path):
    results = [engine.search(Theorem1("printed", **ONLINE_SMALL), budget_evals=160, budget_seconds=60, seed=3),
               engine.search(make("sec3.1-limiting-stepsizes"), budget_evals=64, budget_seconds=60, seed=0)]
    cases = [case for r in results for case in r["cases"]]
    assert results[0]["violations"] > 0 and cases
    for k, case in enumerate(cases):
        path = tmp_path / f"case{k}.json"
        path.write_text(json.dumps(case))
        out = engine.replay(json.loads(path.read_text()))
        assert out["relative_difference"] <= 1e-9
        assert out["hypotheses_match"] and out["all_hypotheses_hold"] and out["violated"] and out["reproduced"]


def test_nonconvex_evaluation_is_deterministic_and_replays():
    st = make("theorem-2", "printed", T_max=30, seeds=4, dims=(1,))
    cfg = st.variants()[0].decode(np.full(st.variants()[0].dim, 0.5))
    first, again = st.evaluate([cfg])[0], st.evaluate([dict(cfg)])[0]
    assert first["ratio"] == again["ratio"] and first["hypotheses"] == again["hypotheses"]
    first["config"] = cfg
    out = engine.replay(engine.make_case(st, first, "cpu", "float64", 0))
    assert out["numbers_match"] and out["hypotheses_match"] and not out["reproduced"]  # no violation to reproduce


def test_same_seed_same_result_and_seeds_differ():
    runs = [engine.search(Theorem1("printed", **ONLINE_SMALL), budget_evals=64, budget_seconds=60, seed=s)
            for s in (5, 5, 6)]
    key = (lambda r: (r["tried"], r["feasible"], r["best_ratio"], r["best"]["config"]))
    assert key(runs[0]) == key(runs[1])
    assert key(runs[0]) != key(runs[2])


def test_time_budget_is_respected():
    start = time.perf_counter()
    result = engine.search(Theorem1("printed", T_max=200), budget_evals=10**6, budget_seconds=0.5, seed=0)
    assert result["stopped_by"] == "seconds" and result["tried"] < 10**6
    assert time.perf_counter() - start < 5.0  # one generation of 16 runs of <= 200 steps past the cap


@pytest.mark.parametrize("call", [
    lambda: make("theorem-9"),
    lambda: make("theorem-1", "bogus"),
    lambda: make("theorem-1", member="sgdm"),
    lambda: make("theorem-1", planted="rhs/2"),
    lambda: make("theorem-2", seeds=1),
    lambda: make("sec3.1-stepsize-ordering", planted="no-sqrt-T"),
    lambda: engine.search(GradientDescentBound(), budget_evals=0),
    lambda: engine.search(GradientDescentBound(), budget_seconds=-1.0),
    lambda: engine.replay({"kind": "regret-counterexample"}),
])
def test_bad_input_fails_before_work(call):
    with pytest.raises(ValueError):
        call()


def test_cli_bad_input_exits_2_and_replay_round_trip(tmp_path, capsys):
    from simulations.cli import main

    with pytest.raises(SystemExit) as err:
        main(["search", "--statement", "theorem-1", "--budget-evals", "0", "--out", str(tmp_path)])
    assert err.value.code == 2
    assert not (tmp_path / "search.json").exists()
    rc = main(["search", "--statement", "sec3.1-limiting-stepsizes", "--reading", "printed", "--budget-evals", "32",
               "--no-progress", "--out", str(tmp_path)])
    assert rc == 0
    case = tmp_path / experiment.case_filename("sec3.1-limiting-stepsizes", "printed", 1)
    assert main(["search", "--replay", str(case), "--out", str(tmp_path)]) == 0
    assert "reproduced: True" in capsys.readouterr().out


# ---- the experiment contract ----

def test_run_scale_smoke_rows_and_outputs(tmp_path):
    record = experiment.run_scale("smoke", device="cpu")
    rows = experiment.ledger_rows(record)
    claims = {r["claim"] for r in rows}
    assert {"theorem-1", "corollary-1", "theorem-2", "corollary-2", "sec3.1-limiting-stepsizes",
            "sec3.1-stepsize-ordering", "assumption-5", "lemma-1", experiment.RATE_CLAIM} <= claims
    for row in rows:
        assert row["verdict"] in ("fails", "holds", "assumption-violated", "unchecked", "unsatisfiable")
        assert "instances" in row["evidence"] or row["claim"] in (experiment.RATE_CLAIM, "lemma-1")
    written = {str(p.relative_to(tmp_path)) for p in experiment.write_outputs(record, tmp_path)}
    for row in rows:
        for name in row["details"].get("case_files", []):
            assert name in written
    title, columns, table = experiment.headline_table(record)
    assert len(table) == len(record["results"]["searches"]) and len(columns) == len(table[0])
    json.dumps(record)


# ---- Assumption 5: unsatisfiable at theta*, satisfiable away from it ----

def test_assumption5_momentum_matches_closed_form_at_minimum():
    """E m^2 = (1-b1)/(1+b1) s^2 at grad f = 0 (stationary EMA of i.i.d. noise), at 99% confidence."""
    st = make("assumption-5", "at-minimum", paths=4096, T_max=400)
    b1, s = 0.6, 0.3
    ev = st.evaluate([{"g0": 0.0, "beta1": b1, "one_minus_beta2": 0.01, "lr": 1e-3, "s": s, "T": 400, "seed": 11,
                       "variant": "zero-gradient"}])[0]
    want = (1 - b1) / (1 + b1) * s * s
    # the mean of 4096 values of m^2 = want * chi2_1: relative sd sqrt(2/4096) = 0.022; 2.58 sd at 99%
    assert abs(ev["measured"]["E_m2_last"] / want - 1) < 2.58 * math.sqrt(2 / 4096)
    assert not ev["measured"]["holds_last_half"] and ev["ratio"] < 1


def test_assumption5_search_scopes():
    at = engine.search(make("assumption-5", "at-minimum", paths=64, T_max=120), budget_evals=32, budget_seconds=60)
    away = engine.search(make("assumption-5", "away-from-minimum", paths=64, T_max=120), budget_evals=32,
                         budget_seconds=60)
    assert at["feasible"] > 0 and at["violations"] == 0 and at["best_ratio"] <= 1 / 9 * 1.2
    assert away["violations"] > 0
    row = experiment.assumption5_row([at, away], "smoke")
    assert row["verdict"] == "unsatisfiable" and "at theta*" in row["evidence"]


def test_lemma1_exponent_input_and_sgd_control_direction():
    """Bad horizons fail before work; SGD's mean exit time falls as the noise amplitude upsilon grows."""
    from simulations.search.escape_rate import lemma1_exponent

    with pytest.raises(ValueError):
        lemma1_exponent([0.1, 0.2])
    with pytest.raises(ValueError):
        lemma1_exponent([0.01, 0.02, 0.03, 0.04, 0.05], alpha=2.0)
    r = lemma1_exponent([0.05, 0.07, 0.1, 0.14, 0.2], member="sgdm", paths=64, max_steps=4000, n_boot=200)
    assert max(r["censored"]) == 0.0 and r["slope_high"] < 0  # exits speed up with more noise (95% bootstrap)


def test_row_carries_a_replayable_case():
    record = {"config": {"subject": "adamomentum", "scale": "smoke"},
              "results": {"searches": [engine.search(make("sec3.1-limiting-stepsizes"), budget_evals=32,
                                                     budget_seconds=60)]}}
    row = experiment.ledger_rows(record)[0]
    assert row["verdict"] == "fails" and engine.replay(row["details"]["case"])["reproduced"]


def test_corollary1_with_theorem1s_beta1_is_unsatisfiable_and_the_dropped_reading_is_evidence():
    def summary(reading, feasible, violations):
        return {"claim": "corollary-1", "reading": reading, "printed": reading == "printed", "options": {},
                "seed": 0, "description": "d", "tried": 10, "feasible": feasible, "feasible_fraction": feasible / 10,
                "seconds": 1.0, "stopped_by": "evals", "best_ratio": 67.0 if violations else 0.1,
                "violations": violations, "hypotheses_broken": {}, "budget": {}, "cases": []}

    record = {"config": {"subject": "adamomentum", "scale": "smoke"},
              "results": {"searches": [summary("printed", 5, 2), summary("with-theorem-1", 0, 0)]}}
    (row,) = experiment.ledger_rows(record)
    assert row["verdict"] == "unsatisfiable" and "for every lambda < 1" in row["evidence"]
    assert "fails" in row["evidence"]  # what the reading without beta1,1 = beta1 found stays in the evidence
    record["results"]["searches"][1]["feasible"] = 3  # were the inherited hypotheses satisfiable: the search decides
    assert experiment.ledger_rows(record)[0]["verdict"] == "fails"


def test_search_command_resumes_finished_searches(tmp_path):
    from simulations import checkpoints
    from simulations.cli import main

    argv = ["search", "--statement", "sec3.1-stepsize-ordering", "--scale", "smoke", "--budget-evals", "40",
            "--seed", "0", "--no-progress", "--device", "cpu", "--out", str(tmp_path)]
    assert main(argv) == 0
    first = json.loads((tmp_path / "search.json").read_text())["results"]
    assert main(argv + ["--resume"]) == 0
    store = checkpoints.last_store()
    assert store.saved == 0 and store.resumed == len(first["searches"])
    again = json.loads((tmp_path / "search.json").read_text())["results"]
    assert again["searches"] == first["searches"]


# ---- Proposition 1: the escape race (simulations/search/proposition1.py) ----

P1_CONFIG = {"basin": "asymmetric", "curvature": 4.0, "width": 0.25, "width_ratio": 4.0, "lr": 0.02, "beta1": 0.9,
             "one_minus_beta2": 0.05, "sigma": 0.5, "alpha": 1.5, "T": 60, "seed": 3, "clip": 4.0,
             "variant": "asymmetric"}


def _plain_race(optimizer_cls, basin, zeta, sigma, lr, betas, eps, warmup, T):
    """Per path, a torch.optim optimizer on one scalar parameter: exit steps and the direction integral."""
    c_left, c_right = (c[0] for c in basin.curvatures())
    grad = (lambda x: (c_right if x > 0 else c_left) * x)
    value = (lambda x: 0.5 * (c_right if x > 0 else c_left) * x * x)
    exits, integral_min = [], math.inf
    for p in range(zeta.shape[1]):
        theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = optimizer_cls([theta], lr=lr, betas=betas, eps=eps)
        def step(g):
            theta.grad = torch.tensor([g], dtype=torch.float64)
            opt.step()
        for k in range(warmup):
            step(grad(theta.item()) + sigma * zeta[k, p, 0].item())
            if not -basin.left < theta.item() < basin.right:
                with torch.no_grad():
                    theta.zero_()
        integral, exit_step = 0.0, T
        for t in range(T):
            x = theta.item()
            step(grad(x) + sigma * zeta[warmup + t, p, 0].item())
            integral += grad(x) / (1 + value(x)) * (x - theta.item()) / lr
            integral_min = min(integral_min, integral)
            if not -basin.left < theta.item() < basin.right:
                exit_step = t + 1
                break
        exits.append(exit_step)
    return exits, integral_min


def test_proposition1_race_matches_torch_optim_loops_per_path():
    from simulations.levy import symmetric_stable
    from simulations.runtime import generator
    from simulations.search.proposition1 import Proposition1
    from theory.family import Hyper
    from theory.optim import AdaMomentum

    st = Proposition1("bounded-noise", paths=8, T_max=100, warmup=10)
    basin = st.basin_of(P1_CONFIG)
    c_left, c_right = basin.tensors(torch.device("cpu"), torch.float64)
    zeta = symmetric_stable(1.5, (10 + 60, 8, 1), generator=generator(3, torch.device("cpu")),
                            dtype=torch.float64).clamp(-4.0, 4.0)
    hyper = Hyper(lr=0.02, beta1=0.9, beta2=0.95, eps=1e-8)
    for name, cls, kwargs in (("adam", torch.optim.Adam, {}), ("adamomentum", AdaMomentum, {})):
        race = st._race(name, basin, c_left, c_right, zeta, 0.5, hyper, 10, 60)
        exits, integral_min = _plain_race(lambda params, **kw: cls(params, **kw, **kwargs), basin, zeta, 0.5, 0.02,
                                          (0.9, 0.95), 1e-8, 10, 60)
        assert race["exit"].tolist() == exits
        assert abs(race["integral_min"] - integral_min) <= 1e-12 * max(1.0, abs(integral_min))


def test_proposition1_printed_reading_breaks_assumption4_and_bounded_noise_meets_it():
    from simulations.search.proposition1 import H_A4, Proposition1

    printed = Proposition1("printed", paths=16, T_max=100, warmup=10).evaluate([dict(P1_CONFIG)])[0]
    bounded = Proposition1("bounded-noise", paths=16, T_max=100, warmup=10).evaluate([dict(P1_CONFIG)])[0]
    assert printed["hypotheses"][H_A4] is False and math.isinf(printed["measured"]["H"])
    assert bounded["hypotheses"][H_A4] is True
    assert bounded["measured"]["adam_max_g"] <= bounded["measured"]["H"]
    again = Proposition1("bounded-noise", paths=16, T_max=100, warmup=10).evaluate([dict(P1_CONFIG)])[0]
    assert again["ratio"] == bounded["ratio"] and again["hypotheses"] == bounded["hypotheses"]


def test_clipped_variance_matches_the_gaussian_closed_form():
    from scipy import stats

    from simulations.search.proposition1 import clipped_variance

    s, c = math.sqrt(2.0), 1.7  # alpha = 2 is N(0, 2)
    a = c / s
    exact = s * s * (2 * stats.norm.cdf(a) - 1 - 2 * a * stats.norm.pdf(a)) + c * c * 2 * stats.norm.sf(a)
    draws = 1 << 18
    se = c * c / math.sqrt(draws)  # min(X^2, c^2) lies in [0, c^2]
    assert abs(clipped_variance(2.0, c) - exact) < 4 * se


def test_proposition1_row_is_unsatisfiable_for_sas_noise_with_the_outside_scope_as_evidence():
    record = experiment.run_scale("smoke", device="cpu", statements=("proposition-1",))
    rows = {r["claim"]: r for r in experiment.ledger_rows(record)}
    row = rows["proposition-1"]
    assert row["verdict"] == "unsatisfiable" and "every alpha in (0, 2]" in row["evidence"]
    assert "Outside that scope" in row["evidence"] and set(row["details"]["searches"]) == {"printed", "bounded-noise"}
    assert rows["assumption-3"]["verdict"] in ("fails", "holds")
    # were a printed instance ever to meet every hypothesis, the usual search rules would decide
    group = [dict(s) for s in record["results"]["searches"]]
    printed = next(s for s in group if s["reading"] == "printed")
    printed.update(feasible=3, violations=1)
    assert experiment.proposition1_row(group, "smoke")["verdict"] == "fails"
