"""The discrete escape step of a registry member in one native (C) call per step, on the CPU.

Why (issue 13): per step, the torch path of ``simulate.py`` runs about twenty-five elementwise torch
ops over the alive rows (the basin gradient, the noisy gradient, :func:`theory.family.step_`, the
inside test, the exit bookkeeping), each a dispatch and a pass over memory; with 2e4 paths that was
about 50 ns per path-step next to the sampler's 11-19 ns. This kernel does all of it in one pass per
chunk of rows, while the chunk is in cache.

It is the torch path operation for operation, so its results are bit for bit that path's
(``tests/test_escape_native.py`` compares whole simulations: exit steps, path-steps, every
monitor value; float32 and float64; every plain registry member):

* every scalar is the Python float the torch path hands to an op, rounded to the tensor's dtype
  where torch rounds a Python scalar operand (``m.mul_(b1)`` is m times float32(b1) on a float32
  tensor), and computed in Python exactly as :func:`theory.family.step_` computes it;
* each operation is one IEEE operation (``theory.cbuild.STRICT_FLAGS``: no fma contraction, no
  fast-math), in the order of the torch expressions (``mhat_scale * m / denom`` is (m s) / d);
  torch's vectorised add of ``alpha = 1`` is fma(b, 1, a), which is a + b rounded once.

Where it does not apply (:func:`unsupported` says why: not a plain registry member of eq. (2), a
weight decay or a tensor hyperparameter, another device or dtype, no C compiler) the torch path runs.
"""
from __future__ import annotations

import ctypes
import functools
from typing import Any

import torch

from theory.cbuild import STRICT_FLAGS, SharedLibrary, torch_cpu_link

SOURCE = r"""
#include <math.h>
#include <stdint.h>

/* torch.sqrt on the CPU is MKL's vector sqrt in torch's mode (VML_HA | VML_FTZDAZ_OFF |
   VML_ERRMODE_IGNORE), not the correctly rounded instruction: the same function, from libtorch_cpu. */
#define VML_MODE (0x2LL | 0x140000LL | 0x100LL)
void vmsSqrt(int64_t, const float *, float *, long long);
void vmdSqrt(int64_t, const double *, double *, long long);

/* One step's settings: the flags of the member, and the Python floats of the torch path. */
typedef struct {
    int64_t rows, dim, xi_stride, clock;  /* clock > 0: the clock's step k; 0: warm-up (restart) */
    int32_t momentum, k, yogi, eps_mode, max_v, use_bc;
    double sigma, b1, omb1, b2, omb2, lr, eps, mhat_scale, bc2, bc2_root, right, neg_left;
} step_c;

enum { CAP = 1024 };  /* elements per chunk: the chunk's arrays stay in L1 */

/* momentum: 0 ema, 1 heavy-ball, 2 none. k: 0 grad, 1 momentum, 2 belief, 3 none (not adaptive).
   eps_mode: 0 outside, 1 inside, 2 both, 3 outside-raw, 4 none. Each loop below is one torch op
   (or a few in its order); the branches are outside the loops, so each loop vectorises. */
#define DEFINE_STEP(NAME, T, VSQRT)                                                               \
void NAME(const step_c *c, T *restrict theta, const T *restrict xi, T *restrict m, T *restrict v, \
          T *restrict vmax, const T *restrict c_left, const T *restrict c_right,                 \
          const T *restrict start, int64_t *restrict row_exit) {                                  \
    const int64_t dim = c->dim, rb = CAP / dim, stride = c->xi_stride;                            \
    const int momentum = c->momentum, kind = c->k, yogi = c->yogi, eps_mode = c->eps_mode;        \
    const int use_bc = c->use_bc;                                                                 \
    const T sigma = (T)c->sigma, b1 = (T)c->b1, omb1 = (T)c->omb1, b2 = (T)c->b2;                 \
    const T omb2 = (T)c->omb2, lr = (T)c->lr, eps = (T)c->eps, mhat = (T)c->mhat_scale;           \
    const T bc2 = (T)c->bc2, bc2_root = (T)c->bc2_root, right = (T)c->right;                      \
    const T neg_left = (T)c->neg_left;                                                            \
    T g[CAP], kb[CAP], den[CAP];                                                                  \
    for (int64_t r0 = 0; r0 < c->rows; r0 += rb) {                                                \
        const int64_t nr = c->rows - r0 < rb ? c->rows - r0 : rb, ne = nr * dim;                  \
        T *restrict th = theta + r0 * dim, *restrict mm = m + r0 * dim;                           \
        T *restrict vv = v ? v + r0 * dim : 0, *restrict vx = vmax ? vmax + r0 * dim : 0;         \
        const T *restrict x = xi + r0 * stride;                                                   \
        /* g = basin_grad(theta) + sigma * xi: where(theta > 0, c_right, c_left) * theta */       \
        if (dim == 1) {                                                                           \
            const T cl = c_left[0], cr = c_right[0];                                              \
            for (int64_t i = 0; i < ne; ++i) {                                                    \
                T t = th[i];                                                                      \
                T grad = (t > 0 ? cr : cl) * t;                                                   \
                g[i] = grad + x[i * stride] * sigma;                                              \
            }                                                                                     \
        } else {                                                                                  \
            for (int64_t r = 0; r < nr; ++r)                                                      \
                for (int64_t d = 0; d < dim; ++d) {                                               \
                    T t = th[r * dim + d];                                                        \
                    T grad = (t > 0 ? c_right[d] : c_left[d]) * t;                                \
                    g[r * dim + d] = grad + x[r * stride + d] * sigma;                            \
                }                                                                                 \
        }                                                                                         \
        if (momentum == 0)                                                                        \
            for (int64_t i = 0; i < ne; ++i) { T a = mm[i] * b1; mm[i] = a + g[i] * omb1; }       \
        else if (momentum == 1)                                                                   \
            for (int64_t i = 0; i < ne; ++i) { T a = mm[i] * b1; mm[i] = a + g[i]; }              \
        else                                                                                      \
            for (int64_t i = 0; i < ne; ++i) mm[i] = g[i];                                        \
        if (kind == 3) {  /* params.sub_(lr * m) */                                               \
            for (int64_t i = 0; i < ne; ++i) th[i] = th[i] - mm[i] * lr;                          \
        } else {                                                                                  \
            const T *restrict kk = kind == 0 ? g : kind == 1 ? mm : kb;                           \
            if (kind == 2)                                                                        \
                for (int64_t i = 0; i < ne; ++i) kb[i] = g[i] - mm[i];                            \
            if (yogi)  /* v.sub_(sign(v - k k) * (k k) * (1 - b2)) */                             \
                for (int64_t i = 0; i < ne; ++i) {                                                \
                    T q = kk[i] * kk[i], d = vv[i] - q;                                           \
                    T s = (T)((0 < d) - (d < 0));                                                 \
                    T u = s * q;                                                                  \
                    vv[i] = vv[i] - u * omb2;                                                     \
                }                                                                                 \
            else  /* v.mul_(b2).add_(k * k * (1 - b2)) */                                         \
                for (int64_t i = 0; i < ne; ++i) {                                                \
                    T a = vv[i] * b2, q = kk[i] * kk[i];                                          \
                    vv[i] = a + q * omb2;                                                         \
                }                                                                                 \
            if (eps_mode == 1 || eps_mode == 2)                                                   \
                for (int64_t i = 0; i < ne; ++i) vv[i] = vv[i] + eps;                             \
            const T *restrict vs = vv;                                                            \
            if (vx) {  /* torch.maximum(v_max, v): NaN if either is; b where a == b */            \
                for (int64_t i = 0; i < ne; ++i) {                                                \
                    T a = vx[i], b = vv[i];                                                       \
                    vx[i] = (a != a || b != b) ? a + b : (a > b ? a : b);                         \
                }                                                                                 \
                vs = vx;                                                                          \
            }                                                                                     \
            if (eps_mode == 3) {  /* (sqrt(v) + eps) / (1 - b2^t) ** 0.5 */                       \
                VSQRT(ne, vs, den, VML_MODE);                                                     \
                for (int64_t i = 0; i < ne; ++i) {                                                \
                    T d = den[i] + eps;                                                           \
                    den[i] = use_bc ? d / bc2_root : d;                                           \
                }                                                                                 \
            } else {  /* sqrt(v / (1 - b2^t)) [+ eps] */                                          \
                for (int64_t i = 0; i < ne; ++i) kb[i] = use_bc ? vs[i] / bc2 : vs[i];            \
                VSQRT(ne, kb, den, VML_MODE);                                                     \
                if (eps_mode == 0 || eps_mode == 2)                                               \
                    for (int64_t i = 0; i < ne; ++i) den[i] = den[i] + eps;                       \
            }                                                                                     \
            for (int64_t i = 0; i < ne; ++i) {  /* params.sub_(mhat_scale * m / denom) */         \
                T s = mm[i] * mhat;                                                               \
                th[i] = th[i] - s / den[i];                                                       \
            }                                                                                     \
        }                                                                                         \
        /* ~inside(theta); then the clock's first exit, or in the warm-up a restart */           \
        if (dim == 1) {  /* branch-free, so it vectorises */                                      \
            int64_t *restrict ex = row_exit + r0;                                                 \
            const int64_t clock = c->clock;                                                       \
            const T s0 = start[0];                                                                \
            if (clock > 0)                                                                        \
                for (int64_t i = 0; i < ne; ++i) {                                                \
                    const int out = !((th[i] < right) & (th[i] > neg_left));                      \
                    ex[i] = (out & (ex[i] == 0)) ? clock : ex[i];                                 \
                }                                                                                 \
            else                                                                                  \
                for (int64_t i = 0; i < ne; ++i) {                                                \
                    const int out = !((th[i] < right) & (th[i] > neg_left));                      \
                    th[i] = out ? s0 : th[i];                                                     \
                }                                                                                 \
            continue;                                                                             \
        }                                                                                         \
        for (int64_t r = 0; r < nr; ++r) {                                                        \
            int in = 1;                                                                           \
            for (int64_t d = 0; d < dim; ++d) {                                                   \
                T t = th[r * dim + d];                                                            \
                in &= (t < right) & (t > neg_left);                                               \
            }                                                                                     \
            if (in) continue;                                                                     \
            if (c->clock > 0) {                                                                   \
                if (row_exit[r0 + r] == 0) row_exit[r0 + r] = c->clock;                           \
            } else {                                                                              \
                for (int64_t d = 0; d < dim; ++d) th[r * dim + d] = start[d];                     \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
}

DEFINE_STEP(escape_step_f32, float, vmsSqrt)
DEFINE_STEP(escape_step_f64, double, vmdSqrt)
"""

MAX_DIM = 1024  # the kernel's chunk holds at least one row


class StepSettings(ctypes.Structure):
    """``step_c``: the member's flags and the scalars of one step."""
    _fields_ = [*((name, ctypes.c_int64) for name in ("rows", "dim", "xi_stride", "clock")),
                *((name, ctypes.c_int32) for name in ("momentum", "k", "yogi", "eps_mode", "max_v", "use_bc")),
                *((name, ctypes.c_double) for name in ("sigma", "b1", "omb1", "b2", "omb2", "lr", "eps",
                                                       "mhat_scale", "bc2", "bc2_root", "right", "neg_left"))]


def _declare(lib: ctypes.CDLL) -> None:
    for fn in (lib.escape_step_f32, lib.escape_step_f64):
        fn.argtypes = [ctypes.c_void_p] * 10
        fn.restype = None


@functools.cache
def library() -> SharedLibrary | None:
    """The kernel's library description (None without MKL in torch: then torch.sqrt is another function)."""
    if not torch.backends.mkl.is_available():
        return None
    return SharedLibrary("escape_step", SOURCE, STRICT_FLAGS, torch_cpu_link(), _declare)


def kernel() -> ctypes.CDLL | None:
    lib = library()
    return lib.get() if lib is not None else None


MOMENTUM = {"ema": 0, "heavy-ball": 1, "none": 2}
SECOND_MOMENT = {"grad": 0, "momentum": 1, "belief": 2}
EPS_MODE = {"outside": 0, "inside": 1, "both": 2, "outside-raw": 3, "none": 4}
HYPER_FLOATS = ("lr", "beta1", "beta2", "eps", "weight_decay")


def unsupported(rule: Any, hyper: Any, device: torch.device, dtype: torch.dtype, dim: int) -> str | None:
    """Why the native step cannot run ``rule`` here (None: it can)."""
    from theory.rule import FamilyRule

    if not isinstance(rule, FamilyRule) or type(rule).step is not FamilyRule.step:
        return "not a registry member of eq. (2) (the native step is theory.family.step_)"
    member = rule.member
    if not member._plain_update:
        return f"{member.name}: rectified or clipped step (not eq. (2)'s a_t q m / R)"
    if member.momentum not in MOMENTUM or (member.adaptive and member.k not in SECOND_MOMENT):
        return f"{member.name}: momentum {member.momentum!r} / k {member.k!r}"
    if member.eps_mode not in EPS_MODE or member.v_update not in ("ema", "yogi"):
        return f"{member.name}: eps_mode {member.eps_mode!r} / v_update {member.v_update!r}"
    if any(isinstance(getattr(hyper, name), torch.Tensor) for name in HYPER_FLOATS):
        return "a tensor hyperparameter (per-run values)"
    if hyper.weight_decay != 0.0:
        return "weight decay"
    if device.type != "cpu" or dtype not in (torch.float32, torch.float64):
        return f"{device.type} {dtype} (the native step is float32 / float64 on the CPU)"
    if not 1 <= dim <= MAX_DIM:
        return f"dimension {dim} (at most {MAX_DIM})"
    if kernel() is None:
        return "torch here has no MKL" if library() is None else library().why_not()
    return None


class DiscreteStep:
    """:func:`theory.family.step_` on g = basin_grad(theta) + sigma xi, then the inside test and the
    exit bookkeeping (or, in the warm-up, the restart), for every alive row, in one native call."""

    def __init__(self, rule: Any, hyper: Any, sigma: float, basin: Any, dtype: torch.dtype):
        member = rule.member
        self.hyper = hyper
        self.fn = kernel().escape_step_f32 if dtype == torch.float32 else kernel().escape_step_f64
        self.dtype = dtype
        s = self.settings = StepSettings()
        s.momentum = MOMENTUM[member.momentum]
        s.k = SECOND_MOMENT[member.k] if member.adaptive else 3
        s.yogi, s.max_v = int(member.v_update == "yogi"), int(member.max_v)
        s.eps_mode = EPS_MODE[member.eps_mode]
        s.use_bc = int(member.bias_correction and hyper.bias_correction)
        s.sigma, s.b2, s.omb2, s.eps = sigma, hyper.beta2, 1 - hyper.beta2, hyper.eps
        s.right, s.neg_left = basin.right, -basin.left
        self._ptr = ctypes.byref(s)

    def __call__(self, state: Any, theta: torch.Tensor, xi: torch.Tensor, clock: int, row_exit: torch.Tensor,
                 start_row: torch.Tensor, c_left: torch.Tensor, c_right: torch.Tensor) -> bool:
        """One step in place (state, theta, row_exit); False (nothing done) where the tensors are not
        in the kernel's layout, and the caller runs the torch path."""
        tensors = (theta, state.m) + tuple(x for x in (state.v, state.v_max) if x is not None)
        if any(x.dtype != self.dtype or not x.is_contiguous() for x in tensors) or xi.dtype != self.dtype \
                or xi.dim() != 2 or xi.stride(1) != 1 or xi.shape != theta.shape:
            return False
        hyper, s = self.hyper, self.settings
        # exactly theory.family.step_'s scalars (every one a Python float)
        t = state.step = state.step + 1
        lr, b1 = hyper.lr_at(t), hyper.beta1_at(t)
        s.rows, s.dim = theta.shape
        s.xi_stride, s.clock = xi.stride(0), clock
        s.lr, s.b1, s.omb1 = lr, b1, 1 - b1
        s.mhat_scale = lr / (1 - hyper.beta1**t) if s.use_bc else lr
        s.bc2 = 1 - hyper.beta2**t
        s.bc2_root = (1 - hyper.beta2**t) ** 0.5
        ptr = (lambda x: None if x is None else x.data_ptr())
        self.fn(self._ptr, theta.data_ptr(), xi.data_ptr(), state.m.data_ptr(), ptr(state.v), ptr(state.v_max),
                c_left.data_ptr(), c_right.data_ptr(), start_row.data_ptr(), row_exit.data_ptr())
        return True
