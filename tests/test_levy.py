"""Symmetric alpha-stable sampler (exact CMS) and the Mohammadi tail-index estimator.

Statistical tests use fixed seeds; KS tests across the alpha grid are Bonferroni-corrected at a
family-wise level of 1%.
"""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from simulations.levy import fractional_moment, levy_measure_constant, symmetric_stable, tail_index
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
