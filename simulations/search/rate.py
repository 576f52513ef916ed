"""Asymptotic statements: the exponent of a rate, fitted over >= 5 horizons with a seed bootstrap.

Corollary 2 and the text after it claim min_t E||grad f(theta_t)||^2 = O(log T / sqrt T) for
alpha_t = alpha / sqrt(t). On one instance (a stochastic nonconvex loss run to the largest horizon;
the schedule does not depend on T, so one run gives every horizon) the curve
y(T) = min_{t<=T} mean over seeds of ||grad f(theta_t)||^2 is fitted by log y = s log T + b at
>= 5 log-spaced T, with a percentile bootstrap over seeds (:func:`theory.stats.bootstrap_power_law_slope`).
The statement allows a local slope up to -1/2 + 1/log T (the log factor), the literature's exponent
for SGD-type steps alpha/sqrt(t) with noise that does not vanish at the optimum is -1/2
(Ghadimi & Lan 2013: O(1/sqrt T) up to log factors). The measured exponent contradicts the
statement when the lower end of its interval exceeds -1/2 + 1/log(T_min).
"""
from __future__ import annotations

import math

import numpy as np

from simulations.search.nonconvex import Corollary2
from theory.stats import bootstrap_power_law_slope

LEVEL = 0.95
INSTANCE = {"family": "cosine", "d": 1, "a": 1.0, "s": 1.0, "x0": 2.0, "sigma": 0.5, "lr": 0.1, "beta1": 0.9,
            "one_minus_beta2": 0.001, "eps": 1e-8, "lam": 1.0, "seed": 7}


def corollary2_exponent(horizons, seeds: int = 32, member: str = "adamomentum", instance=None,
                        device: str = "cpu", dtype: str = "float64", seed: int = 0) -> dict:
    """Fit the exponent of min_t E||grad f||^2 in T; the statement's and the literature's beside it."""
    horizons = sorted(int(t) for t in horizons)
    if len(horizons) < 5 or horizons[0] < 2:
        raise ValueError(f"horizons must be >= 5 values >= 2, got {horizons}")
    if seeds < 4:
        raise ValueError(f"seeds must be >= 4 for a bootstrap, got {seeds}")
    cfg = dict(INSTANCE if instance is None else instance)
    cfg["T"] = horizons[-1]
    st = Corollary2(reading="proof", member=member, T_max=max(10, horizons[-1]), seeds=seeds)
    from simulations.search.common import place
    run = st._run(cfg, *place(device, dtype))
    ev = st._judge(cfg, run)
    paths = run["gn2"].T.cpu().numpy()  # (seeds, T)

    def curve(rows):
        mean = rows.mean(axis=0)
        return np.array([mean[:T].min() for T in horizons])

    fit = bootstrap_power_law_slope(np.array(horizons, dtype=float), paths, curve=curve, level=LEVEL, seed=seed)
    allowed = -0.5 + 1.0 / math.log(horizons[0])
    return {"horizons": horizons, "seeds": seeds, "member": member, "instance": cfg,
            "curve": curve(paths).tolist(), "slope": fit.slope, "slope_low": fit.slope_low,
            "slope_high": fit.slope_high, "level": LEVEL, "statement_allows_up_to": allowed,
            "statement_exponent": -0.5, "literature_exponent": -0.5,
            "contradicts": bool(fit.slope_low > allowed),
            "hypotheses": ev["hypotheses"], "hypotheses_hold": bool(all(ev["hypotheses"].values()))}
