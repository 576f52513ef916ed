"""Nonconvex gradient-norm decay against Theorem 2 and Corollary 2 (Section 4.2, Appendix C.2).

For each problem of :mod:`simulations.nonconvex_problems` and each family member, many seeds run
in one batch (all members stacked along the run dimension, one ``theory.family.step_`` call per
member and step). At every step t the exact gradient norm ||grad f(theta_{t-1})||^2 is recorded
at the point where g_t is drawn (the paper's theta_t, t in [T]). From it:

* ``min_{t<=T} E||grad f||^2``: the running minimum of the seed mean, with the interval
  [min_s lo_s, min_s hi_s] of the pointwise t-intervals (>= 95% coverage, see
  :mod:`simulations.nonconvex_verdicts`), against T on a log grid;
* the fitted power-law rate over T >= ``fit_from`` * steps (running minimum over the grid points,
  percentile bootstrap over seeds), next to the (1 + log T)/sqrt(T) envelope of Corollary 2;
* Theorem 2's right-hand side from the problem's L, H and the run's c, G (see
  :func:`theory.bounds.theorem2_rhs`) under both readings of the garbled constants, and its
  reading-independent floor (built from lower bounds of H and E[f(theta_1) - f*]);
* the monitors of :class:`theory.assumptions.Theorem2Monitor`.

Chen et al.'s framework x_{t+1} = x_t - alpha_t m_t / sqrt(v_t) is mapped onto each member by
alpha_t = the scheduled lr_t and sqrt(v_t) = lr_t / (effective stepsize), so v_t is the squared
denominator actually used (eps included where the member puts it); for SGDM (heavy ball)
m_t is the EMA (1 - b1) * buffer and v = (1 - b1)^2. The theorem analyses the method without bias
correction; that is the default here (``bias_correction=False``, alpha_t = lr/sqrt(t)).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from simulations import nonconvex_verdicts as verdicts
from simulations.nonconvex_problems import PROBLEMS, make_problem
from simulations.records import make_record
from simulations.runtime import generator, resolve_device, resolve_dtype
from theory.stats import fit_power_law
from theory.assumptions import Theorem2Monitor
from theory.family import REGISTRY, Hyper, effective_stepsize, get_member, init_state, step_

STEPSIZES = ("paper", "defossez")


@dataclass(frozen=True)
class NonconvexConfig:
    """One experiment: a problem, the members, the hyperparameters and the Monte Carlo size.

    ``lr`` None takes the problem's default. ``stepsize="defossez"`` runs Defossez et al.'s Adam
    stepsize a_t = lr sqrt(1 - b2^t) with constant lr and no bias correction (their iteration, eps
    moved outside the square root: see :func:`theory.bounds.defossez_adam_bound`).
    """

    problem: str = "robust-regression"
    optimizers: tuple = tuple(REGISTRY)
    lr: float | None = None
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    steps: int = 2000
    seeds: int = 32
    seed: int = 0
    lr_decay: str = "inverse-sqrt"
    bias_correction: bool = False
    stepsize: str = "paper"
    dtype: str = "float64"
    grid_points: int = 40
    level: float = 0.95
    fit_from: float = 0.01

    def __post_init__(self) -> None:
        if self.problem not in PROBLEMS:
            raise ValueError(f"problem must be one of {PROBLEMS}, got {self.problem!r}")
        if not self.optimizers:
            raise ValueError("optimizers must name at least one family member")
        for name in self.optimizers:
            get_member(name)
        if self.steps < 10:
            raise ValueError(f"steps must be >= 10, got {self.steps}")
        if self.seeds < 2:
            raise ValueError(f"seeds must be >= 2 (confidence intervals need two), got {self.seeds}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.stepsize not in STEPSIZES:
            raise ValueError(f"stepsize must be one of {STEPSIZES}, got {self.stepsize!r}")
        if not 0.0 < self.fit_from < 1.0:
            raise ValueError(f"fit_from must be in (0, 1), got {self.fit_from}")
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"level must be in (0, 1), got {self.level}")
        Hyper(lr=self.lr or 1.0, beta1=self.beta1, beta2=self.beta2, eps=self.eps, lr_decay=self.lr_decay)


def log_grid(steps: int, points: int) -> np.ndarray:
    """Distinct integers from 1 to ``steps``, log-spaced, always including both ends."""
    grid = np.unique(np.round(np.logspace(0, math.log10(steps), points)).astype(int))
    return grid[(grid >= 1) & (grid <= steps)]


def _hyper(config: NonconvexConfig, lr: float, t: int) -> Hyper:
    if config.stepsize == "defossez":
        eps_outside = math.sqrt((1 - config.beta2) * config.eps)
        return Hyper(lr=lr * math.sqrt(1 - config.beta2**t), beta1=config.beta1, beta2=config.beta2,
                     eps=eps_outside, bias_correction=False)
    return Hyper(lr=lr, beta1=config.beta1, beta2=config.beta2, eps=config.eps,
                 lr_decay=config.lr_decay, bias_correction=config.bias_correction)


def _c_prior(member, hyper: Hyper) -> float:
    """A lower bound on v_t known before the run (what min v >= c can rely on a priori)."""
    if not member.adaptive:
        return (1 - hyper.beta1) ** 2
    eps = float(hyper.eps)
    bound = {"inside": eps, "outside": eps**2, "both": (math.sqrt(eps) + eps) ** 2}[member.eps_mode]
    if member.bias_correction and hyper.bias_correction:
        bound *= (1 - float(hyper.beta1)) ** 2
    return max(bound, 1e-300)


def _framework(member, state, hyper: Hyper, t: int):
    """(alpha_t/sqrt(v_t), m_t as an EMA, alpha_t) in Chen et al.'s form for one member."""
    lr_t = hyper.lr_at(t)
    if member.adaptive:
        step = effective_stepsize(member, state, hyper)
        return step, state.m, lr_t
    b1 = float(hyper.beta1)
    return torch.full_like(state.m, lr_t / (1 - b1)), state.m * (1 - b1), lr_t


def framework_beta1(member, beta1: float) -> float:
    """b1 in Chen et al.'s form: 0 for members without momentum (RMSprop)."""
    return 0.0 if member.momentum == "none" else beta1


def simulate(config: NonconvexConfig, device: str = "auto", progress: bool = False) -> dict:
    """Run every member on one problem; return raw curves (numpy) and monitor outputs."""
    dev = resolve_device(device)
    if dev.type != "cpu":
        return _simulate(config, dev, progress)
    # The tensors are tiny: intra-op threads only add contention on a shared CPU (measured:
    # 7x slower with 2 threads under load), so run single-threaded and restore the setting.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _simulate(config, dev, progress)
    finally:
        torch.set_num_threads(threads)


def _simulate(config: NonconvexConfig, dev: torch.device, progress: bool) -> dict:
    dtype = resolve_dtype(config.dtype)
    problem = make_problem(config.problem)
    lr = config.lr or problem.default_lr
    members = [get_member(n) for n in config.optimizers]
    M, R, T = len(members), config.seeds, config.steps
    if config.stepsize == "defossez" and any(m.name not in ("adam", "adamw") for m in members):
        raise ValueError("stepsize='defossez' applies to adam only (set --optimizers adam)")

    theta = problem.init(M * R, dev, dtype)
    views = [theta[i * R:(i + 1) * R] for i in range(M)]
    states = [init_state(m, v) for m, v in zip(members, views)]
    gen = generator(config.seed, dev)
    hyper0 = _hyper(config, lr, 1)
    rtol = 1e-12 if dtype == torch.float64 else 1e-6
    H_monitor = problem.H if problem.H is not None else float("inf")
    # (1 - 1e-9): v equals the a-priori bound exactly for SGDM, up to rounding
    monitor = Theorem2Monitor(H_monitor, [_c_prior(m, hyper0) * (1 - 1e-9) for m in members], rtol)

    grid = log_grid(T, config.grid_points)
    grid_set = set(int(x) for x in grid)
    mean_curve = torch.empty((T, M), device=dev, dtype=dtype)
    var_curve = torch.empty((T, M), device=dev, dtype=dtype)
    snaps = {k: [] for k in ("min_v", "G", "H_run", "L_secant", "f_mean", "f_min", "outside", "max_grad",
                             "grad_sq_seeds")}
    L_secant = torch.zeros(M, device=dev, dtype=dtype)
    H_run = torch.zeros(M, device=dev, dtype=dtype)
    outside = torch.zeros(M, device=dev, dtype=torch.int64)
    f0 = problem.value(theta).view(M, R).mean(-1)
    prev_gf = prev_theta = None

    steps = range(1, T + 1)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc=f"nonconvex {config.problem}", unit="step", leave=False)
    for t in steps:
        hyper = _hyper(config, lr, t) if config.stepsize == "defossez" else hyper0
        g = problem.stochastic_grad(theta, gen)
        gf = problem.full_grad(theta)
        gn2 = (gf * gf).sum(-1)
        per = gn2.view(M, R)
        mean_curve[t - 1] = per.mean(-1)
        var_curve[t - 1] = per.var(-1)
        g_norm, gf_norm = g.norm(dim=-1), gn2.sqrt()
        H_t = problem.grad_bound(theta)
        if H_t is not None:
            H_run = torch.maximum(H_run, H_t.view(M, R).max(-1).values)
        if prev_gf is not None:
            moved = (theta - prev_theta).norm(dim=-1)
            ratio = torch.where(moved > 0, (gf - prev_gf).norm(dim=-1) / moved.clamp_min(1e-300),
                                torch.zeros_like(moved))
            L_secant = torch.maximum(L_secant, ratio.view(M, R).max(-1).values)
        prev_gf, prev_theta = gf, theta.clone()
        dom = problem.in_domain(theta)
        if dom is not None:
            outside += (~dom).view(M, R).sum(-1)
        step_sizes, ema = [], []
        for i, member in enumerate(members):
            step_(member, states[i], views[i], g[i * R:(i + 1) * R], hyper)
            step, m_ema, lr_t = _framework(member, states[i], hyper, t)
            step_sizes.append(step)
            ema.append(m_ema)
        step = torch.stack(step_sizes)  # (M, R, d)
        if t == 1:
            first_step_l1 = step.sum(-1).mean(-1)
        monitor.update(t, step, (hyper.lr_at(t) / step) ** 2, g_norm.view(M, R), gf_norm.view(M, R),
                       (step * torch.stack(ema)).norm(dim=-1),
                       [framework_beta1(m, hyper.beta1_at(t)) for m in members],
                       None if H_t is None else H_t.view(M, R))
        if t in grid_set:
            snaps["min_v"].append(monitor.acc["min_v"].clone())
            snaps["G"].append(monitor.acc["max_update"].clone())
            snaps["H_run"].append(H_run.clone())
            snaps["L_secant"].append(L_secant.clone())
            f_now = problem.value(theta).view(M, R)
            snaps["f_mean"].append(f_now.mean(-1))
            snaps["f_min"].append(f_now.min(-1).values)  # every observed f is >= f*
            # the smallest H valid for Assumption 4 is at least the largest norm seen so far
            snaps["max_grad"].append(torch.maximum(monitor.acc["max_grad"], monitor.acc["max_true_grad"]))
            # per-seed ||grad f(theta_{t-1})||^2 at the grid points: what the seed bootstrap of
            # the rate fit resamples (:func:`simulations.nonconvex_verdicts.bootstrap_slope`)
            snaps["grad_sq_seeds"].append(per.clone())
            snaps["outside"].append(outside.clone())
    to_np = (lambda x: torch.stack(x).cpu().double().numpy())
    return {
        "problem": problem, "members": members, "lr": lr, "grid": grid,
        "mean_curve": mean_curve.cpu().double().numpy(), "var_curve": var_curve.cpu().double().numpy(),
        "snaps": {k: to_np(v) for k, v in snaps.items()},
        "monitor": monitor, "f0": f0.cpu().double().numpy(),
        "first_step_l1": first_step_l1.cpu().double().numpy(), "device": str(dev),
    }


def run_problem(config: NonconvexConfig, device: str = "auto", progress: bool = False) -> dict:
    """Simulate, then analyse each member (curves, CIs, fit, right-hand sides, monitors)."""
    sim = simulate(config, device, progress)
    problem = sim["problem"]
    out = {"problem": problem.name, "config": config, "constants": problem.constants(), "lr": sim["lr"],
           "grid": sim["grid"], "device": sim["device"], "members": {}}
    for i, member in enumerate(sim["members"]):
        out["members"][member.name] = verdicts.analyse_member(config, sim, i)
    return out


def run_config(config: NonconvexConfig, device: str = "auto", progress: bool = False) -> dict:
    """One configuration as a full record (what ``amlab nonconvex`` writes)."""
    results = {"runs": [run_problem(config, device, progress)]}
    return make_record("nonconvex", config, results, seed=config.seed)


# ---- presets, the verify/report contract ---------------------------------------------------

SCALES = {
    "quick": {"steps": 2000, "seeds": 16, "grid_points": 30},
    "full": {"steps": 20000, "seeds": 64, "grid_points": 50},
}
PRESET_PROBLEMS = ("quadratic", "rosenbrock", "robust-regression", "mlp")


def preset_configs(scale: str = "quick") -> list[NonconvexConfig]:
    """The standard runs: every member in Theorem 2's setting on every problem, SGD on the
    quadratic calibration problem, and Defossez et al.'s Adam on the two problems with global L, H."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {tuple(SCALES)}, got {scale!r}")
    size = SCALES[scale]
    configs = []
    for problem in PRESET_PROBLEMS:
        if problem == "quadratic":
            # past the transient of x_0 (about 50 steps at lr 0.5) the decay is the t^(-1/2) of the noise
            configs.append(NonconvexConfig(problem=problem, optimizers=("sgdm",), beta1=0.0, seed=11,
                                           fit_from=0.05, **size))
        else:
            configs.append(NonconvexConfig(problem=problem, seed=11, **size))
    for problem in ("rosenbrock", "robust-regression"):
        configs.append(NonconvexConfig(problem=problem, optimizers=("adam",), lr_decay="constant",
                                       stepsize="defossez", seed=13, lr=0.002 if problem == "rosenbrock" else 0.01,
                                       **size))
    return configs


def run_scale(scale: str = "quick", device: str = "auto", progress: bool = False) -> dict:
    """All preset runs at ``scale`` as one record (fixed seeds: reproducible verdicts)."""
    configs = preset_configs(scale)
    runs = []
    for config in configs:
        runs.append(run_problem(config, device, progress))
    return make_record("nonconvex", {"scale": scale, "configs": configs}, {"runs": runs}, seed=11)


def ledger_rows(record: dict) -> list[dict]:
    """Claims-ledger rows (theorem-2, corollary-2, assumption-2, assumption-4) from a record."""
    return verdicts.ledger_rows(record)


__all__ = ["NonconvexConfig", "simulate", "run_problem", "run_config", "run_scale", "ledger_rows",
           "preset_configs", "log_grid", "fit_power_law", "replace"]
