"""One escape run summarised (estimate, CI, fraction escaped, predictions, assumption checks), and
the summary of each named experiment from its runs. Pure compute; returns JSON-safe dicts.

Comparisons are of a subject against a baseline (defaults: the paper's AdaMomentum against Adam);
the record keys that name them are built by :func:`ratio_key` (``ratio_adamomentum_over_adam`` for
the defaults). A check whose input the rule does not expose (a read-out it lacks) is reported with
``holds: None``, ``verdict: "unchecked"`` and the reason.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from simulations.escape.estimate import mean_escape_time, weighted_slope
from simulations.escape.problems import flow_prediction
from simulations.escape.simulate import noise_free_direction_ratio
from simulations.levy import fractional_moment
from theory.assumptions import (
    check_assumption1,
    check_beta_ordering,
    monitor_assumption5,
    monitor_direction_condition,
)
from theory.bounds import box_escape_measure
from theory.family import REGISTRY

if TYPE_CHECKING:
    from simulations.escape.experiment import EscapeConfig

DEFAULT_SUBJECT, DEFAULT_BASELINE = "adamomentum", "adam"  # the paper's comparison

DIRECTION_HYPOTHESIS = "<grad f/(1+f), q R^-1 m> >= 0 a.e. (Assumption 3)"
A5_HYPOTHESIS = "noise variance <= beta1 E(m^2)/(2 - beta1) eventually (Assumption 5)"


def ratio_key(subject: str, baseline: str, restricted: bool = False) -> str:
    """The record key of E Gamma(subject) / E Gamma(baseline) (``restricted``: of E min(Gamma, T))."""
    return f"{'restricted_' if restricted else ''}ratio_{subject}_over_{baseline}"


def display_name(name: str) -> str:
    """How the text names a method: a registry member by its summary's name (AdaMomentum, Adam),
    anything else by the name it was given."""
    member = REGISTRY.get(name)
    return member.summary.split(" (")[0].split(",")[0] if member is not None else name


def unchecked(hypothesis: str, reason: str) -> dict:
    """A check that could not be made, in the shape of a MonitorResult's dict."""
    return {"hypothesis": hypothesis, "holds": None, "verdict": "unchecked", "reason": reason, "violations": None,
            "checked": None, "violation_rate": None, "first_violation_step": None, "details": {"reason": reason}}


def _plug_in_prediction(config: EscapeConfig, mon: dict | None) -> dict | None:
    """Imkeller-Pavlyukevich rate with the measured noise coefficient upsilon sigma / R:
    lambda = sum_i (c_alpha/alpha) (upsilon sigma)^alpha E[R_i^-alpha] (a^-alpha + b^-alpha), with
    E[R^-alpha] averaged over the alive paths and the monitored times (Lemma 1 with m(Upsilon) the
    Levy measure of the escaping set of Definition 2 at the measured R). None without R."""
    alpha = config.tail_index
    if mon is None or alpha >= 2.0 or config.noise_scale == 0 or len(mon["steps"]) == 0:
        return None
    if mon["r_inv_alpha"] is None:
        return None
    weights = mon["alive"] / mon["alive"].sum()
    r_inv_alpha = (mon["r_inv_alpha"] * weights[:, None]).sum(0)
    coef = (config.upsilon * config.noise_scale) * r_inv_alpha ** (1.0 / alpha)
    basin = config.basin
    rate = box_escape_measure(alpha, basin.right, basin.left, coef)
    return {"value": 1.0 / rate, "law": "imkeller-pavlyukevich with measured R (plug-in)",
            "noise_coefficient": coef.tolist()}


def _direction_check(config: EscapeConfig, rule: Any, mon: dict) -> dict:
    if mon["negative"] is None:
        return unchecked(DIRECTION_HYPOTHESIS, mon["missing"].get("effective_stepsize")
                         or mon["missing"].get("first_moment", "not monitored"))
    negative, checked = int(mon["negative"].sum()), int(mon["alive"].sum())
    bad = np.flatnonzero(mon["negative"] > 0)
    check = monitor_direction_condition(negative, checked, int(mon["steps"][bad[0]]) if bad.size else None).as_dict()
    check["details"]["noise_free_tau"] = noise_free_direction_ratio(config, rule)
    return check


def _v_range(mon: dict) -> dict:
    out = {"hypothesis": "each coordinate of sqrt(v_t) in (v-, v+) (Assumption 3)"}
    if mon["r_min"] is None:
        return {**out, "sqrt_vhat_min": None, "sqrt_vhat_max": None,
                "note": f"unchecked: {mon['missing'].get('effective_stepsize')}"}
    return {**out, "sqrt_vhat_min": float(mon["r_min"].min()), "sqrt_vhat_max": float(mon["r_max"].max()),
            "note": "bounds exist on any finite run; the measured range is reported, not judged"}


def _assumption5(config: EscapeConfig, mon: dict) -> dict:
    if mon["m_moment"] is None:
        return unchecked(A5_HYPOTHESIS, mon["missing"].get("first_moment", "not monitored"))
    p = mon["moment_order_p"]
    noise = fractional_moment(config.tail_index, p, config.noise_scale) ** (2.0 / p)
    detail = ("literal: Var(sigma zeta) = 2 sigma^2 vs E m^2" if p == 2.0 else
              f"alpha < 2: both variances are infinite; surrogate (E|X|^p)^(2/p), p = alpha/3 = {p:.3g}, "
              "on both sides")
    return monitor_assumption5(mon["steps"], noise, mon["m_moment"] ** (2.0 / p), config.beta1, detail).as_dict()


def _assumptions(config: EscapeConfig, rule: Any, mon: dict | None) -> dict:
    left, right = config.basin.curvatures()
    checks = {
        "assumption-1": check_assumption1(left, right, config.basin.kind != "none").as_dict(),
        "assumption-3-betas": check_beta_ordering(config.beta1, config.beta2).as_dict(),
    }
    if mon is None or len(mon["steps"]) == 0:
        return checks
    checks["assumption-3-direction"] = _direction_check(config, rule, mon)
    checks["assumption-3-v-range"] = _v_range(mon)
    checks["assumption-5"] = _assumption5(config, mon)
    return checks


def summarise(config: EscapeConfig, sim: dict, rule: Any = None) -> dict:
    """One optimizer's (or the flow's) numbers from :func:`simulations.escape.simulate.simulate`."""
    est = mean_escape_time(sim["exit_time"], sim["escaped"], config.horizon)
    mon = sim["monitor"]
    out = {
        "label": sim["label"],
        "mean_escape_time": est,
        "path_steps": sim["path_steps"],
        "seconds": sim["seconds"],
        "path_steps_per_second": sim["path_steps"] / max(sim["seconds"], 1e-9),
        "prediction": flow_prediction(config) if config.dynamics == "flow" else _plug_in_prediction(config, mon),
        "assumptions": _assumptions(config, rule if rule is not None else sim["label"], mon),
    }
    if mon is not None and len(mon["steps"]):
        weights = mon["alive"] / mon["alive"].sum()
        if mon["r_mean"] is not None:
            out["r_mean"] = (mon["r_mean"] * weights[:, None]).sum(0).tolist()
        out["monitor_trace"] = {"steps": mon["steps"].tolist(), "alive": mon["alive"].tolist(),
                                "r_mean": mon["r_mean"].mean(1).tolist() if mon["r_mean"] is not None else None}
    pred = out["prediction"]
    if pred and est["estimate"] is not None:
        pred["measured_over_predicted"] = {k: est[k] / pred["value"] if est[k] is not None else None
                                           for k in ("estimate", "low", "high")}
    return out


# ---- tri-state hypothesis checks (True / False / None = could not be checked) ---------------------

def all_hold(values) -> bool | None:
    """False if any is False; else None if any could not be checked; else True."""
    values = list(values)
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _holds(checks: dict, key: str) -> bool | None:
    check = checks.get(key, {})
    if "holds" in check and check["holds"] is None:  # reported unchecked
        return None
    return bool(check.get("holds", False))


def assumptions_hold(checks: dict, a5: bool = True) -> bool | None:
    """Assumptions 1 and 3 (and 5) on one run's checks: a check missing from the record counts as
    not holding; one reported unchecked (``holds: None``) makes the answer None unless another fails."""
    keys = ["assumption-1", "assumption-3-betas", "assumption-3-direction"] + (["assumption-5"] if a5 else [])
    return all_hold(_holds(checks, k) for k in keys)


# ---- the named experiments' summaries ---------------------------------------------------------------

def _getoor(runs: list[dict]) -> dict:
    rows = []
    for run in runs:
        r = run["results"]["flow"]
        # no estimate (every path censored) gives no ratio: the row says so with None
        mp = r["prediction"].get("measured_over_predicted") or {}
        bias = {key: (mp[part] - 1 if mp.get(part) is not None else None)
                for key, part in (("bias", "estimate"), ("bias_low", "low"), ("bias_high", "high"))}
        rows.append({"key": run["key"], "alpha": run["config"].tail_index, "dt": run["config"].time_step,
                     "exact": r["prediction"]["value"], "measured": r["mean_escape_time"]["estimate"], **bias})
    return {"bias_table": rows}


def _ip(runs: list[dict]) -> dict:
    x = [run["config"].noise_scale for run in runs]
    est = [run["results"]["flow"]["mean_escape_time"] for run in runs]
    return {"exponent_vs_noise_scale": weighted_slope(x, [e["estimate"] for e in est], [e["log_se"] for e in est]),
            "predicted_exponent": -runs[0]["config"].tail_index,
            "ratios": {run["key"]: run["results"]["flow"]["prediction"].get("measured_over_predicted") for run in runs}}


def _lemma1(runs: list[dict]) -> dict:
    from theory.bounds import lemma1_exponents

    out = {"predicted_exponents": lemma1_exponents(runs[0]["config"].tail_index), "fits": {}}
    ups = [run["config"].upsilon for run in runs]
    for label in runs[0]["results"]:
        est = [run["results"][label]["mean_escape_time"] for run in runs]
        out["fits"][label] = weighted_slope(ups, [e["estimate"] for e in est], [e["log_se"] for e in est])
    return out


def _prop1(runs: list[dict], subject: str, baseline: str) -> dict:
    table = []
    pair = (baseline, subject)
    for run in runs:
        base_a, subj_a = (run["results"][k]["assumptions"] for k in pair)
        table.append({"key": run["key"], "ratio": run.get(ratio_key(subject, baseline)),
                      "assumptions_hold": all_hold([assumptions_hold(subj_a), assumptions_hold(base_a, a5=False)]),
                      "a1": subj_a["assumption-1"]["holds"],
                      "a3_direction_violation_rate": {
                          k: run["results"][k]["assumptions"].get("assumption-3-direction", {}).get("violation_rate")
                          for k in pair},
                      "a3_betas": subj_a["assumption-3-betas"]["holds"],
                      f"a5_{subject}": subj_a.get("assumption-5", {}).get("holds", False),
                      "a5_fraction_last_half": subj_a.get("assumption-5", {}).get("details", {}).get(
                          "fraction_holding_last_half"),
                      "r_mean": {k: run["results"][k].get("r_mean") for k in pair}})
        unchecked_a3 = {k: run["results"][k]["assumptions"]["assumption-3-direction"]["reason"] for k in pair
                        if run["results"][k]["assumptions"].get("assumption-3-direction", {}).get("verdict")
                        == "unchecked"}
        if unchecked_a3:  # only rules without the read-outs: the paper's members never have this key
            table[-1]["a3_unchecked"] = unchecked_a3
    return {"table": table}


def _alpha(runs: list[dict]) -> dict:
    return {"table": [{"key": run["key"], "alpha": run["config"].tail_index,
                       "measured": {k: r["mean_escape_time"]["estimate"] for k, r in run["results"].items()},
                       "predicted": {k: (r["prediction"] or {}).get("value") for k, r in run["results"].items()}}
                      for run in runs]}


def summarise_preset(name: str, runs: list[dict], subject: str = DEFAULT_SUBJECT,
                     baseline: str = DEFAULT_BASELINE) -> dict:
    """The summary of a named experiment from its runs (empty when no run could be made)."""
    if not runs:
        return {}
    if name == "getoor":
        return _getoor(runs)
    if name == "ip":
        return _ip(runs)
    if name == "lemma1":
        return _lemma1(runs)
    if name == "prop1":
        return _prop1(runs, subject, baseline)
    if name == "alpha":
        return _alpha(runs)
    return {}


# ---- console lines --------------------------------------------------------------------------------

def _g(value) -> str:
    """Four significant digits; None prints as "n/a" (no estimate), inf as "inf"."""
    if value is None:
        return "n/a"
    return f"{value:.4g}" if isinstance(value, (int, float)) else str(value)


def summary_lines(results: dict, subject: str = DEFAULT_SUBJECT, baseline: str = DEFAULT_BASELINE) -> list[str]:
    """One line per optimizer of a single run (``run_config``'s output), then the ratios."""
    lines = []
    for label, r in results["results"].items():
        m = r["mean_escape_time"]
        pred = (r.get("prediction") or {}).get("value")
        rm = m["restricted_mean"]
        lines.append(f"{label}: E Gamma = {_g(m['estimate'])} [{_g(m['low'])}, {_g(m['high'])}] "
                     f"({m['method']}), E min(Gamma, T) = {_g(rm['estimate'])} [{_g(rm['low'])}, "
                     f"{_g(rm['high'])}], escaped {m['escaped']}/{m['paths']}, predicted {_g(pred)}")
    for restricted, name in ((False, "E Gamma"), (True, "E min(Gamma, T)")):
        r = results.get(ratio_key(subject, baseline, restricted))
        if r:
            lines.append(f"{name}({subject})/{name}({baseline}) = {_g(r['estimate'])} [{_g(r['low'])}, "
                         f"{_g(r['high'])}]")
    for label, notes in (results.get("rule_notes") or {}).items():
        lines.extend(f"{label}: note: {note}" for note in notes)
    return lines
