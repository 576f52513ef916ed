"""Figure 1 / Section 3.1: geometry of the 1-D loss, batched runs vs float64 loops, area statements."""
import dataclasses
import math

import numpy as np
import pytest
import torch

from simulations.toys import problems, stepsize, verdicts
from theory import reference
from theory.names import resolve

SMALL = stepsize.StepsizeConfig(peak_slopes=(1.0, 100.0), lrs=(0.01, 0.03), beta2s=(0.999,), plateau_steps=(100,),
                                steps=800, showcase=(0.03, 0.999, 100))
MEMBERS = SMALL.methods[::-1]  # (baseline, subject) by default: adam, adamomentum


def test_gradient_is_derivative_of_value():
    x = np.linspace(-8, 2, 101)
    h = 1e-6
    numeric = (problems.well_value(x + h, 2.0, 0.002) - problems.well_value(x - h, 2.0, 0.002)) / (2 * h)
    np.testing.assert_allclose(problems.well_gradient(x, 2.0, 0.002), numeric, rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(problems.well_gradient(torch.tensor(x), 2.0, 0.002),
                               torch.tensor(problems.well_gradient(x, 2.0, 0.002)), rtol=1e-14, atol=1e-15)


def test_geometry_area_boundaries_sit_at_the_levels():
    geo = problems.geometry((0.01, 0.5), 0.002)
    slope = lambda x: -problems.well_gradient(np.float64(x), 1.0, 0.002)
    (a0, a1), (b0, b1), (c0, c1) = (geo["areas"][k] for k in "ABC")
    assert a0 < a1 == b0 < geo["x_peak"] < b1 == c0 < c1 == geo["x_min"]
    assert slope(a0) == pytest.approx(0.01 * geo["peak_slope"], rel=1e-9)
    assert slope(a1) == pytest.approx(0.5 * geo["peak_slope"], rel=1e-9)
    assert slope(b1) == pytest.approx(0.5 * geo["peak_slope"], rel=1e-9)
    assert abs(problems.well_gradient(np.float64(geo["x_min"]), 1.0, 0.002)) < 1e-12
    assert slope(-10.0) < 0.01 * geo["peak_slope"]  # the far left is plateau, not area A


@pytest.mark.parametrize("member", MEMBERS)
def test_batched_simulation_matches_float64_loop(member):
    cases = stepsize.cases(SMALL, SMALL.peak_slopes)
    sim = stepsize.simulate(resolve(member), cases, [1e-16, 1e-8], SMALL)
    loop = getattr(reference, member)
    geo = problems.geometry(SMALL.levels, SMALL.plateau_slope)
    for run, (case, eps) in enumerate(sim["runs"]):
        x0 = geo["areas"]["A"][0] - case["plateau_steps"] * case["lr"]
        grad = (lambda theta, t, p=case["peak_slope"]: [problems.well_gradient(theta[0], p, SMALL.plateau_slope)])
        path, state = loop([x0], [grad] * 200, case["lr"], SMALL.beta1, case["beta2"], eps)
        np.testing.assert_allclose(sim["x"][:201, run], np.array(path)[:, 0], rtol=1e-11, atol=1e-12)
        # eta_200 = a / (1 - b1^t) / denom, written out from the state
        t = 200
        vhat = state["v"][0] / (1 - case["beta2"] ** t)
        denom = math.sqrt(vhat) + (eps if member == "adam" else 0.0)
        assert sim["eta"][t - 1, run] == pytest.approx(case["lr"] / (1 - SMALL.beta1**t) / denom, rel=1e-11)


def test_scale_invariance_without_eps():
    """With eps ~ 0 both methods are invariant to the loss scale: the peak slope must not matter."""
    cases = stepsize.cases(SMALL, SMALL.peak_slopes)  # scale 1 then scale 100, same lr/beta2/plateau
    sims = stepsize.simulate(resolve("adamomentum"), cases, [0.0], SMALL)
    half = len(cases) // 2
    assert [dict(c, peak_slope=0) for c in cases[:half]] == [dict(c, peak_slope=0) for c in cases[half:]]
    np.testing.assert_allclose(sims["x"][:, :half], sims["x"][:, half:], rtol=1e-10, atol=1e-12)


def test_decision_sweep_has_no_repeated_configurations():
    """The decision sweep (eps ~ 0, scale-invariant) uses one loss scale, so each case is a distinct
    run; the loss scale is varied only in the eps sensitivity sweep, where it changes the runs."""
    config = stepsize.StepsizeConfig()
    decision = stepsize.cases(config)
    assert {c["peak_slope"] for c in decision} == {config.peak_slope}
    assert len(decision) == len(config.lrs) * len(config.beta2s) * len(config.plateau_steps)
    keys = [(c["lr"], c["beta2"], c["plateau_steps"]) for c in decision]
    assert len(set(keys)) == len(keys)
    sensitivity = stepsize.cases(config, config.peak_slopes)
    assert len(sensitivity) == len(config.peak_slopes) * len(decision)
    # at eps = 1e-8 the scale does matter (AdaMomentum's eps floor), so those runs are not repeats
    small = stepsize.StepsizeConfig(lrs=(0.03,), beta2s=(0.999,), plateau_steps=(100,), steps=300)
    sim = stepsize.simulate(resolve("adamomentum"), stepsize.cases(small, (0.01, 1.0)), [1e-8], small)
    assert np.max(np.abs(sim["x"][:, 0] - sim["x"][:, 1])) > 1e-3


def test_crossing_steps():
    path = np.array([-5.0, -4.0, -2.5, -1.0, 0.5, -0.2, 0.7])
    steps = stepsize.crossing_steps(path, np.array([-4.5, -3.0, -2.5, -0.5, 0.6]), x_min=0.0)
    # x_1=-4 crosses -4.5 at step 1; -3 at step 2; -2.5 needs x_t > -2.5 -> step 3; -0.5 -> step 4;
    # 0.6 is only passed at step 6, after the first arrival at x* (step 4), so it does not count
    assert steps.tolist() == [1, 2, 3, 4, -1]
    assert stepsize.arrival_step(path, 0.0) == 4


def _fake_sims(eta_am, eta_adam, m_over_g_am):
    x = np.linspace(-8, 0.5, 200)[:, None]
    ones = np.ones((199, 1))
    return {"adamomentum": {"x": x, "eta": eta_am * ones, "m": m_over_g_am * ones, "g": ones},
            "adam": {"x": x, "eta": eta_adam * ones, "m": ones, "g": ones}}


def test_statements_follow_the_measurements():
    geo = problems.geometry(SMALL.levels, SMALL.plateau_slope)
    larger = stepsize.evaluate_case(_fake_sims(2.0, 1.0, 1.0), 0, SMALL, geo)["statements"]
    assert larger["A"]["true"] and not larger["C"]["true"] and larger["B"]["true"]
    smaller = stepsize.evaluate_case(_fake_sims(0.5, 1.0, 0.5), 0, SMALL, geo)["statements"]
    assert not smaller["A"]["true"] and smaller["C"]["true"] and not smaller["B"]["true"]


def test_area_steps_and_resolution():
    path = np.array([-5.0, -4.0, -3.5, -3.2, -1.0, 0.5, -0.2, 0.7])
    # steps start at x_0..x_4 before arriving at x_m = 0 (step 5); in [-4, -3): x_1, x_2, x_3
    assert stepsize.area_steps(path, (-4.0, -3.0), 0.0) == 3
    assert stepsize.area_steps(path, (-0.9, 0.0), 0.0) == 0  # jumped over: never a step there
    assert stepsize.area_steps(path, (0.6, 0.8), 0.0) == 0  # after the first arrival: not counted
    assert SMALL.resolved_steps == 30 and SMALL.steps_for(1.0) == 10  # 3 and 1 times 1 / (1 - 0.9)
    # the fake runs cross A (width ~1.7) in ~40 steps of 0.043 and C (width ~0.32) in ~7
    geo = problems.geometry(SMALL.levels, SMALL.plateau_slope)
    case = stepsize.evaluate_case(_fake_sims(2.0, 1.0, 1.0), 0, SMALL, geo)
    assert case["resolved"] == {"A": True, "B": True, "C": False}


def _evaluation(resolved: bool, fraction: float = 1.0, exit_ratio: float = 1.2, entry: float = 0.5):
    statements = {key: {"fraction": fraction, "median_ratio": 2.0, "median_m_over_g": 1.5} for key in "AC"}
    statements["B"] = {"m_over_g_entry": entry, "m_over_g_exit": exit_ratio, "m_over_g_max": exit_ratio}
    for key, st in statements.items():
        st["true"] = stepsize.statement_true(key, st, SMALL.catch_up if key == "B" else SMALL.min_fraction)
    steps = 40 if resolved else 5
    return {"complete": True, "case": {"resolved": resolved},
            "steps_in_area": {k: {m: steps for m in MEMBERS} for k in "ABC"},
            "resolved": {k: resolved for k in "ABC"}, "statements": statements}


def test_verdict_is_decided_on_resolved_cases_only():
    good, unresolved_bad = _evaluation(True), _evaluation(False, fraction=0.1, exit_ratio=0.2)
    summary = stepsize.summarize([good, unresolved_bad], SMALL)
    for key in "ABC":  # a failure outside the premise is reported but does not decide
        assert summary[key]["verdict"] == "holds"
        assert (summary[key]["true_in"], summary[key]["of"]) == (1, 1)
        assert (summary[key]["unresolved_true_in"], summary[key]["unresolved_of"]) == (0, 1)
    resolved_bad = _evaluation(True, fraction=0.1, exit_ratio=0.2)
    summary = stepsize.summarize([good, resolved_bad], SMALL)
    for key in "ABC":  # the same failure in a resolved case is a counterexample
        assert summary[key]["verdict"] == "fails" and summary[key]["failed_cases"] == [{"resolved": True}]
    summary = stepsize.summarize([unresolved_bad], SMALL)
    assert all(summary[key]["verdict"] == "unchecked" for key in "ABC")  # nothing resolved


def test_threshold_and_resolution_sweeps_are_reported():
    borderline = _evaluation(True, fraction=0.85, exit_ratio=0.85)  # true at 0.8, false at 0.9 and 0.95
    summary = stepsize.summarize([_evaluation(True), borderline], SMALL)
    for key in "ABC":
        assert summary[key]["verdict"] == "fails"
        assert summary[key]["threshold_sweep"] == {"0.8": 2, "0.9": 1, "0.95": 1}
    # B also needs the exit ratio to be no lower than on entry
    falling = _evaluation(True, exit_ratio=0.95, entry=0.97)
    assert not falling["statements"]["B"]["true"]
    # cases with 5 steps count only under no resolution rule; with 40 steps under all three
    summary = stepsize.summarize([_evaluation(True), _evaluation(False, fraction=0.1)], SMALL)
    assert summary["A"]["resolution_sweep"] == {"10": [1, 1], "20": [1, 1], "30": [1, 1]}


def test_run_and_rows():
    results = stepsize.run_stepsize(SMALL)
    assert results["decision"]["summary"]["cases"] == 2  # lr 0.01 and 0.03 at one loss scale
    assert results["sensitivity"]["summary"]["cases"] == 4  # x 2 loss scales
    assert results["showcase"]["case"] == {"peak_slope": 1.0, "lr": 0.03, "beta2": 0.999, "plateau_steps": 100,
                                           "eps": 1e-16}
    rows = verdicts.stepsize_rows(results)
    assert [r["claim"] for r in rows] == ["sec3.1-area-A", "sec3.1-area-B", "sec3.1-area-C"]
    for key, row in zip("ABC", rows):
        summary = results["decision"]["summary"][key]
        assert row["verdict"] == summary["verdict"] and row["method"] == "simulation"
        # the verdict is "holds" only if true in every resolved case, "unchecked" if there is none
        if summary["of"] == 0:
            assert row["verdict"] == "unchecked"
        else:
            assert (row["verdict"] == "holds") == (summary["true_in"] == summary["of"])
        assert f"true in {summary['true_in']}/{summary['of']} cases" in row["evidence"]
        assert ">= 30 steps" in row["evidence"] and "0.8:" in row["evidence"]
    # lr 0.01 resolves area A (AdaMomentum's stepsize is larger there); lr 0.03 crosses it too fast
    assert results["decision"]["summary"]["A"]["of"] == 1 and rows[0]["verdict"] == "holds"


def test_config_validation():
    with pytest.raises(ValueError, match="levels"):
        stepsize.StepsizeConfig(levels=(0.5, 0.1))
    with pytest.raises(ValueError, match="plateau_slope"):
        stepsize.StepsizeConfig(plateau_slope=0.05)
    with pytest.raises(ValueError, match="threshold_sweep"):
        stepsize.StepsizeConfig(threshold_sweep=(0.9, 1.5))
    with pytest.raises(ValueError, match="showcase"):
        stepsize.StepsizeConfig(showcase=(1.0, 0.01, 0.999, 400))


# --- any Adam-type method: a torch optimizer and a class from a user's file, against a hand loop ---

def _plugin_class(name):
    import plugin_optim  # tests/plugins (conftest puts it on sys.path): a file outside the package
    return {"torch.optim:NAdam": torch.optim.NAdam, "plugin_optim:PlainAdam": plugin_optim.PlainAdam}[name]


@pytest.mark.parametrize("name", ["torch.optim:NAdam", "plugin_optim:PlainAdam"])
def test_plugin_simulation_equals_hand_loop(name):
    cases = stepsize.cases(SMALL, SMALL.peak_slopes)
    sim = stepsize.simulate(resolve(name), cases, [1e-16, 1e-8], SMALL)
    assert sim["eta"] is None and sim["m"] is not None  # a torch optimizer has m (exp_avg), no stepsize
    geo = problems.geometry(SMALL.levels, SMALL.plateau_slope)
    for run, (case, eps) in enumerate(sim["runs"]):
        p = torch.tensor([geo["areas"]["A"][0] - case["plateau_steps"] * case["lr"]])
        opt = _plugin_class(name)([p], lr=case["lr"], betas=(SMALL.beta1, case["beta2"]), eps=eps, weight_decay=0.0)
        xs, ms = [p.clone()], []
        for _ in range(SMALL.steps):
            p.grad = problems.well_gradient(p.detach(), case["peak_slope"], SMALL.plateau_slope)
            opt.step()
            xs.append(p.detach().clone())
            ms.append(opt.state[p]["exp_avg"].clone())
        np.testing.assert_allclose(sim["x"][:, run], torch.cat(xs).numpy(), rtol=1e-12, atol=0)
        np.testing.assert_allclose(sim["m"][:, run], torch.cat(ms).numpy(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("role", ["subject", "baseline"])
def test_rule_without_effective_stepsize_leaves_A_and_C_unchecked(role, tmp_path):
    config = dataclasses.replace(SMALL, **{role: "torch.optim:NAdam"})
    results = stepsize.run_stepsize(config)
    assert results["config"][role] == "torch.optim:NAdam"
    # the sweep's eps values reach NAdam, and its notes say where they differ from NAdam's default
    assert all(n.startswith("eps set to the experiment's") for n in results["rule_notes"]["torch.optim:NAdam"])
    rows = {r["claim"]: r for r in verdicts.stepsize_rows(results)}
    for key in "AC":
        row = rows[f"sec3.1-area-{key}"]
        assert row["verdict"] == "unchecked" and "effective_stepsize" in row["evidence"]
        assert "torch.optim:NAdam" in row["evidence"]
    b = rows["sec3.1-area-B"]
    if role == "subject":  # B needs the subject's m, which NAdam keeps (exp_avg): still decided
        assert "unavailable" not in b["details"]["decision"] and "true in" in b["evidence"]
        assert b["evidence"].startswith("Subject torch.optim:NAdam, baseline adam: ")
    else:
        assert b["verdict"] == results["decision"]["summary"]["B"]["verdict"]
    from simulations.toys import figures
    assert figures.stepsize_figure(results, tmp_path).stat().st_size > 0  # the missing series left out


def test_subject_and_baseline_are_validated():
    with pytest.raises(ValueError, match="subject and baseline must differ"):
        stepsize.StepsizeConfig(subject="adam")
    with pytest.raises(ValueError, match="baseline"):
        stepsize.StepsizeConfig(baseline="torch.optim:NoSuchThing")
