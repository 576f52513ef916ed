"""The CPU alpha-stable sampler in one native pass, bit for bit :func:`simulations.levy.symmetric_stable`'s
torch path.

Why (issue 13): on the CPU the torch path spends most of its time in ``torch.rand`` (torch's
Mersenne Twister hands out one float64 at a time, about 10-20 ns each, two per sample) and in the
twenty-odd elementwise ops of the CMS transform, each a pass over a 64k chunk. This kernel does
both per block of 1024 samples while the block is in cache.

What keeps it exact, so that every recorded escape run is unchanged:

* **The same random numbers.** The generator's state is read from ``Generator.get_state()`` (torch's
  legacy layout: left, next and the 624 words of ``at::mt19937``), the kernel runs the same
  recurrence (its twist and tempering, word for word) and forms each float64 uniform as torch's
  ``uniform_real_distribution`` does (two 32-bit outputs hi, lo; the low 53 bits of hi << 32 | lo,
  times 2^-53), and the advanced state is written back with ``set_state``. Torch draws all n
  uniforms for V and then all n for W, so the kernel runs a second copy of the state 2n words
  ahead for W. ``tests/test_levy_native.py`` checks the uniforms and the state afterwards against
  ``torch.rand``.
* **The same arithmetic.** The transform is :func:`simulations.levy._transform64` /
  ``_transform_low`` operation for operation (compiled with ``-ffp-contract=off``, no fast-math:
  each operation one IEEE operation, as torch's vectorised kernels do), and the transcendental
  functions are the ones torch calls on the CPU, from the library torch ships (libtorch_cpu):
  MKL's vector math for sin, cos, log and exp (``vm?Sin`` ... with torch's mode, high accuracy),
  and SLEEF's 1.0-ulp ``log1p`` at torch's CPU capability (AVX512 or AVX2). So the samples are
  bit-identical to the torch path on the same machine (tested), in float32 and float64. The
  special forms at alpha 1 and 3/2 (levy._tan_quarter_form, levy._cube_root_form) are polynomials,
  a bit guess and Newton steps, the same operations in the same order, and no SLEEF log1p: W is
  unused at alpha = 1, and at 3/2 W = -log(1 - U') is fdlibm's log in plain operations
  (``exp_variates``, levy._exp_variates_), so neither form calls a library function.

Where it does not apply (another device, a torch build without MKL, a CPU capability other than
AVX2/AVX512, no C compiler), :func:`kernel` is None and the sampler keeps its torch path.
A generator shared with another thread must not be used concurrently (torch.rand holds the
generator's lock for one call; this path reads the state and writes it back).
"""
from __future__ import annotations

import ctypes
import functools
import math
import os
import sys

import numpy as np
import torch

from theory.cbuild import STRICT_FLAGS, SharedLibrary, torch_cpu_link

SOURCE = r"""
#include <math.h>
#include <stdint.h>
#include <immintrin.h>
#include <string.h>

/* levy._INVERSE_CBRT_MAGIC and levy._THIRD (the cube-root form at alpha = 3/2, mode 4) */
#define INV_CBRT_MAGIC 0x54A21D2A
#define THIRD (1.0 / 3.0)
/* levy._SIN_QUARTER / levy._COS_QUARTER (Taylor coefficients, rounded to float32) */
#define SIN3 ((float)(-1.0 / 6.0))
#define SIN5 ((float)(1.0 / 120.0))
#define SIN7 ((float)(-1.0 / 5040.0))
#define SIN9 ((float)(1.0 / 362880.0))
#define COS2 ((float)(-1.0 / 2.0))
#define COS4 ((float)(1.0 / 24.0))
#define COS6 ((float)(-1.0 / 720.0))
#define COS8 ((float)(1.0 / 40320.0))
#define COS10 ((float)(-1.0 / 3628800.0))
/* levy._SIN_QUARTER / levy._COS_QUARTER in float64: fdlibm's k_sin.c S1-S6 (to x^13) and k_cos.c
   -1/2, C1-C6 (to x^14) */
#define SIN64_N 6
#define COS64_N 7
static const double SIN64[SIN64_N] = {-1.66666666666666324348e-01, 8.33333333332248946124e-03,
                                      -1.98412698298579493134e-04, 2.75573137070700676789e-06,
                                      -2.50507602534068634195e-08, 1.58969099521155010221e-10};
static const double COS64[COS64_N] = {-0.5, 4.16666666666666019037e-02, -1.38888888888741095749e-03,
                                      2.48015872894767294178e-05, -2.75573143513906633035e-07,
                                      2.08757232129817482790e-09, -1.13596475577881948265e-11};

/* MKL's vector math in libtorch_cpu, with torch's mode (VML_HA | VML_FTZDAZ_OFF | VML_ERRMODE_IGNORE).
   n is passed as 64 bits: right for ILP64 and, being small and non-negative, for LP64. */
#define VML_MODE (0x2LL | 0x140000LL | 0x100LL)
void vmdSin(int64_t, const double *, double *, long long);
void vmdCos(int64_t, const double *, double *, long long);
void vmdLn(int64_t, const double *, double *, long long);
void vmdExp(int64_t, const double *, double *, long long);
void vmsSin(int64_t, const float *, float *, long long);
void vmsLn(int64_t, const float *, float *, long long);
void vmsExp(int64_t, const float *, float *, long long);

/* log1p as torch's CPU kernel computes it: SLEEF's u10 vector function at torch's capability,
   one full vector at a time (lanes are independent; the block arrays are padded to a whole vector). */
#if defined(AMLAB_AVX512)
__m512d Sleef_log1pd8_u10avx512f(__m512d);
static void log1p_array(int64_t n, const double *x, double *y) {
    for (int64_t i = 0; i < n; i += 8) _mm512_storeu_pd(y + i, Sleef_log1pd8_u10avx512f(_mm512_loadu_pd(x + i)));
}
#elif defined(AMLAB_AVX2)
__m256d Sleef_log1pd4_u10avx2(__m256d);
static void log1p_array(int64_t n, const double *x, double *y) {
    for (int64_t i = 0; i < n; i += 4) _mm256_storeu_pd(y + i, Sleef_log1pd4_u10avx2(_mm256_loadu_pd(x + i)));
}
#else
#error "AMLAB_AVX512 or AMLAB_AVX2"
#endif

/* torch's at::mt19937 (ATen/core/MT19937RNGEngine.h): the state, its left and next counters. */
#define MT_N 624
#define MT_M 397
typedef struct { uint32_t s[MT_N]; int64_t left; int64_t next; } mt_t;

static void mt_twist(uint32_t *restrict s) {
    int i;
    for (i = 0; i < MT_N - MT_M; ++i) {
        uint32_t y = (s[i] & 0x80000000u) | (s[i + 1] & 0x7fffffffu);
        s[i] = s[i + MT_M] ^ (y >> 1) ^ ((s[i + 1] & 1u) ? 0x9908b0dfu : 0u);
    }
    for (; i < MT_N - 1; ++i) {
        uint32_t y = (s[i] & 0x80000000u) | (s[i + 1] & 0x7fffffffu);
        s[i] = s[i + MT_M - MT_N] ^ (y >> 1) ^ ((s[i + 1] & 1u) ? 0x9908b0dfu : 0u);
    }
    uint32_t y = (s[MT_N - 1] & 0x80000000u) | (s[0] & 0x7fffffffu);
    s[MT_N - 1] = s[MT_M - 1] ^ (y >> 1) ^ ((s[0] & 1u) ? 0x9908b0dfu : 0u);
}

/* The next k outputs (tempered) into out, or skipped when out is 0. One output of torch's engine
   is: if (--left == 0) { twist; left = N; next = 0; } return temper(s[next++]); here a block of
   left - 1 outputs is taken at once, and a twist sets left = N + 1, next = 0 (the same states). */
void mt_words(mt_t *e, uint32_t *restrict out, int64_t k) {
    while (k > 0) {
        int64_t avail = e->left - 1;
        if (avail == 0) { mt_twist(e->s); e->left = MT_N + 1; e->next = 0; avail = MT_N; }
        int64_t take = avail < k ? avail : k;
        if (out) {
            const uint32_t *src = e->s + e->next;
            for (int64_t j = 0; j < take; ++j) {
                uint32_t y = src[j];
                y ^= (y >> 11);
                y ^= (y << 7) & 0x9d2c5680u;
                y ^= (y << 15) & 0xefc60000u;
                y ^= (y >> 18);
                out[j] = y;
            }
            out += take;
        }
        e->left -= take; e->next += take; k -= take;
    }
}

/* torch.rand(dtype=float64): random64() = hi << 32 | lo from two outputs; its low 53 bits * 2^-53 */
static void to_unit(int64_t n, const uint32_t *restrict w, double *restrict u) {
    for (int64_t i = 0; i < n; ++i) {
        uint64_t bits = (((uint64_t)w[2 * i] << 32) | w[2 * i + 1]) & ((1ull << 53) - 1);
        u[i] = (double)bits * 0x1p-53;
    }
}

enum { B = 1024 };  /* samples per block: every array of a block stays in L1/L2 */

void mt_uniform(mt_t *e, int64_t n, double *restrict u) {
    uint32_t w[2 * B];
    for (int64_t s = 0; s < n; s += B) {
        int64_t m = n - s < B ? n - s : B;
        mt_words(e, w, 2 * m);
        to_unit(m, w, u + s);
    }
}

/* Python floats of simulations.levy, rounded there exactly as torch rounds its scalar operands */
typedef struct {
    double alpha, half_pi, grid_half, w_min, pi, sin_c, refl_c, cos_c, cos_off, expo, quarter_pi;
} cms_c;

/* mode: 0 alpha < 1, 1 alpha = 1, 2 alpha > 1, 3 alpha below levy._TINY_ALPHA_64 (the bracket form)
   (the general form), 4 alpha = 3/2 (levy._cube_root_form), 5 alpha = 1 (levy._tan_quarter_form).
   W's uniforms are drawn but not used at alpha = 1 (modes 1 and 5). */
#define USES_W(mode) ((mode) != 1 && (mode) != 5)

/* simulations.levy._run's prologue and _transform64, op for op, on one block (m <= B). */
static void block64(int64_t m, const double *restrict u, const double *restrict uw, double *restrict out,
                    const cms_c *c, const int mode) {
    double t[B], w[B], sign[B], h[B], sin_av[B], cos_1av[B], log_cv[B], tmp[B];
    const double alpha = c->alpha;
    for (int64_t i = 0; i < m; ++i) {
        double ti = u[i] * 2.0;
        t[i] = ti - 1.0;
    }
    if (mode != 1) {
        for (int64_t i = 0; i < m; ++i) tmp[i] = -uw[i];
        log1p_array(m, tmp, w);
        for (int64_t i = 0; i < m; ++i) w[i] = -w[i];
    }
    for (int64_t i = 0; i < m; ++i) {
        sign[i] = (double)((0.0 < t[i]) - (t[i] < 0.0));
        h[i] = fabs(t[i]);
    }
    if (mode == 0 || mode == 3) {
        for (int64_t i = 0; i < m; ++i) tmp[i] = h[i] * c->sin_c;
        vmdSin(m, tmp, sin_av, VML_MODE);
    }
    for (int64_t i = 0; i < m; ++i) {
        double hi = -h[i];
        hi = hi + 1.0;
        hi = hi < c->grid_half ? c->grid_half : hi;
        h[i] = hi * c->half_pi;
    }
    if (mode == 1) {
        vmdCos(m, h, out, VML_MODE);
        vmdSin(m, h, tmp, VML_MODE);
        for (int64_t i = 0; i < m; ++i) out[i] = out[i] / tmp[i];
    } else {
        for (int64_t i = 0; i < m; ++i) w[i] = w[i] < c->w_min ? c->w_min : w[i];
        if (mode == 2) {
            for (int64_t i = 0; i < m; ++i) {
                double a = h[i] * alpha;
                a = a + c->refl_c;
                tmp[i] = a > c->pi ? c->pi : a;
            }
            vmdSin(m, tmp, sin_av, VML_MODE);
        }
        for (int64_t i = 0; i < m; ++i) {
            double a = h[i] * c->cos_c;
            tmp[i] = a + c->cos_off;
        }
        vmdSin(m, tmp, cos_1av, VML_MODE);
        vmdSin(m, h, tmp, VML_MODE);
        vmdLn(m, tmp, log_cv, VML_MODE);
        vmdLn(m, sin_av, sin_av, VML_MODE);
        vmdLn(m, cos_1av, cos_1av, VML_MODE);
        vmdLn(m, w, w, VML_MODE);
        if (mode != 3) {
            for (int64_t i = 0; i < m; ++i) {
                double a = sin_av[i] - log_cv[i] / alpha;
                double b = cos_1av[i] - w[i];
                b = b * c->expo;
                tmp[i] = a + b;
            }
        } else {
            for (int64_t i = 0; i < m; ++i) {
                double a = sin_av[i] * alpha;
                a = a - log_cv[i];
                double b = cos_1av[i] - w[i];
                b = b * c->expo;
                a = a + b;
                tmp[i] = a / alpha;
            }
        }
        vmdExp(m, tmp, out, VML_MODE);
    }
    for (int64_t i = 0; i < m; ++i) out[i] = out[i] * sign[i];
}

/* levy._sin_quarter / levy._cos_quarter: Taylor polynomials for 0 <= x <= pi/4, Horner in x^2 */
static inline float sin_quarter(float x, float s) {
    float p = s * SIN9;
    p = p + SIN7; p = p * s;
    p = p + SIN5; p = p * s;
    p = p + SIN3; p = p * s;
    p = p * x;
    return p + x;
}
static inline float cos_quarter(float s) {
    float p = s * COS10;
    p = p + COS8; p = p * s;
    p = p + COS6; p = p * s;
    p = p + COS4; p = p * s;
    p = p + COS2; p = p * s;
    return p + 1.0f;
}

static inline double sin_quarter64(double x, double s) {
    double p = s * SIN64[SIN64_N - 1];
    for (int k = SIN64_N - 2; k >= 0; --k) { p = p + SIN64[k]; p = p * s; }
    p = p * x;
    return p + x;
}
static inline double cos_quarter64(double s) {
    double p = s * COS64[COS64_N - 1];
    for (int k = COS64_N - 2; k >= 0; --k) { p = p + COS64[k]; p = p * s; }
    return p + 1.0;
}

/* one Newton step r (4 - z r^3) / 3 towards z^(-1/3) in float32 (levy._inverse_cbrt_step) */
static inline float inv_cbrt_step(float r, float z, float third) {
    float e = r * r;
    e = e * r;
    e = e * z;
    e = -e;
    e = e + 4.0f;
    r = r * e;
    return r * third;
}
/* the same step as r + r (1 - z r^3) / 3 in float64 (levy._inverse_cbrt_refine) */
static inline double inv_cbrt_refine(double r, double z) {
    double e = r * r;
    e = e * r;
    e = e * z;
    e = -e;
    e = e + 1.0;
    e = e * r;
    e = e * THIRD;
    return r + e;
}

/* levy._quarter_angles: t = 2u - 1 in float32, a = h/2 and b = min(|t|, 1) pi/4 (both in [0, pi/4]) */
static void quarter_angles(int64_t m, const double *restrict u, const cms_c *c, float *restrict t_low,
                           float *restrict a, float *restrict b) {
    const float quarter_pi = (float)c->quarter_pi;
    const double grid_half = c->grid_half, quarter_pi64 = c->quarter_pi;
    for (int64_t i = 0; i < m; ++i) {
        double ti = u[i] * 2.0;
        ti = ti - 1.0;
        t_low[i] = (float)ti;
        double hi = -fabs(ti);
        hi = hi + 1.0;
        hi = hi < grid_half ? grid_half : hi;
        a[i] = (float)(hi * quarter_pi64);
        float abs_t = fabsf(t_low[i]);
        abs_t = abs_t > 1.0f ? 1.0f : abs_t;
        b[i] = abs_t * quarter_pi;
    }
}

/* levy._quarter_angles in float64: t = 2u - 1, a = h/2 and b = min(|t|, 1) pi/4 */
static void quarter_angles64(int64_t m, const double *restrict u, const cms_c *c, double *restrict t,
                             double *restrict a, double *restrict b) {
    const double grid_half = c->grid_half, quarter_pi = c->quarter_pi;
    for (int64_t i = 0; i < m; ++i) {
        double ti = u[i] * 2.0;
        ti = ti - 1.0;
        t[i] = ti;
        double hi = -fabs(ti);
        hi = hi + 1.0;
        hi = hi < grid_half ? grid_half : hi;
        a[i] = hi * quarter_pi;
        double abs_t = fabs(ti);
        abs_t = abs_t > 1.0 ? 1.0 : abs_t;
        b[i] = abs_t * quarter_pi;
    }
}

/* levy._tan_quarter_form's ratio and levy._cube_root_form's z = W / (cos b cos^2 V) and sin 3b in
   T, from a = h/2, b = |V|/2 and W, op for op (SIN and COS: the polynomials in T) */
#define DEFINE_QUARTER_FORMS(suffix, T, SIN, COS)                                                  \
    static inline T tan_ratio##suffix(T a, T b) {                                                   \
        T sa2 = a * a, sb2 = b * b;                                                                 \
        T num = SIN(b, sb2) * COS(sb2);                                                             \
        T den = SIN(a, sa2) * COS(sa2);                                                             \
        return num / den;                                                                           \
    }                                                                                               \
    static inline T cube_argument##suffix(T a, T b, T w, T *sin_3b_out) {                          \
        T sa2 = a * a, sb2 = b * b;                                                                 \
        T sa = SIN(a, sa2), ca = COS(sa2);                                                          \
        T sb = SIN(b, sb2), cb = COS(sb2);                                                          \
        T cos_v = sa * ca;                                                                          \
        cos_v = cos_v * (T)2.0;                                                                     \
        T sin_3b = sb * sb;                                                                         \
        sin_3b = sin_3b * (T)-4.0;                                                                  \
        sin_3b = sin_3b + (T)3.0;                                                                   \
        *sin_3b_out = sin_3b * sb;                                                                  \
        T z = cos_v * cos_v;                                                                        \
        z = z * cb;                                                                                 \
        return w / z;                                                                               \
    }
DEFINE_QUARTER_FORMS(32, float, sin_quarter, cos_quarter)
DEFINE_QUARTER_FORMS(64, double, sin_quarter64, cos_quarter64)

/* levy._tan_quarter_form, op for op: float64 output at alpha = 1 (mode 5). */
static void block64_cauchy(int64_t m, const double *restrict u, double *restrict out, const cms_c *c) {
    double t_[B], a_[B], b_[B];
    quarter_angles64(m, u, c, t_, a_, b_);
    for (int64_t i = 0; i < m; ++i) out[i] = copysign(tan_ratio64(a_[i], b_[i]), t_[i]);
}

/* the inverse cube root of levy._cube_root_form: the bit guess of z (a normal float32) and two
   float32 Newton steps */
static inline float inv_cbrt_guess(float z, float third32) {
    int32_t bits;
    memcpy(&bits, &z, 4);
    bits = INV_CBRT_MAGIC - bits / 3;
    float r;
    memcpy(&r, &bits, 4);
    r = inv_cbrt_step(r, z, third32);
    return inv_cbrt_step(r, z, third32);
}

/* levy._exp_variates_, op for op: W = -log(1 - U') by fdlibm's log (e_log.c) without its branches.
   x = 1 - U' (exact on the 2^-53 grid, a normal number) = m 2^e with m in [1/2, 1) as frexp gives
   it, moved to [sqrt(1/2), sqrt(2)); f = m - 1 and s = f / (2 + f). No library function. */
#define LN2_HI 6.93147180369123816490e-01
#define LN2_LO 1.90821492927058770002e-10
#define LG1 6.666666666666735130e-01
#define LG2 3.999999999940941908e-01
#define LG3 2.857142874366239149e-01
#define LG4 2.222219843214978396e-01
#define LG5 1.818357216161805012e-01
#define LG6 1.531383769920937332e-01
#define LG7 1.479819860511658591e-01
#define SQRT_HALF 0.7071067811865476
static void exp_variates(int64_t m, const double *restrict uw, double *restrict w) {
    for (int64_t i = 0; i < m; ++i) {
        double x = -uw[i];
        x = x + 1.0;
        uint64_t bits;
        memcpy(&bits, &x, 8);
        int64_t e = (int64_t)(bits >> 52) - 1022;
        uint64_t mantissa = (bits & 0x000fffffffffffffull) | 0x3fe0000000000000ull;
        double mm;
        memcpy(&mm, &mantissa, 8);
        const int low = mm < SQRT_HALF;
        double twice = mm * 2.0;
        mm = low ? twice : mm;
        double k = (double)(e - low);
        double f = mm - 1.0;
        double s = f + 2.0;
        s = f / s;
        double z = s * s, ww = z * z;
        double t1 = ww * LG6;
        t1 = t1 + LG4; t1 = t1 * ww;
        t1 = t1 + LG2; t1 = t1 * ww;
        double t2 = ww * LG7;
        t2 = t2 + LG5; t2 = t2 * ww;
        t2 = t2 + LG3; t2 = t2 * ww;
        t2 = t2 + LG1; t2 = t2 * z;
        double r = t2 + t1;
        double hfsq = f * 0.5;
        hfsq = hfsq * f;
        double tail = r + hfsq;
        tail = tail * s;
        tail = tail + k * LN2_LO;
        double v = hfsq - tail;
        v = v - f;
        w[i] = v - k * LN2_HI;
    }
}

/* levy._cube_root_form, op for op: float64 output at alpha = 3/2 (mode 4). */
static void block64_cube(int64_t m, const double *restrict u, const double *restrict uw, double *restrict out,
                         const cms_c *c) {
    double w_[B], t_[B], a_[B], b_[B];
    exp_variates(m, uw, w_);
    const float third32 = (float)THIRD;
    const double w_min = c->w_min;
    quarter_angles64(m, u, c, t_, a_, b_);
    for (int64_t i = 0; i < m; ++i) w_[i] = w_[i] < w_min ? w_min : w_[i];
    /* three passes, not one loop: each pass is short and its iterations independent, so the
       core overlaps many of them (one fused loop is bound by its own chain's latency) */
    double *z_ = a_, *sin_3b_ = b_, *r_ = w_;
    for (int64_t i = 0; i < m; ++i) z_[i] = cube_argument64(a_[i], b_[i], w_[i], &sin_3b_[i]);
    for (int64_t i = 0; i < m; ++i) r_[i] = inv_cbrt_guess((float)z_[i], third32);
    for (int64_t i = 0; i < m; ++i) {
        double z = z_[i];
        double r64 = inv_cbrt_refine(r_[i], z);
        r64 = inv_cbrt_refine(r64, z);
        double x = z * r64;
        x = x * r64;
        x = x * sin_3b_[i];
        out[i] = copysign(x, t_[i]);
    }
}

/* levy._tan_quarter_form, op for op: float32 output at alpha = 1 (mode 5). */
static void block32_cauchy(int64_t m, const double *restrict u, float *restrict out, const cms_c *c) {
    float t_low_[B], a_[B], b_[B];
    quarter_angles(m, u, c, t_low_, a_, b_);
    for (int64_t i = 0; i < m; ++i) out[i] = copysignf(tan_ratio32(a_[i], b_[i]), t_low_[i]);
}

/* levy._cube_root_form, op for op: float32 output at alpha = 3/2 (mode 4). */
static void block32_cube(int64_t m, const double *restrict u, const double *restrict uw, float *restrict out,
                         const cms_c *c) {
    double tmp64[B];
    exp_variates(m, uw, tmp64);
    const float third32 = (float)THIRD;
    const double w_min = c->w_min;
    float t_low_[B], a_[B], b_[B], w_[B];
    quarter_angles(m, u, c, t_low_, a_, b_);
    for (int64_t i = 0; i < m; ++i) tmp64[i] = tmp64[i] < w_min ? w_min : tmp64[i];
    for (int64_t i = 0; i < m; ++i) w_[i] = (float)tmp64[i];
    /* passes, as in block64_cube */
    float *z_ = a_, *sin_3b_ = b_, *r_ = w_;
    for (int64_t i = 0; i < m; ++i) z_[i] = cube_argument32(a_[i], b_[i], w_[i], &sin_3b_[i]);
    for (int64_t i = 0; i < m; ++i) r_[i] = inv_cbrt_guess(z_[i], third32);
    for (int64_t i = 0; i < m; ++i) {
        float z = z_[i];
        double z64 = z, r64 = inv_cbrt_refine(r_[i], z);
        double x = z64 * r64;
        x = x * r64;
        x = x * (double)sin_3b_[i];
        out[i] = copysignf((float)x, t_low_[i]);
    }
}

/* simulations.levy._run's prologue and _transform_low, op for op (float32 output). */
static void block32(int64_t m, const double *restrict u, const double *restrict uw, float *restrict out,
                    const cms_c *c, const int mode) {
    double tmp64[B];
    float t_low[B], h[B], abs_v[B], w_low[B], ratio[B], log_cv[B], tmp[B];
    const float alpha = (float)c->alpha, half_pi = (float)c->half_pi, sin_c = (float)c->sin_c;
    const float refl_c = (float)c->refl_c, cos_c = (float)c->cos_c, cos_off = (float)c->cos_off;
    const float oma = (float)(1.0 - c->alpha);
    const float third32 = (float)THIRD;
    for (int64_t i = 0; i < m; ++i) {
        double ti = u[i] * 2.0;
        ti = ti - 1.0;
        t_low[i] = (float)ti;
        double hi = -fabs(ti);
        hi = hi + 1.0;
        hi = hi < c->grid_half ? c->grid_half : hi;
        h[i] = (float)(hi * c->half_pi);
        abs_v[i] = fabsf(t_low[i]);
    }
    if (mode == 1) {
        for (int64_t i = 0; i < m; ++i) abs_v[i] = abs_v[i] * half_pi;
        vmsSin(m, abs_v, abs_v, VML_MODE);
        vmsSin(m, h, h, VML_MODE);
        for (int64_t i = 0; i < m; ++i) out[i] = copysignf(abs_v[i] / h[i], t_low[i]);
        return;
    }
    for (int64_t i = 0; i < m; ++i) tmp64[i] = -uw[i];
    log1p_array(m, tmp64, tmp64);
    for (int64_t i = 0; i < m; ++i) {
        double wi = -tmp64[i];
        w_low[i] = (float)(wi < c->w_min ? c->w_min : wi);
    }
    float *theta = abs_v;
    for (int64_t i = 0; i < m; ++i) theta[i] = abs_v[i] * sin_c;
    if (mode == 2)
        for (int64_t i = 0; i < m; ++i) {
            float r = h[i] * alpha;
            r = r + refl_c;
            theta[i] = r < theta[i] ? r : theta[i];
        }
    for (int64_t i = 0; i < m; ++i) {
        float a = h[i] * cos_c;
        tmp[i] = a + cos_off;
    }
    vmsSin(m, tmp, ratio, VML_MODE);
    for (int64_t i = 0; i < m; ++i) ratio[i] = ratio[i] / w_low[i];
    vmsSin(m, h, tmp, VML_MODE);
    vmsLn(m, tmp, log_cv, VML_MODE);
    vmsLn(m, ratio, ratio, VML_MODE);
    vmsSin(m, theta, theta, VML_MODE);
    if (mode == 2) {
        for (int64_t i = 0; i < m; ++i) {
            float a = ratio[i] * oma;
            a = a - log_cv[i];
            tmp[i] = a / alpha;
        }
        vmsExp(m, tmp, tmp, VML_MODE);
        for (int64_t i = 0; i < m; ++i) out[i] = copysignf(theta[i] * tmp[i], t_low[i]);
        return;
    }
    vmsLn(m, theta, theta, VML_MODE);
    for (int64_t i = 0; i < m; ++i) {
        float a = theta[i] * alpha;
        a = a - log_cv[i];
        float b = ratio[i] * oma;
        a = a + b;
        tmp[i] = a / alpha;
    }
    vmsExp(m, tmp, tmp, VML_MODE);
    for (int64_t i = 0; i < m; ++i) out[i] = copysignf(tmp[i], t_low[i]);
}

/* one block's transform (m <= B) into out (float or double), by mode and dtype */
static void block(int64_t m, const double *restrict u, const double *restrict uw, void *out, const cms_c *c,
                  int mode, int f32) {
    if (mode == 4) {
        if (f32) block32_cube(m, u, uw, (float *)out, c); else block64_cube(m, u, uw, (double *)out, c);
    } else if (mode == 5) {
        if (f32) block32_cauchy(m, u, (float *)out, c); else block64_cauchy(m, u, (double *)out, c);
    } else if (f32) block32(m, u, uw, (float *)out, c, mode);
    else block64(m, u, uw, (double *)out, c, mode);
}

/* The transform of given uniforms (U for V, U' for W): the torch path's _run(uniforms=True). */
void cms_map(int64_t n, const double *u, const double *uw, void *out, const cms_c *c, int mode, int f32) {
    for (int64_t s = 0; s < n; s += B) {
        int64_t m = n - s < B ? n - s : B;
        block(m, u + s, uw + s, f32 ? (void *)((float *)out + s) : (void *)((double *)out + s), c, mode, f32);
    }
}

/* one block of m samples from the two engines into out (float or double): V's uniforms from ev,
   W's from ew (the caller set ew 2n words ahead of ev). At alpha = 1 W is not used, and its words
   are skipped by the caller. */
static void sample_block(int64_t m, mt_t *ev, mt_t *ew, void *out, const cms_c *c, int mode, int f32) {
    uint32_t words[2 * B];
    double u[B], uw[B];
    mt_words(ev, words, 2 * m);
    to_unit(m, words, u);
    if (USES_W(mode)) { mt_words(ew, words, 2 * m); to_unit(m, words, uw); }
    block(m, u, uw, out, c, mode, f32);
}

void cms_sample(int64_t n, mt_t *ev, mt_t *ew, void *out, const cms_c *c, int mode, int f32) {
    for (int64_t s = 0; s < n; s += B) {
        int64_t m = n - s < B ? n - s : B;
        sample_block(m, ev, ew, f32 ? (void *)((float *)out + s) : (void *)((double *)out + s), c, mode, f32);
    }
}

/* cms_sample of a (rows, cols, dim) draw, stored as (cols, rows, dim): sample s of the draw order,
   s = (i cols + j) dim + k, goes to out[(j rows + i) dim + k]. The same values as a transposed copy,
   without writing the draw order first (one pass less, and no second array). */
#define DEFINE_SCATTER(name, T)                                                                       \
    static void name(int64_t m, const T *restrict src, T *restrict out, int64_t rows, int64_t cols,   \
                     int64_t dim, int64_t *i, int64_t *j, int64_t *k) {                              \
        for (int64_t q = 0; q < m; ++q) {                                                             \
            out[(*j * rows + *i) * dim + *k] = src[q];                                                \
            if (++*k == dim) { *k = 0; if (++*j == cols) { *j = 0; ++*i; } }                        \
        }                                                                                             \
    }
DEFINE_SCATTER(scatter32, float)
DEFINE_SCATTER(scatter64, double)

void cms_sample_transposed(int64_t rows, int64_t cols, int64_t dim, mt_t *ev, mt_t *ew, void *out,
                           const cms_c *c, int mode, int f32) {
    double block[B];
    int64_t n = rows * cols * dim, i = 0, j = 0, k = 0;
    if (dim == 1 && cols <= B) {  /* whole paths per block: the writes of one step are contiguous */
        const int64_t per = B / cols;
        for (int64_t i0 = 0; i0 < rows; i0 += per) {
            int64_t p = rows - i0 < per ? rows - i0 : per;
            sample_block(p * cols, ev, ew, block, c, mode, f32);
            for (int64_t jj = 0; jj < cols; ++jj) {
                if (f32) {
                    const float *src = (const float *)block + jj;
                    float *dst = (float *)out + jj * rows + i0;
                    for (int64_t q = 0; q < p; ++q) dst[q] = src[q * cols];
                } else {
                    const double *src = block + jj;
                    double *dst = (double *)out + jj * rows + i0;
                    for (int64_t q = 0; q < p; ++q) dst[q] = src[q * cols];
                }
            }
        }
        return;
    }
    for (int64_t s = 0; s < n; s += B) {
        int64_t m = n - s < B ? n - s : B;
        sample_block(m, ev, ew, block, c, mode, f32);
        if (f32) scatter32(m, (const float *)block, (float *)out, rows, cols, dim, &i, &j, &k);
        else scatter64(m, block, (double *)out, rows, cols, dim, &i, &j, &k);
    }
}
"""


class MT(ctypes.Structure):
    """``mt_t``: torch's engine state (the 624 words and the left/next counters)."""
    _fields_ = [("s", ctypes.c_uint32 * 624), ("left", ctypes.c_int64), ("next", ctypes.c_int64)]


class Constants(ctypes.Structure):
    """``cms_c``: the Python floats of the torch path's transform (see :func:`constants`)."""
    _fields_ = [(name, ctypes.c_double) for name in
                ("alpha", "half_pi", "grid_half", "w_min", "pi", "sin_c", "refl_c", "cos_c", "cos_off", "expo",
                 "quarter_pi")]


def capability() -> str | None:
    """The SLEEF variant torch's CPU kernels use here (log1p must be the same function)."""
    cap = torch.backends.cpu.get_cpu_capability()
    return {"AVX512": "AMLAB_AVX512", "AVX2": "AMLAB_AVX2"}.get(cap)


def _library() -> SharedLibrary | None:
    cap = capability()
    if cap is None or not torch.backends.mkl.is_available():
        return None
    flags = [*STRICT_FLAGS, f"-D{cap}"]
    return SharedLibrary("cms_sampler", SOURCE, flags, torch_cpu_link(), _declare)


def _declare(lib: ctypes.CDLL) -> None:
    vp, i64 = ctypes.c_void_p, ctypes.c_int64
    lib.mt_words.argtypes = [vp, vp, i64]
    lib.mt_uniform.argtypes = [vp, i64, vp]
    lib.cms_map.argtypes = [i64, vp, vp, vp, vp, ctypes.c_int, ctypes.c_int]
    lib.cms_sample.argtypes = [i64, vp, vp, vp, vp, ctypes.c_int, ctypes.c_int]
    lib.cms_sample_transposed.argtypes = [i64, i64, i64, vp, vp, vp, vp, ctypes.c_int, ctypes.c_int]
    for fn in (lib.mt_words, lib.mt_uniform, lib.cms_map, lib.cms_sample, lib.cms_sample_transposed):
        fn.restype = None


_WHY_NOT_BUILT = "torch here has no MKL, or a CPU capability other than AVX2/AVX512"


@functools.cache
def library() -> SharedLibrary | None:
    """The sampler's library description, made on first use (it asks torch for its capability)."""
    return _library()


def kernel() -> ctypes.CDLL | None:
    """The loaded sampler (built on first use), or None where it does not apply (:func:`why_not`)."""
    lib = library()
    return lib.get() if lib is not None else None


def why_not() -> str | None:
    lib = library()
    return _WHY_NOT_BUILT if lib is None else lib.why_not()


# torch's legacy generator state (CPUGeneratorImplStateLegacy): seed u64, left i32, seeded i32,
# next u64, state u64[624], then the cached normal samples, 5056 bytes in all
_LEFT, _NEXT, _WORDS, _STATE_BYTES = 8, 16, 24, 5056


def read_state(gen: torch.Generator) -> tuple[MT, np.ndarray]:
    raw = gen.get_state().numpy()
    if raw.size != _STATE_BYTES:
        raise RuntimeError(f"unexpected torch CPU generator state of {raw.size} bytes")
    engine = MT()
    words = raw[_WORDS:_WORDS + 8 * 624].view(np.uint64).astype(np.uint32)
    ctypes.memmove(engine.s, words.ctypes.data, 4 * 624)
    engine.left = int(raw[_LEFT:_LEFT + 4].view(np.int32)[0])
    engine.next = int(raw[_NEXT:_NEXT + 8].view(np.uint64)[0])
    return engine, raw


def write_state(gen: torch.Generator, engine: MT, raw: np.ndarray) -> None:
    raw = raw.copy()
    raw[_LEFT:_LEFT + 4] = np.frombuffer(np.int32(engine.left).tobytes(), np.uint8)
    raw[_NEXT:_NEXT + 8] = np.frombuffer(np.uint64(engine.next).tobytes(), np.uint8)
    raw[_WORDS:_WORDS + 8 * 624] = np.ctypeslib.as_array(engine.s).astype(np.uint64).view(np.uint8)
    gen.set_state(torch.from_numpy(raw))


# huge-page advice for fresh outputs, numpy's policy for its arrays (numpy/_core/src/multiarray/alloc.c)
# on Linux, unless NUMPY_MADVISE_HUGEPAGE=0, but from 2 MiB (numpy: 4 MiB), the least that can hold an
# aligned huge page (torch's buffers are not 2 MiB aligned: 1e6 float32 samples, 3.8 MiB, usually
# hold one, a buffer just over 2 MiB seldom does). Why: a fresh 8 MB output is 2048 page
# faults, 40% of a 1e6-sample float64 call at alpha 3/2 here; with transparent huge pages a few.
_HUGEPAGE_MIN_BYTES = 1 << 21
_MADV_HUGEPAGE = 14
# and the pages are then faulted in by one call (Linux 5.14+; an older kernel refuses it, and the
# kernel writes on first touch as before): a page fault per 4 KiB (or 2 MiB) page costs more than
# the zeroing itself, 12% of a fresh 1e6-sample float64 call at alpha 1 here
_MADV_POPULATE_WRITE = 23
_PAGE = 4096


@functools.cache
def _madvise():
    """libc's madvise where numpy would advise huge pages, else None (NUMPY_MADVISE_HUGEPAGE=0 turns
    off both the huge-page advice and the population of :func:`empty_output`)."""
    if not sys.platform.startswith("linux") or os.environ.get("NUMPY_MADVISE_HUGEPAGE", "1") == "0":
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int], ctypes.c_int
    return fn


def empty_output(n: int, dtype: torch.dtype) -> torch.Tensor:
    """A fresh CPU tensor of n elements (not torch's default device: C writes here), advised to use
    huge pages as numpy advises its arrays: the whole pages inside it, 2 MiB and more, and those
    pages faulted in at once. The advice changes no value and may be ignored by the kernel (its
    result is not checked)."""
    out = torch.empty(n, dtype=dtype, device="cpu")
    nbytes = n * out.element_size()
    madvise = _madvise()
    if madvise is not None and nbytes >= _HUGEPAGE_MIN_BYTES:
        start = out.data_ptr()
        offset = -start % _PAGE
        length = (nbytes - offset) // _PAGE * _PAGE
        for advice in (_MADV_HUGEPAGE, _MADV_POPULATE_WRITE):
            madvise(start + offset, length, advice)
    return out


def constants(alpha: float, half_pi: float, grid: float, tiny64: float,
              special: bool = True) -> tuple[Constants, int]:
    """The transform's scalars, computed as the torch path computes them, and its mode: with
    ``special`` (levy._SPECIAL_FORMS), the cube-root form at alpha = 3/2 (mode 4) and the quarter-angle
    tangent at alpha = 1 (mode 5), in both dtypes; otherwise the general form."""
    c = abs(1.0 - alpha)
    values = Constants(alpha, half_pi, grid / 2, -math.log1p(-grid / 2), math.pi, alpha * half_pi,
                       (2.0 - alpha) * half_pi, c, (1.0 - c) * half_pi,
                       (1.0 - alpha) / alpha if alpha >= tiny64 else 1.0 - alpha, half_pi / 2)
    mode = 1 if alpha == 1.0 else 2 if alpha > 1.0 else (0 if alpha >= tiny64 else 3)
    if special and alpha in (1.0, 1.5):
        mode = 5 if alpha == 1.0 else 4
    return values, mode


class Draw:
    """One draw of n samples from ``gen`` in progress: the two engines (V's uniforms from ``ev``, W's
    from ``ew``, set 2n words ahead), the transform's constants and mode. The kernel's samplers take
    them by pointer (:meth:`pointers`), in one call or chunk by chunk in draw order; :meth:`finish`
    leaves ``gen`` where two ``torch.rand(n, dtype=float64)`` calls would (V's uniforms, then W's)."""

    def __init__(self, lib: ctypes.CDLL, alpha: float, n: int, gen: torch.Generator, dtype: torch.dtype, *,
                 half_pi: float, grid: float, tiny64: float, special: bool = True):
        self.lib, self.n, self.gen, self.f32 = lib, n, gen, int(dtype == torch.float32)
        self.ev, self._raw = read_state(gen)
        self.values, self.mode = constants(alpha, half_pi, grid, tiny64, special)
        self.uses_w = alpha != 1.0
        self.ew = MT.from_buffer_copy(self.ev)
        if self.uses_w:
            lib.mt_words(ctypes.byref(self.ew), None, 2 * n)  # W's uniforms start 2n words later

    def pointers(self) -> tuple[ctypes.c_void_p, ...]:
        """(ev, ew, constants) for the C calls."""
        return ctypes.byref(self.ev), ctypes.byref(self.ew), ctypes.byref(self.values)

    def finish(self) -> None:
        if not self.uses_w:  # W is drawn but unused at alpha = 1, as in torch: its 2n words follow V's
            self.lib.mt_words(ctypes.byref(self.ev), None, 2 * self.n)
            self.ew = self.ev
        write_state(self.gen, self.ew, self._raw)


def transposed_sampler(lib: ctypes.CDLL) -> int:
    """The address of cms_sample_transposed (for a kernel that draws its noise chunk by chunk)."""
    return ctypes.cast(lib.cms_sample_transposed, ctypes.c_void_p).value


def sample(lib: ctypes.CDLL, alpha: float, n: int, gen: torch.Generator, dtype: torch.dtype, *,
           half_pi: float, grid: float, tiny64: float, transposed: tuple[int, int, int] | None = None,
           out: torch.Tensor | None = None, special: bool = True) -> torch.Tensor:
    """n samples (flat, float32 or float64) from ``gen``, which ends where two ``torch.rand(n,
    dtype=float64)`` calls would leave it (V's uniforms, then W's). With ``transposed`` = (rows,
    cols, dim), n = rows cols dim and the draw is stored as (cols, rows, dim) (its transpose(0, 1),
    contiguous). ``out``: a contiguous CPU tensor of n elements and ``dtype`` to write into.
    ``special``: levy._SPECIAL_FORMS (see :func:`constants`)."""
    if out is None:
        out = empty_output(n, dtype)
    elif not (out.is_contiguous() and out.numel() == n and out.dtype == dtype and out.device.type == "cpu"):
        raise ValueError(f"out must be a contiguous CPU {dtype} tensor of {n} elements")
    if transposed is not None and math.prod(transposed) != n:
        raise ValueError(f"transposed shape {transposed} does not hold {n} samples")
    draw = Draw(lib, alpha, n, gen, dtype, half_pi=half_pi, grid=grid, tiny64=tiny64, special=special)
    ev, ew, values = draw.pointers()
    if transposed is None:
        lib.cms_sample(n, ev, ew, out.data_ptr(), values, draw.mode, draw.f32)
    else:
        lib.cms_sample_transposed(*transposed, ev, ew, out.data_ptr(), values, draw.mode, draw.f32)
    draw.finish()
    return out


def transform(lib: ctypes.CDLL, alpha: float, u: torch.Tensor, uw: torch.Tensor, dtype: torch.dtype, *,
              half_pi: float, grid: float, tiny64: float, special: bool = True) -> torch.Tensor:
    """The kernel's transform of given float64 uniforms (flat, contiguous): the torch path's
    ``_run(alpha, u, uw, out, uniforms=True)`` (the tests compare the two bit for bit)."""
    u, uw = u.contiguous(), uw.contiguous()
    out = torch.empty(u.numel(), dtype=dtype, device="cpu")
    values, mode = constants(alpha, half_pi, grid, tiny64, special)
    lib.cms_map(u.numel(), u.data_ptr(), uw.data_ptr(), out.data_ptr(), ctypes.byref(values), mode,
                int(dtype == torch.float32))
    return out
