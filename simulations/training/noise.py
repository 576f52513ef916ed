"""Minibatch gradient noise: its tail index (Mohammadi et al. 2015, :func:`simulations.levy.tail_index`)
and a tail-symmetry statistic, per layer and over all parameters.

The noise at a point theta is g_B(theta) - g(theta): a minibatch gradient minus the full-batch
gradient at the same theta, for K independent minibatches. For each layer (and for a fixed random
subset of all coordinates, "overall") the K x c matrix of noise coordinates is read two ways:

* ``pooled``: every coordinate of every draw as one sample (Simsekli et al. 2019's use of the
  estimator, which the paper's premise cites). A mixture of Gaussians of different scales also
  looks heavy-tailed this way, so
* ``standardized``: each coordinate divided by its median |noise| over the K draws first, so a
  coordinate-wise Gaussian noise reads alpha ~ 2 whatever the scales (the control).

Blocks of the estimator (m = floor(sqrt(c)) consecutive coordinates) stay inside one draw, so
resampling whole draws (:func:`tail_index_ci`, a cluster bootstrap) is valid; coordinates that are
exactly zero in every draw (dead units) are dropped.
"""
from __future__ import annotations

import math

import numpy as np

from simulations.levy import tail_index

TAIL_QUANTILE = 0.9  # the symmetry statistic looks at |z| above this quantile


def _matrix(noise: np.ndarray) -> np.ndarray:
    x = np.asarray(noise, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"noise must be (draws >= 2, coordinates), got shape {x.shape}")
    return x[:, np.any(x != 0.0, axis=0)]


def standardize(noise: np.ndarray) -> np.ndarray:
    """Each coordinate divided by its median |value| over the draws (coordinates with median 0 dropped)."""
    x = _matrix(noise)
    scale = np.median(np.abs(x), axis=0)
    keep = scale > 0
    return x[:, keep] / scale[keep]


def block_alpha(draws: np.ndarray) -> float:
    """The estimator on a (draws, c) matrix with blocks of m = floor(sqrt(c)) inside each draw."""
    x = np.asarray(draws, dtype=np.float64)
    m = max(2, math.isqrt(x.shape[1]))
    c = (x.shape[1] // m) * m
    if c < m or x.size < 4:
        raise ValueError(f"too few coordinates for the tail index: {x.shape}")
    return tail_index(x[:, :c].ravel(), block=m)


def tail_index_ci(draws: np.ndarray, level: float = 0.95, n_boot: int = 200, seed: int = 0) -> dict:
    """alpha_hat with a percentile cluster-bootstrap interval over the draws (rows)."""
    x = np.asarray(draws, dtype=np.float64)
    rng = np.random.default_rng(seed)
    boots = np.array([block_alpha(x[rng.integers(0, x.shape[0], x.shape[0])]) for _ in range(n_boot)])
    lo, hi = np.quantile(boots, [0.5 - level / 2, 0.5 + level / 2])
    return {"estimate": block_alpha(x), "low": float(lo), "high": float(hi), "level": level, "n_boot": n_boot}


GAUSSIAN_REPS = 8  # Gaussian matrices per calibration: the estimator's reading of alpha = 2 at one shape


def gaussian_reading(shape: tuple[int, int], standardized: bool, reps: int = GAUSSIAN_REPS, seed: int = 0) -> float:
    """Mean reading of :func:`block_alpha` on pure Gaussian noise of ``shape`` (draws, coordinates), read
    the same way (``standardized`` or pooled). With few draws the median standardization gives the
    ratios heavier tails than Gaussian, so Gaussian noise reads below 2 (about 1.85 at 16 x 1024):
    this, not 2, is the boundary an alpha interval must clear before it says "heavier than Gaussian"."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(reps):
        z = rng.standard_normal(shape)
        values.append(block_alpha(standardize(z) if standardized else z))
    return float(np.mean(values))


def tail_sign_balance(draws: np.ndarray) -> float:
    """Fraction of positive values among the largest |values| (above the 90% quantile); 0.5 if symmetric."""
    x = np.asarray(draws, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size < 10:
        raise ValueError(f"tail_sign_balance needs at least 10 finite values, got {x.size}")
    big = np.abs(x) >= np.quantile(np.abs(x), TAIL_QUANTILE)
    return float(np.mean(x[big] > 0))


def noise_stats(noise: np.ndarray, layers: dict, overall_coords: np.ndarray, max_coords: int,
                rng: np.random.Generator) -> dict:
    """{part: {"alpha_pooled", "alpha_standardized", "tail_positive", "gaussian_pooled",
    "gaussian_standardized"}} for each layer and "overall" (the last two: what Gaussian noise of the
    same shape reads, :func:`gaussian_reading`).

    ``noise``: (K, dim) of one run; ``layers``: {name: slice}; a layer with more than ``max_coords``
    coordinates is read on a random subset of that many (drawn from ``rng``)."""
    parts = {}
    for name, sl in layers.items():
        idx = np.arange(sl.start, sl.stop)
        if idx.size > max_coords:
            idx = np.sort(rng.choice(idx, max_coords, replace=False))
        parts[name] = idx
    parts["overall"] = overall_coords
    out = {}
    for name, idx in parts.items():
        raw = _matrix(noise[:, idx])
        std = standardize(raw)
        pooled, standardized = _safe(block_alpha, raw), _safe(block_alpha, std)
        out[name] = {"alpha_pooled": pooled, "alpha_standardized": standardized,
                     "tail_positive": _safe(tail_sign_balance, std),
                     # the reference only where there is a reading to compare with it
                     "gaussian_pooled": None if pooled is None else _safe(lambda x: gaussian_reading(x.shape, False), raw),
                     "gaussian_standardized": None if standardized is None else
                     _safe(lambda x: gaussian_reading(x.shape, True), std)}
    return out


def _safe(fn, x):
    try:
        value = fn(x)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
