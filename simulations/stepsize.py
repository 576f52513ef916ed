"""Figure 1 / Section 3.1: the effective stepsize of Adam and AdaMomentum along a 1-D loss curve.

The paper argues with a picture (Figure 1) that a loss curve going from a plateau down a slope
into a basin has three areas, and makes one statement about each:

* A (plateau -> slope, |g| starts to grow): Adam's actual stepsize a/sqrt(vhat) shrinks while
  AdaMomentum's stays large, because |m| (an EMA) lags behind |g|;
* B (steep slope): |m_t| gradually catches up with |g_t|;
* C (slope -> basin, |g| falls): AdaMomentum's stepsize stays *smaller* than Adam's, because |m|
  is still larger than |g|.

We measure these on a Gaussian well sitting at the end of a long, gently sloping plateau,

    f(x) = -H exp(-x^2 / (2 w^2)) + s w softplus(-x / w),   H = G w sqrt(e),

whose slope |f'| is ~s on the far left (the plateau, s = ``plateau_slope`` times the well's peak
slope G), rises to ~G at x = -w and falls to 0 at the minimum x_m (just right of 0, found
numerically). The optimizers start ``plateau_steps`` learning rates to the left of area A, so they
reach the slope with a warmed-up state, as in the paper's picture. With ``levels = (low, high)`` as
fractions of the peak slope, the areas on the first approach to x_m are:

* A: |f'| rises from ``low`` to ``high`` of its peak (left of the peak);
* B: |f'| >= ``high`` of its peak;
* C: |f'| falls from ``high`` of its peak to 0, up to x_m.

"Stepsize at position x" is eta_t = a_t / ((1 - b1^t) denom_t) (``theory.family.effective_stepsize``:
the update is eta_t * m_t) of the step t that carries the iterate across x (first t with
x_t > x), so the two optimizers are compared at the same place on the curve, not at the same
time. The left side is traversed monotonically (g < 0 there, so m < 0 and every update moves
right), which makes this well defined. A statement holds in one case when it is true at no less
than ``min_fraction`` of ``positions`` evenly spaced points of its area; the verdict over the
sweep is "holds" when it holds in every case and "fails" (a reproducible counterexample) when it
is false in at least one, with the cases listed.

The sweep varies the peak slope, the learning rate (in units of w: small lr resolves each area in
many steps, large lr crosses the well in a few), beta2 and the plateau length. eps is 1e-16
(the released AdaMomentum default) in the sweep that decides, because the paper's argument is
about m versus g; eps = 1e-8 is run as a sensitivity analysis and reported separately: AdaMomentum
puts eps inside the EMA, which floors its denominator at sqrt(eps / (1 - b2)), and on a plateau
whose gradient is below that floor the comparison is decided by eps, not by m versus g.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy.optimize import brentq, minimize_scalar

from theory.family import Hyper, effective_stepsize, init_state, step_

MEMBERS = ("adam", "adamomentum")
RESOLVED = 10  # steps in an area for it to count as resolved in the breakdown


@dataclass(frozen=True)
class StepsizeConfig:
    """The sweep of 1-D cases; lengths are in units of the well width w = 1."""

    peak_slopes: tuple = (0.01, 1.0, 100.0)
    lrs: tuple = (0.01, 0.03, 0.1)
    beta2s: tuple = (0.99, 0.999)
    plateau_steps: tuple = (100, 400)
    plateau_slope: float = 0.002
    beta1: float = 0.9
    eps: float = 1e-16
    sensitivity_eps: float = 1e-8
    steps: int = 3000
    levels: tuple = (0.01, 0.5)
    positions: int = 64
    min_fraction: float = 0.9
    catch_up: float = 0.9
    showcase: tuple = (1.0, 0.01, 0.999, 400)  # peak slope, lr, beta2, plateau steps of the figure

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


def well_gradient(x, peak_slope, plateau_slope: float, width: float = 1.0):
    """f'(x) for the loss of the module docstring (torch tensors or numpy arrays)."""
    lib = torch if isinstance(x, torch.Tensor) else np
    height = peak_slope * width * math.exp(0.5)
    sigmoid = 1.0 / (1.0 + lib.exp(x / width))  # sigma(-x / w)
    return height * x / width**2 * lib.exp(-x * x / (2 * width**2)) - plateau_slope * peak_slope * sigmoid


def well_value(x, peak_slope, plateau_slope: float, width: float = 1.0):
    height = peak_slope * width * math.exp(0.5)
    x = np.asarray(x, dtype=np.float64)
    return -height * np.exp(-x * x / (2 * width**2)) + plateau_slope * peak_slope * width * np.logaddexp(0.0, -x / width)


def geometry(levels: tuple, plateau_slope: float, width: float = 1.0) -> dict:
    """Minimum x_m, slope peak and the x-intervals of areas A, B, C (scale-free: peak slope 1)."""
    low, high = levels
    slope = (lambda x: -well_gradient(np.float64(x), 1.0, plateau_slope, width))  # |f'| left of x_m
    x_min = brentq(lambda x: well_gradient(np.float64(x), 1.0, plateau_slope, width), 0.0, width)
    peak = minimize_scalar(lambda x: -slope(x), bounds=(-3 * width, 0.0), method="bounded")
    x_peak, top = float(peak.x), float(slope(peak.x))
    far = -12.0 * width
    a_left = brentq(lambda x: slope(x) - low * top, far, x_peak)
    a_right = brentq(lambda x: slope(x) - high * top, far, x_peak)
    b_right = brentq(lambda x: slope(x) - high * top, x_peak, x_min)
    return {"x_min": float(x_min), "x_peak": x_peak, "peak_slope": top,
            "areas": {"A": (a_left, a_right), "B": (a_right, b_right), "C": (b_right, float(x_min))}}


def cases(config: StepsizeConfig) -> list[dict]:
    return [dict(peak_slope=p, lr=lr, beta2=b2, plateau_steps=n)
            for p, lr, b2, n in itertools.product(config.peak_slopes, config.lrs, config.beta2s,
                                                  config.plateau_steps)]


def simulate(member: str, case_list: list[dict], eps_values: list[float], config: StepsizeConfig,
             device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64) -> dict:
    """Run ``member`` on every case (batched, one run per case and eps). Returns (steps+1, runs)
    arrays x (iterates x_0..x_T) and (steps, runs) arrays g, m, eta of steps 1..T."""
    geo = geometry(config.levels, config.plateau_slope)
    runs = [(c, e) for e in eps_values for c in case_list]
    column = (lambda key: torch.tensor([[float(c[key])] for c, _ in runs], device=device, dtype=dtype))
    peak, lr, beta2 = column("peak_slope"), column("lr"), column("beta2")
    eps = torch.tensor([[e] for _, e in runs], device=device, dtype=dtype)
    x = geo["areas"]["A"][0] - column("plateau_steps") * lr  # warm-up on the plateau first
    hyper = Hyper(lr=lr, beta1=config.beta1, beta2=beta2, eps=eps)
    state = init_state(member, x)
    xs, gs, ms, etas = [x.clone()], [], [], []
    for _ in range(config.steps):
        g = well_gradient(x, peak, config.plateau_slope)
        step_(member, state, x, g, hyper)
        xs.append(x.clone())
        gs.append(g)
        ms.append(state.m.clone())
        etas.append(effective_stepsize(member, state, hyper))
    stack = (lambda seq: torch.cat(seq, dim=1).T.cpu().numpy())
    return {"x": stack(xs), "g": stack(gs), "m": stack(ms), "eta": stack(etas), "runs": runs}


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


def _area_positions(bounds: tuple, count: int) -> np.ndarray:
    lo, hi = bounds
    return lo + (hi - lo) * (np.arange(count) + 0.5) / count  # cell centres, open interval


def evaluate_case(sims: dict, run: int, config: StepsizeConfig, geo: dict) -> dict:
    """The three statements on one case (one run index into each member's simulation)."""
    per_area, steps_in_area = {}, {}
    for area, bounds in geo["areas"].items():
        positions = _area_positions(bounds, config.positions)
        steps = {name: crossing_steps(sims[name]["x"][:, run], positions, geo["x_min"]) for name in MEMBERS}
        steps_in_area[area] = {name: int(np.unique(s[s > 0]).size) for name, s in steps.items()}
        valid = np.all([s > 0 for s in steps.values()], axis=0)
        if not valid.any():
            per_area[area] = None
            continue
        pick = {name: steps[name][valid] - 1 for name in MEMBERS}
        eta = {name: sims[name]["eta"][pick[name], run] for name in MEMBERS}
        ratio_mg = {name: np.abs(sims[name]["m"][pick[name], run]) / np.abs(sims[name]["g"][pick[name], run])
                    for name in MEMBERS}
        per_area[area] = {"eta": eta, "m_over_g": ratio_mg}
    out = {"complete": all(per_area[a] is not None for a in "ABC"), "steps_in_area": steps_in_area}
    if not out["complete"]:
        out["statements"] = {"A": None, "B": None, "C": None}
        return out
    a, b, c = per_area["A"], per_area["B"], per_area["C"]
    frac_a = float(np.mean(a["eta"]["adamomentum"] > a["eta"]["adam"]))
    frac_c = float(np.mean(c["eta"]["adamomentum"] < c["eta"]["adam"]))
    rho_b = b["m_over_g"]["adamomentum"]
    out["statements"] = {
        "A": {"true": frac_a >= config.min_fraction, "fraction": frac_a,
              "median_ratio": float(np.median(a["eta"]["adamomentum"] / a["eta"]["adam"]))},
        "B": {"true": bool(rho_b[-1] >= config.catch_up and rho_b[-1] >= rho_b[0]),
              "m_over_g_entry": float(rho_b[0]), "m_over_g_exit": float(rho_b[-1]),
              "m_over_g_max": float(rho_b.max())},
        "C": {"true": frac_c >= config.min_fraction, "fraction": frac_c,
              "median_ratio": float(np.median(c["eta"]["adamomentum"] / c["eta"]["adam"])),
              "median_m_over_g": float(np.median(c["m_over_g"]["adamomentum"]))},
    }
    return out


def _showcase_curves(sims: dict, run: int, config: StepsizeConfig, x_min: float, max_points: int = 500) -> dict:
    """Downsampled x, g, m, eta of one run around its first approach, for the figure."""
    curves = {}
    for name in MEMBERS:
        sim = sims[name]
        arrive = arrival_step(sim["x"][:, run], x_min)
        stop = config.steps if arrive < 0 else min(config.steps, arrive + max(20, arrive // 4))
        idx = np.unique(np.linspace(0, stop - 1, min(stop, max_points)).astype(int))
        curves[name] = {"t": (idx + 1).tolist(), "x_before": sim["x"][idx, run].tolist(),
                        "g": sim["g"][idx, run].tolist(), "m": sim["m"][idx, run].tolist(),
                        "eta": sim["eta"][idx, run].tolist(), "arrival_step": arrive}
    return curves


def summarize(evaluations: list[dict]) -> dict:
    """Verdict per statement over the complete cases: holds iff true in every one."""
    complete = [e for e in evaluations if e["complete"]]
    summary = {"cases": len(evaluations), "complete_cases": len(complete)}
    for key in "ABC":
        truth = [e["statements"][key]["true"] for e in complete]
        failed = [e["case"] for e in complete if not e["statements"][key]["true"]]
        verdict = "unchecked" if not complete else ("holds" if all(truth) else "fails")
        # cases where AdaMomentum resolves the area in >= RESOLVED steps, reported separately
        resolved = [e["statements"][key]["true"] for e in complete
                    if e["steps_in_area"][key]["adamomentum"] >= RESOLVED]
        summary[key] = {"verdict": verdict, "true_in": int(sum(truth)), "of": len(truth),
                        "resolved_true_in": int(sum(resolved)), "resolved_of": len(resolved),
                        "failed_cases": failed}
    return summary


def run_stepsize(config: StepsizeConfig = StepsizeConfig(), device: str | torch.device = "cpu") -> dict:
    """Run the sweep (decision eps and sensitivity eps) and evaluate every case."""
    geo = geometry(config.levels, config.plateau_slope)
    case_list = cases(config)
    eps_values = [config.eps, config.sensitivity_eps]
    sims = {name: simulate(name, case_list, eps_values, config, device=device) for name in MEMBERS}
    results = {"geometry": geo}
    for k, eps in enumerate(eps_values):
        evaluations = []
        for i, case in enumerate(case_list):
            run = k * len(case_list) + i
            evaluation = evaluate_case(sims, run, config, geo)
            evaluation["case"] = dict(case, eps=eps)
            evaluation["arrival_step"] = {name: arrival_step(sims[name]["x"][:, run], geo["x_min"])
                                          for name in MEMBERS}
            evaluations.append(evaluation)
        results["decision" if k == 0 else "sensitivity"] = {
            "eps": eps, "evaluations": evaluations, "summary": summarize(evaluations)}
    show = dict(zip(("peak_slope", "lr", "beta2", "plateau_steps"), config.showcase))
    show_run = next((i for i, c in enumerate(case_list) if c == show), 0)
    results["showcase"] = {"case": dict(case_list[show_run], eps=config.eps),
                           "curves": _showcase_curves(sims, show_run, config, geo["x_min"])}
    results["config"] = asdict(config)
    return results


CLAIMS = {"A": "sec3.1-area-A", "B": "sec3.1-area-B", "C": "sec3.1-area-C"}
STATEMENTS = {
    "A": "AdaMomentum's stepsize exceeds Adam's where |g| starts to grow",
    "B": "|m| catches up with |g| on the steep slope",
    "C": "AdaMomentum's stepsize is below Adam's approaching the basin",
}


def stepsize_rows(results: dict) -> list[dict]:
    """One ledger row per area statement (Figure 1)."""
    config = results["config"]
    rows = []
    for key, claim in CLAIMS.items():
        dec = results["decision"]["summary"][key]
        sens = results["sensitivity"]["summary"][key]
        values = [e["statements"][key] for e in results["decision"]["evaluations"] if e["complete"]]
        if key == "B":
            spread = (f"|m|/|g| at exit of B in [{min(v['m_over_g_exit'] for v in values):.2f}, "
                      f"{max(v['m_over_g_exit'] for v in values):.2f}] (threshold {config['catch_up']})"
                      if values else "no complete case")
        else:
            spread = (f"fraction of area-{key} positions where it is true in "
                      f"[{min(v['fraction'] for v in values):.2f}, {max(v['fraction'] for v in values):.2f}], "
                      f"median stepsize ratio AdaMomentum/Adam in "
                      f"[{min(v['median_ratio'] for v in values):.3g}, {max(v['median_ratio'] for v in values):.3g}]"
                      if values else "no complete case")
        evidence = (f"{STATEMENTS[key]}: true in {dec['true_in']}/{dec['of']} cases of the 1-D sweep "
                    f"(eps {results['decision']['eps']:g}), {dec['resolved_true_in']}/{dec['resolved_of']} "
                    f"of those where AdaMomentum takes >= {RESOLVED} steps in the area; {spread}. Sensitivity eps "
                    f"{results['sensitivity']['eps']:g}: true in {sens['true_in']}/{sens['of']}.")
        rows.append({"claim": claim, "verdict": dec["verdict"], "method": "simulation", "evidence": evidence,
                     "details": {"decision": dec, "sensitivity": sens,
                                 "rule": (f"true in a case when it holds at >= {config['min_fraction']:.0%} of "
                                          f"{config['positions']} matched positions of the area; verdict "
                                          "holds iff true in every case")}})
    return rows
