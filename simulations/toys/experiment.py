"""The toys experiment: configs, presets, the runs and the record (Section 5.1.1 / Figure 2 /
Appendix A, and the Figure 1 stepsize sweep of :mod:`simulations.toys.stepsize`).

The paper shows one trajectory per optimizer on each of four functions (Sphere, Three-Hump Camel,
Beale, Ackley) and claims "AdaMomentum reaches the optimal point the fastest in all the cases".
The start point is not given, so one hand-picked start says little; here every optimizer is run
from the same set of starts and the claim gets a paired, measured verdict, for any subject
(default AdaMomentum) against every other method in the run.

Settings (Appendix A): beta1 = 0.9 for every method; lr 0.1 for the adaptive methods on every
function; SGDM (heavy ball, momentum 0.9) lr 0.1 on Sphere, Beale and Ackley and 0.001 on
Three-Hump Camel. The paper says the adaptive methods share their hyperparameters, so RMSprop,
Adam, AdaBelief and AdaMomentum all use beta2 = 0.999 and eps = 1e-8 (each with its own eps
placement, see :mod:`theory.family`). A method that is not a registry member is "adaptive" when it
keeps a second moment (:func:`simulations.toys.simulate.is_adaptive`) and gets the adaptive lr,
otherwise SGDM's; ``lr`` sets one lr for every method.

Starts: the function's box is cut into a ``starts x starts`` grid of cells and each seed draws one
start uniformly in every cell (stratified sampling; the toys themselves are deterministic, the
seed only moves the start); ``grad_noise`` adds paired N(0, sigma^2) gradient noise
(:mod:`simulations.toys.simulate`). The measure and the verdict rules are in
:mod:`simulations.toys.summary` and :mod:`simulations.toys.verdicts`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from simulations.checkpoints import NO_CHECKPOINTS, UnitStore
from simulations.records import make_record, to_jsonable
from simulations.runtime import resolve_device, resolve_dtype
from simulations.toys.figures import write_outputs  # noqa: F401  (the experiment contract)
from simulations.toys.problems import FUNCTIONS, ToyFunction, get_function, start_points
from simulations.toys.simulate import SHOWCASE_INDEX, is_adaptive, simulate
from simulations.toys.stepsize import StepsizeConfig, method_name, run_stepsize
from simulations.toys.summary import (DEFAULT_BASELINE, DEFAULT_SUBJECT, compare,  # noqa: F401
                                      headline_table, summarize_optimizer)
from simulations.toys.verdicts import CLAIM, claim_verdict, function_verdict, stepsize_rows, toy_row  # noqa: F401
from theory.family import Hyper
from theory.names import resolve, resolve_all
from theory.rule import notes

TOY_OPTIMIZERS = ("sgdm", "rmsprop", "adam", "adabelief", "adamomentum")  # Figure 2's methods (the default)


@dataclass(frozen=True)
class ToyConfig:
    """One toy run. ``optimizers``: names (anything :func:`theory.names.resolve` accepts) or rules;
    ``subject``: the method the claim is about (compared with every other one in ``optimizers``)."""

    functions: tuple = tuple(FUNCTIONS)
    optimizers: tuple = TOY_OPTIMIZERS
    steps: int = 500
    starts: int = 8  # grid cells per side
    seeds: int = 2  # starts per cell
    seed: int = 0
    radius: float = 0.05
    lr: float | None = None  # None: Appendix A's per-function, per-optimizer values
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    grad_noise: float = 0.0
    level: float = 0.95
    dtype: str = "float64"
    subject: object = DEFAULT_SUBJECT

    def __post_init__(self) -> None:
        for name in self.functions:
            get_function(name)
        if not self.functions or not self.optimizers:
            raise ValueError("functions and optimizers must not be empty")
        labels = [method_name(o) for o in self.optimizers]
        for kind, names in (("optimizer", labels), ("function", list(self.functions))):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"duplicate {kind} name(s): {', '.join(repeated)}; list each {kind} once")
        resolve_all(self.optimizers)  # an unknown or bad name fails here, with its message
        try:
            resolve(self.subject)
        except (ValueError, TypeError) as err:
            raise ValueError(f"subject: {err}") from None
        checks = ((self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
                  (self.starts >= 1, f"starts (grid cells per side) must be >= 1, got {self.starts}"),
                  (self.seeds >= 1, f"seeds must be >= 1, got {self.seeds}"),
                  (self.starts**2 * self.seeds >= 2, "need at least 2 starts (starts^2 * seeds >= 2)"),
                  (self.radius > 0, f"radius must be > 0, got {self.radius}"),
                  (self.lr is None or self.lr > 0, f"lr must be > 0, got {self.lr}"),
                  (self.grad_noise >= 0, f"grad_noise must be >= 0, got {self.grad_noise}"),
                  (0 < self.level < 1, f"level must be in (0, 1), got {self.level}"))
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        resolve_dtype(self.dtype)

    def lr_for(self, function: ToyFunction, optimizer) -> float:
        """Appendix A's lr of ``optimizer`` (a name or a rule) on ``function``, or ``lr`` if set."""
        if self.lr is not None:
            return self.lr
        return function.adaptive_lr if is_adaptive(resolve(optimizer)) else function.sgdm_lr

    def hyper_for(self, function: ToyFunction, optimizer) -> Hyper:
        return Hyper(lr=self.lr_for(function, optimizer), beta1=self.beta1, beta2=self.beta2, eps=self.eps)


# --- the runs --------------------------------------------------------------------------------------

def _run_optimizer(function: ToyFunction, rule, all_starts: torch.Tensor, start_indices: list[int],
                   config: ToyConfig) -> tuple[dict, dict]:
    """One optimizer from the illustrative start (run 0) and every grid start: the raw runs of the
    grid starts and the optimizer's summary."""
    sim = simulate(function, rule, all_starts, config.hyper_for(function, rule), config.steps, config.radius,
                   config.grad_noise, seed=config.seed, keep=torch.tensor([0], device=all_starts.device),
                   start_indices=start_indices)
    grid = {k: (v[1:] if k != "paths" else v) for k, v in sim.items()}
    summary = summarize_optimizer(grid, config.steps, config.level)
    summary["lr"] = config.lr_for(function, rule)
    summary["showcase_path"] = sim["paths"][0]
    summary["showcase_hit"] = int(sim["hit"][0])
    summary["hit"] = grid["hit"]
    return grid, summary


def _function_verdict(names: list[str], subject: str, comparisons: dict) -> str:
    if subject not in names:
        return "no subject"  # the subject was not run
    if len(names) == 1:
        return "no competitor"  # the subject ran alone: nothing to be fastest against
    return function_verdict(comparisons)


def _run_function(function: ToyFunction, rules: list, config: ToyConfig, device, dtype, subject: str,
                  paired_level: float, bar) -> dict:
    """Every optimizer on one function from the shared starts, and the subject's comparisons."""
    starts = start_points(function, config, device, dtype)
    showcase = torch.tensor([function.showcase_start], device=device, dtype=dtype)
    all_starts = torch.cat((showcase, starts))  # run 0 is the illustrative start
    start_indices = [SHOWCASE_INDEX, *range(starts.shape[0])]  # noise: same start, same noise
    per_opt, sims = {}, {}
    for rule in rules:
        sims[rule.name], per_opt[rule.name] = _run_optimizer(function, rule, all_starts, start_indices, config)
        if bar is not None:
            bar.update(1)
    names = [rule.name for rule in rules]
    comparisons = {}
    if subject in names:
        comparisons = {name: compare(sims[subject]["hit"], sims[name]["hit"], config.steps, paired_level)
                       for name in names if name != subject}
    return {"label": function.label, "optimum": function.optimum, "box": function.box,
            "showcase_start": function.showcase_start, "starts": starts.cpu().numpy(),
            "optimizers": per_opt, "comparisons": comparisons,
            "verdict": _function_verdict(names, subject, comparisons)}


def _rule_notes(rules: list, config: ToyConfig) -> dict:
    """What each rule could not honour (theory.rule.notes), over every function's settings."""
    out = {}
    for rule in rules:
        found = []
        for name in config.functions:
            found += [n for n in notes(rule, config.hyper_for(FUNCTIONS[name], rule)) if n not in found]
        if found:
            out[rule.name] = found
    return out


def run_toys(config: ToyConfig = ToyConfig(), device: str = "auto", progress: bool = False,
             units: UnitStore = NO_CHECKPOINTS) -> dict:
    """Run every (function, optimizer) pair from the shared starts; return results and verdicts.
    Each function is one checkpointed unit of ``units``."""
    dev = resolve_device(device)
    dtype = resolve_dtype(config.dtype)
    rules = resolve_all(config.optimizers)
    subject = method_name(config.subject)
    competitors = [rule.name for rule in rules if rule.name != subject]
    n_comparisons = max(1, len(config.functions) * len(competitors))
    paired_level = 1 - (1 - config.level) / n_comparisons  # Bonferroni
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(config.functions) * len(rules), desc="toys", unit="run", leave=False)
    results = {"functions": {}, "paired_level": paired_level, "subject": subject}
    for name in config.functions:
        results["functions"][name] = units.unit(f"function-{name}", lambda name=name: _run_function(
            FUNCTIONS[name], rules, config, dev, dtype, subject, paired_level, bar))
    if bar is not None:
        bar.close()
    results["rule_notes"] = _rule_notes(rules, config)
    return results


# --- the experiment contract -----------------------------------------------------------------------

SCALES = {
    "smoke": {"toys": dict(starts=2, seeds=1, steps=100),  # tests and examples only: decides nothing
              "stepsize": dict(peak_slopes=(1.0,), steps=600)},
    "quick": {"toys": dict(starts=6, seeds=2, steps=400),
              "stepsize": dict(peak_slopes=(0.01, 1.0), steps=3000)},
    "full": {"toys": dict(starts=12, seeds=5, steps=1000),
             "stepsize": dict()},
}


def with_methods(optimizers: tuple, *methods) -> tuple:
    """``optimizers`` with each of ``methods`` appended unless a method of that name is there."""
    out = list(optimizers)
    for method in methods:
        if method_name(method) not in [method_name(o) for o in out]:
            out.append(method)
    return tuple(out)


def run_scale(scale: str = "quick", device: str = "auto", progress: bool = False,
              subject=DEFAULT_SUBJECT, baseline=DEFAULT_BASELINE) -> dict:
    """The toy claim (Figure 2) and the Figure 1 area statements at ``scale``, for ``subject``
    (run against Figure 2's methods, the baseline added if missing) and ``baseline``."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {tuple(SCALES)}, got {scale!r}")
    config = ToyConfig(**SCALES[scale]["toys"], optimizers=with_methods(TOY_OPTIMIZERS, subject, baseline),
                       subject=subject)
    step_config = StepsizeConfig(**SCALES[scale]["stepsize"], subject=subject, baseline=baseline)
    return run_experiment(config, step_config, device, progress, scale)


def run_experiment(config: ToyConfig, step_config: StepsizeConfig | None = None,
                   device: str = "auto", progress: bool = False, scale: str = "custom",
                   units: UnitStore = NO_CHECKPOINTS) -> dict:
    """Run the toys (and the Figure 1 sweep unless ``step_config`` is None) and build the record;
    ``units`` checkpoints each function and the sweep."""
    subject = method_name(config.subject)
    if step_config is not None and step_config.methods[0] != subject:
        raise ValueError(f"the toy run and the stepsize sweep must have one subject, got {subject!r} "
                         f"and {step_config.methods[0]!r}")
    start = time.perf_counter()
    results = {"subject": subject, "toys": run_toys(config, device, progress, units)}
    if step_config is not None:
        results["baseline"] = step_config.methods[1]
        results["stepsize"] = units.unit("stepsize", lambda: run_stepsize(step_config, device="cpu"))  # tiny: CPU
    results["toys"]["claim_verdict"] = claim_verdict(results["toys"])
    return make_record("toys", {"toys": to_jsonable(config),
                                "stepsize": None if step_config is None else to_jsonable(step_config),
                                "scale": scale, "device": str(resolve_device(device))},
                       results, seed=config.seed, seconds=time.perf_counter() - start)


def ledger_rows(record: dict) -> list[dict]:
    rows = [toy_row(record)]
    if record["results"].get("stepsize") is not None:
        rows += stepsize_rows(record["results"]["stepsize"])
    return rows
