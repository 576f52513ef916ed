"""Batched online runs of one update rule: regret, Theorem 1's right-hand side, hypothesis monitors.

Conventions (Section 4.1 of the paper, Reddi et al. 2018): x_1 = 0 (the centre of F),
alpha_t = lr / sqrt(t) (``Hyper(lr_decay="inverse-sqrt")``), one step of the update rule
(:class:`theory.rule.UpdateRule`; a registry member steps exactly as :func:`theory.family.step_`)
then projection onto F (clipping), regret R(T) = sum_{t<=T} f_t(x_t) - min_{x in F} sum_{t<=T} f_t(x).
Bias correction follows ``bias_correction``: the paper's theorem is about the method *without* it
(``False``); the rule's own definition is used when ``True``. The second moment in the bound and in
the monitor v_t <= v_{t+1} is the rule's ``second_moment`` read-out, the v the update divides by
(the running max for max members); a rule without one is not adaptive here (no bound, no monitor).

Rules outside the registry: whatever the rule cannot honour of the run's hyperparameters
(:func:`theory.rule.notes`; a torch optimizer keeps its own bias correction) is recorded in
``BatchResult.rule_notes``, and Theorem 1's right-hand side is then not computed:
``BatchResult.theorem1_unchecked`` says why. A registry member is checked as before.

The runs dimension holds ``configs x seeds`` (per-run hyperparameters are ``(runs, 1)`` columns);
every per-step quantity is accumulated in segments (at most one data chunk long, cut at the
checkpoints), so 10^6 steps need no history.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from simulations.regret import fast
from simulations.regret.problems import CHUNK, ProblemBatch, ProblemConfig
from theory.bounds import corollary1_average_regret_bound, theorem1_diameter, theorem1_rhs_terms
from theory.family import Hyper
from theory.names import resolve
from theory.rule import member_of, notes, second_moment


@dataclass(frozen=True)
class OptimizerConfig:
    """Hyperparameters of one run config (``beta1_decay``: lam of beta1_t = beta1 lam^t)."""

    lr: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    eps: float = 1e-8


@dataclass
class BatchResult:
    """Per-checkpoint tensors of shape (checkpoints, runs) and the final iterates (runs, d).

    ``member`` is the rule's name (a registry name, or the spec it was loaded from).
    """

    member: str
    checkpoints: list[int]
    problems: list[ProblemConfig]
    optimizers: list[OptimizerConfig]
    seeds: int
    seed: int
    beta1_decay: float | None
    bias_correction: bool
    values: dict = field(default_factory=dict)
    x_final: torch.Tensor | None = None
    x_tail_mean: torch.Tensor | None = None  # mean of x_t over the last 10% of steps
    rule_notes: list[str] = field(default_factory=list)  # what the rule could not honour
    theorem1_unchecked: str | None = None  # why no RHS was computed for a rule outside the registry

    @property
    def runs(self) -> int:
        return len(self.problems) * self.seeds


def log_checkpoints(steps: int, count: int = 24, first: int = 10) -> list[int]:
    """About ``count`` log-spaced horizons in [min(first, steps), steps], always ending at steps."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    lo = min(first, steps)
    points = {int(round(math.exp(math.log(lo) + k * (math.log(steps) - math.log(lo)) / max(count - 1, 1))))
              for k in range(count)}
    return sorted(p for p in points | {steps} if 1 <= p <= steps)


def _column(values, runs_per_config, device, dtype):
    """A scalar when every config agrees (cheaper steps), else a (runs, 1) tensor."""
    if len(set(values)) == 1:
        return float(values[0])
    return torch.tensor(values, device=device, dtype=dtype).repeat_interleave(runs_per_config).unsqueeze(1)


def _per_run(value, runs, device, dtype):
    if isinstance(value, torch.Tensor):
        return value.reshape(-1)
    return torch.full((runs,), float(value), device=device, dtype=dtype)


def run_hyper(optimizers: list[OptimizerConfig], seeds: int, beta1_decay: float | None, bias_correction: bool,
              device: torch.device, dtype: torch.dtype) -> Hyper:
    """The :class:`theory.family.Hyper` of a batch: per-run columns where the configs differ."""
    col = (lambda attr: _column([getattr(o, attr) for o in optimizers], seeds, device, dtype))
    return Hyper(lr=col("lr"), beta1=col("beta1"), beta2=col("beta2"), eps=col("eps"),
                 lr_decay="inverse-sqrt", beta1_decay=beta1_decay, bias_correction=bias_correction)


def theorem1_applicability(rule, adaptive: bool, bias_correction: bool,
                           rule_notes: list[str]) -> tuple[bool, str | None]:
    """(compute Theorem 1's RHS?, the reason it is unchecked for a rule outside the registry).

    Registry members: the RHS is computed for adaptive members without bias correction, as always.
    Other rules: only when the rule has a second moment and honoured every setting of the run
    (no notes). With ``bias_correction`` the method is not the theorem's (no reason: the summary
    says "not applicable" for every rule alike).
    """
    if bias_correction:
        return False, None
    if member_of(rule) is not None:
        return adaptive, None
    if not adaptive:
        return False, (f"{rule.name} has no second-moment read-out: Theorem 1's right-hand side and the "
                       "monitor v_t <= v_(t+1) need the v the update divides by")
    if rule_notes:
        return False, (f"the bound is about the update without bias correction, with this run's "
                       f"hyperparameters; {rule.name} does not follow them: " + "; ".join(rule_notes))
    return True, None


class _Stream:
    """Per-run sums, extremes and v-drop counts over the steps, updated one segment at a time."""

    def __init__(self, runs: int, d: int, steps: int, device, dtype):
        zeros = (lambda: torch.zeros(runs, device=device, dtype=dtype))
        self.device, self.dtype = device, dtype
        self.acc = {"cum_loss": zeros(), "weighted_sqrt_v": zeros(), "g_inf": zeros(), "v_max_seen": zeros()}
        self.grad_sum = torch.zeros(runs, d, device=device, dtype=dtype)
        self.grad_sq = torch.zeros(runs, d, device=device, dtype=dtype)
        self.x_min = torch.zeros(runs, d, device=device, dtype=dtype)
        self.x_max = torch.zeros(runs, d, device=device, dtype=dtype)
        self.tail_start = steps - max(1, steps // 10) + 1  # x averaged over the last 10% of steps
        self.x_tail_sum = torch.zeros(runs, d, device=device, dtype=dtype)
        self.v_drops = torch.zeros(runs, dtype=torch.int64, device=device)
        self.v_first_drop = torch.zeros(runs, dtype=torch.int64, device=device)
        self.v_last = None

    def add_segment(self, batch: ProblemBatch, chunk: dict, k0: int, t: int, xs, g_seg) -> None:
        """Losses, gradient sums, iterate extremes and the tail sum of steps t .. t + n - 1."""
        n = xs.shape[0]
        self.acc["cum_loss"] += batch.losses(chunk, k0, k0 + n, xs).sum(0)
        self.grad_sum += g_seg.sum(0)
        self.grad_sq += (g_seg * g_seg).sum(0)
        self.acc["g_inf"] = torch.maximum(self.acc["g_inf"], g_seg.abs().amax(dim=(0, 2)))
        if t == 1:
            self.x_min.copy_(xs[0])
            self.x_max.copy_(xs[0])
        torch.minimum(self.x_min, xs.amin(0), out=self.x_min)
        torch.maximum(self.x_max, xs.amax(0), out=self.x_max)
        if t + n - 1 >= self.tail_start:
            self.x_tail_sum += xs[max(0, self.tail_start - t):].sum(0)

    def add_v(self, vs, t: int, b1_run, lr_run, lam: float) -> None:
        """Theorem 1's weighted sum of sqrt(v_t), max v and the v-drop counts of steps t .. t + n - 1."""
        n = vs.shape[0]
        ts = torch.arange(t, t + n, device=self.device, dtype=self.dtype).unsqueeze(1)  # (n, 1)
        weight = b1_run * lam**ts / (lr_run / ts.sqrt())  # beta1_t / alpha_t, (n, runs)
        if self.compiled and vs.is_cpu and vs.dtype == torch.float64 and vs.is_contiguous():
            self._add_v_compiled(vs, weight, t)
        else:
            self.acc["weighted_sqrt_v"] += (weight * vs.sqrt().sum(-1)).sum(0)
            self.acc["v_max_seen"] = torch.maximum(self.acc["v_max_seen"], vs.amax(dim=(0, 2)))
            self._count_v_drops(vs, t)
        self.v_last = vs[-1].clone()

    compiled = True  # the float64 CPU form in one compiled pass (tests compare it with the torch form)

    def _add_v_compiled(self, vs, weight, t: int) -> None:
        from simulations.regret.kernels import v_monitors  # numba, compiled on first use

        runs = vs.shape[1]
        weight = torch.broadcast_to(weight, (vs.shape[0], runs)).contiguous()
        last = self.v_last if self.v_last is not None else vs[0]
        v_monitors(vs.numpy(), weight.numpy(), last.numpy(), self.v_last is not None, t,
                   self.acc["weighted_sqrt_v"].numpy(), self.acc["v_max_seen"].numpy(), self.v_drops.numpy(),
                   self.v_first_drop.numpy())

    def _count_v_drops(self, vs, t: int) -> None:
        """v_{s+1} < v_s per coordinate, streamed (the full-history form is
        :func:`theory.assumptions.monitor_v_nondecreasing`; a test checks they agree)."""
        prev = vs[:-1] if self.v_last is None else torch.cat([self.v_last.unsqueeze(0), vs[:-1]])
        cur = vs if self.v_last is not None else vs[1:]
        first_t = t if self.v_last is not None else t + 1  # step index of cur[0]
        if not cur.shape[0]:
            return
        drops = cur < prev  # (m, runs, d)
        step_has = drops.any(-1)  # (m, runs)
        self.v_drops += drops.sum(dim=(0, 2))
        idx = torch.arange(first_t, first_t + cur.shape[0], device=self.device).unsqueeze(1)
        first_here = torch.where(step_has, idx, torch.full_like(idx, 2**62)).amin(0)
        self.v_first_drop = torch.where((self.v_first_drop == 0) & (first_here < 2**62), first_here,
                                        self.v_first_drop)

    def snapshot(self, T: int, adaptive: bool) -> dict:
        snap = {key: val.clone() for key, val in self.acc.items()}
        snap.update(T=T, grad_sum=self.grad_sum.clone(), grad_l2=self.grad_sq.sqrt().sum(-1),
                    x_min=self.x_min.clone(), x_max=self.x_max.clone(), v_drops=self.v_drops.clone(),
                    v_first_drop=self.v_first_drop.clone(),
                    sqrt_v_final=(self.v_last.sqrt().sum(-1) if adaptive else None))
        return snap


class _Run:
    """One batched run of ``rule``: iterates, rule state, segment buffers and the stream."""

    def __init__(self, rule, batch: ProblemBatch, hyper: Hyper, steps: int, cps: list[int], beta1_decay,
                 record_grads: bool, record_v: bool, path: str = "auto"):
        runs, d, device, dtype = batch.runs, batch.dim, batch.device, batch.dtype
        self.rule, self.batch, self.hyper, self.steps, self.cps = rule, batch, hyper, steps, cps
        self.lr_run = _per_run(hyper.lr, runs, device, dtype)
        self.b1_run = _per_run(hyper.beta1, runs, device, dtype)
        self.lam = 1.0 if beta1_decay is None else float(beta1_decay)
        self.x = torch.zeros(runs, d, device=device, dtype=dtype)
        self.state = rule.init(self.x, hyper)
        self.adaptive = None  # known after the first step: does the rule have a second moment?
        self.seg_max = max(16, min(CHUNK, 2**22 // max(1, runs * d)))
        self.xs_buf = torch.empty(self.seg_max, runs, d, device=device, dtype=dtype)
        self.vs_buf = None
        self.gs_buf = torch.empty_like(self.xs_buf) if not batch.linear else None
        self.stream = _Stream(runs, d, steps, device, dtype)
        self.snaps: list[dict] = []
        self.grads_log = [] if record_grads else None
        self.record_v = record_v
        self.v_log = None
        self.fast = _fast_steps(rule, batch, hyper, path)
        if self.fast is not None:  # a registry member: adaptive or not is known before the first step
            self._first_step_seen()

    def _first_step_seen(self) -> None:
        self.adaptive = second_moment(self.rule, self.state) is not None
        if self.adaptive:
            self.vs_buf = torch.empty_like(self.xs_buf)
            self.v_log = [] if self.record_v else None

    def _steps(self, chunk: dict, k0: int, n: int) -> None:
        """n steps of the rule from the current iterate, each followed by the projection onto F."""
        if self.fast is not None:
            self.fast.run(self.state, self.x, chunk["g"][k0:k0 + n], self.xs_buf, self.vs_buf)
            return
        lo_clip, hi_clip = -self.batch.radius, self.batch.radius
        for j in range(n):
            self.xs_buf[j] = self.x
            g = self.batch.grad(chunk, k0 + j, self.x)
            if self.gs_buf is not None:
                self.gs_buf[j] = g
            self.rule.step(self.state, self.x, g, self.hyper)
            torch.clamp(self.x, min=lo_clip, max=hi_clip, out=self.x)
            if self.adaptive is None:
                self._first_step_seen()
            if self.adaptive:
                self.vs_buf[j] = second_moment(self.rule, self.state)

    def loop(self, bar=None) -> None:
        t, cp_i, batch, cps = 1, 0, self.batch, self.cps
        while t <= self.steps:
            chunk, k0 = batch.data(t)
            seg_end = min(t + self.seg_max - 1, t + (CHUNK - 1 - k0), cps[cp_i])  # inclusive
            n = seg_end - t + 1
            self._steps(chunk, k0, n)
            xs = self.xs_buf[:n]
            g_seg = chunk["g"][k0:k0 + n] if batch.linear else self.gs_buf[:n]
            if self.grads_log is not None:
                self.grads_log.append(g_seg.clone())
            if self.v_log is not None:
                self.v_log.append(self.vs_buf[:n].clone())
            self.stream.add_segment(batch, chunk, k0, t, xs, g_seg)
            if self.adaptive:
                self.stream.add_v(self.vs_buf[:n], t, self.b1_run, self.lr_run, self.lam)
            t = seg_end + 1
            if bar is not None:
                bar.update(n)
            if seg_end == cps[cp_i]:
                self.snaps.append(self.stream.snapshot(seg_end, self.adaptive))
                cp_i += 1


def _fast_steps(rule, batch: ProblemBatch, hyper: Hyper, path: str):
    """The exact many-steps-per-call kernel where it applies (``path="auto"``), else None."""
    if path not in fast.PATHS:
        raise ValueError(f"Invalid path: {path!r}; expected one of {fast.PATHS}")
    if path == "reference":
        return None
    reason = fast.unsupported(rule, batch, hyper)
    if reason is None:
        return fast.ExactSteps(rule.member, hyper, batch.radius)
    if path == "fast":
        raise ValueError(f"path='fast' is not available here: {reason}; path='auto' falls back to the reference")
    return None


def _validate(problems, optimizers, steps, checkpoints) -> list[int]:
    if len(problems) != len(optimizers):
        raise ValueError(f"problems and optimizers must pair up, got {len(problems)} and {len(optimizers)}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    cps = sorted(set(checkpoints or log_checkpoints(steps)))
    if cps[0] < 1 or cps[-1] > steps:
        raise ValueError(f"checkpoints must lie in [1, steps={steps}], got {cps[0]}..{cps[-1]}")
    return cps


def simulate(rule, problems: list[ProblemConfig], optimizers: list[OptimizerConfig], steps: int,
             seeds: int = 1, seed: int = 0, beta1_decay: float | None = None, bias_correction: bool = False,
             device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64,
             checkpoints: list[int] | None = None, progress: bool = False,
             record_grads: bool = False, record_v: bool = False, path: str = "auto") -> BatchResult:
    """Run ``rule`` (an update rule or any name :func:`theory.names.resolve` accepts) on every
    (problem, optimizer) config for ``seeds`` seeds each, batched.

    ``record_grads`` / ``record_v`` keep the full histories (steps, runs, d) of g_t and of the
    second moment the update divides by (tests only: memory grows with the horizon).
    ``path``: ``"reference"`` steps the rule once per step (the reference); ``"fast"`` runs whole
    segments in :mod:`simulations.regret.fast`, bit-identical in float64 (ValueError where it does
    not apply); ``"auto"`` (default) takes the fast path where it applies.
    With ``bias_correction`` no Theorem 1 / Corollary 1 right-hand side is computed: the update
    then divides by v_t / (1 - beta2^t) and scales m_t by 1 / (1 - beta1^t), a different method
    from the one the theorem analyses.
    """
    rule = resolve(rule)
    cps = _validate(problems, optimizers, steps, checkpoints)
    device = torch.device(device)
    batch = ProblemBatch(problems, seeds, seed, device, dtype)
    hyper = run_hyper(optimizers, seeds, beta1_decay, bias_correction, device, dtype)
    rule_notes = notes(rule, hyper)
    run = _Run(rule, batch, hyper, steps, cps, beta1_decay, record_grads, record_v, path)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=steps, desc=f"regret {rule.name}", unit="step", leave=False, mininterval=0.5)
    run.loop(bar)
    if bar is not None:
        bar.close()

    with_bound, unchecked = theorem1_applicability(rule, run.adaptive, bias_correction, rule_notes)
    result = BatchResult(rule.name, cps, list(problems), list(optimizers), seeds, seed, beta1_decay,
                         bias_correction, x_final=run.x.clone(), rule_notes=rule_notes, theorem1_unchecked=unchecked)
    result.x_tail_mean = run.stream.x_tail_sum / (steps - run.stream.tail_start + 1)
    result.values = _finish(batch, run.snaps, run.lr_run, run.b1_run,
                            _per_run(hyper.beta2, batch.runs, device, dtype), run.lam, with_bound)
    if run.grads_log is not None:
        result.values["grads"] = torch.cat(run.grads_log)
    if run.v_log is not None:
        result.values["v_history"] = torch.cat(run.v_log)
    return result


def _bound_row(batch: ProblemBatch, snap: dict, D: dict, lr_run, b1_run, b2_run, lam) -> dict:
    """Theorem 1's terms (proof reading and literal reading) and Corollary 1's bound at one checkpoint."""
    T = snap["T"]
    common = dict(T=T, alpha=lr_run, beta1=b1_run, beta2=b2_run, sqrt_v_final_sum=snap["sqrt_v_final"],
                  weighted_sqrt_v_sum=snap["weighted_sqrt_v"], grad_l2_sum=snap["grad_l2"])
    terms = theorem1_rhs_terms(D_inf=D["proof"], **common)
    row = {f"rhs_{k}": v for k, v in terms.items()}
    row["rhs_literal"] = theorem1_rhs_terms(D_inf=D["iterates"], **(common | {"beta1": b1_run * lam}))["total"]
    g_bound = _config_column(batch, "grad_bound", lr_run)
    cor = corollary1_average_regret_bound(T=T, d=batch.dim, alpha=lr_run, beta1=b1_run, beta2=b2_run,
                                          lam=torch.full_like(lr_run, lam), D_inf=D["proof"], G_inf=g_bound)
    row["cor1_avg_bound"] = cor["total"]
    return row


def _config_column(batch: ProblemBatch, attr: str, like: torch.Tensor) -> torch.Tensor:
    """A per-config property of the problems as a per-run tensor (runs,)."""
    return torch.tensor([getattr(p, attr) for p in batch.configs], device=like.device,
                        dtype=like.dtype).repeat_interleave(batch.seeds)


def _finish(batch: ProblemBatch, snaps, lr_run, b1_run, b2_run, lam, with_bound) -> dict:
    """Regret, Theorem 1 and Corollary 1 right-hand sides at each checkpoint, stacked (cp, runs).

    ``with_bound``: the method Theorem 1 is about (see :func:`theorem1_applicability`).
    ``rhs_literal`` is Theorem 1 as printed: D_inf = the iterate diameter, and beta1 := beta1_1 =
    beta1 * lam so that the stated beta1_1 = beta1 holds; the schedule beta1_t = beta1_1 lam^(t-1)
    is the one that ran (the weighted sum of sqrt(v) in term 2 is the same), and the smaller beta1
    shrinks all three terms (each carries 1/(1 - beta1); term 3 also 1/(1 - gamma), gamma = beta1^2/beta2).
    """
    rows: dict[str, list] = {}
    for snap in snaps:
        T = snap["T"]
        best, x_star = batch.comparator(T, snap["grad_sum"])
        regret = snap["cum_loss"] - best
        D = theorem1_diameter(snap["x_min"], snap["x_max"], x_star)
        row = {"T": torch.full_like(regret, T), "regret": regret, "avg_regret": regret / T,
               "cum_loss": snap["cum_loss"], "best_loss": best, "D_iterates": D["iterates"],
               "D_to_optimum": D["to_optimum"], "D_proof": D["proof"], "g_inf": snap["g_inf"],
               "grad_l2_sum": snap["grad_l2"], "v_drops": snap["v_drops"].to(regret.dtype),
               "v_first_drop": snap["v_first_drop"].to(regret.dtype), "v_max_seen": snap["v_max_seen"]}
        if with_bound:
            row.update(_bound_row(batch, snap, D, lr_run, b1_run, b2_run, lam))
        for key, val in row.items():
            rows.setdefault(key, []).append(val)
        if snap is snaps[-1]:
            rows["x_star_final"] = x_star
    out = {k: torch.stack(v) for k, v in rows.items() if k != "x_star_final"}
    out["x_star_final"] = rows["x_star_final"]
    out["diameter_F"] = _config_column(batch, "diameter", lr_run)
    out["grad_bound"] = _config_column(batch, "grad_bound", lr_run)
    out["lr"], out["beta1"], out["beta2"] = lr_run, b1_run, b2_run
    return out
