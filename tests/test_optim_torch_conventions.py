"""theory.AdaMomentum held to torch.optim's generic optimizer behaviours (as torch's test_optim.py
checks them with OptimizerInfo): foreach == forloop, fused == forloop, state_dict round trips,
hooks, no-grad no-op, mixed dtypes, complex == view_as_real, non-tensor step, tensor lr,
capturable, differentiable, torch.compile(opt.step, fullgraph=True).

torch.testing._internal.common_optimizers is used where it imports (it needs ``expecttest``);
the behaviours themselves are tested here directly either way. Tests that compile with inductor
are marked slow; the default run compiles one tiny fullgraph step with a cheap backend."""
from __future__ import annotations

import copy

import pytest
import torch
import torch._dynamo.testing
from torch.optim.optimizer import _get_scalar_dtype

from theory import AdaMomentum
from theory import optim as theory_optim

F64 = dict(rtol=1e-12, atol=0)

VARIANTS = [
    {},
    {"amsgrad": True},
    {"weight_decay": 0.1},
    {"weight_decay": 0.1, "decoupled_weight_decay": True},
    {"maximize": True, "weight_decay": 0.1},
]


def _run(kwargs, dtype=torch.float64, steps=7, shapes=((3,), (2, 4), (5, 1, 2)), complex_=False, seed=0):
    gen = torch.Generator().manual_seed(seed)
    make = (lambda s: torch.randn(s, generator=gen, dtype=dtype))
    if complex_:
        make = (lambda s: torch.complex(torch.randn(s, generator=gen, dtype=dtype),
                                        torch.randn(s, generator=gen, dtype=dtype)))
    inits = [make(s) for s in shapes]
    grads = [[make(s) for s in shapes] for _ in range(steps)]
    params = [torch.nn.Parameter(x.clone()) for x in inits]
    opt = AdaMomentum(params, **kwargs)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.clone()
        opt.step()
    return params, opt


def _assert_same(run_a, run_b, **tol):
    (pa, oa), (pb, ob) = run_a, run_b
    for a, b in zip(pa, pb):
        torch.testing.assert_close(a.detach(), b.detach(), **tol)
        assert sorted(oa.state[a]) == sorted(ob.state[b])
        for key in oa.state[a]:
            torch.testing.assert_close(oa.state[a][key].to(a.dtype) if key == "step" else oa.state[a][key],
                                       ob.state[b][key].to(b.dtype) if key == "step" else ob.state[b][key],
                                       **tol)


def test_common_optimizers_helpers_where_importable():
    """OptimizerInput from torch's own test helpers drives the same foreach == forloop check."""
    co = pytest.importorskip("torch.testing._internal.common_optimizers",
                             reason="torch's common_optimizers needs the expecttest package")
    inputs = [co.OptimizerInput(params=None, kwargs=dict(kw, lr=0.05, eps=1e-8), desc=str(kw)) for kw in VARIANTS]
    for inp in inputs:
        _assert_same(_run(dict(inp.kwargs, foreach=False)), _run(dict(inp.kwargs, foreach=True)), rtol=1e-14, atol=0)


@pytest.mark.parametrize("kwargs", VARIANTS)
def test_foreach_equals_forloop_with_a_tensor_step_counter(kwargs):
    kw = dict(kwargs, lr=0.05, eps=1e-8)
    a, b = _run(dict(kw, foreach=False)), _run(dict(kw, foreach=True))
    _assert_same(a, b, rtol=1e-14, atol=0)
    step = a[1].state[a[0][0]]["step"]
    assert isinstance(step, torch.Tensor) and step.dtype == _get_scalar_dtype() and step.dim() == 0 and step.item() == 7


@pytest.mark.parametrize("kwargs", [{}, {"amsgrad": True}])
def test_capturable_equals_forloop_and_keeps_step_on_the_param_device(kwargs):
    kw = dict(kwargs, lr=0.05, eps=1e-8)
    for foreach in (False, True):
        b = _run(dict(kw, foreach=foreach, capturable=True))
        _assert_same(_run(kw), b, rtol=1e-12, atol=1e-14)
        assert b[1].state[b[0][0]]["step"].device == b[0][0].device


@pytest.mark.parametrize("foreach", [False, True])
def test_tensor_lr_equals_float_lr(foreach):
    kw = dict(eps=1e-8, capturable=foreach, foreach=foreach)
    _assert_same(_run(dict(kw, lr=0.05)), _run(dict(kw, lr=torch.tensor(0.05, dtype=torch.float64))),
                 rtol=1e-12, atol=1e-14)


def test_tensor_lr_with_foreach_needs_capturable_as_adam():
    p = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match="lr"):
        AdaMomentum([p], lr=torch.tensor(0.1), foreach=True)
    with pytest.raises(ValueError, match="lr"):
        AdaMomentum([p], lr=torch.tensor([0.1, 0.2]))


@pytest.mark.parametrize("kwargs", [{}, {"amsgrad": True, "weight_decay": 0.1}])
@pytest.mark.parametrize("foreach", [False, True])
def test_complex_equals_view_as_real(kwargs, foreach):
    """Complex parameters step as their view_as_real: Re and Im are two real coordinates, so v
    accumulates Re(m)^2 and Im(m)^2 separately (torch.optim's convention), never |m|^2 mixed."""
    kw = dict(kwargs, lr=0.05, eps=1e-8, foreach=foreach)
    pc, oc = _run(kw, complex_=True, seed=3)
    gen = torch.Generator().manual_seed(3)
    shapes = ((3,), (2, 4), (5, 1, 2))
    mk = (lambda s: torch.view_as_real(torch.complex(torch.randn(s, generator=gen, dtype=torch.float64),
                                                     torch.randn(s, generator=gen, dtype=torch.float64))))
    inits = [mk(s) for s in shapes]
    grads = [[mk(s) for s in shapes] for _ in range(7)]
    pr = [torch.nn.Parameter(x.clone()) for x in inits]
    opr = AdaMomentum(pr, **kw)
    for step_grads in grads:
        for p, g in zip(pr, step_grads):
            p.grad = g.clone()
        opr.step()
    for c, r in zip(pc, pr):
        torch.testing.assert_close(torch.view_as_real(c.detach()), r.detach(), **F64)
        for key in ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if kwargs.get("amsgrad") else ()):
            torch.testing.assert_close(torch.view_as_real(oc.state[c][key]), opr.state[r][key], **F64)


def test_state_dict_with_a_python_number_step_loads_and_steps():
    """An old state dict (step as a Python number) loads, is converted to a tensor, and continues
    exactly as the run it was saved from."""
    a, oa = _run(dict(lr=0.05, eps=1e-8), steps=3)
    sd = copy.deepcopy(oa.state_dict())
    for s in sd["state"].values():
        s["step"] = int(s["step"].item())
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    ob = AdaMomentum(b, lr=0.05, eps=1e-8)
    ob.load_state_dict(sd)
    assert all(torch.is_tensor(ob.state[p]["step"]) for p in b)
    gen = torch.Generator().manual_seed(9)
    for _ in range(3):
        for p, q in zip(a, b):
            g = torch.randn(p.shape, generator=gen, dtype=p.dtype)
            p.grad, q.grad = g.clone(), g.clone()
        oa.step()
        ob.step()
    for p, q in zip(a, b):
        assert torch.equal(p, q)
        assert ob.state[q]["step"].item() == 6


def test_state_dict_round_trip_between_paths():
    """A state dict saved by the forloop path continues on a fresh optimizer (its param_groups,
    flags included, are restored as torch.optim does)."""
    a, oa = _run(dict(lr=0.05, eps=1e-8), steps=3)
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    ob = AdaMomentum(b, lr=0.05, eps=1e-8, foreach=True)
    ob.load_state_dict(copy.deepcopy(oa.state_dict()))  # as torch.optim: load_state_dict shares `step`
    for p, q in zip(a, b):
        p.grad = torch.ones_like(p)
        q.grad = torch.ones_like(q)
    oa.step()
    ob.step()
    for p, q in zip(a, b):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14)


def test_step_hooks_and_state_dict_hooks_run():
    p = torch.nn.Parameter(torch.ones(3))
    opt = AdaMomentum([p], lr=0.1)
    seen = []
    opt.register_step_pre_hook(lambda o, args, kw: seen.append("pre"))
    opt.register_step_post_hook(lambda o, args, kw: seen.append("post"))
    opt.register_state_dict_post_hook(lambda o, sd: sd.setdefault("extra", 1) and sd)
    p.grad = torch.ones(3)
    opt.step()
    assert seen == ["pre", "post"]
    assert opt.state_dict()["extra"] == 1


@pytest.mark.parametrize("foreach", [False, True])
def test_no_grad_step_is_a_no_op(foreach):
    p = torch.nn.Parameter(torch.ones(3))
    opt = AdaMomentum([p], lr=0.1, foreach=foreach)
    opt.step()
    assert torch.equal(p, torch.ones(3)) and len(opt.state) == 0


@pytest.mark.parametrize("foreach", [False, True])
def test_mixed_dtypes_in_one_group(foreach):
    """float32 and float64 params in one group: each follows its own-dtype single-tensor run."""
    gen = torch.Generator().manual_seed(4)
    x64, x32 = torch.randn(5, generator=gen, dtype=torch.float64), torch.randn(4, generator=gen, dtype=torch.float32)
    p64, p32 = torch.nn.Parameter(x64.clone()), torch.nn.Parameter(x32.clone())
    q64, q32 = torch.nn.Parameter(x64.clone()), torch.nn.Parameter(x32.clone())
    opt = AdaMomentum([p64, p32], lr=0.05, foreach=foreach)
    ref = [AdaMomentum([q64], lr=0.05, foreach=False), AdaMomentum([q32], lr=0.05, foreach=False)]
    for _ in range(5):
        g64, g32 = torch.randn(5, generator=gen, dtype=torch.float64), torch.randn(4, generator=gen, dtype=torch.float32)
        p64.grad, p32.grad, q64.grad, q32.grad = g64.clone(), g32.clone(), g64.clone(), g32.clone()
        opt.step()
        for o in ref:
            o.step()
    assert torch.equal(p64, q64) and torch.equal(p32, q32)
    assert opt.state[p64]["exp_avg"].dtype == torch.float64 and opt.state[p32]["exp_avg"].dtype == torch.float32


@pytest.mark.parametrize("amsgrad", [False, True])
def test_differentiable_step_has_correct_gradients(amsgrad):
    """differentiable=True: the new parameter and state are differentiable w.r.t. the parameter,
    the gradient and the incoming state (torch's _diff_fn pattern, checked by gradcheck)."""
    gen = torch.Generator().manual_seed(5)
    p = torch.randn(4, generator=gen, dtype=torch.float64, requires_grad=True)
    g = torch.randn(4, generator=gen, dtype=torch.float64, requires_grad=True)
    m0 = torch.randn(4, generator=gen, dtype=torch.float64, requires_grad=True)
    v0 = torch.rand(4, generator=gen, dtype=torch.float64).add(0.1).requires_grad_(True)

    def fn(p, g, m0, v0):
        q = p.clone()
        q.grad = g
        opt = AdaMomentum([q], lr=0.1, eps=1e-8, amsgrad=amsgrad, differentiable=True)
        opt.state[q] = {"step": torch.tensor(3.0), "exp_avg": m0.clone(), "exp_avg_sq": v0.clone()}
        if amsgrad:
            opt.state[q]["max_exp_avg_sq"] = v0.clone() * 0.5
        opt.step()
        return q, opt.state[q]["exp_avg"], opt.state[q]["exp_avg_sq"]

    assert torch.autograd.gradcheck(fn, (p, g, m0, v0))
    # The values equal the non-differentiable step.
    q, m, v = fn(p, g, m0, v0)
    r = torch.nn.Parameter(p.detach().clone())
    r.grad = g.detach().clone()
    opt = AdaMomentum([r], lr=0.1, eps=1e-8, amsgrad=amsgrad)
    opt.state[r] = {"step": torch.tensor(3.0), "exp_avg": m0.detach().clone(), "exp_avg_sq": v0.detach().clone()}
    if amsgrad:
        opt.state[r]["max_exp_avg_sq"] = v0.detach().clone() * 0.5
    opt.step()
    torch.testing.assert_close(q.detach(), r.detach(), rtol=1e-12, atol=1e-14)


def test_invalid_flag_combinations_raise_as_adam():
    p = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(RuntimeError, match="fused"):
        AdaMomentum(p, fused=True, differentiable=True)
    with pytest.raises(RuntimeError, match="fused"):
        AdaMomentum(p, fused=True, foreach=True)


def test_step_compiles_fullgraph_with_no_graph_break_and_equals_eager():
    """torch.compile(opt.step, fullgraph=True): one frame, one graph (the tensor step counter
    leaves no .item() to break on), the same numbers as eager. aot_eager keeps this cheap; the
    inductor version is in the slow set."""
    torch._dynamo.reset()
    counter = torch._dynamo.testing.CompileCounterWithBackend("aot_eager")
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(6, generator=gen)
    grads = [torch.randn(6, generator=gen) for _ in range(3)]
    p, q = torch.nn.Parameter(x.clone()), torch.nn.Parameter(x.clone())
    opt, ref = AdaMomentum([p], lr=0.01), AdaMomentum([q], lr=0.01)
    step = torch.compile(opt.step, fullgraph=True, backend=counter)
    frames = []
    for g in grads:
        p.grad, q.grad = g.clone(), g.clone()
        step()
        ref.step()
        frames.append(counter.frame_count)
    # The first call creates the state (a recompile, as for torch's Adam); after that one graph
    # serves every step: no recompilation per step count, and fullgraph=True means no break.
    assert frames[-1] == frames[1] <= 2 and counter.op_count > 0
    torch.testing.assert_close(p, q)
    assert opt.state[p]["step"].item() == 3


@pytest.mark.slow
@pytest.mark.parametrize("foreach", [False, True])
def test_step_compiled_with_inductor_equals_eager(foreach):
    torch._dynamo.reset()
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(64, generator=gen)
    p, q = torch.nn.Parameter(x.clone()), torch.nn.Parameter(x.clone())
    opt, ref = AdaMomentum([p], lr=0.01, foreach=foreach), AdaMomentum([q], lr=0.01, foreach=foreach)
    step = torch.compile(opt.step, fullgraph=True)
    for _ in range(5):
        g = torch.randn(64, generator=gen)
        p.grad, q.grad = g.clone(), g.clone()
        step()
        ref.step()
    torch.testing.assert_close(p, q)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kwargs", VARIANTS)
def test_fused_equals_forloop(dtype, kwargs):
    """The compiled single-pass path equals the forloop within float32 rounding (float64: 1e-12)."""
    kw = dict(kwargs, lr=0.05, eps=1e-8)
    shapes = ((3,), (2, 4), (1,), (5, 1, 2), (25,))  # (1,) takes the eager route inside fused
    a = _run(dict(kw, foreach=False), dtype=dtype, shapes=shapes)
    b = _run(dict(kw, fused=True), dtype=dtype, shapes=shapes)
    _assert_same(a, b, **(F64 if dtype == torch.float64 else {}))


@pytest.mark.slow
def test_fused_complex_and_tensor_lr_and_many_tensors():
    kw = dict(lr=0.05, eps=1e-8)
    _assert_same(_run(kw, complex_=True), _run(dict(kw, fused=True), complex_=True), **F64)
    _assert_same(_run(kw), _run(dict(kw, lr=torch.tensor(0.05, dtype=torch.float64), fused=True)), **F64)
    shapes = [(7,)] * (2 * theory_optim.FUSED_CHUNK + 3)
    _assert_same(_run(kw, shapes=shapes, steps=3), _run(dict(kw, fused=True), shapes=shapes, steps=3), **F64)
