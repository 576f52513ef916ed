"""The update-rule contract (theory/rule.py), names (theory/names.py) and the shipped invariants
(theory/testing.py), cross-checked against torch.optim, which nobody here wrote."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from theory import names
from theory.family import REGISTRY, Hyper, init_state, step_
from theory.optim import AdaMomentum
from theory.rule import FamilyRule, Rule, TorchOptimizerRule, UpdateRule, first_moment, second_moment
from theory.testing import assert_invariants, check_invariants, gradient_runs


def _drive(rule, theta0, grads, hyper):
    theta = theta0.clone()
    state = rule.init(theta, hyper)
    for g in grads:
        rule.step(state, theta, g, hyper)
    return theta, state


def _hand_loop(optimizer_class, theta0_row, grads_row, lr_at, **kwargs):
    """One run of a torch optimizer on a single (dim,) parameter, stepped by hand."""
    p = theta0_row.clone().requires_grad_(True)
    opt = optimizer_class([p], **kwargs)
    for t, g in enumerate(grads_row, start=1):
        for group in opt.param_groups:
            group["lr"] = lr_at(t)
        p.grad = g.clone()
        opt.step()
    return p.detach(), opt


@given(data=gradient_runs(max_steps=8), lr=st.floats(1e-3, 0.3), decay=st.sampled_from(["constant", "inverse-sqrt"]))
def test_torch_rule_equals_the_optimizer_stepped_by_hand(data, lr, decay):
    grads, theta0 = data
    hyper = Hyper(lr=lr, beta1=0.9, beta2=0.99, eps=1e-8, lr_decay=decay)
    rule = names.resolve("torch.optim:NAdam:momentum_decay=0.004")
    theta, _ = _drive(rule, theta0, grads, hyper)
    for run in range(theta0.shape[0]):
        by_hand, _ = _hand_loop(torch.optim.NAdam, theta0[run], grads[:, run], hyper.lr_at,
                                betas=(0.9, 0.99), eps=1e-8, momentum_decay=0.004)
        torch.testing.assert_close(theta[run], by_hand, rtol=1e-12, atol=0)


@pytest.mark.parametrize("member,optimizer_class,kwargs", [
    ("adam", torch.optim.Adam, {}),
    ("amsgrad", torch.optim.Adam, {"amsgrad": True}),
    ("adamomentum", AdaMomentum, {}),
    ("adamomentum-max", AdaMomentum, {"amsgrad": True}),
])
@given(data=gradient_runs(max_steps=8))
def test_torch_adapter_equals_the_family_member(member, optimizer_class, kwargs, data):
    grads, theta0 = data
    hyper = Hyper(lr=0.05, beta1=0.9, beta2=0.99, eps=1e-8)
    family_theta, family_state = _drive(FamilyRule(member), theta0, grads, hyper)
    rule = TorchOptimizerRule(optimizer_class, kwargs)
    torch_theta, torch_state = _drive(rule, theta0, grads, hyper)
    torch.testing.assert_close(torch_theta, family_theta, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(first_moment(rule, torch_state), family_state.m, rtol=1e-12, atol=0)
    torch.testing.assert_close(second_moment(rule, torch_state), family_state.second_moment(), rtol=1e-12, atol=0)


def test_per_run_hyperparameters_become_param_groups_and_equal_separate_runs():
    grads = torch.randn(6, 3, 2, generator=torch.Generator().manual_seed(1))
    theta0 = torch.zeros(3, 2)
    lr = torch.tensor([[0.1], [0.01], [0.1]])
    beta2 = torch.tensor([[0.9], [0.99], [0.999]])
    rule = names.resolve("torch.optim:Adam")
    theta, state = _drive(rule, theta0, grads, Hyper(lr=lr, beta2=beta2))
    assert len(state.optimizer.param_groups) == 3
    for run in range(3):
        alone, _ = _drive(rule, theta0[run:run + 1], grads[:, run:run + 1],
                          Hyper(lr=float(lr[run]), beta2=float(beta2[run])))
        torch.testing.assert_close(theta[run:run + 1], alone, rtol=0, atol=0)


def test_equal_hyperparameters_share_one_group_and_select_keeps_the_chosen_runs():
    rule = names.resolve("torch.optim:Adam")
    theta = torch.zeros(4, 2)
    hyper = Hyper(lr=0.1)
    state = rule.init(theta, hyper)
    rule.step(state, theta, torch.arange(8.0).reshape(4, 2) + 1, hyper)
    assert len(state.optimizer.param_groups) == 1
    m_before = first_moment(rule, state)
    kept = rule.select(state, torch.tensor([True, False, False, True]))
    assert kept.step == 1 and len(kept.params) == 2 and len(state.optimizer.state) == 2
    torch.testing.assert_close(first_moment(rule, kept), m_before[[0, 3]], rtol=0, atol=0)
    before = theta[[0, 3]].clone()
    rule.step(kept, before, torch.ones(2, 2), hyper)
    family = FamilyRule("adam")
    fstate = family.init(torch.zeros(4, 2), hyper)
    ftheta = torch.zeros(4, 2)
    family.step(fstate, ftheta, torch.arange(8.0).reshape(4, 2) + 1, hyper)
    fkept = family.select(fstate, torch.tensor([True, False, False, True]))
    fpair = ftheta[[0, 3]].clone()
    family.step(fkept, fpair, torch.ones(2, 2), hyper)
    torch.testing.assert_close(before, fpair, rtol=1e-12, atol=0)


def test_projection_by_the_experiment_is_seen_by_the_torch_optimizer():
    """The experiment may move params between steps (clipping onto F): the adapter copies them in."""
    hyper = Hyper(lr=0.5)
    rule, family = names.resolve("torch.optim:Adam"), FamilyRule("adam")
    a, b = torch.zeros(1, 1), torch.zeros(1, 1)
    sa, sb = rule.init(a, hyper), family.init(b, hyper)
    for g in (-3.0, -1.0, 2.0, -5.0):
        rule.step(sa, a, torch.tensor([[g]]), hyper)
        family.step(sb, b, torch.tensor([[g]]), hyper)
        a.clamp_(-1, 1)
        b.clamp_(-1, 1)
        torch.testing.assert_close(a, b, rtol=1e-12, atol=0)


def test_notes_say_what_a_torch_optimizer_cannot_honour():
    rule = names.resolve("torch.optim:NAdam:betas=(0.8,0.9)")
    text = " | ".join(rule.notes(Hyper(bias_correction=False, beta1_decay=0.99)))
    assert "bias_correction=False not applied" in text
    assert "fixed by the spec" in text
    assert FamilyRule("adam").notes(Hyper(bias_correction=False)) == []
    sgd = names.resolve("torch.optim:SGD")
    assert any("no 'betas' option" in n for n in sgd.notes(Hyper()))


def test_names_resolve_registry_members_classes_and_plugin_files():
    assert isinstance(names.resolve("adamomentum"), FamilyRule)
    assert names.resolve("adamomentum").member == REGISTRY["adamomentum"]
    rule = names.resolve("plugin_optim:PlainAdam:eps=0.001")
    assert isinstance(rule, TorchOptimizerRule) and rule.kwargs == {"eps": 0.001}
    assert rule.name == "plugin_optim:PlainAdam:eps=0.001"
    assert isinstance(names.resolve(FamilyRule("adam")), UpdateRule)
    assert names.split_names("adam, torch.optim:Adam:betas=(0.9,0.99),sgdm") == [
        "adam", "torch.optim:Adam:betas=(0.9,0.99)", "sgdm"]


@pytest.mark.parametrize("spec,needle", [
    ("adamx", "unknown optimizer 'adamx'"),
    ("no_such_module_here:Opt", "does not import"),
    ("torch.optim:NoSuchOptimizer", "has no attribute 'NoSuchOptimizer'"),
    ("math:pi", "is not an optimizer"),
    ("torch.optim:Adam:momentum=0.9", "rejects the keyword arguments"),
    ("torch.optim:Adam:lr=-1.0", "rejects the keyword arguments"),
    ("torch.optim:Adam:lr", "expected key=value"),
    ("torch.optim:Adam:lr=fast", "not a Python literal"),
    (":Adam", "expected module.path:Attribute"),
])
def test_bad_names_fail_with_a_message_naming_the_problem(spec, needle):
    with pytest.raises(ValueError) as err:
        names.resolve(spec)
    assert needle in str(err.value)


def test_repeated_names_are_refused():
    with pytest.raises(ValueError, match="distinct"):
        names.resolve_all("adam,adam")


def test_entry_point_plugins_are_found(monkeypatch):
    class FakeEntryPoint:
        name, value = "plainadam", "plugin_optim:PlainAdam"

        def load(self):
            import plugin_optim
            return plugin_optim.PlainAdam

    monkeypatch.setattr(names, "entry_points", lambda group: [FakeEntryPoint()] if group == names.ENTRY_POINT_GROUP else [])
    rule = names.resolve("plainadam")
    assert isinstance(rule, TorchOptimizerRule) and rule.name == "plainadam"


class _GlobalNormSGD(Rule):
    """Not coordinate-wise: every coordinate's step is divided by the global gradient norm."""

    name = "global-norm-sgd"

    def init(self, params, hyper):
        return {"step": 0}

    def step(self, state, params, grad, hyper):
        state["step"] += 1
        params.sub_(hyper.lr * grad / grad.norm(dim=-1, keepdim=True))


class _BrokenStepsize(Rule):
    """Claims an effective stepsize that is off by a factor 2 (a read-out that lies)."""

    name = "broken-readout"

    def init(self, params, hyper):
        return {"m": torch.zeros_like(params)}

    def step(self, state, params, grad, hyper):
        state["m"].copy_(grad)
        params.sub_(hyper.lr * grad)

    def first_moment(self, state):
        return state["m"]

    def effective_stepsize(self, state, hyper):
        return 2 * hyper.lr


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registry_member_satisfies_the_shipped_invariants(name):
    results = assert_invariants(name)
    statuses = {r.name: r.status for r in results}
    assert statuses["odd-symmetry"] == statuses["coordinate-wise"] == statuses["runs-independent"] == "holds"
    assert statuses["stepsize-times-moment"] == "holds"


@pytest.mark.parametrize("spec", ["torch.optim:Adam", "torch.optim:NAdam", "theory.optim:AdaMomentum",
                                  "plugin_optim:PlainAdam"])
def test_torch_optimizers_satisfy_the_shipped_invariants(spec):
    statuses = {r.name: r.status for r in assert_invariants(spec)}
    assert statuses["v-nonnegative"] == "holds"
    assert statuses["stepsize-times-moment"] == "unchecked"  # a torch optimizer exposes no stepsize
    assert statuses["scale-invariant"] == "unchecked"


def test_scale_invariance_is_checked_when_asked_for_a_torch_optimizer():
    results = {r.name: r for r in check_invariants("torch.optim:Adam", scale_invariant=True)}
    assert results["scale-invariant"].status == "holds"
    results = {r.name: r for r in check_invariants("torch.optim:SGD", scale_invariant=True)}
    assert results["scale-invariant"].status == "fails"  # SGD's step scales with the gradient


def test_the_invariant_checks_can_fail():
    statuses = {r.name: r.status for r in check_invariants(_GlobalNormSGD())}
    assert statuses["coordinate-wise"] == "fails"
    assert statuses["odd-symmetry"] == "holds"
    statuses = {r.name: r.status for r in check_invariants(_BrokenStepsize())}
    assert statuses["stepsize-times-moment"] == "fails"
    with pytest.raises(AssertionError, match="coordinate-wise"):
        assert_invariants(_GlobalNormSGD())


def test_family_rule_is_exactly_the_family_step():
    grads = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(3))
    hyper = Hyper(lr=0.1, lr_decay="inverse-sqrt", beta1_decay=0.99, bias_correction=False)
    theta, _ = _drive(FamilyRule("adamomentum"), torch.ones(2, 3), grads, hyper)
    ref = torch.ones(2, 3)
    state = init_state("adamomentum", ref)
    for g in grads:
        step_("adamomentum", state, ref, g, hyper)
    assert torch.equal(theta, ref)
    assert math.isfinite(float(theta.sum()))


class _MirrorNaN(Rule):
    """Finite from the given start, NaN once the start is mirrored: odd symmetry must fail."""

    name = "mirror-nan"

    def init(self, params, hyper):
        return {"first": params[0, 0] > 0}

    def step(self, state, params, grad, hyper):
        params.sub_(hyper.lr * grad)
        if not state["first"]:
            params.fill_(float("nan"))


def test_a_non_finite_mismatch_is_a_failure_not_a_match():
    statuses = {r.name: r.status for r in check_invariants(_MirrorNaN(), theta0=torch.ones(3, 4))}
    assert statuses["finite"] == "holds" and statuses["odd-symmetry"] == "fails"


def test_scale_invariance_ignores_the_weight_decay_of_the_other_checks():
    results = {r.name: r.status for r in check_invariants("adam", hyper=Hyper(lr=0.01, weight_decay=0.3))}
    assert results["scale-invariant"] == "holds"


@pytest.mark.parametrize("spec", ["torch.optim:LBFGS", "torch.optim:SparseAdam"])
def test_optimizers_that_need_a_closure_or_sparse_gradients_are_refused_up_front(spec):
    with pytest.raises(ValueError, match="cannot be driven"):
        names.resolve(spec)


def test_the_adapter_keeps_the_optimizers_own_weight_decay_and_says_what_it_overrides():
    adamw = names.resolve("torch.optim:AdamW")
    theta = torch.zeros(1, 2)
    state = adamw.init(theta, Hyper(lr=0.1))
    assert state.optimizer.param_groups[0]["weight_decay"] == 0.01  # AdamW's default, not the experiment's 0
    assert any("weight_decay left at the optimizer's own 0.01" in n for n in adamw.notes(Hyper(lr=0.1)))
    ada = names.resolve("theory.optim:AdaMomentum")
    assert any("eps set to the experiment's 1e-08" in n for n in ada.notes(Hyper(eps=1e-8)))
    rms = names.resolve("torch.optim:RMSprop")
    state = rms.init(theta, Hyper(beta2=0.9))
    assert state.optimizer.param_groups[0]["alpha"] == 0.9  # RMSprop's alpha is the family's beta2


def test_only_adam_style_moments_are_read_out():
    """SGD's momentum_buffer is a heavy-ball sum and RMSprop's square_avg not always what it divides
    by: reading them as m or v would compare quantities of another scale."""
    for spec in ("torch.optim:SGD:momentum=0.9", "torch.optim:RMSprop:centered=True"):
        rule = names.resolve(spec)
        theta = torch.zeros(2, 2)
        state = rule.init(theta, Hyper(lr=0.1))
        rule.step(state, theta, torch.ones(2, 2), Hyper(lr=0.1))
        assert first_moment(rule, state) is None and second_moment(rule, state) is None
