"""Symmetric alpha-stable sampling and tail-index estimation.

Convention (REFERENCES.md, "Alpha-stable noise"): a unit-scale symmetric alpha-stable variable
X has E exp(iuX) = exp(-|u|^alpha), 0 < alpha <= 2 (scipy.stats.levy_stable with beta = 0).
alpha = 2 is N(0, 2), not N(0, 1); alpha = 1 is the standard Cauchy law.

Sampling is the exact Chambers-Mallows-Stuck (CMS) formula for beta = 0,

    X = sin(alpha V) / cos(V)^(1/alpha) * (cos((1 - alpha) V) / W)^((1 - alpha)/alpha),

V ~ U(-pi/2, pi/2), W ~ Exp(1); at alpha = 1 it is tan(V). The tail of X comes from V near
+-pi/2, where cos(V) -> 0, so the formula is evaluated in a form that never loses that tail:

* the uniforms are drawn in float64 (a 2^-53 grid) even for float32 output, so the largest
  samples are limited by the law, not by a 2^-24 uniform grid;
* with t = V / (pi/2) = 2U - 1 (exact), h = pi/2 - |V| = (1 - |t|) pi/2 (the distance to the
  singularity) is computed in float64 and every factor is rewritten in terms of h or |V| without
  cancellation: cos V = sin h, cos((1-alpha)V) = sin((1 - c) pi/2 + c h) with c = |1 - alpha|,
  and sin(alpha |V|) = sin(pi - alpha |V|) = sin((2 - alpha) pi/2 + alpha h);
* nothing is clamped except the two measure-zero grid points that would make the formula
  0/0 or x/0: U = 0 exactly (t = -1, V = -pi/2, h = 0, probability 2^-53) is moved to the middle
  of its grid cell (h = 2^-54 pi/2), and W = 0 exactly (probability 2^-53) likewise
  (W = -log1p(-2^-54)); :func:`cms_transform` applies the same rule to any |t| >= 1 it is given.
  No sample is truncated, no NaN replaced.

Angles stay inside (0, pi), so every sine is positive and every log finite (no NaN):

* float64 output in the general form (bit-identical to the sampler before issue 13; every alpha
  but 1 and 3/2, and those two with ``_SPECIAL_FORMS`` off): for alpha > 1 the angle
  fl(fl(alpha h) + fl((2 - alpha) pi/2)) has exact value at most alpha H + (2 - alpha) H = 2H =
  fl(pi) (H = fl(pi/2) >= h, 2 - alpha exact) plus two half-ulp roundings (<= 2.2e-16 + 1.1e-16),
  so it rounds to at most nextafter(fl(pi)), which is above pi (sin < 0, the NaN of issue 13).
  It is clamped to fl(pi) < pi: the clamp moves only that one value, by one ulp, and only
  where the result was NaN before, so every finite sample is unchanged bit for bit; the moved
  angle is within 1.5 ulp of its exact value, the accuracy of every other angle near pi.
* float32 output: sin(alpha |V|) is the sine of theta = min(alpha |V|, (2 - alpha) pi/2 +
  alpha h), the two float32 expressions of the same sine (x and pi - x). Their exact sum is pi and
  each carries a relative rounding error of a few 2^-24, so theta <= pi/2 + 4e-7 < pi and theta
  >= 0, with theta = 0 only at t = 0 exactly (X = 0, right). No clamp at all, and the small
  angle near V = 0 keeps full relative accuracy (sin(alpha |V|) directly), the small angle near
  |V| = pi/2 too (the h form). For alpha <= 1, theta = alpha |V| <= alpha pi/2 already; at
  alpha = 1, tan |V| = sin(|V|) / sin(h). cos((1 - alpha) V) = sin((1 - c) pi/2 + c h) has
  both terms >= 0 and sum <= pi/2 + 4e-7, positive since h > 0.
* the logs are combined as (alpha log sin(theta) - log cos V + (1 - alpha) log(cos((1-alpha)V)/W))
  / alpha in float32 (and in float64 for alpha < 1e-300): the bracket is finite or -inf (at
  V = 0), so there is no inf - inf, hence no NaN, for any alpha > 0. float32 output for
  alpha < 2^-64 is computed in float64 and rounded (float32(alpha) would underflow).

At alpha = 3/2 (the escape experiments' default) and alpha = 1, float32 and float64 output take
exact special forms of the same map (:func:`_cube_root_form`, :func:`_tan_quarter_form`): at 3/2
the exponents are 2/3 and 1/3, so with b = |V|/2 and a = h/2, X = sign(V) sin 3b
cbrt(W / (cos b cos^2 V)), sin 3b = sin b (3 - 4 sin^2 b) and cos V = 2 sin a cos a; at 1,
X = tan V = sign(V) sin b cos b / (sin a cos a). a and b lie in [0, pi/4], where short polynomials
(Taylor to x^9 / x^10 in float32, fdlibm's kernels to x^13 / x^14 in float64) are exact to the
dtype, and the cube root is a bit guess and Newton steps: no library sine, log or exp (and at 3/2, where W enters only through
its cube root, W = -log(1 - U') by fdlibm's log in plain operations, :func:`_exp_variates_`, not
SLEEF's log1p), the same uniforms and law, each sample
within a few ulps of the exact map (tests/test_levy.py; the general forms' logs and exp are less
accurate in the tail, and the general float64 form has no relative accuracy near V = 0, where it
forms V as pi/2 - h). Their values differ in the last bits from the general form's, so runs at
alpha = 1 and 1.5 are not bit-identical to those made before these forms; ``_SPECIAL_FORMS = False``
gives the general form (and the earlier stream) back. Every angle is a polynomial argument in
[0, pi/4] and every factor is positive and bounded, so there is no NaN and no inf here either.

+-inf appears only where the exact sample exceeds the dtype's range, which is a property of the
law, not of the arithmetic: P(|X| > x) ~ (2 c_alpha / alpha) x^-alpha, which at float32's 3.4e38
is ~1e-16 for alpha = 0.5 (never seen in practice) but 1e-4 at alpha = 0.1 and 0.2 at alpha = 0.01
(use float64 there; float64 overflows only for alpha below about 0.05, at rates that grow as
alpha -> 0). Truncating those samples would change the law, so they are left as +-inf.

Speed: the transform runs in chunks of ``_CHUNK`` elements through a few reused buffers (in
place, out=), so a large call pays the page faults of its two uniform tensors and its output only,
and each chunk's temporaries stay in cache. float32 does the angle arithmetic and the
transcendentals in float32 after forming h, t and W in float64. On the CPU the native kernel of
:mod:`simulations.levy_native` does the same per block of 1024 samples, drawing the uniforms from the
generator's own Mersenne Twister state and calling the same MKL and SLEEF functions as torch (and
the same polynomial operations in the special forms): bit for bit the torch path
(:func:`sample_torch`, which every other device and dtype runs).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from simulations import levy_native
from theory.bounds import stable_levy_constant

_HALF_PI = math.pi / 2
_GRID = 2.0**-53  # spacing of torch.rand in float64
_CHUNK = 1 << 16  # elements per transform chunk on the CPU (buffers stay in L2/L3)
_TINY_ALPHA_64 = 1e-300  # below it the float64 path uses the bracket form (no inf - inf)
_TINY_ALPHA_32 = 2.0**-64  # below it float32 output is computed in float64 and rounded
_CUBE_ROOT_ALPHA = 1.5  # output at this alpha takes the cube-root form (no log, no exp)
# alpha 1 and 1.5 take the special forms in float32 and float64. Off, both the torch path and the
# native kernel take the general form: the stream of the sampler before issue 13 (the recorded runs
# were made with it, and reproduce either way: their exit steps do not move with the last bits) and
# the benchmark's before-issue-13 reference.
_SPECIAL_FORMS = True
_INVERSE_CBRT_MAGIC = 0x54A21D2A
_THIRD = 1.0 / 3.0
# fdlibm's log (e_log.c): log 2 split in two, and the coefficients of its polynomial in s^2, for the
# cube-root form's W = -log(1 - U') (:func:`_exp_variates_`; the native kernel's exp_variates)
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_LG = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, 2.222219843214978396e-01,
       1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01)
_SQRT_HALF = math.sqrt(0.5)
# coefficients of sin x / x - 1 (x^2 ... ) and cos x - 1 (x^2 ...) on [0, pi/4]. float32: Taylor, to
# x^9 and x^10 (the next terms are below 2.5e-9 / 1.2e-10 relative there). float64: fdlibm's
# kernels (k_sin.c S1-S6, to x^13; k_cos.c -1/2 and C1-C6, to x^14), fitted on [-pi/4, pi/4] with
# an approximation error below 2^-58, two terms fewer each than Taylor to x^17 / x^16 for the same
# accuracy (tests/test_levy.py)
_SIN_QUARTER = {torch.float32: tuple((-1) ** k / math.factorial(2 * k + 1) for k in range(1, 5)),
                torch.float64: (-1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04,
                                2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10)}
_COS_QUARTER = {torch.float32: tuple((-1) ** k / math.factorial(2 * k) for k in range(1, 6)),
                torch.float64: (-0.5, 4.16666666666666019037e-02, -1.38888888888741095749e-03,
                                2.48015872894767294178e-05, -2.75573143513906633035e-07, 2.08757232129817482790e-09,
                                -1.13596475577881948265e-11)}


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not (0.0 < alpha <= 2.0) or not math.isfinite(alpha):
        raise ValueError(f"tail index alpha must satisfy 0 < alpha <= 2, got {alpha}")
    return alpha


class _Buffers:
    """Chunk-sized scratch tensors, allocated once per call and reused for every chunk."""

    def __init__(self, n: int, device, dtype: torch.dtype):
        self.n = n
        self._f64 = [torch.empty(n, device=device, dtype=torch.float64) for _ in range(3)]
        self._out = [torch.empty(n, device=device, dtype=dtype) for _ in range(5)] \
            if dtype != torch.float64 else []
        self.dtype = dtype

    def f64(self, i: int, m: int) -> torch.Tensor:
        return self._f64[i][:m]

    def low(self, i: int, m: int) -> torch.Tensor:
        return self._out[i][:m]


def _takes_cube_root_form(alpha: float, dtype: torch.dtype) -> bool:
    """Whether output of ``dtype`` at ``alpha`` takes :func:`_cube_root_form` (and its W,
    :func:`_exp_variates_`)."""
    return _SPECIAL_FORMS and alpha == _CUBE_ROOT_ALPHA and dtype in (torch.float32, torch.float64)


def _exp_variates_(u: torch.Tensor) -> torch.Tensor:
    """W = -log(1 - U') from float64 uniforms on the 2^-53 grid, in place, by fdlibm's log
    (e_log.c) without its branches: x = 1 - U' (exact on the grid) = 2^k m with m in [sqrt(1/2),
    sqrt(2)), f = m - 1 (exact), s = f / (2 + f), log(1 + f) = f - (f^2/2 - s (f^2/2 + R(s^2))) and
    log x = k log 2 + log(1 + f), log 2 in two parts. Within 0.83 ulp of -log(1 - U') over 2e6 draws
    of the grid (tests/test_levy.py bounds it by 1 ulp; SLEEF's log1p, which the other forms use:
    0.75), so the same Exp(1) law, and W = 0 exactly at U' = 0 as before. Why not log1p: at
    alpha = 3/2 nothing else in the sample calls a library function, and in the native kernel
    (``exp_variates``, the same operations in the same order) it takes about half of SLEEF's
    log1p's time, 1.1 ns less per sample."""
    x = u.neg_().add_(1.0)
    m, e = torch.frexp(x)  # x = m 2^e, m in [1/2, 1)
    low = m < _SQRT_HALF
    m = torch.where(low, m * 2.0, m)
    k = e.sub_(low.to(e.dtype)).to(torch.float64)
    f = m.sub_(1.0)
    s = torch.add(f, 2.0)
    s = torch.div(f, s, out=s)
    z = s * s
    w = z * z
    t1 = torch.mul(w, _LG[5]).add_(_LG[3]).mul_(w).add_(_LG[1]).mul_(w)
    t2 = torch.mul(w, _LG[6]).add_(_LG[4]).mul_(w).add_(_LG[2]).mul_(w).add_(_LG[0]).mul_(z)
    r = t2.add_(t1)
    hfsq = torch.mul(f, 0.5).mul_(f)
    tail = r.add_(hfsq).mul_(s).add_(torch.mul(k, _LN2_LO))  # s (f^2/2 + R) + k log2_lo
    return torch.sub(hfsq, tail, out=u).sub_(f).sub_(k.mul_(_LN2_HI))  # -(k log2_hi - ((.) - f))


def _transform64(alpha: float, t: torch.Tensor, w: torch.Tensor, out: torch.Tensor,
                 buf: _Buffers) -> None:
    """float64 CMS on one chunk: ``t`` = V/(pi/2) and ``w`` = W (float64, both overwritten as
    scratch), result into ``out``. At alpha 1 and 3/2 the special forms (with ``_SPECIAL_FORMS``);
    otherwise the arithmetic is the pre-issue-13 float64 sampler's, op for op (bit-identical), plus
    the NaN-only clamp proved in the module docstring."""
    if _SPECIAL_FORMS and alpha in (1.0, _CUBE_ROOT_ALPHA):
        _tan_quarter_form(t, out) if alpha == 1.0 else _cube_root_form(t, w, out)
        return
    m = t.numel()
    sign = torch.sign(t, out=buf.f64(0, m))
    h = torch.abs(t, out=buf.f64(2, m))  # |t|; t is dead from here (``out`` may alias it)
    if alpha < 1.0:
        sin_av = torch.mul(h, alpha * _HALF_PI, out=buf.f64(1, m)).sin_()
    h.neg_().add_(1.0).clamp_(min=_GRID / 2).mul_(_HALF_PI)  # (1 - |t|) pi/2, exact 1 - |t|
    w.clamp_(min=-math.log1p(-_GRID / 2))
    if alpha == 1.0:
        torch.cos(h, out=out).div_(h.sin_())  # tan|V| = cos h / sin h
    else:
        if alpha > 1.0:
            sin_av = torch.mul(h, alpha, out=buf.f64(1, m)).add_((2.0 - alpha) * _HALF_PI)
            sin_av.clamp_(max=math.pi).sin_()  # clamp: NaN-only, one ulp (module docstring)
        c = abs(1.0 - alpha)
        cos_1av = torch.mul(h, c, out=out).add_((1.0 - c) * _HALF_PI).sin_()
        log_cv = h.sin_().log_()
        if alpha >= _TINY_ALPHA_64:
            log_x = sin_av.log_().sub_(log_cv.div_(alpha)).add_(
                cos_1av.log_().sub_(w.log_()).mul_((1.0 - alpha) / alpha))
        else:  # bracket form: finite or -inf, divided by alpha > 0 (no inf - inf)
            log_x = sin_av.log_().mul_(alpha).sub_(log_cv).add_(
                cos_1av.log_().sub_(w.log_()).mul_(1.0 - alpha)).div_(alpha)
        torch.exp(log_x, out=out)
    out.mul_(sign)


def _transform_low(alpha: float, t: torch.Tensor, w: torch.Tensor, out: torch.Tensor,
                   buf: _Buffers) -> None:
    """float32 (or other low-precision dtype) CMS on one chunk; see the module docstring for
    why every angle is in (0, pi). ``t`` and ``w`` are float64 scratch (overwritten)."""
    if _SPECIAL_FORMS and out.dtype == torch.float32 and alpha in (1.0, _CUBE_ROOT_ALPHA):
        _tan_quarter_form(t, out) if alpha == 1.0 else _cube_root_form(t, w, out)
        return
    m = t.numel()
    t_low = buf.low(0, m).copy_(t)  # sign and |V|; t != 0 stays != 0 (t on a 2^-52 grid)
    h64 = t.abs_().neg_().add_(1.0).clamp_(min=_GRID / 2).mul_(_HALF_PI)
    h = buf.low(1, m).copy_(h64)
    abs_v = buf.low(2, m)
    torch.abs(t_low, out=abs_v)
    if alpha == 1.0:
        torch.div(abs_v.mul_(_HALF_PI).sin_(), h.sin_(), out=out)  # tan|V| = sin|V| / sin h
        out.copysign_(t_low)
        return
    w_low = buf.low(3, m).copy_(w.clamp_(min=-math.log1p(-_GRID / 2)))
    theta = abs_v.mul_(alpha * _HALF_PI)  # alpha |V|
    if alpha > 1.0:
        refl = torch.mul(h, alpha, out=buf.low(4, m)).add_((2.0 - alpha) * _HALF_PI)
        torch.minimum(theta, refl, out=theta)  # in [0, pi/2 + 4e-7]: see the module docstring
    c = abs(1.0 - alpha)
    ratio = torch.mul(h, c, out=buf.low(4, m)).add_((1.0 - c) * _HALF_PI).sin_().div_(w_low)
    log_cv = h.sin_().log_()
    if alpha > 1.0:
        # X = sin(theta) exp(((1 - alpha) log r - log cos V) / alpha), r = cos((1-alpha)V) / W.
        # Bounds: log r in [-40.6, 37.4] (sin >= sin(2^-54 pi/2), W in [2^-54, 36.8]) and
        # -log cos V in [0, 37], so the exponent is in [-37.4, 77.6] for alpha > 1: exp is finite
        # and normal (float32 overflows at 88.7), sin(theta) in [0, 1], no 0 * inf, no NaN.
        expo = ratio.log_().mul_(1.0 - alpha).sub_(log_cv).div_(alpha).exp_()
        torch.mul(theta.sin_(), expo, out=out).copysign_(t_low)
        return
    # alpha < 1: the exponent can exceed float32's range, so stay in logs (bracket: finite or
    # -inf at t = 0; divided by alpha > 0, no inf - inf).
    bracket = theta.sin_().log_().mul_(alpha).sub_(log_cv).add_(ratio.log_().mul_(1.0 - alpha))
    torch.div(bracket, alpha, out=out).exp_().copysign_(t_low)


def _sin_quarter(x: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """sin x for 0 <= x <= pi/4 in x's dtype (float32 or float64): its Taylor polynomial
    (``_SIN_QUARTER``), Horner in x2 = x^2, as the native kernel's ``sin_quarter``."""
    coefficients = _SIN_QUARTER[x.dtype]
    p = torch.mul(x2, coefficients[-1])
    for coefficient in reversed(coefficients[:-1]):
        p.add_(coefficient).mul_(x2)
    return p.mul_(x).add_(x)


def _cos_quarter(x2: torch.Tensor) -> torch.Tensor:
    """cos x for 0 <= x <= pi/4 from x2 = x^2: its Taylor polynomial (``_COS_QUARTER``), as the
    native kernel's ``cos_quarter``."""
    coefficients = _COS_QUARTER[x2.dtype]
    p = torch.mul(x2, coefficients[-1])
    for coefficient in reversed(coefficients[:-1]):
        p.add_(coefficient).mul_(x2)
    return p.add_(1.0)


def _inverse_cbrt_step(r: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """One Newton step r (4 - z r^3) / 3 towards z^(-1/3), in r's dtype, in place (relative error
    e -> about -2 e^2)."""
    e = torch.mul(r, r).mul_(r).mul_(z).neg_().add_(4.0)
    return r.mul_(e).mul_(_THIRD)


def _inverse_cbrt_refine(r: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """The same Newton step as r + r (1 - z r^3) / 3, in place: the correction is small, so the
    rounding of 1/3 (a 2^-54 relative bias in every r of the multiplicative form, 2^-53 in z r^2)
    does not reach r; the float64 steps of the cube-root form."""
    e = torch.mul(r, r).mul_(r).mul_(z).neg_().add_(1.0)
    return r.add_(e.mul_(r).mul_(_THIRD))


def _quarter_angles(t: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """t, a = h/2 (h = pi/2 - |V|, formed in float64 as in the general form) and b = |V|/2 in
    ``dtype``, a and b in [0, pi/4] (|t| >= 1 is read as V = +-pi/2). ``t`` (float64) is overwritten."""
    t_low = torch.empty(t.numel(), dtype=dtype, device=t.device).copy_(t)
    a = t.abs_().neg_().add_(1.0).clamp_(min=_GRID / 2).mul_(_HALF_PI / 2).to(dtype)
    b = t_low.abs().clamp_(max=1.0).mul_(_HALF_PI / 2)
    return t_low, a, b


def _tan_quarter_form(t: torch.Tensor, out: torch.Tensor) -> None:
    """float32 or float64 output at alpha = 1 on one chunk: X = tan V = sign(V) sin b cos b /
    (sin a cos a) (sin|V| = 2 sin b cos b, cos V = sin h = 2 sin a cos a), with the polynomials of
    :func:`_sin_quarter`: no library sine, each factor free of cancellation (sin b small near V = 0,
    sin a near the tail), the quotient within a few ulps. ``t`` may alias ``out``."""
    t_low, a, b = _quarter_angles(t, out.dtype)
    a2, b2 = a * a, b * b
    num = _sin_quarter(b, b2).mul_(_cos_quarter(b2))
    den = _sin_quarter(a, a2).mul_(_cos_quarter(a2))
    torch.div(num, den, out=out).copysign_(t_low)


def _cube_root_form(t: torch.Tensor, w: torch.Tensor, out: torch.Tensor) -> None:
    """float32 or float64 output at alpha = 3/2 on one chunk (``t`` = V/(pi/2), ``w`` = W, float64
    scratch; ``t`` may alias ``out``).

    At alpha = 3/2 the CMS exponents are 1/alpha = 2/3 and (alpha - 1)/alpha = 1/3, so with
    b = |V|/2 and a = h/2 = pi/4 - b, X = sign(V) sin(3b) cbrt(W / (cos b cos^2 V)): no log, no
    exp, and every factor without cancellation: sin 3b = sin b (3 - 4 sin^2 b) keeps relative
    accuracy near V = 0, cos V = sin h = 2 sin a cos a near |V| = pi/2 (the tail), and cos b is in
    [0.707, 1]. a and b lie in [0, pi/4], where short Taylor polynomials are exact to the dtype
    (:func:`_sin_quarter`). z = W / (cos b cos^2 V) is in [5e-17, 7e33], a normal float32; its
    inverse cube root r starts from the bit guess of float32(z) (relative error below 3.5%) and takes
    two Newton steps in float32 (error ~1e-5), then one (float32 output) or two (float64) in float64
    (:func:`_inverse_cbrt_refine`), and
    X = sin(3b) z r^2 is formed in float64 (and rounded once to float32). No NaN, no inf: every
    factor is bounded away from 0 and from overflow. ``t`` and ``w`` are overwritten."""
    dtype = out.dtype
    t_low, a, b = _quarter_angles(t, dtype)
    w_low = w.clamp_(min=-math.log1p(-_GRID / 2)).to(dtype)
    a2, b2 = a * a, b * b
    cos_v = _sin_quarter(a, a2).mul_(_cos_quarter(a2)).mul_(2.0)
    sin_b = _sin_quarter(b, b2)
    sin_3b = torch.mul(sin_b, sin_b).mul_(-4.0).add_(3.0).mul_(sin_b)
    z = cos_v.mul_(cos_v).mul_(_cos_quarter(b2))
    z = torch.div(w_low, z, out=z)
    z32 = z if dtype == torch.float32 else z.float()
    bits = torch.div(z32.view(torch.int32), 3, rounding_mode="trunc").neg_().add_(_INVERSE_CBRT_MAGIC)
    r = bits.view(torch.float32)  # Lomont's guess of z^(-1/3): exponent and mantissa bits / 3
    _inverse_cbrt_step(_inverse_cbrt_step(r, z32), z32)
    z64 = z.double() if dtype == torch.float32 else z
    r64 = _inverse_cbrt_refine(r.double(), z64)
    if dtype == torch.float64:
        r64 = _inverse_cbrt_refine(r64, z64)
    x64 = z64.mul_(r64).mul_(r64).mul_(sin_3b.double())
    out.copy_(x64).copysign_(t_low)


def cms_transform(alpha: float, t: torch.Tensor, w: torch.Tensor,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The CMS map from given inputs: ``t`` = V / (pi/2) in [-1, 1] and ``w`` = W >= 0 (any float
    dtype; computed from their float64 values), samples in ``dtype``. The sampler is exactly this
    map applied to t = 2U - 1, W = -log1p(-U') (at alpha = 3/2 in float32 and float64, -log(1 - U')
    by :func:`_exp_variates_`, within an ulp of it). Edge values are handled as in the sampler:
    |t| >= 1 is read as V = +-pi/2 (h = 2^-54 pi/2) and W = 0 as W = -log1p(-2^-54)."""
    alpha = _check_alpha(alpha)
    t64 = t.detach().to(torch.float64).reshape(-1).clone()
    w64 = w.detach().to(torch.float64).reshape(-1).clone()
    if t64.shape != w64.shape:
        raise ValueError(f"t and w must have the same number of elements, got {t.shape} and {w.shape}")
    out = torch.empty(t64.shape, device=t64.device, dtype=dtype)
    _run(alpha, t64, w64, out)
    return out.reshape(t.shape)


def _run(alpha: float, t: torch.Tensor, w: torch.Tensor, out: torch.Tensor,
         uniforms: bool = False) -> None:
    """Apply the transform chunk by chunk (t, w: flat float64, overwritten; out: flat). With
    ``uniforms``, t and w hold the raw uniforms U, U' and each chunk first forms t = 2U - 1 and
    W = -log1p(-U') (or :func:`_exp_variates_` where the cube-root form applies) in place (while
    the chunk is in cache)."""
    n = t.numel()
    if n == 0:
        return
    low = out.dtype != torch.float64
    if low and alpha < _TINY_ALPHA_32:
        tmp = torch.empty(n, device=out.device, dtype=torch.float64)
        _run(alpha, t, w, tmp, uniforms)
        out.copy_(tmp)
        return
    chunk = min(n, _CHUNK) if out.device.type == "cpu" else n
    buf = _Buffers(chunk, out.device, out.dtype)
    kernel = _transform_low if low else _transform64
    cube = _takes_cube_root_form(alpha, out.dtype)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        t_c, w_c = t[s:e], w[s:e]
        if uniforms:
            t_c.mul_(2.0).sub_(1.0)  # V = t * pi/2, t in [-1, 1) exactly
            if cube:  # W = -log(1 - U') ~ Exp(1) (0 at U' = 0: see cms_transform)
                _exp_variates_(w_c)
            elif alpha != 1.0:
                w_c.neg_().log1p_().neg_()
        kernel(alpha, t_c, w_c, out[s:e], buf)


def symmetric_stable(
    alpha: float,
    shape: tuple[int, ...] | int,
    *,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
    scale: float = 1.0,
) -> torch.Tensor:
    """Draw i.i.d. symmetric alpha-stable samples (exact CMS; see the module docstring).

    ``scale`` multiplies the unit-scale law (characteristic function exp(-|scale u|^alpha)).
    The generator must live on ``device`` (see :func:`simulations.runtime.generator`).
    Random numbers used: n float64 uniforms for V, then n for W (also at alpha = 1, where W is
    unused), in both dtypes, so float32 output is the float64 sample's law rounded.

    On the CPU, float32 and float64 samples come from the native kernel of
    :mod:`simulations.levy_native` where it is available: the same uniforms, operations and
    functions as the torch path (:func:`sample_torch`), so the same bits, about 3-6x faster.
    """
    alpha = _check_alpha(alpha)
    if isinstance(shape, int):
        shape = (shape,)
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):  # refused before any random number is drawn
        raise ValueError(f"shape must have non-negative sizes, got {shape}")
    if device is None:
        device = generator.device if generator is not None else torch.device("cpu")
    native = _native_kernel(device, generator, dtype)
    if native is not None:
        return _native_sample(native, alpha, shape, generator, dtype, scale)
    return sample_torch(alpha, shape, generator=generator, device=device, dtype=dtype, scale=scale)


def symmetric_stable_transposed(alpha: float, rows: int, cols: int, dim: int, *,
                                generator: torch.Generator | None = None,
                                device: str | torch.device | None = None, dtype: torch.dtype = torch.float32,
                                out: torch.Tensor | None = None) -> torch.Tensor:
    """``symmetric_stable(alpha, (rows, cols, dim)).transpose(0, 1).contiguous()``, bit for bit and
    with the generator left in the same state, shape (cols, rows, dim): the escape simulator's noise
    block, step-major. On the CPU the native kernel writes each sample straight to its transposed
    place, into ``out`` when given (a contiguous tensor of rows cols dim elements, reused from block
    to block: no fresh pages to fault in); elsewhere it is the draw and a transposed copy."""
    alpha = _check_alpha(alpha)
    shape = tuple(int(s) for s in (rows, cols, dim))
    if any(s < 0 for s in shape):
        raise ValueError(f"rows, cols and dim must be non-negative, got {shape}")
    if device is None:
        device = generator.device if generator is not None else torch.device("cpu")
    n = math.prod(shape)
    native = _native_kernel(device, generator, dtype)
    if native is not None and not (dtype == torch.float32 and alpha < _TINY_ALPHA_32):
        gen = generator if generator is not None else torch.default_generator
        flat = None if out is None else out.view(-1)
        x = levy_native.sample(native, alpha, n, gen, dtype, half_pi=_HALF_PI, grid=_GRID, tiny64=_TINY_ALPHA_64,
                               transposed=shape, out=flat, special=_SPECIAL_FORMS)
        return x.view(shape[1], shape[0], shape[2])
    x = symmetric_stable(alpha, shape, generator=generator, device=device, dtype=dtype).transpose(0, 1)
    if out is None:
        return x.contiguous()
    return out.view(shape[1], shape[0], shape[2]).copy_(x)


def native_draw_applies(alpha: float, generator: torch.Generator, dtype: torch.dtype) -> bool:
    """Whether :func:`native_draw` draws (the native sampler applies to this alpha, generator and dtype)."""
    return _native_kernel(generator.device, generator, dtype) is not None \
        and not (dtype == torch.float32 and _check_alpha(alpha) < _TINY_ALPHA_32)


def native_draw(alpha: float, n: int, generator: torch.Generator, dtype: torch.dtype) -> levy_native.Draw | None:
    """The draw :func:`symmetric_stable_transposed` would make natively (n samples from ``generator``,
    the same engines, constants and mode), for a kernel that consumes it chunk by chunk in draw
    order (:func:`levy_native.transposed_sampler`); None where the native sampler does not apply."""
    if not native_draw_applies(alpha, generator, dtype):
        return None
    return levy_native.Draw(_native_kernel(generator.device, generator, dtype), _check_alpha(alpha), n, generator,
                            dtype, half_pi=_HALF_PI, grid=_GRID, tiny64=_TINY_ALPHA_64, special=_SPECIAL_FORMS)


def sample_torch(alpha: float, shape: tuple[int, ...], *, generator: torch.Generator | None,
                 device: str | torch.device, dtype: torch.dtype, scale: float = 1.0) -> torch.Tensor:
    """:func:`symmetric_stable` in torch ops, on any device and dtype (the native kernel's reference)."""
    u = torch.rand(shape, generator=generator, device=device, dtype=torch.float64)
    w_u = torch.rand(shape, generator=generator, device=device, dtype=torch.float64)
    # float64: the output overwrites u chunk by chunk (each chunk is read before it is written).
    x = u if dtype == torch.float64 else torch.empty(shape, device=device, dtype=dtype)
    _run(alpha, u.view(-1), w_u.view(-1), x.view(-1), uniforms=True)
    if scale != 1.0:
        x.mul_(scale)
    return x


def _native_kernel(device, generator: torch.Generator | None, dtype: torch.dtype):
    """The native CPU sampler where it applies (a CPU generator, float32 or float64 output)."""
    if torch.device(device).type != "cpu" or dtype not in (torch.float32, torch.float64):
        return None
    if generator is not None and generator.device.type != "cpu":
        return None  # torch.rand refuses a generator of another device; let it say so
    return levy_native.kernel()


def _native_sample(lib, alpha: float, shape: tuple[int, ...], generator: torch.Generator | None,
                   dtype: torch.dtype, scale: float) -> torch.Tensor:
    """:func:`simulations.levy_native.sample`: bit for bit :func:`sample_torch` (same uniforms, same
    operations, the same MKL and SLEEF functions)."""
    n = math.prod(shape)
    gen = generator if generator is not None else torch.default_generator
    inner = torch.float64 if dtype == torch.float32 and alpha < _TINY_ALPHA_32 else dtype
    x = levy_native.sample(lib, alpha, n, gen, inner, half_pi=_HALF_PI, grid=_GRID, tiny64=_TINY_ALPHA_64,
                           special=_SPECIAL_FORMS)
    x = x.to(dtype).view(shape)
    if scale != 1.0:
        x.mul_(scale)
    return x


def levy_measure_constant(alpha: float) -> float:
    """c_alpha in the Levy measure c_alpha |y|^(-1-alpha) dy of the unit-scale law
    (P(X > x) ~ (c_alpha / alpha) x^-alpha); 0 at alpha = 2. See theory.bounds."""
    return stable_levy_constant(_check_alpha(alpha))


def fractional_moment(alpha: float, p: float, scale: float = 1.0) -> float:
    """E|X|^p for X symmetric alpha-stable with ``scale``, -1 < p < alpha (p <= 2 at alpha = 2).

    E|X|^p = scale^p 2^p Gamma((1+p)/2) Gamma(1 - p/alpha) / (sqrt(pi) Gamma(1 - p/2)).
    At alpha = 2, p = 2 it is the variance 2 scale^2 (the limit of the formula).
    """
    alpha = _check_alpha(alpha)
    if alpha == 2.0 and p == 2.0:
        return 2.0 * scale**2
    if not (-1.0 < p < alpha):
        raise ValueError(f"fractional moment order p must satisfy -1 < p < alpha = {alpha}, got {p}")
    return (
        scale**p * 2.0**p * math.gamma((1.0 + p) / 2.0) * math.gamma(1.0 - p / alpha)
        / (math.sqrt(math.pi) * math.gamma(1.0 - p / 2.0))
    )


def tail_index(samples, block: int | None = None) -> float:
    """Tail-index estimator of Mohammadi et al. (2015), as used by Simsekli et al. (2019).

    Split N = m * n samples into n blocks of m; Y_j = block sums;
    1/alpha_hat = (mean log|Y_j| - mean log|X_i|) / log m. ``block`` is m (default
    floor(sqrt(N))). Exact zeros (log|0| = -inf) are dropped from the sample first.
    Returns alpha_hat (it estimates alpha for stable data; values above 2 are returned as is).
    """
    x = samples.detach().double().cpu().numpy().ravel() if isinstance(samples, torch.Tensor) \
        else np.asarray(samples, dtype=np.float64).ravel()
    x = x[x != 0.0]
    n_total = x.size
    m = int(block) if block is not None else int(math.isqrt(n_total))
    if m < 2 or n_total // m < 2:
        raise ValueError(f"tail_index needs block m >= 2 and at least 2 blocks; got N={n_total}, m={m}")
    n = n_total // m
    x = x[: n * m]
    y = x.reshape(n, m).sum(axis=1)
    y = y[y != 0.0]
    inv_alpha = (np.mean(np.log(np.abs(y))) - np.mean(np.log(np.abs(x)))) / math.log(m)
    return float(1.0 / inv_alpha)
