"""The experiment modules, run through one contract, for ``amlab verify`` and ``amlab report``.

Each experiment ``simulations/<name>.py`` provides ``run_scale(scale, device, progress) -> record``
and ``ledger_rows(record) -> list[row]``; its command ``simulations/commands/<name>.py`` provides
``write_outputs(record, out) -> list[Path]``. A module that is missing or fails is reported with
its error; the others still run.
"""
from __future__ import annotations

import importlib
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

EXPERIMENTS = ("toys", "escape", "regret", "nonconvex")
SCALES = ("quick", "full")


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


def run_experiment(name: str, scale: str = "quick", device: str = "auto", progress: bool = False,
                   out: Path | None = None) -> Outcome:
    """Run one experiment at ``scale``; with ``out``, also write its JSON and figures there."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    outcome = Outcome(name)
    start = time.perf_counter()
    try:
        module = importlib.import_module(f"simulations.{name}")
        outcome.record = module.run_scale(scale=scale, device=device, progress=progress)
        outcome.rows = list(module.ledger_rows(outcome.record))
        if out is not None:
            command = importlib.import_module(f"simulations.commands.{name}")
            outcome.figures = [Path(p) for p in command.write_outputs(outcome.record, Path(out))]
    except Exception as err:  # one failed experiment must not stop the others
        outcome.error = f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=6)}"
    outcome.seconds = time.perf_counter() - start
    return outcome
