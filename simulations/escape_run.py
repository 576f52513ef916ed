"""One escape run, summarised: estimate, CI, fraction escaped, predictions and assumption checks.

Pure compute; returns JSON-safe dicts (``run_config`` is what ``amlab escape`` writes).
"""
from __future__ import annotations

import time

import numpy as np

from simulations.escape_estimate import mean_escape_time, ratio_ci, restricted_ratio_ci
from simulations.escape_model import EscapeConfig, flow_prediction
from simulations.escape_sim import a5_moment_order, noise_free_direction_ratio, simulate
from simulations.levy import fractional_moment
from theory.assumptions import (
    check_assumption1,
    check_beta_ordering,
    monitor_assumption5,
    monitor_direction_condition,
)
from theory.bounds import box_escape_measure
from theory.family import get_member


def _plug_in_prediction(config: EscapeConfig, mon: dict | None) -> dict | None:
    """Imkeller-Pavlyukevich rate with the measured noise coefficient upsilon sigma / R:
    lambda = sum_i (c_alpha/alpha) (upsilon sigma)^alpha E[R_i^-alpha] (a^-alpha + b^-alpha), with
    E[R^-alpha] averaged over the alive paths and the monitored times (Lemma 1 with m(Upsilon) the
    Levy measure of the escaping set of Definition 2 at the measured R)."""
    alpha = config.tail_index
    if mon is None or alpha >= 2.0 or config.noise_scale == 0 or len(mon["steps"]) == 0:
        return None
    weights = mon["alive"] / mon["alive"].sum()
    r_inv_alpha = (mon["r_inv_alpha"] * weights[:, None]).sum(0)
    coef = (config.upsilon * config.noise_scale) * r_inv_alpha ** (1.0 / alpha)
    basin = config.basin
    rate = box_escape_measure(alpha, basin.right, basin.left, coef)
    return {"value": 1.0 / rate, "law": "imkeller-pavlyukevich with measured R (plug-in)",
            "noise_coefficient": coef.tolist()}


def _assumptions(config: EscapeConfig, label: str, mon: dict | None) -> dict:
    left, right = config.basin.curvatures()
    checks = {
        "assumption-1": check_assumption1(left, right, config.basin.kind != "none").as_dict(),
        "assumption-3-betas": check_beta_ordering(config.beta1, config.beta2).as_dict(),
    }
    if mon is None or len(mon["steps"]) == 0:
        return checks
    negative, checked = int(mon["negative"].sum()), int(mon["alive"].sum())
    bad = np.flatnonzero(mon["negative"] > 0)
    checks["assumption-3-direction"] = monitor_direction_condition(
        negative, checked, int(mon["steps"][bad[0]]) if bad.size else None).as_dict()
    checks["assumption-3-direction"]["details"]["noise_free_tau"] = noise_free_direction_ratio(config, label)
    checks["assumption-3-v-range"] = {
        "hypothesis": "each coordinate of sqrt(v_t) in (v-, v+) (Assumption 3)",
        "sqrt_vhat_min": float(mon["r_min"].min()), "sqrt_vhat_max": float(mon["r_max"].max()),
        "note": "bounds exist on any finite run; the measured range is reported, not judged",
    }
    p = mon["moment_order_p"]
    alpha = config.tail_index
    noise = fractional_moment(alpha, p, config.noise_scale) ** (2.0 / p)
    detail = ("literal: Var(sigma zeta) = 2 sigma^2 vs E m^2" if p == 2.0 else
              f"alpha < 2: both variances are infinite; surrogate (E|X|^p)^(2/p), p = alpha/3 = {p:.3g}, "
              "on both sides")
    checks["assumption-5"] = monitor_assumption5(mon["steps"], noise, mon["m_moment"] ** (2.0 / p),
                                                 config.beta1, detail).as_dict()
    return checks


def summarise(config: EscapeConfig, sim: dict) -> dict:
    est = mean_escape_time(sim["exit_time"], sim["escaped"], config.horizon)
    mon = sim["monitor"]
    out = {
        "label": sim["label"],
        "mean_escape_time": est,
        "path_steps": sim["path_steps"],
        "seconds": sim["seconds"],
        "path_steps_per_second": sim["path_steps"] / max(sim["seconds"], 1e-9),
        "prediction": flow_prediction(config) if config.dynamics == "flow" else _plug_in_prediction(config, mon),
        "assumptions": _assumptions(config, sim["label"], mon),
    }
    if mon is not None and len(mon["steps"]):
        weights = mon["alive"] / mon["alive"].sum()
        out["r_mean"] = (mon["r_mean"] * weights[:, None]).sum(0).tolist()
        out["monitor_trace"] = {"steps": mon["steps"].tolist(), "alive": mon["alive"].tolist(),
                                "r_mean": mon["r_mean"].mean(1).tolist()}
    pred = out["prediction"]
    if pred and est["estimate"] is not None:
        pred["measured_over_predicted"] = {k: est[k] / pred["value"] if est[k] is not None else None
                                           for k in ("estimate", "low", "high")}
    return out


def run_config(config: EscapeConfig, progress: bool = False) -> dict:
    """Simulate every optimizer (or the flow) of ``config``; same seed for each (common random
    numbers). Adds E Gamma(AdaMomentum) / E Gamma(Adam) when both were run."""
    start = time.perf_counter()
    results = {}
    for label in config.labels():
        if label != "flow":
            get_member(label)
        results[label] = summarise(config, simulate(config, label, progress=progress))
    out = {"config": config, "results": results, "seconds": time.perf_counter() - start,
           "a5_moment_order": a5_moment_order(config.tail_index)}
    if "adam" in results and "adamomentum" in results:
        am, adam = results["adamomentum"]["mean_escape_time"], results["adam"]["mean_escape_time"]
        out["ratio_adamomentum_over_adam"] = ratio_ci(am, adam)
        out["restricted_ratio_adamomentum_over_adam"] = restricted_ratio_ci(am, adam)
    return out
