"""Lemma 1 as an asymptotic statement: the exponent of E(escape time) in upsilon = lr^(1 - 1/alpha).

Lemma 1 (Section 3.2): E(Gamma) = Theta(upsilon / m(Upsilon)), m(Upsilon) not depending on upsilon, so
E Gamma ~ upsilon^(+1) (:func:`theory.bounds.lemma1_exponents`, "as stated"); for Levy-driven gradient
steps the literature (Imkeller & Pavlyukevich; Simsekli et al. 2019 for SGD) has E Gamma ~ upsilon^(-alpha)
(noise amplitude upsilon in continuous time t = k lr). Instance: a 1-D quadratic basin h x^2 / 2 on
(-1, 1), start 0, gradients h x + sigma zeta with zeta unit symmetric alpha-stable
(:func:`simulations.levy.symmetric_stable`); a method's own iteration (:func:`theory.family.step_`,
with its bias correction, as eq. (2)); Gamma = lr x (first step with |x| >= 1). E Gamma is fitted
against upsilon over >= 5 learning rates, with a percentile bootstrap over paths (independent runs at
each lr). SGD (the family's ``sgdm`` with beta1 = 0) is the control whose exponent is known (-alpha).
Runs longer than ``max_steps`` are censored: with more than 1% censored at some lr, no exponent.
Lemma 1's Assumption 3 (<grad f/(1+f), q R^-1 m> >= 0 a.e.) fails under such noise (m and grad f
disagree in sign at a positive fraction of times), so the row is evidence, never ``fails``.
"""
from __future__ import annotations


import numpy as np
import torch

from simulations.levy import symmetric_stable
from simulations.runtime import generator
from theory.bounds import lemma1_exponents
from theory.family import Hyper, init_state, step_

LEVEL = 0.95
CENSOR_MAX = 0.01


def exit_steps(member: str, lr: float, alpha: float, paths: int, max_steps: int, seed: int, h: float = 1.0,
               sigma: float = 1.0, beta1: float = 0.9, beta2: float = 0.999,
               eps: float = 1e-8) -> tuple[np.ndarray, float]:
    """Exit step of each path (max_steps + 1 where censored) and the fraction of (path, step) samples with
    <grad f, m> < 0 (Assumption 3's direction condition; q R^-1 is positive diagonal here)."""
    gen = generator(seed, torch.device("cpu"))
    x = torch.zeros(paths, 1, dtype=torch.float64)
    b1 = 0.0 if member == "sgdm" else beta1
    hyper = Hyper(lr=lr, beta1=b1, beta2=beta2, eps=eps)
    state = init_state(member, x, hyper)
    out = torch.full((paths,), max_steps + 1, dtype=torch.int64)
    alive = torch.ones(paths, dtype=torch.bool)
    negative = checked = 0
    for k in range(1, max_steps + 1):
        noise = symmetric_stable(alpha, (paths, 1), generator=gen, dtype=torch.float64, scale=sigma)
        grad = h * x
        step_(member, state, x, grad + noise, hyper)
        if state.m is not None:
            negative += int(((grad * state.m).squeeze(1) < 0)[alive].sum())
            checked += int(alive.sum())
        escaped = alive & (x.abs().squeeze(1) >= 1.0)
        out[escaped] = k
        alive &= ~escaped
        if not alive.any():
            break
    return out.numpy(), (negative / checked if checked else 0.0)


def lemma1_exponent(lrs, member: str = "adamomentum", alpha: float = 1.5, paths: int = 256, max_steps: int = 20_000,
                    seed: int = 0, n_boot: int = 2000) -> dict:
    """Fit E Gamma ~ upsilon^s over ``lrs``; the statement's and the literature's exponents beside it."""
    lrs = sorted(float(x) for x in lrs)
    if len(lrs) < 5 or lrs[0] <= 0 or lrs[-1] >= 1:
        raise ValueError(f"lrs must be >= 5 values in (0, 1), got {lrs}")
    if not 1.0 < alpha < 2.0:
        raise ValueError(f"alpha must be in (1, 2) (upsilon = lr^(1-1/alpha) must vanish with lr), got {alpha}")
    ups = np.array([lr ** (1 - 1 / alpha) for lr in lrs])
    times, censored, negative = [], [], []
    for i, lr in enumerate(lrs):
        steps, neg = exit_steps(member, lr, alpha, paths, max_steps, seed + 1000 * i)
        censored.append(float((steps > max_steps).mean()))
        times.append(steps.astype(float) * lr)
        negative.append(neg)
    expected = lemma1_exponents(alpha)
    result = {"member": member, "alpha": alpha, "lrs": lrs, "upsilon": ups.tolist(), "paths": paths,
              "max_steps": max_steps, "censored": censored, "direction_negative_fraction": negative,
              "statement_exponent": expected["lemma-1 as stated"],
              "literature_exponent": expected["imkeller-pavlyukevich"], "level": LEVEL}
    if max(censored) > CENSOR_MAX:
        result.update({"slope": None, "reason": f"{max(censored):.1%} of paths censored at {max_steps} steps"})
        return result
    lx = np.log(ups)
    mean = np.array([t.mean() for t in times])
    slope = float(np.polyfit(lx, np.log(mean), 1)[0])
    rng = np.random.default_rng(seed)
    boot = np.empty(n_boot)
    for b in range(n_boot):
        m = [t[rng.integers(0, t.size, t.size)].mean() for t in times]
        boot[b] = np.polyfit(lx, np.log(m), 1)[0]
    lo, hi = np.quantile(boot, [0.5 - LEVEL / 2, 0.5 + LEVEL / 2])
    result.update({"mean_exit_time": mean.tolist(), "slope": slope, "slope_low": float(lo), "slope_high": float(hi),
                   "excludes_statement": bool(not lo <= result["statement_exponent"] <= hi),
                   "excludes_literature": bool(not lo <= result["literature_exponent"] <= hi)})
    return result
