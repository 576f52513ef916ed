"""Figure 1 / Section 3.1: geometry of the 1-D loss, batched runs vs float64 loops, area statements."""
import math

import numpy as np
import pytest
import torch

from simulations import stepsize
from theory import reference

SMALL = stepsize.StepsizeConfig(peak_slopes=(1.0, 100.0), lrs=(0.03,), beta2s=(0.999,), plateau_steps=(100,),
                                steps=800, showcase=(1.0, 0.03, 0.999, 100))


def test_gradient_is_derivative_of_value():
    x = np.linspace(-8, 2, 101)
    h = 1e-6
    numeric = (stepsize.well_value(x + h, 2.0, 0.002) - stepsize.well_value(x - h, 2.0, 0.002)) / (2 * h)
    np.testing.assert_allclose(stepsize.well_gradient(x, 2.0, 0.002), numeric, rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(stepsize.well_gradient(torch.tensor(x), 2.0, 0.002),
                               torch.tensor(stepsize.well_gradient(x, 2.0, 0.002)), rtol=1e-14, atol=1e-15)


def test_geometry_area_boundaries_sit_at_the_levels():
    geo = stepsize.geometry((0.01, 0.5), 0.002)
    slope = lambda x: -stepsize.well_gradient(np.float64(x), 1.0, 0.002)
    (a0, a1), (b0, b1), (c0, c1) = (geo["areas"][k] for k in "ABC")
    assert a0 < a1 == b0 < geo["x_peak"] < b1 == c0 < c1 == geo["x_min"]
    assert slope(a0) == pytest.approx(0.01 * geo["peak_slope"], rel=1e-9)
    assert slope(a1) == pytest.approx(0.5 * geo["peak_slope"], rel=1e-9)
    assert slope(b1) == pytest.approx(0.5 * geo["peak_slope"], rel=1e-9)
    assert abs(stepsize.well_gradient(np.float64(geo["x_min"]), 1.0, 0.002)) < 1e-12
    assert slope(-10.0) < 0.01 * geo["peak_slope"]  # the far left is plateau, not area A


@pytest.mark.parametrize("member", stepsize.MEMBERS)
def test_batched_simulation_matches_float64_loop(member):
    cases = stepsize.cases(SMALL)
    sim = stepsize.simulate(member, cases, [1e-16, 1e-8], SMALL)
    loop = getattr(reference, member)
    geo = stepsize.geometry(SMALL.levels, SMALL.plateau_slope)
    for run, (case, eps) in enumerate(sim["runs"]):
        x0 = geo["areas"]["A"][0] - case["plateau_steps"] * case["lr"]
        grad = (lambda theta, t, p=case["peak_slope"]: [stepsize.well_gradient(theta[0], p, SMALL.plateau_slope)])
        path, state = loop([x0], [grad] * 200, case["lr"], SMALL.beta1, case["beta2"], eps)
        np.testing.assert_allclose(sim["x"][:201, run], np.array(path)[:, 0], rtol=1e-11, atol=1e-12)
        # eta_200 = a / (1 - b1^t) / denom, written out from the state
        t = 200
        vhat = state["v"][0] / (1 - case["beta2"] ** t)
        denom = math.sqrt(vhat) + (eps if member == "adam" else 0.0)
        assert sim["eta"][t - 1, run] == pytest.approx(case["lr"] / (1 - SMALL.beta1**t) / denom, rel=1e-11)


def test_scale_invariance_without_eps():
    """With eps ~ 0 both methods are invariant to the loss scale: the peak slope must not matter."""
    sims = stepsize.simulate("adamomentum", stepsize.cases(SMALL), [0.0], SMALL)
    np.testing.assert_allclose(sims["x"][:, 0], sims["x"][:, 1], rtol=1e-10, atol=1e-12)


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
    geo = stepsize.geometry(SMALL.levels, SMALL.plateau_slope)
    larger = stepsize.evaluate_case(_fake_sims(2.0, 1.0, 1.0), 0, SMALL, geo)["statements"]
    assert larger["A"]["true"] and not larger["C"]["true"] and larger["B"]["true"]
    smaller = stepsize.evaluate_case(_fake_sims(0.5, 1.0, 0.5), 0, SMALL, geo)["statements"]
    assert not smaller["A"]["true"] and smaller["C"]["true"] and not smaller["B"]["true"]


def test_run_and_rows():
    results = stepsize.run_stepsize(SMALL)
    assert results["decision"]["summary"]["cases"] == 2
    rows = stepsize.stepsize_rows(results)
    assert [r["claim"] for r in rows] == ["sec3.1-area-A", "sec3.1-area-B", "sec3.1-area-C"]
    for row in rows:
        assert row["verdict"] in {"holds", "fails", "unchecked"}
        assert "cases" in row["evidence"]
    # the verdict is the summary's, which is "holds" only if true in every complete case
    summary = results["decision"]["summary"]["A"]
    assert (rows[0]["verdict"] == "holds") == (summary["true_in"] == summary["of"] > 0)


def test_config_validation():
    with pytest.raises(ValueError, match="levels"):
        stepsize.StepsizeConfig(levels=(0.5, 0.1))
    with pytest.raises(ValueError, match="plateau_slope"):
        stepsize.StepsizeConfig(plateau_slope=0.05)
