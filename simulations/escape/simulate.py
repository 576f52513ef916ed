"""Batched escape-time simulators: ``flow``, ``sde`` (eq. (3)) and ``discrete`` (any update rule).

All paths advance together as rows of one tensor. Escaped rows are dropped every
``compact_every`` steps (the rule's ``select`` for optimizer state, :func:`theory.rule.select`;
a rule without one is not compacted: its escaped rows keep stepping, ignored), so the cost
follows the total time alive, not paths x max_steps; between compactions an escaped row is
frozen in the record (its exit step is written once) and its further values are ignored. The
escape test runs every step on the grid t_k = k dt (an Euler scheme monitored on its grid, which
misses excursions inside a step: the time-step bias documented in docs/escape.md).

Dynamics (time in the SDE's units; see :mod:`simulations.escape.problems`):

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
  The sde is written for the family of eq. (2): it needs a registry member (``theory.rule.member_of``)
  whose structure it knows (:func:`sde_unsupported` says why a rule cannot run it).
* ``discrete``: ``rule.step`` (any :class:`theory.rule.UpdateRule`; a registry member is exactly
  :func:`theory.family.step_`) with g = grad f(theta) + sigma zeta; dt = lr.

Monitor terms (m, R^-1, q of Assumption 3 and the plug-in rate): m is the ``first_moment``
read-out; for a registry member whose step is eq. (2)'s a_t q m / R, R and q come from the member's
structure (R = denom_t, q the bias correction 1/(1 - b1^t), q = 1 - b1 for heavy ball); for any
other rule (AdaBound's clip and RAdam's rectification included) q R^-1 = ``effective_stepsize`` / lr
(q = 1, the bias correction folded into R). Without the read-outs
those terms are missing and the checks that need them report ``unchecked``.

``warmup`` steps run first without the clock (a path that leaves is put back at the start), so the
moments are in their running regime when the clock starts, as Lemma 1 and the proof of
Proposition 1 assume ("t large"); without it, AdaMomentum's small early v makes it leave during the
transient.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from simulations.escape import native as escape_native
from simulations.escape.problems import basin_grad, basin_value, inside
from simulations.levy import native_draw, native_draw_applies, symmetric_stable_transposed
from simulations.runtime import generator, resolve_device, resolve_dtype
from theory.family import Hyper, Member, State, denominator
from theory.names import resolve
from theory.rule import effective_stepsize, first_moment, member_of
from theory.rule import select as select_runs

if TYPE_CHECKING:
    from simulations.escape.experiment import EscapeConfig


class FreshNoise:
    """Fresh i.i.d. unit symmetric alpha-stable noise for the rows alive now, drawn ``block`` steps
    at a time (one sampler call per block instead of per step; the simulator compacts rows only at
    block boundaries, so the row count is fixed within a block)."""

    def __init__(self, alpha: float, gen: torch.Generator, device: torch.device, dtype: torch.dtype,
                 block: int = 1):
        self.alpha, self.gen, self.device, self.dtype, self.block = alpha, gen, device, dtype, block
        self._cache = None
        self._buffer = None  # reused from block to block (each step's slice is used within its step)

    def __call__(self, step: int, ids: torch.Tensor, dim: int) -> torch.Tensor:
        j = (step - 1) % self.block
        if j == 0 or self._cache is None or self._cache.shape[1] != ids.numel():
            n = ids.numel() * self.block * dim
            if self._buffer is None or self._buffer.numel() < n:
                self._buffer = torch.empty(n, device=self.device, dtype=self.dtype)
            # step-major, so each step's noise is contiguous (a row-major slice [:, j] touches one
            # cache line per row); the same values as drawn, (rows, block, dim) transposed
            self._cache = symmetric_stable_transposed(self.alpha, ids.numel(), self.block, dim, generator=self.gen,
                                                      device=self.device, dtype=self.dtype, out=self._buffer[:n])
        return self._cache[j]

    def native_blocks(self) -> bool:
        """Whether :meth:`plan` can hand a block's draw to a native kernel."""
        return native_draw_applies(self.alpha, self.gen, self.dtype)

    def plan(self, step: int, rows: int, dim: int):
        """For a native block of steps from ``step`` on: (j0, draw, buffer). ``draw`` (where
        ``__call__`` would draw a block now): the draw for the kernel to make, chunk by chunk, into
        ``buffer`` (cols, rows, dim); None: the block drawn before goes on, its columns from j0 on are
        in ``buffer``. Either way the generator ends where ``__call__`` leaves it."""
        j = (step - 1) % self.block
        n = rows * self.block * dim
        draw = None
        if j == 0 or self._cache is None or self._cache.shape[1] != rows:
            if self._buffer is None or self._buffer.numel() < n:
                self._buffer = torch.empty(n, device=self.device, dtype=self.dtype)
            draw = native_draw(self.alpha, n, self.gen, self.dtype)
        self._cache = self._buffer[:n].view(self.block, rows, dim)
        return j, draw, self._cache


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


# The Member fields the sde below implements, and the values of each it knows.
SDE_FORMS = {"k": ("grad", "momentum", "belief", "none"), "momentum": ("ema", "none"),
             "eps_mode": ("outside", "inside", "both", "none")}
SDE_FIELDS = {"name", "summary", "bias_correction", "max_v", "decoupled_weight_decay", *SDE_FORMS}


def sde_unsupported(rule: Any) -> str | None:
    """Why ``rule`` cannot run the eq. (3) sde (None: it can). Eq. (3) is written for the family of
    eq. (2), so it needs a registry member, with a momentum EMA or none (heavy ball has no eq. (3)
    form) and only the family structure implemented here (a member field this sde does not know,
    set away from its default, is refused rather than ignored)."""
    member = member_of(rule)
    name = getattr(rule, "name", repr(rule))
    if member is None:
        return (f"--dynamics sde (eq. (3)) needs a registry member of the family; got {name} "
                f"(--dynamics discrete runs any optimizer)")
    if member.momentum == "heavy-ball":
        return f"{member.name} (heavy-ball) has no eq. (3) form; use dynamics=discrete"
    for key, known in SDE_FORMS.items():
        if getattr(member, key) not in known:
            return f"{member.name}: {key}={getattr(member, key)!r} has no eq. (3) form here; use dynamics=discrete"
    for f in dataclasses.fields(Member):
        if f.name not in SDE_FIELDS and f.default is not dataclasses.MISSING and getattr(member, f.name) != f.default:
            return (f"{member.name}: {f.name}={getattr(member, f.name)!r} is not part of the eq. (3) sde here; "
                    f"use dynamics=discrete")
    return None


class _Flow:
    def __init__(self, config: EscapeConfig, rows: int, like: torch.Tensor):
        self.dt = config.time_step
        self.noise_coef = config.noise_scale * self.dt ** (1.0 / config.tail_index)

    def step(self, theta, xi, k, c_left, c_right):
        theta.add_(basin_grad(theta, c_left, c_right), alpha=-self.dt).add_(xi, alpha=self.noise_coef)

    def select(self, index) -> bool:
        return True

    def monitor_terms(self, theta, c_left, c_right):
        return None


class _SDE:
    """Euler scheme of eq. (3) whose dt -> 0 limit exists (see the module docstring)."""

    def __init__(self, config: EscapeConfig, rule: Any, rows: int, like: torch.Tensor):
        rule = resolve(rule)  # a name or a rule
        reason = sde_unsupported(rule)
        if reason:
            raise ValueError(f"optimizers: {reason}")
        self.member = member_of(rule)
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

    def select(self, index) -> bool:
        self.m = self.m[index]
        self.state = self.state.select(index)
        self.m_noisy = self.state.m
        return True

    def monitor_terms(self, theta, c_left, c_right):
        r_inv, q = self._r_inv_q()
        return self.m, self.m_noisy, r_inv, q


class _Discrete:
    """The optimizer itself: ``rule.step`` on g = grad f(theta) + sigma zeta (dt = lr). ``native``:
    a plain registry member on the CPU steps in one native call (:mod:`simulations.escape.native`,
    bit for bit this torch path); ``native_reason`` says why not where it does not."""

    def __init__(self, config: EscapeConfig, rule: Any, rows: int, like: torch.Tensor, native: bool = True):
        self.rule = rule = resolve(rule)  # a name or a rule
        member = member_of(rule)
        # R and q from the structure only where the step is eq. (2)'s a_t q m / R (not AdaBound's clip
        # or RAdam's rectification: there the effective_stepsize read-out is the one that is right)
        plain = member is not None and not getattr(member, "rectify", False) \
            and getattr(member, "stepsize_clip", "none") == "none"
        self.member = member if plain else None
        self.hyper = hyper_for(config)
        self.sigma, self.beta1 = config.noise_scale, config.beta1
        self.state = rule.init(like, self.hyper)
        self.compacts = True  # False once the rule turned out to have no select()
        self.native_reason = escape_native.unsupported(rule, self.hyper, like.device, like.dtype, like.shape[-1]) \
            if native else "native=False"
        self.native = None if self.native_reason else \
            escape_native.DiscreteStep(rule, self.hyper, self.sigma, config.basin, like.dtype)

    def step(self, theta, xi, k, c_left, c_right):
        self.rule.step(self.state, theta, basin_grad(theta, c_left, c_right) + self.sigma * xi, self.hyper)

    def select(self, index) -> bool:
        """Keep the runs ``index``; False (nothing changed) for a rule that cannot select runs."""
        if not self.compacts:
            return False
        try:
            self.state = select_runs(self.rule, self.state, index)
        except NotImplementedError:
            self.compacts = False
        return self.compacts

    def monitor_terms(self, theta, c_left, c_right):
        st = self.state
        m = first_moment(self.rule, st)
        if self.member is None:  # q R^-1 from the read-out: effective_stepsize = a_t q R^-1, a_t = lr
            eff = effective_stepsize(self.rule, st, self.hyper)
            return (m, m, None, None) if eff is None else (m, m, eff / self.hyper.lr, 1.0)
        denom = denominator(self.member, st, self.hyper)
        r_inv = 1.0 if denom is None else 1.0 / denom
        return m, m, r_inv, self.monitor_q(st.step)

    def monitor_q(self, step: int) -> float:
        """q of eq. (2) at ``step`` (the bias correction of m; a plain member)."""
        use_bc = self.member.bias_correction and self.member.momentum == "ema"
        q = 1.0 / (1.0 - self.beta1 ** step) if use_bc else 1.0
        if self.member.momentum == "heavy-ball":
            q = 1.0 - self.beta1  # heavy ball m = sum b1^j g is 1/(1 - b1) times the EMA
        return q


def _make_dynamics(config: EscapeConfig, rule: Any, rows: int, like: torch.Tensor, native: bool = True):
    if config.dynamics == "flow":
        return _Flow(config, rows, like)
    if config.dynamics == "sde":
        return _SDE(config, rule, rows, like)
    return _Discrete(config, rule, rows, like, native)


# Why a monitor series is missing (the checks that need it report "unchecked" with this reason).
MISSING_FIRST_MOMENT = "the rule has no first_moment read-out (m)"
MISSING_STEPSIZE = "the rule has no effective_stepsize read-out (q R^-1 = effective stepsize / lr)"


class _Monitor:
    """Accumulates, on the alive rows at every ``monitor_every`` steps, what the assumption checks
    and the plug-in prediction need (as tensors; converted once at the end). A term the rule does
    not expose (None) leaves its series empty; ``missing`` says why."""

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
        self.missing: dict[str, str] = {}

    def record(self, k, theta, alive, terms, c_left, c_right):
        m, m_noisy, r_inv, q = terms
        w = alive.to(theta.dtype).unsqueeze(-1)
        count = w.sum()
        denom = count.clamp(min=1.0)
        self.steps.append(k)
        self.alive.append(count.squeeze())
        if m is not None and r_inv is not None:
            grad = basin_grad(theta, c_left, c_right)
            f = basin_value(theta, c_left, c_right)
            inner = ((grad / (1.0 + f).unsqueeze(-1)) * (q * m * r_inv)).sum(-1)
            self.negative.append(((inner < 0) & alive).sum())
        if m_noisy is not None:
            self.m_moment.append((m_noisy.abs().pow(self.p) * w).sum(0) / denom)
        else:
            self.missing.setdefault("first_moment", MISSING_FIRST_MOMENT)
        if r_inv is None:
            self.missing.setdefault("effective_stepsize", MISSING_STEPSIZE)
            return
        r_inv = torch.as_tensor(r_inv, dtype=theta.dtype, device=theta.device).expand_as(theta)
        r = 1.0 / r_inv
        big = torch.finfo(theta.dtype).max
        self.r_inv_alpha.append((r_inv.pow(self.alpha) * w).sum(0) / denom)
        self.r_mean.append((r * w).sum(0) / denom)
        self.r_min.append(torch.where(w > 0, r, big).amin(0))
        self.r_max.append(torch.where(w > 0, r, -big).amax(0))

    def record_sums(self, k: int, sums: torch.Tensor, dtype: torch.dtype, dim: int) -> None:
        """:meth:`record` from the native block's sums at step k (a float64 row: alive count, negative
        count, then per coordinate sum |m~|^p, sum R^-alpha, sum R, min R, max R over the alive rows):
        each mean divided in ``dtype`` as ``record`` divides it."""
        part = [sums[2 + i * dim:2 + (i + 1) * dim].to(dtype) for i in range(5)]
        count = sums[0].to(dtype)
        denom = count.clamp(min=1.0)
        self.steps.append(k)
        self.alive.append(count)
        self.negative.append(sums[1].to(torch.int64))
        self.m_moment.append(part[0] / denom)
        self.r_inv_alpha.append(part[1] / denom)
        self.r_mean.append(part[2] / denom)
        self.r_min.append(part[3])
        self.r_max.append(part[4])

    def result(self) -> dict | None:
        """The series at the checked times with paths alive; a missing series is None."""
        if not self.steps:
            return None
        alive = torch.stack(self.alive).double().cpu().numpy()
        keep = alive > 0

        def series(xs):
            return torch.stack(xs).double().cpu().numpy()[keep] if xs else None

        return {
            "steps": np.asarray(self.steps)[keep],
            "alive": alive[keep],
            "moment_order_p": self.p,
            "m_moment": series(self.m_moment),
            "negative": series(self.negative),
            "r_inv_alpha": series(self.r_inv_alpha),
            "r_mean": series(self.r_mean),
            "r_min": series(self.r_min),
            "r_max": series(self.r_max),
            "missing": dict(self.missing),
        }


class _Paths:
    """The alive rows of one simulation: positions, path ids, exit steps, dynamics and monitor."""

    def __init__(self, config: EscapeConfig, rule: Any, noise, native: bool = True):
        device = resolve_device(config.device)
        dtype = resolve_dtype(config.dtype)
        if noise is None:
            noise = FreshNoise(config.tail_index, generator(config.seed, device), device, dtype, config.compact_every)
        self.config, self.noise = config, noise
        n, self.dim = config.paths, config.basin.dim
        self.c_left, self.c_right = config.basin.tensors(device, dtype)
        self.theta = torch.tensor(config.start_point, device=device, dtype=dtype).expand(n, self.dim).clone()
        self.ids = torch.arange(n, device=device)
        self.exit_step = torch.zeros(n, dtype=torch.int64, device=device)  # 0: not escaped (yet)
        self.row_exit = torch.zeros(n, dtype=torch.int64, device=device)
        self.dyn = _make_dynamics(config, rule, n, self.theta, native)
        self.monitor = _Monitor(config) if config.dynamics != "flow" else None
        self.start_row = self.theta[:1].clone()
        self.path_steps = 0
        # native blocks: many steps per call, the noise drawn inside (native=True, the default)
        self.blocks = native is True and getattr(self.dyn, "native", None) is not None \
            and self.dyn.member is not None and isinstance(noise, FreshNoise) and noise.native_blocks()

    def step(self, kk: int, k: int) -> None:
        """Step ``kk`` of every row (counting the warm-up); then, at step ``k`` >= 1 of the clock, the
        first exits, and in the warm-up (k <= 0) a path that left is put back at the start (the clock
        has not started). The native step does all of it in one call where it applies."""
        xi = self.noise(kk, self.ids, self.dim)
        self.path_steps += self.theta.shape[0]
        native = getattr(self.dyn, "native", None)
        if native is not None and native(self.dyn.state, self.theta, xi, max(k, 0), self.row_exit, self.start_row,
                                         self.c_left, self.c_right):
            return
        self.dyn.step(self.theta, xi, kk, self.c_left, self.c_right)
        out = ~inside(self.theta, self.config.basin)
        if k <= 0:
            self.theta.copy_(torch.where(out.unsqueeze(-1), self.start_row, self.theta))
        else:
            self.row_exit = torch.where(out & (self.row_exit == 0), k, self.row_exit)

    def segment_end(self, kk: int, last: int) -> int:
        """The last step of the segment from ``kk``: the next compaction, the end of the noise
        block (the next step draws afresh) or ``last``, whichever comes first."""
        warm, every = self.config.warmup, self.config.compact_every
        block = self.noise.block if isinstance(self.noise, FreshNoise) else every
        end = kk
        while end < last and end % block != 0 and not (end > warm and (end - warm) % every == 0):
            end += 1
        return end

    def advance(self, kk0: int, kk1: int) -> None:
        """Steps kk0 .. kk1 (counting the warm-up) with their monitors, one native block call where
        it applies, else step by step."""
        warm = self.config.warmup
        if not self.blocks:
            for kk in range(kk0, kk1 + 1):
                self.step(kk, kk - warm)
                if kk > warm:
                    self.monitor_at(kk - warm)
            return
        rows = self.theta.shape[0]
        j0, draw, buffer = self.noise.plan(kk0, rows, self.dim)
        clocks = [max(kk - warm, 0) for kk in range(kk0, kk1 + 1)]
        monitor, ks = None, []
        if self.monitor is not None:
            slots, qs = [], []
            for s, k in enumerate(kk - warm for kk in range(kk0, kk1 + 1)):
                watched = k > 0 and k % self.config.monitor_every == 0
                slots.append(len(ks) if watched else -1)
                qs.append(self.dyn.monitor_q(self.dyn.state.step + 1 + s) if watched else 0.0)
                if watched:
                    ks.append(k)
            if ks:
                monitor = (slots, qs, self.monitor.p, self.monitor.alpha, int(self.dyn.member.adaptive))
        sums = self.dyn.native.block(self.dyn.state, self.theta, clocks, j0, buffer, draw, self.row_exit,
                                     self.start_row, self.c_left, self.c_right, monitor)
        self.path_steps += rows * len(clocks)
        for k, row in zip(ks, sums if sums is not None else ()):
            self.monitor.record_sums(k, row, self.theta.dtype, self.dim)

    def monitor_at(self, k: int) -> None:
        """The monitor, every ``monitor_every`` steps of the clock."""
        if self.monitor is not None and k % self.config.monitor_every == 0:
            terms = self.dyn.monitor_terms(self.theta, self.c_left, self.c_right)
            self.monitor.record(k, self.theta, self.row_exit == 0, terms, self.c_left, self.c_right)

    def compact(self) -> int:
        """Write the exit steps and drop the escaped rows (where the dynamics can); rows alive."""
        self.exit_step[self.ids] = self.row_exit
        keep = (self.row_exit == 0).nonzero().squeeze(-1)
        if 0 < keep.numel() < self.theta.shape[0] and self.dyn.select(keep):
            self.theta, self.ids, self.row_exit = self.theta[keep], self.ids[keep], self.row_exit[keep]
        return int(keep.numel())


def simulate(config: EscapeConfig, optimizer: Any = "flow", noise=None, progress: bool = False,
             native: bool | str = True) -> dict:
    """Run ``config.paths`` paths of ``config.dynamics`` for one optimizer (a name or an update rule;
    ignored by the flow) until they all escape or ``max_steps``. Returns exit times (horizon for
    censored paths), escape flags, monitor data, the path-steps computed and the wall time.

    ``native`` (the discrete dynamics of a plain registry member on the CPU): True, native blocks of
    steps with the noise drawn inside (:meth:`DiscreteStep.block`) where the native sampler applies,
    else the native step; ``"step"``, one native call per step (the blocks' reference: the same exit
    steps and path-steps, the monitor's sums to rounding); False, the torch path (the native step's
    reference, bit for bit)."""
    if native not in (True, False, "step"):
        raise ValueError(f"native must be True, False or 'step', got {native!r}")
    rule = None if config.dynamics == "flow" else resolve(optimizer)
    label = "flow" if rule is None else rule.name
    paths = _Paths(config, rule, noise, native)
    start = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.max_steps, desc=f"{config.dynamics}:{label}", unit="step", leave=False)
    k = 0
    warm, every = config.warmup, config.compact_every
    kk, last = 1, warm + config.max_steps
    while kk <= last:  # in the warm-up the moments reach their running regime
        end = paths.segment_end(kk, last)
        paths.advance(kk, end)
        kk = end + 1
        if end <= warm:
            continue
        k = end - warm
        if k % every == 0 or k == config.max_steps:
            alive = paths.compact()
            if bar is not None:
                bar.update(every if k % every == 0 else k % every)
                bar.set_postfix(alive=alive)
            if alive == 0:
                break
    if bar is not None:
        bar.close()
    exit_np = paths.exit_step.cpu().numpy()
    escaped = exit_np > 0
    return {
        "label": label,
        "exit_step": exit_np,
        "exit_time": np.where(escaped, exit_np * config.time_step, config.horizon),
        "escaped": escaped,
        "path_steps": int(paths.path_steps),
        "steps_run": int(k),
        "seconds": time.perf_counter() - start,
        "monitor": paths.monitor.result() if paths.monitor is not None else None,
    }


def noise_free_direction_ratio(config: EscapeConfig, optimizer: Any, steps: int | None = None) -> float | None:
    """Assumption 3's ||m^_t|| >= tau ||grad f(theta^_t)|| on the noise-free solution (upsilon = 0,
    sigma = 0) from the same start: the smallest ratio ||m^_t|| / ||grad f(theta^_t)|| over t >= 1
    (None when the start is the minimum: both sides are 0, or when the rule has no first moment)."""
    if config.dynamics == "flow":
        return None
    quiet = dataclasses.replace(config, noise_scale=0.0, paths=2, device="cpu", dtype="float64")
    device, dtype = torch.device("cpu"), torch.float64
    c_left, c_right = quiet.basin.tensors(device, dtype)
    theta = torch.tensor(quiet.start_point, dtype=dtype).expand(1, quiet.basin.dim).clone()
    if float(basin_grad(theta, c_left, c_right).norm()) == 0.0:
        return None
    dyn = _make_dynamics(quiet, resolve(optimizer), 1, theta)
    zeros = torch.zeros_like(theta)
    ratio = math.inf
    for k in range(1, (steps or min(quiet.max_steps, 400)) + 1):  # no warm-up: the transient is the point
        dyn.step(theta, zeros, k, c_left, c_right)
        g = float(basin_grad(theta, c_left, c_right).norm())
        m = dyn.monitor_terms(theta, c_left, c_right)[0]
        if m is None:
            return None
        if g > 1e-12:
            ratio = min(ratio, float(m.norm()) / g)
    return ratio if math.isfinite(ratio) else None
