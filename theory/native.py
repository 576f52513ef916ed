"""A native (C) multi-tensor AdaMomentum step for the CPU: every tensor of a group in one call.

Why: on the CPU, ``torch.optim.Adam(fused=True)`` updates all its tensors in one C++ call, while a
torch.compile'd graph pays guards and a launch per call and the foreach path one dispatch per tensor
and op (issue 13: 2.8x fused Adam on 1000 tensors of 1000 elements). This kernel reads p, g, m, v
(and the running max) once and writes p, m, v once, per element, for a whole list of tensors, from
their data pointers; its loop is compiled with gcc at ``-O3`` and auto-vectorised.

The arithmetic is the fused path's (:func:`theory.optim._fused_chunk`), operation for operation, in
the parameter's dtype (float32 or float64): m = lerp(m, g, 1 - b1) (torch's lerp: m + w (g - m) for
w = 1 - b1 < 1/2, g - (g - m)(1 - w) otherwise), v = v b2 + (1 - b2)(m m) + eps, the running max for amsgrad,
p = p_base - s (m / sqrt(v)) with the per-tensor step size s computed beforehand. It is compiled with
``-ffp-contract=off`` and without fast-math, so every operation is one IEEE operation, correctly
rounded (no fma): the result is bit for bit the float64 reference loop of the same operations, which
``tests/test_optim_native.py`` checks, and equal to the eager paths within float rounding.

The shared object is built on first use by :mod:`theory.cbuild` (a per-user cache folder, named by a
hash of the source, the flags, the compiler and the CPU) and loaded with ctypes. Without a C
compiler :func:`kernel` returns None and the caller keeps its compiled path (see
:func:`theory.optim._fused`).
"""
from __future__ import annotations

import ctypes

import numpy as np
import torch

from theory.cbuild import STRICT_FLAGS, SharedLibrary

SOURCE = r"""
#include <math.h>
#include <stdint.h>

/* One tensor's update; the flags are compile-time constants at every call site below, so gcc
   emits a branch-free, vectorised loop per combination. */
#define DEFINE_TENSOR(NAME, T, SQRT)                                                           \
static inline __attribute__((always_inline)) void NAME(                                        \
        int64_t n, T *restrict p, const T *restrict g, T *restrict m, T *restrict v,           \
        T *restrict vmax, T s, T decay, T w, T beta2, T omb2, T eps, T wd,                     \
        const int amsgrad, const int maximize, const int wd_mode) {                            \
    const T omw = (T)1 - w;                                                                    \
    for (int64_t i = 0; i < n; ++i) {                                                          \
        T gi = maximize ? -g[i] : g[i];                                                        \
        T pb = p[i];                                                                           \
        if (wd_mode == 2) pb = p[i] * decay;                                                   \
        if (wd_mode == 1) gi = gi + wd * p[i];                                                 \
        T diff = gi - m[i];                                                                    \
        T mi = w < (T)0.5 ? m[i] + w * diff : gi - diff * omw;                                 \
        T vi = v[i] * beta2;                                                                   \
        vi = vi + omb2 * (mi * mi);                                                            \
        vi = vi + eps;                                                                         \
        m[i] = mi;                                                                             \
        v[i] = vi;                                                                             \
        if (amsgrad) {                                                                         \
            T vm = vmax[i];                                                                    \
            vm = (vi > vm || vi != vi) ? vi : vm;                                              \
            vmax[i] = vm;                                                                      \
            vi = vm;                                                                           \
        }                                                                                      \
        p[i] = pb - s * (mi / SQRT(vi));                                                       \
    }                                                                                          \
}

/* Every tensor of a group: the step counter (a float32 or float64 0-dim tensor) is incremented
   and the bias-corrected step size lr sqrt(1 - b2^t) / (1 - b1^t) formed in double, then T. */
#define DEFINE_STEP(NAME, TENSOR, T)                                                           \
void NAME(int64_t count, const int64_t *sizes, const int64_t *p_ptr, const int64_t *g_ptr,      \
          const int64_t *m_ptr, const int64_t *v_ptr, const int64_t *vmax_ptr,                 \
          const int64_t *step_ptr, int step_is_double, double lr, double beta1, double beta2d, \
          T decay, T w, T beta2, T omb2, T eps, T wd, int amsgrad, int maximize, int wd_mode) { \
    for (int64_t t = 0; t < count; ++t) {                                                      \
        double k;                                                                              \
        if (step_is_double) { double *c = (double *)step_ptr[t]; *c = *c + 1.0; k = *c; }      \
        else { float *c = (float *)step_ptr[t]; *c = *c + 1.0f; k = (double)*c; }              \
        T s = (T)(lr * sqrt(1.0 - pow(beta2d, k)) / (1.0 - pow(beta1, k)));                    \
        T *p = (T *)p_ptr[t], *m = (T *)m_ptr[t], *v = (T *)v_ptr[t];                          \
        const T *g = (const T *)g_ptr[t];                                                      \
        T *vmax = amsgrad ? (T *)vmax_ptr[t] : (T *)0;                                         \
        int64_t n = sizes[t];                                                                  \
        int key = amsgrad * 6 + maximize * 3 + wd_mode;                                        \
        switch (key) {                                                                         \
        case 0: TENSOR(n, p, g, m, v, vmax, s, decay, w, beta2, omb2, eps, wd, 0, 0, 0); break; \
        case 1: TENSOR(n, p, g, m, v, vmax, s, decay, w, beta2, omb2, eps, wd, 0, 0, 1); break; \
        case 2: TENSOR(n, p, g, m, v, vmax, s, decay, w, beta2, omb2, eps, wd, 0, 0, 2); break; \
        case 3: TENSOR(n, p, g, m, v, vmax, s, decay, w, beta2, omb2, eps, wd, 0, 1, 0); break; \
        case 4: TENSOR(n, p, g, m, v, vmax, s, decay, w, beta2, omb2, eps, wd, 0, 1, 1); break; \
        case 5: TENSOR(n, p, g, m, v, vmax, s, decay, w, beta2, omb2, eps, wd, 0, 1, 2); break; \
        case 6: TENSOR(n, p, g, m, v, vmax, s, decay, w, beta2, omb2, eps, wd, 1, 0, 0); break; \
        case 7: TENSOR(n, p, g, m, v, vmax, s, decay, w, beta2, omb2, eps, wd, 1, 0, 1); break; \
        case 8: TENSOR(n, p, g, m, v, vmax, s, decay, w, beta2, omb2, eps, wd, 1, 0, 2); break; \
        case 9: TENSOR(n, p, g, m, v, vmax, s, decay, w, beta2, omb2, eps, wd, 1, 1, 0); break; \
        case 10: TENSOR(n, p, g, m, v, vmax, s, decay, w, beta2, omb2, eps, wd, 1, 1, 1); break; \
        default: TENSOR(n, p, g, m, v, vmax, s, decay, w, beta2, omb2, eps, wd, 1, 1, 2); break; \
        }                                                                                      \
    }                                                                                          \
}

DEFINE_TENSOR(tensor_f32, float, sqrtf)
DEFINE_TENSOR(tensor_f64, double, sqrt)
DEFINE_STEP(adamomentum_step_f32, tensor_f32, float)
DEFINE_STEP(adamomentum_step_f64, tensor_f64, double)
"""
DTYPES = {torch.float32: ("adamomentum_step_f32", ctypes.c_float),
          torch.float64: ("adamomentum_step_f64", ctypes.c_double)}

def _declare(lib: ctypes.CDLL) -> None:
    for name, scalar in DTYPES.values():
        fn = getattr(lib, name)
        fn.restype = None
        fn.argtypes = ([ctypes.c_int64] + [ctypes.c_void_p] * 7 + [ctypes.c_int] + [ctypes.c_double] * 3
                       + [scalar] * 6 + [ctypes.c_int] * 3)


LIBRARY = SharedLibrary("adamomentum_step", SOURCE, STRICT_FLAGS, ["-lm"], _declare)


def kernel() -> ctypes.CDLL | None:
    """The loaded library (built on first use), or None where it cannot be built (see :func:`why_not`)."""
    return LIBRARY.get()


def why_not() -> str | None:
    """Why the native kernel is unavailable (None when it is available or not yet asked for)."""
    return LIBRARY.why_not()


def step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, sizes, *, lr: float, beta1: float,
         beta2: float, eps: float, weight_decay: float, amsgrad: bool, maximize: bool,
         decoupled_weight_decay: bool) -> None:
    """One AdaMomentum update, in place, of contiguous CPU tensors of one real dtype (float32 or
    float64; a complex tensor's real view has the same data pointer), ``sizes`` their real element
    counts. ``steps``: the 0-dim step counters (all float32 or all float64), incremented here."""
    dtype = params[0].dtype if not params[0].is_complex() else torch.view_as_real(params[0]).dtype
    pointers = [[t.data_ptr() for t in ts] for ts in (params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps)]
    step_pointers(dtype, sizes, *pointers, step_is_double=steps[0].dtype == torch.float64, lr=lr, beta1=beta1,
                  beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                  decoupled_weight_decay=decoupled_weight_decay)


def step_pointers(dtype: torch.dtype, sizes, p_ptrs, g_ptrs, m_ptrs, v_ptrs, vmax_ptrs, step_ptrs, *,
                  step_is_double: bool, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
                  amsgrad: bool, maximize: bool, decoupled_weight_decay: bool) -> None:
    """:func:`step` from the tensors' data pointers (lists of ints), for a caller that checked them
    and gathered the pointers in one pass (``theory.optim._native_update``)."""
    lib = kernel()
    name, scalar = DTYPES[dtype]
    arrays = [np.array(x, dtype=np.int64) for x in (sizes, p_ptrs, g_ptrs, m_ptrs, v_ptrs)]
    arrays.append(np.array(vmax_ptrs if amsgrad else [0], dtype=np.int64))
    arrays.append(np.array(step_ptrs, dtype=np.int64))
    wd_mode = 0 if not weight_decay else 2 if decoupled_weight_decay else 1
    getattr(lib, name)(len(p_ptrs), *(a.ctypes.data for a in arrays), int(step_is_double),
                       float(lr), float(beta1), float(beta2),
                       # 1 - b1, 1 - b2 and 1 - lr wd in Python floats, then rounded, as torch takes them
                       scalar(1 - lr * weight_decay), scalar(1 - beta1), scalar(beta2), scalar(1 - beta2),
                       scalar(eps), scalar(weight_decay), int(amsgrad), int(maximize), wd_mode)
