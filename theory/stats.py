"""Confidence intervals and rate fits shared by every experiment."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval at ``level``."""

    estimate: float
    low: float
    high: float
    level: float = 0.95

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def as_dict(self) -> dict:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "level": self.level}


def mean_ci(samples, level: float = 0.95) -> Interval:
    """Mean with a Student-t confidence interval (needs at least two finite samples)."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size < 2:
        raise ValueError(f"mean_ci needs at least 2 samples, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise ValueError("mean_ci got non-finite samples")
    mean = float(x.mean())
    sem = float(x.std(ddof=1) / np.sqrt(x.size))
    half = float(stats.t.ppf(0.5 + level / 2, df=x.size - 1)) * sem
    return Interval(mean, mean - half, mean + half, level)


def proportion_ci(successes: int, trials: int, level: float = 0.95) -> Interval:
    """Wilson score interval for a binomial proportion."""
    if trials <= 0:
        raise ValueError(f"trials must be positive, got {trials}")
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return Interval(p, float(max(0.0, centre - half)), float(min(1.0, centre + half)), level)


@dataclass(frozen=True)
class PowerLawFit:
    """log y = intercept + slope * log x, with a confidence interval on the slope."""

    slope: float
    slope_low: float
    slope_high: float
    intercept: float
    level: float = 0.95

    def as_dict(self) -> dict:
        return {
            "slope": self.slope,
            "slope_low": self.slope_low,
            "slope_high": self.slope_high,
            "intercept": self.intercept,
            "level": self.level,
        }


def fit_power_law(x, y, level: float = 0.95) -> PowerLawFit:
    """Least-squares fit of log y against log x; the slope CI is the usual t interval."""
    lx = np.log(np.asarray(x, dtype=np.float64))
    ly = np.log(np.asarray(y, dtype=np.float64))
    if lx.size < 3:
        raise ValueError(f"fit_power_law needs at least 3 points, got {lx.size}")
    res = stats.linregress(lx, ly)
    half = float(stats.t.ppf(0.5 + level / 2, df=lx.size - 2)) * res.stderr
    return PowerLawFit(float(res.slope), float(res.slope - half), float(res.slope + half), float(res.intercept), level)


def ols_slopes(lx, curves) -> np.ndarray:
    """The least-squares slope of log(curve) against ``lx`` for each row of ``curves`` (resamples,
    points) in one pass: sum((lx - mean lx) log y) / sum((lx - mean lx)^2), NaN where a row has a
    value <= 0 (no log-slope). The same slope as ``np.polyfit(lx, log y, 1)[0]`` per row, to
    rounding (:func:`polyfit_slopes`, the reference; tests compare the two), without its SVD per row."""
    curves = np.asarray(curves, dtype=np.float64)
    positive = np.all(curves > 0, axis=1)
    logs = np.log(np.where(positive[:, None], curves, 1.0))
    centred = lx - lx.mean()
    slopes = (logs - logs.mean(axis=1, keepdims=True)) @ centred / (centred @ centred)
    return np.where(positive, slopes, np.nan)


def polyfit_slopes(lx, curves) -> np.ndarray:
    """:func:`ols_slopes` as a plain loop of ``np.polyfit`` (the reference)."""
    return np.array([float(np.polyfit(lx, np.log(y), 1)[0]) if np.all(y > 0) else np.nan
                     for y in np.asarray(curves, dtype=np.float64)])


def bootstrap_power_law_slope(x, per_seed, curve=None, level: float = 0.95, n_boot: int = 2000,
                              seed: int = 0) -> PowerLawFit:
    """Slope of log curve(per_seed) against log x, with a percentile bootstrap CI over seeds.

    ``per_seed`` has one row per independent seed. ``curve`` maps a (seeds, points) array to the
    curve that is fitted, one value per x (default: the mean over seeds; e.g. a running minimum
    of the mean, restricted to the fitted range). Points along one curve are serially correlated (cumulative
    sums, running minima), so the OLS t-interval of :func:`fit_power_law` under-covers; the
    seeds are independent, so resampling them gives a valid interval.
    """
    x = np.asarray(x, dtype=np.float64)
    rows = np.asarray(per_seed, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[0] < 2:
        raise ValueError(f"per_seed must be (seeds >= 2, points), got shape {rows.shape}")
    curve = curve or (lambda a: a.mean(axis=0))
    if np.shape(curve(rows)) != x.shape:
        raise ValueError(f"curve(per_seed) must have one value per x ({x.size}), got {np.shape(curve(rows))}")
    lx = np.log(x)
    point = fit_power_law(x, curve(rows), level)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, rows.shape[0], size=(n_boot, rows.shape[0]))
    slopes = ols_slopes(lx, np.array([curve(rows[p]) for p in picks]))
    dropped = 1.0 - np.isfinite(slopes).mean()  # resamples whose curve touches 0 have no log-slope
    if dropped > 0.01:  # percentiles over the survivors would then be anti-conservative
        raise ValueError(f"bootstrap curve is non-positive in {dropped:.1%} of resamples (> 1%): "
                         "no reliable log-log slope interval")
    slopes = slopes[np.isfinite(slopes)]
    lo, hi = np.quantile(slopes, [0.5 - level / 2, 0.5 + level / 2])
    return PowerLawFit(point.slope, float(lo), float(hi), point.intercept, level)
