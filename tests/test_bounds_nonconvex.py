"""Theorem 2 / Corollary 2 right-hand sides (theory.bounds) and their monitors (theory.assumptions).

The decisive test runs AdaMomentum (the batched family step) on a 1-D ramp f(x) = H sqrt(x^2 + delta^2)
where Theorem 2 is nearly tight: the gradient stays at about H for the whole run, and
H E[f(x_1) - f*] / (T alpha_T) is only ~4x the measured value. The computed right-hand side must
be at least the measured value, and the same formula without its leading factor H must not be.
"""
import math

import pytest
import torch

from theory.assumptions import Theorem2Monitor, stepsize_increases
from theory.bounds import (chen_constants, corollary2_rhs, defossez_adam_bound, defossez_tau_weights,
                           inverse_sqrt_schedule, theorem2_q, theorem2_rhs)
from theory.family import Hyper, effective_stepsize, init_state, step_


def test_chen_constants_by_hand():
    # b1 = 0.5: b1/(1-b1) = 1, 1/(1-b1) = 2
    c = chen_constants(L=2.0, H=3.0, G=1.0, beta1=0.5, first_step_l1=0.1, f_gap=4.0)
    assert c.C1 == pytest.approx(1.5 * 2 + 0.5 + 4 * 1 * 4, rel=1e-15)
    assert c.C2 == pytest.approx(9 * 1 + 2 * 9, rel=1e-15)
    assert c.C3 == pytest.approx((1 + 4 * 4 * 1) * 4, rel=1e-15)
    assert c.C4 == pytest.approx(1 * (9 + 1) + 1 * 1 + 2 * 9 * 0.1 + 4, rel=1e-15)
    k = chen_constants(L=2.0, H=3.0, G=1.0, beta1=0.5, first_step_l1=0.1, f_gap=4.0, reading="conservative")
    assert k.C3 == pytest.approx(68 * 9, rel=1e-15)
    assert k.C4 == pytest.approx(10 + 3 * 1 + 1.8 + 4, rel=1e-15)
    assert (k.C1, k.C2) == (c.C1, c.C2)


def test_rhs_equals_q_form_and_corollary_is_theorem_with_its_eta():
    consts = chen_constants(L=1.3, H=2.0, G=0.4, beta1=0.9, first_step_l1=0.2, f_gap=5.0)
    H, c, d, alpha, T = 2.0, 1e-3, 7, 0.05, 1234
    t_alpha_t, eta_exact, eta_cor = inverse_sqrt_schedule(alpha, T)
    assert t_alpha_t == pytest.approx(alpha * math.sqrt(T), rel=1e-15)
    assert eta_exact == pytest.approx(alpha**2 * sum(1 / t for t in range(1, T + 1)), rel=1e-12)
    assert eta_exact <= eta_cor
    out = theorem2_rhs(consts, H, c, d, alpha, t_alpha_t, eta_cor)
    q1, q2 = theorem2_q(consts, H, c, d, alpha)
    assert out["rhs"] == pytest.approx((q1 + q2 * eta_cor) / t_alpha_t, rel=1e-12)
    assert corollary2_rhs(consts, H, c, d, alpha, T)["rhs"] == pytest.approx(out["rhs"], rel=1e-15)
    assert out["floor"] == pytest.approx(H * 5.0 / t_alpha_t, rel=1e-15)
    assert out["floor"] <= out["terms"]["C4"] <= out["rhs"]


def test_inverse_sqrt_schedule_large_T_uses_asymptotic_harmonic():
    _, eta, _ = inverse_sqrt_schedule(1.0, 20000)
    assert eta == pytest.approx(sum(1 / t for t in range(1, 20001)), rel=1e-12)


@pytest.mark.parametrize("bad", [dict(beta1=1.0), dict(L=-1.0), dict(f_gap=float("nan")), dict(reading="x")])
def test_chen_constants_reject_bad_input(bad):
    args = dict(L=1.0, H=1.0, G=1.0, beta1=0.5, first_step_l1=1.0, f_gap=1.0)
    args.update(bad)
    with pytest.raises(ValueError):
        chen_constants(**args)


def _ramp_run(H=10.0, delta=0.01, alpha=0.1, T=400, x0=8.0, beta2=1e-3, eps=1e-8):
    """AdaMomentum with b1 = 0, no bias correction, alpha_t = alpha/sqrt(t) on H sqrt(x^2 + delta^2)."""
    hyper = Hyper(lr=alpha, beta1=0.0, beta2=beta2, eps=eps, lr_decay="inverse-sqrt", bias_correction=False)
    x = torch.tensor([[x0]])
    state = init_state("adamomentum", x)
    monitor = Theorem2Monitor(H, c=eps)
    grad_sq, steps = [], []
    for t in range(1, T + 1):
        g = H * x / torch.sqrt(x * x + delta**2)
        grad_sq.append(float((g * g).sum()))
        step_("adamomentum", state, x, g, hyper)
        s = effective_stepsize("adamomentum", state, hyper)
        steps.append(s.clone())
        norm = g.norm(dim=-1)
        monitor.update(t, s, (hyper.lr_at(t) / s) ** 2, norm, norm, (s * state.m).norm(dim=-1), 0.0)
    f_gap = H * (math.sqrt(x0**2 + delta**2) - delta)
    return monitor, min(grad_sq), torch.stack(steps), f_gap


def test_theorem2_rhs_bounds_the_ramp_and_a_formula_missing_H_does_not():
    H, delta, alpha, T = 10.0, 0.01, 0.1, 400
    monitor, measured, steps, f_gap = _ramp_run(H, delta, alpha, T)
    assert all(r.holds for r in monitor.results()), [r.as_dict() for r in monitor.results() if not r.holds]
    got = monitor.measured()
    consts = chen_constants(L=H / delta, H=H, G=got["G"], beta1=0.0,
                            first_step_l1=float(steps[0].sum()), f_gap=f_gap)
    out = corollary2_rhs(consts, H, got["min_v"], d=1, alpha=alpha, T=T)
    assert measured == pytest.approx(H**2, rel=1e-3)  # the gradient never leaves the ramp
    assert out["floor"] >= measured and out["rhs"] >= measured
    assert out["floor"] < 5 * measured  # nearly tight: a wrong factor shows
    assert out["rhs"] / H < measured  # the same bound without its leading H is violated


def test_eq22_telescopes_when_stepsizes_do_not_rise():
    _, _, steps, _ = _ramp_run()
    assert not stepsize_increases(steps).any()
    total = (steps[1:] - steps[:-1]).abs().sum()
    assert float(total) == pytest.approx(float((steps[0] - steps[-1]).sum()), rel=1e-12)


def test_monitor_counts_match_batch_check_and_flag_adamomentum_but_not_its_max_variant():
    torch.manual_seed(0)
    T, runs, d = 60, 5, 3
    grads = torch.randn(T, runs, d)
    # b2 = 0.9: alpha_t/sqrt(v_t) may rise once t > b2/(1-b2) = 9
    hyper = Hyper(lr=0.1, beta1=0.9, beta2=0.9, eps=1e-8, lr_decay="inverse-sqrt", bias_correction=False)
    counts = {}
    for name in ("adamomentum", "adamomentum-max", "amsgrad"):
        x = torch.zeros(runs, d)
        state = init_state(name, x)
        mon = Theorem2Monitor(H=1e9, c=1e-8 * (1 - 1e-9))
        stack = []
        for t in range(1, T + 1):
            step_(name, state, x, grads[t - 1], hyper)
            s = effective_stepsize(name, state, hyper)
            stack.append(s.clone())
            n = grads[t - 1].norm(dim=-1)
            mon.update(t, s, (hyper.lr_at(t) / s) ** 2, n, n, (s * state.m).norm(dim=-1), 0.9)
        res = {r.details["name"]: r for r in mon.results()}
        batch = stepsize_increases(torch.stack(stack))
        assert res["stepsize-nonincreasing"].violations == int(batch.sum())
        assert res["stepsize-nonincreasing"].checked == batch.numel()
        assert res["min-v"].holds and res["beta1-nonincreasing"].holds
        counts[name] = res["stepsize-nonincreasing"]
    assert counts["adamomentum"].violations > 0 and counts["adamomentum"].first_violation_step > 9
    assert counts["adamomentum-max"].holds and counts["amsgrad"].holds


def test_grouped_monitor_equals_separate_monitors():
    torch.manual_seed(1)
    T, G, runs, d = 20, 3, 4, 2
    steps = torch.rand(T, G, runs, d)
    v = torch.rand(T, G, runs, d) + 0.1
    gn = torch.rand(T, G, runs) * 2
    grouped = Theorem2Monitor(H=1.5, c=[0.2, 0.3, 0.5])
    single = [Theorem2Monitor(H=1.5, c=c) for c in (0.2, 0.3, 0.5)]
    for t in range(T):
        grouped.update(t + 1, steps[t], v[t], gn[t], gn[t], gn[t], [0.9, 0.9, 0.8 + 0.01 * t])
        for g in range(G):
            single[g].update(t + 1, steps[t, g], v[t, g], gn[t, g], gn[t, g], gn[t, g], 0.8 + 0.01 * t if g == 2 else 0.9)
    for g in range(G):
        a = [r.as_dict() for r in grouped.results(g)]
        b = [r.as_dict() for r in single[g].results()]
        assert a == b
    assert not grouped.results(2)[-1].holds  # b1_t rising in group 2


def test_defossez_bound_by_hand_and_tau_weights():
    N, a, b1, b2, eps, R, L, d, gap = 100, 0.01, 0.5, 0.9, 1e-8, 2.0, 3.0, 4, 5.0
    k = 1 - b1 / b2
    E = (a * d * R * L * (1 - b1) / (k * (1 - b2)) + 12 * d * R**2 * math.sqrt(1 - b1) / (k**1.5 * math.sqrt(1 - b2))
         + 2 * a**2 * d * L**2 * b1 / (k * (1 - b2) ** 1.5))
    n_tilde = N - 1.0
    want = 2 * R * gap / (a * n_tilde) + E / n_tilde * (math.log(1 + R**2 / ((1 - b2) * eps)) - N * math.log(b2))
    assert defossez_adam_bound(N, a, b1, b2, eps, R, L, d, gap) == pytest.approx(want, rel=1e-12)
    w = defossez_tau_weights(N, b1)
    assert w.sum() == pytest.approx(1.0, rel=1e-12) and w[-1] < w[0]
    assert defossez_tau_weights(5, 0.0) == pytest.approx([0.2] * 5)
    with pytest.raises(ValueError):
        defossez_adam_bound(N, a, 0.95, 0.9, eps, R, L, d, gap)
