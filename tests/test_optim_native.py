"""The native multi-tensor AdaMomentum step (theory.native): bit for bit a reference loop of the same
IEEE operations in numpy (float32 and float64, every flag), used by AdaMomentum(fused=True) on the
CPU, and equal to the eager paths within float rounding."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from theory import AdaMomentum, native
from theory import optim as optim_module

pytestmark = pytest.mark.skipif(native.kernel() is None, reason=f"no native kernel: {native.why_not()}")


def reference_step(p, g, m, v, vmax, s, *, decay, beta1, beta2, eps, weight_decay, amsgrad, maximize,
                   decoupled):
    """The kernel's operations, one numpy ufunc each (correctly rounded in the arrays' dtype)."""
    dt = p.dtype.type
    w, omb2 = dt(1 - beta1), dt(1 - beta2)
    g = -g if maximize else g.copy()
    pb = p.copy()
    if weight_decay:
        if decoupled:
            pb = p * dt(decay)
        else:
            g = g + dt(weight_decay) * p
    diff = g - m
    m_new = m + w * diff if w < 0.5 else g - diff * (dt(1) - w)
    v_new = v * dt(beta2)
    v_new = v_new + omb2 * (m_new * m_new)
    v_new = v_new + dt(eps)
    denom_sq = v_new
    if amsgrad:
        vmax_new = np.where((v_new > vmax) | np.isnan(v_new), v_new, vmax)
        denom_sq = vmax_new
    else:
        vmax_new = vmax
    return pb - dt(s) * (m_new / np.sqrt(denom_sq)), m_new, v_new, vmax_new


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("flags", [
    dict(amsgrad=False, maximize=False, weight_decay=0.0, decoupled=False, beta1=0.9),
    dict(amsgrad=True, maximize=True, weight_decay=0.1, decoupled=False, beta1=0.9),
    dict(amsgrad=True, maximize=False, weight_decay=0.05, decoupled=True, beta1=0.3),  # lerp's other branch
])
def test_kernel_equals_the_reference_loop_bit_for_bit(dtype, flags):
    gen = torch.Generator().manual_seed(1)
    sizes = [1, 7, 64, 1000, 4097]
    make = (lambda scale=1.0: [torch.randn(n, generator=gen, dtype=dtype) * scale for n in sizes])
    p, g, m = make(), make(1e-2), make(1e-3)
    v = [x.abs() for x in make(1e-4)]
    vmax = [x * 1.5 for x in v]
    g[3][5] = float("nan")  # propagates as in torch
    steps = [torch.tensor(float(k), dtype=torch.float32 if dtype == torch.float32 else torch.float64)
             for k in (0, 1, 5, 99, 1e4)]
    lr = 1e-3
    hyper = dict(beta1=flags["beta1"], beta2=0.999, eps=1e-16, weight_decay=flags["weight_decay"],
                 amsgrad=flags["amsgrad"], maximize=flags["maximize"])
    np_dtype = p[0].numpy().dtype.type
    want = []
    for i in range(len(sizes)):
        k = float(steps[i]) + 1  # the kernel counts the step, then forms lr sqrt(1 - b2^k) / (1 - b1^k)
        s = np_dtype(lr * math.sqrt(1 - hyper["beta2"] ** k) / (1 - hyper["beta1"] ** k))
        want.append(reference_step(*(x[i].numpy().copy() for x in (p, g, m, v, vmax)), s,
                                   decay=1 - lr * flags["weight_decay"], decoupled=flags["decoupled"], **hyper))
    native.step(p, g, m, v, vmax if flags["amsgrad"] else [], steps, sizes, lr=lr,
                decoupled_weight_decay=flags["decoupled"], **hyper)
    assert [float(k) for k in steps] == [1, 2, 6, 100, 1e4 + 1]
    for i in range(len(sizes)):
        for got, expected in zip((p[i], m[i], v[i], vmax[i]), want[i]):
            np.testing.assert_array_equal(got.numpy(), expected)
    assert torch.isnan(p[3][5]) and torch.isfinite(p[4]).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("amsgrad,decoupled", [(False, False), (True, True)])
def test_fused_uses_the_kernel_and_equals_the_eager_paths(dtype, amsgrad, decoupled, monkeypatch):
    calls = []
    real_step = native.step_pointers
    monkeypatch.setattr(native, "step_pointers", lambda *a, **k: calls.append(len(a[2])) or real_step(*a, **k))
    gen = torch.Generator().manual_seed(2)
    shapes = [(3,), (10, 10), (1000,), (2, 3, 4)] * 25  # 100 tensors of mixed shapes
    base = [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]
    runs = {}
    for path in ("fused", "foreach", "forloop"):
        params = [torch.nn.Parameter(x.clone()) for x in base]
        kw = {"fused": True} if path == "fused" else {"foreach": path == "foreach"}
        opt = AdaMomentum(params, lr=1e-2, weight_decay=0.01, decoupled_weight_decay=decoupled, amsgrad=amsgrad, **kw)
        grad_gen = torch.Generator().manual_seed(3)
        for _ in range(4):
            for q in params:
                q.grad = torch.randn(q.shape, generator=grad_gen, dtype=dtype) * 1e-2
            opt.step()
        runs[path] = (params, opt)
    assert calls == [100] * 4  # every tensor, one call per step
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-14)
    for path in ("foreach", "forloop"):
        for a, b in zip(runs["fused"][0], runs[path][0]):
            torch.testing.assert_close(a, b, **tol)
            torch.testing.assert_close(runs["fused"][1].state[a]["exp_avg_sq"], runs[path][1].state[b]["exp_avg_sq"], **tol)
    assert all(float(runs["fused"][1].state[p]["step"]) == 4 for p in runs["fused"][0])


def test_what_the_kernel_does_not_take_is_left_to_the_compiled_route(monkeypatch):
    monkeypatch.setattr(native, "step_pointers", lambda *a, **k: None)
    x = torch.zeros(4, 4)
    params = [x, torch.zeros(4, dtype=torch.bfloat16), x.t(), torch.zeros(4, dtype=torch.complex64),
              torch.zeros(1 << 18)]
    grads = [torch.zeros_like(q) for q in params]
    state = lambda: [torch.zeros_like(q) for q in params]  # noqa: E731
    steps = [torch.tensor(0.0) for _ in params]
    kw = dict(amsgrad=False, lr=1e-3, beta1=0.9, beta2=0.999, weight_decay=0.0, decoupled_weight_decay=False,
              eps=1e-16, maximize=False)
    # bfloat16 and a transposed (non-contiguous) tensor are left; complex goes as its real view
    assert optim_module._native_update(params, grads, state(), state(), [], steps, **kw) == [1, 2]
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)  # threads win on a large tensor
    assert optim_module._native_update(params, grads, state(), state(), [], steps, **kw) == [1, 2, 4]


def test_a_missing_compiler_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("AMLAB_CACHE", str(tmp_path / "cache"))
    native.LIBRARY.forget()
    try:
        assert native.kernel() is None and "no-such-cc" in native.why_not()
    finally:
        native.LIBRARY.forget()  # the next test builds (or finds in the cache) the real one


def test_complex_parameters_equal_the_eager_paths_and_versions_are_bumped():
    gen = torch.Generator().manual_seed(4)
    base = [torch.randn(50, generator=gen, dtype=torch.complex64), torch.randn(3, 4, generator=gen, dtype=torch.complex128)]
    runs = {}
    for path in ("fused", "foreach"):
        params = [torch.nn.Parameter(x.clone()) for x in base]
        opt = AdaMomentum(params, lr=1e-2, amsgrad=True, **({"fused": True} if path == "fused" else {"foreach": True}))
        grad_gen = torch.Generator().manual_seed(5)
        for _ in range(3):
            for q in params:
                q.grad = torch.randn(q.shape, generator=grad_gen, dtype=q.dtype) * 1e-2
            before = [q._version for q in params]
            opt.step()
            assert all(q._version > b for q, b in zip(params, before))  # autograd sees the in-place write
        runs[path] = params
    for a, b in zip(runs["fused"], runs["foreach"]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_tensors_the_kernel_would_get_wrong_are_left_to_the_other_routes():
    kw = dict(amsgrad=False, lr=1e-3, beta1=0.9, beta2=0.999, weight_decay=0.0, decoupled_weight_decay=False,
              eps=1e-16, maximize=False)
    p = torch.zeros(8)
    cases = {
        "state of another size": ([p], [torch.zeros(8)], [torch.zeros(4)], [torch.zeros(8)]),
        "grad aliasing the parameter": ([p], [p], [torch.zeros(8)], [torch.zeros(8)]),
        "conjugated grad": ([torch.zeros(4, dtype=torch.complex64)], [torch.zeros(4, dtype=torch.complex64).conj()],
                            [torch.zeros(4, dtype=torch.complex64)], [torch.zeros(4, dtype=torch.complex64)]),
    }
    for why, (params, grads, avgs, sqs) in cases.items():
        assert optim_module._native_update(params, grads, avgs, sqs, [], [torch.tensor(0.0)], **kw) == [0], why
    leaf = torch.zeros(8, requires_grad=True)
    with torch.enable_grad():  # a functional call in grad mode: in-place on a leaf must raise, not be done
        assert optim_module._native_update([leaf], [torch.zeros(8)], [torch.zeros(8)], [torch.zeros(8)], [],
                                           [torch.tensor(0.0)], **kw) == [0]
