"""Batched escape-time simulators: ``flow``, ``sde`` (eq. (3)) and ``discrete`` (the family's own step).

All paths advance together as rows of one tensor. Escaped rows are dropped every
``compact_every`` steps (:meth:`theory.family.State.select` for optimizer state), so the cost
follows the total time alive, not paths x max_steps; between compactions an escaped row is
frozen in the record (its exit step is written once) and its further values are ignored. The
escape test runs every step on the grid t_k = k dt (an Euler scheme monitored on its grid, which
misses excursions inside a step: the time-step bias documented in docs/escape.md).

Dynamics (time in the SDE's units; see :mod:`simulations.escape_model`):

* ``flow``: theta += -grad f dt + eps dt^(1/alpha) xi.
* ``sde``: eq. (3), Euler with step dt <= lr (h = dt / lr iterations per step). The drift uses the
  noise-free momentum of (3), m += (1 - b1) h (grad f - m), and the noise enters theta as
  upsilon R^-1 sigma dL, upsilon = lr^(1 - 1/alpha), dL = dt^(1/alpha) xi. R = denominator of the
  member (sqrt(v / (1 - b2^t)) [+ eps]) with t = time / lr iterations, q = 1 / (1 - b1^t).
  R is taken BEFORE this step's update of the moments (R_{t-}: the coefficient of a Levy SDE
  is evaluated before the jump; otherwise a large xi inflates v first and shrinks its own jump);
  only the very first step, where no previous state exists, uses the updated R. The drift q m is
  noise-free, so q(t) is paired with the m(t) it bias-corrects (both after the update): at dt = lr,
  q m = m_k / (1 - b1^k), the optimizer's bias-corrected momentum.
  The second moment must see the gradient noise (the proof of Proposition 1 takes E v = lim E k^2
  with the noise in k). Per step the gradient noise is N = sigma h^(1/alpha) xi (= sigma dL /
  lr^(1/alpha): the increments of one iteration add up to one iteration's sigma xi), and
  m~ += (1 - b1) (h (grad f - m~) + N) (Appendix B.1's m'), v += (1 - b2) (F - h v) with
  F = (sqrt(h) grad f + N)^2 (Adam), h m~^2 (AdaMomentum), b1^2 (sqrt(h) (grad f - m~_-) + N)^2
  (AdaBelief). This forcing has a limit as dt -> 0 (v is driven by the squared gradient rate and
  the quadratic variation of the noise; the mean-zero cross term vanishes), unlike driving v by a
  full gradient sample every dt with weight (1 - b2) h, whose size depends on dt when alpha < 2.
  At dt = lr one sde step is exactly one iteration of these moment recursions (the noise-injected
  iteration); tests/test_escape.py checks that dt = lr/2, lr/4 agree with it.
* ``discrete``: :func:`theory.family.step_` with g = grad f(theta) + sigma zeta; dt = lr.

``warmup`` steps run first without the clock (a path that leaves is put back at the start), so the
moments are in their running regime when the clock starts, as Lemma 1 and the proof of
Proposition 1 assume ("t large"); without it, AdaMomentum's small early v makes it leave during the
transient.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from simulations.escape_model import EscapeConfig, basin_grad, basin_value, inside
from simulations.levy import symmetric_stable
from simulations.runtime import generator, resolve_device, resolve_dtype
from theory.family import Hyper, State, denominator, get_member, init_state, step_


class FreshNoise:
    """Fresh i.i.d. unit symmetric alpha-stable noise for the rows alive now, drawn ``block`` steps
    at a time (one sampler call per block instead of per step; the simulator compacts rows only at
    block boundaries, so the row count is fixed within a block)."""

    def __init__(self, alpha: float, gen: torch.Generator, device: torch.device, dtype: torch.dtype,
                 block: int = 1):
        self.alpha, self.gen, self.device, self.dtype, self.block = alpha, gen, device, dtype, block
        self._cache = None

    def __call__(self, step: int, ids: torch.Tensor, dim: int) -> torch.Tensor:
        j = (step - 1) % self.block
        if j == 0 or self._cache is None or self._cache.shape[0] != ids.numel():
            self._cache = symmetric_stable(self.alpha, (ids.numel(), self.block, dim), generator=self.gen,
                                           device=self.device, dtype=self.dtype)
        return self._cache[:, j]


class TableNoise:
    """Noise read from a table of shape (paths, steps, dim) by path id: the same noise whatever the
    compaction does, so the batched simulator can be compared with a per-path loop."""

    def __init__(self, table: torch.Tensor):
        self.table = table

    def __call__(self, step: int, ids: torch.Tensor, dim: int) -> torch.Tensor:
        return self.table[ids, step - 1]


def hyper_for(config: EscapeConfig) -> Hyper:
    return Hyper(lr=config.lr, beta1=config.beta1, beta2=config.beta2, eps=config.eps)


def a5_moment_order(alpha: float) -> float:
    """The moment order p of Assumption 5's check: p = 2 (the literal variance) at alpha = 2; for
    alpha < 2 the variance is infinite on both sides, so the check uses the surrogate
    (E|X|^p)^(2/p) with p = alpha / 3 (finite, and its sample mean has finite variance)."""
    return 2.0 if alpha == 2.0 else alpha / 3.0


class _Flow:
    def __init__(self, config: EscapeConfig, rows: int, like: torch.Tensor):
        self.dt = config.time_step
        self.noise_coef = config.noise_scale * self.dt ** (1.0 / config.tail_index)

    def step(self, theta, xi, k, c_left, c_right):
        theta.add_(basin_grad(theta, c_left, c_right), alpha=-self.dt).add_(xi, alpha=self.noise_coef)

    def select(self, index):
        pass

    def monitor_terms(self, theta, c_left, c_right):
        return None


class _SDE:
    """Euler scheme of eq. (3) whose dt -> 0 limit exists (see the module docstring)."""

    def __init__(self, config: EscapeConfig, member: str, rows: int, like: torch.Tensor):
        self.member = get_member(member)
        self.hyper = hyper_for(config)
        self.dt, self.lr, self.sigma = config.time_step, config.lr, config.noise_scale
        self.h = self.dt / self.lr  # iterations per step
        self.c1 = (1.0 - config.beta1) if self.member.momentum == "ema" else 1.0
        self.a1 = self.c1 * self.h if self.member.momentum == "ema" else 1.0  # no momentum: m = g
        self.a2 = (1.0 - config.beta2) * self.h
        self.noise_coef = config.upsilon * self.sigma * self.dt ** (1.0 / config.tail_index)
        self.grad_noise = self.sigma * self.h ** (1.0 / config.tail_index)  # sigma (dt/lr)^(1/alpha)
        self.beta1, self.alpha = config.beta1, config.tail_index
        self.m = torch.zeros_like(like)
        self.m_noisy = torch.zeros_like(like)
        self.state = State(0, self.m_noisy, torch.zeros_like(like) if self.member.adaptive else None,
                           torch.zeros_like(like) if self.member.max_v else None)

    def _iteration(self, k):
        return k * self.h

    def step(self, theta, xi, k, c_left, c_right):
        grad = basin_grad(theta, c_left, c_right)
        st = self.state
        # R_{t-}: the noise coefficient 1/R is taken before this step's update (a Levy SDE's
        # coefficient is taken before the jump; R depends on the noise). At the first step there is
        # no previous state (v = 0): that one step uses R after the update, as iteration 1 of the
        # optimizer does. The drift q m is deterministic and noise-free: q(t) is paired with the m(t)
        # it bias-corrects (both after the update), so at dt = lr, q m = m_k / (1 - b1^k).
        first = k == 1
        if not first:
            r_inv, _ = self._r_inv_q()
        noise = self.grad_noise * xi  # the gradient noise of this step: sigma dL / lr^(1/alpha)
        old_noisy = self.m_noisy.clone() if self.member.k == "belief" else None
        self.m.add_(grad - self.m, alpha=self.a1)
        self.m_noisy.add_(grad - self.m_noisy, alpha=self.a1).add_(noise, alpha=self.c1)
        st.step = self._iteration(k)
        if self.member.adaptive:
            root_h = math.sqrt(self.h)
            if self.member.k == "grad":  # (sqrt(h) grad f + noise)^2
                force = (root_h * grad + noise).square()
            elif self.member.k == "momentum":  # h m~^2 (m~ is already a continuous process)
                force = self.h * self.m_noisy.square()
            else:  # belief: b1^2 (sqrt(h) (grad f - m~_-) + noise)^2; at h = 1 this is (g~ - m~)^2
                force = (self.beta1 * (root_h * (grad - old_noisy) + noise)).square()
            st.v.mul_(1.0 - self.a2).add_(force, alpha=1.0 - self.hyper.beta2)
            if self.member.eps_mode in ("inside", "both"):
                st.v.add_(self.hyper.eps * self.h)
            if self.member.max_v:
                torch.maximum(st.v_max, st.v, out=st.v_max)
        r_now, q = self._r_inv_q()
        if first:
            r_inv = r_now
        theta.add_(q * self.dt * self.m * r_inv, alpha=-1.0).add_(xi * r_inv, alpha=self.noise_coef)

    def _r_inv_q(self):
        st = self.state
        q = 1.0 / (1.0 - self.beta1 ** st.step) if self.member.bias_correction and self.member.momentum == "ema" else 1.0
        denom = denominator(self.member, st, self.hyper)
        return (1.0 if denom is None else 1.0 / denom), q

    def select(self, index):
        self.m = self.m[index]
        self.state = self.state.select(index)
        self.m_noisy = self.state.m

    def monitor_terms(self, theta, c_left, c_right):
        r_inv, q = self._r_inv_q()
        return self.m, self.m_noisy, r_inv, q


class _Discrete:
    def __init__(self, config: EscapeConfig, member: str, rows: int, like: torch.Tensor):
        self.member = get_member(member)
        self.hyper = hyper_for(config)
        self.sigma, self.beta1 = config.noise_scale, config.beta1
        self.state = init_state(self.member, like)

    def step(self, theta, xi, k, c_left, c_right):
        step_(self.member, self.state, theta, basin_grad(theta, c_left, c_right) + self.sigma * xi, self.hyper)

    def select(self, index):
        step = self.state.step
        self.state = self.state.select(index)
        self.state.step = step

    def monitor_terms(self, theta, c_left, c_right):
        st = self.state
        use_bc = self.member.bias_correction and self.member.momentum == "ema"
        q = 1.0 / (1.0 - self.beta1 ** st.step) if use_bc else 1.0
        if self.member.momentum == "heavy-ball":
            q = 1.0 - self.beta1  # heavy ball m = sum b1^j g is 1/(1 - b1) times the EMA
        denom = denominator(self.member, st, self.hyper)
        r_inv = 1.0 if denom is None else 1.0 / denom
        return st.m, st.m, r_inv, q


def _make_dynamics(config: EscapeConfig, label: str, rows: int, like: torch.Tensor):
    if config.dynamics == "flow":
        return _Flow(config, rows, like)
    if config.dynamics == "sde":
        return _SDE(config, label, rows, like)
    return _Discrete(config, label, rows, like)


class _Monitor:
    """Accumulates, on the alive rows at every ``monitor_every`` steps, what the assumption checks
    and the plug-in prediction need (as tensors; converted once at the end)."""

    def __init__(self, config: EscapeConfig):
        self.alpha = config.tail_index
        self.p = a5_moment_order(self.alpha)
        self.steps: list[int] = []
        self.alive: list[torch.Tensor] = []
        self.m_moment: list[torch.Tensor] = []  # mean |m~|^p per coordinate (Assumption 5)
        self.negative: list[torch.Tensor] = []  # count of <grad f/(1+f), q R^-1 m> < 0 (Assumption 3)
        self.r_inv_alpha: list[torch.Tensor] = []  # mean R^-alpha per coordinate (plug-in rate)
        self.r_mean: list[torch.Tensor] = []  # mean R per coordinate
        self.r_min: list[torch.Tensor] = []
        self.r_max: list[torch.Tensor] = []

    def record(self, k, theta, alive, terms, c_left, c_right):
        m, m_noisy, r_inv, q = terms
        w = alive.to(theta.dtype).unsqueeze(-1)
        count = w.sum()
        denom = count.clamp(min=1.0)
        grad = basin_grad(theta, c_left, c_right)
        f = basin_value(theta, c_left, c_right)
        inner = ((grad / (1.0 + f).unsqueeze(-1)) * (q * m * r_inv)).sum(-1)
        r_inv = torch.as_tensor(r_inv, dtype=theta.dtype, device=theta.device).expand_as(theta)
        r = 1.0 / r_inv
        big = torch.finfo(theta.dtype).max
        self.steps.append(k)
        self.alive.append(count.squeeze())
        self.m_moment.append((m_noisy.abs().pow(self.p) * w).sum(0) / denom)
        self.negative.append(((inner < 0) & alive).sum())
        self.r_inv_alpha.append((r_inv.pow(self.alpha) * w).sum(0) / denom)
        self.r_mean.append((r * w).sum(0) / denom)
        self.r_min.append(torch.where(w > 0, r, big).amin(0))
        self.r_max.append(torch.where(w > 0, r, -big).amax(0))

    def result(self) -> dict | None:
        if not self.steps:
            return None
        to_np = (lambda xs: torch.stack(xs).double().cpu().numpy())
        alive = to_np(self.alive)
        keep = alive > 0
        return {
            "steps": np.asarray(self.steps)[keep],
            "alive": alive[keep],
            "moment_order_p": self.p,
            "m_moment": to_np(self.m_moment)[keep],
            "negative": to_np(self.negative)[keep],
            "r_inv_alpha": to_np(self.r_inv_alpha)[keep],
            "r_mean": to_np(self.r_mean)[keep],
            "r_min": to_np(self.r_min)[keep],
            "r_max": to_np(self.r_max)[keep],
        }


def simulate(config: EscapeConfig, label: str, noise=None, progress: bool = False) -> dict:
    """Run ``config.paths`` paths of ``config.dynamics`` for one optimizer ``label`` ("flow" for the
    flow) until they all escape or ``max_steps``. Returns exit times (horizon for censored paths),
    escape flags, monitor data, the path-steps computed and the wall time."""
    device = resolve_device(config.device)
    dtype = resolve_dtype(config.dtype)
    if noise is None:
        noise = FreshNoise(config.tail_index, generator(config.seed, device), device, dtype, config.compact_every)
    basin = config.basin
    n, d = config.paths, basin.dim
    c_left, c_right = basin.tensors(device, dtype)
    theta = torch.tensor(config.start_point, device=device, dtype=dtype).expand(n, d).clone()
    ids = torch.arange(n, device=device)
    exit_step = torch.zeros(n, dtype=torch.int64, device=device)  # 0: not escaped (yet)
    row_exit = torch.zeros(n, dtype=torch.int64, device=device)
    dyn = _make_dynamics(config, label, n, theta)
    monitor = _Monitor(config) if config.dynamics != "flow" else None
    path_steps = 0
    start = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.max_steps, desc=f"{config.dynamics}:{label}", unit="step", leave=False)
    k = 0
    warm = config.warmup
    start_row = theta[:1].clone()
    for kk in range(1, warm + config.max_steps + 1):
        xi = noise(kk, ids, d)
        dyn.step(theta, xi, kk, c_left, c_right)
        path_steps += theta.shape[0]
        out = ~inside(theta, basin)
        if kk <= warm:  # warm-up: moments reach their running regime; a path that leaves restarts
            theta.copy_(torch.where(out.unsqueeze(-1), start_row, theta))
            continue
        k = kk - warm
        row_exit = torch.where(out & (row_exit == 0), k, row_exit)
        if monitor is not None and k % config.monitor_every == 0:
            monitor.record(k, theta, row_exit == 0, dyn.monitor_terms(theta, c_left, c_right), c_left, c_right)
        if k % config.compact_every == 0 or k == config.max_steps:
            exit_step[ids] = row_exit
            keep = (row_exit == 0).nonzero().squeeze(-1)
            if bar is not None:
                bar.update(config.compact_every if k % config.compact_every == 0 else k % config.compact_every)
                bar.set_postfix(alive=int(keep.numel()))
            if keep.numel() == 0:
                break
            if keep.numel() < theta.shape[0]:
                theta, ids, row_exit = theta[keep], ids[keep], row_exit[keep]
                dyn.select(keep)
    if bar is not None:
        bar.close()
    exit_np = exit_step.cpu().numpy()
    escaped = exit_np > 0
    dt = config.time_step
    exit_time = np.where(escaped, exit_np * dt, config.horizon)
    return {
        "label": label,
        "exit_step": exit_np,
        "exit_time": exit_time,
        "escaped": escaped,
        "path_steps": int(path_steps),
        "steps_run": int(k),
        "seconds": time.perf_counter() - start,
        "monitor": monitor.result() if monitor is not None else None,
    }


def noise_free_direction_ratio(config: EscapeConfig, label: str, steps: int | None = None) -> float | None:
    """Assumption 3's ||m^_t|| >= tau ||grad f(theta^_t)|| on the noise-free solution (upsilon = 0,
    sigma = 0) from the same start: the smallest ratio ||m^_t|| / ||grad f(theta^_t)|| over t >= 1
    (None when the start is the minimum: both sides are 0)."""
    if config.dynamics == "flow":
        return None
    quiet = EscapeConfig(**{**{f: getattr(config, f) for f in config.__dataclass_fields__},
                            "noise_scale": 0.0, "paths": 2, "device": "cpu", "dtype": "float64"})
    device, dtype = torch.device("cpu"), torch.float64
    c_left, c_right = quiet.basin.tensors(device, dtype)
    theta = torch.tensor(quiet.start_point, dtype=dtype).expand(1, quiet.basin.dim).clone()
    if float(basin_grad(theta, c_left, c_right).norm()) == 0.0:
        return None
    dyn = _make_dynamics(quiet, label, 1, theta)
    zeros = torch.zeros_like(theta)
    ratio = math.inf
    for k in range(1, (steps or min(quiet.max_steps, 400)) + 1):  # no warm-up: the transient is the point
        dyn.step(theta, zeros, k, c_left, c_right)
        g = float(basin_grad(theta, c_left, c_right).norm())
        m = float(dyn.monitor_terms(theta, c_left, c_right)[0].norm())
        if g > 1e-12:
            ratio = min(ratio, m / g)
    return ratio if math.isfinite(ratio) else None
