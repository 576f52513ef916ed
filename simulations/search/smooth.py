"""The engine's control: gradient descent on L-smooth convex functions against its tight bound.

Drori & Teboulle (Math. Program. 2014, Theorem 3.1; the PEPit tutorial's first example): for f
convex and L-smooth, x_{k+1} = x_k - (h/L) grad f(x_k) with 0 < h <= 1 gives
f(x_N) - f* <= L ||x_0 - x*||^2 / (4 N h + 2), attained by a Huber function. The search must
approach ratio 1 from below on Huber-like losses (a correct, tight bound is never refuted) and
refute the same bound divided by 3 (a planted violation). Gradient descent is the family's
``sgdm`` with beta1 = 0 and a constant stepsize (:func:`theory.family.step_`).
Families (d coordinates, separable, minimum 0 at x* = 0): ``quadratic`` c/2 x^2 (c <= L),
``huber`` L (|x| delta - delta^2/2) beyond delta and L x^2/2 inside, ``logcosh`` L log cosh x.
"""
from __future__ import annotations

import math

import torch

from simulations.search.common import by_family_and_dim, check_planted, column, margin, place, planted_factor
from simulations.search.space import Param, Variant
from theory.family import Hyper, init_state, step_

FAMILIES = ("quadratic", "huber", "logcosh")


def _f_and_grad(family: str, x, L, c, delta):
    if family == "quadratic":
        return 0.5 * c * x * x, c * x
    if family == "huber":
        a = x.abs()
        inside = a <= delta
        f = torch.where(inside, 0.5 * L * x * x, L * (a * delta - 0.5 * delta * delta))
        g = torch.where(inside, L * x, L * delta * torch.sign(x))
        return f, g
    # logcosh, computed stably: log cosh x = |x| + log1p(exp(-2|x|)) - log 2
    a = x.abs()
    return L * (a + torch.log1p(torch.exp(-2 * a)) - math.log(2.0)), L * torch.tanh(x)


class GradientDescentBound:
    """f(x_N) - f* <= L R^2 / (4 N h + 2) for gradient descent with stepsize h / L."""

    claim = "control-gd-smooth-convex"
    printed = True

    def __init__(self, reading: str = "printed", planted=None, dims=(1, 2), max_steps: int = 40,
                 families=FAMILIES):
        check_planted(planted)
        if not families or any(f not in FAMILIES for f in families):
            raise ValueError(f"families must be a non-empty subset of {FAMILIES}, got {families!r}")
        if not 1 <= int(max_steps) <= 10**5:
            raise ValueError(f"max_steps must be in [1, 1e5], got {max_steps}")
        if reading != "printed":
            raise ValueError(f"reading must be 'printed' for {self.claim}, got {reading!r}")
        self.reading, self.planted = reading, planted
        self.dims, self.max_steps = tuple(int(d) for d in dims), int(max_steps)
        self.families = tuple(families)
        self.options = {"planted": planted, "dims": list(self.dims), "max_steps": self.max_steps,
                        "families": list(self.families)}
        self.description = ("gradient descent, stepsize h/L, 0 < h <= 1, on L-smooth convex f: "
                            "f(x_N) - f* <= L ||x_0 - x*||^2 / (4 N h + 2) (Drori & Teboulle 2014)")

    def variants(self):
        params = (Param("L", 0.1, 10.0, log=True), Param("curvature", 0.01, 1.0, log=True),
                  Param("delta", 1e-3, 1.0, log=True), Param("x0", 0.1, 10.0, log=True),
                  Param("h", 0.01, 1.0), Param("N", 1, self.max_steps, integer=True))
        return [Variant(f"{fam}-d{d}", {"family": fam, "d": d}, params) for fam in self.families for d in self.dims]

    def evaluate(self, configs, device="cpu", dtype="float64"):
        dev, dt = place(device, dtype)
        out = [None] * len(configs)
        for (family, d), idx in by_family_and_dim(configs).items():
            for i, ev in zip(idx, self._run(family, d, [configs[i] for i in idx], dev, dt)):
                out[i] = ev
        return out

    def _run(self, family, d, cfgs, dev, dt):
        L, curv, delta, x0, h = (column(cfgs, k, dev, dt) for k in ("L", "curvature", "delta", "x0", "h"))
        c = curv * L
        N = torch.tensor([int(cf["N"]) for cf in cfgs], device=dev)
        # start on a ray with unequal coordinates (x0, x0/2, ...): d > 1 is not d copies of d = 1
        x = x0 * torch.pow(torch.tensor(0.5, dtype=dt, device=dev), torch.arange(d, dtype=dt, device=dev))
        R2 = (x * x).sum(1)
        hyper = Hyper(lr=(h / L), beta1=0.0, beta2=0.0, eps=0.0, bias_correction=False)
        state = init_state("sgdm", x, hyper)
        f_at = torch.zeros(len(cfgs), dtype=dt, device=dev)
        smooth_ok = torch.ones(len(cfgs), dtype=torch.bool, device=dev)
        f_prev, g_prev = _f_and_grad(family, x, L, c, delta)
        for k in range(1, int(N.max()) + 1):
            x_prev = x.clone()
            step_("sgdm", state, x, g_prev, hyper)
            f_new, g_new = _f_and_grad(family, x, L, c, delta)
            # monitor: L-smoothness and convexity on the run's own pairs (co-coercivity,
            # <g - g', x - x'> >= ||g - g'||^2 / L, holds iff convex L-smooth on the segment's data)
            dg, dx = g_new - g_prev, x - x_prev
            lhs, rhs = (dg * dx).sum(1), (dg * dg).sum(1) / L.squeeze(1)
            smooth_ok &= (lhs >= rhs * (1 - 1e-12) - 1e-300) | (k > N)
            f_at = torch.where(N == k, f_new.sum(1), f_at)
            g_prev = g_new
        bound = L.squeeze(1) * R2 / (4 * N.to(dt) * h.squeeze(1) + 2)
        ratio = f_at / bound
        evs = []
        for i, cf in enumerate(cfgs):
            hyp = {"convex L-smooth (co-coercive on the run)": bool(smooth_ok[i]),
                   "0 < h <= 1": bool(0 < cf["h"] <= 1.0), "curvature <= L": bool(cf["curvature"] <= 1.0)}
            r = float(ratio[i]) * planted_factor(self.planted, cf["N"])
            evs.append({"ratio": r, "hypotheses": hyp, "margin": margin(hyp), "confirmed": True,
                        "measured": {"f_gap": float(f_at[i]), "bound": float(bound[i]), "R2": float(R2[i])}})
        return evs
