"""Units and end-of-training measurements to the record's numbers, with 95% intervals over seeds.

Seeds pair the runs (same initialisation and minibatch order for every optimizer), so comparisons
between the subject and the baseline are per-seed differences (accuracy) or log-ratios
(sharpness) with a Student-t interval; the rank correlation between sharpness and the
generalization gap uses a paired percentile bootstrap (scipy.stats.bootstrap, fixed seed).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from theory.stats import mean_ci, proportion_ci

LEVEL = 0.95


def num(value) -> float:
    """A number from a record ("nan" / "inf" strings are how JSON holds non-finite floats)."""
    return float(value) if value is not None else math.nan


def interval(values, level: float = LEVEL) -> dict:
    """Mean with a t interval; with fewer than two finite values the limits are None."""
    x = np.array([num(v) for v in values], dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"estimate": None, "low": None, "high": None, "level": level, "n": 0}
    if x.size < 2:
        return {"estimate": float(x[0]), "low": None, "high": None, "level": level, "n": 1}
    return {**mean_ci(x, level).as_dict(), "n": int(x.size)}


def ratio_interval(log_ratios, level: float = LEVEL) -> dict:
    ci = interval(log_ratios, level)
    return {k: (math.exp(v) if k in ("estimate", "low", "high") and v is not None else v) for k, v in ci.items()}


def select_lr(units: list[dict], optimizer: str, lrs) -> dict:
    """The learning rate with the best mean final validation accuracy (ties: lower validation loss)."""
    table = []
    for lr in lrs:
        rows = [u for u in units if u["optimizer"] == optimizer and u["lr"] == float(lr)]
        acc = np.array([num(u["final"]["val_acc"]) for u in rows])
        loss = np.array([num(u["final"]["val_loss"]) for u in rows])
        acc = np.where(np.isfinite(acc), acc, 0.0)
        loss = np.where(np.isfinite(loss), loss, np.inf)
        table.append({"lr": float(lr), "val_acc": float(acc.mean()), "val_loss": float(loss.mean()),
                      "diverged": sum(bool(u["diverged"]) for u in rows)})
    best = max(table, key=lambda r: (r["val_acc"], -r["val_loss"]))
    return {"lr": best["lr"], "grid": table}


def accuracy_summary(units: list[dict]) -> dict:
    """Intervals of every final number the units have (a refit unit has no validation numbers)."""
    return {key: interval([u["final"][key] for u in units])
            for key in ("test_acc", "test_loss", "train_acc", "train_loss", "val_acc", "val_loss")
            if key in units[0]["final"]}


def curve_bands(units: list[dict]) -> dict:
    """Bands of the held-out accuracy (validation; test for refit units) and the training loss."""
    steps = units[0]["curve"]["step"]
    held_out = "test_acc" if "test_acc" in units[0]["curve"] else "val_acc"
    out = {"step": steps, "held_out": held_out}
    for key in (held_out, "train_loss"):
        rows = [interval([u["curve"][key][i] for u in units]) for i in range(len(steps))]
        out[key] = {"mean": [r["estimate"] for r in rows], "low": [r["low"] for r in rows],
                    "high": [r["high"] for r in rows]}
    return out


def noise_summary(units: list[dict]) -> list[dict]:
    """Per checkpoint and part: alpha (pooled, standardized) and the tail sign fraction over seeds."""
    if not units or units[0].get("noise") is None:
        return []
    out = []
    for i, point in enumerate(units[0]["noise"]):
        parts = {}
        for part in point["parts"]:
            parts[part] = {stat: {**interval(values), "per_seed": values} for stat, values in
                           ((stat, [u["noise"][i]["parts"][part][stat] for u in units])
                            for stat in ("alpha_pooled", "alpha_standardized", "tail_positive",
                                         "gaussian_pooled", "gaussian_standardized")
                            if stat in point["parts"][part])}
        out.append({"step": point["step"], "parts": parts})
    return out


def paired(subject_values, baseline_values, log: bool) -> dict:
    s = np.array([num(v) for v in subject_values])
    b = np.array([num(v) for v in baseline_values])
    if log:
        ok = (s > 0) & (b > 0)
        return ratio_interval(np.log(s[ok] / b[ok]))
    return interval(s - b)


def spearman(x, y, level: float = LEVEL, n_boot: int = 2000, seed: int = 0) -> dict:
    """Spearman's rho of (x, y) with a paired percentile-bootstrap interval (None where undefined)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"rho": None, "low": None, "high": None, "level": level, "n": int(x.size)}
    rho = float(stats.spearmanr(x, y).statistic)

    def stat(a, b, axis=-1):  # Spearman's rho along ``axis``: Pearson's r of the (average) ranks
        ra, rb = stats.rankdata(a, axis=axis), stats.rankdata(b, axis=axis)
        ra = ra - ra.mean(axis=axis, keepdims=True)
        rb = rb - rb.mean(axis=axis, keepdims=True)
        den = np.sqrt((ra * ra).sum(axis=axis) * (rb * rb).sum(axis=axis))
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (ra * rb).sum(axis=axis) / den
        return np.where(den > 0, r, 0.0)  # a resample with a constant column has no rank order

    res = stats.bootstrap((x, y), stat, paired=True, vectorized=True, n_resamples=n_boot, confidence_level=level,
                          method="percentile", random_state=np.random.default_rng(seed))
    return {"rho": rho, "low": float(res.confidence_interval.low), "high": float(res.confidence_interval.high),
            "level": level, "n": int(x.size)}


def escape_summary(runs: dict, subject: str, baseline: str) -> dict:
    """Restricted mean exit step (mean of min(tau, T): a common horizon) and fraction escaped per
    optimizer; the paired difference subject - baseline over replicates."""
    out = {}
    for name, run in runs.items():
        t = np.asarray(run["exit_step"], float)
        out[name] = {"restricted_mean": interval(t), "escaped": int(sum(run["escaped"])), "replicates": len(t),
                     "fraction_escaped": proportion_ci(int(sum(run["escaped"])), len(t), LEVEL).as_dict(),
                     "horizon": run["horizon"], "loss0": run["loss0"], "threshold": run["threshold"]}
    if subject in runs and baseline in runs:
        diff = np.asarray(runs[subject]["exit_step"], float) - np.asarray(runs[baseline]["exit_step"], float)
        out["difference"] = interval(diff)
        out["sign_test"] = sign_test(diff)
    return out


def sign_test(differences) -> dict:
    """Exact two-sided sign test of paired differences (zeros dropped). Exit steps are coarse (a check
    every few steps) and often tied, so a t interval can have zero width; the sign test cannot."""
    d = np.asarray(differences, float)
    pos, neg = int((d > 0).sum()), int((d < 0).sum())
    p = float(stats.binomtest(pos, pos + neg, 0.5).pvalue) if pos + neg else 1.0
    return {"positive": pos, "negative": neg, "ties": int(d.size - pos - neg), "p": p}
