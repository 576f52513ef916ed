"""The batched family against the float64 reference loops and against torch.optim."""
from __future__ import annotations

import re

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from theory import family, reference
from theory.family import REGISTRY, Hyper, get_member, init_state, step_

from strategies import gradient_runs, hypers, member_names

RTOL = 1e-12


def run_batched(name, grads, theta0, hyper):
    theta = theta0.clone()
    state = init_state(name, theta, hyper)
    path = [theta.clone()]
    for g in grads:
        step_(name, state, theta, g.clone(), hyper)
        path.append(theta.clone())
    return torch.stack(path), state


def run_reference(name, grads, theta0, hyper):
    """The reference loop, run by run; returns (steps+1, runs, dim) and the final states."""
    member = get_member(name)
    decoupled = member.decoupled_weight_decay if hyper.decoupled_weight_decay is None else hyper.decoupled_weight_decay
    extra = {field: getattr(hyper, field) for field in reference.EXTRA_HYPERS.get(name, ())}
    paths, states = [], []
    for r in range(theta0.shape[0]):
        path, state = reference.REFERENCE[name](
            theta0[r].tolist(), [g[r].tolist() for g in grads], hyper.lr, hyper.beta1, hyper.beta2, hyper.eps,
            weight_decay=hyper.weight_decay, decoupled=decoupled, lr_decay=hyper.lr_decay,
            beta1_decay=hyper.beta1_decay, bias_correction=hyper.bias_correction, **extra,
        )
        paths.append(path)
        states.append(state)
    return torch.tensor(paths, dtype=torch.float64).transpose(0, 1), states


def assert_rel_close(actual, expected, rtol=RTOL):
    scale = max(1.0, float(expected.abs().max()))
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=rtol * scale)


@given(name=member_names, data=gradient_runs(), hyper=hypers())
def test_batched_equals_reference_loop(name, data, hyper):
    # AdaBelief with eps = 0 divides 0 / 0 whenever g_t = m_t (always when beta1 = 0): not a case.
    assume(not (name == "adabelief" and hyper.eps == 0.0))
    grads, theta0 = data
    batched, state = run_batched(name, grads, theta0, hyper)
    expected, ref_states = run_reference(name, grads, theta0, hyper)
    assert_rel_close(batched, expected)
    assert_rel_close(state.m, torch.tensor([s["m"] for s in ref_states]))
    if state.v is not None:
        assert_rel_close(state.v, torch.tensor([s["v"] for s in ref_states]))


@given(name=member_names, data=gradient_runs(max_runs=4), hyper=hypers())
def test_per_run_tensor_hyperparameters_equal_separate_runs(name, data, hyper):
    """A (runs, 1) tensor of learning rates runs each configuration as if alone."""
    assume(not (name == "adabelief" and hyper.eps == 0.0))
    grads, theta0 = data
    runs = theta0.shape[0]
    lrs = torch.linspace(0.5, 1.5, runs).unsqueeze(1) * hyper.lr
    batched, _ = run_batched(name, grads, theta0, hyper.with_(lr=lrs))
    for r in range(runs):
        alone, _ = run_batched(name, grads[:, r : r + 1], theta0[r : r + 1], hyper.with_(lr=float(lrs[r, 0])))
        assert_rel_close(batched[:, r : r + 1], alone)


def torch_optimizer(name, params, hyper):
    b1, b2 = hyper.beta1, hyper.beta2
    wd = hyper.weight_decay
    if name == "adam":
        return torch.optim.Adam(params, lr=hyper.lr, betas=(b1, b2), eps=hyper.eps, weight_decay=wd, foreach=False)
    if name == "amsgrad":
        return torch.optim.Adam(params, lr=hyper.lr, betas=(b1, b2), eps=hyper.eps, weight_decay=wd, amsgrad=True,
                                foreach=False)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=hyper.lr, betas=(b1, b2), eps=hyper.eps, weight_decay=wd, foreach=False)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=hyper.lr, alpha=b2, eps=hyper.eps, weight_decay=wd, foreach=False)
    if name == "sgdm":
        return torch.optim.SGD(params, lr=hyper.lr, momentum=b1, weight_decay=wd, foreach=False)
    raise AssertionError(name)


@given(name=st.sampled_from(["adam", "amsgrad", "adamw", "rmsprop", "sgdm"]), data=gradient_runs(),
       hyper=hypers(allow_schedules=False))
def test_members_equal_torch_optim_step_for_step(name, data, hyper):
    grads, theta0 = data
    hyper = hyper.with_(decoupled_weight_decay=None)  # each torch class has one mode
    batched, _ = run_batched(name, grads, theta0, hyper)
    p = torch.nn.Parameter(theta0.clone())
    opt = torch_optimizer(name, [p], hyper)
    for t, g in enumerate(grads, start=1):
        p.grad = g.clone()
        opt.step()
        assert_rel_close(batched[t], p.detach())


def test_registry_is_the_documented_family():
    assert list(REGISTRY) == ["sgdm", "rmsprop", "adam", "adamw", "amsgrad", "adabelief", "adamomentum",
                              "adamomentum-max", "yogi", "adabound", "radam"]
    assert {n for n in REGISTRY} == set(reference.REFERENCE)
    assert set(reference.EXTRA_HYPERS) <= set(REGISTRY)
    assert all(hasattr(Hyper(), f) for fields in reference.EXTRA_HYPERS.values() for f in fields)
    am = REGISTRY["adamomentum"]
    assert (am.k, am.eps_mode, am.bias_correction, am.max_v) == ("momentum", "inside", True, False)
    assert REGISTRY["adamomentum-max"].max_v and REGISTRY["amsgrad"].max_v
    assert REGISTRY["adamw"].decoupled_weight_decay


ADAM_FIELDS = dict(name="x", k="grad", momentum="ema", eps_mode="outside", bias_correction=True, max_v=False,
                   decoupled_weight_decay=False, summary="Adam")


@pytest.mark.parametrize("field,value", [("k", "gradient"), ("momentum", "EMA"), ("eps_mode", "outsde"),
                                         ("v_update", "Yogi"), ("stepsize_clip", "adabound "), ("k", None)])
def test_member_rejects_a_string_field_outside_its_allowed_values(field, value):
    """A typo must not run another method (``momentum="EMA"`` used to run without momentum)."""
    allowed = family.MEMBER_CHOICES[field]
    with pytest.raises(ValueError) as info:
        family.Member(**{**ADAM_FIELDS, field: value})
    message = str(info.value)
    assert field in message and repr(value) in message and all(repr(a) in message for a in allowed)


@pytest.mark.parametrize(
    "changes,needle",
    [({"max_v": 1}, "max_v=1"), ({"rectify": "yes"}, "rectify='yes'"), ({"name": ""}, "name"),
     ({"k": "none"}, "eps_mode='outside'"),  # no second moment: eps, bias correction... would not run
     ({"k": "none", "eps_mode": "none", "bias_correction": False, "v_update": "yogi"}, "v_update='yogi'"),
     ({"rectify": True, "momentum": "heavy-ball"}, "momentum='heavy-ball'"),
     ({"rectify": True, "stepsize_clip": "adabound"}, "rectify=True")],
)
def test_member_rejects_flags_and_combinations_the_implementation_does_not_define(changes, needle):
    with pytest.raises(ValueError, match=re.escape(needle)):
        family.Member(**{**ADAM_FIELDS, **changes})


def test_registry_members_pass_their_own_validation():
    for member in REGISTRY.values():
        assert family.Member(**{f: getattr(member, f) for f in member.__dataclass_fields__}) == member


def test_unknown_member_lists_the_registry():
    with pytest.raises(KeyError, match="adamomentum-max"):
        get_member("adamomentm")


@pytest.mark.parametrize(
    "field,value,needle",
    [("lr", -1.0, "lr"), ("beta1", 1.0, "beta1"), ("beta2", -0.1, "beta2"), ("eps", -1e-8, "eps"),
     ("weight_decay", -1.0, "weight_decay"), ("lr", float("nan"), "lr"), ("lr_decay", "cosine", "lr_decay"),
     ("beta1_decay", 1.5, "beta1_decay"), ("final_lr", -0.1, "final_lr >= 0"), ("gamma", 0.0, "gamma > 0"),
     ("gamma", float("inf"), "gamma"), ("initial_accumulator", -1e-6, "initial_accumulator >= 0"),
     ("rectify_threshold", 3.5, "rectify_threshold.*>= 4"), ("rectify_threshold", float("nan"), "rectify_threshold"),
     ("rectify_threshold", torch.tensor(5.0), "rectify_threshold"),
     ("final_lr", torch.tensor([[0.1], [-1.0]]), "final_lr")],
)
def test_hyper_rejects_invalid_values_naming_the_parameter(field, value, needle):
    with pytest.raises(ValueError, match=needle):
        Hyper(**{field: value})


def test_tensor_hyperparameters_are_validated_elementwise():
    with pytest.raises(ValueError, match="beta2"):
        Hyper(beta2=torch.tensor([[0.9], [1.0]]))


def test_run_records_the_trajectory_and_matches_step_by_step():
    hyper = Hyper(lr=0.1, eps=1e-8)
    theta0 = torch.tensor([[1.0, -2.0]])
    theta, state, path = family.run("adamomentum", theta0, lambda th, t: 2 * th, hyper, steps=5)
    assert path.shape == (6, 1, 2) and state.step == 5
    torch.testing.assert_close(path[-1], theta, rtol=0, atol=0)
    expected, _ = reference.adamomentum([1.0, -2.0], [lambda th, t: [2 * x for x in th]] * 5, 0.1, 0.9, 0.999, 1e-8)
    assert_rel_close(path[:, 0], torch.tensor(expected))


def test_state_select_keeps_the_chosen_runs():
    theta = torch.randn(5, 3)
    state = init_state("amsgrad", theta)
    step_("amsgrad", state, theta, torch.randn(5, 3), Hyper())
    sub = state.select(torch.tensor([0, 3]))
    torch.testing.assert_close(sub.v_max, state.v_max[[0, 3]])
    assert sub.step == state.step


def test_float32_and_device_agnostic_shapes():
    """The batched step keeps dtype and works on any shape (element-wise)."""
    theta = torch.ones(2, 3, 4, dtype=torch.float32)
    state = init_state("adamomentum", theta)
    step_("adamomentum", state, theta, torch.full_like(theta, 0.5), Hyper(lr=0.1, eps=1e-16))
    assert theta.dtype == torch.float32 and state.v.dtype == torch.float32
    assert torch.all(theta < 1)
