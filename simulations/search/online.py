"""Theorem 1 and Corollary 1 (online convex regret): instances, batched runs, hypotheses as printed.

Instances (Section 4.1; Reddi et al. 2018 for the linear one). Every coordinate i sees a periodic
two-point sequence: at t = 0 mod ``period`` the "big" loss, else the "small" one, with coordinate
scale s_i = ``coord_decay``^i (sparse-like features for d > 1):

* ``linear``: f_t(x) = s_i c_t x_i on the box F = [-1, 1]^d (projected after each step, which for a
  diagonal v is also the weighted projection), c_big = (period-1) small (1 + drift), c_small = -small;
* ``absolute`` w_t |x - z_t|, ``quadratic`` w_t (x - z_t)^2 / 2, ``huber`` w_t huber_delta(x - z_t),
  ``logistic`` w_t softplus(y_t (x - z_t)) with y_big = +1, y_small = -1: unconstrained, convex,
  with the optimum anywhere between the two targets z (far from or near the start x_1).

The method is the statement's (default the paper's AdaMomentum, Algorithm 1 without bias correction,
as Section 4 analyses it), alpha_t = alpha / sqrt(t), run by :func:`theory.family.step_`. R(T) uses
theta* = argmin of sum_{t<=T} f_t over the domain (bisection on the subgradient, to rounding).

Hypotheses, as printed. Theorem 1: beta1_1 = beta1, 0 < beta1_t <= beta1 < 1, v_t <= v_{t+1} for all
t in [T] (per coordinate, exactly, on the run), gamma = beta1 / sqrt(beta2) < 1, and D_inf bounds
||theta_m - theta_n||_inf over the iterates (taken as the run's own spread, the smallest D allowed);
the losses are convex by construction and theta* must exist. Corollary 1 adds beta1_t = beta1 lam^t
and ||grad f_t(theta)||_inf <= G_inf for all theta in R^d (a global supremum of the family, not the
run's maximum: the quadratic family has none). Readings (the verdict is the ``printed`` one's):

* theorem-1 ``printed``: beta1_t = beta1 lam^(t-1) (so beta1_1 = beta1 holds), D over the iterates;
  ``proof-diameter``: D = max(spread, max_t ||theta_t - theta*||_inf), what eqs. (13)-(16) use;
  ``schedule-lam^t``: Corollary 1's beta1_t = beta1 lam^t with the bound's beta1 the base value
  (beta1_1 = beta1 lam, the stated beta1_1 = beta1 is then dropped), D over the iterates.
* corollary-1 ``printed``: beta1_t = beta1 lam^t, D over the iterates; ``proof-diameter``: D to the
  optimum too; ``with-theorem-1``: Theorem 1's beta1_1 = beta1 kept as well, which with
  beta1_t = beta1 lam^t forces lam = 1, where the bound is infinite (the search shows the scope).
"""
from __future__ import annotations

import math

import torch

from simulations.search.common import by_family_and_dim, check_planted, column, margin, place, planted_factor
from simulations.search.space import Param, Variant
from theory.bounds import corollary1_average_regret_bound, theorem1_rhs_terms
from theory.family import REGISTRY, Hyper, get_member, init_state, step_

FAMILIES = ("linear", "absolute", "quadratic", "huber", "logistic")
THEOREM1_READINGS = ("printed", "proof-diameter", "schedule-lam^t")
COROLLARY1_READINGS = ("printed", "proof-diameter", "with-theorem-1")
BISECTION_STEPS = 200
BRACKET = 1e4  # unconstrained families: theta* is looked for in [-BRACKET, BRACKET]^d
SIZES = {"T_max": 400}


def _pieces(family, c, dev, dt, d):
    """Per-run loss pieces for the big and the small loss: (w, z, y) columns broadcast to (runs, d)."""
    scale = column(c, "coord_decay", dev, dt) ** torch.arange(d, dtype=dt, device=dev)
    if family == "linear":
        small = column(c, "small", dev, dt)
        big = (column(c, "period", dev, dt) - 1) * small * (1 + column(c, "drift", dev, dt))
        zero = torch.zeros_like(scale)
        return {"big": (big * scale, zero, 1.0), "small": (-small * scale, zero, 1.0)}
    return {"big": (column(c, "w_big", dev, dt) * scale, column(c, "z_big", dev, dt) + 0 * scale, 1.0),
            "small": (column(c, "w_small", dev, dt) * scale, column(c, "z_small", dev, dt) + 0 * scale, -1.0)}


def loss_and_grad(family, x, w, z, y, delta):
    """Per-coordinate f and df/dx of one loss piece (w, z, y broadcast against x)."""
    if family == "linear":
        return w * x, w.expand_as(x)
    u = x - z
    if family == "absolute":
        return w * u.abs(), w * torch.sign(u)
    if family == "quadratic":
        return 0.5 * w * u * u, w * u
    if family == "huber":
        a = u.abs()
        inside = a <= delta
        return (w * torch.where(inside, 0.5 * u * u, delta * a - 0.5 * delta * delta),
                w * torch.where(inside, u, delta * torch.sign(u)))
    s = y * u
    return w * torch.nn.functional.softplus(s), w * y * torch.sigmoid(s)


def global_grad_sup(family, pieces, delta):
    """sup over theta and t of ||grad f_t(theta)||_inf, per run (inf where unbounded)."""
    if family == "quadratic":
        return torch.full((pieces["big"][0].shape[0],), math.inf, dtype=pieces["big"][0].dtype)
    mult = delta if family == "huber" else 1.0
    w = torch.maximum(pieces["big"][0].abs(), pieces["small"][0].abs()) * mult
    return w.amax(1)


def _optimum(family, pieces, n_big, n_small, delta, box):
    """argmin over the domain of n_big f_big + n_small f_small, per coordinate; (theta*, exists)."""
    wb, zb, yb = pieces["big"]
    ws, zs, ys = pieces["small"]

    def dF(x):
        return (n_big * loss_and_grad(family, x, wb, zb, yb, delta)[1]
                + n_small * loss_and_grad(family, x, ws, zs, ys, delta)[1])

    lo_v = -box if box else -BRACKET
    lo = torch.full_like(wb, lo_v)
    hi = -lo
    d_lo, d_hi = dF(lo), dF(hi)
    exists = torch.ones(wb.shape[0], dtype=torch.bool)
    if not box:  # a minimiser in R needs the subgradient to change sign inside the bracket
        exists = ((d_lo <= 0) & (d_hi >= 0)).all(1)
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        pos = dF(mid) > 0
        hi = torch.where(pos, mid, hi)
        lo = torch.where(pos, lo, mid)
    star = 0.5 * (lo + hi)
    if box:
        star = torch.where(d_lo >= 0, -torch.full_like(star, box), star)
        star = torch.where(d_hi <= 0, torch.full_like(star, box), star)
    return star, exists


class _OnlineStatement:
    claim = ""
    readings: tuple = ()

    def __init__(self, reading="printed", member="adamomentum", planted=None, dims=(1, 3), T_max=None,
                 families=FAMILIES):
        check_planted(planted)
        if member not in REGISTRY or not get_member(member).adaptive:
            raise ValueError(f"member must be an adaptive registry member ({', '.join(REGISTRY)}), got {member!r}")
        bad = [f for f in families if f not in FAMILIES]
        if bad or not families:
            raise ValueError(f"families must be a non-empty subset of {FAMILIES}, got {families!r}")
        T_max = SIZES["T_max"] if T_max is None else int(T_max)
        if not 10 <= T_max <= 10**6:
            raise ValueError(f"T_max must be in [10, 1e6], got {T_max}")
        if not all(isinstance(d, int) and 1 <= d <= 64 for d in dims):
            raise ValueError(f"dims must be integers in [1, 64], got {dims!r}")
        self.reading, self.member, self.planted = reading, member, planted
        self.dims, self.T_max, self.families = tuple(dims), T_max, tuple(families)
        self.options = {"member": member, "planted": planted, "dims": list(self.dims), "T_max": T_max,
                        "families": list(self.families)}
        self.printed = reading == "printed"

    def variants(self):
        hyper = (Param("lr", 1e-3, 10.0, log=True), Param("beta1", 0.01, 0.99),
                 Param("one_minus_beta2", 1e-4, 0.5, log=True), Param("eps", 1e-12, 1e-2, log=True),
                 Param("lam", 0.5, 1.0), Param("T", 10, self.T_max, integer=True),
                 Param("period", 2, 50, integer=True), Param("coord_decay", 0.1, 1.0))
        out = []
        for fam in self.families:
            if fam == "linear":
                prob = (Param("small", 0.1, 10.0, log=True), Param("drift", -0.5, 0.5), Param("x0", -1.0, 1.0))
            else:
                prob = (Param("w_big", 0.1, 100.0, log=True), Param("w_small", 0.1, 10.0, log=True),
                        Param("z_big", -10.0, 10.0), Param("z_small", -10.0, 10.0), Param("x0", -10.0, 10.0),
                        Param("delta", 0.01, 10.0, log=True))
            for d in self.dims:
                out.append(Variant(f"{fam}-d{d}", {"family": fam, "d": d}, hyper + prob))
        return out

    def evaluate(self, configs, device="cpu", dtype="float64"):
        dev, dt = place(device, dtype)
        out = [None] * len(configs)
        for (family, d), idx in by_family_and_dim(configs).items():
            runs = simulate_online(self.member, family, d, [configs[i] for i in idx], self._schedule_shift(), dev, dt)
            for j, i in enumerate(idx):
                out[i] = self._judge(configs[i], {k: (v[j] if isinstance(v, torch.Tensor) else v[j])
                                                  for k, v in runs.items()})
        return out

    def _schedule_shift(self) -> int:
        """beta1_t = beta1 lam^(t - shift): shift 1 makes beta1_1 = beta1."""
        return 0


def simulate_online(member, family, d, cfgs, shift, dev, dt) -> dict:
    """Run the batch to its largest T; per-run quantities at each run's own T."""
    n = len(cfgs)
    T = torch.tensor([int(c["T"]) for c in cfgs], device=dev)
    T_max = int(T.max())
    lr, b1, b2, eps, lam, period = (column(cfgs, k, dev, dt) for k in ("lr", "beta1", "one_minus_beta2", "eps",
                                                                        "lam", "period"))
    b2 = 1 - b2
    delta = column(cfgs, "delta", dev, dt) if family == "huber" else None
    box = 1.0 if family == "linear" else 0.0
    pieces = _pieces(family, cfgs, dev, dt, d)
    x = column(cfgs, "x0", dev, dt) * torch.ones(n, d, dtype=dt, device=dev)
    if box:
        x = x.clamp(-box, box)
    state = init_state(member, x)
    zeros = torch.zeros(n, dtype=dt, device=dev)
    loss_sum, wsv, sv_final = zeros.clone(), zeros.clone(), zeros.clone()
    gsq = torch.zeros(n, d, dtype=dt, device=dev)
    th_min, th_max = x.clone(), x.clone()
    v_drops = torch.zeros(n, dtype=torch.int64, device=dev)
    v_prev = None
    period_i = period.squeeze(1).to(torch.int64)
    for t in range(1, T_max + 1):
        live = (t <= T)
        big = (t % period_i == 0).unsqueeze(1)
        w = torch.where(big, pieces["big"][0], pieces["small"][0])
        z = torch.where(big, pieces["big"][1], pieces["small"][1])
        y = torch.where(big, torch.ones_like(w), -torch.ones_like(w))
        f, g = loss_and_grad(family, x, w, z, y, delta)
        loss_sum += torch.where(live, f.sum(1), zeros)
        gsq += torch.where(live.unsqueeze(1), g * g, torch.zeros_like(g))
        b1_t = b1 * lam ** (t - shift)
        hyper = Hyper(lr=lr, beta1=b1_t, beta2=b2, eps=eps, lr_decay="inverse-sqrt", bias_correction=False)
        step_(member, state, x, g, hyper)
        v = state.second_moment()
        if v_prev is not None:
            v_drops += torch.where(live, (v < v_prev).sum(1), torch.zeros_like(v_drops))
        v_prev = v.clone()
        sqrt_v = v.sqrt().sum(1)
        wsv += torch.where(live, (b1_t.squeeze(1) / (lr.squeeze(1) / math.sqrt(t))) * sqrt_v, zeros)
        sv_final = torch.where(T == t, sqrt_v, sv_final)
        if box:
            x.clamp_(-box, box)
        # theta_{t+1} is an iterate of the run only while t + 1 <= T
        nxt = (t + 1 <= T).unsqueeze(1)
        th_min = torch.where(nxt, torch.minimum(th_min, x), th_min)
        th_max = torch.where(nxt, torch.maximum(th_max, x), th_max)
    n_big = torch.div(T, period_i, rounding_mode="floor").to(dt).unsqueeze(1)
    n_small = T.to(dt).unsqueeze(1) - n_big
    star, exists = _optimum(family, pieces, n_big, n_small, delta, box)
    f_star = (n_big * loss_and_grad(family, star, *pieces["big"], delta)[0]
              + n_small * loss_and_grad(family, star, *pieces["small"], delta)[0]).sum(1)
    spread = (th_max - th_min).amax(1)
    to_opt = torch.maximum((th_max - star).abs(), (th_min - star).abs()).amax(1)
    return {"regret": loss_sum - f_star, "wsv": wsv, "sv_final": sv_final, "grad_l2_sum": gsq.sqrt().sum(1),
            "spread": spread, "to_optimum": to_opt, "v_drops": v_drops, "optimum_exists": exists,
            "G_inf": global_grad_sup(family, pieces, delta), "theta_star_max": star.abs().amax(1),
            "lr": lr.squeeze(1), "beta1": b1.squeeze(1), "beta2": b2.squeeze(1), "lam": lam.squeeze(1)}


def _f(x) -> float:
    return float(x)


class Theorem1(_OnlineStatement):
    """R(T) <= Theorem 1's right-hand side (three terms), hypotheses as printed."""

    claim = "theorem-1"
    readings = THEOREM1_READINGS

    def __init__(self, reading="printed", **kw):
        if reading not in THEOREM1_READINGS:
            raise ValueError(f"theorem-1: reading must be one of {THEOREM1_READINGS}, got {reading!r}")
        super().__init__(reading, **kw)
        self.description = (f"{self.member}, no bias correction, alpha_t = alpha/sqrt(t): R(T) <= Theorem 1's RHS; "
                            f"reading {reading}")

    def _schedule_shift(self) -> int:
        return 0 if self.reading == "schedule-lam^t" else 1

    def _judge(self, c, r):
        T = int(c["T"])
        b1, b2, lam = _f(r["beta1"]), _f(r["beta2"]), _f(r["lam"])
        D = _f(r["to_optimum"]) if self.reading == "proof-diameter" else 0.0
        D = max(D, _f(r["spread"]))
        b1_1 = b1 * lam ** (1 - self._schedule_shift())
        hyp = {"beta1_1 = beta1": True if self.reading == "schedule-lam^t" else b1_1 == b1,
               "0 < beta1_t <= beta1 < 1": bool(0 < b1 * lam**T and b1 * max(lam, lam**T) <= b1 * (1 + 1e-15)
                                                 and b1 < 1),
               "v_t <= v_t+1 for all t in [T]": int(r["v_drops"]) == 0,
               "gamma = beta1/sqrt(beta2) < 1": b1 / math.sqrt(b2) < 1,
               "theta* = argmin sum f_t exists": bool(r["optimum_exists"]),
               "f_t convex": True}
        terms = theorem1_rhs_terms(T=T, alpha=torch.tensor(_f(r["lr"]), dtype=torch.float64), beta1=b1, beta2=b2,
                                   D_inf=D, sqrt_v_final_sum=_f(r["sv_final"]), weighted_sqrt_v_sum=_f(r["wsv"]),
                                   grad_l2_sum=_f(r["grad_l2_sum"]))
        rhs = float(terms["total"])
        regret = _f(r["regret"])
        ratio = regret / rhs if rhs > 0 and math.isfinite(rhs) else (0.0 if math.isinf(rhs) else math.nan)
        ratio *= planted_factor(self.planted, T)
        return {"ratio": ratio, "hypotheses": hyp, "margin": margin(hyp), "confirmed": True,
                "measured": {"regret": regret, "rhs": rhs, "D_inf": D, "spread": _f(r["spread"]),
                             "to_optimum": _f(r["to_optimum"]), "v_drops": int(r["v_drops"]),
                             "terms": {k: float(v) for k, v in terms.items() if k != "total"}}}


class Corollary1(_OnlineStatement):
    """R(T)/T <= Corollary 1's bound, beta1_t = beta1 lam^t, global gradient bound G_inf."""

    claim = "corollary-1"
    readings = COROLLARY1_READINGS

    def __init__(self, reading="printed", **kw):
        if reading not in COROLLARY1_READINGS:
            raise ValueError(f"corollary-1: reading must be one of {COROLLARY1_READINGS}, got {reading!r}")
        super().__init__(reading, **kw)
        self.description = (f"{self.member}, no bias correction, alpha_t = alpha/sqrt(t), beta1_t = beta1 lam^t: "
                            f"R(T)/T <= Corollary 1's bound; reading {reading}")

    def _judge(self, c, r):
        T, d = int(c["T"]), int(c["d"])
        b1, b2, lam = _f(r["beta1"]), _f(r["beta2"]), _f(r["lam"])
        D = max(_f(r["spread"]), _f(r["to_optimum"]) if self.reading == "proof-diameter" else 0.0)
        G = _f(r["G_inf"])
        hyp = {"0 < beta1_t <= beta1 < 1": bool(0 < b1 * lam**T and lam <= 1 and b1 < 1),
               "v_t <= v_t+1 for all t in [T]": int(r["v_drops"]) == 0,
               "gamma = beta1/sqrt(beta2) < 1": b1 / math.sqrt(b2) < 1,
               "||grad f_t(theta)||_inf <= G_inf for all theta in R^d": math.isfinite(G),
               "theta* = argmin sum f_t exists": bool(r["optimum_exists"]),
               "f_t convex": True}
        if self.reading == "with-theorem-1":
            hyp["beta1_1 = beta1 (Theorem 1)"] = b1 * lam == b1
        regret = _f(r["regret"])
        rhs = math.inf
        if math.isfinite(G):
            bound = corollary1_average_regret_bound(T=T, d=d, alpha=torch.tensor(_f(r["lr"]), dtype=torch.float64),
                                                    beta1=b1, beta2=b2, lam=lam, D_inf=D, G_inf=G)
            rhs = float(bound["total"])
        ratio = (regret / T) / rhs if 0 < rhs < math.inf else (0.0 if math.isinf(rhs) else math.nan)
        ratio *= planted_factor(self.planted, T)
        return {"ratio": ratio, "hypotheses": hyp, "margin": margin(hyp), "confirmed": True,
                "measured": {"avg_regret": regret / T, "rhs": rhs, "D_inf": D, "G_inf": G,
                             "v_drops": int(r["v_drops"])}}
