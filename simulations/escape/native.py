"""The discrete escape step of a registry member in one native (C) call per step or per block of steps, on the CPU.

Why (issue 13): per step, the torch path of ``simulate.py`` runs about twenty-five elementwise torch
ops over the alive rows (the basin gradient, the noisy gradient, :func:`theory.family.step_`, the
inside test, the exit bookkeeping), each a dispatch and a pass over memory; with 2e4 paths that was
about 50 ns per path-step next to the sampler's 11-19 ns. This kernel does all of it in one pass per
chunk of rows, while the chunk is in cache. ``escape_block_*`` (:meth:`DiscreteStep.block`, the
default) goes further: many steps per call, each chunk's noise drawn inside by the sampler's own
kernel (the same values and generator state as one draw) and the monitor reduced inside (its sums
in float64, so they agree with the torch monitor's to rounding; ``tests/test_escape_native.py``).

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

from simulations import levy_native
from theory.cbuild import STRICT_FLAGS, SharedLibrary, torch_cpu_link

SOURCE = r"""
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <immintrin.h>

/* torch.sqrt on the CPU is MKL's vector sqrt in torch's mode (VML_HA | VML_FTZDAZ_OFF |
   VML_ERRMODE_IGNORE), not the correctly rounded instruction: the same function, from libtorch_cpu. */
#define VML_MODE (0x2LL | 0x140000LL | 0x100LL)
void vmsSqrt(int64_t, const float *, float *, long long);
void vmdSqrt(int64_t, const double *, double *, long long);

/* torch.pow(x, scalar)'s SLEEF function for the monitor's |m|^p and R^-alpha, one whole vector at a
   time (the chunk arrays are padded to a whole vector) */
/* pow_<suffix>(n, x, p, y): y = SLEEF's pow(x, p), LANES elements per call of FN */
#define DEFINE_POW(SUFFIX, T, VEC, LANES, FN, SET1, LOAD, STORE)                                  \
    VEC FN(VEC, VEC);                                                                             \
    static void pow_##SUFFIX(int64_t n, const T *x, double p, T *y) {                             \
        const VEC e = SET1((T)p);                                                                 \
        for (int64_t i = 0; i < n; i += LANES) STORE(y + i, FN(LOAD(x + i), e));                  \
    }
#if defined(AMLAB_AVX512)
DEFINE_POW(f64, double, __m512d, 8, Sleef_powd8_u10avx512f, _mm512_set1_pd, _mm512_loadu_pd, _mm512_storeu_pd)
DEFINE_POW(f32, float, __m512, 16, Sleef_powf16_u10avx512f, _mm512_set1_ps, _mm512_loadu_ps, _mm512_storeu_ps)
#elif defined(AMLAB_AVX2)
DEFINE_POW(f64, double, __m256d, 4, Sleef_powd4_u10avx2, _mm256_set1_pd, _mm256_loadu_pd, _mm256_storeu_pd)
DEFINE_POW(f32, float, __m256, 8, Sleef_powf8_u10avx2, _mm256_set1_ps, _mm256_loadu_ps, _mm256_storeu_ps)
#else
#error "AMLAB_AVX512 or AMLAB_AVX2"
#endif

/* One step's settings: the flags of the member, and the Python floats of the torch path. */
typedef struct {
    int64_t rows, dim, xi_stride, clock;  /* clock > 0: the clock's step k; 0: warm-up (restart) */
    int32_t momentum, k, yogi, eps_mode, max_v, use_bc;
    double sigma, b1, omb1, b2, omb2, lr, eps, mhat_scale, bc2, bc2_root, right, neg_left;
} step_c;

/* A block of steps in one call (escape_block_*): the noise block's shape, the steps' columns, the
   monitor's moment orders. */
typedef struct {
    int64_t rows, dim, cols, j0, nsteps, store_from, draw;
    int64_t mode, f32, has_r;
    double p, alpha;
} block_c;

/* levy_native's cms_sample_transposed (the sampler's library): rows x cols x dim samples, stored
   step-major, from the two engines */
typedef void (*sampler_fn)(int64_t, int64_t, int64_t, void *, void *, void *, const void *, int, int);

enum { CAP = 1024, PAD = 16 };  /* elements per chunk: the chunk's arrays stay in L1 */
enum { BLOCK_ELEMS = 256 };     /* elements per row chunk of escape_block: its noise block stays in L2 */

/* momentum: 0 ema, 1 heavy-ball, 2 none. k: 0 grad, 1 momentum, 2 belief, 3 none (not adaptive).
   eps_mode: 0 outside, 1 inside, 2 both, 3 outside-raw, 4 none. Each loop below is one torch op
   (or a few in its order); the branches are outside the loops, so each loop vectorises. One call:
   one step of nr rows (nr dim <= CAP); den holds the step's denominators after it. */
#define DEFINE_CHUNK(NAME, T, VSQRT)                                                              \
static void NAME(const step_c *c, int64_t nr, T *restrict th, const T *restrict x, int64_t stride,\
                 T *restrict mm, T *restrict vv, T *restrict vx, const T *restrict c_left,        \
                 const T *restrict c_right, const T *restrict start, int64_t *restrict ex,        \
                 T *restrict g, T *restrict kb, T *restrict den) {                                \
    const int64_t dim = c->dim, ne = nr * dim;                                                    \
    const int momentum = c->momentum, kind = c->k, yogi = c->yogi, eps_mode = c->eps_mode;        \
    const int use_bc = c->use_bc;                                                                 \
    const T sigma = (T)c->sigma, b1 = (T)c->b1, omb1 = (T)c->omb1, b2 = (T)c->b2;                 \
    const T omb2 = (T)c->omb2, lr = (T)c->lr, eps = (T)c->eps, mhat = (T)c->mhat_scale;           \
    const T bc2 = (T)c->bc2, bc2_root = (T)c->bc2_root, right = (T)c->right;                      \
    const T neg_left = (T)c->neg_left;                                                            \
    /* g = basin_grad(theta) + sigma * xi: where(theta > 0, c_right, c_left) * theta */           \
    if (dim == 1) {                                                                               \
        const T cl = c_left[0], cr = c_right[0];                                                  \
        for (int64_t i = 0; i < ne; ++i) {                                                        \
            T t = th[i];                                                                          \
            T grad = (t > 0 ? cr : cl) * t;                                                       \
            g[i] = grad + x[i * stride] * sigma;                                                  \
        }                                                                                         \
    } else {                                                                                      \
        for (int64_t r = 0; r < nr; ++r)                                                          \
            for (int64_t d = 0; d < dim; ++d) {                                                   \
                T t = th[r * dim + d];                                                            \
                T grad = (t > 0 ? c_right[d] : c_left[d]) * t;                                    \
                g[r * dim + d] = grad + x[r * stride + d] * sigma;                                \
            }                                                                                     \
    }                                                                                             \
    if (momentum == 0)                                                                            \
        for (int64_t i = 0; i < ne; ++i) { T a = mm[i] * b1; mm[i] = a + g[i] * omb1; }           \
    else if (momentum == 1)                                                                       \
        for (int64_t i = 0; i < ne; ++i) { T a = mm[i] * b1; mm[i] = a + g[i]; }                  \
    else                                                                                          \
        for (int64_t i = 0; i < ne; ++i) mm[i] = g[i];                                            \
    if (kind == 3) {  /* params.sub_(lr * m) */                                                   \
        for (int64_t i = 0; i < ne; ++i) th[i] = th[i] - mm[i] * lr;                              \
    } else {                                                                                      \
        const T *restrict kk = kind == 0 ? g : kind == 1 ? mm : kb;                               \
        if (kind == 2)                                                                            \
            for (int64_t i = 0; i < ne; ++i) kb[i] = g[i] - mm[i];                                \
        if (yogi)  /* v.sub_(sign(v - k k) * (k k) * (1 - b2)) */                                 \
            for (int64_t i = 0; i < ne; ++i) {                                                    \
                T q = kk[i] * kk[i], d = vv[i] - q;                                               \
                T s = (T)((0 < d) - (d < 0));                                                     \
                T u = s * q;                                                                      \
                vv[i] = vv[i] - u * omb2;                                                         \
            }                                                                                     \
        else  /* v.mul_(b2).add_(k * k * (1 - b2)) */                                             \
            for (int64_t i = 0; i < ne; ++i) {                                                    \
                T a = vv[i] * b2, q = kk[i] * kk[i];                                              \
                vv[i] = a + q * omb2;                                                             \
            }                                                                                     \
        if (eps_mode == 1 || eps_mode == 2)                                                       \
            for (int64_t i = 0; i < ne; ++i) vv[i] = vv[i] + eps;                                 \
        const T *restrict vs = vv;                                                                \
        if (vx) {  /* torch.maximum(v_max, v): NaN if either is; b where a == b */                \
            for (int64_t i = 0; i < ne; ++i) {                                                    \
                T a = vx[i], b = vv[i];                                                           \
                vx[i] = (a != a || b != b) ? a + b : (a > b ? a : b);                             \
            }                                                                                     \
            vs = vx;                                                                              \
        }                                                                                         \
        if (eps_mode == 3) {  /* (sqrt(v) + eps) / (1 - b2^t) ** 0.5 */                           \
            VSQRT(ne, vs, den, VML_MODE);                                                         \
            for (int64_t i = 0; i < ne; ++i) {                                                    \
                T d = den[i] + eps;                                                               \
                den[i] = use_bc ? d / bc2_root : d;                                               \
            }                                                                                     \
        } else {  /* sqrt(v / (1 - b2^t)) [+ eps] */                                              \
            for (int64_t i = 0; i < ne; ++i) kb[i] = use_bc ? vs[i] / bc2 : vs[i];                \
            VSQRT(ne, kb, den, VML_MODE);                                                         \
            if (eps_mode == 0 || eps_mode == 2)                                                   \
                for (int64_t i = 0; i < ne; ++i) den[i] = den[i] + eps;                           \
        }                                                                                         \
        for (int64_t i = 0; i < ne; ++i) {  /* params.sub_(mhat_scale * m / denom) */             \
            T s = mm[i] * mhat;                                                                   \
            th[i] = th[i] - s / den[i];                                                           \
        }                                                                                         \
    }                                                                                             \
    /* ~inside(theta); then the clock's first exit, or in the warm-up a restart */               \
    if (dim == 1) {  /* branch-free, so it vectorises */                                          \
        const int64_t clock = c->clock;                                                           \
        const T s0 = start[0];                                                                    \
        if (clock > 0)                                                                            \
            for (int64_t i = 0; i < ne; ++i) {                                                    \
                const int out = !((th[i] < right) & (th[i] > neg_left));                          \
                ex[i] = (out & (ex[i] == 0)) ? clock : ex[i];                                     \
            }                                                                                     \
        else                                                                                      \
            for (int64_t i = 0; i < ne; ++i) {                                                    \
                const int out = !((th[i] < right) & (th[i] > neg_left));                          \
                th[i] = out ? s0 : th[i];                                                         \
            }                                                                                     \
        return;                                                                                   \
    }                                                                                             \
    for (int64_t r = 0; r < nr; ++r) {                                                            \
        int in = 1;                                                                               \
        for (int64_t d = 0; d < dim; ++d) {                                                       \
            T t = th[r * dim + d];                                                                \
            in &= (t < right) & (t > neg_left);                                                   \
        }                                                                                         \
        if (in) continue;                                                                         \
        if (c->clock > 0) {                                                                       \
            if (ex[r] == 0) ex[r] = c->clock;                                                     \
        } else {                                                                                  \
            for (int64_t d = 0; d < dim; ++d) th[r * dim + d] = start[d];                         \
        }                                                                                         \
    }                                                                                             \
}

/* simulate._Monitor.record's terms on one chunk after a step, added to acc = [alive count,
   negative count, sum |m|^p (dim), sum R^-alpha (dim), sum R (dim), min R (dim), max R (dim)] over
   the alive rows (row_exit == 0). Each term per element is the torch expression's, op for op (R^-1
   = 1 / denom, R = 1 / R^-1); the sums are float64 in row order (torch sums in the tensor's dtype
   in its own order: the sums agree to rounding, the rest bit for bit). */
#define DEFINE_MONITOR(NAME, T, POW)                                                              \
static void NAME(const block_c *b, T q, int64_t nr, const T *restrict th, const T *restrict mm,   \
                 T *restrict den, const T *restrict c_left, const T *restrict c_right,            \
                 const int64_t *restrict ex, T *apow, T *rinv, T *restrict rpow,                  \
                 double *restrict acc) {                                                          \
    const int64_t dim = b->dim, ne = nr * dim;                                                    \
    T inner[CAP + PAD];                                                                           \
    T *restrict r = den;  /* den is read once, below; then R */                                   \
    for (int64_t i = 0; i < ne; ++i) {                                                            \
        apow[i] = fabs(mm[i]);                                                                    \
        rinv[i] = b->has_r ? (T)1.0 / den[i] : (T)1.0;                                            \
    }                                                                                             \
    for (int64_t i = 0; i < ne; ++i) r[i] = (T)1.0 / rinv[i];                                     \
    POW(ne, apow, b->p, apow);                                                                    \
    POW(ne, rinv, b->alpha, rpow);                                                                \
    /* per row: f = (0.5 * where(theta > 0, c_r, c_l) * theta * theta).sum(-1), then             \
       ((grad / (1 + f)) * (q * m * R^-1)).sum(-1) */                                             \
    if (dim == 1) {                                                                               \
        const T cl = c_left[0], cr = c_right[0];                                                  \
        for (int64_t i = 0; i < ne; ++i) {                                                        \
            const T t = th[i], cd = t > 0 ? cr : cl;                                              \
            T f = (T)0.5 * cd;                                                                    \
            f = f * t;                                                                            \
            f = f * t;                                                                            \
            T a = cd * t;                                                                         \
            a = a / (f + (T)1.0);                                                                 \
            T s = mm[i] * q;                                                                      \
            s = s * rinv[i];                                                                      \
            inner[i] = a * s;                                                                     \
        }                                                                                         \
    } else {                                                                                      \
        for (int64_t row = 0; row < nr; ++row) {                                                  \
            const T *t = th + row * dim, *m = mm + row * dim, *ri = rinv + row * dim;             \
            T f = 0, in = 0;                                                                      \
            for (int64_t d = 0; d < dim; ++d) {                                                   \
                T cd = t[d] > 0 ? c_right[d] : c_left[d];                                         \
                T fd = (T)0.5 * cd;                                                               \
                fd = fd * t[d];                                                                   \
                fd = fd * t[d];                                                                   \
                f = d == 0 ? fd : f + fd;                                                         \
            }                                                                                     \
            const T one_f = f + (T)1.0;                                                           \
            for (int64_t d = 0; d < dim; ++d) {                                                   \
                T cd = t[d] > 0 ? c_right[d] : c_left[d];                                         \
                T a = cd * t[d];                                                                  \
                a = a / one_f;                                                                    \
                T s = m[d] * q;                                                                   \
                s = s * ri[d];                                                                    \
                s = a * s;                                                                        \
                in = d == 0 ? s : in + s;                                                         \
            }                                                                                     \
            inner[row] = in;                                                                      \
        }                                                                                         \
    }                                                                                             \
    /* the sums over the alive rows, in row order; amin / amax: NaN wins */                      \
    double count = acc[0], negative = acc[1];                                                     \
    for (int64_t row = 0; row < nr; ++row)                                                        \
        if (ex[row] == 0) { count += 1.0; negative += inner[row] < 0; }                           \
    acc[0] = count, acc[1] = negative;                                                            \
    for (int64_t d = 0; d < dim; ++d) {                                                           \
        double m_pow = acc[2 + d], r_pow = acc[2 + dim + d], r_sum = acc[2 + 2 * dim + d];        \
        double r_min = acc[2 + 3 * dim + d], r_max = acc[2 + 4 * dim + d];                        \
        for (int64_t row = 0; row < nr; ++row) {                                                  \
            if (ex[row] != 0) continue;                                                           \
            const int64_t i = row * dim + d;                                                      \
            const double rr = r[i];                                                               \
            m_pow += apow[i];                                                                     \
            r_pow += rpow[i];                                                                     \
            r_sum += rr;                                                                          \
            if (rr != rr || rr < r_min) r_min = rr;                                               \
            if (rr != rr || rr > r_max) r_max = rr;                                               \
        }                                                                                         \
        acc[2 + d] = m_pow, acc[2 + dim + d] = r_pow, acc[2 + 2 * dim + d] = r_sum;               \
        acc[2 + 3 * dim + d] = r_min, acc[2 + 4 * dim + d] = r_max;                               \
    }                                                                                             \
}

#define DEFINE_ENTRIES(SUFFIX, T, VSQRT, POW)                                                     \
DEFINE_CHUNK(step_chunk_##SUFFIX, T, VSQRT)                                                       \
/* torch.pow(x, p) as torch computes it: p = 0.5 is torch.sqrt, p = 2 is x * x, else SLEEF's pow */\
static void power_##SUFFIX(int64_t n, T *x, double p, T *y) {                                     \
    if (p == 0.5) VSQRT(n, x, y, VML_MODE);                                                       \
    else if (p == 2.0) for (int64_t i = 0; i < n; ++i) y[i] = x[i] * x[i];                        \
    else POW(n, x, p, y);                                                                         \
}                                                                                                 \
DEFINE_MONITOR(monitor_chunk_##SUFFIX, T, power_##SUFFIX)                                         \
/* one step of every row (rows of c->xi_stride noise values apart) */                             \
void escape_step_##SUFFIX(const step_c *c, T *restrict theta, const T *restrict xi, T *restrict m,\
                          T *restrict v, T *restrict vmax, const T *restrict c_left,              \
                          const T *restrict c_right, const T *restrict start,                     \
                          int64_t *restrict row_exit) {                                           \
    const int64_t dim = c->dim, rb = CAP / dim;                                                   \
    T g[CAP + PAD], kb[CAP + PAD], den[CAP + PAD];                                                \
    for (int64_t r0 = 0; r0 < c->rows; r0 += rb) {                                                \
        const int64_t nr = c->rows - r0 < rb ? c->rows - r0 : rb;                                 \
        step_chunk_##SUFFIX(c, nr, theta + r0 * dim, xi + r0 * c->xi_stride, c->xi_stride,        \
                            m + r0 * dim, v ? v + r0 * dim : 0, vmax ? vmax + r0 * dim : 0,       \
                            c_left, c_right, start, row_exit + r0, g, kb, den);                   \
    }                                                                                             \
}                                                                                                 \
/* steps j0 .. j0 + nsteps - 1 of a noise block (cols steps, step-major in buffer), chunk of rows  \
   by chunk of rows, all steps of a chunk while it is in cache. draw: the block is drawn here      \
   (sampler, engines ev and ew: the chunk's rows in order, so the same values as one draw), its    \
   columns >= store_from also written to buffer for a later call; else read from buffer. After    \
   step s, slot[s] >= 0: the monitor's terms added to acc + slot[s] (2 + 5 dim) (q[s]: its q). */  \
int escape_block_##SUFFIX(const block_c *b, const step_c *steps, const int32_t *slot,            \
                          const double *q, double *acc, T *restrict theta, T *restrict m,         \
                          T *restrict v, T *restrict vmax, const T *restrict c_left,              \
                          const T *restrict c_right, const T *restrict start,                     \
                          int64_t *restrict row_exit, T *restrict buffer, sampler_fn sampler,     \
                          void *ev, void *ew, const void *cms) {                                  \
    const int64_t rows = b->rows, dim = b->dim, cols = b->cols;                                   \
    const int64_t per = BLOCK_ELEMS / dim > 0 ? BLOCK_ELEMS / dim : 1, width = 2 + 5 * dim;       \
    T *noise = 0;                                                                                 \
    if (b->draw && !(noise = malloc(sizeof(T) * per * dim * cols))) return 1;                     \
    T g[CAP + PAD], kb[CAP + PAD], den[CAP + PAD], mon[CAP + PAD];                                \
    for (int64_t r0 = 0; r0 < rows; r0 += per) {                                                  \
        const int64_t nr = rows - r0 < per ? rows - r0 : per, ne = nr * dim;                      \
        T *th = theta + r0 * dim, *mm = m + r0 * dim;                                             \
        T *vv = v ? v + r0 * dim : 0, *vx = vmax ? vmax + r0 * dim : 0;                           \
        int64_t *ex = row_exit + r0;                                                              \
        if (b->draw) {                                                                            \
            sampler(nr, cols, dim, ev, ew, noise, cms, (int)b->mode, (int)b->f32);                \
            for (int64_t j = b->store_from; j < cols; ++j)                                        \
                memcpy(buffer + (j * rows + r0) * dim, noise + j * ne, sizeof(T) * ne);           \
        }                                                                                         \
        for (int64_t s = 0; s < b->nsteps; ++s) {                                                 \
            const int64_t j = b->j0 + s;                                                          \
            const T *x = b->draw ? noise + j * ne : buffer + (j * rows + r0) * dim;               \
            step_chunk_##SUFFIX(steps + s, nr, th, x, dim, mm, vv, vx, c_left, c_right, start, ex,\
                                g, kb, den);                                                      \
            if (slot[s] >= 0)                                                                     \
                monitor_chunk_##SUFFIX(b, (T)q[s], nr, th, mm, den, c_left, c_right, ex, g, kb,   \
                                       mon, acc + slot[s] * width);                       \
        }                                                                                         \
    }                                                                                             \
    free(noise);                                                                                  \
    return 0;                                                                                     \
}

DEFINE_ENTRIES(f32, float, vmsSqrt, pow_f32)
DEFINE_ENTRIES(f64, double, vmdSqrt, pow_f64)
"""

MAX_DIM = 1024  # the kernel's chunk holds at least one row


class StepSettings(ctypes.Structure):
    """``step_c``: the member's flags and the scalars of one step."""
    _fields_ = [*((name, ctypes.c_int64) for name in ("rows", "dim", "xi_stride", "clock")),
                *((name, ctypes.c_int32) for name in ("momentum", "k", "yogi", "eps_mode", "max_v", "use_bc")),
                *((name, ctypes.c_double) for name in ("sigma", "b1", "omb1", "b2", "omb2", "lr", "eps",
                                                       "mhat_scale", "bc2", "bc2_root", "right", "neg_left"))]


class BlockSettings(ctypes.Structure):
    """``block_c``: the noise block's shape, the steps' columns and the monitor's moment orders."""
    _fields_ = [*((name, ctypes.c_int64) for name in ("rows", "dim", "cols", "j0", "nsteps", "store_from", "draw",
                                                      "mode", "f32", "has_r")),
                ("p", ctypes.c_double), ("alpha", ctypes.c_double)]


def _declare(lib: ctypes.CDLL) -> None:
    for fn in (lib.escape_step_f32, lib.escape_step_f64):
        fn.argtypes = [ctypes.c_void_p] * 10
        fn.restype = None
    for fn in (lib.escape_block_f32, lib.escape_block_f64):
        fn.argtypes = [ctypes.c_void_p] * 18
        fn.restype = ctypes.c_int


@functools.cache
def library() -> SharedLibrary | None:
    """The kernel's library description (None without MKL in torch, where torch.sqrt is another
    function, or without the SLEEF variant of levy_native: the monitor's pow is torch's)."""
    cap = levy_native.capability()
    if not torch.backends.mkl.is_available() or cap is None:
        return None
    return SharedLibrary("escape_step", SOURCE, [*STRICT_FLAGS, f"-D{cap}"], torch_cpu_link(), _declare)


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
    exit bookkeeping (or, in the warm-up, the restart), for every alive row, in one native call
    per step (``__call__``) or per block of steps with the noise drawn inside (:meth:`block`)."""

    def __init__(self, rule: Any, hyper: Any, sigma: float, basin: Any, dtype: torch.dtype):
        member = rule.member
        self.hyper = hyper
        lib = kernel()
        f32 = dtype == torch.float32
        self.fn = lib.escape_step_f32 if f32 else lib.escape_step_f64
        self.block_fn = lib.escape_block_f32 if f32 else lib.escape_block_f64
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

    def _fill(self, s: StepSettings, t: int, clock: int) -> None:
        """Step t's scalars, exactly theory.family.step_'s (every one a Python float)."""
        hyper = self.hyper
        lr, b1 = hyper.lr_at(t), hyper.beta1_at(t)
        s.clock = clock
        s.lr, s.b1, s.omb1 = lr, b1, 1 - b1
        s.mhat_scale = lr / (1 - hyper.beta1**t) if s.use_bc else lr
        s.bc2 = 1 - hyper.beta2**t
        s.bc2_root = (1 - hyper.beta2**t) ** 0.5

    def _layout_ok(self, state: Any, theta: torch.Tensor) -> bool:
        tensors = (theta, state.m) + tuple(x for x in (state.v, state.v_max) if x is not None)
        return all(x.dtype == self.dtype and x.is_contiguous() for x in tensors)

    def __call__(self, state: Any, theta: torch.Tensor, xi: torch.Tensor, clock: int, row_exit: torch.Tensor,
                 start_row: torch.Tensor, c_left: torch.Tensor, c_right: torch.Tensor) -> bool:
        """One step in place (state, theta, row_exit); False (nothing done) where the tensors are not
        in the kernel's layout, and the caller runs the torch path."""
        if not self._layout_ok(state, theta) or xi.dtype != self.dtype or xi.dim() != 2 or xi.stride(1) != 1 \
                or xi.shape != theta.shape:
            return False
        s = self.settings
        state.step += 1
        self._fill(s, state.step, clock)
        s.rows, s.dim = theta.shape
        s.xi_stride = xi.stride(0)
        self.fn(self._ptr, theta.data_ptr(), xi.data_ptr(), state.m.data_ptr(), _ptr(state.v), _ptr(state.v_max),
                c_left.data_ptr(), c_right.data_ptr(), start_row.data_ptr(), row_exit.data_ptr())
        return True

    def block(self, state: Any, theta: torch.Tensor, clocks: list[int], j0: int, buffer: torch.Tensor,
              draw: Any, row_exit: torch.Tensor, start_row: torch.Tensor, c_left: torch.Tensor,
              c_right: torch.Tensor, monitor: Any = None) -> torch.Tensor | None:
        """Steps j0 .. j0 + len(clocks) - 1 of a noise block of ``buffer.shape[0]`` steps, in one call:
        the same steps as ``__call__`` on ``buffer[j]`` (step-major: (cols, rows, dim)), for step s
        at ``clocks[s]``. ``draw`` (a :class:`levy_native.Draw` of the whole block): the block is
        drawn inside, chunk of rows by chunk of rows, and only its columns after these steps are
        stored in ``buffer``; None: the columns are read from ``buffer``. ``monitor``: (slots, q, p,
        alpha, has_r) with slots[s] >= 0 where step s is monitored and q its q; returns the
        monitor's sums, one row per slot (see the kernel's monitor_chunk), or None."""
        rows, dim = theta.shape
        cols = buffer.shape[0]
        nsteps = len(clocks)
        if buffer.shape != (cols, rows, dim) or not buffer.is_contiguous() or buffer.dtype != self.dtype \
                or not self._layout_ok(state, theta) or not 0 <= j0 <= j0 + nsteps <= cols:
            raise ValueError("escape block: tensors not in the kernel's layout")
        steps = (StepSettings * nsteps)()
        for i, clock in enumerate(clocks):
            steps[i] = self.settings
            s = steps[i]
            self._fill(s, state.step + 1 + i, clock)
            s.rows, s.dim, s.xi_stride = rows, dim, dim
        state.step += nsteps
        b = BlockSettings(rows=rows, dim=dim, cols=cols, j0=j0, nsteps=nsteps, store_from=j0 + nsteps,
                          draw=int(draw is not None), f32=int(self.dtype == torch.float32))
        slots = (ctypes.c_int32 * nsteps)(*([-1] * nsteps))
        qs = (ctypes.c_double * nsteps)()
        acc = None
        if monitor is not None:
            slot_of, q_of, b.p, b.alpha, b.has_r = monitor
            width = 2 + 5 * dim
            used = [i for i in range(nsteps) if slot_of[i] >= 0]
            acc = torch.zeros(len(used), width, dtype=torch.float64)
            big = torch.finfo(self.dtype).max
            acc[:, 2 + 3 * dim:2 + 4 * dim] = big  # min R
            acc[:, 2 + 4 * dim:] = -big  # max R
            for i in used:
                slots[i], qs[i] = slot_of[i], q_of[i]
        sampler, ev, ew, cms = None, None, None, None
        if draw is not None:
            b.mode = draw.mode
            sampler = levy_native.transposed_sampler(draw.lib)
            ev, ew, cms = draw.pointers()
        failed = self.block_fn(ctypes.byref(b), steps, slots, qs, None if acc is None else acc.data_ptr(),
                               theta.data_ptr(), state.m.data_ptr(), _ptr(state.v), _ptr(state.v_max),
                               c_left.data_ptr(), c_right.data_ptr(), start_row.data_ptr(), row_exit.data_ptr(),
                               buffer.data_ptr(), sampler, ev, ew, cms)
        if failed:
            raise MemoryError("escape block: no memory for the noise chunk")
        if draw is not None:
            draw.finish()
        return acc


def _ptr(x: torch.Tensor | None) -> int | None:
    return None if x is None else x.data_ptr()
