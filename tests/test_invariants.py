"""Invariants of the update rules that the paper's proofs use (float64, hypothesis)."""
from __future__ import annotations

import math

import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from theory.family import REGISTRY, Hyper, effective_stepsize, init_state, step_

from strategies import gradient_runs, hypers, member_names

ADAPTIVE = sorted(n for n, m in REGISTRY.items() if m.adaptive)
betas = st.floats(0.0, 0.99)
beta2s = st.floats(0.5, 0.9999)


def iterate(name, grads, theta0, hyper):
    """Yield (t, theta, state) after each step."""
    theta = theta0.clone()
    state = init_state(name, theta)
    for t, g in enumerate(grads, start=1):
        step_(name, state, theta, g.clone(), hyper)
        yield t, theta, state


@given(name=st.sampled_from(ADAPTIVE), data=gradient_runs(max_steps=15), hyper=hypers())
def test_second_moment_is_nonnegative(name, data, hyper):
    """v_t >= 0 for every adaptive member (Algorithm 1 line 6: a sum of non-negative terms; Yogi's
    v - (1 - b2) sign(v - g^2) g^2 too: it is v + (1 - b2) g^2 if v < g^2, else >= v - g^2 >= 0)."""
    # AdaBelief with eps = 0 divides 0 / 0 whenever g_t = m_t (the non-case the other tests exclude).
    assume(not (name == "adabelief" and hyper.eps == 0.0))
    for _, _, state in iterate(name, *data, hyper):
        assert torch.all(state.v >= 0)


@given(data=gradient_runs(max_steps=20), b1=betas, b2=beta2s, G=st.floats(0.1, 10.0))
def test_momentum_and_v_bounded_by_G_without_eps(data, b1, b2, G):
    """|g| <= G and eps = 0 give m_t^2 <= G^2 and v_t <= G^2 (the induction in the proof of
    Corollary 1, Appendix C.1): both are convex combinations of quantities bounded by G^2."""
    grads, theta0 = data
    grads = grads.clamp(-1, 1) * G  # |g| <= G
    hyper = Hyper(lr=0.01, beta1=b1, beta2=b2, eps=0.0)
    for _, _, state in iterate("adamomentum", grads, theta0, hyper):
        assert torch.all(state.m**2 <= G**2 * (1 + 1e-12))
        assert torch.all(state.v <= G**2 * (1 + 1e-12))


@given(data=gradient_runs(max_steps=20), b1=betas, b2=beta2s, G=st.floats(0.1, 10.0),
       eps=st.sampled_from([1e-16, 1e-8, 1e-3, 0.5]))
def test_v_bound_with_eps_grows_by_the_accumulated_eps(data, b1, b2, G, eps):
    """With eps > 0 the induction of Corollary 1's proof gives
    v_t <= (1 - b2^t) (G^2 + eps / (1 - b2)) (< G^2 + eps / (1 - b2)), not v_t <= G^2: the proof's
    step needs that extra term (Section 3.1's accumulated eps). The next test shows the bound is
    attained, so it cannot be tightened."""
    grads, theta0 = data
    grads = grads.clamp(-1, 1) * G
    hyper = Hyper(lr=0.01, beta1=b1, beta2=b2, eps=eps)
    for t, _, state in iterate("adamomentum", grads, theta0, hyper):
        bound = (1 - b2**t) * (G**2 + eps / (1 - b2))
        assert torch.all(state.v <= bound * (1 + 1e-12))


@given(G=st.floats(0.1, 10.0), b2=beta2s, eps=st.sampled_from([1e-8, 1e-3]), steps=st.integers(1, 30))
def test_v_bound_with_eps_is_attained(G, b2, eps, steps):
    """b1 = 0 and constant |g| = G give |m| = G, so v_t equals G^2 (1 - b2^t) + eps (1 - b2^t)/(1 - b2)."""
    grads = torch.full((steps, 1, 1), G)
    hyper = Hyper(lr=0.01, beta1=0.0, beta2=b2, eps=eps)
    for t, _, state in iterate("adamomentum", grads, torch.zeros(1, 1), hyper):
        exact = (G**2 + eps / (1 - b2)) * (1 - b2**t)
        assert math.isclose(float(state.v), exact, rel_tol=1e-12)


@given(name=st.sampled_from(["adamomentum", "adamomentum-max"]), data=gradient_runs(max_steps=20), hyper=hypers())
def test_per_coordinate_step_bound(name, data, hyper):
    """v_t >= (1 - b2) m_t^2 (line 6: the newest term of the EMA) bounds every coordinate's step:
    |theta_t - theta_{t-1}| <= a_t sqrt(bc2) / (bc1 sqrt(1 - b2)), bc = 1 - beta^t (bc = 1 without
    bias correction). Holds for any gradients and betas (Adam's analogous bound
    a (1 - b1) / sqrt(1 - b2), Kingma & Ba Sec. 2.1, needs (1 - b1) <= sqrt(1 - b2)). Weight decay
    is off: decoupled decay moves theta outside this bound. The max member only has a larger v."""
    grads, theta0 = data
    hyper = hyper.with_(weight_decay=0.0)
    assume(hyper.beta2 < 1)
    prev = theta0.clone()
    for t, theta, state in iterate(name, grads, theta0, hyper):
        a_t = hyper.lr_at(t)
        bc1 = 1 - hyper.beta1**t if hyper.bias_correction else 1.0
        bc2 = 1 - hyper.beta2**t if hyper.bias_correction else 1.0
        if bc1 == 0:
            continue
        bound = a_t * math.sqrt(bc2) / (bc1 * math.sqrt(1 - hyper.beta2))
        assert torch.all((theta - prev).abs() <= bound * (1 + 1e-10))
        prev = theta.clone()


@given(data=gradient_runs(max_steps=12), hyper=hypers(), scale=st.floats(1e-3, 1e3))
def test_adamomentum_step_is_invariant_to_gradient_rescaling_when_eps_is_zero(data, hyper, scale):
    """With eps = 0, m scales by c and v by c^2, so m / sqrt(v) and the iterates do not change
    (the usual scale-invariance of Adam-type methods; eps > 0 breaks it)."""
    grads, theta0 = data
    hyper = hyper.with_(eps=0.0, weight_decay=0.0)
    a = [th.clone() for _, th, _ in iterate("adamomentum", grads, theta0, hyper)]
    b = [th.clone() for _, th, _ in iterate("adamomentum", grads * scale, theta0, hyper)]
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-12 * max(1.0, float(x.abs().max())))


@given(data=gradient_runs(max_steps=12), b2=beta2s, eps=st.sampled_from([0.0, 1e-8, 1e-3]), lr=st.floats(1e-3, 1.0))
def test_adamomentum_with_beta1_zero_is_rmsprop_with_eps_inside(data, b2, eps, lr):
    """b1 = 0 makes m_t = g_t: AdaMomentum becomes RMSprop with eps inside the EMA and v's
    bias correction: v = b2 v + (1 - b2) g^2 + eps, theta -= lr g / sqrt(v / (1 - b2^t))."""
    grads, theta0 = data
    hyper = Hyper(lr=lr, beta1=0.0, beta2=b2, eps=eps)
    v = torch.zeros_like(theta0)
    expected = theta0.clone()
    for t, theta, _ in iterate("adamomentum", grads, theta0, hyper):
        g = grads[t - 1]
        v = b2 * v + (1 - b2) * g * g + eps
        expected = expected - lr * g / torch.sqrt(v / (1 - b2**t))
        torch.testing.assert_close(theta, expected, rtol=1e-12, atol=1e-12)


@given(g=st.floats(1e-4, 1e4), b1=betas, b2=beta2s, eps=st.sampled_from([0.0, 1e-16, 1e-8]), lr=st.floats(1e-4, 1.0))
def test_first_step_closed_form(g, b1, b2, eps, lr):
    """At t = 1: step = lr g / sqrt((1 - b1)^2 g^2 + eps / (1 - b2)), about lr / (1 - b1), ten times
    Adam's first step (lr) for b1 = 0.9 (REFERENCES.md)."""
    theta = torch.zeros(1, 1)
    state = init_state("adamomentum", theta)
    step_("adamomentum", state, theta, torch.tensor([[g]]), Hyper(lr=lr, beta1=b1, beta2=b2, eps=eps))
    expected = -lr * g / math.sqrt((1 - b1) ** 2 * g**2 + eps / (1 - b2))
    assert math.isclose(float(theta), expected, rel_tol=1e-12)


@given(b2=beta2s, eps=st.sampled_from([1e-16, 1e-8, 1e-3]), steps=st.integers(1, 50))
def test_eps_accumulates_in_v_closed_form(b2, eps, steps):
    """Zero gradients: v_t = eps (1 - b2^t) / (1 - b2) exactly, so vhat_t = eps / (1 - b2) for all t
    (Section 3.1's vhat = vhat' + eps / (1 - b2), with vhat' = 0)."""
    grads = torch.zeros(steps, 1, 1)
    for t, _, state in iterate("adamomentum", grads, torch.zeros(1, 1), Hyper(beta2=b2, eps=eps)):
        assert math.isclose(float(state.v), eps * (1 - b2**t) / (1 - b2), rel_tol=1e-12)


@given(name=st.sampled_from(["amsgrad", "adamomentum-max"]), data=gradient_runs(max_steps=15), hyper=hypers())
def test_max_members_have_nondecreasing_second_moment(name, data, hyper):
    """The running max makes v_t <= v_{t+1} per coordinate: Theorem 1's hypothesis holds by
    construction for adamomentum-max (and AMSGrad), which plain AdaMomentum does not guarantee."""
    prev = None
    for _, _, state in iterate(name, *data, hyper):
        if prev is not None:
            assert torch.all(state.v_max >= prev)
        prev = state.v_max.clone()


def test_plain_adamomentum_second_moment_can_decrease():
    """The counterpart: plain AdaMomentum's v is not monotone (a large then small gradients)."""
    grads = torch.tensor([10.0] + [0.01] * 200).reshape(-1, 1, 1)
    vs = [float(s.v) for _, _, s in iterate("adamomentum", grads, torch.zeros(1, 1), Hyper(eps=0.0))]
    assert max(vs) > vs[-1]


@given(name=member_names, data=gradient_runs(max_steps=10), hyper=hypers())
def test_negating_gradients_negates_the_path_from_the_origin(name, data, hyper):
    """Odd symmetry: from theta_0 = 0, gradients -g give the path -theta (every member is odd in g)."""
    assume(not (name == "adabelief" and hyper.eps == 0.0))
    grads, theta0 = data
    zero = torch.zeros_like(theta0)
    a = [th.clone() for _, th, _ in iterate(name, grads, zero, hyper)]
    b = [th.clone() for _, th, _ in iterate(name, -grads, zero, hyper)]
    for x, y in zip(a, b):
        torch.testing.assert_close(x, -y, rtol=1e-12, atol=1e-300)


@given(name=member_names, data=gradient_runs(max_steps=8, max_dim=5), hyper=hypers())
def test_coordinates_are_updated_independently(name, data, hyper):
    """Every member is coordinate-wise: permuting coordinates permutes the path."""
    assume(not (name == "adabelief" and hyper.eps == 0.0))
    grads, theta0 = data
    perm = torch.randperm(theta0.shape[1], generator=torch.Generator().manual_seed(0))
    a = [th.clone() for _, th, _ in iterate(name, grads, theta0, hyper)]
    b = [th.clone() for _, th, _ in iterate(name, grads[..., perm], theta0[:, perm], hyper)]
    for x, y in zip(a, b):
        torch.testing.assert_close(x[:, perm], y, rtol=0, atol=0)


@given(data=gradient_runs(max_steps=10), hyper=hypers())
def test_effective_stepsize_times_momentum_is_the_update(data, hyper):
    """effective_stepsize (Section 3.1's "actual stepsize") times m_t reproduces the update."""
    hyper = hyper.with_(weight_decay=0.0)
    grads, theta0 = data
    prev = theta0.clone()
    for _, theta, state in iterate("adamomentum", grads, theta0, hyper):
        torch.testing.assert_close(prev - effective_stepsize("adamomentum", state, hyper) * state.m, theta,
                                   rtol=1e-12, atol=1e-12)
        prev = theta.clone()
