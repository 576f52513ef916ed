"""The toys' numbers: hitting times per optimizer with intervals, and the paired comparison.

The measure is the hitting time tau = first step t >= 0 with ||theta_t - theta*|| <= radius; runs
that never hit within T steps (or diverge) are "never". The comparison statistic is the restricted
mean time E[min(tau, T)] (never counts as T), compared *paired* on the same start:
d = min(tau_subject, T) - min(tau_other, T), with a Student-t interval (``theory.stats.mean_ci``).
Reach proportions (Wilson intervals) and the mean hitting time of the runs that do reach are
reported next to it.
"""
from __future__ import annotations

import math

import numpy as np

from theory.stats import mean_ci, proportion_ci


DEFAULT_SUBJECT, DEFAULT_BASELINE = "adamomentum", "adam"  # the paper's comparison
# How the paper writes its two methods' names; any other method is shown by its name.
PAPER_LABELS = {"adamomentum": "AdaMomentum", "adam": "Adam"}


def label(name: str) -> str:
    """The display name of a method in evidence texts and tables."""
    return PAPER_LABELS.get(name, name)


def restricted_time(hit: np.ndarray, steps: int) -> np.ndarray:
    """min(tau, T) with never-reaching runs counted as T."""
    return np.where(hit >= 0, np.minimum(hit, steps), steps).astype(np.float64)


def interval(samples, level) -> dict:
    """Mean with its t interval and the sample count (NaN bounds below two samples)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size < 2:
        return {"estimate": float(x.mean()) if x.size else math.nan, "low": math.nan, "high": math.nan,
                "level": level, "n": int(x.size)}
    return dict(mean_ci(x, level).as_dict(), n=int(x.size))


def summarize_optimizer(sim: dict, steps: int, level: float) -> dict:
    hit = sim["hit"]
    reached = hit >= 0
    return {
        "runs": int(hit.size),
        "reached": int(reached.sum()),
        "reach_proportion": proportion_ci(int(reached.sum()), int(hit.size), level).as_dict(),
        "diverged": int(sim["diverged"].sum()),
        "settled": int((sim["settle"] >= 0).sum()),
        "restricted_mean_steps": interval(restricted_time(hit, steps), level),
        "mean_steps_if_reached": interval(hit[reached], level),
        "median_final_distance": float(np.median(sim["final_distance"])),
    }


def compare(subject: np.ndarray, other: np.ndarray, steps: int, level: float) -> dict:
    """Paired comparison of hitting times on the same starts (subject minus other)."""
    d = restricted_time(subject, steps) - restricted_time(other, steps)
    difference = interval(d, level)
    if np.all(d == 0):
        difference.update(low=0.0, high=0.0)
    if difference["high"] < 0:
        outcome = "faster"
    elif difference["low"] > 0:
        outcome = "slower"
    else:
        outcome = "inconclusive"
    s_hit, o_hit = subject >= 0, other >= 0
    s_time, o_time = restricted_time(subject, steps), restricted_time(other, steps)
    return {"difference": difference, "outcome": outcome,
            "subject_faster": int(np.sum(s_time < o_time)), "other_faster": int(np.sum(s_time > o_time)),
            "ties": int(np.sum(s_time == o_time)), "only_subject_reached": int(np.sum(s_hit & ~o_hit)),
            "only_other_reached": int(np.sum(~s_hit & o_hit)), "neither_reached": int(np.sum(~s_hit & ~o_hit))}


def fmt_interval(value: dict, digits: int = 1) -> str:
    return f"{value['estimate']:.{digits}f} [{value['low']:.{digits}f}, {value['high']:.{digits}f}]"


def headline_table(record: dict) -> tuple[str, list[str], list[list[str]]]:
    """For the report: mean steps to the optimum (95% CI) and reach counts per function x optimizer,
    and the subject's verdict per function (the last column is named after the subject)."""
    toys = record["results"]["toys"]
    functions = toys["functions"]
    opts = list(next(iter(functions.values()))["optimizers"])
    rows = []
    for res in functions.values():
        cells = [f"{fmt_interval(res['optimizers'][o]['restricted_mean_steps'])} ({res['optimizers'][o]['reached']}/"
                 f"{res['optimizers'][o]['runs']})" for o in opts]
        rows.append([res["label"], *cells, res["verdict"]])
    steps = record["config"]["toys"]["steps"]
    title = f"Mean min(steps to optimum, T={steps}) [95% CI] (reached/runs); lower is faster"
    return title, ["function", *opts, label(toys["subject"])], rows
