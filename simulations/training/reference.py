"""Does the training code reproduce the benchmark before it judges the optimizers?

The MNIST-1D authors publish one test accuracy per model family (the ``mnist1d`` README and
Greydanus 2020: MLP 68%, CNN 94%), each from their own run of Adam with lr 0.01, batch 100,
6000 steps, on the 4000 training examples. A published figure is one run, so it is compared with
the distribution of one run here: the 95% *prediction* interval of a single run from the tuned
Adam seeds, mean +- t_{n-1} sd sqrt(1 + 1/n), not the interval of the mean (which shrinks with
seeds and would reject the benchmark's own seed-to-seed spread).

``status``: ``within`` (the published figure lies in the prediction interval), ``below`` /
``above`` (our runs are below / above it: the training code, model or budget differs from the
benchmark's, and the training verdicts of that case are not decided), or ``not-comparable`` (no
published figure for the case, a baseline other than Adam, another step budget, no refit on all
training examples, or fewer than two seeds).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

PUBLISHED = {("mnist1d", "mlp"): 0.68, ("mnist1d", "cnn"): 0.94}
SOURCE = "mnist1d README / Greydanus (2020): logistic 32%, MLP 68%, CNN 94%, GRU 91% (Adam, lr 0.01, 6000 steps)"
REFERENCE_STEPS = 6000
LEVEL = 0.95


def prediction_interval(values, level: float = LEVEL) -> tuple[float, float]:
    """Interval that holds a new draw with probability ``level`` (normal model, n >= 2)."""
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n < 2:
        raise ValueError(f"a prediction interval needs at least 2 values, got {n}")
    half = stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) * math.sqrt(1.0 + 1.0 / n)
    return float(x.mean() - half), float(x.mean() + half)


def check(case: dict) -> dict:
    """The reference check of one training case (see the module docstring)."""
    key = (case["dataset"], case["model"])
    config = case.get("config", {})
    out = {"published": PUBLISHED.get(key), "source": SOURCE, "level": LEVEL,
           "steps": config.get("steps"), "refit": config.get("refit", False)}
    reasons = []
    if key not in PUBLISHED:
        reasons.append(f"no published accuracy for {key[0]} {key[1]}")
    if case["baseline"] != "adam":
        reasons.append(f"the baseline is {case['baseline']}, the benchmark's figures are Adam's")
    if config.get("steps") != REFERENCE_STEPS:
        reasons.append(f"{config.get('steps')} steps, the benchmark trains {REFERENCE_STEPS}")
    if not config.get("refit", False):
        reasons.append("final runs not refit on all training examples (the benchmark trains on 4000)")
    values = [float(r["test_acc"]) for r in case["per_optimizer"][case["baseline"]]["per_seed"]
              if r.get("test_acc") is not None and math.isfinite(float(r["test_acc"]))]
    if len(values) < 2:
        reasons.append("fewer than two finite seeds")
    else:
        out["mean"] = float(np.mean(values))
        out["prediction_low"], out["prediction_high"] = prediction_interval(values)
    if reasons:
        return {**out, "status": "not-comparable", "reason": "; ".join(reasons)}
    published = out["published"]
    status = "within" if out["prediction_low"] <= published <= out["prediction_high"] else \
        "below" if out["prediction_high"] < published else "above"
    return {**out, "status": status,
            "reason": f"published {published:.0%} vs one run of tuned Adam here: mean {out['mean']:.1%}, "
                      f"95% prediction interval [{out['prediction_low']:.1%}, {out['prediction_high']:.1%}]"}
