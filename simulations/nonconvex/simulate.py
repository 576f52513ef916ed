"""The batched nonconvex simulation: update rules on one problem, many seeds, Theorem 2's monitors.

For each rule (:mod:`theory.rule`: a registry member, a torch optimizer, a user's rule) many seeds
run in one batch: all rules are stacked along the run dimension of one parameter tensor and one
generator draws every stochastic gradient, so each rule sees the noise of its own rows. Each step
calls ``rule.step`` once per rule on its rows. At every step t the exact gradient norm
||grad f(theta_{t-1})||^2 is recorded at the point where g_t is drawn (the paper's theta_t, t in [T]).

Chen et al.'s framework x_{t+1} = x_t - alpha_t m_t / sqrt(v_t) is mapped onto each rule by
alpha_t = the scheduled lr_t and sqrt(v_t) = lr_t / (effective stepsize), so v_t is the squared
denominator actually used (eps included where the method puts it); for heavy-ball momentum
(the ``sgdm`` member) m_t is the EMA (1 - b1) * buffer and v = (1 - b1)^2. This needs the
``effective_stepsize`` and ``first_moment`` read-outs: a rule without them (e.g. any torch
optimizer) still runs and its gradient norms are measured, but only Assumption 4's two norm checks
are monitored for it (:class:`GradientBoundMonitor`); the summary reports Theorem 2's other
hypotheses as unchecked with the reason.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from simulations.nonconvex.monitors import ChunkedTheorem2Monitor
from simulations.nonconvex.problems import make_problem
from simulations.runtime import generator, resolve_device, resolve_dtype
from theory.assumptions import MonitorResult, Theorem2Monitor
from theory.family import Hyper
from theory.rule import effective_stepsize, first_moment, member_of, notes, second_moment

# The registry members Defossez et al.'s Adam theorem applies to (--stepsize defossez).
DEFOSSEZ_MEMBERS = ("adam", "adamw")
SNAPSHOT_KEYS = ("min_v", "G", "H_run", "L_secant", "f_mean", "f_min", "outside", "max_grad", "grad_sq_seeds")


def log_grid(steps: int, points: int) -> np.ndarray:
    """Distinct integers from 1 to ``steps``, log-spaced, always including both ends."""
    grid = np.unique(np.round(np.logspace(0, math.log10(steps), points)).astype(int))
    return grid[(grid >= 1) & (grid <= steps)]


def hyper_at(config, lr: float, t: int) -> Hyper:
    """The hyperparameters of step t (they change with t only for ``stepsize="defossez"``)."""
    if config.stepsize == "defossez":
        eps_outside = math.sqrt((1 - config.beta2) * config.eps)
        return Hyper(lr=lr * math.sqrt(1 - config.beta2**t), beta1=config.beta1, beta2=config.beta2,
                     eps=eps_outside, bias_correction=False)
    return Hyper(lr=lr, beta1=config.beta1, beta2=config.beta2, eps=config.eps,
                 lr_decay=config.lr_decay, bias_correction=config.bias_correction)


def c_prior(rule, hyper: Hyper) -> float | None:
    """A lower bound on v_t known before the run (what min v >= c can rely on a priori).

    It follows from where a registry member puts eps (family structure, ``member_of``); None for
    a rule outside the registry, and for members whose stepsize is clipped or rectified (AdaBound,
    RAdam: their v_t = (lr_t / stepsize)^2 has no bound from eps alone): no a-priori bound.
    """
    member = member_of(rule)
    if member is None:
        return None
    if not member.adaptive:
        return (1 - hyper.beta1) ** 2
    if member.rectify or member.stepsize_clip != "none" or member.eps_mode not in ("inside", "outside", "both"):
        return None
    eps = float(hyper.eps)
    bound = {"inside": eps, "outside": eps**2, "both": (math.sqrt(eps) + eps) ** 2}[member.eps_mode]
    if member.bias_correction and hyper.bias_correction:
        bound *= (1 - float(hyper.beta1)) ** 2
    return max(bound, 1e-300)


def no_prior_reason(rule) -> str:
    """Why :func:`c_prior` gave no bound for ``rule``."""
    if member_of(rule) is None:
        return (f"no a-priori bound on v: {rule.name} is not a registry member (the bound follows from "
                f"where a member puts eps)")
    return f"no a-priori bound on v: {rule.name}'s stepsize is clipped or rectified, not a_t/sqrt(v_t)"


def framework(rule, state, hyper: Hyper, t: int):
    """(alpha_t/sqrt(v_t), m_t as an EMA, alpha_t) in Chen et al.'s form for one rule, or None
    when the rule lacks the ``effective_stepsize`` or ``first_moment`` read-out."""
    lr_t = hyper.lr_at(t)
    m = first_moment(rule, state)
    step = effective_stepsize(rule, state, hyper)
    if m is None or step is None:
        return None
    if second_moment(rule, state) is not None:
        return step, m, lr_t
    member = member_of(rule)
    if member is not None and member.momentum == "heavy-ball":
        b1 = float(hyper.beta1)
        return torch.full_like(m, lr_t / (1 - b1)), m * (1 - b1), lr_t
    if not isinstance(step, torch.Tensor) or step.shape != m.shape:
        step = torch.as_tensor(step, dtype=m.dtype, device=m.device).expand_as(m).clone()
    return step, m, lr_t


def framework_beta1(rule, beta1: float) -> float:
    """b1 in Chen et al.'s form: 0 for members without momentum (RMSprop); the configured b1 for
    every other rule (for a rule outside the registry: the b1 it was given)."""
    member = member_of(rule)
    return 0.0 if member is not None and member.momentum == "none" else beta1


def check_rules(config, rules) -> None:
    """Fail before any work on a rule the configuration cannot drive."""
    for rule in rules:
        if not (callable(getattr(rule, "init", None)) and callable(getattr(rule, "step", None))):
            raise TypeError(f"simulate() drives update rules (init/step, theory.rule), got {rule!r}; "
                            f"resolve names with theory.names.resolve_all")
    if config.stepsize == "defossez":
        for rule in rules:
            member = member_of(rule)
            if member is None or member.name not in DEFOSSEZ_MEMBERS:
                raise ValueError(f"stepsize='defossez' applies to Adam only (registry member "
                                 f"{' or '.join(DEFOSSEZ_MEMBERS)}); got {rule.name} (set --optimizers adam)")


class GradientBoundMonitor:
    """Assumption 4's norm checks ||g_t||_2 <= H and ||grad f(theta_t)||_2 <= H for G groups of runs
    whose rule lacks Theorem 2's read-outs (the counting of :class:`theory.assumptions.Theorem2Monitor`)."""

    TEXT = {"grad-bound": "||g_t||_2 <= H (Assumption 4)",
            "true-grad-bound": "||grad f(theta_t)||_2 <= H (Assumption 4)"}

    def __init__(self, H: float) -> None:
        self.H = float(H)
        self.acc = None

    def update(self, t: int, grad_norm, true_grad_norm, H_t=None) -> None:
        """Norms of shape (G, runs); ``H_t`` (G, runs) for a state-dependent bound."""
        if self.acc is None:
            G, dev = grad_norm.shape[0], grad_norm.device
            self.viol = {n: torch.zeros(G, dtype=torch.int64, device=dev) for n in self.TEXT}
            self.first = {n: torch.full((G,), -1, dtype=torch.int64, device=dev) for n in self.TEXT}
            self.checked = 0
            self.acc = {"max_grad": torch.zeros(G, dtype=grad_norm.dtype, device=dev),
                        "max_true_grad": torch.zeros(G, dtype=grad_norm.dtype, device=dev)}
        self.acc["max_grad"] = torch.maximum(self.acc["max_grad"], grad_norm.amax(1))
        self.acc["max_true_grad"] = torch.maximum(self.acc["max_true_grad"], true_grad_norm.amax(1))
        H = self.H if H_t is None else H_t
        for name, norm in (("grad-bound", grad_norm), ("true-grad-bound", true_grad_norm)):
            n_bad = (norm > H).sum(1)
            self.viol[name] += n_bad
            self.first[name] = torch.where((self.first[name] < 0) & (n_bad > 0), t, self.first[name])
        self.checked += grad_norm.shape[1]

    def results(self, group: int = 0) -> list[MonitorResult]:
        out = []
        for name, text in self.TEXT.items():
            viol = int(self.viol[name][group]) if self.acc is not None else 0
            first = int(self.first[name][group]) if self.acc is not None else -1
            out.append(MonitorResult(text, viol == 0, viol, self.checked if self.acc is not None else 0,
                                     first if first >= 0 else None, {"name": name}))
        return out

    def measured(self, group: int = 0) -> dict:
        """max ||g||, max ||grad f|| (the Theorem 2 quantities min v, max sqrt(v), G: None)."""
        a = self.acc
        return {"min_v": None, "max_sqrt_v": None, "max_grad_norm": float(a["max_grad"][group]),
                "max_true_grad_norm": float(a["max_true_grad"][group]), "G": None}


def simulate(config, rules, device: str = "auto", progress: bool = False, monitor_chunk: int = 64) -> dict:
    """Run every rule on the configured problem; return raw curves (numpy) and the monitors.

    ``rules`` are update rules (:func:`theory.names.resolve_all` turns names into them), one per
    entry of ``config.optimizers``, in that order. ``monitor_chunk``: Theorem 2's monitor reduces
    this many steps at once (:mod:`simulations.nonconvex.monitors`, the same counts and extremes);
    0 reduces every step (:class:`theory.assumptions.Theorem2Monitor`, the reference).
    """
    if isinstance(monitor_chunk, bool) or not isinstance(monitor_chunk, int) or monitor_chunk < 0:
        raise ValueError(f"Invalid monitor_chunk: {monitor_chunk!r}; valid range: an integer >= 0")
    rules = list(rules)
    check_rules(config, rules)
    dev = resolve_device(device)
    if dev.type != "cpu":
        return _simulate(config, rules, dev, progress, monitor_chunk)
    # The tensors are tiny: intra-op threads only add contention on a shared CPU (measured:
    # 7x slower with 2 threads under load), so run single-threaded and restore the setting.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _simulate(config, rules, dev, progress, monitor_chunk)
    finally:
        torch.set_num_threads(threads)


class _Batch:
    """The stacked runs of every rule and what is accumulated along them (see :func:`simulate`)."""

    def __init__(self, config, rules, dev: torch.device, monitor_chunk: int = 0):
        self.config, self.rules, self.monitor_chunk = config, rules, monitor_chunk
        self.problem = make_problem(config.problem)
        self.lr = config.lr or self.problem.default_lr
        self.dtype = resolve_dtype(config.dtype)
        M, R, T = len(rules), config.seeds, config.steps
        self.M, self.R, self.T = M, R, T
        self.theta = self.problem.init(M * R, dev, self.dtype)
        self.views = [self.theta[i * R:(i + 1) * R] for i in range(M)]
        self.hyper0 = hyper_at(config, self.lr, 1)
        self.states = [rule.init(view, self.hyper0) for rule, view in zip(rules, self.views)]
        self.gen = generator(config.seed, dev)
        self.grid = log_grid(T, config.grid_points)
        self.grid_set = set(int(x) for x in self.grid)
        self.mean_curve = torch.empty((T, M), device=dev, dtype=self.dtype)
        self.var_curve = torch.empty((T, M), device=dev, dtype=self.dtype)
        self.snaps = {k: [] for k in SNAPSHOT_KEYS}
        self.L_secant = torch.zeros(M, device=dev, dtype=self.dtype)
        self.H_run = torch.zeros(M, device=dev, dtype=self.dtype)
        self.outside = torch.zeros(M, device=dev, dtype=torch.int64)
        self.f0 = self.problem.value(self.theta).view(M, R).mean(-1)
        self.prev_gf = self.prev_theta = None
        self.framed = self.unframed = None  # rule indices with / without Theorem 2's read-outs
        self.monitor = self.grad_monitor = None
        self.first_step_l1 = None

    def observe(self):
        """Everything measured at theta_{t-1}, where g_t is drawn; returns the norms and H_t."""
        M, R, problem, theta = self.M, self.R, self.problem, self.theta
        g = problem.stochastic_grad(theta, self.gen)
        gf = problem.full_grad(theta)
        gn2 = (gf * gf).sum(-1)
        per = gn2.view(M, R)
        return g, gf, gn2, per

    def track(self, t: int, g, gf, gn2, per):
        """Curves and the trajectory's constants (H along the run, secant L, box exits) before step t."""
        M, R, theta = self.M, self.R, self.theta
        self.mean_curve[t - 1] = per.mean(-1)
        self.var_curve[t - 1] = per.var(-1)
        g_norm, gf_norm = g.norm(dim=-1), gn2.sqrt()
        H_t = self.problem.grad_bound(theta)
        if H_t is not None:
            self.H_run = torch.maximum(self.H_run, H_t.view(M, R).max(-1).values)
        if self.prev_gf is not None:
            moved = (theta - self.prev_theta).norm(dim=-1)
            ratio = torch.where(moved > 0, (gf - self.prev_gf).norm(dim=-1) / moved.clamp_min(1e-300),
                                torch.zeros_like(moved))
            self.L_secant = torch.maximum(self.L_secant, ratio.view(M, R).max(-1).values)
        self.prev_gf, self.prev_theta = gf, theta.clone()
        dom = self.problem.in_domain(theta)
        if dom is not None:
            self.outside += (~dom).view(M, R).sum(-1)
        return g_norm, gf_norm, H_t

    def step_rules(self, t: int, g, hyper: Hyper) -> list:
        """One step of every rule on its rows; Chen et al.'s quantities of the framed rules."""
        R = self.R
        for i, rule in enumerate(self.rules):
            rule.step(self.states[i], self.views[i], g[i * R:(i + 1) * R], hyper)
        if self.framed is None:  # decided once, after the first step: which rules have the read-outs
            frames = [framework(rule, self.states[i], hyper, t) for i, rule in enumerate(self.rules)]
            self.framed = [i for i, f in enumerate(frames) if f is not None]
            self.unframed = [i for i, f in enumerate(frames) if f is None]
            self._make_monitors(hyper)
            return [frames[i] for i in self.framed]
        frames = []
        for i in self.framed:
            frame = framework(self.rules[i], self.states[i], hyper, t)
            if frame is None:
                raise ValueError(f"{self.rules[i].name}: effective_stepsize/first_moment returned None "
                                   f"at step {t} after giving values at step 1")
            frames.append(frame)
        return frames

    def _make_monitors(self, hyper: Hyper) -> None:
        problem, dtype = self.problem, self.dtype
        rtol = 1e-12 if dtype == torch.float64 else 1e-6
        H_monitor = problem.H if problem.H is not None else float("inf")
        self.c_prior = [c_prior(rule, self.hyper0) for rule in self.rules]
        if self.framed:
            # (1 - 1e-9): v equals the a-priori bound exactly for SGDM, up to rounding
            cs = [(self.c_prior[i] if self.c_prior[i] is not None else 1e-300) * (1 - 1e-9) for i in self.framed]
            self.monitor = (ChunkedTheorem2Monitor(H_monitor, cs, rtol, self.monitor_chunk) if self.monitor_chunk
                            else Theorem2Monitor(H_monitor, cs, rtol))
        if self.unframed:
            self.grad_monitor = GradientBoundMonitor(H_monitor)

    def _rows(self, x, index):
        """The rows of the rules in ``index`` ((M, ...) tensor), no copy when that is every rule."""
        return x if len(index) == self.M else x[index]

    def monitor_step(self, t: int, frames: list, hyper: Hyper, g_norm, gf_norm, H_t) -> None:
        M, R = self.M, self.R
        H_groups = None if H_t is None else H_t.view(M, R)
        if self.framed:
            step = torch.stack([f[0] for f in frames])  # (F, R, d)
            ema = torch.stack([f[1] for f in frames])
            if t == 1:
                self.first_step_l1 = self._spread(step.sum(-1).mean(-1), None)
            pick = (lambda x: None if x is None else self._rows(x, self.framed))
            self.monitor.update(t, step, (hyper.lr_at(t) / step) ** 2, pick(g_norm.view(M, R)),
                                pick(gf_norm.view(M, R)), (step * ema).norm(dim=-1),
                                [framework_beta1(self.rules[i], hyper.beta1_at(t)) for i in self.framed],
                                pick(H_groups))
        elif t == 1:
            self.first_step_l1 = self._spread(None, None)
        if self.unframed:
            pick = (lambda x: None if x is None else self._rows(x, self.unframed))
            self.grad_monitor.update(t, pick(g_norm.view(M, R)), pick(gf_norm.view(M, R)), pick(H_groups))

    def _spread(self, framed_values, unframed_values):
        """A (M,) tensor from per-group values of the framed and unframed rules (NaN where none)."""
        if framed_values is not None and len(self.framed) == self.M:
            return framed_values.clone()
        ref = self.L_secant
        out = torch.full((self.M,), float("nan"), dtype=ref.dtype, device=ref.device)
        if framed_values is not None:
            out[self.framed] = framed_values.to(ref.dtype)
        if unframed_values is not None:
            out[self.unframed] = unframed_values.to(ref.dtype)
        return out

    def _max_grad(self):
        """Per rule, the largest ||g|| and ||grad f|| so far (every valid H is at least this)."""
        if self.framed and len(self.framed) == self.M:
            return torch.maximum(self.monitor.acc["max_grad"], self.monitor.acc["max_true_grad"])
        framed = (torch.maximum(self.monitor.acc["max_grad"], self.monitor.acc["max_true_grad"])
                  if self.framed else None)
        unframed = (torch.maximum(self.grad_monitor.acc["max_grad"], self.grad_monitor.acc["max_true_grad"])
                    if self.unframed else None)
        return self._spread(framed, unframed)

    def flush(self) -> None:
        """Reduce what a chunked monitor holds (before anything reads its accumulators)."""
        if isinstance(self.monitor, ChunkedTheorem2Monitor):
            self.monitor.flush()

    def snapshot(self, per) -> None:
        """The quantities of a grid point T (after step T)."""
        self.flush()
        M, R, snaps = self.M, self.R, self.snaps
        acc = self.monitor.acc if self.framed else {}
        snaps["min_v"].append(self._spread(acc.get("min_v"), None))
        snaps["G"].append(self._spread(acc.get("max_update"), None))
        snaps["H_run"].append(self.H_run.clone())
        snaps["L_secant"].append(self.L_secant.clone())
        f_now = self.problem.value(self.theta).view(M, R)
        snaps["f_mean"].append(f_now.mean(-1))
        snaps["f_min"].append(f_now.min(-1).values)  # every observed f is >= f*
        # the smallest H valid for Assumption 4 is at least the largest norm seen so far
        snaps["max_grad"].append(self._max_grad())
        # per-seed ||grad f(theta_{t-1})||^2 at the grid points: what the seed bootstrap of
        # the rate fit resamples (:func:`simulations.nonconvex.summary.bootstrap_slope`)
        snaps["grad_sq_seeds"].append(per.clone())
        snaps["outside"].append(self.outside.clone())

    def monitor_of(self) -> list:
        """Per rule: ("theorem-2", Theorem2Monitor, group) or ("gradient", GradientBoundMonitor, group)."""
        out = [None] * self.M
        for g, i in enumerate(self.framed):
            out[i] = ("theorem-2", self.monitor, g)
        for g, i in enumerate(self.unframed):
            out[i] = ("gradient", self.grad_monitor, g)
        return out


def _simulate(config, rules, dev: torch.device, progress: bool, monitor_chunk: int = 0) -> dict:
    batch = _Batch(config, rules, dev, monitor_chunk)
    steps = range(1, batch.T + 1)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc=f"nonconvex {config.problem}", unit="step", leave=False)
    for t in steps:
        hyper = hyper_at(config, batch.lr, t) if config.stepsize == "defossez" else batch.hyper0
        g, gf, gn2, per = batch.observe()
        g_norm, gf_norm, H_t = batch.track(t, g, gf, gn2, per)
        frames = batch.step_rules(t, g, hyper)
        batch.monitor_step(t, frames, hyper, g_norm, gf_norm, H_t)
        if t in batch.grid_set:
            batch.snapshot(per)
    batch.flush()
    to_np = (lambda x: torch.stack(x).cpu().double().numpy())
    return {
        "problem": batch.problem, "rules": rules, "lr": batch.lr, "grid": batch.grid,
        "mean_curve": batch.mean_curve.cpu().double().numpy(), "var_curve": batch.var_curve.cpu().double().numpy(),
        "snaps": {k: to_np(v) for k, v in batch.snaps.items()},
        "monitor": batch.monitor, "monitor_of": batch.monitor_of(), "c_prior": batch.c_prior,
        "f0": batch.f0.cpu().double().numpy(), "first_step_l1": batch.first_step_l1.cpu().double().numpy(),
        "device": str(dev), "rule_notes": {rule.name: notes(rule, batch.hyper0) for rule in rules},
    }
