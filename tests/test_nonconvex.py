"""Nonconvex experiment: problems and their constants, the framework mapping, the rate fit on a
problem with a closed-form rate, the record/ledger contract and the CLI."""
import json
import math

import numpy as np
import pytest
import torch

from simulations.nonconvex import experiment as nonconvex
from simulations.nonconvex.experiment import NonconvexConfig, run_config, run_problem
from simulations.nonconvex.problems import PROBLEMS, Quadratic, make_problem, sgd_quadratic_expected_grad_sq
from simulations.nonconvex.simulate import framework
from theory.family import REGISTRY, Hyper
from theory.rule import FamilyRule

VERDICTS = {"proved", "holds", "fails", "assumption-violated", "unsatisfiable", "unchecked"}


@pytest.mark.parametrize("name", PROBLEMS)
def test_full_gradient_matches_autograd(name):
    problem = make_problem(name)
    gen = torch.Generator().manual_seed(3)
    theta = problem.init(4, "cpu", torch.float64) + 0.5 * torch.randn(4, problem.dim, generator=gen)
    theta.requires_grad_(True)
    (auto,) = torch.autograd.grad(problem.value(theta).sum(), theta)
    assert torch.allclose(problem.full_grad(theta.detach()), auto, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", PROBLEMS)
def test_stochastic_gradient_is_unbiased(name):
    problem = make_problem(name)
    theta = problem.init(1, "cpu", torch.float64).expand(20000, problem.dim).clone()
    gen = torch.Generator().manual_seed(5)
    g = problem.stochastic_grad(theta, gen)
    mean, sem = g.mean(0), g.std(0) / math.sqrt(g.shape[0])
    # 5 standard errors per coordinate: a false alarm has probability < 1e-5 per problem
    assert torch.all((mean - problem.full_grad(theta[:1])[0]).abs() <= 5 * sem + 1e-12)


def test_declared_constants_bound_gradients_and_curvature():
    gen = torch.Generator().manual_seed(7)
    for name in ("rosenbrock", "robust-regression"):
        problem = make_problem(name)
        span = 3.0 if name == "rosenbrock" else 4.0
        theta = (2 * torch.rand(2000, problem.dim, generator=gen) - 1) * span
        assert problem.full_grad(theta).norm(dim=-1).max() <= problem.H
        assert problem.stochastic_grad(theta, gen).norm(dim=-1).max() <= problem.H
        for x in theta[:40]:
            hess = torch.autograd.functional.hessian(lambda z: problem.value(z.unsqueeze(0)).sum(), x)
            assert torch.linalg.matrix_norm(hess, ord=2) <= problem.L
    mlp = make_problem("mlp")
    theta = mlp.init(200, "cpu", torch.float64) + 2 * torch.randn(200, mlp.dim, generator=gen)
    assert torch.all(mlp.stochastic_grad(theta, gen).norm(dim=-1) <= mlp.grad_bound(theta))
    assert torch.all(mlp.full_grad(theta).norm(dim=-1) <= mlp.grad_bound(theta))


def test_rosenbrock_constants_are_tight_near_the_valley():
    problem = make_problem("rosenbrock")
    # Hessian of log(1 + R) at the minimum (1, 1) is that of R: [[802, -400], [-400, 200]]
    assert problem.L >= 0.5 * (1002 + math.sqrt(802**2 - 2 * 802 * 200 + 200**2 + 4 * 400**2)) * 0.99


@pytest.mark.parametrize("name", list(REGISTRY))
def test_framework_mapping_reproduces_the_update(name):
    """alpha_t m_t / sqrt(v_t) with sqrt(v_t) = lr_t / stepsize is exactly the member's update."""
    rule = FamilyRule(name)
    gen = torch.Generator().manual_seed(11)
    hyper = Hyper(lr=0.05, beta1=0.9, beta2=0.99, eps=1e-3, lr_decay="inverse-sqrt", bias_correction=False)
    x = torch.randn(3, 4, generator=gen)
    state = rule.init(x, hyper)
    for t in range(1, 8):
        before = x.clone()
        rule.step(state, x, torch.randn(3, 4, generator=gen), hyper)
        step, m_ema, lr_t = framework(rule, state, hyper, t)
        assert torch.allclose(before - x, step * m_ema, rtol=1e-12, atol=1e-15)
        assert lr_t == pytest.approx(0.05 / math.sqrt(t))


def test_sgd_quadratic_rate_matches_closed_form():
    """Plain SGD, alpha/sqrt(t), noisy quadratic: E||grad f||^2 is known exactly and decays as t^-1/2."""
    config = NonconvexConfig(problem="quadratic", optimizers=("sgdm",), beta1=0.0, steps=2000, seeds=64,
                             seed=2, fit_from=0.05, grid_points=25)
    out = run_problem(config, device="cpu")["members"]["sgdm"]
    cf = out["closed_form"]
    # pointwise 95% intervals: expect ~95% coverage; 80% leaves room for the 25 correlated points
    assert cf["fraction_inside_ci"] >= 0.8
    # the interval of the running minimum covers the exact min_t E||grad f||^2
    assert cf["min_fraction_inside_ci"] >= 0.8
    assert cf["fit"]["slope"] == pytest.approx(-0.5, abs=0.05)
    assert out["fit"]["slope_low"] <= cf["fit"]["slope"] <= out["fit"]["slope_high"]
    assert out["fit"]["slope_high"] < -0.3  # and the fit can tell this rate from the envelope's


def test_closed_form_recursion_limit():
    problem = Quadratic()
    exact = sgd_quadratic_expected_grad_sq(problem, 0.5, 40000)
    t = 40000
    # e_t -> a_t sigma^2 / (2 lam) (1 + O(a_t)); times lam^2 d
    assert exact[-1] == pytest.approx(0.5 / math.sqrt(t) / 2 * problem.dim, rel=0.02)


def test_config_rejects_bad_input():
    for bad in (dict(problem="nope"), dict(steps=5), dict(seeds=1), dict(lr=-1.0), dict(beta2=1.0),
                dict(optimizers=("adamx",)), dict(stepsize="x")):
        with pytest.raises((ValueError, KeyError)):
            NonconvexConfig(**bad)


@pytest.fixture(scope="module")
def small_record():
    config = NonconvexConfig(problem="robust-regression", optimizers=("adam", "adamomentum", "adamomentum-max"),
                             beta2=0.9, steps=120, seeds=4, grid_points=12)
    return run_config(config, device="cpu")


def test_small_record_verdicts_and_schema(small_record):
    json.dumps(small_record)  # JSON-safe
    members = small_record["results"]["runs"][0]["members"]
    # b2 = 0.9: the stepsize may rise from t = 10 on for Algorithm 1, never for the max variant
    assert members["adamomentum"]["verdict"]["theorem-2"] == "assumption-violated"
    assert members["adamomentum"]["T_valid"] >= 9
    assert members["adamomentum-max"]["verdict"]["theorem-2"] == "holds"
    assert members["adamomentum-max"]["T_valid"] == 120
    rows = nonconvex.ledger_rows(small_record)
    claims = {r["claim"] for r in rows}
    assert {"theorem-2", "corollary-2", "assumption-2", "assumption-4"} <= claims
    for row in rows:
        assert row["verdict"] in VERDICTS and row["method"] in ("simulation", "numeric", "symbolic")
        assert isinstance(row["evidence"], str) and row["evidence"]
    by = {r["claim"]: r for r in rows}
    assert by["theorem-2"]["verdict"] == "assumption-violated"
    assert by["assumption-4"]["verdict"] == "holds"


def test_min_grad_curve_and_bands_are_consistent(small_record):
    m = small_record["results"]["runs"][0]["members"]["adam"]
    y = np.asarray(m["min_mean_grad_sq"])
    lo, hi = (np.asarray(b) for b in m["min_mean_grad_sq_ci"])
    assert np.all(np.diff(y) <= 0) and np.all(lo <= hi)
    assert np.all(y <= np.asarray(m["mean_grad_sq"]) + 1e-15)


def test_write_outputs(small_record, tmp_path):
    from simulations.nonconvex.figures import write_outputs

    paths = write_outputs(small_record, tmp_path)
    assert (tmp_path / "nonconvex.json").exists()
    assert any(p.suffix == ".png" for p in paths) and all(p.exists() for p in paths)


def test_cli_runs_and_rejects_bad_input(tmp_path, capsys):
    from simulations.cli import main

    out = tmp_path / "nc"
    assert main(["nonconvex", "--problem", "rosenbrock", "--optimizers", "adam,adamomentum", "--steps", "30",
                 "--seeds", "3", "--out", str(out), "--no-progress"]) == 0
    assert json.loads((out / "nonconvex.json").read_text())["experiment"] == "nonconvex"
    with pytest.raises(SystemExit) as err:
        main(["nonconvex", "--steps", "3", "--out", str(out), "--no-progress"])
    assert err.value.code == 2
    assert "steps" in capsys.readouterr().err


@pytest.mark.slow
def test_run_scale_quick_contract():
    record = nonconvex.run_scale("quick", device="cpu")
    rows = nonconvex.ledger_rows(record)
    assert {r["claim"] for r in rows} == {"theorem-2", "corollary-2", "assumption-2", "assumption-4"}
    assert all(r["verdict"] in VERDICTS for r in rows)


# ---- review fixes: rate-fit interval, floor, estimated L, evidence text, c > 0 -----------------

def _sgd_quadratic_grad_sq(groups, seeds, steps, seed, lr=0.5):
    """Per-seed ||grad f(x_{t-1})||^2 (steps, groups, seeds) of SGD with lr/sqrt(t) on the quadratic
    problem (numpy, vectorised over independent runs: the closed form is the expectation)."""
    q = Quadratic()
    rng = np.random.default_rng(seed)
    x = np.full((groups * seeds, q.dim), q.x0)
    out = np.empty((steps, groups * seeds))
    for t in range(1, steps + 1):
        out[t - 1] = (q.lam * x * q.lam * x).sum(-1)
        x = x - lr / math.sqrt(t) * (q.lam * x + q.sigma * (2 * rng.integers(0, 2, x.shape) - 1))
    return out.reshape(steps, groups, seeds)


def _coverage(runs, seeds, seed):
    """Hits of the closed-form slope by the seed bootstrap and by the old OLS t-interval."""
    from scipy import stats as st

    from simulations.nonconvex.simulate import log_grid
    from simulations.nonconvex.summary import bootstrap_slope
    from simulations.nonconvex.summary import fit_exact as _fit_exact
    from theory.stats import fit_power_law

    steps, fit_from = 2000, 0.05
    grid = log_grid(steps, 30)
    exact = sgd_quadratic_expected_grad_sq(Quadratic(), 0.5, steps)
    target = _fit_exact(grid, exact[grid - 1], fit_from, steps)["slope"]
    per = _sgd_quadratic_grad_sq(runs, seeds, steps, seed)
    boot = ols = 0
    for g in range(runs):
        y = per[grid - 1, g, :]
        fit = bootstrap_slope(grid, y, fit_from, steps, 0.95, resamples=1000, seed=g)
        boot += fit["slope_low"] <= target <= fit["slope_high"]
        # the interval used before: OLS t-interval on the running minimum over every step
        runmin = np.minimum.accumulate(per[:, g, :].mean(1))[grid - 1]
        mask = grid >= max(10, fit_from * steps)
        old = fit_power_law(grid[mask], runmin[mask], 0.95)
        ols += old.slope_low <= target <= old.slope_high
    # accept a 95% interval if the hit count is not in the lower 0.1% tail of Binomial(runs, 0.95)
    band = int(st.binom.ppf(0.001, runs, 0.95))
    return boot, ols, band


def test_rate_fit_bootstrap_covers_the_closed_form_slope_and_the_old_interval_does_not():
    """40 independent quadratic runs (16 seeds, T = 2000): the seed-bootstrap interval must contain
    the closed-form slope at a rate compatible with 95%; the old OLS interval (which covered ~60%)
    must fail the same acceptance band, so this test would catch it."""
    boot, ols, band = _coverage(runs=40, seeds=16, seed=2024)
    assert boot >= band, (boot, band)
    assert ols < band, (ols, band)


@pytest.mark.slow
def test_rate_fit_bootstrap_coverage_many_runs():
    boot, _, band = _coverage(runs=200, seeds=16, seed=7)
    assert boot >= band, (boot, band)
    boot, _, band = _coverage(runs=100, seeds=64, seed=8)
    assert boot >= band, (boot, band)


def test_bound_status_and_member_verdict_rules():
    from simulations.nonconvex.verdicts import bound_status as _bound_status
    from simulations.nonconvex.verdicts import member_verdict as _member_verdict

    valid = np.array([True, True, False])
    floor, rhs = np.array([1.0, 1.0, 1.0]), np.array([10.0, 10.0, 10.0])
    lo, hi = np.array([0.1, 0.1, 50.0]), np.array([0.5, 0.9, 60.0])
    assert _bound_status(lo, hi, floor, rhs, valid) == "holds"
    assert _bound_status(lo, hi + 0.2, floor, rhs, valid) == "ambiguous"  # above the floor at one T
    bad_lo = np.array([0.1, 11.0, 0.0])
    assert _bound_status(bad_lo, hi, floor, rhs, valid) == "fails"
    # the same exceedance with an estimated L is no counterexample
    status = _bound_status(bad_lo, hi, floor, rhs, valid, L_certified=False)
    assert status == "exceeds-rhs-with-estimated-L"
    assert _member_verdict(status, True) == "unchecked" and _member_verdict(status, False) == "unchecked"
    assert _member_verdict("fails", False) == "fails"
    assert _member_verdict("holds", False) == "assumption-violated"
    assert _member_verdict("holds", True) == "holds"


def test_c_positive_is_a_checked_hypothesis_and_min_v_is_not():
    from simulations.nonconvex.summary import HYPOTHESES
    from simulations.nonconvex.summary import c_positive as _c_positive
    from simulations.nonconvex.summary import t_valid as _t_valid

    assert "min-v" not in HYPOTHESES
    grid = np.array([1, 2, 5, 10, 20])
    ok = {n: {"violations": 0, "first_violation_step": None} for n in HYPOTHESES}
    ok["min-v"] = {"violations": 7, "first_violation_step": 3}  # ignored: not a hypothesis check
    zeros = np.zeros(5)
    assert _t_valid(ok, grid, zeros, np.full(5, 1e-8), 20) == 20
    min_v = np.array([1e-8, 1e-8, 1e-8, 0.0, 0.0])  # v reached 0: c = 0 from somewhere in (5, 10]
    assert _t_valid(ok, grid, zeros, min_v, 20) == 5
    assert not _c_positive(grid, min_v)["holds"] and _c_positive(grid, min_v)["first_violation_step"] == 6
    outside = np.array([0, 0, 1, 1, 1])
    assert _t_valid(ok, grid, outside, np.full(5, 1e-8), 20) == 2
    ok["grad-bound"] = {"violations": 1, "first_violation_step": 2}
    assert _t_valid(ok, grid, zeros, np.full(5, 1e-8), 20) == 1


def test_floor_uses_lower_bounds_of_the_gap_and_H(monkeypatch):
    """Shifting f by a constant moves f* but not f(theta_1) - f*: the floor must not move, while the
    right-hand side (built on the upper bound f(theta_1) - 0) does. The old floor, f0 - 0, moved."""
    from simulations.nonconvex import simulate as nc
    from simulations.nonconvex.problems import RobustRegression
    from simulations.nonconvex.summary import gap_bounds

    assert gap_bounds(3.0, 1.0, 0.0) == (2.0, 3.0)
    assert gap_bounds(3.0, 3.5, 0.0) == (0.0, 3.0)

    class Shifted(RobustRegression):
        def value(self, theta):
            return super().value(theta) + 5.0

    config = NonconvexConfig(problem="robust-regression", optimizers=("adamomentum-max",), steps=60,
                             seeds=3, grid_points=8)
    plain = run_problem(config, device="cpu")["members"]["adamomentum-max"]
    monkeypatch.setattr(nc, "make_problem", lambda name: Shifted())
    shifted = run_problem(config, device="cpu")["members"]["adamomentum-max"]
    f_p, f_s = (np.asarray(m["rhs"]["theorem-2"]["floor"]) for m in (plain, shifted))
    assert np.allclose(f_p, f_s, rtol=1e-9)
    assert np.all(np.asarray(shifted["rhs"]["theorem-2"]["rhs"]) > np.asarray(plain["rhs"]["theorem-2"]["rhs"]))
    c = plain["constants_at_T"]
    assert c["f_gap_floor"] < c["f_gap_rhs"] and c["H_floor"] <= c["H"]
    T = plain["T"][-1]
    assert f_p[-1] == pytest.approx(c["H_floor"] * c["f_gap_floor"] / (nc.make_problem("robust-regression").default_lr
                                                                        * math.sqrt(T)), rel=1e-12)


def test_mlp_never_fails_with_its_estimated_L():
    config = NonconvexConfig(problem="mlp", optimizers=("adamomentum-max",), steps=40, seeds=3, grid_points=8)
    m = run_problem(config, device="cpu")["members"]["adamomentum-max"]
    assert m["constants_at_T"]["L_certified"] is False
    assert m["verdict"]["theorem-2"] != "fails"


def test_evidence_text_when_no_run_qualifies():
    from simulations.nonconvex.verdicts import ledger_rows

    rows = ledger_rows({"results": {"runs": []}})
    by = {r["claim"]: r for r in rows}
    for claim in ("theorem-2", "corollary-2"):
        text = by[claim]["evidence"]
        assert by[claim]["verdict"] == "unchecked"
        assert ". ." not in text and "{}" not in text and "No run checked this claim" in text


# ---- any update rule: a torch optimizer, a class from a user's file, a user's Rule ------------

PLUGINS = ("torch.optim:NAdam", "plugin_optim:PlainAdam")


def _plugin_optimizer(name, p, lr):
    from plugin_optim import PlainAdam

    cls = torch.optim.NAdam if name == "torch.optim:NAdam" else PlainAdam
    return cls([p], lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)


def _by_hand(problem_name, names, seeds, steps, seed, skip=()):
    """The experiment's gradient sequence, stepped by hand: rules are stacked along the runs (rule i
    on rows i*seeds..), one generator draws every stochastic gradient, and each run of a plug-in is
    its own (dim,) parameter with its own optimizer, lr_t = lr/sqrt(t). Rows of the names in ``skip``
    stay at the start point (every problem's gradients are row-wise, so the others do not see them).
    Returns per rule the seed mean of ||grad f(theta_{t-1})||^2, t = 1..steps, and the final mean f."""
    problem = make_problem(problem_name)
    lr = problem.default_lr
    theta = problem.init(len(names) * seeds, "cpu", torch.float64)
    params = [theta[k].clone() for k in range(theta.shape[0])]
    optims = {k: _plugin_optimizer(names[k // seeds], params[k], lr) for k in range(len(params))
              if names[k // seeds] not in skip}
    gen = torch.Generator().manual_seed(seed)
    curves = np.empty((steps, len(names)))
    for t in range(1, steps + 1):
        theta = torch.stack(params)
        g = problem.stochastic_grad(theta, gen)
        gf = problem.full_grad(theta)
        curves[t - 1] = (gf * gf).sum(-1).view(len(names), seeds).mean(-1).numpy()
        for k, opt in optims.items():
            opt.param_groups[0]["lr"] = lr / math.sqrt(t)
            params[k].grad = g[k].clone()
            opt.step()
    f_end = problem.value(torch.stack(params)).view(len(names), seeds).mean(-1).numpy()
    return curves, f_end


@pytest.mark.parametrize("problem", ["robust-regression", "rosenbrock"])
def test_plugins_through_the_command_equal_a_plain_loop(problem, tmp_path):
    """A torch optimizer the toolkit has never seen and a class from a file outside the package run
    through ``amlab nonconvex``: their numbers are those of the optimizers stepped by hand."""
    from simulations.cli import main

    steps, seeds = 40, 3
    assert main(["nonconvex", "--problem", problem, "--optimizers", ",".join(PLUGINS), "--steps", str(steps),
                 "--seeds", str(seeds), "--seed", "5", "--device", "cpu", "--out", str(tmp_path), "--no-progress"]) == 0
    record = json.loads((tmp_path / "nonconvex.json").read_text())
    run = record["results"]["runs"][0]
    curves, f_end = _by_hand(problem, PLUGINS, seeds, steps, seed=5)
    for i, name in enumerate(PLUGINS):
        m = run["members"][name]
        T = np.asarray(m["T"])
        np.testing.assert_allclose(m["mean_grad_sq"], curves[T - 1, i], rtol=1e-12, atol=0)
        np.testing.assert_allclose(m["min_mean_grad_sq"], np.minimum.accumulate(curves[:, i])[T - 1], rtol=1e-12)
        assert m["f_mean"][-1] == pytest.approx(f_end[i], rel=1e-12)
        # no effective stepsize read-out: Theorem 2's hypotheses unchecked with the reason, the rest measured
        assert m["verdict"]["theorem-2"] == "unchecked" and "effective_stepsize" in m["verdict"]["why"]
        assert m["monitors"]["stepsize-nonincreasing"]["holds"] is None
        assert "unchecked" in m["monitors"]["stepsize-nonincreasing"]
        assert m["monitors"]["grad-bound"]["checked"] == steps * seeds and m["T_valid"] is None
        assert m["fit"] is not None and math.isfinite(m["fit"]["slope"])
        assert any("bias_correction=False not applied" in n for n in record["results"]["rule_notes"][name])
    assert any(p.suffix == ".png" for p in tmp_path.iterdir())


def test_plugins_through_simulate_equal_a_plain_loop():
    """The same through the simulate function, next to a registry member (mixed monitors)."""
    from simulations.nonconvex.simulate import simulate
    from theory.names import resolve_all

    names = ("adam",) + PLUGINS
    config = NonconvexConfig(problem="robust-regression", optimizers=names, steps=30, seeds=3, seed=2)
    sim = simulate(config, resolve_all(config.optimizers), device="cpu")
    curves, _ = _by_hand("robust-regression", names, 3, 30, seed=2, skip=("adam",))
    np.testing.assert_allclose(sim["mean_curve"][:, 1:], curves[:, 1:], rtol=1e-12, atol=0)
    assert [k for k, _, _ in sim["monitor_of"]] == ["theorem-2", "gradient", "gradient"]
    assert np.isnan(sim["snaps"]["min_v"][:, 1:]).all() and np.all(sim["snaps"]["min_v"][:, 0] > 0)
    # the registry member is still fully monitored
    out = run_problem(config, device="cpu")["members"]
    assert out["adam"]["verdict"]["theorem-2"] in VERDICTS and out["adam"]["T_valid"] is not None
    assert out["adam"]["monitors"]["stepsize-nonincreasing"]["holds"] in (True, False)


class _UserAdam:
    """A rule written in a user's file (no base class): Adam without bias correction, with the
    read-outs Theorem 2's monitor needs, but not a registry member (no a-priori bound on v)."""

    name = "user-adam"

    def init(self, params, hyper):
        return {"m": torch.zeros_like(params), "v": torch.zeros_like(params), "t": 0}

    def step(self, state, params, grad, hyper):
        state["t"] += 1
        b1, b2 = hyper.beta1_at(state["t"]), hyper.beta2
        state["m"].mul_(b1).add_(grad * (1 - b1))
        state["v"].mul_(b2).add_(grad * grad * (1 - b2))
        params.sub_(hyper.lr_at(state["t"]) * state["m"] / (state["v"].sqrt() + hyper.eps))

    def first_moment(self, state):
        return state["m"]

    def second_moment(self, state):
        return state["v"]

    def effective_stepsize(self, state, hyper):
        return hyper.lr_at(state["t"]) / (state["v"].sqrt() + hyper.eps)


def test_user_rule_with_read_outs_is_monitored_and_matches_the_family():
    """A user's rule with the read-outs gets Theorem 2's full check; with no registry member behind
    it the a-priori bound on v is absent (said so); its numbers equal the family's adam without bias
    correction (the same update)."""
    user = _UserAdam()
    config = NonconvexConfig(problem="rosenbrock", optimizers=(user,), steps=40, seeds=3)
    mine = run_problem(config, device="cpu")["members"]["user-adam"]
    adam = run_problem(NonconvexConfig(problem="rosenbrock", optimizers=("adam",), steps=40, seeds=3),
                       device="cpu")["members"]["adam"]
    np.testing.assert_allclose(mine["mean_grad_sq"], adam["mean_grad_sq"], rtol=1e-12)
    assert "no a-priori bound on v" in mine["monitors"]["min-v"]["role"]
    assert mine["verdict"]["theorem-2"] == adam["verdict"]["theorem-2"]
    assert mine["T_valid"] == adam["T_valid"]
    assert mine["monitors"]["stepsize-nonincreasing"]["violations"] == adam["monitors"]["stepsize-nonincreasing"]["violations"]


def test_subject_other_than_the_default_and_defossez_needs_adam(tmp_path):
    config = NonconvexConfig(problem="robust-regression", optimizers=("adam", "torch.optim:NAdam"), steps=30,
                             seeds=3, subject="torch.optim:NAdam", baseline="adam")
    record = run_config(config, device="cpu")
    assert record["results"]["subject"] == "torch.optim:NAdam"
    rows = {r["claim"]: r for r in nonconvex.ledger_rows(record)}
    for claim in ("theorem-2", "corollary-2"):
        assert rows[claim]["verdict"] == "unchecked"
        assert "torch.optim:NAdam" in rows[claim]["evidence"] and "effective_stepsize" in rows[claim]["evidence"]
    # the same record with adam as the subject checks the claim on adam
    rows = {r["claim"]: r for r in nonconvex.ledger_rows(record, subject="adam", baseline="torch.optim:NAdam")}
    assert rows["theorem-2"]["verdict"] != "unchecked" and "Subject adam" in rows["theorem-2"]["evidence"]
    with pytest.raises(ValueError, match="defossez.*torch.optim:NAdam"):
        run_problem(NonconvexConfig(problem="rosenbrock", optimizers=("torch.optim:NAdam",), stepsize="defossez",
                                    lr_decay="constant", steps=20, seeds=2), device="cpu")
    from simulations.cli import main

    assert main(["nonconvex", "--problem", "rosenbrock", "--optimizers", "adam,torch.optim:NAdam", "--steps", "20",
                 "--seeds", "2", "--subject", "torch.optim:NAdam", "--device", "cpu", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    assert json.loads((tmp_path / "nonconvex.json").read_text())["results"]["subject"] == "torch.optim:NAdam"


def test_presets_keep_their_optimizers_and_add_a_subject():
    from simulations.nonconvex.experiment import DEFAULT_OPTIMIZERS, preset_configs

    default = preset_configs("quick")
    assert [c.optimizers for c in default if c.problem == "mlp"] == [DEFAULT_OPTIMIZERS]
    plugin = preset_configs("quick", subject="torch.optim:NAdam")
    mlp = [c for c in plugin if c.problem == "mlp"][0]
    assert mlp.optimizers == DEFAULT_OPTIMIZERS + ("torch.optim:NAdam",) and mlp.subject == "torch.optim:NAdam"
    assert [c.optimizers for c in plugin if c.stepsize == "defossez"] == [("adam",), ("adam",)]
