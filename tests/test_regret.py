"""Regret experiment: batched runs vs reference loops, comparators, Reddi's result, bound checks."""
import itertools
import math

import numpy as np
import pytest
import torch

from simulations.regret.problems import ProblemBatch, ProblemConfig
from simulations.regret.simulate import OptimizerConfig, log_checkpoints, simulate
from simulations.regret.summary import summarise
from theory.reference import REFERENCE

MEMBERS = tuple(REFERENCE)


@pytest.mark.parametrize("member,bias_correction", list(itertools.product(MEMBERS, (False, True))))
def test_batched_runs_equal_reference_loops_on_the_same_gradients(member, bias_correction):
    """Projection never binds (radius 1e6): the batched path must equal theory.reference's loop."""
    problem = ProblemConfig("box-linear", dim=3, prob=0.9, power=0.5, drift=0.3, radius=1e6)
    opts = [OptimizerConfig(lr=0.05, beta1=0.9, beta2=0.99, eps=1e-8), OptimizerConfig(lr=0.2, beta1=0.5,
                                                                                        beta2=0.9, eps=1e-6)]
    steps, seeds = 60, 2
    res = simulate(member, [problem] * 2, opts, steps, seeds=seeds, seed=5, beta1_decay=0.97,
                   bias_correction=bias_correction, record_grads=True, checkpoints=[7, 60])
    grads = res.values["grads"]  # (steps, runs, d)
    for run in range(res.runs):
        o = opts[run // seeds]
        path, _ = REFERENCE[member]([0.0] * 3, grads[:, run].tolist(), o.lr, o.beta1, o.beta2, o.eps,
                                    lr_decay="inverse-sqrt", beta1_decay=0.97, bias_correction=bias_correction)
        assert res.x_final[run].tolist() == pytest.approx(path[-1], rel=1e-12, abs=1e-12)
        cum_loss = sum(float(np.dot(grads[t, run].numpy(), path[t])) for t in range(steps))
        assert float(res.values["cum_loss"][-1, run]) == pytest.approx(cum_loss, rel=1e-12, abs=1e-12)


def _projected_adamomentum(grads, lr, b1, b2, eps, radius, use_max):
    """Plain float64 AdaMomentum without bias correction, clipped to [-radius, radius] (1-D)."""
    x, m, v, vmax, xs = 0.0, 0.0, 0.0, 0.0, []
    for t, g in enumerate(grads, start=1):
        xs.append(x)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * m * m + eps
        vmax = max(vmax, v)
        x -= lr / math.sqrt(t) * m / math.sqrt(vmax if use_max else v)
        x = min(max(x, -radius), radius)
    return xs, x


@pytest.mark.parametrize("member", ["adamomentum", "adamomentum-max"])
def test_projected_run_and_regret_equal_a_plain_loop(member):
    problem = ProblemConfig("periodic", period=5, big=5.0, small=1.0)
    steps = 400
    res = simulate(member, [problem], [OptimizerConfig(lr=0.8, beta1=0.9, beta2=0.99)], steps,
                   checkpoints=[50, 400])
    grads = [5.0 if (t - 1) % 5 == 0 else -1.0 for t in range(1, steps + 1)]
    xs, x_last = _projected_adamomentum(grads, 0.8, 0.9, 0.99, 1e-8, 1.0, member.endswith("max"))
    assert max(abs(x) for x in xs) == pytest.approx(1.0)  # the projection did bind
    assert float(res.x_final[0, 0]) == pytest.approx(x_last, rel=1e-12, abs=1e-14)
    regret = sum(g * x for g, x in zip(grads, xs)) + abs(sum(grads))  # min over [-1, 1] of G x is -|G|
    assert float(res.values["regret"][-1, 0]) == pytest.approx(regret, rel=1e-12)


def test_box_linear_comparator_is_the_best_vertex():
    batch = ProblemBatch([ProblemConfig("box-linear", dim=3, prob=0.8, radius=0.5)], seeds=3, seed=1,
                         device=torch.device("cpu"), dtype=torch.float64)
    chunk, _ = batch.data(1)
    G = chunk["g"][:40].sum(0)
    best, x_star = batch.comparator(40, G)
    for run in range(3):
        vertices = itertools.product((-0.5, 0.5), repeat=3)
        brute = min(float(G[run] @ torch.tensor(v)) for v in vertices)
        assert float(best[run]) == pytest.approx(brute, abs=1e-12)
        assert float(G[run] @ x_star[run]) == pytest.approx(brute, abs=1e-12)


def test_logistic_comparator_is_optimal_on_the_box():
    """KKT on [-r, r]^d: zero gradient inside, gradient sign pushing outwards at an active bound."""
    batch = ProblemBatch([ProblemConfig("logistic", dim=4, prob=0.9, power=0.5, radius=0.7)], seeds=2, seed=2,
                         device=torch.device("cpu"), dtype=torch.float64)
    batch.data(1)
    T = 300
    best, x_star = batch.comparator(T)
    a, y = batch.history[0]["a"][:T], batch.history[0]["y"][:T]
    for run in range(2):
        x = x_star[run].clone().requires_grad_(True)
        loss = torch.nn.functional.softplus(-y[:, run] * (a[:, run] @ x)).sum()
        loss.backward()
        assert float(loss.detach()) == pytest.approx(float(best[run]), rel=1e-12)
        for xi, gi in zip(x.detach().tolist(), x.grad.tolist()):
            if abs(xi) < 0.7 - 1e-6:
                assert abs(gi) < 1e-5
            else:
                assert gi * xi <= 1e-6  # at +r the gradient is <= 0, at -r >= 0
        assert float(best[run]) <= float(torch.nn.functional.softplus(torch.zeros(T)).sum())


def test_stochastic_data_is_shared_across_configs_and_replayable_alone():
    configs = [ProblemConfig("stochastic-periodic", prob=0.1, big=20.0), ProblemConfig("stochastic-periodic",
                                                                                      prob=0.1, big=30.0)]
    both = ProblemBatch(configs, seeds=3, seed=9, device=torch.device("cpu"), dtype=torch.float64)
    alone = ProblemBatch(configs[1:], seeds=3, seed=9, device=torch.device("cpu"), dtype=torch.float64)
    g_both, g_alone = both.data(1)[0]["g"], alone.data(1)[0]["g"]
    assert torch.equal(g_both[:, 3:], g_alone)
    assert torch.equal(g_both[:, :3] > 0, g_both[:, 3:] > 0)  # common random numbers


def test_reddi_qualitative_result_adam_vs_amsgrad():
    """Reddi et al. (2018), P = 101, C = 1010, S = 10, beta = (0.9, 0.99): Adam drifts to +1 (x* = -1)
    and its average regret does not fall; AMSGrad heads to -1. Deterministic, one run each."""
    problem = ProblemConfig("periodic", period=101, big=1010.0, small=10.0)
    opt = [OptimizerConfig(lr=0.5, beta1=0.9, beta2=0.99)]
    adam = summarise(simulate("adam", [problem], opt, 20_000))[0]
    ams = summarise(simulate("amsgrad", [problem], opt, 20_000))[0]
    assert adam["x_tail_mean"]["estimate"] > 0.9
    assert ams["x_tail_mean"]["estimate"] < -0.5
    assert adam["avg_regret"]["estimate"] > 1.5 * ams["avg_regret"]["estimate"]
    assert not adam["monitors"]["v_nondecreasing"]["holds"]  # Adam's v decays between the big steps
    assert ams["monitors"]["v_nondecreasing"]["holds"]


def _tight_run(member="adamomentum-max", seeds=16, steps=4000):
    problem = ProblemConfig("box-linear", dim=1, prob=1.0, power=0.0, drift=0.0)
    return simulate(member, [problem], [OptimizerConfig(lr=0.3, beta1=0.01, beta2=0.1)], steps, seeds=seeds,
                    seed=0, beta1_decay=0.5)


def test_theorem1_and_corollary1_hold_where_every_hypothesis_holds():
    res = _tight_run()
    s = summarise(res)[0]
    assert s["theorem1"]["runs_hypotheses_hold"] == 16
    v = res.values
    assert bool((v["regret"] <= v["rhs_total"]).all())
    assert bool((v["avg_regret"] <= v["cor1_avg_bound"]).all())
    assert s["theorem1"]["violations_where_hypotheses_hold"] == 0
    assert s["corollary1"]["violations_where_hypotheses_hold"] == 0
    # the check is sharp: R(T) comes within a factor 3 of the bound on this config
    assert s["theorem1"]["max_ratio_regret_to_rhs"] > 1 / 3


def test_a_weakened_bound_formula_is_caught():
    """Formulas that are too small are violated on the same runs (so the check can fail).

    Measured on this config: R(T) <= RHS everywhere, but R > RHS / 3 on 11 of 16 runs. Errors that
    shrink the RHS by less than about 2.3x (e.g. dropping term 3, or sqrt(1 + log T)) are NOT caught.
    """
    res = _tight_run()
    v = res.values
    T = v["T"]
    R = v["regret"]
    weakened = {
        "without the sqrt(T) growth": v["rhs_total"] / T.sqrt(),
        "term 1 with alpha in place of alpha_T (no sqrt(T))": v["rhs_term1"] / T.sqrt() + v["rhs_term2"]
        + v["rhs_term3"],
        "without term 1 (the D^2 sqrt(T) sum_i sqrt(v_T,i) term)": v["rhs_term2"] + v["rhs_term3"],
        "three times too small": v["rhs_total"] / 3,
    }
    for name, rhs in weakened.items():
        assert int((R > rhs).any(0).sum()) >= 4, name


def test_monitors_report_failed_hypotheses():
    problem = ProblemConfig("periodic", period=101, big=1010.0, small=10.0)
    opts = [OptimizerConfig(lr=0.5, beta1=0.9, beta2=0.99), OptimizerConfig(lr=0.5, beta1=0.99, beta2=0.9),
            OptimizerConfig(lr=0.5, beta1=0.0, beta2=0.99)]
    s = summarise(simulate("adamomentum", [problem] * 3, opts, 3000))
    v_mon = s[0]["monitors"]["v_nondecreasing"]
    assert not v_mon["holds"] and v_mon["first_violation_step"] is not None and v_mon["violation_rate"] > 0.5
    assert s[0]["theorem1"]["runs_hypotheses_hold"] == 0
    assert not s[1]["monitors"]["gamma_below_one"]["holds"]  # 0.99 / sqrt(0.9) > 1
    assert s[1]["theorem1"]["rhs_final"]["estimate"] == math.inf
    assert not s[2]["monitors"]["beta1_schedule"]["holds"]  # beta1 = 0 violates 0 < beta1_t
    mx = summarise(simulate("adamomentum-max", [problem], opts[:1], 3000))[0]
    assert mx["monitors"]["v_nondecreasing"]["holds"] and mx["theorem1"]["runs_hypotheses_hold"] == 1


def test_statement_diameter_can_miss_the_optimum():
    """With a tiny lr the iterates barely move, so ||x_m - x_n|| << ||x_t - x*||: the monitor says so."""
    problem = ProblemConfig("periodic", period=3, big=3.0, small=1.0)
    s = summarise(simulate("adamomentum-max", [problem], [OptimizerConfig(lr=1e-3, beta1=0.5, beta2=0.9)], 500))[0]
    assert not s["monitors"]["diameter_statement_covers_optimum"]["holds"]
    assert s["theorem1"]["D_to_optimum"]["estimate"] > 10 * s["theorem1"]["D_iterates"]["estimate"]


def test_checkpoints_are_log_spaced_and_end_at_T():
    cps = log_checkpoints(10_000, count=10)
    assert cps[0] == 10 and cps[-1] == 10_000 and cps == sorted(set(cps))
    assert log_checkpoints(3) == [3]


def test_bad_problem_parameters_name_the_parameter():
    with pytest.raises(ValueError, match="period"):
        ProblemConfig("periodic", period=0)
    with pytest.raises(ValueError, match="dim must be 1"):
        ProblemConfig("periodic", dim=2)
    with pytest.raises(ValueError, match="prob"):
        ProblemConfig("stochastic-periodic", prob=1.5)


# ---- review fixes --------------------------------------------------------------------------

def test_streaming_v_monitor_agrees_with_the_history_monitor():
    """simulations.regret.simulate counts v drops in segments; theory.assumptions.monitor_v_nondecreasing on the full
    history must give the same counts and first step (Adam's v drops, AMSGrad's does not)."""
    from theory.assumptions import monitor_v_nondecreasing

    problem = ProblemConfig("box-linear", dim=3, prob=0.7, power=0.5, drift=0.1)
    for member in ("adamomentum", "adamomentum-max"):
        res = simulate(member, [problem], [OptimizerConfig(lr=0.1, beta1=0.9, beta2=0.9)], 2500, seeds=3,
                       seed=2, record_v=True, checkpoints=[100, 2500])
        hist = res.values["v_history"]
        assert hist.shape == (2500, 3, 3)
        want = monitor_v_nondecreasing(hist)
        got = summarise(res)[0]["monitors"]["v_nondecreasing"]
        assert got["violations"] == want.violations and got["holds"] == want.holds
        assert got["first_violation_step"] == want.first_violation_step
        assert got["details"]["per_run"] == want.details["per_run"]
        if member == "adamomentum":
            assert not want.holds  # the comparison is not vacuous


def test_bias_corrected_runs_get_no_theorem1_block():
    problem = ProblemConfig("periodic", period=5, big=5.0, small=1.0)
    s = summarise(simulate("adamomentum", [problem], [OptimizerConfig(lr=0.5)], 300, bias_correction=True))[0]
    assert "theorem1" not in s and "corollary1" not in s and "monitors" not in s
    assert "bias correction" in s["theorem1_not_applicable"]


def test_ratio_max_ignores_infinite_and_zero_rhs():
    from simulations.regret.summary import _finite_ratio_max

    inf = math.inf
    assert _finite_ratio_max(torch.tensor([[1.0, 2.0]]), torch.tensor([[inf, inf]])) is None
    assert _finite_ratio_max(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, 4.0]])) == 0.25
    assert _finite_ratio_max(torch.tensor([[1.0, 1.0]]), torch.tensor([[0.0, 4.0]])) == inf  # R > 0 = RHS


def test_slope_ci_is_a_bootstrap_over_seeds_and_absent_when_seeds_are_identical():
    from simulations.regret.summary import regret_slope

    T = [10, 30, 100, 300, 1000, 3000]
    rng = np.random.default_rng(0)
    per_seed = np.array([[t**0.5 * (1 + 0.3 * rng.standard_normal()) for _ in range(20)] for t in T]).clip(0.1)
    fit = regret_slope(T, per_seed)
    assert fit["slope_low"] < fit["slope"] < fit["slope_high"] and "bootstrap" in fit["ci_note"]
    few = regret_slope(T, per_seed[:, :4])
    assert "under-covers" in few["ci_note"]
    same = regret_slope(T, np.repeat(np.asarray(T, float)[:, None] ** 0.5, 5, axis=1))
    assert same["slope"] == pytest.approx(0.5) and same["slope_low"] is None and "identical" in same["ci_note"]


def test_literal_rhs_uses_beta1_1_as_beta1():
    """Theorem 1 states beta1_1 = beta1: the literal RHS is evaluated with beta1 := beta1 * lam and
    D_inf = the iterate diameter; recomputed here from the stored terms (nominal beta1, D_proof)."""
    res = _tight_run(seeds=3, steps=300)  # beta1 = 0.01, lam = 0.5, beta2 = 0.1
    v = res.values
    b1, b1p, b2 = 0.01, 0.005, 0.1
    g, gp = b1 / math.sqrt(b2), b1p / math.sqrt(b2)
    scale_d = (v["D_iterates"] / v["D_proof"]) ** 2
    want = (scale_d * (v["rhs_term1"] + v["rhs_term2"]) * (1 - b1) / (1 - b1p)
            + v["rhs_term3"] * (1 - b1) ** 3 * (1 - g) / ((1 - b1p) ** 3 * (1 - gp)))
    assert torch.allclose(v["rhs_literal"], want, rtol=1e-12)
    assert bool((v["rhs_literal"] <= v["rhs_total"] * (1 + 1e-12)).all())
