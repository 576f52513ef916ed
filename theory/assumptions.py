"""Monitors that test each theorem's hypotheses on a trajectory.

Each monitor takes the run's recorded quantities and returns a :class:`MonitorResult`
saying whether the hypothesis held, how often and where it failed first. Pure functions.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MonitorResult:
    """Outcome of one hypothesis check on one run (or a batch of runs)."""

    hypothesis: str  # e.g. "v_t <= v_{t+1} per coordinate (Theorem 1)"
    holds: bool
    violations: int  # number of (step, coordinate, run) triples where it failed
    checked: int  # number of triples checked
    first_violation_step: int | None = None
    details: dict = field(default_factory=dict)

    @property
    def violation_rate(self) -> float:
        return self.violations / self.checked if self.checked else 0.0

    def as_dict(self) -> dict:
        return {
            "hypothesis": self.hypothesis,
            "holds": self.holds,
            "violations": self.violations,
            "checked": self.checked,
            "violation_rate": self.violation_rate,
            "first_violation_step": self.first_violation_step,
            "details": self.details,
        }


# ---- Theorem 1 / Corollary 1 monitors ------------------------------------------------------

# Hypotheses of Theorem 1 (Section 4.1): alpha_t = alpha/sqrt(t); 0 < beta1_t <= beta1 < 1 (and, as
# stated, beta1_1 = beta1); v_t <= v_{t+1} per coordinate; gamma = beta1/sqrt(beta2) < 1;
# ||theta_m - theta_n||_inf <= D_inf. Corollary 1 adds beta1_t = beta1 lam^t and
# ||grad f_t||_inf <= G_inf, and its proof uses v_{t,i} <= G_inf^2. Each monitor below works on a
# batch of runs; ``details["per_run"]`` says, run by run, whether the hypothesis held.


def _t1_per_run(mask):
    import torch

    return torch.as_tensor(mask).reshape(-1).tolist()


def monitor_from_counts(hypothesis: str, violations, checked, first_step=None) -> MonitorResult:
    """A MonitorResult from per-run violation counts (tensors or lists of shape ``(runs,)``).

    ``first_step`` holds, per run, the first step that failed (0 or negative: none).
    """
    import torch

    viol = torch.as_tensor(violations).reshape(-1).to(torch.int64)
    chk = torch.as_tensor(checked).reshape(-1).to(torch.int64).expand_as(viol)
    first = None
    if first_step is not None:
        fs = torch.as_tensor(first_step).reshape(-1)
        failed = fs[(viol > 0) & (fs > 0)]
        first = int(failed.min()) if failed.numel() else None
    return MonitorResult(
        hypothesis=hypothesis,
        holds=bool((viol == 0).all()),
        violations=int(viol.sum()),
        checked=int(chk.sum()),
        first_violation_step=first,
        details={"per_run": _t1_per_run(viol == 0), "violations_per_run": viol.tolist(),
                 "runs_failing": int((viol > 0).sum()), "runs": int(viol.numel())},
    )


def monitor_v_nondecreasing(v_history) -> MonitorResult:
    """v_t <= v_{t+1} per coordinate, t = 1..T-1, on a history of shape ``(T, runs, d)``."""
    import torch

    v = torch.as_tensor(v_history)
    drops = v[1:] < v[:-1]  # (T-1, runs, d)
    per_run = drops.flatten(2).sum(dim=(0, 2))
    any_step = drops.flatten(2).any(dim=2)  # (T-1, runs)
    steps = torch.arange(2, v.shape[0] + 1, device=v.device).unsqueeze(1).expand_as(any_step)
    first = torch.where(any_step, steps, torch.full_like(steps, 2**62)).amin(dim=0)
    first = torch.where(first == 2**62, torch.zeros_like(first), first)
    checked = torch.full_like(per_run, drops.shape[0] * (drops[0, 0].numel() if drops.shape[0] else 0))
    # first_violation_step is the t+1 at which v_{t+1} < v_t
    return monitor_from_counts("v_t <= v_{t+1} per coordinate (Theorem 1)", per_run, checked, first)


def monitor_gamma(beta1, beta2) -> MonitorResult:
    """gamma = beta1 / sqrt(beta2) < 1, per run (scalars or tensors)."""
    import torch

    b1 = torch.as_tensor(beta1, dtype=torch.float64).reshape(-1)
    b2 = torch.as_tensor(beta2, dtype=torch.float64).reshape(-1)
    b1, b2 = torch.broadcast_tensors(b1, b2)
    gamma = b1 / b2.sqrt()
    result = monitor_from_counts("gamma = beta1/sqrt(beta2) < 1 (Theorem 1)", (gamma >= 1).to(torch.int64), 1)
    result.details["gamma_max"] = float(gamma.max())
    return result


def monitor_beta1_schedule(beta1, T: int, lam=None) -> MonitorResult:
    """0 < beta1_t <= beta1 < 1 for t = 1..T with beta1_t = beta1 * lam^t (the family's schedule).

    Also reported in ``details``: whether beta1_1 = beta1 (stated in Theorem 1, contradicted by
    Corollary 1's beta1 lam^t unless lam = 1; the proof never uses it) and whether beta1_t is
    non-increasing (the proof's telescoping needs it; not stated).
    """
    import torch

    b1 = torch.as_tensor(beta1, dtype=torch.float64).reshape(-1)
    lam_t = torch.ones_like(b1) if lam is None else torch.as_tensor(lam, dtype=torch.float64).reshape(-1).expand_as(b1)
    # beta1_t = b1 lam^t is monotone in t, so t = 1 and t = T decide; positivity is decided on
    # b1 and lam themselves (b1 lam^T underflows to 0.0 in floating point for long runs).
    positive = (b1 > 0) & (lam_t > 0)
    largest = b1 * torch.maximum(lam_t, lam_t**T)
    bad = ~positive | (largest > b1) | (b1 >= 1)
    result = monitor_from_counts("0 < beta1_t <= beta1 < 1 (Theorem 1)", bad.to(torch.int64) * T, T,
                                 torch.where(bad, torch.ones_like(b1, dtype=torch.int64),
                                             torch.zeros_like(b1, dtype=torch.int64)))
    result.details["beta1_1_equals_beta1"] = _t1_per_run(b1 * (lam_t if lam is not None else 1.0) == b1)
    result.details["non_increasing"] = _t1_per_run(lam_t <= 1)
    return result


def monitor_bounded(hypothesis: str, measured, bound, slack: float = 0.0) -> MonitorResult:
    """measured <= bound * (1 + slack), per run (diameter and gradient bounds)."""
    import torch

    m = torch.as_tensor(measured, dtype=torch.float64).reshape(-1)
    b = torch.as_tensor(bound, dtype=torch.float64).reshape(-1).expand_as(m)
    bad = m > b * (1 + slack)
    result = monitor_from_counts(hypothesis, bad.to(torch.int64), 1)
    result.details["measured_max"] = float(m.max()) if m.numel() else None
    result.details["bound"] = float(b.max()) if b.numel() else None
    return result


# ---- Theorem 2 / Corollary 2 monitors ------------------------------------------------------

# Theorem 2's hypotheses, checked step by step on a batch of runs (Section 4.2, Appendix C.2.2):
# min_j v_{t,j} >= c > 0 (the "min-v" count compares v with the c given here; when that c is an
# a-priori bound of the update rule, e.g. eps, the count holds by construction and is only a sanity
# check of the implementation: any finite run meets the hypothesis with c = the measured min v,
# ``measured()["min_v"]``, whose positivity is what a caller must check);
# alpha_t/sqrt(v_t) non-increasing per coordinate (eq. (22)); ||g_t||_2 <= H
# and ||grad f(theta_t)||_2 <= H (Assumption 4); b1_t non-increasing; and sqrt(v_{t,j}) <= H, which
# eq. (24) uses to lower-bound the left-hand side. "v" is the squared denominator the update divides
# by (stored v, plus eps where the member puts it), without bias correction as the theorem assumes.


class Theorem2Monitor:
    """Streaming monitor of Theorem 2's hypotheses for G groups of runs (e.g. one per optimizer).

    ``update`` takes, after step t: the effective stepsize alpha_t/sqrt(v_t) and v_t, shape
    (G, runs, d); the stochastic and full gradient norms at the point where g_t was drawn and
    ||alpha_t m_t/sqrt(v_t)||_2, shape (G, runs); b1_t per group (G floats). Without the group
    dimension ((runs, d) and (runs,)) G = 1. ``H`` is a float, or per step a tensor ``H_t``
    (G, runs) for problems whose bound depends on the state; ``c`` is a float or G floats.
    ``rtol`` absorbs rounding in the monotonicity check (use ~1e-6 in float32). Counters stay on
    the device (no host sync per step); ``results(g)`` gives one MonitorResult per hypothesis.
    """

    NAMES = ("min-v", "stepsize-nonincreasing", "grad-bound", "true-grad-bound", "sqrt-v-bound",
             "beta1-nonincreasing")

    def __init__(self, H: float, c, rtol: float = 1e-12) -> None:
        cs = [float(x) for x in (c if isinstance(c, (list, tuple)) else [c])]
        if not (H > 0 and min(cs) > 0):
            raise ValueError(f"H and c must be > 0, got H={H}, c={c}")
        self.H, self.c_list, self.rtol = float(H), cs, float(rtol)
        self.prev_step = None
        self.prev_beta1 = None
        self.acc = None  # tensors, created on the first update (device of the inputs)

    def _init(self, v) -> None:
        import torch

        G, dev, dt = v.shape[0], v.device, v.dtype
        z = (lambda: torch.zeros(G, dtype=torch.int64, device=dev))
        self.viol = {n: z() for n in self.NAMES}
        self.checked = {n: 0 for n in self.NAMES}
        self.first = {n: z() - 1 for n in self.NAMES}
        cs = self.c_list * G if len(self.c_list) == 1 else self.c_list
        if len(cs) != G:
            raise ValueError(f"c has {len(cs)} values for {G} groups")
        self.c = torch.tensor(cs, dtype=dt, device=dev).view(G, 1, 1)
        self.acc = {"min_v": torch.full((G,), float("inf"), dtype=dt, device=dev),
                    "max_v": torch.zeros(G, dtype=dt, device=dev),
                    "max_grad": torch.zeros(G, dtype=dt, device=dev),
                    "max_true_grad": torch.zeros(G, dtype=dt, device=dev),
                    "max_update": torch.zeros(G, dtype=dt, device=dev)}
        self.rise_count = []  # per step t >= 2: (G,) number of (run, coord) pairs whose stepsize rose

    def _count(self, name: str, t: int, bad) -> None:
        import torch

        n_bad = bad.flatten(1).sum(1)
        self.viol[name] += n_bad
        self.checked[name] += bad[0].numel()
        self.first[name] = torch.where((self.first[name] < 0) & (n_bad > 0), t, self.first[name])
        return n_bad

    def _grouped(self, step_size, v, grad_norm, true_grad_norm, update_norm, H_t):
        """The step's tensors with a group dimension (one group when they have none); the
        accumulators are set up on the first step."""
        if grad_norm.dim() == 1:  # no group dimension: one group
            step_size, v, grad_norm, true_grad_norm, update_norm = (
                x.unsqueeze(0) for x in (step_size, v, grad_norm, true_grad_norm, update_norm))
            H_t = None if H_t is None else H_t.unsqueeze(0)
        if self.acc is None:
            self._init(v)
        return step_size, v, grad_norm, true_grad_norm, update_norm, H_t

    def update(self, t: int, step_size, v, grad_norm, true_grad_norm, update_norm, beta1_t,
               H_t=None) -> None:
        import torch

        step_size, v, grad_norm, true_grad_norm, update_norm, H_t = self._grouped(
            step_size, v, grad_norm, true_grad_norm, update_norm, H_t)
        a = self.acc
        a["min_v"] = torch.minimum(a["min_v"], v.flatten(1).amin(1))
        a["max_v"] = torch.maximum(a["max_v"], v.flatten(1).amax(1))
        a["max_grad"] = torch.maximum(a["max_grad"], grad_norm.amax(1))
        a["max_true_grad"] = torch.maximum(a["max_true_grad"], true_grad_norm.amax(1))
        a["max_update"] = torch.maximum(a["max_update"], update_norm.amax(1))
        H = self.H if H_t is None else H_t
        H_col = self.H if H_t is None else H_t.unsqueeze(-1)
        self._count("min-v", t, v < self.c)
        self._count("sqrt-v-bound", t, v > H_col**2)
        self._count("grad-bound", t, grad_norm > H)
        self._count("true-grad-bound", t, true_grad_norm > H)
        if self.prev_step is not None:
            rose = step_size > self.prev_step * (1 + self.rtol)
            self.rise_count.append(self._count("stepsize-nonincreasing", t, rose))
        self.prev_step = step_size.clone()
        b1 = torch.as_tensor(beta1_t, dtype=v.dtype, device=v.device).reshape(-1).expand(v.shape[0])
        if self.prev_beta1 is not None:
            self._count("beta1-nonincreasing", t, (b1 > self.prev_beta1).unsqueeze(1))
        self.prev_beta1 = b1.clone()

    def rise_fractions(self, group: int = 0) -> list:
        """Fraction of (run, coordinate) pairs whose stepsize rose, for t = 2..T."""
        import torch

        if self.acc is None or not self.rise_count:
            return []
        per = self.prev_step[group].numel()
        return (torch.stack(self.rise_count)[:, group].double() / per).cpu().tolist()

    def measured(self, group: int = 0) -> dict:
        """min v, max sqrt(v), max ||g||, max ||grad f||, G = max ||alpha_t m_t/sqrt(v_t)||."""
        a = self.acc
        return {"min_v": float(a["min_v"][group]), "max_sqrt_v": float(a["max_v"][group]) ** 0.5,
                "max_grad_norm": float(a["max_grad"][group]),
                "max_true_grad_norm": float(a["max_true_grad"][group]), "G": float(a["max_update"][group])}

    def results(self, group: int = 0) -> list:
        text = {
            "min-v": "min_j v_t,j >= c for the given c (Theorem 2's min v >= c > 0; a sanity check "
                     "when c is an a-priori bound of the update rule)",
            "stepsize-nonincreasing": "alpha_t/sqrt(v_t) non-increasing per coordinate (Theorem 2, eq. (22))",
            "grad-bound": "||g_t||_2 <= H (Assumption 4)",
            "true-grad-bound": "||grad f(theta_t)||_2 <= H (Assumption 4)",
            "sqrt-v-bound": "sqrt(v_t,j) <= H (used in eq. (24))",
            "beta1-nonincreasing": "b1_t+1 <= b1_t (Theorem 2)",
        }
        out = []
        for n in self.NAMES:
            viol = int(self.viol[n][group]) if self.acc is not None else 0
            first = int(self.first[n][group]) if self.acc is not None else -1
            checked = self.checked[n] if self.acc is not None else 0
            details = {"name": n}
            if n == "min-v" and self.acc is not None:
                details["c"] = float(self.c[group].item())
            out.append(MonitorResult(text[n], viol == 0, viol, checked, first if first >= 0 else None, details))
        return out


def stepsize_increases(step_sizes, rtol: float = 1e-12):
    """Batch form of the monotonicity check: a boolean tensor (T-1, ...) that is True where
    alpha_{t+1}/sqrt(v_{t+1}) > alpha_t/sqrt(v_t) for ``step_sizes`` stacked over t (dim 0)."""
    return step_sizes[1:] > step_sizes[:-1] * (1 + rtol)


# ---- Lemma 1 / Proposition 1 monitors (Assumptions 1-5) -----------------------------------

# Section 3.2. Each check takes quantities measured along escape runs (simulations/escape/).
# "Eventually" (Assumption 5: there is T0 with the bound for all t > T0) is judged on the last half
# of the checked times: the assumption holds on a run if no check in that window fails.


def check_assumption1(curvature_left, curvature_right, bounded_on_basin: bool = True) -> MonitorResult:
    """Assumption 1 for a basin with diagonal, piecewise-quadratic f = sum_i c_i(side) x_i^2 / 2:
    f >= 0, bounded on the closed basin, locally mu-strongly convex with mu = min_i c_i (both
    sides). mu = 0 (no basin) violates it."""
    import numpy as np

    c = np.concatenate([np.ravel(curvature_left), np.ravel(curvature_right)]).astype(float)
    mu = float(c.min()) if c.size else 0.0
    holds = bool(mu > 0.0 and bounded_on_basin)
    return MonitorResult("f >= 0, bounded on the basin, locally mu-strongly convex (Assumption 1)",
                         holds, int(not holds), 1, None, {"mu": mu})


def check_beta_ordering(beta1: float, beta2: float) -> MonitorResult:
    """Assumption 3's beta1 <= beta2 <= 2 beta1."""
    holds = bool(beta1 <= beta2 <= 2.0 * beta1)
    return MonitorResult("beta1 <= beta2 <= 2 beta1 (Assumption 3)", holds, int(not holds), 1, None,
                         {"beta1": beta1, "beta2": beta2})


def monitor_direction_condition(negative: int, checked: int, first_step: int | None = None) -> MonitorResult:
    """Assumption 3's <grad f / (1 + f), q_t R_t^-1 m_t> >= 0 a.e.: ``negative`` of the ``checked``
    (path, time) samples had a negative inner product. Holds only with no negative sample."""
    return MonitorResult("<grad f/(1+f), q R^-1 m> >= 0 a.e. (Assumption 3)", negative == 0, int(negative),
                         int(checked), first_step, {})


def monitor_assumption5(steps, noise_level, momentum_level, beta1: float, detail: str = "") -> MonitorResult:
    """Assumption 5: diag(Sigma_t) <= beta1 E(m_{t-1}^2) / (2 - beta1) for all t > T0.

    ``steps`` (T,), ``noise_level`` (scalar or (d,)) and ``momentum_level`` (T, d): the two sides
    per checked time and coordinate (variances, or the surrogate the caller documents in
    ``detail``). Counts every (time, coordinate) pair; ``holds`` judges "eventually" on the last
    half of the checked times."""
    import numpy as np

    steps = np.asarray(steps, dtype=np.int64).ravel()
    rhs = beta1 / (2.0 - beta1) * np.asarray(momentum_level, dtype=float).reshape(steps.size, -1)
    lhs = np.broadcast_to(np.asarray(noise_level, dtype=float), rhs.shape)
    ok = lhs <= rhs
    if steps.size == 0:
        return MonitorResult("noise variance <= beta1 E(m^2)/(2 - beta1) eventually (Assumption 5)", False, 0, 0,
                             None, {"reason": "no checked times", "surrogate": detail})
    bad_rows = np.flatnonzero(~ok.all(axis=1))
    tail = ok[steps.size // 2:]
    return MonitorResult(
        "noise variance <= beta1 E(m^2)/(2 - beta1) eventually (Assumption 5)",
        bool(tail.all()),
        int((~ok).sum()),
        int(ok.size),
        int(steps[bad_rows[0]]) if bad_rows.size else None,
        {"fraction_holding_last_half": float(tail.mean()), "fraction_holding": float(ok.mean()),
         "ratio_lhs_over_rhs_last": (lhs[-1] / np.maximum(rhs[-1], 1e-300)).tolist(), "surrogate": detail},
    )
