"""theory.AdaMomentum against the family and the torch.optim conventions."""
from __future__ import annotations

import io
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from theory import AdaMomentum
from theory.family import Hyper, init_state, step_
from theory.optim import DEFAULT_EPS

from strategies import gradient_runs, hypers


def run_optimizer(grads, theta0, hyper, amsgrad=False, foreach=False, maximize=False):
    p = torch.nn.Parameter(theta0.clone())
    opt = AdaMomentum([p], lr=hyper.lr, betas=(hyper.beta1, hyper.beta2), eps=hyper.eps,
                      weight_decay=hyper.weight_decay, decoupled_weight_decay=bool(hyper.decoupled_weight_decay),
                      amsgrad=amsgrad, foreach=foreach, maximize=maximize)
    path = []
    for g in grads:
        p.grad = -g.clone() if maximize else g.clone()
        opt.step()
        path.append(p.detach().clone())
    return torch.stack(path), opt, p


@given(data=gradient_runs(), hyper=hypers(allow_schedules=False), amsgrad=st.booleans(), foreach=st.booleans(),
       maximize=st.booleans())
def test_optimizer_equals_family_member(data, hyper, amsgrad, foreach, maximize):
    """The torch optimizer, the batched family and (through test_family) the reference loop agree."""
    grads, theta0 = data
    name = "adamomentum-max" if amsgrad else "adamomentum"
    path, opt, p = run_optimizer(grads, theta0, hyper, amsgrad, foreach, maximize)
    theta = theta0.clone()
    state = init_state(name, theta)
    for t, g in enumerate(grads):
        step_(name, state, theta, g.clone(), hyper.with_(decoupled_weight_decay=bool(hyper.decoupled_weight_decay)))
        scale = max(1.0, float(theta.abs().max()))
        torch.testing.assert_close(path[t], theta, rtol=1e-12, atol=1e-12 * scale)
    torch.testing.assert_close(opt.state[p]["exp_avg"], state.m, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(opt.state[p]["exp_avg_sq"], state.v, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("weight_decay,decoupled", [(0.0, False), (0.1, False), (0.1, True)])
def test_foreach_equals_single_tensor(amsgrad, weight_decay, decoupled):
    """As torch's OptimizerInfo tests: 7 float64 steps, several params of several shapes, every
    state tensor compared."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(3,), (2, 4), (5, 1, 2)]
    inits = [torch.randn(s, generator=gen) for s in shapes]
    grads = [[torch.randn(s, generator=gen) for s in shapes] for _ in range(7)]
    results = []
    for foreach in (False, True):
        params = [torch.nn.Parameter(x.clone()) for x in inits]
        opt = AdaMomentum(params, lr=0.05, eps=1e-8, weight_decay=weight_decay,
                          decoupled_weight_decay=decoupled, amsgrad=amsgrad, foreach=foreach)
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = g.clone()
            opt.step()
        results.append((params, opt))
    (p1, o1), (p2, o2) = results
    for a, b in zip(p1, p2):
        torch.testing.assert_close(a, b, rtol=1e-14, atol=0)
        for key in o1.state[a]:
            torch.testing.assert_close(o1.state[a][key], o2.state[b][key], rtol=1e-14, atol=0)


@pytest.mark.parametrize(
    "kwargs,needle",
    [({"lr": -1e-3}, "lr"), ({"betas": (1.0, 0.999)}, "beta1"), ({"betas": (0.9, 1.5)}, "beta2"),
     ({"betas": (-0.1, 0.999)}, "beta1"), ({"eps": -1.0}, "eps"), ({"weight_decay": -0.1}, "weight_decay")],
)
def test_invalid_hyperparameters_raise_value_error_naming_the_parameter(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        AdaMomentum([torch.nn.Parameter(torch.zeros(2))], **kwargs)


def test_sparse_gradients_are_rejected():
    emb = torch.nn.Embedding(10, 3, sparse=True)
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse"):
        AdaMomentum(emb.parameters()).step()


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_state_dict_round_trip_through_torch_save_continues_bit_identically(foreach, amsgrad, tmp_path):
    gen = torch.Generator().manual_seed(1)
    model = torch.nn.Linear(4, 3)
    x, y = torch.randn(16, 4, generator=gen), torch.randn(16, 3, generator=gen)

    def train(model, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            opt.step()

    opt = AdaMomentum(model.parameters(), lr=0.01, eps=1e-8, amsgrad=amsgrad, foreach=foreach, weight_decay=0.01)
    train(model, opt, 3)
    path = tmp_path / "ckpt.pt"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, path)
    train(model, opt, 4)

    ckpt = torch.load(path, weights_only=True)
    clone = torch.nn.Linear(4, 3)
    clone.load_state_dict(ckpt["model"])
    opt2 = AdaMomentum(clone.parameters(), lr=0.01, eps=1e-8, amsgrad=amsgrad, foreach=foreach, weight_decay=0.01)
    opt2.load_state_dict(ckpt["opt"])
    train(clone, opt2, 4)
    for a, b in zip(model.parameters(), clone.parameters()):
        assert torch.equal(a, b)


def test_parameters_without_grad_are_skipped_and_param_groups_have_their_own_lr():
    a, b, c = (torch.nn.Parameter(torch.ones(2)) for _ in range(3))
    opt = AdaMomentum([{"params": [a, b]}, {"params": [c], "lr": 0.1}], lr=0.01)
    a.grad = torch.ones(2)
    c.grad = torch.ones(2)
    opt.step()
    assert torch.equal(b, torch.ones(2)) and b not in opt.state
    # First step is lr * g / sqrt((1-b1)^2 g^2 + eps/(1-b2)) ~ lr / (1 - b1) = 10 lr.
    torch.testing.assert_close(1 - a.detach(), torch.full((2,), 0.1), rtol=1e-9, atol=0)
    torch.testing.assert_close(1 - c.detach(), torch.full((2,), 1.0), rtol=1e-9, atol=0)


def test_closure_is_evaluated_with_grad_enabled_and_its_loss_returned():
    p = torch.nn.Parameter(torch.tensor([2.0]))
    opt = AdaMomentum([p], lr=0.1)

    def closure():
        assert torch.is_grad_enabled()
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    with torch.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 4.0 and p.item() < 2.0


def test_maximize_ascends():
    p = torch.nn.Parameter(torch.tensor([1.0]))
    opt = AdaMomentum([p], lr=0.1, maximize=True)
    p.grad = torch.tensor([1.0])
    opt.step()
    assert p.item() > 1.0


@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-12), (torch.float32, 1e-5), (torch.bfloat16, 3e-2)])
@pytest.mark.parametrize("foreach", [False, True])
def test_low_precision_parameters_follow_the_float64_path(dtype, rtol, foreach):
    """State is kept in the parameter's dtype (as torch.optim does); float32 and bfloat16 runs stay
    within their precision of the float64 family path over 10 steps (eps = 1e-8 so the eps floor is
    representable in bfloat16)."""
    gen = torch.Generator().manual_seed(2)
    theta0 = torch.randn(50, generator=gen)
    grads = torch.randn(10, 50, generator=gen)
    hyper = Hyper(lr=0.01, eps=1e-8)
    p = torch.nn.Parameter(theta0.to(dtype))
    opt = AdaMomentum([p], lr=hyper.lr, eps=hyper.eps, foreach=foreach)
    theta = theta0.clone()
    state = init_state("adamomentum", theta)
    for g in grads:
        p.grad = g.to(dtype)
        opt.step()
        step_("adamomentum", state, theta, g.clone(), hyper)
    assert p.dtype == dtype and opt.state[p]["exp_avg_sq"].dtype == dtype
    torch.testing.assert_close(p.detach().double(), theta, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("foreach", [False, True])
def test_non_finite_gradients_are_not_absorbed(bad, foreach):
    """A NaN gradient makes the parameter NaN; an inf gradient gives inf / inf = NaN. Either way the
    divergence shows in the parameters (torch.optim.Adam behaves the same), it is never masked."""
    p = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
    opt = AdaMomentum([p], lr=0.1, foreach=foreach)
    p.grad = torch.tensor([bad, 0.5])
    opt.step()
    assert math.isnan(p[0].item()) and math.isfinite(p[1].item())


def test_state_is_exactly_as_large_as_adams():
    """Two buffers per parameter (three with amsgrad) and a step counter, like torch.optim.Adam:
    the paper's "no additional memory cost"."""
    def state_bytes(opt_cls, **kw):
        p = torch.nn.Parameter(torch.zeros(1000))
        opt = opt_cls([p], **kw)
        p.grad = torch.ones(1000)
        opt.step()
        state = opt.state[p]
        return sorted(state), sum(t.numel() * t.element_size() for t in state.values())

    assert state_bytes(AdaMomentum) == state_bytes(torch.optim.Adam)
    assert state_bytes(AdaMomentum, amsgrad=True) == state_bytes(torch.optim.Adam, amsgrad=True)


def test_default_eps_is_the_released_codes():
    assert DEFAULT_EPS == 1e-16
    assert AdaMomentum([torch.nn.Parameter(torch.zeros(1))]).defaults["eps"] == 1e-16


def test_io_bytes_round_trip_weights_only():
    p = torch.nn.Parameter(torch.ones(3))
    opt = AdaMomentum([p])
    p.grad = torch.ones(3)
    opt.step()
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    assert float(loaded["state"][0]["step"]) == 1.0
