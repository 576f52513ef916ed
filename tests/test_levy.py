"""Symmetric alpha-stable sampler (exact CMS) and the Mohammadi tail-index estimator.

Statistical tests use fixed seeds; KS tests across the alpha grid are Bonferroni-corrected at a
family-wise level of 1%.
"""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from simulations import levy
from simulations.levy import cms_transform, fractional_moment, levy_measure_constant, symmetric_stable, tail_index
from simulations.runtime import generator
from theory.bounds import getoor_mean_exit_time, stable_levy_constant

KS_ALPHAS = (0.6, 1.0, 1.3, 1.5, 1.8, 1.99)
FAMILY_LEVEL = 0.01


def _cdf(alpha):
    if alpha == 2.0:
        return lambda x: stats.norm.cdf(x, scale=math.sqrt(2.0))
    return lambda x: stats.levy_stable.cdf(x, alpha, 0.0)


@pytest.mark.parametrize("dtype,alphas", [(torch.float64, KS_ALPHAS), (torch.float32, (1.0, 1.5, 1.99))])
def test_ks_against_scipy_levy_stable_bonferroni(dtype, alphas):
    gen = generator(123, torch.device("cpu"))
    pvalues = []
    for alpha in alphas:
        x = symmetric_stable(alpha, 600, generator=gen, dtype=dtype).double().numpy()
        assert np.isfinite(x).all()
        pvalues.append(stats.kstest(x, _cdf(alpha)).pvalue)
    assert min(pvalues) > FAMILY_LEVEL / len(alphas), dict(zip(alphas, pvalues))


@pytest.mark.slow
def test_ks_large_samples_bonferroni():
    gen = generator(321, torch.device("cpu"))
    pvalues = [stats.kstest(symmetric_stable(a, 20000, generator=gen, dtype=torch.float32).double().numpy(),
                            _cdf(a)).pvalue for a in KS_ALPHAS]
    assert min(pvalues) > FAMILY_LEVEL / len(KS_ALPHAS), dict(zip(KS_ALPHAS, pvalues))


def test_closed_forms_gaussian_variance_two_and_cauchy():
    gen = generator(7, torch.device("cpu"))
    g = symmetric_stable(2.0, 20000, generator=gen, dtype=torch.float64).numpy()
    c = symmetric_stable(1.0, 20000, generator=gen, dtype=torch.float64).numpy()
    bonf = FAMILY_LEVEL / 3
    assert stats.kstest(g, "norm", args=(0.0, math.sqrt(2.0))).pvalue > bonf
    assert stats.kstest(c, "cauchy").pvalue > bonf
    # variance 2 (not 1): chi-square interval for the sample variance at the same level
    n = g.size
    lo, hi = (n - 1) * g.var(ddof=1) / stats.chi2.ppf([1 - bonf / 2, bonf / 2], n - 1)
    assert lo <= 2.0 <= hi


def test_tail_is_not_truncated():
    """P(X > x) ~ (c_alpha / alpha) x^-alpha far out: the count beyond x = 200 matches the law
    (binomial 99.9% interval), in float32 output too."""
    alpha, x0, n = 1.5, 200.0, 4_000_000
    gen = generator(11, torch.device("cpu"))
    x = symmetric_stable(alpha, n, generator=gen, dtype=torch.float32)
    p = stats.levy_stable.sf(x0, alpha, 0.0)
    assert abs(p / (levy_measure_constant(alpha) / alpha * x0**-alpha) - 1) < 0.02
    count = int((x > x0).sum())
    lo, hi = stats.binom.ppf([0.0005, 0.9995], n, p)
    assert lo <= count <= hi


def test_seeded_and_device_dtype():
    a = symmetric_stable(1.3, (5, 3), generator=generator(5, torch.device("cpu")), dtype=torch.float64)
    b = symmetric_stable(1.3, (5, 3), generator=generator(5, torch.device("cpu")), dtype=torch.float64)
    c = symmetric_stable(1.3, (5, 3), generator=generator(5, torch.device("cpu")), dtype=torch.float32)
    assert torch.equal(a, b) and a.shape == (5, 3) and c.dtype == torch.float32
    assert torch.allclose(a.float(), c, rtol=1e-5, atol=1e-6)
    assert torch.equal(symmetric_stable(1.7, 4, generator=generator(1, torch.device("cpu")), scale=3.0),
                       3.0 * symmetric_stable(1.7, 4, generator=generator(1, torch.device("cpu"))))


@pytest.mark.parametrize("alpha", [0.0, -1.0, 2.5, float("nan")])
def test_bad_alpha_raises(alpha):
    with pytest.raises(ValueError, match="alpha"):
        symmetric_stable(alpha, 3)


@pytest.mark.parametrize("alpha", [1.2, 1.5, 1.8])
def test_tail_index_estimator_recovers_alpha(alpha):
    x = symmetric_stable(alpha, 200_000, generator=generator(3, torch.device("cpu")), dtype=torch.float64)
    assert abs(tail_index(x) - alpha) < 0.05


def test_levy_constant_and_fractional_moment():
    assert levy_measure_constant(1.0) == pytest.approx(1 / math.pi, rel=1e-12)
    assert stable_levy_constant(1.5) == pytest.approx(0.2992, abs=1e-4)
    assert stable_levy_constant(2.0) == 0.0
    assert fractional_moment(2.0, 2.0, 3.0) == 18.0
    # Cauchy E|X|^p = 1 / cos(pi p / 2)
    assert fractional_moment(1.0, 0.5) == pytest.approx(1 / math.cos(math.pi / 4), rel=1e-12)
    x = symmetric_stable(1.5, 400_000, generator=generator(9, torch.device("cpu")), dtype=torch.float64)
    sample = np.abs(x.numpy()) ** 0.5
    half = 3.29 * sample.std() / math.sqrt(sample.size)  # 99.9%
    assert abs(sample.mean() - fractional_moment(1.5, 0.5)) < half
    assert getoor_mean_exit_time(2.0, 1.0, 0.5) == pytest.approx(0.75 / 2)


# --- issue 13: no NaN at the angle boundaries, the float64 stream unchanged ---

BOUNDARY_ALPHAS = (0.5, 1.0, 1.5, 1.95, 2.0)


def _boundary_angles():
    """V within one float32 ulp of 0 and of +-pi/2 (and the float64 neighbours), as t = V/(pi/2)."""
    f32 = np.float32
    half = f32(math.pi / 2)  # fl32(pi/2) is above pi/2: |t| > 1, read as the endpoint
    near_edge = [float(half), float(np.nextafter(half, f32(0))), math.pi / 2,
                 float(np.nextafter(math.pi / 2, 0.0))]
    tiny32 = float(np.nextafter(f32(0), f32(1)))  # one float32 ulp of 0 (denormal)
    near_zero = [0.0, tiny32, float(np.finfo(np.float32).tiny), 2.0**-52 * math.pi / 2,
                 float(np.spacing(f32(0.0)) * 2), 1e-7, 3e-7]
    v = near_zero + near_edge
    v = v + [-x for x in v]
    t = [x / (math.pi / 2) for x in v] + [1.0, -1.0]  # t = +-1: V = +-pi/2 exactly
    return torch.tensor(t, dtype=torch.float64)


@pytest.mark.parametrize("alpha", BOUNDARY_ALPHAS)
def test_boundary_angles_give_finite_samples(alpha):
    """V within one float32 ulp of 0 and of +-pi/2, and W = 0, give finite samples in float32 and
    float64 (before issue 13, float32 at alpha > 1 gave NaN near V = 0); float32 is float64 rounded
    wherever the float64 value is inside float32's range."""
    t = _boundary_angles()
    for w_value in (0.0, 2.0**-53, 1.0, 36.7):
        w = torch.full_like(t, w_value)
        x64 = cms_transform(alpha, t, w, dtype=torch.float64)
        x32 = cms_transform(alpha, t, w, dtype=torch.float32)
        assert torch.isfinite(x64).all(), (alpha, w_value, x64)
        in_range = x64.abs() < 0.999 * float(torch.finfo(torch.float32).max)
        # the only float32 overflows here are true values beyond its range: alpha = 0.5 with V at
        # +-pi/2 (h ~ 1e-16) and W ~ 1e-16 (X ~ 1e47)
        assert in_range.all() or (alpha == 0.5 and w_value < 1.0), (alpha, w_value, x64)
        assert torch.isfinite(x32[in_range]).all(), (alpha, w_value, x32)
        assert not torch.isnan(x32).any()
        close = (x32.double() - x64).abs() <= 1e-5 * x64.abs() + 1e-6
        assert close[in_range].all(), (alpha, w_value, x32[~close], x64[~close])
        # symmetry: t -> -t flips the sign
        assert torch.equal(cms_transform(alpha, -t, w, dtype=torch.float32), -x32)


def test_float64_stream_pinned(monkeypatch):
    """The float64 stream is the pre-issue-13 sampler's, bit for bit, in the general form (which
    alpha = 3/2 takes with levy._SPECIAL_FORMS off): values written by that code for seed 2024. The
    special form, the default there, draws the same uniforms and gives the same values to a few ulps."""
    pinned = [float.fromhex(v) for v in (
        "-0x1.daff8c22cc8c4p-1", "0x1.127bf4f91b2a4p+0", "-0x1.4aee22853eaaep-1",
        "0x1.052dbd9eff8f3p-1", "0x1.0be11c7bbe065p+0", "-0x1.ff4f67884ce22p-1")]
    special = symmetric_stable(1.5, 6, generator=generator(2024, torch.device("cpu")), dtype=torch.float64)
    monkeypatch.setattr(levy, "_SPECIAL_FORMS", False)
    x = symmetric_stable(1.5, 6, generator=generator(2024, torch.device("cpu")), dtype=torch.float64)
    assert x.tolist() == pinned
    assert torch.allclose(special, x, rtol=8 * 2.0**-52, atol=0.0)
    monkeypatch.undo()
    x = symmetric_stable(0.7, 4, generator=generator(2024, torch.device("cpu")), dtype=torch.float64)
    assert [float.hex(v) for v in x.tolist()] == [
        "-0x1.31adaac5b0233p-1", "0x1.e4f97aefe5884p+0", "-0x1.2b694b3b7a991p-1", "0x1.c0c4962b14d75p-1"]


def test_chunking_does_not_change_samples(monkeypatch):
    """The transform runs in chunks; results do not depend on the chunk size (either dtype)."""
    from simulations import levy
    for dtype in (torch.float32, torch.float64):
        for alpha in (0.7, 1.0, 1.5):
            ref = symmetric_stable(alpha, 10_001, generator=generator(8, torch.device("cpu")), dtype=dtype)
            monkeypatch.setattr(levy, "_CHUNK", 999)
            got = symmetric_stable(alpha, 10_001, generator=generator(8, torch.device("cpu")), dtype=dtype)
            monkeypatch.undo()
            assert torch.equal(ref, got), (dtype, alpha)


@pytest.mark.parametrize("alpha", [1e-30, 0.05, 0.3])
def test_small_alpha_no_nan(alpha):
    """Small alpha: no NaN in either dtype; +-inf only where the law exceeds the dtype's range
    (never truncated)."""
    for dtype in (torch.float32, torch.float64):
        x = symmetric_stable(alpha, 50_000, generator=generator(4, torch.device("cpu")), dtype=dtype)
        assert not torch.isnan(x).any(), (alpha, dtype)
    t = _boundary_angles()
    for dtype in (torch.float32, torch.float64):
        assert not torch.isnan(cms_transform(alpha, t, torch.zeros_like(t), dtype=dtype)).any()


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [1.5, 1.95])
def test_1e8_float32_samples_have_no_nan_or_inf(alpha):
    """Issue 13: at least 1e8 float32 draws (chunked) with no NaN and no inf (the old code gave
    NaN at about 1e-8 to 1e-7 per draw for alpha > 1)."""
    gen = generator(13, torch.device("cpu"))
    total, chunk = 100_000_000, 5_000_000
    for _ in range(total // chunk):
        x = symmetric_stable(alpha, chunk, generator=gen, dtype=torch.float32)
        assert torch.isfinite(x).all()


# Bounds on the special forms' error against the exact map, in ulps of the dtype: (max over all
# inputs, mean over uniform draws). float32: X is a quotient of float32 polynomials (alpha 1) or is
# formed in float64 and rounded once (alpha 3/2). float64: about ten roundings of at most 0.5 ulp
# (each polynomial ~1 ulp, z = W / (cos b cos^2 V) ~6 ulps of which the cube root keeps a third, the
# last Newton step and z r^2 ~2). Measured 2026-12-05 (max / mean over 1e6 uniform draws; max over
# 2e5 draws near the tail and near V = 0):
#   float32 alpha 1: 4.7 / 0.72, 2.4 (the general form's two library sines: 3.3 / 0.55, 1.5)
#   float32 alpha 1.5: 6.0 / 0.68, 4.2 (the general form: 11.9 / 0.62, 28.5)
#   float64 alpha 1: 5 / 0.64, 4; float64 alpha 1.5: 7 / 0.90, 8 (the general float64 form forms V
#   as pi/2 - h, so it has no relative accuracy near V = 0: 7.9e4 and 1.8e5 ulps over uniform draws)
SPECIAL_FORM_ULPS = {torch.float32: (8.0, 0.8), torch.float64: (12.0, 1.5)}


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
@pytest.mark.parametrize("alpha", (1.0, 1.5))
def test_the_special_forms_are_the_cms_map_to_a_few_ulps(alpha, dtype):
    """At alpha = 1 and 3/2 the sampler takes special forms of the CMS map with no library sine, log
    or exp (levy._tan_quarter_form, levy._cube_root_form). Against the map of the same t and W in
    40-digit arithmetic (mpmath), on the sampler's grid (uniform, near the tail and near V = 0) and at
    the boundary angles: every sample within the bounds of SPECIAL_FORM_ULPS, so sin(alpha |V|)
    keeps its relative accuracy near V = 0 and cos V near the tail."""
    import mpmath

    gen = torch.Generator().manual_seed(15)
    u = torch.rand(5000, generator=gen, dtype=torch.float64)  # the sampler's uniforms (a 2^-53 grid)
    k = torch.randint(1, 2**24, (2000,), generator=gen).double() * 2.0**-53
    u[3000:4000], u[4000:] = k[:1000], 0.5 + k[1000:]  # V near -pi/2 (the tail) and near 0
    t = torch.cat([u * 2 - 1, _boundary_angles()]).clamp(-1.0, 1.0)
    w = -torch.log1p(-torch.rand(t.numel(), generator=gen, dtype=torch.float64))
    w[:4] = torch.tensor([2.0**-53, 1e-10, 36.7, 1.0], dtype=torch.float64)
    x = cms_transform(alpha, t, w, dtype=dtype)
    mpmath.mp.dps = 40
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    errors = []
    for ti, wi, xi in zip(t.tolist(), w.tolist(), x.tolist()):
        # h and V from t as the special forms read them (V directly: pi/2 - h would round it to 0
        # at 40 digits for |t| < 1e-40); they differ from V + h = pi/2 only at |t| = 1
        h = max(1 - abs(mpmath.mpf(ti)), mpmath.mpf(2.0**-54)) * mpmath.pi / 2
        v = min(abs(mpmath.mpf(ti)), 1) * mpmath.pi / 2
        if alpha == 1.0:
            exact = mpmath.sin(v) / mpmath.sin(h)
        else:
            exact = mpmath.sin(1.5 * v) * mpmath.cbrt(wi / (mpmath.cos(v / 2) * mpmath.sin(h) ** 2))
        exact = float(exact) * (1 if ti >= 0 else -1)
        ulp = float(np.spacing(np_dtype(abs(exact)))) if exact != 0 else float(np.finfo(np_dtype).smallest_subnormal)
        errors.append(abs(xi - exact) / ulp)
    errors = np.array(errors)
    worst, mean = SPECIAL_FORM_ULPS[dtype]
    assert torch.isfinite(x).all()
    # the mean over the uniform draws (the sampler's own inputs); the maximum over all
    assert errors.max() <= worst and errors[:3000].mean() <= mean, (errors.max(), errors[:3000].mean())


def test_exp_variates_are_minus_log_of_one_minus_u_within_one_ulp():
    """The cube-root form's W (levy._exp_variates_, fdlibm's log in torch ops) against -log(1 - U')
    in 40-digit arithmetic on the sampler's 2^-53 grid: uniform draws, U' near 0 (W small, where a
    log of 1 - U' must keep its relative accuracy) and near 1 (the largest W), and the edges. Every
    value within 1 ulp (measured: 0.72 at most here, 0.83 over 2e6 uniform draws; SLEEF's log1p,
    which the other forms use, 0.69 and 0.75 on the same draws), W = 0 exactly at U' = 0 (the
    sampler's clamp then moves it, as before), and W >= 0."""
    import mpmath

    gen = torch.Generator().manual_seed(16)
    u = torch.rand(4000, generator=gen, dtype=torch.float64)
    k = torch.randint(1, 2**30, (2000,), generator=gen).double()
    u[2000:3000] = k[:1000] * 2.0**-53  # U' near 0
    u[3000:] = 1.0 - k[1000:] * 2.0**-53  # U' near 1
    edges = [0.0, 2.0**-53, 2.0**-52, 3 * 2.0**-53, 0.25, 0.5, 1 - _SQRT_HALF_GRID, 1 - 2.0**-53, 1 - 2.0**-52]
    u = torch.cat([u, torch.tensor(edges, dtype=torch.float64)])
    w = levy._exp_variates_(u.clone())
    mpmath.mp.dps = 40
    errors = []
    for ui, wi in zip(u.tolist(), w.tolist()):
        exact = -mpmath.log(1 - mpmath.mpf(ui))
        errors.append(0.0 if exact == 0 else float(abs(wi - exact)) / float(np.spacing(float(exact))))
    assert max(errors) <= 1.0, max(errors)
    assert w[-len(edges)].item() == 0.0 and (w >= 0).all()
    assert 2 * levy._SQRT_HALF == math.sqrt(2.0)  # the native kernel's threshold is the same double


_SQRT_HALF_GRID = math.floor(math.sqrt(0.5) * 2**53) * 2.0**-53  # m just below sqrt(1/2): the fold


def test_the_native_kernel_builds_wherever_it_applies():
    """Where torch has MKL and AVX2/AVX512 and a compiler is at hand, the native sampler must build:
    tests/test_levy_native.py skips as a whole when it does not, so a compile error would otherwise
    pass unseen."""
    from simulations import levy_native
    from theory.cbuild import compiler

    if levy_native.library() is None or compiler() is None:
        pytest.skip(f"the native sampler does not apply here: {levy_native.why_not()}")
    assert levy_native.kernel() is not None, levy_native.why_not()
