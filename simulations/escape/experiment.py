"""Levy-driven escape times (Section 3.2): the run configuration, the named experiments, ``run_scale``
and ``ledger_rows``.

Experiments (presets), each returning measured and predicted values side by side (the comparisons
are of a subject against a baseline; defaults AdaMomentum and Adam, the paper's):

* ``getoor``: ground truth. ``flow`` with no drift vs Getoor's exact E tau; the Euler grid's
  time-step bias (measured / exact - 1) per (alpha, dt).
* ``ip``: ``flow`` in a quadratic basin vs the Imkeller-Pavlyukevich asymptotics, and the fitted
  exponent of E tau against the noise scale (theory: -alpha).
* ``lemma1``: eq. (3) (``sde``) for the baseline and the subject, E Gamma against the noise
  coefficient upsilon, varied alone (lr = 0.01, so dt, the moment rates (1-b)/lr, warm-up and horizon
  are fixed): fitted exponent vs Lemma 1's Theta(upsilon / m(Upsilon)) (exponent +1 as stated) and
  the exit-time asymptotics (-alpha); plus the plug-in prediction with the measured R.
* ``prop1`` (the verdict uses only the flat / asymmetric regimes the proposition claims; sharp
  ones are context): baseline vs subject across sharp / flat / asymmetric basins and noise-dominated /
  signal-dominated regimes, in ``sde`` and ``discrete``: E Gamma(subject) / E Gamma(baseline)
  with its 95% CI, and Assumptions 1, 3, 5 measured along the same runs.
* ``alpha``: E Gamma against the tail index alpha (flow vs IP, and sde for both optimizers).

The sde is eq. (3), written for the family: a subject or baseline that is not a registry member
runs the discrete dynamics only; its sde runs are listed under ``skipped`` with the reason and the
claims that need them are ``unchecked``. Verdict rules: :mod:`simulations.escape.verdicts`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from simulations.escape.estimate import ratio_ci, restricted_ratio_ci
from simulations.escape.figures import write_outputs
from simulations.escape.problems import ASYM, FLAT, SHARP, Basin
from simulations.escape.simulate import a5_moment_order, hyper_for, sde_unsupported, simulate
from simulations.escape.summary import (
    DEFAULT_BASELINE,
    DEFAULT_SUBJECT,
    ratio_key,
    summarise,
    summarise_preset,
)
from simulations.escape.summary import summary_lines as run_summary_lines
from simulations.escape.verdicts import comparison
from simulations.escape.verdicts import ledger_rows as _ledger_rows
from simulations.checkpoints import NO_CHECKPOINTS, UnitStore
from simulations.records import make_record
from simulations.runtime import resolve_device
from theory.names import resolve, resolve_all
from theory.rule import notes as rule_notes

__all__ = ["DYNAMICS", "PRESETS", "SCALES", "EscapeConfig", "ledger_rows", "preset_configs", "run_config",
           "run_named", "run_presets", "run_scale", "run_single", "skipped_runs", "summary_lines",
           "write_outputs", "ratio_key"]

DYNAMICS = ("flow", "sde", "discrete")


def _label(optimizer: Any) -> str:
    """The results key of an optimizer given by name or as a rule."""
    return optimizer if isinstance(optimizer, str) else optimizer.name


@dataclass(frozen=True)
class EscapeConfig:
    """One escape run: dynamics, basin, noise, hyperparameters, paths and limits.

    ``noise_scale`` is epsilon for ``flow`` (d theta = -grad f dt + epsilon dL) and sigma, the
    scale of the gradient noise g = grad f + sigma zeta, for ``sde`` and ``discrete``.
    ``optimizers`` are names (registry members, plugins, ``module.path:Attribute[:key=value]``) or
    update rules; ``subject`` / ``baseline`` name the two whose ratio E Gamma(subject) /
    E Gamma(baseline) is reported when both were run.
    """

    dynamics: str = "flow"
    optimizers: tuple[Any, ...] = (DEFAULT_BASELINE, DEFAULT_SUBJECT)
    basin: Basin = field(default_factory=Basin)
    tail_index: float = 1.5
    noise_scale: float = 0.1
    lr: float = 1e-2
    dt: float | None = None  # default: 1e-2 for flow, lr for sde; ignored by discrete (dt = lr)
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    start: tuple[float, ...] | None = None  # default: the minimum
    paths: int = 2000
    max_steps: int = 10_000
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    warmup: int = 0  # steps before the clock starts; a path leaving the basin then restarts at start
    noise_coefficient: float | None = None  # sde: upsilon of eq. (3); default lr^(1 - 1/alpha)
    compact_every: int = 64
    monitor_every: int = 16
    subject: str = DEFAULT_SUBJECT
    baseline: str = DEFAULT_BASELINE

    def __post_init__(self) -> None:
        self._check_values()
        self._check_optimizers()
        start = self.start_point
        if len(start) != self.basin.dim:
            raise ValueError(f"start needs one value per dimension ({self.basin.dim}), got {len(start)}")
        if not all(-self.basin.left < x < self.basin.right for x in start):
            raise ValueError(f"start must lie inside the basin (-{self.basin.left}, {self.basin.right}), got {start}")

    def _check_values(self) -> None:
        if self.dynamics not in DYNAMICS:
            raise ValueError(f"dynamics must be one of {DYNAMICS}, got {self.dynamics!r}")
        if not 0.0 < self.tail_index <= 2.0:
            raise ValueError(f"tail_index (alpha) must satisfy 0 < alpha <= 2, got {self.tail_index}")
        if not (self.noise_scale >= 0 and math.isfinite(self.noise_scale)):
            raise ValueError(f"noise_scale must be >= 0 and finite, got {self.noise_scale}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.noise_coefficient is not None and not (self.noise_coefficient > 0 and math.isfinite(self.noise_coefficient)):
            raise ValueError(f"noise_coefficient (upsilon) must be > 0 and finite, got {self.noise_coefficient}")
        if self.dt is not None and not self.dt > 0:
            raise ValueError(f"dt must be > 0, got {self.dt}")
        if self.dynamics == "sde" and self.time_step > self.lr * (1 + 1e-12):
            raise ValueError(f"dt must satisfy 0 < dt <= lr = {self.lr} for the sde (one step at most per "
                             f"iteration of the moments), got {self.dt}")
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must satisfy 0 <= {name} < 1, got {value}")
        if self.eps < 0:
            raise ValueError(f"eps must be >= 0, got {self.eps}")
        if self.paths < 2:
            raise ValueError(f"paths must be >= 2, got {self.paths}")
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        if self.compact_every < 1 or self.monitor_every < 1:
            raise ValueError("compact_every and monitor_every must be >= 1")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")

    def _check_optimizers(self) -> None:
        """Every name resolves (theory.names: the error names the spec); the sde needs members."""
        rules = resolve_all(self.optimizers) if self.optimizers else []
        if self.dynamics == "sde":
            for rule in rules:
                reason = sde_unsupported(rule)
                if reason:
                    raise ValueError(f"optimizers: {reason}")
        for role in ("subject", "baseline"):
            if not isinstance(getattr(self, role), str):
                raise ValueError(f"{role} must be an optimizer name, got {getattr(self, role)!r}")

    @property
    def time_step(self) -> float:
        if self.dynamics == "discrete":
            return self.lr
        if self.dt is not None:
            return self.dt
        return 1e-2 if self.dynamics == "flow" else self.lr

    @property
    def start_point(self) -> tuple[float, ...]:
        if self.start is None:
            return (0.0,) * self.basin.dim
        if len(self.start) == 1 and self.basin.dim > 1:
            return tuple(self.start) * self.basin.dim
        return tuple(self.start)

    @property
    def upsilon(self) -> float:
        """upsilon of eq. (3): ``noise_coefficient`` when given (the Lemma 1 experiment varies it alone,
        with dt and the moment rates fixed), else lr^(1 - 1/alpha)."""
        if self.noise_coefficient is not None:
            return self.noise_coefficient
        return self.lr ** (1.0 - 1.0 / self.tail_index)

    @property
    def horizon(self) -> float:
        return self.max_steps * self.time_step

    def labels(self) -> tuple[str, ...]:
        return ("flow",) if self.dynamics == "flow" else tuple(_label(o) for o in self.optimizers)


# ---- one configuration ----------------------------------------------------------------------------

def run_config(config: EscapeConfig, progress: bool = False, units: UnitStore = NO_CHECKPOINTS) -> dict:
    """Simulate every optimizer (or the flow) of ``config``; same seed for each (common random
    numbers). Adds E Gamma(subject) / E Gamma(baseline) when both were run, and ``rule_notes``:
    per optimizer, the settings its rule could not honour (theory.rule.notes; only non-empty ones).
    Each optimizer (or the flow) is one checkpointed unit of ``units``."""
    start = time.perf_counter()
    results, notes = {}, {}
    if config.dynamics == "flow":
        results["flow"] = units.unit("flow", lambda: summarise(config, simulate(config, "flow", progress=progress)))
    else:
        hyper = hyper_for(config)
        for k, (label, optimizer) in enumerate(zip(config.labels(), config.optimizers)):
            rule = resolve(optimizer)
            results[label] = units.unit(f"{k}-{label}", lambda rule=rule: summarise(
                config, simulate(config, rule, progress=progress), rule))
            said = rule_notes(rule, hyper)
            if said:
                notes[label] = said
    out = {"config": config, "results": results, "seconds": time.perf_counter() - start,
           "a5_moment_order": a5_moment_order(config.tail_index)}
    subject, baseline = config.subject, config.baseline
    if subject in results and baseline in results:
        num, den = results[subject]["mean_escape_time"], results[baseline]["mean_escape_time"]
        out[ratio_key(subject, baseline)] = ratio_ci(num, den)
        out[ratio_key(subject, baseline, restricted=True)] = restricted_ratio_ci(num, den)
    out["rule_notes"] = notes
    return out


def run_single(config: EscapeConfig, progress: bool = False, units: UnitStore = NO_CHECKPOINTS) -> dict:
    """One configuration as a record (what ``amlab escape`` writes without ``--preset``)."""
    return make_record("escape", config, run_config(config, progress=progress, units=units), seed=config.seed)


# ---- the named experiments ------------------------------------------------------------------------

PRESETS = ("getoor", "ip", "lemma1", "prop1", "alpha")

# paths, step budget multiplier
SCALES = {"smoke": {"paths": 40, "steps": 0.1, "paths_flow": 120, "warmup": 20},  # tests/examples only
          "quick": {"paths": 200, "steps": 1.0, "paths_flow": 1200, "warmup": 150},
          "full": {"paths": 4000, "steps": 10.0, "paths_flow": 20000, "warmup": 2000}}


def _getoor_specs(sc: dict, full: bool) -> list[tuple[str, dict]]:
    alphas = (1.2, 1.5, 1.8, 2.0) if full else (1.5, 1.8)
    dts = (1e-1, 1e-2, 1e-3) if full else (1e-1, 1e-2)
    return [(f"alpha={a},dt={dt:g}", dict(
        dynamics="flow", basin=Basin("none", (1.0,), (1.0, 1.0)), tail_index=a, noise_scale=1.0,
        dt=dt, paths=sc["paths_flow"], max_steps=int(20 / dt), dtype="float64")) for a in alphas for dt in dts]


def _ip_specs(sc: dict, full: bool) -> list[tuple[str, dict]]:
    epss = (0.4, 0.2, 0.1, 0.05) if full else (0.4, 0.2, 0.1)
    return [(f"eps={eps:g}", dict(
        dynamics="flow", basin=Basin("quadratic", (1.0,), (1.0, 1.0)), tail_index=1.5, noise_scale=eps,
        dt=1e-2, paths=sc["paths_flow"] // 3, max_steps=int(800 * sc["steps"]))) for eps in epss]


def _lemma1_specs(sc: dict, full: bool) -> list[tuple[str, dict]]:
    # upsilon varied alone: lr (hence dt = lr, the moment rates (1-b)/lr, warm-up and horizon) fixed
    upsilons = (0.6, 0.4, 0.27, 0.18) if full else (0.6, 0.4, 0.27)
    return [(f"upsilon={ups:g}", dict(
        dynamics="sde", basin=SHARP, tail_index=1.5, noise_scale=1.0, lr=0.01, noise_coefficient=ups,
        warmup=sc["warmup"], paths=sc["paths"] * 3 // 4, max_steps=int(4000 * sc["steps"]))) for ups in upsilons]


def _prop1_specs(sc: dict, full: bool) -> list[tuple[str, dict]]:
    regimes = (
        ("sharp/noise-dominated", SHARP, None, 1.0),
        ("flat/noise-dominated", FLAT, None, 1.0),
        ("asymmetric/noise-dominated", ASYM, None, 1.0),
        ("sharp/signal-dominated", SHARP, (0.2,), 0.01),
        ("asymmetric/signal-dominated", ASYM, (-0.8,), 0.01),
    )
    return [(f"{dyn}:{key}", dict(
        dynamics=dyn, basin=basin, start=start, tail_index=1.5, noise_scale=sigma, lr=0.01,
        warmup=sc["warmup"] if start is None else 0, paths=sc["paths"], max_steps=int(400 * sc["steps"])))
        for dyn in ("sde", "discrete") for key, basin, start, sigma in regimes]


def _alpha_specs(sc: dict, full: bool) -> list[tuple[str, dict]]:
    specs = []
    for a in ((1.2, 1.5, 1.8, 1.95) if full else (1.2, 1.5, 1.8)):
        specs.append((f"flow:alpha={a}", dict(
            dynamics="flow", basin=Basin("quadratic", (1.0,), (1.0, 1.0)), tail_index=a, noise_scale=0.2,
            dt=1e-2, paths=sc["paths_flow"] // 3, max_steps=int(600 * sc["steps"]))))
        if full:
            specs.append((f"sde:alpha={a}", dict(
                dynamics="sde", basin=SHARP, tail_index=a, noise_scale=1.0, lr=0.01, warmup=sc["warmup"],
                paths=sc["paths"] // 2, max_steps=int(800 * sc["steps"]))))
    return specs


_SPECS = {"getoor": _getoor_specs, "ip": _ip_specs, "lemma1": _lemma1_specs, "prop1": _prop1_specs,
          "alpha": _alpha_specs}


def _specs(name: str, scale: str, subject: str, baseline: str) -> list[tuple[str, dict, str | None]]:
    """(key, config fields, why it cannot run or None) of every run of a named experiment."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {tuple(SCALES)}, got {scale!r}")
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {name!r}")
    if subject == baseline:
        raise ValueError(f"subject and baseline must differ, got {subject!r} twice")
    rules = resolve_all([baseline, subject])
    sde_reason = next((r for r in map(sde_unsupported, rules) if r), None)
    out = []
    for key, fields in _SPECS[name](SCALES[scale], scale == "full"):
        fields = {**fields, "subject": subject, "baseline": baseline}
        if fields["dynamics"] != "flow":
            fields["optimizers"] = (baseline, subject)
        out.append((key, fields, sde_reason if fields["dynamics"] == "sde" else None))
    return out


def preset_configs(name: str, scale: str = "quick", device: str = "cpu", seed: int = 0,
                   subject: str = DEFAULT_SUBJECT, baseline: str = DEFAULT_BASELINE) -> list[tuple[str, EscapeConfig]]:
    """The (key, config) runs of a named experiment at ``scale`` (those the pair can run)."""
    return [(key, EscapeConfig(**fields, device=device, seed=seed))
            for key, fields, reason in _specs(name, scale, subject, baseline) if reason is None]


def skipped_runs(name: str, scale: str = "quick", subject: str = DEFAULT_SUBJECT,
                 baseline: str = DEFAULT_BASELINE) -> dict[str, str]:
    """{key: reason} of the runs of a named experiment the pair cannot run (sde without members)."""
    return {key: reason for key, _, reason in _specs(name, scale, subject, baseline) if reason is not None}


def run_presets(names=PRESETS, scale: str = "quick", device: str = "auto", progress: bool = False,
                seed: int = 0, subject: str = DEFAULT_SUBJECT, baseline: str = DEFAULT_BASELINE,
                units: UnitStore = NO_CHECKPOINTS) -> dict:
    """Run the named experiments; returns {preset: {"runs": [...], "summary": {...}}} (and
    ``"skipped": {key: reason}`` where runs could not be made for this subject / baseline).
    Each preset is one checkpointed unit of ``units``."""
    dev = str(resolve_device(device))

    def one_preset(name):
        runs = []
        for key, config in preset_configs(name, scale, dev, seed, subject, baseline):
            res = run_config(config, progress=progress)
            res["key"] = key
            runs.append(res)
        done = {"runs": runs, "summary": summarise_preset(name, runs, subject, baseline)}
        skipped = skipped_runs(name, scale, subject, baseline)
        if skipped:
            done["skipped"] = skipped
        return done

    return {name: units.unit(f"preset-{name}", lambda name=name: one_preset(name)) for name in names}


def run_named(names, scale: str = "quick", device: str = "auto", progress: bool = False, seed: int = 0,
              subject: str = DEFAULT_SUBJECT, baseline: str = DEFAULT_BASELINE,
              device_label: str | None = None, units: UnitStore = NO_CHECKPOINTS) -> dict:
    """The named experiments as one record (``device_label``: the device written in the config;
    default the one resolved; ``units``: where finished presets are checkpointed)."""
    names = list(names)
    results = run_presets(names, scale, device, progress, seed, subject, baseline, units)
    config = {"scale": scale, "device": device_label or str(resolve_device(device)), "presets": names,
              "subject": subject, "baseline": baseline}
    return make_record("escape", config, results, seed=seed)


def run_scale(scale: str = "quick", device: str = "auto", progress: bool = False,
              subject: str = DEFAULT_SUBJECT, baseline: str = DEFAULT_BASELINE) -> dict:
    """All presets at ``scale`` (fixed seed 0) as one record (see the module docstring)."""
    return run_named(PRESETS, scale, device, progress, 0, subject, baseline)


def ledger_rows(record: dict, subject: str | None = None, baseline: str | None = None) -> list[dict]:
    """Claims-ledger rows (lemma-1, proposition-1, assumption-1, -3, -5); see
    :func:`simulations.escape.verdicts.ledger_rows`."""
    return _ledger_rows(record, subject, baseline)


def summary_lines(record: dict) -> list[str]:
    """What ``amlab escape`` prints: one line per optimizer (one run) or per ledger row (presets)."""
    res = record["results"]
    if "results" in res:  # one configuration
        return run_summary_lines(res, *comparison(record))
    return [f"{row['claim']}: {row['verdict']} -- {row['evidence']}" for row in ledger_rows(record)]
