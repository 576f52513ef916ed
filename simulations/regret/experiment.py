"""The regret experiment: configs, presets, ``run``, ``run_scale`` and ``ledger_rows``.

Pure compute: returns records, never prints or plots (:func:`write_outputs`, re-exported from
:mod:`simulations.regret.figures`, writes them). Theorem 1 is about the method WITHOUT bias
correction; presets record ``bias_correction`` and the verdict rows use only runs without it (the
bias-corrected ones are reported alongside). Every method is a name (or an update rule):
registry members, plugins or ``module.path:Attribute[:key=value...]`` (:mod:`theory.names`).

The standard presets run, on Reddi et al.'s problems and the sparse linear one, Adam and AMSGrad
(the methods Reddi et al.'s result is about), the baseline, the subject and ``adamomentum-max``;
on the remaining ones the subject and ``adamomentum-max`` (:func:`member_lists`). With the
default subject and baseline these are exactly the members the presets have always run.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

from simulations.checkpoints import NO_CHECKPOINTS, UnitStore
from simulations.records import make_record
from simulations.regret.figures import write_outputs  # noqa: F401  (the experiment's output writer)
from simulations.regret.problems import ProblemConfig
from simulations.regret.search import SEARCH_SIZES, replay, search as counterexample_search
from simulations.regret.simulate import OptimizerConfig, simulate
from simulations.regret.summary import REDDI_CONVERGENT, REDDI_DIVERGENT, reddi_reproduction, summarise
from simulations.regret.verdicts import (DEFAULT_BASELINE, DEFAULT_SUBJECT, MAX_MEMBER, ledger_rows,  # noqa: F401
                                         theorem_members, unique)
from simulations.runtime import resolve_device, resolve_dtype
from theory.family import REGISTRY
from theory.names import resolve

SCALES = ("smoke", "quick", "full")  # smoke: seconds, for tests and examples; its numbers decide nothing


@dataclass(frozen=True)
class Preset:
    """One experiment: a problem, members (names or rules), optimizer settings, horizon and seeds."""

    name: str
    problem: ProblemConfig
    members: tuple
    optimizers: tuple[OptimizerConfig, ...]
    steps: int
    seeds: int = 1
    beta1_decay: float | None = None
    bias_correction: bool = False
    purpose: str = ""


@dataclass(frozen=True)
class RunConfig:
    """One run of ``amlab regret``: one problem, the methods, one optimizer setting."""

    problem: ProblemConfig
    optimizers: tuple
    optimizer: OptimizerConfig
    steps: int
    seeds: int = 1
    beta1_decay: float | None = None
    bias_correction: bool = False
    seed: int = 0
    device: str = "auto"
    dtype: str = "float64"


def member_lists(subject=DEFAULT_SUBJECT, baseline=DEFAULT_BASELINE) -> tuple[tuple, tuple]:
    """(Reddi presets' members, theorem presets' members) for a subject and a baseline."""
    reddi = unique((REDDI_DIVERGENT, REDDI_CONVERGENT, baseline, subject, MAX_MEMBER))
    return reddi, theorem_members(subject)


def search_members(scale: str = "quick", subject=DEFAULT_SUBJECT, baseline=DEFAULT_BASELINE) -> tuple:
    """The methods the counterexample search tries at ``scale``: quick, the Reddi presets' members;
    full, the whole registry plus the baseline and the subject."""
    _check_scale(scale)
    if scale == "full":
        return unique(tuple(REGISTRY) + (baseline, subject))
    return member_lists(subject, baseline)[0]


def _check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")


def presets(scale: str = "quick", subject=DEFAULT_SUBJECT, baseline=DEFAULT_BASELINE) -> list[Preset]:
    """The standard presets; "quick" fits in 60 s on 2 CPU cores, "full" is the long version."""
    if scale == "smoke":  # the quick presets, 20x shorter, at most 2 seeds
        return [replace(p, steps=max(200, p.steps // 20), seeds=min(p.seeds, 2))
                for p in presets("quick", subject, baseline)]
    full = scale == "full"
    many, theorem = member_lists(subject, baseline)
    reddi = ProblemConfig("periodic", period=101, big=1010.0, small=10.0)
    reddi_sto = ProblemConfig("stochastic-periodic", prob=0.01, big=1010.0, small=10.0)
    box = ProblemConfig("box-linear", dim=20, prob=0.5, power=1.0, drift=0.2)
    logistic = ProblemConfig("logistic", dim=10, prob=0.5, power=1.0, noise=0.5)
    # A config where the bound is within a small factor of R(T): beta1 near 0 and small beta2 shrink
    # the (1-b1)^3 (1-gamma) sqrt(1-b2) constants; zero-drift +-1 losses give R(T) ~ sqrt(T).
    tight = ProblemConfig("box-linear", dim=1, prob=1.0, power=0.0, drift=0.0)
    reddi_opts = tuple(OptimizerConfig(lr=lr, beta1=0.9, beta2=0.99) for lr in ((0.1, 0.5) if full else (0.5,)))
    return [
        Preset("reddi-periodic", reddi, many, reddi_opts, 1_000_000 if full else 20_000, 1,
               purpose="Reddi et al.'s 1-D problem: Adam -> +1, AMSGrad -> -1"),
        Preset("reddi-periodic-bias-corrected", reddi, many if full else theorem, reddi_opts,
               1_000_000 if full else 20_000, 1, bias_correction=True,
               purpose="same, with each member's own bias correction (Algorithm 1 as released)"),
        Preset("reddi-stochastic", reddi_sto, many, (OptimizerConfig(lr=0.5, beta1=0.9, beta2=0.99),),
               1_000_000 if full else 10_000, 100 if full else 8,
               purpose="stochastic variant: big with probability 0.01"),
        Preset("box-linear", box, many, (OptimizerConfig(lr=0.1, beta1=0.9, beta2=0.999),),
               100_000 if full else 4_000, 32 if full else 8, purpose="sparse power-law linear losses, d = 20"),
        Preset("logistic", logistic, theorem, (OptimizerConfig(lr=0.1, beta1=0.9, beta2=0.999),),
               20_000 if full else 1_500, 16 if full else 4, purpose="online logistic regression, l_inf ball"),
        Preset("tight", tight, theorem, (OptimizerConfig(lr=0.3, beta1=0.01, beta2=0.1),),
               100_000 if full else 4_000, 64 if full else 16, beta1_decay=0.5,
               purpose="bound within a factor ~2.3 of R(T): a formula error that shrinks the RHS is caught"),
        Preset("corollary", ProblemConfig("box-linear", dim=5, prob=0.5, power=1.0, drift=0.2), theorem,
               (OptimizerConfig(lr=0.1, beta1=0.9, beta2=0.999),), 100_000 if full else 4_000, 32 if full else 8,
               beta1_decay=0.99, purpose="Corollary 1: beta1_t = beta1 * 0.99^t"),
    ]


def run_preset(preset: Preset, device: str = "auto", dtype: str = "float64", progress: bool = False,
               seed: int = 0, units: UnitStore = NO_CHECKPOINTS) -> list[dict]:
    """Run every member of ``preset``; one summary per (member, optimizer setting).

    Each member is one checkpointed unit of ``units`` (members are independent runs on the same
    data, so a resumed preset equals an uninterrupted one exactly)."""
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    out = []
    for k, member in enumerate(preset.members):
        def one_member(member=member):
            result = simulate(member, [preset.problem] * len(preset.optimizers), list(preset.optimizers),
                              preset.steps, seeds=preset.seeds, seed=seed, beta1_decay=preset.beta1_decay,
                              bias_correction=preset.bias_correction, device=dev, dtype=dt, progress=progress)
            return [dict(summary, preset=preset.name) for summary in summarise(result)]

        out.extend(units.unit(f"{preset.name}-{k}-{getattr(member, 'name', member)}", one_member))
    return out


def rule_notes(summaries: list[dict]) -> dict[str, list[str]]:
    """What each rule could not honour, over the summaries (rules with nothing to say are left out)."""
    out: dict[str, list[str]] = {}
    for s in summaries:
        for note in s.get("rule_notes", []):
            kept = out.setdefault(s["member"], [])
            if note not in kept:
                kept.append(note)
    return out


def run(config: RunConfig, progress: bool = False, recorded_config: dict | None = None,
        units: UnitStore = NO_CHECKPOINTS) -> dict:
    """One ``amlab regret`` run: every method of ``config`` on its problem; one record.

    ``recorded_config``: the config to store in the record (the command line stores its arguments,
    as it always has); default: ``config`` itself. ``units``: where finished methods are checkpointed.
    """
    preset = Preset("cli", config.problem, tuple(config.optimizers), (config.optimizer,), config.steps,
                    config.seeds, config.beta1_decay, config.bias_correction)
    summaries = run_preset(preset, config.device, config.dtype, progress, seed=config.seed, units=units)
    results = {"summaries": summaries}
    if config.problem.name == "periodic":
        results["reddi"] = reddi_reproduction([dict(s, preset="reddi-periodic") for s in summaries])
    results["rule_notes"] = rule_notes(summaries)
    return make_record("regret", config if recorded_config is None else recorded_config, results, seed=config.seed)


def run_scale(scale: str = "quick", device: str = "auto", progress: bool = False, subject=DEFAULT_SUBJECT,
              baseline=DEFAULT_BASELINE, dtype: str = "float64", search: bool = True) -> dict:
    """Every preset at ``scale`` plus a counterexample search sized to it; one record.

    ``subject`` / ``baseline``: any name :func:`theory.names.resolve` accepts (or a rule); a bad
    name fails here, before any run.
    """
    _check_scale(scale)
    names = (resolve(subject).name, resolve(baseline).name)
    start = time.perf_counter()
    summaries, timings = [], {}
    for preset in presets(scale, subject, baseline):
        t0 = time.perf_counter()
        summaries.extend(run_preset(preset, device, dtype, progress))
        timings[preset.name] = time.perf_counter() - t0
    results = {"summaries": summaries, "reddi": reddi_reproduction(summaries), "timings_s": timings}
    if search:
        t0 = time.perf_counter()
        results["search"] = counterexample_search(search_members(scale, subject, baseline), device=device,
                                                  dtype=dtype, progress=progress, **SEARCH_SIZES[scale])
        timings["search"] = time.perf_counter() - t0
    results["wall_s"] = time.perf_counter() - start
    results["rule_notes"] = rule_notes(summaries)
    config = {"scale": scale, "device": str(resolve_device(device)), "dtype": dtype,
              "subject": names[0], "baseline": names[1],
              "presets": [p.__dict__ | {"problem": p.problem.as_dict(),
                                        "optimizers": [o.__dict__ for o in p.optimizers]}
                          for p in presets(scale, subject, baseline)],
              "conventions": CONVENTIONS}
    return make_record("regret", config, results, seed=0)


def run_search(scale: str = "quick", members=None, seed: int = 0, bias_correction: bool = False,
               device: str = "auto", dtype: str = "float64", progress: bool = False) -> dict:
    """The counterexample search at ``scale`` over ``members`` (default :func:`search_members`); one record."""
    _check_scale(scale)
    members = search_members(scale) if members is None else tuple(members)
    sizes = dict(SEARCH_SIZES[scale])
    result = counterexample_search(members, seed=seed, bias_correction=bias_correction, device=device, dtype=dtype,
                    progress=progress, **sizes)
    return make_record("regret-search", {"scale": scale, "members": list(members), **sizes}, result, seed=seed)


def run_replay(config: dict, device: str = "auto", progress: bool = False) -> dict:
    """Replay a saved counterexample (:func:`simulations.regret.search.replay`); one record."""
    result = replay(config, device=device, progress=progress)
    return make_record("regret-replay", config, result, seed=config.get("seed"))


CONVENTIONS = {
    "x_1": "0 (centre of F)",
    "alpha_t": "lr / sqrt(t)",
    "projection": "clip onto F = [-radius, radius]^d after each step (equals the weighted projection for diagonal v)",
    "regret": "R(T) = sum_{t<=T} f_t(x_t) - min_{x in F} sum_{t<=T} f_t(x)",
    "bias_correction": "Theorem 1 analyses the method without it; each summary records which convention ran",
    "second_moment": "v in the bound and in v_t <= v_{t+1} is the one the update divides by (running max for max members)",
    "D_inf": "run's own: max(iterate diameter, max_t ||x_t - x*||_inf); the proof needs the distance to x*",
    "beta1_t": "beta1 * lam^t (family convention), lam = 1 without decay",
}
