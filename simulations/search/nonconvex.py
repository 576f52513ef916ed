"""Theorem 2 and Corollary 2 (nonconvex): instances, batched stochastic runs, hypotheses as printed.

Instances: f(x) = sum_i a phi(x_i / s) s^2-free forms with f* = 0 and a known global L
(Assumption 2): ``cosine`` a (1 - cos(x / s)) (L = a / s^2), ``robust`` a x^2 / (s^2 + x^2)
(Geman-McClure, L = 2 a / s^2), ``quadratic`` a x^2 / 2 (L = a). Stochastic gradients
g_t = grad f(theta_t) + sigma xi_t with xi_t uniform on [-1, 1]^d, ``seeds`` independent runs per
instance; alpha_t = alpha / t^p (Corollary 2: p = 1/2), beta1_t = beta1 lam^t, no bias correction.
The method (default AdaMomentum) runs by :func:`theory.family.step_`; its v is the squared
denominator it divides by (:func:`theory.family.denominator`).

Hypotheses as printed (Section 4.2): Assumption 2 (the family's L); Assumption 4
||grad f(theta_t)||_2 <= H and ||g_t||_2 <= H for all t in [T] (H = the largest
||grad f(theta_t)||_2 over the runs plus sigma sqrt(d), which bounds ||g_t|| almost surely);
0 <= beta1_t+1 <= beta1_t < 1; 0 < beta2 < 1; alpha_t / sqrt(v_t) >= alpha_t+1 / sqrt(v_t+1) per
coordinate for every t and every run; sum_t alpha_t <= eta(T) (printed; the proof's eq. (21) needs
sum_t alpha_t^2); min_{t,j} v_t,j >= c (c = the runs' minimum, the smallest allowed) and
"min_t alpha_t <= alpha" (as the OCR prints it; the proof needs alpha_t <= alpha for every t). The
constants C1..C4 are :func:`theory.bounds.chen_constants` (reading "as-printed"), with G the largest
||alpha_t m_t / sqrt(v_t)||_2 and f_gap = f(theta_1). The left-hand side min_t E||grad f(theta_t)||^2
is the minimum over t of the mean over seeds; a violation is confirmed when the minimum over t of the
lower 99% bounds (Bonferroni over t) still exceeds the right-hand side.

Readings. theorem-2 ``printed``: eta = sum alpha_t, alpha = min_t alpha_t; ``proof``: eta = sum alpha_t^2,
alpha = max_t alpha_t; ``printed-max-alpha``: eta = sum alpha_t, alpha = max_t alpha_t (which OCR reading
decides is in the evidence). corollary-2 ``printed``: eta(T) = alpha^2 (1 + log T) with Theorem 2's printed
hypothesis sum alpha_t <= eta(T) kept; ``proof``: the same eta with sum alpha_t^2 <= eta(T) (always true).
"""
from __future__ import annotations

import math

import torch
from scipy import stats

from simulations.runtime import generator
from simulations.search.common import check_planted, margin, place, planted_factor
from simulations.search.space import Param, Variant
from theory.bounds import chen_constants, theorem2_rhs
from theory.family import REGISTRY, Hyper, denominator, get_member, init_state, step_

FAMILIES = ("cosine", "robust", "quadratic")
THEOREM2_READINGS = ("printed", "proof", "printed-max-alpha")
COROLLARY2_READINGS = ("printed", "proof")
CONFIRM_LEVEL = 0.99


def _grad(family, x, a, s):
    if family == "cosine":
        return a / s * torch.sin(x / s)
    if family == "robust":
        return 2 * a * s * s * x / (s * s + x * x) ** 2
    return a * x


def _value(family, x, a, s):
    if family == "cosine":
        return a * (1 - torch.cos(x / s))
    if family == "robust":
        return a * x * x / (s * s + x * x)
    return 0.5 * a * x * x


def smoothness(family, a: float, s: float) -> float:
    """The global Lipschitz constant of grad f (Assumption 2)."""
    return {"cosine": a / s**2, "robust": 2 * a / s**2, "quadratic": a}[family]


class _NonconvexStatement:
    claim = ""

    def __init__(self, reading="printed", member="adamomentum", planted=None, dims=(1, 3), T_max=300, seeds=8,
                 families=FAMILIES):
        check_planted(planted)
        if member not in REGISTRY or not get_member(member).adaptive:
            raise ValueError(f"member must be an adaptive registry member ({', '.join(REGISTRY)}), got {member!r}")
        if not 10 <= int(T_max) <= 10**6:
            raise ValueError(f"T_max must be in [10, 1e6], got {T_max}")
        if not 2 <= int(seeds) <= 4096:
            raise ValueError(f"seeds must be in [2, 4096], got {seeds}")
        bad = [f for f in families if f not in FAMILIES]
        if bad or not families:
            raise ValueError(f"families must be a non-empty subset of {FAMILIES}, got {families!r}")
        if not all(isinstance(d, int) and 1 <= d <= 64 for d in dims):
            raise ValueError(f"dims must be integers in [1, 64], got {dims!r}")
        self.reading, self.member, self.planted = reading, member, planted
        self.dims, self.T_max, self.seeds, self.families = tuple(dims), int(T_max), int(seeds), tuple(families)
        self.options = {"member": member, "planted": planted, "dims": list(self.dims), "T_max": self.T_max,
                        "seeds": self.seeds, "families": list(self.families)}
        self.printed = reading == "printed"

    def _power_param(self):
        return (Param("p", 0.0, 1.0),)

    def variants(self):
        params = (Param("a", 0.1, 10.0, log=True), Param("s", 0.1, 10.0, log=True), Param("x0", -10.0, 10.0),
                  Param("sigma", 1e-3, 10.0, log=True), Param("lr", 1e-3, 10.0, log=True), Param("beta1", 0.0, 0.99),
                  Param("one_minus_beta2", 1e-4, 0.5, log=True), Param("eps", 1e-12, 1e-2, log=True),
                  Param("lam", 0.5, 1.0), Param("T", 10, self.T_max, integer=True),
                  Param("seed", 0, 10**6, integer=True)) + self._power_param()
        return [Variant(f"{fam}-d{d}", {"family": fam, "d": d}, params) for fam in self.families for d in self.dims]

    def evaluate(self, configs, device="cpu", dtype="float64"):
        dev, dt = place(device, dtype)
        return [self._judge(c, self._run(c, dev, dt)) for c in configs]

    def _run(self, c, dev, dt) -> dict:
        """One instance, ``seeds`` runs in one batch (each instance has its own noise seed)."""
        family, d, S, T = c["family"], int(c["d"]), self.seeds, int(c["T"])
        a, s, sigma, p = float(c["a"]), float(c["s"]), float(c["sigma"]), float(c.get("p", 0.5))
        b1, b2 = float(c["beta1"]), 1 - float(c["one_minus_beta2"])
        lam, eps, lr = float(c["lam"]), float(c["eps"]), float(c["lr"])
        gen = generator(int(c["seed"]), dev)
        x = torch.full((S, d), float(c["x0"]), dtype=dt, device=dev) * (0.5 ** torch.arange(d, dtype=dt, device=dev))
        f1 = float(_value(family, x[0], a, s).sum())
        state = init_state(self.member, x)
        gn2 = torch.empty(T, S, dtype=dt, device=dev)
        max_true = torch.zeros((), dtype=dt, device=dev)
        rises = torch.zeros((), dtype=torch.int64, device=dev)
        min_v = torch.full((), math.inf, dtype=dt, device=dev)
        max_update = torch.zeros((), dtype=dt, device=dev)
        prev_step, first_l1 = None, None
        alphas = [lr / t**p for t in range(1, T + 1)]
        for t in range(1, T + 1):
            grad = _grad(family, x, a, s)
            gn2[t - 1] = (grad * grad).sum(1)
            max_true = torch.maximum(max_true, gn2[t - 1].max().sqrt())
            noise = (torch.rand(S, d, generator=gen, dtype=dt, device=dev) * 2 - 1) * sigma
            hyper = Hyper(lr=alphas[t - 1], beta1=b1 * lam**t, beta2=b2, eps=eps, bias_correction=False)
            x_before = x.clone()
            step_(self.member, state, x, grad + noise, hyper)
            denom = denominator(self.member, state, hyper)
            step_size = alphas[t - 1] / denom
            min_v = torch.minimum(min_v, (denom * denom).min())
            max_update = torch.maximum(max_update, (x - x_before).norm(dim=1).max())
            if prev_step is not None:
                rises += (step_size > prev_step).sum()
            else:
                first_l1 = float(step_size.sum(1).mean())
            prev_step = step_size
        mean = gn2.mean(1)
        se = gn2.std(1, unbiased=True) / math.sqrt(S)
        # Student t with S - 1 degrees of freedom: few seeds, skewed squared norms (a normal quantile would
        # confirm violations too easily); Bonferroni over the T steps the minimum is taken over.
        z = float(stats.t.ppf(1 - (1 - CONFIRM_LEVEL) / T, S - 1)) if S > 1 else math.inf
        return {"gn2": gn2, "lhs": float(mean.min()), "lhs_low": float((mean - z * se).min()),
                "H": float(max_true) + sigma * math.sqrt(d),
                "rises": int(rises), "min_v": float(min_v), "G": float(max_update), "first_l1": first_l1, "f1": f1,
                "L": smoothness(family, a, s), "alphas": alphas, "b1": b1, "b2": b2, "lam": lam}

    def _rhs(self, c, r, eta, alpha):
        T, d = int(c["T"]), int(c["d"])
        consts = chen_constants(r["L"], r["H"], r["G"], r["b1"] * r["lam"], r["first_l1"], r["f1"])
        return theorem2_rhs(consts, r["H"], r["min_v"], d, alpha, T * r["alphas"][-1], eta)["rhs"]

    def _common_hypotheses(self, r) -> dict:
        return {"Assumption 2 (L-smooth, family's L)": r["L"] > 0,
                "Assumption 4 (||grad f(theta_t)||, ||g_t|| <= H, t in [T])": True,
                "0 <= beta1_t+1 <= beta1_t < 1": bool(0 <= r["b1"] < 1 and r["lam"] <= 1),
                "0 < beta2 < 1": bool(0 < r["b2"] < 1),
                "alpha_t/sqrt(v_t) non-increasing per coordinate": r["rises"] == 0,
                "min v_t,j >= c > 0": r["min_v"] > 0}

    def _finish(self, c, r, hyp, rhs, extra):
        T = int(c["T"])
        ratio = (r["lhs"] / rhs if 0 < rhs < math.inf else math.nan) * planted_factor(self.planted, T)
        low = r["lhs_low"] * planted_factor(self.planted, T)
        return {"ratio": ratio, "hypotheses": hyp, "margin": margin(hyp), "confirmed": bool(low > rhs),
                "measured": {"lhs": r["lhs"], "lhs_low": r["lhs_low"], "rhs": rhs, "H": r["H"], "c": r["min_v"],
                             "G": r["G"], "L": r["L"], "stepsize_rises": r["rises"], **extra}}


class Theorem2(_NonconvexStatement):
    """min_t E||grad f(theta_t)||^2 <= Theorem 2's right-hand side."""

    claim = "theorem-2"

    def __init__(self, reading="printed", **kw):
        if reading not in THEOREM2_READINGS:
            raise ValueError(f"theorem-2: reading must be one of {THEOREM2_READINGS}, got {reading!r}")
        super().__init__(reading, **kw)
        self.description = f"{self.member}, no bias correction, alpha_t = alpha/t^p: Theorem 2; reading {reading}"

    def _judge(self, c, r):
        al = r["alphas"]
        eta = sum(x * x for x in al) if self.reading == "proof" else sum(al)
        alpha = min(al) if self.reading == "printed" else max(al)
        hyp = self._common_hypotheses(r)
        hyp["sum_t alpha_t <= eta(T)" if self.reading != "proof" else "sum_t alpha_t^2 <= eta(T)"] = True
        return self._finish(c, r, hyp, self._rhs(c, r, eta, alpha), {"eta": eta, "alpha": alpha})


class Corollary2(_NonconvexStatement):
    """Corollary 2: alpha_t = alpha/sqrt(t), eta(T) = alpha^2 (1 + log T)."""

    claim = "corollary-2"

    def __init__(self, reading="printed", **kw):
        if reading not in COROLLARY2_READINGS:
            raise ValueError(f"corollary-2: reading must be one of {COROLLARY2_READINGS}, got {reading!r}")
        super().__init__(reading, **kw)
        self.description = f"{self.member}, no bias correction, alpha_t = alpha/sqrt(t): Corollary 2; reading {reading}"

    def _power_param(self):
        return ()

    def _judge(self, c, r):
        al, T = r["alphas"], int(c["T"])
        eta = float(c["lr"]) ** 2 * (1 + math.log(T))
        hyp = self._common_hypotheses(r)
        if self.reading == "printed":
            hyp["sum_t alpha_t <= eta(T) = alpha^2 (1 + log T) (Theorem 2 as printed)"] = sum(al) <= eta
        else:
            hyp["sum_t alpha_t^2 <= eta(T) = alpha^2 (1 + log T)"] = sum(x * x for x in al) <= eta * (1 + 1e-12)
        return self._finish(c, r, hyp, self._rhs(c, r, eta, float(c["lr"])), {"eta": eta, "sum_alpha": sum(al)})
