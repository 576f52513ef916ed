"""The experiments, run through one contract, for ``amlab verify``, ``amlab report`` and ``amlab audit``.

Each experiment subpackage ``simulations/<name>/`` has an ``experiment`` module providing
``run_scale(scale, device, progress, subject, baseline) -> record``, ``ledger_rows(record) -> rows``,
``write_outputs(record, out) -> list[Path]`` and optionally ``headline_table(record)``. The list is
static (:data:`EXPERIMENT_MODULES`). An experiment that fails is reported with its error; the
others still run.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from simulations.escape import experiment as escape_experiment
from simulations.nonconvex import experiment as nonconvex_experiment
from simulations.regret import experiment as regret_experiment
from simulations.search import experiment as search_experiment
from simulations.toys import experiment as toys_experiment
from simulations.training import experiment as training_experiment

EXPERIMENT_MODULES = {"toys": toys_experiment, "escape": escape_experiment, "regret": regret_experiment,
                      "nonconvex": nonconvex_experiment, "training": training_experiment,
                      "search": search_experiment}
EXPERIMENTS = tuple(EXPERIMENT_MODULES)
SCALES = ("smoke", "quick", "full")  # smoke: seconds, for tests and examples; its verdicts mean nothing
DEFAULT_SUBJECT, DEFAULT_BASELINE = "adamomentum", "adam"


@dataclass
class Outcome:
    """What one experiment produced: its record and ledger rows, or the error that stopped it."""

    name: str
    record: dict | None = None
    rows: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def module(self):
        return EXPERIMENT_MODULES.get(self.name)


def run_experiment(name: str, scale: str = "quick", device: str = "auto", progress: bool = False,
                   out: Path | None = None, subject=DEFAULT_SUBJECT, baseline=DEFAULT_BASELINE) -> Outcome:
    """Run one experiment at ``scale`` for ``subject`` against ``baseline``; with ``out``, also write
    its JSON and figures there."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    if name not in EXPERIMENT_MODULES:
        raise ValueError(f"unknown experiment {name!r}; valid: {', '.join(EXPERIMENTS)}")
    outcome = Outcome(name)
    start = time.perf_counter()
    module = EXPERIMENT_MODULES[name]
    try:
        outcome.record = module.run_scale(scale=scale, device=device, progress=progress, subject=subject,
                                          baseline=baseline)
        outcome.rows = list(module.ledger_rows(outcome.record))
        if out is not None:
            outcome.figures = [Path(p) for p in module.write_outputs(outcome.record, Path(out))]
    except Exception as err:  # one failed experiment must not stop the others
        outcome.error = f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=6)}"
    outcome.seconds = time.perf_counter() - start
    return outcome


class _Failed(Exception):
    """An experiment that failed: reported, never checkpointed (a resumed run retries it)."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.name)
        self.outcome = outcome


def run_experiment_unit(store, name: str, **kwargs) -> Outcome:
    """:func:`run_experiment` as one checkpointed unit of ``store`` (a :class:`simulations.checkpoints.UnitStore`):
    a finished experiment is read back on ``--resume``; the outcome is in its JSON form either way, so a
    resumed run and an uninterrupted one build the same page and ledger."""
    def compute():
        outcome = run_experiment(name, **kwargs)
        if not outcome.ok:
            raise _Failed(outcome)
        return {"record": outcome.record, "rows": outcome.rows, "figures": [str(p) for p in outcome.figures],
                "seconds": outcome.seconds}

    try:
        data = store.unit(name, compute)
    except _Failed as failed:
        return failed.outcome
    return Outcome(name, record=data["record"], rows=data["rows"], figures=[Path(p) for p in data["figures"]],
                   seconds=data["seconds"])
