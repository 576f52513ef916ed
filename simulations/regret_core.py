"""Batched online runs: regret, Theorem 1's right-hand side and its hypothesis monitors.

Conventions (Section 4.1 of the paper, Reddi et al. 2018): x_1 = 0 (the centre of F),
alpha_t = lr / sqrt(t) (``Hyper(lr_decay="inverse-sqrt")``), one step of the family member
(:func:`theory.family.step_`) then projection onto F (clipping), regret
R(T) = sum_{t<=T} f_t(x_t) - min_{x in F} sum_{t<=T} f_t(x). Bias correction follows
``bias_correction``: the paper's theorem is about the method *without* it (``False``); the
member's own definition is used when ``True``. The second moment in the bound and in the
monitor v_t <= v_{t+1} is the one the update divides by (the running max for max members).

The runs dimension holds ``configs x seeds``; every per-step quantity is accumulated in
segments (at most one data chunk long, cut at the checkpoints), so 10^6 steps need no history.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from simulations.regret_problems import CHUNK, ProblemBatch, ProblemConfig
from theory.bounds import corollary1_average_regret_bound, theorem1_diameter, theorem1_rhs_terms
from theory.family import Hyper, get_member, init_state, step_


@dataclass(frozen=True)
class OptimizerConfig:
    """Hyperparameters of one run config (``beta1_decay``: lam of beta1_t = beta1 lam^t)."""

    lr: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    eps: float = 1e-8


@dataclass
class BatchResult:
    """Per-checkpoint tensors of shape (checkpoints, runs) and the final iterates (runs, d)."""

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


def simulate(member: str, problems: list[ProblemConfig], optimizers: list[OptimizerConfig], steps: int,
             seeds: int = 1, seed: int = 0, beta1_decay: float | None = None, bias_correction: bool = False,
             device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64,
             checkpoints: list[int] | None = None, progress: bool = False,
             record_grads: bool = False, record_v: bool = False) -> BatchResult:
    """Run ``member`` on every (problem, optimizer) config for ``seeds`` seeds each, batched.

    ``record_grads`` / ``record_v`` keep the full histories (steps, runs, d) of g_t and of the
    second moment the update divides by (tests only: memory grows with the horizon).
    With ``bias_correction`` no Theorem 1 / Corollary 1 right-hand side is computed: the update
    then divides by v_t / (1 - beta2^t) and scales m_t by 1 / (1 - beta1^t), a different method
    from the one the theorem analyses.
    """
    member_obj = get_member(member)
    if len(problems) != len(optimizers):
        raise ValueError(f"problems and optimizers must pair up, got {len(problems)} and {len(optimizers)}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    device = torch.device(device)
    batch = ProblemBatch(problems, seeds, seed, device, dtype)
    runs, d = batch.runs, batch.dim
    col = (lambda attr: _column([getattr(o, attr) for o in optimizers], seeds, device, dtype))
    hyper = Hyper(lr=col("lr"), beta1=col("beta1"), beta2=col("beta2"), eps=col("eps"),
                  lr_decay="inverse-sqrt", beta1_decay=beta1_decay, bias_correction=bias_correction)
    lr_run = _per_run(hyper.lr, runs, device, dtype)
    b1_run = _per_run(hyper.beta1, runs, device, dtype)
    lam = 1.0 if beta1_decay is None else float(beta1_decay)
    cps = sorted(set(checkpoints or log_checkpoints(steps)))
    if cps[0] < 1 or cps[-1] > steps:
        raise ValueError(f"checkpoints must lie in [1, steps={steps}], got {cps[0]}..{cps[-1]}")

    x = torch.zeros(runs, d, device=device, dtype=dtype)
    state = init_state(member_obj, x)
    adaptive = member_obj.adaptive
    seg_max = max(16, min(CHUNK, 2**22 // max(1, runs * d)))
    xs_buf = torch.empty(seg_max, runs, d, device=device, dtype=dtype)
    vs_buf = torch.empty_like(xs_buf) if adaptive else None
    gs_buf = torch.empty_like(xs_buf) if not batch.linear else None
    zeros = (lambda: torch.zeros(runs, device=device, dtype=dtype))
    acc = {"cum_loss": zeros(), "weighted_sqrt_v": zeros(), "g_inf": zeros(), "v_max_seen": zeros()}
    grad_sum = torch.zeros(runs, d, device=device, dtype=dtype)
    grad_sq = torch.zeros(runs, d, device=device, dtype=dtype)
    x_min = torch.zeros(runs, d, device=device, dtype=dtype)
    x_max = torch.zeros(runs, d, device=device, dtype=dtype)
    tail_start = steps - max(1, steps // 10) + 1  # x averaged over the last 10% of steps
    x_tail_sum = torch.zeros(runs, d, device=device, dtype=dtype)
    v_drops = torch.zeros(runs, dtype=torch.int64, device=device)
    v_first_drop = torch.zeros(runs, dtype=torch.int64, device=device)
    v_last = None
    snaps: list[dict] = []
    grads_log = [] if record_grads else None
    v_log = [] if (record_v and adaptive) else None
    lo_clip, hi_clip = -batch.radius, batch.radius

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=steps, desc=f"regret {member}", unit="step", leave=False, mininterval=0.5)

    t, cp_i = 1, 0
    while t <= steps:
        chunk, k0 = batch.data(t)
        seg_end = min(t + seg_max - 1, t + (CHUNK - 1 - k0), cps[cp_i])  # inclusive
        n = seg_end - t + 1
        for j in range(n):
            xs_buf[j] = x
            g = batch.grad(chunk, k0 + j, x)
            if gs_buf is not None:
                gs_buf[j] = g
            step_(member_obj, state, x, g, hyper)
            torch.clamp(x, min=lo_clip, max=hi_clip, out=x)
            if adaptive:
                vs_buf[j] = state.second_moment()
        xs = xs_buf[:n]
        g_seg = chunk["g"][k0:k0 + n] if batch.linear else gs_buf[:n]
        if grads_log is not None:
            grads_log.append(g_seg.clone())
        if v_log is not None:
            v_log.append(vs_buf[:n].clone())
        acc["cum_loss"] += batch.losses(chunk, k0, k0 + n, xs).sum(0)
        grad_sum += g_seg.sum(0)
        grad_sq += (g_seg * g_seg).sum(0)
        acc["g_inf"] = torch.maximum(acc["g_inf"], g_seg.abs().amax(dim=(0, 2)))
        if t == 1:
            x_min.copy_(xs[0])
            x_max.copy_(xs[0])
        torch.minimum(x_min, xs.amin(0), out=x_min)
        torch.maximum(x_max, xs.amax(0), out=x_max)
        if seg_end >= tail_start:
            x_tail_sum += xs[max(0, tail_start - t):].sum(0)
        if adaptive:
            vs = vs_buf[:n]
            ts = torch.arange(t, t + n, device=device, dtype=dtype).unsqueeze(1)  # (n, 1)
            weight = b1_run * lam**ts / (lr_run / ts.sqrt())  # beta1_t / alpha_t, (n, runs)
            acc["weighted_sqrt_v"] += (weight * vs.sqrt().sum(-1)).sum(0)
            acc["v_max_seen"] = torch.maximum(acc["v_max_seen"], vs.amax(dim=(0, 2)))
            prev = vs[:-1] if v_last is None else torch.cat([v_last.unsqueeze(0), vs[:-1]])
            cur = vs if v_last is not None else vs[1:]
            first_t = t if v_last is not None else t + 1  # step index of cur[0]
            if cur.shape[0]:
                drops = cur < prev  # (m, runs, d)
                step_has = drops.any(-1)  # (m, runs)
                v_drops += drops.sum(dim=(0, 2))
                idx = torch.arange(first_t, first_t + cur.shape[0], device=device).unsqueeze(1)
                first_here = torch.where(step_has, idx, torch.full_like(idx, 2**62)).amin(0)
                v_first_drop = torch.where((v_first_drop == 0) & (first_here < 2**62), first_here, v_first_drop)
            v_last = vs[-1].clone()
        t = seg_end + 1
        if bar is not None:
            bar.update(n)
        if seg_end == cps[cp_i]:
            snap = {key: val.clone() for key, val in acc.items()}
            snap.update(T=seg_end, grad_sum=grad_sum.clone(), grad_l2=grad_sq.sqrt().sum(-1),
                        x_min=x_min.clone(), x_max=x_max.clone(), v_drops=v_drops.clone(),
                        v_first_drop=v_first_drop.clone(),
                        sqrt_v_final=(v_last.sqrt().sum(-1) if adaptive else None))
            snaps.append(snap)
            cp_i += 1
    if bar is not None:
        bar.close()

    result = BatchResult(member_obj.name, cps, list(problems), list(optimizers), seeds, seed, beta1_decay,
                         bias_correction, x_final=x.clone())
    result.x_tail_mean = x_tail_sum / (steps - tail_start + 1)
    result.values = _finish(batch, snaps, result, lr_run, b1_run, _per_run(hyper.beta2, runs, device, dtype),
                            lam, adaptive and not bias_correction)
    if grads_log is not None:
        result.values["grads"] = torch.cat(grads_log)
    if v_log is not None:
        result.values["v_history"] = torch.cat(v_log)
    return result


def _finish(batch: ProblemBatch, snaps, result, lr_run, b1_run, b2_run, lam, with_bound) -> dict:
    """Regret, Theorem 1 and Corollary 1 right-hand sides at each checkpoint, stacked (cp, runs).

    ``with_bound``: adaptive member without bias correction (the method Theorem 1 is about).
    ``rhs_literal`` is Theorem 1 as printed: D_inf = the iterate diameter, and beta1 := beta1_1 =
    beta1 * lam so that the stated beta1_1 = beta1 holds; the schedule beta1_t = beta1_1 lam^(t-1)
    is the one that ran (the weighted sum of sqrt(v) in term 2 is the same), and the smaller beta1
    shrinks all three terms (each carries 1/(1 - beta1); term 3 also 1/(1 - gamma), gamma = beta1^2/beta2).
    """
    rows: dict[str, list] = {}
    diam = torch.tensor([p.diameter for p in batch.configs], device=lr_run.device,
                        dtype=lr_run.dtype).repeat_interleave(batch.seeds)
    g_bound = torch.tensor([p.grad_bound for p in batch.configs], device=lr_run.device,
                           dtype=lr_run.dtype).repeat_interleave(batch.seeds)
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
            common = dict(T=T, alpha=lr_run, beta1=b1_run, beta2=b2_run, sqrt_v_final_sum=snap["sqrt_v_final"],
                          weighted_sqrt_v_sum=snap["weighted_sqrt_v"], grad_l2_sum=snap["grad_l2"])
            terms = theorem1_rhs_terms(D_inf=D["proof"], **common)
            row.update({f"rhs_{k}": v for k, v in terms.items()})
            row["rhs_literal"] = theorem1_rhs_terms(D_inf=D["iterates"], **(common | {"beta1": b1_run * lam}))["total"]
            cor = corollary1_average_regret_bound(T=T, d=batch.dim, alpha=lr_run, beta1=b1_run, beta2=b2_run,
                                                  lam=torch.full_like(lr_run, lam), D_inf=D["proof"],
                                                  G_inf=g_bound)
            row["cor1_avg_bound"] = cor["total"]
        for key, val in row.items():
            rows.setdefault(key, []).append(val)
        if snap is snaps[-1]:
            rows["x_star_final"] = x_star
    out = {k: torch.stack(v) for k, v in rows.items() if k != "x_star_final"}
    out["x_star_final"] = rows["x_star_final"]
    out["diameter_F"] = diam
    out["grad_bound"] = g_bound
    out["lr"], out["beta1"], out["beta2"] = lr_run, b1_run, b2_run
    return out
