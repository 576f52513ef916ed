"""Proposition 1 by search: "under Assumptions 1-5, upon encountering a comparatively flat basin or
asymmetric valley, E Gamma(AdaMomentum) >= E Gamma(Adam)".

The runs are the optimizers themselves (:func:`theory.family.step_`, Algorithm 1 with its bias
corrections) on a 1-D basin of :mod:`simulations.escape.problems`: ``warmup`` steps from theta* at
the instance's lr (a path leaving during the warm-up restarts at theta*), then the clock starts where
the warm-up ended (not exactly at theta*, and with m != 0), with g_t = grad f(theta_t)
+ sigma zeta_t and the *same* noise for both optimizers (paired paths). Gamma is the first step at
which theta leaves the basin, censored at the horizon T; the conclusion compares restricted means
E min(Gamma, T): ratio = Adam's / AdaMomentum's (> 1 violates the conclusion), confirmed when the
lower end of its 99% interval (:func:`simulations.escape.estimate.restricted_ratio_ci`) is above 1.
E min(Gamma, T) <= E Gamma, so a confirmed ratio speaks about the escape times up to T; a longer
tail beyond T could still reverse the order of E Gamma itself (no verdict rests on it: no instance
has met every hypothesis).

Readings (the verdict is about ``printed``):

* ``printed``: the noise of eq. (3), symmetric alpha-stable, alpha in [1.1, 2]. Assumption 4 ("there
  exists H with ||g_t|| <= H for all t") needs a constant bound on a random gradient, i.e. almost
  surely; at theta* g_t = sigma zeta_t has unbounded support, so P(|g_t| > H) > 0 for every H and
  the bound fails. Every instance breaks it by construction; the rest is still measured (evidence).
* ``bounded-noise``: outside that scope: zeta = clip(SaS_alpha, -c, c), so Assumption 4 holds with
  H = max_basin |grad f| + sigma c and Assumption 5 reads the literal variance
  Sigma = sigma^2 Var(zeta) (a fixed-seed Monte Carlo of 2^18 draws; |zeta| <= c, so its relative
  standard error is below 0.3%).

Hypotheses, each as printed and monitored on the clocked steps of the paths alive:

* Assumption 1 and 2: piecewise-quadratic basins with curvatures > 0 (mu = min, L = max) are
  non-negative, bounded on the basin, strongly convex and L-smooth by construction (checked anyway);
* Assumption 3: beta1 <= beta2 <= 2 beta1; the direction condition as an *integral*:
  int_0^t <grad f/(1 + f), q R^-1 m> ds >= 0 at every step t of every path (the pointwise sign is
  reported beside it), with q R^-1 m = -(theta_t+1 - theta_t)/lr, exact with R the member's
  denominator, eps included (how :mod:`simulations.escape.simulate` defines R); that "every t, every
  path" reading is decided in the first steps near theta*, where each term's sign is random.
  Not monitored as hypotheses, because no finite run can break them: sqrt(vhat) in (v-, v+) (bounds
  exist on a finite run; the smallest sqrt(vhat) is reported) and the tracking bounds' constants
  tau_m, tau (a finite run has finite ones; the tau_m that ||m_t|| <= tau_m sum_s ||m_s|| needs is
  reported, the noise-free solution from the warm-up's end is not computed);
* Assumption 4: max ||grad f||, ||g_t|| over the run <= H (and H finite: bounded support);
* Assumption 5: diag(Sigma) <= beta1 E(m_{t-1}^2)/(2 - beta1) for t > T0, read as every check of
  the last half of the horizon (E over the AdaMomentum paths alive; "there exists T0" cannot be
  shown by a run shorter than that);
* the scope: a comparatively flat basin (symmetric, curvature <= 0.25, the escape experiment's
  ``FLAT``) or an asymmetric valley (a sharp wall and a flat side, width ratio >= 2, equal heights).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch

from simulations.escape.estimate import mean_escape_time, restricted_ratio_ci
from simulations.escape.problems import Basin, basin_grad, basin_value
from simulations.levy import symmetric_stable
from simulations.runtime import generator
from simulations.search.common import check_planted, margin, place
from simulations.search.space import Param, Variant
from theory.family import Hyper, init_state, step_

READINGS = ("printed", "bounded-noise")
LEVEL = 0.99  # the ratio's interval that confirms a violation
CHECKS = 16  # Assumption 5's checked times in the last half
FLAT_CURVATURE = 0.25
H_A1 = "A1: f >= 0, bounded on the basin, locally mu-strongly convex (mu > 0)"
H_A2 = "A2: grad f L-Lipschitz"
H_BETAS = "A3: beta1 <= beta2 <= 2 beta1"
H_DIRECTION = "A3: int_0^t <grad f/(1+f), q R^-1 m> ds >= 0 for every t and path"
H_A4 = "A4: ||grad f(theta_t)||, ||g_t|| <= H for all t (a.s.)"
H_A5 = "A5: diag(Sigma) <= beta1 E(m_{t-1}^2)/(2 - beta1) for t > T0"
H_SCOPE = "scope: comparatively flat basin or asymmetric valley"


@functools.lru_cache(maxsize=256)
def clipped_variance(alpha: float, clip: float, draws: int = 1 << 18) -> float:
    """Var(clip(SaS_alpha, -c, c)) by a fixed-seed Monte Carlo (the law is symmetric: E zeta = 0)."""
    z = symmetric_stable(alpha, draws, generator=generator(12345, torch.device("cpu")), dtype=torch.float64)
    return float(z.clamp(-clip, clip).pow(2).mean())


class Proposition1:
    claim = "proposition-1"
    readings = READINGS
    printed = True

    def __init__(self, reading="printed", planted=None, paths: int = 128, T_max: int = 1000, warmup: int = 200):
        check_planted(planted)
        if planted is not None:
            raise ValueError("proposition-1 compares two escape times: nothing to plant")
        if reading not in READINGS:
            raise ValueError(f"proposition-1: reading must be one of {READINGS}, got {reading!r}")
        if not 8 <= int(paths) <= 10**5:
            raise ValueError(f"paths must be in [8, 1e5], got {paths}")
        if not 100 <= int(T_max) <= 10**6:
            raise ValueError(f"T_max must be in [100, 1e6], got {T_max}")
        if not 0 <= int(warmup) <= 10**5:
            raise ValueError(f"warmup must be in [0, 1e5], got {warmup}")
        self.reading, self.planted = reading, None
        self.paths, self.T_max, self.warmup = int(paths), int(T_max), int(warmup)
        self.printed = reading == "printed"
        self.options = {"paths": self.paths, "T_max": self.T_max, "warmup": self.warmup}
        noise = "SaS noise (eq. (3))" if self.printed else "SaS noise clipped to [-c, c] (outside the SaS scope)"
        self.description = (f"Adam vs AdaMomentum escape from theta* of a flat or asymmetric 1-D basin, {noise}; "
                            f"ratio E min(Gamma, T)(Adam) / E min(Gamma, T)(AdaMomentum), confirmed at {LEVEL:.0%}")

    def variants(self):
        common = (Param("lr", 1e-3, 0.1, log=True), Param("beta1", 0.5, 0.99),
                  Param("one_minus_beta2", 1e-4, 0.5, log=True), Param("sigma", 1e-2, 3.0, log=True),
                  Param("alpha", 1.1, 2.0), Param("T", 100, self.T_max, integer=True),
                  Param("seed", 0, 10**6, integer=True))
        if not self.printed:
            common = common + (Param("clip", 1.0, 20.0, log=True),)
        flat = (Param("curvature", 1e-2, FLAT_CURVATURE, log=True), Param("width", 0.5, 2.0))
        asym = (Param("curvature", 1.0, 8.0, log=True), Param("width", 0.1, 0.5), Param("width_ratio", 2.0, 16.0,
                                                                                       log=True))
        return [Variant("flat", {"basin": "quadratic"}, common + flat),
                Variant("asymmetric", {"basin": "asymmetric"}, common + asym)]

    def evaluate(self, configs, device="cpu", dtype="float64"):
        dev, dt = place(device, dtype)
        return [self._one(c, dev, dt) for c in configs]

    @staticmethod
    def basin_of(c: dict) -> Basin:
        if c["basin"] == "quadratic":
            return Basin("quadratic", (float(c["curvature"]),), (float(c["width"]),) * 2)
        return Basin("asymmetric", (float(c["curvature"]),), (float(c["width"]), float(c["width"]) * float(c["width_ratio"])))

    def _one(self, c: dict, dev, dt) -> dict:
        basin = self.basin_of(c)
        c_left, c_right = basin.tensors(dev, dt)
        P, T, W = self.paths, int(c["T"]), self.warmup
        b1, b2, sigma, alpha = float(c["beta1"]), 1.0 - float(c["one_minus_beta2"]), float(c["sigma"]), float(c["alpha"])
        hyper = Hyper(lr=float(c["lr"]), beta1=b1, beta2=b2, eps=1e-8)
        zeta = symmetric_stable(alpha, (W + T, P, 1), generator=generator(int(c["seed"]), dev), device=dev, dtype=dt)
        if not self.printed:
            zeta = zeta.clamp(-float(c["clip"]), float(c["clip"]))
        runs = {name: self._race(name, basin, c_left, c_right, zeta, sigma, hyper, W, T)
                for name in ("adam", "adamomentum")}
        est = {name: mean_escape_time(r["exit"], r["escaped"], float(T), LEVEL) for name, r in runs.items()}
        ci = restricted_ratio_ci(est["adam"], est["adamomentum"], LEVEL)
        ratio = ci["estimate"] if ci else 1.0
        left, right = c_left.item() * basin.left, c_right.item() * basin.right
        grad_sup = max(left, right)
        if self.printed:
            H, a4, variance = math.inf, False, (2.0 * sigma**2 if alpha == 2.0 else math.inf)
        else:
            H = grad_sup + sigma * float(c["clip"])
            variance = sigma**2 * clipped_variance(round(alpha, 12), round(float(c["clip"]), 12))
            a4 = all(r["max_g"] <= H * (1 + 1e-12) for r in runs.values())
        m2 = runs["adamomentum"]["m2_last_half"]
        a5_ratio = min(b1 * m / (2 - b1) for m in m2) / variance if m2 and variance > 0 else 0.0
        hyp = {H_A1: bool(min(c_left.item(), c_right.item()) > 0), H_A2: True, H_BETAS: b1 <= b2 <= 2 * b1,
               H_DIRECTION: all(r["integral_min"] >= 0 for r in runs.values()),
               H_A4: a4, H_A5: a5_ratio >= 1.0,
               H_SCOPE: (c["basin"] == "quadratic" and float(c["curvature"]) <= FLAT_CURVATURE)
               or (c["basin"] == "asymmetric" and float(c["width_ratio"]) >= 2.0)}
        confirmed = bool(ci is not None and ci["low"] > 1.0)
        measured = {"ratio_ci": ci, "H": H, "Sigma": variance, "a5_rhs_over_sigma": a5_ratio,
                    **{f"{n}_{k}": v for n, r in runs.items() for k, v in r.items()
                       if k not in ("exit", "escaped", "m2_last_half")},
                    **{f"{n}_restricted_mean": e["restricted_mean"]["estimate"] for n, e in est.items()},
                    **{f"{n}_escaped": int(e["escaped"]) for n, e in est.items()}}
        return {"ratio": float(ratio), "hypotheses": hyp, "margin": margin(hyp), "confirmed": confirmed,
                "measured": measured}

    def _race(self, name, basin, c_left, c_right, zeta, sigma, hyper, W, T) -> dict:
        """One optimizer's paths from theta*: exit steps and the monitors of the module docstring."""
        P = zeta.shape[1]
        x = torch.zeros(P, 1, dtype=zeta.dtype, device=zeta.device)
        state = init_state(name, x, hyper)
        for k in range(W):
            step_(name, state, x, basin_grad(x, c_left, c_right) + sigma * zeta[k], hyper)
            out = (x >= basin.right) | (x <= -basin.left)
            x.masked_fill_(out, 0.0)  # the warm-up restarts a leaving path at theta*
        alive = torch.ones(P, dtype=torch.bool, device=x.device)
        exit_step = torch.full((P,), T, dtype=torch.int64, device=x.device)
        zeros = torch.zeros(P, dtype=x.dtype, device=x.device)
        integral, m_sum = zeros.clone(), zeros.clone()
        # running extremes and counts over the alive paths, kept as tensors (one host sync at the end)
        inf = torch.full_like(zeros, math.inf)
        integral_min, tau_m, max_g, sqrt_vhat_min = inf.clone(), zeros.clone(), zeros.clone(), inf.clone()
        negative = torch.zeros(P, dtype=torch.int64, device=x.device)
        checked = torch.zeros(P, dtype=torch.int64, device=x.device)
        half = T - T // 2
        checks = {T // 2 + int(k * (half - 1) / max(CHECKS - 1, 1)) for k in range(CHECKS)}
        m2 = []
        for t in range(T):
            if t in checks:  # E(m_{t-1}^2) over the paths alive: the momentum before this step
                m2.append((state.m[:, 0].pow(2) * alive).sum() / alive.sum().clamp(min=1))
            grad = basin_grad(x, c_left, c_right)
            f = basin_value(x, c_left, c_right)
            g = grad + sigma * zeta[W + t]
            before = x.clone()
            step_(name, state, x, g, hyper)
            direction = (grad[:, 0] / (1.0 + f)) * (before - x)[:, 0] / hyper.lr  # <grad f/(1+f), q R^-1 m>
            integral += direction
            m_norm = state.m[:, 0].abs()
            m_sum += m_norm
            integral_min = torch.where(alive, torch.minimum(integral_min, integral), integral_min)
            negative += (direction < 0) & alive
            checked += alive
            needed = torch.where(m_sum > 0, m_norm / m_sum, zeros)
            tau_m = torch.where(alive, torch.maximum(tau_m, needed), tau_m)
            max_g = torch.where(alive, torch.maximum(max_g, torch.maximum(g[:, 0].abs(), grad[:, 0].abs())), max_g)
            root = (state.second_moment()[:, 0] / (1 - hyper.beta2 ** state.step)).sqrt()
            sqrt_vhat_min = torch.where(alive, torch.minimum(sqrt_vhat_min, root), sqrt_vhat_min)
            out = alive & ((x[:, 0] >= basin.right) | (x[:, 0] <= -basin.left))
            exit_step = torch.where(out, t + 1, exit_step)
            alive = alive & ~out
            if t % 64 == 63 and not alive.any():
                break
        m2 = [float(m) for m in m2]
        esc = (exit_step < T) | ~alive
        return {"exit": exit_step.cpu().numpy().astype(np.float64), "escaped": esc.cpu().numpy(),
                "integral_min": float(integral_min.min()),
                "direction_negative_fraction": float(negative.sum()) / max(float(checked.sum()), 1.0),
                "tau_m": float(tau_m.max()), "max_g": float(max_g.max()),
                "sqrt_vhat_min": float(sqrt_vhat_min.min()), "m2_last_half": m2}
