"""Assumption 5 as a claim: can diag(Sigma_t) <= beta1 E(m_{t-1}^2) / (2 - beta1) hold, and where?

Assumption 5 (Section 3.2): "there exists T0 with diag(Sigma_t) <= beta1 E(m_{t-1}^2)/(2 - beta1) for
t > T0", called mild (a larger mini-batch shrinks the noise). Here Sigma_t = s^2 (i.i.d. Gaussian
gradient noise of standard deviation s, finite variance) and E(m_{t-1}^2) is AdaMomentum's first
moment (:func:`theory.family.step_`, no bias correction) estimated over ``paths`` independent runs.
"There exists T0" is monitored as :func:`theory.assumptions.monitor_assumption5` does: the condition
must hold at every checked time of the last half of the run (a run too short to show "eventually"
cannot show it).

This is a satisfiability search: the ratio is the smallest rhs / lhs over the last half (> 1: the
assumption holds on that instance), searched in three scopes: ``at-minimum`` (grad f(theta_t) = 0:
the noise alone drives m, the scope where Proposition 1 applies the assumption), ``quadratic-basin`` (h x^2 / 2 from any start within
T <= T_max: holds while the run is still far from theta*) and ``away-from-minimum`` (a constant slope
g0: grad f never vanishes). At theta* the closed form is
E m^2 = (1-b1)/(1+b1) s^2, so the condition reads 1 <= b1 (1-b1)/((2-b1)(1+b1)) for every s: no
batch size helps (both sides scale with s^2).
"""
from __future__ import annotations

import torch

from simulations.runtime import generator
from simulations.search.common import check_planted, margin, place
from simulations.search.space import Param, Variant
from theory.assumptions import monitor_assumption5
from theory.family import Hyper, init_state, step_

READINGS = ("at-minimum", "quadratic-basin", "away-from-minimum")
CHECKS = 16  # checked times in the last half of the run


class Assumption5:
    claim = "assumption-5"
    readings = READINGS
    printed = False  # a satisfiability search: its rows are built by the experiment, not by verdict_of

    def __init__(self, reading="at-minimum", planted=None, paths: int = 256, T_max: int = 1000):
        check_planted(planted)
        if planted is not None:
            raise ValueError("assumption-5 is a satisfiability search: nothing to plant")
        if reading not in READINGS:
            raise ValueError(f"assumption-5: reading must be one of {READINGS}, got {reading!r}")
        if not 8 <= int(paths) <= 10**5:
            raise ValueError(f"paths must be in [8, 1e5], got {paths}")
        if not 40 <= int(T_max) <= 10**6:
            raise ValueError(f"T_max must be in [40, 1e6], got {T_max}")
        self.reading, self.planted, self.paths, self.T_max = reading, None, int(paths), int(T_max)
        self.options = {"paths": self.paths, "T_max": self.T_max}
        self.description = (f"AdaMomentum, i.i.d. Gaussian gradient noise: diag(Sigma) <= b1 E(m^2)/(2 - b1) "
                            f"eventually, scope {reading}")

    def variants(self):
        common = (Param("beta1", 0.01, 0.99), Param("one_minus_beta2", 1e-4, 0.5, log=True),
                  Param("lr", 1e-4, 0.1, log=True), Param("s", 1e-3, 10.0, log=True),
                  Param("T", 40, self.T_max, integer=True), Param("seed", 0, 10**6, integer=True))
        if self.reading == "at-minimum":
            return [Variant("zero-gradient", {"g0": 0.0}, common)]
        if self.reading == "quadratic-basin":
            return [Variant("quadratic-basin", {}, common + (Param("h", 0.1, 10.0, log=True), Param("x0", -5.0, 5.0)))]
        return [Variant("constant-slope", {}, common + (Param("g0", 1e-3, 10.0, log=True),))]

    def evaluate(self, configs, device="cpu", dtype="float64"):
        dev, dt = place(device, dtype)
        return [self._one(c, dev, dt) for c in configs]

    def _one(self, c, dev, dt):
        P, T, b1, s = self.paths, int(c["T"]), float(c["beta1"]), float(c["s"])
        gen = generator(int(c["seed"]), dev)
        x = torch.full((P, 1), float(c.get("x0", 0.0)), dtype=dt, device=dev)
        hyper = Hyper(lr=float(c["lr"]), beta1=b1, beta2=1 - float(c["one_minus_beta2"]), eps=1e-8,
                      bias_correction=False)
        state = init_state("adamomentum", x, hyper)
        checks = sorted({int(T // 2 + k * (T - T // 2 - 1) / max(CHECKS - 1, 1)) for k in range(CHECKS)})
        second = []
        for t in range(1, T + 1):
            if t in checks:  # E(m_{t-1}^2): the momentum before step t
                second.append(float((state.m * state.m).mean()))
            true = float(c["h"]) * x if "h" in c else torch.full_like(x, float(c["g0"]))
            noise = torch.randn(P, 1, generator=gen, dtype=dt, device=dev) * s
            step_("adamomentum", state, x, true + noise, hyper)
        mon = monitor_assumption5(checks, s * s, [[m] for m in second], b1, detail="E m^2 over paths, Sigma = s^2")
        rhs = [b1 * m / (2 - b1) for m in second[len(second) // 2:]] or [0.0]
        ratio = min(rhs) / (s * s)
        hyp = {"noise i.i.d., finite variance (Gaussian)": True, "0 < beta1 < 1": 0 < b1 < 1}
        return {"ratio": ratio, "hypotheses": hyp, "margin": margin(hyp), "confirmed": bool(mon.holds),
                "measured": {"holds_last_half": bool(mon.holds), "E_m2_last": second[-1], "Sigma": s * s,
                             "closed_form_E_m2_at_minimum": (1 - b1) / (1 + b1) * s * s}}
