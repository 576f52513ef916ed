"""Figure 1 / Section 3.1: the effective stepsize of a subject (default AdaMomentum) against a
baseline (default Adam) along a 1-D loss curve.

The paper argues with a picture (Figure 1) that a loss curve going from a plateau down a slope
into a basin has three areas, and makes one statement about each:

* A (plateau -> slope, |g| starts to grow): Adam's actual stepsize a/sqrt(vhat) shrinks while
  AdaMomentum's stays large, because |m| (an EMA) lags behind |g|;
* B (steep slope): |m_t| gradually catches up with |g_t|;
* C (slope -> basin, |g| falls): AdaMomentum's stepsize stays *smaller* than Adam's, because |m|
  is still larger than |g|.

With any subject and baseline, A reads "the baseline's stepsize shrinks while the subject's stays
large", C "the subject's stepsize stays smaller than the baseline's" and B is about the subject's
|m|. We measure these on a Gaussian well sitting at the end of a long, gently sloping plateau
(:mod:`simulations.toys.problems`: ``well_gradient``, ``geometry``). The optimizers start ``plateau_steps`` learning rates to the left of area A, so they
reach the slope with a warmed-up state, as in the paper's picture. With ``levels = (low, high)`` as
fractions of the peak slope, the areas on the first approach to x_m are:

* A: |f'| rises from ``low`` to ``high`` of its peak (left of the peak);
* B: |f'| >= ``high`` of its peak;
* C: |f'| falls from ``high`` of its peak to 0, up to x_m.

"Stepsize at position x" is eta_t = a_t / ((1 - b1^t) denom_t) (the rule's ``effective_stepsize``
read-out, :mod:`theory.rule`: the update is eta_t * m_t) of the step t that carries the iterate across x (first t with
x_t > x), so the two optimizers are compared at the same place on the curve, not at the same
time. The left side is traversed monotonically (g < 0 there, so m < 0 and every update moves
right), which makes this well defined. A statement is true in one case when it is true at no less
than ``min_fraction`` of ``positions`` evenly spaced points of its area (B: |m|/|g| is at least
``catch_up`` when leaving B and not lower than on entry).

Resolved cases. The paper's mechanism is an EMA lagging behind |g| and "gradually" catching up, so
a statement about an area presupposes that the optimizers spend time there: an area is *resolved*
in a case when both optimizers take at least ``resolved_time_constants / (1 - b1)`` steps in it
(3 / (1 - 0.9) = 30 by default; after 30 steps an EMA of a constant input is at 1 - 0.9^30 = 96% of
it, above every catch-up threshold tested). The verdict of each statement is decided on its
resolved cases only: "holds" when true in every one, "fails" (a reproducible counterexample, the
cases listed) when false in at least one, "unchecked" when no case resolves the area. Cases that
cross the area in fewer steps are outside the claim's premise; they are reported, with their
outcome, but do not decide. How the outcome moves with the threshold (``threshold_sweep``:
``min_fraction`` for A and C, ``catch_up`` for B) and with the resolution rule
(``resolution_sweep``, in EMA time constants) is reported next to the verdict.

The decision sweep (eps = 1e-16, the released AdaMomentum default, because the paper's argument is
about m versus g) varies the learning rate (in units of w: small lr resolves each area in many
steps, large lr crosses the well in a few), beta2 and the plateau length at one loss scale
(``peak_slope``): with eps ~ 0 both methods are invariant to the loss scale (tested), so other
scales would repeat the same runs. eps = 1e-8 is run as a sensitivity analysis and reported
separately, over the loss scales ``peak_slopes``, where the scale does matter: AdaMomentum puts
eps inside the EMA, which floors its denominator at sqrt(eps / (1 - b2)), and on a plateau whose
gradient is below that floor the comparison is decided by eps, not by m versus g.

Read-outs. A and C compare effective stepsizes, so they need the ``effective_stepsize`` read-out
of both methods; B needs the subject's ``first_moment``. A statement whose read-out a rule lacks
(a torch optimizer has no effective stepsize) is ``unchecked`` with the reason; the others are
still decided. The ledger rows are built in :mod:`simulations.toys.verdicts`.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

from simulations.records import to_jsonable
from simulations.toys.problems import geometry, well_gradient
from simulations.toys.summary import DEFAULT_BASELINE, DEFAULT_SUBJECT
from theory.family import Hyper
from theory.names import resolve
from theory.rule import effective_stepsize, first_moment, notes


def method_name(method) -> str:
    """The label of an optimizer given as a name or as an update rule."""
    return method if isinstance(method, str) else method.name


@dataclass(frozen=True)
class StepsizeConfig:
    """The sweep of 1-D cases; lengths are in units of the well width w = 1. ``subject`` and
    ``baseline`` are optimizer names (anything :func:`theory.names.resolve` accepts) or rules."""

    peak_slope: float = 1.0  # loss scale of the decision sweep (scale-invariant at eps ~ 0)
    peak_slopes: tuple = (0.01, 1.0, 100.0)  # loss scales of the eps sensitivity sweep
    lrs: tuple = (0.003, 0.01, 0.03, 0.1)
    beta2s: tuple = (0.99, 0.999)
    plateau_steps: tuple = (100, 400)
    plateau_slope: float = 0.002
    beta1: float = 0.9
    eps: float = 1e-16
    sensitivity_eps: float = 1e-8
    steps: int = 4000
    levels: tuple = (0.01, 0.5)
    positions: int = 64
    min_fraction: float = 0.9
    catch_up: float = 0.9
    threshold_sweep: tuple = (0.8, 0.9, 0.95)
    resolved_time_constants: float = 3.0  # an area is resolved with >= this / (1 - beta1) steps in it
    resolution_sweep: tuple = (1.0, 2.0, 3.0)  # other resolution rules, reported (time constants)
    showcase: tuple = (0.01, 0.999, 400)  # lr, beta2, plateau steps of the figure (at peak_slope)
    subject: object = DEFAULT_SUBJECT
    baseline: object = DEFAULT_BASELINE

    def __post_init__(self) -> None:
        low, high = self.levels
        if not 0.0 < low < high < 1.0:
            raise ValueError(f"levels must satisfy 0 < low < high < 1, got {self.levels}")
        if not 0.0 < self.plateau_slope < low:
            raise ValueError(f"plateau_slope must be in (0, levels[0] = {low}), got {self.plateau_slope}")
        if self.steps < 10:
            raise ValueError(f"steps must be >= 10, got {self.steps}")
        if self.positions < 2:
            raise ValueError(f"positions must be >= 2, got {self.positions}")
        if not 0.0 < self.min_fraction <= 1.0:
            raise ValueError(f"min_fraction must be in (0, 1], got {self.min_fraction}")
        if not (self.threshold_sweep and all(0.0 < t <= 1.0 for t in self.threshold_sweep)):
            raise ValueError(f"threshold_sweep must be thresholds in (0, 1], got {self.threshold_sweep}")
        if not 0.0 <= self.beta1 < 1.0:
            raise ValueError(f"beta1 must be in [0, 1), got {self.beta1}")
        if not self.resolved_time_constants > 0 or not all(k > 0 for k in self.resolution_sweep):
            raise ValueError("resolved_time_constants and resolution_sweep must be > 0, got "
                             f"{self.resolved_time_constants}, {self.resolution_sweep}")
        if self.peak_slope <= 0 or any(p <= 0 for p in self.peak_slopes):
            raise ValueError(f"peak_slope and peak_slopes must be > 0, got {self.peak_slope}, {self.peak_slopes}")
        if len(self.showcase) != 3:
            raise ValueError(f"showcase must be (lr, beta2, plateau steps), got {self.showcase}")
        self._check_methods()

    def _check_methods(self) -> None:
        for option in ("subject", "baseline"):
            try:
                resolve(getattr(self, option))
            except (ValueError, TypeError) as err:
                raise ValueError(f"{option}: {err}") from None
        if method_name(self.subject) == method_name(self.baseline):
            raise ValueError(f"subject and baseline must differ, both are {method_name(self.subject)!r}")

    def steps_for(self, time_constants: float) -> int:
        """``time_constants`` EMA time constants 1 / (1 - beta1), in steps."""
        return int(math.ceil(time_constants / (1.0 - self.beta1) - 1e-9))

    @property
    def resolved_steps(self) -> int:
        """Steps each optimizer must take in an area for the area to count as resolved."""
        return self.steps_for(self.resolved_time_constants)

    @property
    def methods(self) -> tuple[str, str]:
        """(subject, baseline) as names: the keys of the simulations and evaluations."""
        return method_name(self.subject), method_name(self.baseline)


def cases(config: StepsizeConfig, peak_slopes: tuple | None = None) -> list[dict]:
    """The grid of cases: ``peak_slopes`` (default: the decision sweep's single ``peak_slope``)
    x learning rates x beta2 x plateau lengths."""
    scales = (config.peak_slope,) if peak_slopes is None else tuple(peak_slopes)
    return [dict(peak_slope=p, lr=lr, beta2=b2, plateau_steps=n)
            for p, lr, b2, n in itertools.product(scales, config.lrs, config.beta2s, config.plateau_steps)]


# --- the batched runs --------------------------------------------------------------------------------

def simulate(rule, case_list: list[dict], eps_values: list[float], config: StepsizeConfig,
             device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64) -> dict:
    """Run the update rule ``rule`` on every case at every eps (eps-major order); see
    :func:`simulate_runs`."""
    return simulate_runs(rule, [(c, e) for e in eps_values for c in case_list], config, device, dtype)


def _append(series: list | None, value, like: torch.Tensor, clone: bool = False) -> list | None:
    """Append one step's read-out (as a tensor shaped like the iterate); None once it is missing."""
    if series is None or value is None:
        return None
    if not (isinstance(value, torch.Tensor) and value.shape == like.shape):
        value = torch.broadcast_to(torch.as_tensor(value, device=like.device, dtype=like.dtype), like.shape)
    series.append(value.clone() if clone else value)
    return series


def simulate_runs(rule, runs: list[tuple], config: StepsizeConfig,
                  device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64) -> dict:
    """Run the update rule ``rule`` on every (case, eps) pair at once. Returns (steps+1, runs) arrays
    x (iterates x_0..x_T) and (steps, runs) arrays g, m, eta of steps 1..T; m (eta) is None when
    the rule has no ``first_moment`` (``effective_stepsize``) read-out. ``rule_notes``: what the
    rule could not honour (:func:`theory.rule.notes`)."""
    if isinstance(rule, str):
        raise TypeError(f"simulate drives an update rule, got the name {rule!r}: resolve it first "
                        "(theory.names.resolve)")
    geo = geometry(config.levels, config.plateau_slope)
    column = (lambda key: torch.tensor([[float(c[key])] for c, _ in runs], device=device, dtype=dtype))
    peak, lr, beta2 = column("peak_slope"), column("lr"), column("beta2")
    eps = torch.tensor([[e] for _, e in runs], device=device, dtype=dtype)
    x = geo["areas"]["A"][0] - column("plateau_steps") * lr  # warm-up on the plateau first
    hyper = Hyper(lr=lr, beta1=config.beta1, beta2=beta2, eps=eps)
    state = rule.init(x, hyper)
    xs, gs, ms, etas = [x.clone()], [], [], []
    for _ in range(config.steps):
        g = well_gradient(x, peak, config.plateau_slope)
        rule.step(state, x, g, hyper)
        xs.append(x.clone())
        gs.append(g)
        ms = _append(ms, first_moment(rule, state), x, clone=True)
        etas = _append(etas, effective_stepsize(rule, state, hyper), x)
    stack = (lambda seq: None if seq is None else torch.cat(seq, dim=1).T.cpu().numpy())
    return {"x": stack(xs), "g": stack(gs), "m": stack(ms), "eta": stack(etas), "runs": list(runs),
            "rule_notes": notes(rule, hyper)}


# --- measurements along one run's path -----------------------------------------------------------------

def arrival_step(path: np.ndarray, x_min: float) -> int:
    """First step t with x_t >= x_m (-1 if never)."""
    hit = np.nonzero(path[1:] >= x_min)[0]
    return int(hit[0] + 1) if hit.size else -1


def crossing_steps(path: np.ndarray, positions: np.ndarray, x_min: float) -> np.ndarray:
    """For one run's iterates x_0..x_T, the step t (1-based) that carries it across each
    position (first t with x_t > position); -1 where it does not cross before first reaching x_m."""
    x = path[1:]
    arrive = arrival_step(path, x_min)
    stop = arrive if arrive > 0 else x.size  # only the first approach counts
    x = np.maximum.accumulate(x[:stop])  # monotone left of x_m; guards round-off
    index = np.searchsorted(x, positions, side="right")
    return np.where(index < stop, index + 1, -1)


def area_steps(path: np.ndarray, bounds: tuple, x_min: float) -> int:
    """Number of steps of the first approach (t = 1 .. arrival at x_m, or T) that start in the
    area [lo, hi), i.e. with x_{t-1} in it: how many updates the optimizer makes there."""
    arrive = arrival_step(path, x_min)
    stop = arrive if arrive > 0 else path.size - 1
    starts = path[:stop]
    lo, hi = bounds
    return int(np.count_nonzero((starts >= lo) & (starts < hi)))


def _area_positions(bounds: tuple, count: int) -> np.ndarray:
    lo, hi = bounds
    return lo + (hi - lo) * (np.arange(count) + 0.5) / count  # cell centres, open interval


# --- the three statements on one case ------------------------------------------------------------------

def statement_true(key: str, statement: dict, threshold: float) -> bool:
    """Whether statement ``key`` is true in one case at ``threshold`` (A and C: the fraction of
    matched positions where it is true; B: |m|/|g| when leaving B, which must also not be lower
    than on entry)."""
    if key == "B":
        return bool(statement["m_over_g_exit"] >= threshold
                    and statement["m_over_g_exit"] >= statement["m_over_g_entry"])
    return bool(statement["fraction"] >= threshold)


def unavailable(sims: dict, config: StepsizeConfig) -> dict:
    """Per statement, why it cannot be checked (a read-out a rule lacks), or None."""
    subject, baseline = config.methods
    no_eta = [name for name in (subject, baseline) if sims[name]["eta"] is None]
    eta_reason = (None if not no_eta else
                  f"compares effective stepsizes, and {' and '.join(no_eta)} "
                  f"{'has' if len(no_eta) == 1 else 'have'} no effective_stepsize read-out (theory.rule)")
    m_reason = (None if sims[subject]["m"] is not None else
                f"is about the subject's |m|, and {subject} has no first_moment read-out (theory.rule)")
    return {"A": eta_reason, "B": m_reason, "C": eta_reason}


def _matched(sims: dict, run: int, names: tuple, bounds: tuple, config: StepsizeConfig, x_min: float):
    """eta and |m|/|g| of each method at the area's positions every method crosses (None if none);
    methods without the read-out are left out of that dict."""
    positions = _area_positions(bounds, config.positions)
    steps = {name: crossing_steps(sims[name]["x"][:, run], positions, x_min) for name in names}
    valid = np.all([s > 0 for s in steps.values()], axis=0)
    if not valid.any():
        return None
    pick = {name: steps[name][valid] - 1 for name in names}
    eta = {name: sims[name]["eta"][pick[name], run] for name in names if sims[name]["eta"] is not None}
    ratio_mg = {name: np.abs(sims[name]["m"][pick[name], run]) / np.abs(sims[name]["g"][pick[name], run])
                for name in names if sims[name]["m"] is not None}
    return {"eta": eta, "m_over_g": ratio_mg}


def _statements(per_area: dict, subject: str, baseline: str) -> dict:
    """The measured quantities of statements A, B, C (None where a read-out is missing)."""
    a, b, c = per_area["A"], per_area["B"], per_area["C"]
    has_eta = subject in a["eta"] and baseline in a["eta"]
    has_m = subject in b["m_over_g"]
    rho_b = b["m_over_g"].get(subject)
    statements = {
        "A": None if not has_eta else {
            "fraction": float(np.mean(a["eta"][subject] > a["eta"][baseline])),
            "median_ratio": float(np.median(a["eta"][subject] / a["eta"][baseline]))},
        "B": None if not has_m else {
            "m_over_g_entry": float(rho_b[0]), "m_over_g_exit": float(rho_b[-1]),
            "m_over_g_max": float(rho_b.max())},
        "C": None if not has_eta else {
            "fraction": float(np.mean(c["eta"][subject] < c["eta"][baseline])),
            "median_ratio": float(np.median(c["eta"][subject] / c["eta"][baseline])),
            "median_m_over_g": float(np.median(c["m_over_g"][subject])) if has_m else None},
    }
    return statements


def evaluate_case(sims: dict, run: int, config: StepsizeConfig, geo: dict) -> dict:
    """The three statements on one case (one run index into each method's simulation)."""
    subject, baseline = config.methods
    names = (baseline, subject)  # the record's key order
    per_area, steps_in_area, resolved = {}, {}, {}
    for area, bounds in geo["areas"].items():
        steps_in_area[area] = {name: area_steps(sims[name]["x"][:, run], bounds, geo["x_min"]) for name in names}
        resolved[area] = min(steps_in_area[area].values()) >= config.resolved_steps
        per_area[area] = _matched(sims, run, names, bounds, config, geo["x_min"])
    out = {"complete": all(per_area[a] is not None for a in "ABC"), "steps_in_area": steps_in_area,
           "resolved": resolved}
    if not out["complete"]:
        out["statements"] = {"A": None, "B": None, "C": None}
        return out
    statements = _statements(per_area, subject, baseline)
    for key, statement in statements.items():
        if statement is not None:
            statement["true"] = statement_true(key, statement, config.catch_up if key == "B" else config.min_fraction)
    out["statements"] = statements
    return out


def _showcase_curves(sims: dict, run: int, config: StepsizeConfig, x_min: float, max_points: int = 500) -> dict:
    """Downsampled x, g, m, eta of one run around its first approach, for the figure (m, eta None
    where the rule has no such read-out)."""
    curves = {}
    for name in config.methods[::-1]:  # baseline first (the figure's legend order)
        sim = sims[name]
        arrive = arrival_step(sim["x"][:, run], x_min)
        stop = config.steps if arrive < 0 else min(config.steps, arrive + max(20, arrive // 4))
        idx = np.unique(np.linspace(0, stop - 1, min(stop, max_points)).astype(int))
        series = (lambda key: None if sim[key] is None else sim[key][idx, run].tolist())
        curves[name] = {"t": (idx + 1).tolist(), "x_before": sim["x"][idx, run].tolist(),
                        "g": series("g"), "m": series("m"), "eta": series("eta"), "arrival_step": arrive}
    return curves


# --- the verdict numbers ---------------------------------------------------------------------------------

def _true_of(key: str, evaluations: list[dict]) -> list[int]:
    return [int(sum(e["statements"][key]["true"] for e in evaluations)), len(evaluations)]


def _unchecked(key: str, reason: str, evaluations: list[dict], config: StepsizeConfig) -> dict:
    """The summary of a statement a missing read-out keeps from being checked."""
    complete = [e for e in evaluations if e["complete"]]
    return {"verdict": "unchecked", "unavailable": reason, "true_in": 0, "of": 0, "failed_cases": [],
            "unresolved_true_in": 0, "unresolved_of": 0,
            "threshold": config.catch_up if key == "B" else config.min_fraction,
            "threshold_sweep": {f"{t:g}": 0 for t in config.threshold_sweep},
            "resolution_sweep": {str(n): [0, 0] for n in map(config.steps_for, config.resolution_sweep)},
            "resolved_cases": sum(bool(e["resolved"][key]) for e in complete)}


def summarize(evaluations: list[dict], config: StepsizeConfig, missing: dict | None = None) -> dict:
    """Verdict per statement, decided on the complete cases that resolve its area: holds iff true
    in every one, fails iff false in at least one, unchecked if there is none. Unresolved cases and
    the outcome at every threshold of ``threshold_sweep`` are reported next to it. ``missing``
    (from :func:`unavailable`): statements that cannot be checked, with the reason."""
    complete = [e for e in evaluations if e["complete"]]
    summary = {"cases": len(evaluations), "complete_cases": len(complete),
               "resolved_steps": config.resolved_steps}
    for key in "ABC":
        if (missing or {}).get(key):
            summary[key] = _unchecked(key, missing[key], evaluations, config)
            continue
        resolved = [e for e in complete if e["resolved"][key]]
        unresolved = [e for e in complete if not e["resolved"][key]]
        truth = [e["statements"][key]["true"] for e in resolved]
        verdict = "unchecked" if not resolved else ("holds" if all(truth) else "fails")
        summary[key] = {
            "verdict": verdict, "true_in": int(sum(truth)), "of": len(truth),
            "failed_cases": [e["case"] for e in resolved if not e["statements"][key]["true"]],
            "unresolved_true_in": int(sum(e["statements"][key]["true"] for e in unresolved)),
            "unresolved_of": len(unresolved),
            "threshold": config.catch_up if key == "B" else config.min_fraction,
            "threshold_sweep": {f"{t:g}": int(sum(statement_true(key, e["statements"][key], t) for e in resolved))
                                for t in config.threshold_sweep},
            "resolution_sweep": {str(n): _true_of(key, [e for e in complete
                                                        if min(e["steps_in_area"][key].values()) >= n])
                                 for n in map(config.steps_for, config.resolution_sweep)}}
    return summary


def _evaluate_part(sims: dict, offset: int, eps: float, case_list: list[dict], config: StepsizeConfig,
                   geo: dict) -> dict:
    """Evaluate the cases of one sweep (runs offset .. offset + len(case_list) of the batch)."""
    missing = unavailable(sims, config)
    evaluations = []
    for i, case in enumerate(case_list):
        run = offset + i
        evaluation = evaluate_case(sims, run, config, geo)
        evaluation["case"] = dict(case, eps=eps)
        evaluation["arrival_step"] = {name: arrival_step(sims[name]["x"][:, run], geo["x_min"])
                                      for name in config.methods[::-1]}
        evaluations.append(evaluation)
    return {"eps": eps, "evaluations": evaluations, "summary": summarize(evaluations, config, missing)}


def run_stepsize(config: StepsizeConfig = StepsizeConfig(), device: str | torch.device = "cpu") -> dict:
    """Run the decision sweep (eps, one loss scale) and the sensitivity sweep (sensitivity_eps, every
    loss scale of ``peak_slopes``) in one batch, for the baseline and the subject, and evaluate
    every case."""
    geo = geometry(config.levels, config.plateau_slope)
    sweeps = {"decision": (config.eps, cases(config)),
              "sensitivity": (config.sensitivity_eps, cases(config, config.peak_slopes))}
    runs = [(case, eps) for eps, case_list in sweeps.values() for case in case_list]
    rules = {name: resolve(method) for name, method in zip(config.methods, (config.subject, config.baseline))}
    sims = {name: simulate_runs(rules[name], runs, config, device=device) for name in config.methods[::-1]}
    results = {"geometry": geo}
    offset = 0
    for part, (eps, case_list) in sweeps.items():
        results[part] = _evaluate_part(sims, offset, eps, case_list, config, geo)
        offset += len(case_list)
    decision_cases = sweeps["decision"][1]
    show = dict(zip(("lr", "beta2", "plateau_steps"), config.showcase), peak_slope=config.peak_slope)
    show_run = next((i for i, c in enumerate(decision_cases) if c == show), 0)
    results["showcase"] = {"case": dict(decision_cases[show_run], eps=config.eps),
                           "curves": _showcase_curves(sims, show_run, config, geo["x_min"])}
    results["config"] = to_jsonable(config)
    results["rule_notes"] = {name: sims[name]["rule_notes"] for name in config.methods if sims[name]["rule_notes"]}
    return results
