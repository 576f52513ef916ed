"""AdaMomentum as a ``torch.optim.Optimizer`` (Algorithm 1 of the paper).

    m_t = b1 m_{t-1} + (1 - b1) g_t
    v_t = b2 v_{t-1} + (1 - b2) m_t^2 + eps        (eps accumulates in the stored v)
    theta_t = theta_{t-1} - lr * (m_t / (1 - b1^t)) / sqrt(v_t / (1 - b2^t))

The eps default is 1e-16, the released code's default (``wyzjack/AdaM3``). Because eps is
accumulated inside the EMA, the denominator never drops below sqrt(eps / (1 - b2)) =
sqrt(1e-13) ~ 3.2e-7 for b2 = 0.999: the same order as Adam's eps = 1e-8 floor, whereas
the paper's CIFAR setting eps = 1e-8 floors it at ~3.2e-3 (pass ``eps=1e-8`` to match those runs).

``amsgrad=True`` keeps the running max of the stored v (the ``adamomentum-max`` member).
Weight decay is coupled (L2: g += wd * theta) unless ``decoupled_weight_decay=True``
(theta *= 1 - lr * wd), as in ``torch.optim.Adam``.

NaN or inf in a gradient is not absorbed: it propagates into m, v and the parameter (an inf
gradient gives inf / inf = NaN in the update), exactly as ``torch.optim.Adam`` behaves, so a
diverged run is visible instead of silently continuing.

Conventions shared with ``torch.optim.Adam``: ``state["step"]`` is a float32 0-dim tensor (on
the parameter's device when ``capturable`` or ``fused``), so the step makes no host sync
under ``torch.compile`` and ``torch.compile(opt.step, fullgraph=True)`` compiles one graph; an
old state dict whose ``step`` is a Python number loads and steps. ``lr`` may be a 0-dim tensor
(not with ``foreach=True`` unless ``capturable=True``, as Adam). ``capturable`` keeps the
bias-correction arithmetic on the device (CUDA graphs); ``differentiable`` runs the step under
autograd (single-tensor path). Complex parameters are treated as ``torch.view_as_real``: the
real and imaginary parts are two real coordinates, each with its own m and v (so v gets
Re(m)^2 and Im(m)^2 separately, exactly as torch.optim's Adam).

``fused=True`` reads p, g, m, v once per element. On the CPU, float32 / float64 (and complex)
tensors go to a native multi-tensor C kernel (:mod:`theory.native`: one call per group, the step
counts and step sizes formed in it, bit for bit a reference loop of its IEEE operations; built with
gcc on first use). Everything else (CUDA, bfloat16, no C compiler, large tensors when torch has
several threads) runs one compiled single-pass kernel per chunk of tensors (``torch.compile`` of
the element-wise update, built lazily on first use and cached for the process; shapes are
dynamic, so one graph serves any sizes; the step counts, step sizes and decay factor of all
tensors are computed in a few device ops before the compiled calls, so the graph has no scalar
work per tensor). It is opt-in, as in torch.optim (``fused=None`` means the foreach or
single-tensor path, so nothing is compiled unless asked); if compilation fails it warns once
and falls back to the eager foreach path. Tensors it cannot take (non-contiguous, fewer than two
elements) go through the eager path in the same step. Its results equal the eager paths within
float32 rounding.

Defaults that differ from the released code (``wyzjack/AdaM3``): weight decay is coupled L2
here (as ``torch.optim.Adam``), whereas the released AdaM3 decouples it by default (pass
``decoupled_weight_decay=True`` to match it); ``eps = 1e-16`` is the released default;
``amsgrad=False`` as there.
"""
from __future__ import annotations

import math
import types
import warnings
from collections import defaultdict

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.optimizer import _get_scalar_dtype, _get_value

from theory import native
from theory.family import validate_hyper

__all__ = ["AdaMomentum", "adamomentum"]

DEFAULT_EPS = 1e-16
FUSED_CHUNK = 20  # tensors per compiled call: one graph for every chunk (padded with dummies)


class AdaMomentum(Optimizer):
    """AdaMomentum (Algorithm 1). See the module docstring for the update and conventions.

    Differences from the released ``wyzjack/AdaM3``: weight decay coupled (L2) by default
    (``decoupled_weight_decay=False``); the released code decouples it by default. ``eps=1e-16``
    matches the released default.
    """

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = DEFAULT_EPS,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        amsgrad: bool = False,
        maximize: bool = False,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        if isinstance(lr, Tensor):
            if lr.numel() != 1:
                raise ValueError("Invalid learning rate (lr): a tensor lr must have 1 element")
            if foreach and not capturable:
                raise ValueError("Invalid learning rate (lr): a tensor lr is not supported with "
                                 "foreach=True and capturable=False (as torch.optim.Adam)")
            validate_hyper(float(lr.detach()), betas, eps, weight_decay)
        else:
            validate_hyper(lr, betas, eps, weight_decay)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        if differentiable and foreach:
            raise RuntimeError("`foreach` does not support `differentiable` (foreach ops have no autograd)")
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("decoupled_weight_decay", False)
            group.setdefault("capturable", False)
            group.setdefault("differentiable", False)
            fused = group.setdefault("fused", None)
            for p in group["params"]:
                p_state = self.state.get(p, [])
                if len(p_state) != 0 and not torch.is_tensor(p_state["step"]):
                    # An old state dict with a Python-number step (as torch.optim.Adam converts it).
                    step_val = float(p_state["step"])
                    p_state["step"] = (
                        torch.tensor(step_val, dtype=_get_scalar_dtype(is_fused=fused), device=p.device)
                        if group["capturable"] or group["fused"]
                        else torch.tensor(step_val, dtype=_get_scalar_dtype()))

    def _init_group(self, group, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps):
        has_complex = False
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError("AdaMomentum does not support sparse gradients")
            has_complex |= torch.is_complex(p)
            params.append(p)
            grads.append(p.grad)
            state = self.state[p]
            if len(state) == 0:
                # As torch.optim.Adam: a float32 0-dim tensor, on the device when capturable/fused.
                state["step"] = (
                    torch.zeros((), dtype=_get_scalar_dtype(is_fused=group["fused"]), device=p.device)
                    if group["capturable"] or group["fused"]
                    else torch.tensor(0.0, dtype=_get_scalar_dtype()))
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                if group["amsgrad"]:
                    state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            elif not torch.is_tensor(state["step"]):
                # A Python-number step put in after loading: convert it, as __setstate__ does.
                state["step"] = torch.tensor(float(state["step"]), dtype=_get_scalar_dtype(),
                                             device=p.device if group["capturable"] or group["fused"] else "cpu")
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            if group["amsgrad"]:
                max_exp_avg_sqs.append(state["max_exp_avg_sq"])
            if group["differentiable"] and state["step"].requires_grad:
                raise RuntimeError("`requires_grad` is not supported for `step` in differentiable mode")
            if group["foreach"] and torch.is_tensor(group["lr"]) and not group["capturable"]:
                raise RuntimeError("lr as a Tensor is not supported for capturable=False and foreach=True")
            steps.append(state["step"])
        return has_complex

    def step(self, closure=None):
        """Perform one optimisation step; ``closure`` re-evaluates the loss under grad mode.

        Grad mode is off during the update unless ``differentiable=True`` (as torch.optim); a
        plain context manager rather than torch's decorator, whose graph breaks would stop
        ``torch.compile(opt.step, fullgraph=True)``."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.set_grad_enabled(self.defaults["differentiable"]):
            self._update()
        return loss

    def _update(self):
        for group in self.param_groups:
            params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps = [], [], [], [], [], []
            has_complex = self._init_group(group, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps)
            beta1, beta2 = group["betas"]
            adamomentum(
                params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps,
                foreach=group["foreach"],
                fused=group["fused"],
                capturable=group["capturable"],
                differentiable=group["differentiable"],
                has_complex=has_complex,
                amsgrad=group["amsgrad"],
                beta1=beta1,
                beta2=beta2,
                lr=group["lr"],
                weight_decay=group["weight_decay"],
                decoupled_weight_decay=group["decoupled_weight_decay"],
                eps=group["eps"],
                maximize=group["maximize"],
            )


def adamomentum(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    max_exp_avg_sqs: list[Tensor],
    state_steps: list[Tensor],
    *,
    foreach: bool | None = None,
    fused: bool | None = None,
    capturable: bool = False,
    differentiable: bool = False,
    has_complex: bool = False,
    amsgrad: bool,
    beta1: float,
    beta2: float,
    lr: float | Tensor,
    weight_decay: float,
    decoupled_weight_decay: bool,
    eps: float,
    maximize: bool,
) -> None:
    """Functional AdaMomentum: one signature; single-tensor, foreach and fused (compiled) paths."""
    if not torch.compiler.is_compiling() and not all(isinstance(t, Tensor) for t in state_steps):
        raise RuntimeError("`state_steps` must be a list of 0-dim tensors (as torch.optim)")
    if fused is None and foreach is None:
        # Same default as torch.optim: foreach on CUDA, single-tensor elsewhere (faster on the CPU).
        foreach = bool(params) and all(p.is_cuda for p in params) and not differentiable
        if foreach and isinstance(lr, Tensor) and not capturable:
            foreach = False
    if fused:
        impl = _fused
    elif foreach:
        impl = _multi_tensor
    else:
        impl = _single_tensor
    impl(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, amsgrad=amsgrad,
         beta1=beta1, beta2=beta2, lr=lr, weight_decay=weight_decay,
         decoupled_weight_decay=decoupled_weight_decay, eps=eps, maximize=maximize,
         capturable=capturable, differentiable=differentiable, has_complex=has_complex)


def _step_size(step, lr, beta1: float, beta2: float):
    # With eps inside v there is no outer eps, so sqrt(1 - b2^t) folds into the scalar:
    # lr * mhat / sqrt(v / bc2) = (lr * sqrt(bc2) / bc1) * m / sqrt(v): one pass fewer than Adam.
    # Floats in eager mode; tensors (no host sync) when capturable, differentiable or compiling.
    if isinstance(step, Tensor):
        return lr * (1 - beta2**step).sqrt() / (1 - beta1**step)
    return lr * math.sqrt(1 - beta2**step) / (1 - beta1**step)


def _real(x: Tensor) -> Tensor:
    return torch.view_as_real(x) if torch.is_complex(x) else x


def _single_tensor(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, *, amsgrad,
                   beta1, beta2, lr, weight_decay, decoupled_weight_decay, eps, maximize,
                   capturable=False, differentiable=False, has_complex=False):
    tensor_math = capturable or differentiable or torch.compiler.is_compiling()
    if not tensor_math and isinstance(lr, Tensor):
        lr = lr.item()
    for i, param in enumerate(params):
        grad = -grads[i] if maximize else grads[i]
        exp_avg, exp_avg_sq, step_t = exp_avgs[i], exp_avg_sqs[i], state_steps[i]
        step_t += 1
        if weight_decay != 0:
            if decoupled_weight_decay:
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)
        max_sq = max_exp_avg_sqs[i] if amsgrad else None
        if torch.is_complex(param):
            grad, exp_avg, exp_avg_sq, param = _real(grad), _real(exp_avg), _real(exp_avg_sq), _real(param)
            max_sq = _real(max_sq) if amsgrad else None
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(exp_avg, exp_avg, value=1 - beta2).add_(eps)
        if amsgrad:
            if differentiable:
                max_sq.copy_(torch.maximum(max_sq.clone(), exp_avg_sq))
            else:
                torch.maximum(max_sq, exp_avg_sq, out=max_sq)
            denom = max_sq.sqrt()
        else:
            denom = exp_avg_sq.sqrt()
        if tensor_math:
            step_size = _step_size(step_t if capturable or differentiable else _get_value(step_t),
                                   lr, beta1, beta2)
            if isinstance(step_size, Tensor):
                # addcdiv_'s value must be a Number: fold -step_size into the denominator (as Adam).
                denom = denom / step_size.neg()
                param.addcdiv_(exp_avg.clone() if differentiable else exp_avg, denom)
            else:
                param.addcdiv_(exp_avg.clone() if differentiable else exp_avg, denom, value=-step_size)
        else:
            param.addcdiv_(exp_avg, denom, value=-_step_size(step_t.item(), lr, beta1, beta2))


def _multi_tensor(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, *, amsgrad,
                  beta1, beta2, lr, weight_decay, decoupled_weight_decay, eps, maximize,
                  capturable=False, differentiable=False, has_complex=False):
    if not params:
        return
    if differentiable:
        raise RuntimeError("_foreach ops don't support autograd (differentiable=True needs foreach=False)")
    tensor_math = capturable or torch.compiler.is_compiling()
    if isinstance(lr, Tensor) and not capturable and not torch.compiler.is_compiling():
        raise RuntimeError("lr as a Tensor is not supported for capturable=False and foreach=True")
    groups = defaultdict(list)
    for i, p in enumerate(params):
        groups[(p.device, p.dtype)].append(i)
    for indices in groups.values():
        pick = (lambda xs: [xs[i] for i in indices])
        d_params, d_avgs, d_sqs, d_steps = pick(params), pick(exp_avgs), pick(exp_avg_sqs), pick(state_steps)
        d_grads = pick(grads)
        d_max = pick(max_exp_avg_sqs) if amsgrad else []
        if maximize:
            d_grads = torch._foreach_neg(d_grads)
        torch._foreach_add_(d_steps, 1)
        if weight_decay != 0:
            if decoupled_weight_decay:
                torch._foreach_mul_(d_params, 1 - lr * weight_decay)
            else:
                d_grads = torch._foreach_add(d_grads, d_params, alpha=weight_decay)
        if has_complex:
            d_params, d_grads, d_avgs, d_sqs = ([_real(x) for x in xs] for xs in (d_params, d_grads, d_avgs, d_sqs))
            d_max = [_real(x) for x in d_max]
        torch._foreach_lerp_(d_avgs, d_grads, 1 - beta1)
        torch._foreach_mul_(d_sqs, beta2)
        torch._foreach_addcmul_(d_sqs, d_avgs, d_avgs, 1 - beta2)
        torch._foreach_add_(d_sqs, eps)
        if amsgrad:
            torch._foreach_maximum_(d_max, d_sqs)
            denom = torch._foreach_sqrt(d_max)
        else:
            denom = torch._foreach_sqrt(d_sqs)
        if tensor_math:
            neg_sizes = [_step_size(s, lr, beta1, beta2).neg() for s in d_steps]
            torch._foreach_div_(denom, neg_sizes)
            torch._foreach_addcdiv_(d_params, d_avgs, denom)
        else:
            step_sizes = [-_step_size(s.item(), lr, beta1, beta2) for s in d_steps]
            torch._foreach_addcdiv_(d_params, d_avgs, denom, step_sizes)


# ----------------------------------------------------------------------------------------------
# Fused path: one compiled single-pass update per chunk of FUSED_CHUNK tensors.

def _fused_chunk(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step_sizes, decay, *, amsgrad,
                 beta1, beta2, weight_decay, decoupled_weight_decay, eps, maximize):
    """Plain tensor code that torch.compile turns into one loop per tensor (read p, g, m, v once,
    write p, m, v once). The per-tensor step sizes (``step_sizes``, one tensor of the chunk's
    length) and the decoupled decay factor ``decay`` are computed before the call, in float64 (see
    :func:`_fused`): the graph holds only the element-wise update, so nothing in it depends on the
    step count or the learning rate and one graph serves every step."""
    for i in range(len(params)):
        p, g, m, v = params[i], grads[i], exp_avgs[i], exp_avg_sqs[i]
        step_size = step_sizes[i]
        if maximize:
            g = -g
        if weight_decay != 0:
            if decoupled_weight_decay:
                p_base = p * decay
            else:
                g = g + weight_decay * p
                p_base = p
        else:
            p_base = p
        m_new = torch.lerp(m, g, 1 - beta1)
        v_new = v * beta2 + (1 - beta2) * (m_new * m_new) + eps
        m.copy_(m_new)
        v.copy_(v_new)
        if amsgrad:
            vmax = torch.maximum(max_exp_avg_sqs[i], v_new)
            max_exp_avg_sqs[i].copy_(vmax)
            denom = vmax.sqrt()
        else:
            denom = v_new.sqrt()
        p.copy_(p_base - step_size * (m_new / denom))


_COMPILED: dict = {"fns": {}, "failed": False}
_DUMMIES: dict = {}


def _compiled_chunk(key):
    """The compiled update for one (device, dtype, flags) combination. Each gets its own copy of
    the code object: dynamo keeps graphs per code object, under one recompile limit (8), so a
    process using more combinations (dtypes, amsgrad, weight decay modes) would otherwise run out;
    this way each combination compiles once and none evicts another."""
    fn = _COMPILED["fns"].get(key)
    if fn is None:
        src = _fused_chunk
        copy = types.FunctionType(src.__code__.replace(), src.__globals__, src.__name__, src.__defaults__,
                                  src.__closure__)
        copy.__kwdefaults__ = src.__kwdefaults__
        fn = _COMPILED["fns"][key] = torch.compile(copy, fullgraph=True, dynamic=True)
    return fn


def _flat(x: Tensor) -> Tensor:
    """x as a real 1-D tensor; x itself when it already is one (no new view object per tensor and
    call: the compiled call's inputs are then the parameters and buffers themselves)."""
    if x.dim() == 1 and not torch.is_complex(x):
        return x
    return _real(x).view(-1)


def _dummy(device, dtype, n, amsgrad):
    """Padding tensors (2 elements: sizes 0 and 1 would be specialised) so every call has
    FUSED_CHUNK tensors and reuses one graph."""
    key = (device, dtype, n)
    if key not in _DUMMIES:
        make = lambda: [torch.zeros(2, device=device, dtype=dtype) for _ in range(n)]  # noqa: E731
        _DUMMIES[key] = (make(), make(), make(), [x + 1 for x in make()], make())
    return _DUMMIES[key]


NATIVE_PER_THREAD = 1 << 17  # above this many elements per tensor, torch's threads beat one C loop
_STEP_DTYPES = (torch.float32, torch.float64)
_COMPLEX = (torch.complex64, torch.complex128)
# the dtypes the native kernel takes -> the real dtype it computes in
_REAL = {torch.float32: torch.float32, torch.float64: torch.float64, torch.complex64: torch.float32,
         torch.complex128: torch.float64}
_PLAIN = (Tensor, torch.nn.Parameter)  # subclasses (DTensor, wrappers) may not own plain memory


def _native_update(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, *, amsgrad, lr,
                   beta1, beta2, weight_decay, decoupled_weight_decay, eps, maximize) -> list[int]:
    """Update every tensor the native kernel (theory.native) can take exactly as the other routes
    would: plain contiguous CPU float32 / float64 tensors (complex as its real view, not
    conjugated), state of the parameter's size, a grad that is not the parameter's memory, a float32
    or float64 step counter on the CPU, nothing autograd would track, and (with more than one
    intra-op thread) at most NATIVE_PER_THREAD elements. Returns the indices it left."""
    threaded = torch.get_num_threads() > 1
    tracking = torch.is_grad_enabled()
    groups, left = {}, []  # (dtype, step dtype) -> [indices, sizes, pointers of p, g, m, v, vmax, step]
    for i, p in enumerate(params):
        g, m, v, k = grads[i], exp_avgs[i], exp_avg_sqs[i], state_steps[i]
        dtype, n = p.dtype, p.numel()
        # cheap checks first (``is_cpu``, not ``device.type``: this runs per tensor and step)
        ok = (dtype in _REAL and type(p) in _PLAIN and type(g) in _PLAIN and p.is_cpu and g.is_cpu
              and m.is_cpu and v.is_cpu and k.is_cpu and k.dtype in _STEP_DTYPES and k.numel() == 1
              and g.dtype == dtype and m.dtype == dtype and v.dtype == dtype
              and g.numel() == n and m.numel() == n and v.numel() == n
              and p.is_contiguous() and g.is_contiguous() and m.is_contiguous() and v.is_contiguous()
              and not (threaded and n > NATIVE_PER_THREAD)
              and not (tracking and (p.requires_grad or m.requires_grad or v.requires_grad))
              and not (dtype in _COMPLEX and (p.is_conj() or g.is_conj() or m.is_conj() or v.is_conj())))
        x = max_exp_avg_sqs[i] if amsgrad else None
        if ok and amsgrad:
            ok = (x.dtype == dtype and x.is_cpu and x.numel() == n and x.is_contiguous()
                  and not (dtype in _COMPLEX and x.is_conj()))
        if ok:
            p_ptr, g_ptr = p.data_ptr(), g.data_ptr()
            ok = g_ptr != p_ptr  # a grad that is the parameter's memory: the eager order matters
        if not ok:
            left.append(i)
            continue
        rows = groups.get((dtype, k.dtype))
        if rows is None:
            rows = groups[(dtype, k.dtype)] = []
        rows.append((i, 2 * n if dtype in _COMPLEX else n, p_ptr, g_ptr, m.data_ptr(), v.data_ptr(),
                     x.data_ptr() if amsgrad else 0, k.data_ptr()))
    if not groups:
        return left
    lr = float(lr)
    written = [params, exp_avgs, exp_avg_sqs, state_steps] + ([max_exp_avg_sqs] if amsgrad else [])
    for (dtype, step_dtype), rows in groups.items():
        idx, sizes, *pointers = zip(*rows)  # one row per tensor -> one column per argument
        native.step_pointers(_REAL[dtype], sizes, *pointers, step_is_double=step_dtype == torch.float64, lr=lr,
                             beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                             maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        # written through raw pointers: bump the version counters as in-place ops would, so autograd
        # still refuses a backward through a graph that saved the old values
        every = len(idx) == len(params)
        for tensors in written:
            torch.autograd.graph.increment_version(tensors if every else [tensors[i] for i in idx])
    return left


def _fused(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, *, amsgrad,
           beta1, beta2, lr, weight_decay, decoupled_weight_decay, eps, maximize,
           capturable=False, differentiable=False, has_complex=False):
    if not params:
        return
    if differentiable:
        raise RuntimeError("`fused` does not support `differentiable`")
    flags = dict(amsgrad=amsgrad, beta1=beta1, beta2=beta2, weight_decay=weight_decay,
                 decoupled_weight_decay=decoupled_weight_decay, eps=eps, maximize=maximize)
    if torch.compiler.is_compiling():
        # The caller is already being compiled (torch.compile(opt.step)): inductor fuses the
        # foreach ops of the eager path into one pass itself.
        _multi_tensor(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, lr=lr,
                      capturable=capturable, has_complex=has_complex, **flags)
        return
    if params[0].device.type == "cpu" and native.kernel() is not None:
        left = _native_update(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, lr=lr, **flags)
        if not left:
            return
        if len(left) < len(params):
            pick = lambda xs: [xs[i] for i in left]  # noqa: E731
            params, grads, exp_avgs, exp_avg_sqs, state_steps = (
                pick(params), pick(grads), pick(exp_avgs), pick(exp_avg_sqs), pick(state_steps))
            max_exp_avg_sqs = pick(max_exp_avg_sqs) if amsgrad else max_exp_avg_sqs
    eager = []
    chunks = defaultdict(list)
    for i, p in enumerate(params):
        tensors = (p, grads[i], exp_avgs[i], exp_avg_sqs[i]) + ((max_exp_avg_sqs[i],) if amsgrad else ())
        ok = (not _COMPILED["failed"] and (p.dtype.is_floating_point or p.is_complex())
              and _real(p).numel() >= 2 and state_steps[i].device == p.device
              and all(t.is_contiguous() and t.dtype == p.dtype and t.device == p.device for t in tensors))
        if ok:
            real = torch.view_as_real(p).dtype if torch.is_complex(p) else p.dtype
            chunks[(p.device, real)].append(i)
        else:
            eager.append(i)
    for (device, dtype), indices in chunks.items():
        lr_t = (lr.detach().to(device=device, dtype=torch.float64) if isinstance(lr, Tensor)
                else torch.tensor(lr, dtype=torch.float64, device=device))
        steps = [state_steps[i] for i in indices]
        # The scalar work of the whole group in a few ops outside the graph, on the device (no host
        # sync): each tensor's step count, bias-corrected step size (float64, then the dtype) and
        # the decoupled decay factor; chunks padded with dummies get step size 0.
        torch._foreach_add_(steps, 1)
        t = torch.stack(steps).to(torch.float64)
        sizes = (lr_t * (1 - beta2**t).sqrt() / (1 - beta1**t)).to(dtype)
        sizes = torch.cat([sizes, sizes.new_zeros(-len(indices) % FUSED_CHUNK)]).view(-1, FUSED_CHUNK)
        decay = (1 - lr_t * weight_decay).to(dtype)
        for c, start in enumerate(range(0, len(indices), FUSED_CHUNK)):
            idx = indices[start:start + FUSED_CHUNK]
            pad = FUSED_CHUNK - len(idx)
            flat = lambda xs: [_flat(xs[i]) for i in idx]  # noqa: E731
            args = [flat(params), flat(grads), flat(exp_avgs), flat(exp_avg_sqs),
                    flat(max_exp_avg_sqs) if amsgrad else []]
            if pad:
                for k, extra in enumerate(_dummy(device, dtype, pad, amsgrad)):
                    if k < 4 or amsgrad:
                        args[k] = args[k] + list(extra)
            try:
                # a fresh row (offset 0): a view at another storage offset would be another guard
                _compiled_chunk((device, dtype, tuple(sorted(flags.items()))))(
                    *args, sizes[c].clone(), decay, **flags)
            except Exception as exc:  # compiler missing or failing: warn once, go eager
                if start != 0 or _COMPILED["failed"]:
                    raise
                _COMPILED["failed"] = True
                warnings.warn(f"AdaMomentum(fused=True): torch.compile failed ({type(exc).__name__}: {exc}); "
                              "using the eager foreach path", RuntimeWarning, stacklevel=3)
                torch._foreach_sub_(steps, 1)  # the eager path counts the step itself
                eager.extend(indices)
                break
    if eager:
        eager.sort()
        pick = lambda xs: [xs[i] for i in eager]  # noqa: E731
        _multi_tensor(pick(params), pick(grads), pick(exp_avgs), pick(exp_avg_sqs),
                      pick(max_exp_avg_sqs) if amsgrad else [], pick(state_steps), amsgrad=amsgrad,
                      beta1=beta1, beta2=beta2, lr=lr if not isinstance(lr, Tensor) else lr.item(),
                      weight_decay=weight_decay, decoupled_weight_decay=decoupled_weight_decay,
                      eps=eps, maximize=maximize, capturable=False, has_complex=has_complex)
