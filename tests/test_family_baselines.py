"""The paper's Tables 2-7 baselines (yogi, adabound, radam) against implementations nobody here wrote.

Each member is driven step for step with ``pytorch_optimizer.Yogi`` / ``AdaBound`` / ``RAdam``
(kozistr's pytorch-optimizer) and ``torch.optim.RAdam`` on the same float64 gradients, and with
the float64 reference loop of :mod:`theory.reference`; everything agrees to 1e-12 relative.
Where a convention differs, the test configures the other class (or our member) so that both
compute the same method, and says so:

* Yogi: pytorch-optimizer (like jettify's code the paper forked) starts ``exp_avg`` at
  ``initial_accumulator`` as well as ``exp_avg_sq``; Algorithm 2 of Zaheer et al. and
  tensorflow-addons start m at 0, and so does our member. The test seeds the class's state with
  exp_avg = 0, exp_avg_sq = initial_accumulator before the first step (and, separately, runs the
  untouched class with initial_accumulator = 0, where both conventions coincide). Its eps
  placement, sqrt(v) / sqrt(1 - b2^t) + eps, is our member's; its default decoupled weight decay
  is set to our mode (``weight_decouple``).
* AdaBound: pytorch-optimizer adds 1e-15 to v under the square root (``exp_avg_sq_eps`` of
  ``apply_ams_bound``, not a constructor option); the ``adabound`` package and our member do not,
  so the test uses a subclass with that constant set to 0. Its bounds scale with
  group lr / base lr, our member's with the schedule a_t / lr: the test sets the group lr to a_t
  every step, which checks that the two agree under ``lr_decay="inverse-sqrt"``.
* RAdam: pytorch-optimizer's default ``degenerated_to_sgd=False`` skips the update while
  rho_t < 5; the RAdam paper's Algorithm 2, torch.optim.RAdam and our member take an
  SGD-with-momentum step a_t mhat there, so the test passes ``degenerated_to_sgd=True``.
  pytorch-optimizer and Liu et al. rectify at rho_t >= threshold, torch and our member at
  rho_t > threshold: an example where some rho_t equals the threshold exactly is excluded by
  ``assume`` (the methods differ only there). pytorch-optimizer
  4.1.0 passes ``grad=None`` to its weight decay, so coupled (L2) decay is silently dropped; it
  is compared in the decoupled mode only. torch.optim.RAdam hard-codes threshold 5 and is
  compared in both weight-decay modes.
"""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from theory.family import (REGISTRY, Hyper, adabound_bounds, denominator, effective_stepsize, init_state,
                           rectification, step_)

from strategies import gradient_runs, hypers
from test_family import assert_rel_close, run_batched, run_reference

pytorch_optimizer = pytest.importorskip("pytorch_optimizer")  # the `test` extra pins >= 3.0
from pytorch_optimizer.base.optimizer import BaseOptimizer  # noqa: E402

NEW_MEMBERS = ("yogi", "adabound", "radam")
new_members = st.sampled_from(NEW_MEMBERS)


class AdaBoundWithoutInnerEps(pytorch_optimizer.AdaBound):
    """pytorch-optimizer's AdaBound with sqrt(v) + eps, as the ``adabound`` package (no 1e-15 in v)."""

    @staticmethod
    def apply_ams_bound(ams_bound, exp_avg_sq, max_exp_avg_sq, eps, exp_avg_sq_eps=0.0):
        return BaseOptimizer.apply_ams_bound(ams_bound, exp_avg_sq, max_exp_avg_sq, eps, exp_avg_sq_eps=0.0)

    @staticmethod
    def apply_ams_bound_foreach(ams_bound, exp_avg_sqs, max_exp_avg_sqs, eps, exp_avg_sq_eps=0.0):
        return BaseOptimizer.apply_ams_bound_foreach(ams_bound, exp_avg_sqs, max_exp_avg_sqs, eps, exp_avg_sq_eps=0.0)


def decoupled_mode(name, hyper):
    return REGISTRY[name].decoupled_weight_decay if hyper.decoupled_weight_decay is None \
        else hyper.decoupled_weight_decay


def drive(opt, p, grads, hyper, moment_keys=("exp_avg", "exp_avg_sq")):
    """Step ``opt`` on ``p`` with the gradients, the group lr set to a_t; the path and final moments."""
    path = [p.detach().clone()]
    for t, g in enumerate(grads, start=1):
        for group in opt.param_groups:
            group["lr"] = hyper.lr_at(t)
        p.grad = g.clone()
        opt.step()
        path.append(p.detach().clone())
    return torch.stack(path), [opt.state[p][k] for k in moment_keys]


def assert_agree(name, grads, theta0, hyper, their_path, their_moments):
    """Their path equals our batched step's and the reference loop's; their moments our m and v."""
    ours, state = run_batched(name, grads, theta0, hyper)
    ref, _ = run_reference(name, grads, theta0, hyper)
    assert_rel_close(their_path, ours)
    assert_rel_close(their_path, ref)
    assert_rel_close(their_moments[0], state.m)
    assert_rel_close(their_moments[1], state.v)


def rho(beta2, t):
    rho_inf = 2 / (1 - beta2) - 1
    return rho_inf - 2 * t * beta2**t / (1 - beta2**t)


def threshold_never_hit(hyper, steps):
    return all(rho(hyper.beta2, t) != hyper.rectify_threshold for t in range(1, steps + 1))


# ------------------------------------------------------------------ the reference loops


@given(name=new_members, data=gradient_runs(max_steps=12), hyper=hypers())
def test_new_members_batched_equal_reference_loop(name, data, hyper):
    """The batched step and the longhand float64 loops (written from the released code) agree."""
    grads, theta0 = data
    batched, state = run_batched(name, grads, theta0, hyper)
    expected, ref_states = run_reference(name, grads, theta0, hyper)
    assert_rel_close(batched, expected)
    assert_rel_close(state.m, torch.tensor([s["m"] for s in ref_states]))
    assert_rel_close(state.v, torch.tensor([s["v"] for s in ref_states]))


# ------------------------------------------------------------------ third-party implementations


@given(data=gradient_runs(max_steps=12), hyper=hypers(allow_schedules=False),
       lr_decay=st.sampled_from(["constant", "inverse-sqrt"]), foreach=st.booleans())
def test_yogi_equals_pytorch_optimizer_with_m_started_at_zero(data, hyper, lr_decay, foreach):
    grads, theta0 = data
    hyper = hyper.with_(lr_decay=lr_decay)
    v0 = hyper.initial_accumulator
    p = torch.nn.Parameter(theta0.clone())
    opt = pytorch_optimizer.Yogi([p], lr=hyper.lr, betas=(hyper.beta1, hyper.beta2), eps=hyper.eps,
                                 initial_accumulator=v0, weight_decay=hyper.weight_decay,
                                 weight_decouple=decoupled_mode("yogi", hyper), fixed_decay=False, foreach=foreach)
    # Their init_group fills both moments with v0 when the state is empty; m_0 = 0 is Algorithm 2's.
    opt.state[p]["exp_avg"] = torch.zeros_like(p)
    opt.state[p]["exp_avg_sq"] = torch.full_like(p, v0)
    path, moments = drive(opt, p, grads, hyper)
    assert_agree("yogi", grads, theta0, hyper, path, moments)


@given(data=gradient_runs(max_steps=12), hyper=hypers(allow_schedules=False), foreach=st.booleans())
def test_yogi_equals_untouched_pytorch_optimizer_when_the_accumulator_starts_at_zero(data, hyper, foreach):
    grads, theta0 = data
    hyper = hyper.with_(initial_accumulator=0.0)
    p = torch.nn.Parameter(theta0.clone())
    opt = pytorch_optimizer.Yogi([p], lr=hyper.lr, betas=(hyper.beta1, hyper.beta2), eps=hyper.eps,
                                 initial_accumulator=0.0, weight_decay=hyper.weight_decay,
                                 weight_decouple=decoupled_mode("yogi", hyper), foreach=foreach)
    path, moments = drive(opt, p, grads, hyper)
    assert_agree("yogi", grads, theta0, hyper, path, moments)


@given(data=gradient_runs(max_steps=12), hyper=hypers(allow_schedules=False),
       lr_decay=st.sampled_from(["constant", "inverse-sqrt"]), foreach=st.booleans())
def test_adabound_equals_pytorch_optimizer_without_its_inner_eps(data, hyper, lr_decay, foreach):
    grads, theta0 = data
    hyper = hyper.with_(lr_decay=lr_decay)
    p = torch.nn.Parameter(theta0.clone())
    opt = AdaBoundWithoutInnerEps([p], lr=hyper.lr, final_lr=hyper.final_lr, betas=(hyper.beta1, hyper.beta2),
                                  gamma=hyper.gamma, weight_decay=hyper.weight_decay,
                                  weight_decouple=decoupled_mode("adabound", hyper), fixed_decay=False,
                                  ams_bound=False, eps=hyper.eps, foreach=foreach)
    path, moments = drive(opt, p, grads, hyper)
    assert_agree("adabound", grads, theta0, hyper, path, moments)


def test_adabound_clip_binds_in_the_compared_examples():
    """The comparison above is not vacuous: on such data the clip binds on both sides."""
    gen = torch.Generator().manual_seed(3)
    grads = torch.randn(10, 2, 50, generator=gen) * torch.logspace(-3, 1, 50)
    hyper = Hyper(lr=0.01, final_lr=0.1, gamma=0.1)
    theta = torch.zeros(2, 50)
    state = init_state("adabound", theta, hyper)
    lower_hits = upper_hits = 0
    for t, g in enumerate(grads, start=1):
        step_("adabound", state, theta, g, hyper)
        eta = effective_stepsize("adabound", state, hyper)
        lower, upper = adabound_bounds(hyper, t)
        lower_hits += int((eta == lower).sum())
        upper_hits += int((eta == upper).sum())
    assert lower_hits > 0 and upper_hits > 0


@given(data=gradient_runs(max_steps=12), hyper=hypers(allow_schedules=False),
       lr_decay=st.sampled_from(["constant", "inverse-sqrt"]), foreach=st.booleans())
def test_radam_equals_pytorch_optimizer_degenerated_to_sgd(data, hyper, lr_decay, foreach):
    grads, theta0 = data
    hyper = hyper.with_(lr_decay=lr_decay, decoupled_weight_decay=True)  # their coupled decay is a no-op
    assume(threshold_never_hit(hyper, len(grads)))
    p = torch.nn.Parameter(theta0.clone())
    opt = pytorch_optimizer.RAdam([p], lr=hyper.lr, betas=(hyper.beta1, hyper.beta2),
                                  weight_decay=hyper.weight_decay, weight_decouple=True, fixed_decay=False,
                                  n_sma_threshold=hyper.rectify_threshold, degenerated_to_sgd=True, eps=hyper.eps,
                                  foreach=foreach)
    path, moments = drive(opt, p, grads, hyper)
    assert_agree("radam", grads, theta0, hyper, path, moments)


@given(data=gradient_runs(max_steps=12), hyper=hypers(allow_schedules=False),
       lr_decay=st.sampled_from(["constant", "inverse-sqrt"]), foreach=st.booleans())
def test_radam_equals_torch_optim_radam_in_both_weight_decay_modes(data, hyper, lr_decay, foreach):
    grads, theta0 = data
    hyper = hyper.with_(lr_decay=lr_decay, rectify_threshold=5.0)  # torch hard-codes rho_t > 5
    p = torch.nn.Parameter(theta0.clone())
    opt = torch.optim.RAdam([p], lr=hyper.lr, betas=(hyper.beta1, hyper.beta2), eps=hyper.eps,
                            weight_decay=hyper.weight_decay, decoupled_weight_decay=decoupled_mode("radam", hyper),
                            foreach=foreach)
    path, moments = drive(opt, p, grads, hyper)
    assert_agree("radam", grads, theta0, hyper, path, moments)


def test_the_third_party_comparisons_reach_the_rectified_phase():
    """Steps 1-5 are SGD with momentum and steps >= 6 rectified for b2 in {0.9, 0.99, 0.999}
    (threshold 5); threshold 4 rectifies from step 5. The comparisons run up to 12 steps."""
    for b2 in (0.9, 0.99, 0.999):
        assert [t for t in range(1, 13) if rectification(Hyper(beta2=b2), t)[1]] == list(range(6, 13))
        assert rectification(Hyper(beta2=b2, rectify_threshold=4.0), 5)[1]


# ------------------------------------------------------------------ the read-outs of the new members


@given(name=new_members, data=gradient_runs(max_steps=12), hyper=hypers())
def test_effective_stepsize_and_denominator_reproduce_the_update(name, data, hyper):
    """update = effective_stepsize * m = a_t mhat / denominator. Bit for bit for adabound and radam
    (step_ moves by exactly effective_stepsize * m); yogi takes eq. (2)'s a_t mhat / denom path."""
    grads, theta0 = data
    hyper = hyper.with_(weight_decay=0.0)
    theta = theta0.clone()
    state = init_state(name, theta, hyper)
    for t, g in enumerate(grads, start=1):
        prev = theta.clone()
        step_(name, state, theta, g.clone(), hyper)
        by_stepsize = prev - effective_stepsize(name, state, hyper) * state.m
        if name == "yogi":
            assert_rel_close(theta, by_stepsize)
        else:
            assert torch.equal(theta, by_stepsize)
        bc1 = 1 - hyper.beta1**t if hyper.bias_correction else 1.0
        assert_rel_close(hyper.lr_at(t) * (state.m / bc1) / denominator(name, state, hyper), prev - theta)


@given(data=gradient_runs(max_steps=12), hyper=hypers())
def test_radam_is_sgd_with_momentum_until_rectified(data, hyper):
    """Un-rectified: effective_stepsize = a_t / (1 - b1^t) in every coordinate and denominator = 1;
    rectified: effective_stepsize = a_t r_t sqrt(1 - b2^t) / ((1 - b1^t)(sqrt(v) + eps))."""
    grads, theta0 = data
    theta = theta0.clone()
    state = init_state("radam", theta, hyper)
    for t, g in enumerate(grads, start=1):
        step_("radam", state, theta, g.clone(), hyper)
        bc1 = 1 - hyper.beta1**t if hyper.bias_correction else 1.0
        bc2 = 1 - hyper.beta2**t if hyper.bias_correction else 1.0
        r, rectified = rectification(hyper, t)
        eta = effective_stepsize("radam", state, hyper)
        if rectified:
            expected = hyper.lr_at(t) * r * math.sqrt(bc2) / (bc1 * (state.v.sqrt() + hyper.eps))
            assert_rel_close(eta, expected)
        else:
            assert torch.equal(eta, torch.full_like(theta, hyper.lr_at(t) / bc1))
            assert torch.equal(denominator("radam", state, hyper), torch.ones_like(theta))


@given(data=gradient_runs(max_steps=12), hyper=hypers())
def test_adabound_stepsize_lies_within_its_bounds(data, hyper):
    grads, theta0 = data
    theta = theta0.clone()
    state = init_state("adabound", theta, hyper)
    for t, g in enumerate(grads, start=1):
        step_("adabound", state, theta, g.clone(), hyper)
        lower, upper = adabound_bounds(hyper, t)
        eta = effective_stepsize("adabound", state, hyper)
        assert torch.all((lower <= eta) & (eta <= upper))


@pytest.mark.parametrize("final_lr,gamma,steps", [(0.1, 0.5, 400), (0.01, 0.1, 600)])
def test_adabound_becomes_sgd_with_final_lr(final_lr, gamma, steps):
    """Both bounds tend to final_lr: after T steps every coordinate's stepsize is within
    final_lr / (gamma T) of final_lr, for gradients over six decades whose Adam stepsizes
    (lr / |g| ~ 1e-6 .. 1) straddle final_lr (AdaBound's "smooth transition to SGD")."""
    gen = torch.Generator().manual_seed(0)
    hyper = Hyper(lr=1e-3, final_lr=final_lr, gamma=gamma)
    theta = torch.zeros(1, 8)
    state = init_state("adabound", theta, hyper)
    for _ in range(steps):
        step_("adabound", state, theta, torch.randn(1, 8, generator=gen) * torch.logspace(-3, 3, 8), hyper)
    eta = effective_stepsize("adabound", state, hyper)
    assert torch.all((eta - final_lr).abs() <= final_lr / (gamma * steps) * (1 + 1e-12))


@given(data=gradient_runs(max_steps=15), hyper=hypers())
def test_yogi_second_moment_moves_additively_towards_g_squared(data, hyper):
    """Yogi's rule: v_t - v_{t-1} = (1 - b2) g^2 sign(g^2 - v_{t-1}) exactly (float64), where
    Adam's EMA moves by (1 - b2)(g^2 - v_{t-1}); from v_0 = initial_accumulator."""
    grads, theta0 = data
    hyper = hyper.with_(weight_decay=0.0)
    theta = theta0.clone()
    state = init_state("yogi", theta, hyper)
    assert torch.equal(state.v, torch.full_like(theta, hyper.initial_accumulator)) and not state.m.any()
    for g in grads:
        prev = state.v.clone()
        step_("yogi", state, theta, g.clone(), hyper)
        g2 = g * g
        assert torch.equal(state.v, prev - torch.sign(prev - g2) * g2 * (1 - hyper.beta2))
        assert torch.all(torch.sign(state.v - prev) == torch.sign(g2 - prev))


@given(name=new_members, data=gradient_runs(max_runs=4), hyper=hypers())
def test_per_run_tensors_of_the_new_hyperparameters_equal_separate_runs(name, data, hyper):
    """(runs, 1) tensors of beta2 (RAdam's rectification per run), final_lr and gamma (AdaBound's
    bounds) and initial_accumulator (Yogi's v_0) run each configuration as if alone."""
    grads, theta0 = data
    runs = theta0.shape[0]
    column = (lambda lo, hi: torch.linspace(lo, hi, runs).unsqueeze(1))
    per_run = dict(beta2=column(0.9, 0.999), final_lr=column(0.01, 1.0), gamma=column(1e-3, 0.5),
                   initial_accumulator=column(0.0, 1e-2))
    batched, _ = run_batched(name, grads, theta0, hyper.with_(**per_run))
    for r in range(runs):
        alone_hyper = hyper.with_(**{k: float(v[r, 0]) for k, v in per_run.items()})
        alone, _ = run_batched(name, grads[:, r : r + 1], theta0[r : r + 1], alone_hyper)
        assert_rel_close(batched[:, r : r + 1], alone)



def _scaled_paths(name, hyper, scale=8.0):
    gen = torch.Generator().manual_seed(5)
    grads = torch.randn(12, 3, 4, generator=gen)
    theta0 = torch.randn(3, 4, generator=gen)
    base, _ = run_batched(name, grads, theta0, hyper)
    scaled, _ = run_batched(name, grads * scale, theta0, hyper)  # x8: the scaling itself is exact
    return base, scaled


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_scale_invariant_flag_says_whether_gradient_scaling_leaves_the_iterates(name):
    """``Member.scale_invariant`` is true exactly where x8 gradients at eps = 0 give the same path:
    AdaBound's absolute bounds, RAdam's SGD phase and Yogi's v_0 > 0 break it (so does SGDM)."""
    hyper = Hyper(lr=1e-2, beta1=0.9, beta2=0.99, eps=0.0, gamma=0.5)  # gamma 0.5: AdaBound's clip binds
    base, scaled = _scaled_paths(name, hyper)
    if REGISTRY[name].scale_invariant:
        assert_rel_close(scaled, base)
    else:
        assert (scaled - base).abs().max() > 1e-6 * base.abs().max()


def test_yogi_is_scale_invariant_when_its_accumulator_starts_at_zero():
    hyper = Hyper(lr=1e-2, beta1=0.9, beta2=0.99, eps=0.0, initial_accumulator=0.0)
    base, scaled = _scaled_paths("yogi", hyper)
    assert_rel_close(scaled, base)
