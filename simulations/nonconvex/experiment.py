"""The nonconvex experiment: configurations, presets, records and ledger rows (Theorem 2, Corollary 2).

``run_config(config)`` resolves ``config.optimizers`` (names or rules, :mod:`theory.names`),
simulates them on one problem (:mod:`simulations.nonconvex.simulate`), summarises every rule
(:mod:`simulations.nonconvex.summary`) and returns the record ``amlab nonconvex`` writes;
``run_scale(scale)`` runs the standard presets for ``amlab verify``; ``ledger_rows(record)`` gives
the claims (:mod:`simulations.nonconvex.verdicts`); ``write_outputs`` draws the figures.
"""
from __future__ import annotations

from dataclasses import dataclass

from simulations.nonconvex.figures import write_outputs
from simulations.nonconvex.problems import PROBLEMS
from simulations.nonconvex.simulate import log_grid, simulate
from simulations.nonconvex.summary import summarise_run
from simulations.nonconvex import verdicts
from simulations.nonconvex.verdicts import DEFAULT_BASELINE, DEFAULT_SUBJECT
from simulations.checkpoints import NO_CHECKPOINTS, UnitStore
from simulations.records import make_record
from theory.family import Hyper
from theory.names import resolve_all, split_names

STEPSIZES = ("paper", "defossez")
# The optimizers a run compares by default (the family as the paper's analysis knows it); kept
# fixed so that the presets, and so the recorded verdicts, do not move when the registry grows.
DEFAULT_OPTIMIZERS = ("sgdm", "rmsprop", "adam", "adamw", "amsgrad", "adabelief", "adamomentum", "adamomentum-max")


@dataclass(frozen=True)
class NonconvexConfig:
    """One experiment: a problem, the optimizers, the hyperparameters and the Monte Carlo size.

    ``optimizers``: names (registry members, plugins, ``module.path:Attribute[:key=value]``) or
    rule objects; records keep their names. ``lr`` None takes the problem's default.
    ``stepsize="defossez"`` runs Defossez et al.'s Adam stepsize a_t = lr sqrt(1 - b2^t) with
    constant lr and no bias correction (their iteration, eps moved outside the square root: see
    :func:`theory.bounds.defossez_adam_bound`); it applies to the Adam members only.
    ``subject`` / ``baseline`` label the claims (:func:`ledger_rows`).
    """

    problem: str = "robust-regression"
    optimizers: tuple = DEFAULT_OPTIMIZERS
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
    subject: str = DEFAULT_SUBJECT
    baseline: str = DEFAULT_BASELINE

    def __post_init__(self) -> None:
        if isinstance(self.optimizers, str):
            object.__setattr__(self, "optimizers", tuple(split_names(self.optimizers)))
        if self.problem not in PROBLEMS:
            raise ValueError(f"problem must be one of {PROBLEMS}, got {self.problem!r}")
        if not self.optimizers:
            raise ValueError("optimizers must name at least one optimizer")
        resolve_all(self.optimizers)  # an unknown name or a bad keyword fails here, before any work
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


def run_problem(config: NonconvexConfig, device: str = "auto", progress: bool = False) -> dict:
    """Simulate, then analyse each rule (curves, CIs, fit, right-hand sides, monitors)."""
    rules = resolve_all(config.optimizers)
    return summarise_run(config, simulate(config, rules, device, progress))


def _rule_notes(runs: list[dict]) -> dict:
    """Per optimizer, what its rule could not honour, over every run (only non-empty entries)."""
    merged: dict[str, list[str]] = {}
    for run in runs:
        for name, items in (run.get("rule_notes") or {}).items():
            merged.setdefault(name, [])
            merged[name] += [n for n in items if n not in merged[name]]
    return merged


def _results(runs: list[dict], subject: str, baseline: str) -> dict:
    results = {"runs": runs, "subject": subject, "baseline": baseline}
    notes = _rule_notes(runs)
    if notes:
        results["rule_notes"] = notes
    return results


def run_config(config: NonconvexConfig, device: str = "auto", progress: bool = False) -> dict:
    """One configuration as a full record (what ``amlab nonconvex`` writes)."""
    runs = [run_problem(config, device, progress)]
    return make_record("nonconvex", config, _results(runs, config.subject, config.baseline), seed=config.seed)


# ---- presets, the verify/report contract ---------------------------------------------------

SCALES = {
    "smoke": {"steps": 200, "seeds": 4, "grid_points": 12},  # tests and examples only: decides nothing
    "quick": {"steps": 2000, "seeds": 16, "grid_points": 30},
    "full": {"steps": 20000, "seeds": 64, "grid_points": 50},
}
PRESET_PROBLEMS = ("quadratic", "rosenbrock", "robust-regression", "mlp")
# The calibration run (plain SGD, closed-form rate) and Defossez et al.'s theorem are about these
# registry members; the runs in Theorem 2's setting compare DEFAULT_OPTIMIZERS plus the subject/baseline.
CALIBRATION_OPTIMIZERS = ("sgdm",)
DEFOSSEZ_OPTIMIZERS = ("adam",)


def _with(names: tuple, *extra: str) -> tuple:
    """``names`` followed by those of ``extra`` not already in it."""
    out = list(names)
    for name in extra:
        if name not in out:
            out.append(name)
    return tuple(out)


def preset_configs(scale: str = "quick", subject: str = DEFAULT_SUBJECT,
                   baseline: str = DEFAULT_BASELINE) -> list[NonconvexConfig]:
    """The standard runs: the default optimizers (and the subject and baseline) in Theorem 2's setting
    on every problem, SGD on the quadratic calibration problem, and Defossez et al.'s Adam on the two
    problems with global L, H."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {tuple(SCALES)}, got {scale!r}")
    size = SCALES[scale]
    labels = dict(subject=subject, baseline=baseline)
    optimizers = _with(DEFAULT_OPTIMIZERS, subject, baseline)
    configs = []
    for problem in PRESET_PROBLEMS:
        if problem == "quadratic":
            # past the transient of x_0 (about 50 steps at lr 0.5) the decay is the t^(-1/2) of the noise
            configs.append(NonconvexConfig(problem=problem, optimizers=CALIBRATION_OPTIMIZERS, beta1=0.0, seed=11,
                                           fit_from=0.05, **labels, **size))
        else:
            configs.append(NonconvexConfig(problem=problem, optimizers=optimizers, seed=11, **labels, **size))
    for problem in ("rosenbrock", "robust-regression"):
        configs.append(NonconvexConfig(problem=problem, optimizers=DEFOSSEZ_OPTIMIZERS, lr_decay="constant",
                                       stepsize="defossez", seed=13, lr=0.002 if problem == "rosenbrock" else 0.01,
                                       **labels, **size))
    return configs


def run_scale(scale: str = "quick", device: str = "auto", progress: bool = False,
              subject: str = DEFAULT_SUBJECT, baseline: str = DEFAULT_BASELINE,
              units: UnitStore = NO_CHECKPOINTS) -> dict:
    """All preset runs at ``scale`` as one record (fixed seeds: reproducible verdicts); each preset
    run is one checkpointed unit of ``units``."""
    configs = preset_configs(scale, subject, baseline)
    runs = [units.unit(f"{k}-{config.problem}-{config.stepsize}",
                       lambda config=config: run_problem(config, device, progress))
            for k, config in enumerate(configs)]
    return make_record("nonconvex", {"scale": scale, "configs": configs, "subject": subject, "baseline": baseline},
                       _results(runs, subject, baseline), seed=11)


def ledger_rows(record: dict, subject: str | None = None, baseline: str | None = None) -> list[dict]:
    """Claims-ledger rows (theorem-2, corollary-2, assumption-2, assumption-4) from a record."""
    return verdicts.ledger_rows(record, subject, baseline)


__all__ = ["NonconvexConfig", "DEFAULT_OPTIMIZERS", "PROBLEMS", "simulate", "run_problem", "run_config",
           "run_scale", "ledger_rows", "preset_configs", "log_grid", "write_outputs"]
