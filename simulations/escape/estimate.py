"""Mean escape time from right-censored samples, with a 95% confidence interval; ratios; exponents.

Paths still inside at the horizon T (max_steps * dt) are censored at T (type I censoring).

* No censoring: the sample mean with a Student-t interval (no model assumed).
* Some censoring, and the escaped times fit an exponential law: the exponential maximum-likelihood
  estimate, mean = (total time observed) / (number escaped), with the exact Poisson interval for the
  rate (chi-square quantiles). The interval is valid only under that law (the small-noise
  Imkeller-Pavlyukevich limit lambda tau -> Exp(1) motivates it, but it is not assumed): the escaped
  times are tested against the exponential truncated at T, F(t) = (1 - e^-lt) / (1 - e^-lT) with the
  MLE rate, by a Kolmogorov-Smirnov statistic whose p-value (``gof_p``) comes from a parametric
  bootstrap (200 replicates, fixed seed: exponential times with the fitted rate, the same number of
  paths and horizon, rate refitted per replicate), since with the rate fitted from the same data the
  standard KS p-value is too large; the gate is p >= 0.05 with at least 5 escapes. It is a check the
  law can fail, not a proof.
* Some censoring, and the exponential law is rejected (or fewer than 5 escapes): no point
  estimate. The restricted mean (area under the Kaplan-Meier curve up to T; with a common horizon
  simply mean(min(tau, T))) is a lower bound on E Gamma; ``low`` is its one-sided 97.5% lower
  limit and ``high`` is None (method ``restricted-mean-bound``).
* Nothing escaped: no estimate; the one-sided 97.5% lower bound T_total / -log(0.025) = T_total /
  3.69 (the Poisson zero-event bound).

``weighted_slope`` fits the exponent of E Gamma against a parameter (log-log, weights from the
estimates' log standard errors), with a Birge-ratio / Student-t interval when the line misfits.

One-sided bounds are 97.5% so that a ratio formed from one of them and one limit of a two-sided
95% interval (also 97.5% on that side) has joint coverage >= 95% by Bonferroni (``ratio_ci``).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from theory.stats import mean_ci, proportion_ci


def mean_escape_time(exit_time, escaped, horizon: float, level: float = 0.95) -> dict:
    """Estimate E Gamma from exit times (censored at ``horizon`` where ``escaped`` is False)."""
    t = np.minimum(np.asarray(exit_time, dtype=np.float64), horizon)
    esc = np.asarray(escaped, dtype=bool)
    n, d = t.size, int(esc.sum())
    if n < 2:
        raise ValueError(f"mean_escape_time needs at least 2 paths, got {n}")
    exposure = float(t.sum())
    out = {
        "paths": n,
        "escaped": d,
        "fraction_escaped": proportion_ci(d, n, level).as_dict(),
        "restricted_mean": mean_ci(t, level).as_dict(),
        "horizon": horizon,
        "cv_escaped": float(t[esc].std(ddof=1) / t[esc].mean()) if d >= 2 and t[esc].mean() > 0 else None,
        "level": level,
    }
    if d == n:  # no censoring
        ci = mean_ci(t, level)
        out.update(method="sample-mean", estimate=ci.estimate, low=ci.low, high=ci.high,
                   log_se=float((ci.high - ci.estimate) / stats.t.ppf(0.5 + level / 2, n - 1) / ci.estimate))
    else:
        one_sided = 1.0 - (1.0 - level) / 2.0  # 97.5% for level 0.95
        gof = exponential_fit(t[esc], exposure / d, horizon, n_paths=n) if d > 0 else None
        out["gof_p"] = gof
        if d >= 5 and gof is not None and gof >= 0.05:
            tail = (1.0 - level) / 2.0
            rate_low = stats.chi2.ppf(tail, 2 * d) / (2.0 * exposure)
            rate_high = stats.chi2.ppf(1.0 - tail, 2 * d + 2) / (2.0 * exposure)
            out.update(method="exponential-mle", estimate=exposure / d, low=1.0 / rate_high, high=1.0 / rate_low,
                       log_se=1.0 / math.sqrt(d))
        elif d > 0:
            rm = mean_ci(t, 2 * one_sided - 1.0)
            out.update(method="restricted-mean-bound", estimate=None, low=rm.low, high=None, log_se=None,
                       bound_level=one_sided)
        else:
            out.update(method="none-escaped", estimate=None, low=exposure / -math.log(1.0 - one_sided), high=None,
                       log_se=None, bound_level=one_sided)
    return out


def _ks_truncated_exp(x: np.ndarray, rate, horizon: float) -> np.ndarray:
    """KS statistic of each row of sorted ``x`` (NaN-padded at the end) against the exponential with
    that row's ``rate`` truncated at ``horizon``."""
    x = np.atleast_2d(x)
    rate = np.broadcast_to(np.asarray(rate, dtype=np.float64).reshape(-1, 1), (x.shape[0], 1))
    m = np.sum(~np.isnan(x), axis=1, keepdims=True)
    f = -np.expm1(-rate * np.minimum(x, horizon)) / -np.expm1(-rate * horizon)
    i = np.arange(1, x.shape[1] + 1)[None, :]
    d = np.fmax(i / m - f, f - (i - 1) / m)
    return np.nanmax(np.where(np.isnan(x), np.nan, d), axis=1)


def exponential_fit(escaped_times, mean: float, horizon: float, n_paths: int | None = None,
                    replicates: int = 200, seed: int = 0) -> float | None:
    """Goodness of fit of the escaped times to the exponential law censored at the horizon: the
    KS statistic against the exponential with the fitted mean truncated at the horizon, with its
    p-value from a parametric bootstrap (Lilliefors-style: the rate is fitted from the same data, so
    the standard KS p-value is too large). Each of ``replicates`` (fixed ``seed``) draws ``n_paths``
    exponential times with the fitted rate, censors them at the horizon, refits the rate
    (escapes / exposure) and recomputes the statistic; p = (1 + #{D_b >= D}) / (1 + B). None for
    fewer than 2 escaped times. Without ``n_paths`` (no censoring information) the escaped count is used."""
    x = np.sort(np.asarray(escaped_times, dtype=np.float64))
    if x.size < 2:
        return None
    n = int(n_paths) if n_paths is not None else x.size
    rate = 1.0 / mean
    d_obs = float(_ks_truncated_exp(x, rate, horizon)[0])
    rng = np.random.default_rng(seed)
    t = rng.exponential(1.0 / rate, size=(replicates, n))
    esc = t < horizon
    d = esc.sum(axis=1)
    exposure = np.minimum(t, horizon).sum(axis=1)
    keep = d >= 2
    if not keep.any():
        return None
    t, esc, d, exposure = t[keep], esc[keep], d[keep], exposure[keep]
    xs = np.sort(np.where(esc, t, np.nan), axis=1)[:, : int(d.max())]  # NaNs sort last
    stats_b = _ks_truncated_exp(xs, d / exposure, horizon)
    return float((1 + np.sum(stats_b >= d_obs - 1e-12)) / (1 + stats_b.size))


def ratio_ci(numerator: dict, denominator: dict, level: float = 0.95) -> dict | None:
    """CI for E Gamma(numerator) / E Gamma(denominator).

    Both estimated: log scale, delta method, treating the two as independent (with common random
    numbers the correlation is positive, so the interval is conservative). One side only a lower
    bound (nothing escaped, or the exponential law rejected): a one-sided bound built from that
    side's one-sided 97.5% bound and the other side's two-sided 95% limit (97.5% one-sided); by
    Bonferroni the joint coverage is >= 1 - 0.025 - 0.025 = 95%. Both only bounds: None."""
    num_est, den_est = numerator.get("estimate"), denominator.get("estimate")
    if num_est is None and den_est is None:
        return None
    if den_est is None:  # E den >= den.low: ratio <= num.high / den.low
        if denominator.get("low") is None or numerator.get("high") is None:
            return None
        return {"estimate": None, "low": 0.0, "high": numerator["high"] / denominator["low"], "level": level,
                "one_sided": "upper", "bonferroni": "0.025 + 0.025"}
    if num_est is None:  # E num >= num.low: ratio >= num.low / den.high
        if numerator.get("low") is None or denominator.get("high") is None:
            return None
        return {"estimate": None, "low": numerator["low"] / denominator["high"], "high": math.inf, "level": level,
                "one_sided": "lower", "bonferroni": "0.025 + 0.025"}
    log_r = math.log(num_est / den_est)
    se = math.hypot(numerator["log_se"], denominator["log_se"])
    z = float(stats.norm.ppf(0.5 + level / 2))
    return {"estimate": math.exp(log_r), "low": math.exp(log_r - z * se), "high": math.exp(log_r + z * se),
            "level": level}


def restricted_ratio_ci(numerator: dict, denominator: dict, level: float = 0.95) -> dict | None:
    """CI for E min(Gamma, T)(numerator) / E min(Gamma, T)(denominator), the ratio of restricted
    means at the common horizon T: always estimable (no model for the censored tail), and a
    lower-bound-free comparison when one optimizer rarely escapes. Log scale, delta method on the
    two Student-t intervals, treated as independent (conservative under common random numbers)."""
    a, b = numerator.get("restricted_mean"), denominator.get("restricted_mean")
    if not a or not b or a["estimate"] <= 0 or b["estimate"] <= 0:
        return None
    if numerator.get("horizon") != denominator.get("horizon"):
        raise ValueError("restricted means compare only at a common horizon")
    z = float(stats.norm.ppf(0.5 + level / 2))

    def log_se(ci):  # half-width of the t interval / its quantile, relative to the mean
        return (ci["high"] - ci["estimate"]) / float(stats.norm.ppf(0.5 + ci["level"] / 2)) / ci["estimate"]

    log_r = math.log(a["estimate"] / b["estimate"])
    se = math.hypot(log_se(a), log_se(b))
    return {"estimate": math.exp(log_r), "low": math.exp(log_r - z * se), "high": math.exp(log_r + z * se),
            "level": level, "horizon": numerator.get("horizon"), "estimand": "E min(Gamma, T) ratio"}


def weighted_slope(x, estimates, log_se, level: float = 0.95) -> dict | None:
    """Slope of log E against log x by weighted least squares (weights 1/log_se^2).

    Points without an estimate (only a bound: restricted-mean-bound, none-escaped) cannot enter the
    fit; ``points`` / ``points_total`` record how many did, and ``complete`` is False when any was
    dropped (the dropped points are the most censored ones, so such a slope is biased and must not
    decide a verdict). The interval: with chi2/dof <= 1 the normal interval for known weights; with
    chi2/dof > 1 the scale is estimated (Birge ratio) and the half-width is
    t_dof quantile * sqrt(chi2/dof) / sqrt(sxx); with dof = 0 (two points) there is no misfit check
    and no interval (low = high = None). Returns None for fewer than 2 usable points."""
    x = list(x)
    total = len(x)
    pts = [(math.log(a), math.log(e), s) for a, e, s in zip(x, estimates, log_se) if e is not None and s]
    if len(pts) < 2:
        return None
    lx, ly, se = (np.array(v, dtype=float) for v in zip(*pts))
    w = 1.0 / se**2
    xm, ym = (w * lx).sum() / w.sum(), (w * ly).sum() / w.sum()
    sxx = (w * (lx - xm) ** 2).sum()
    slope = (w * (lx - xm) * (ly - ym)).sum() / sxx
    resid = ly - (ym + slope * (lx - xm))
    chi2 = float((w * resid**2).sum())
    dof = len(pts) - 2
    out = {"slope": float(slope), "low": None, "high": None, "level": level, "points": len(pts),
           "points_total": total, "complete": len(pts) == total, "chi2": chi2, "dof": dof,
           "ci_inflation": None, "quantile": None}
    if dof < 1:
        return out  # a line through two points: no misfit check, no interval
    birge = chi2 / dof
    if birge > 1.0:  # scale estimated from the residuals: Student t with dof degrees of freedom
        q = float(stats.t.ppf(0.5 + level / 2, dof))
        inflate = math.sqrt(birge)
    else:
        q = float(stats.norm.ppf(0.5 + level / 2))
        inflate = 1.0
    half = q * inflate / math.sqrt(sxx)
    out.update(low=float(slope - half), high=float(slope + half), ci_inflation=inflate, quantile=q)
    return out
