"""The experiments, run through one contract, for ``amlab verify``, ``amlab report`` and ``amlab audit``.

Each experiment subpackage ``simulations/<name>/`` has an ``experiment`` module providing
``run_scale(scale, device, progress, subject, baseline) -> record``, ``ledger_rows(record) -> rows``,
``write_outputs(record, out) -> list[Path]`` and optionally ``headline_table(record)``. The list is
static (:data:`EXPERIMENT_MODULES`). An experiment that fails is reported with its error; the
others still run.
"""
from __future__ import annotations

import multiprocessing
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
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
JOBS_ENV = "AMLAB_JOBS"  # the default of --jobs (the tests set 1: in-process, where their monkeypatches apply)
# Submission order of a parallel run: the longest first (seconds at the quick scale, one process alone
# on the 2-core machine, 2026-12-04: training 16, search 13, nonconvex 10.5 (14 with its figures),
# regret 1.7 (5.2), escape 2.1 (2.8), toys 1.6 (3.1)), so the last to finish is a short one.
_LONGEST_FIRST = ("training", "search", "nonconvex", "regret", "escape", "toys")


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


def run_experiment_unit(store, name: str, outcome_of=None, **kwargs) -> Outcome:
    """:func:`run_experiment` as one checkpointed unit of ``store`` (a :class:`simulations.checkpoints.UnitStore`):
    a finished experiment is read back on ``--resume``; the outcome is in its JSON form either way, so a
    resumed run and an uninterrupted one build the same page and ledger. ``outcome_of``: a callable giving
    the outcome computed elsewhere (a worker process), called only when the unit is not checkpointed."""
    def compute():
        outcome = outcome_of() if outcome_of is not None else run_experiment(name, **kwargs)
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


def default_jobs(units: int) -> int:
    """Worker processes for ``units`` experiments: ``AMLAB_JOBS`` if set, else one per usable core,
    at most one per experiment."""
    from simulations.runtime import available_cpus
    from simulations.threads import env_count

    chosen = env_count(JOBS_ENV)
    return max(1, min(chosen if chosen is not None else available_cpus(), units))


def _worker_start(device) -> None:
    import signal

    from simulations.runtime import resolve_device
    from simulations.threads import apply_thread_policy

    # a forked worker inherits the parent's handlers (amlab's SIGTERM -> exception): a worker the
    # parent terminates must just stop, and Ctrl-C behaves as in a fresh interpreter
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    apply_thread_policy(resolve_device(device))  # the parent's policy for the same device


def worker_context(device) -> multiprocessing.context.BaseContext:
    """How the workers start: forked from a single-threaded parent on the CPU under the one-thread
    policy (the parent has imported torch and the experiments already: a spawned worker spends 1.8 s
    importing them again on the 2-core machine), spawned otherwise: CUDA cannot be used in a child
    forked after the parent touched it, an OpenMP pool the parent may have started does not survive
    a fork, and a lock another thread holds at the fork stays held in the child."""
    import threading

    import torch

    from simulations.runtime import resolve_device

    forkable = (resolve_device(device).type == "cpu" and torch.get_num_threads() == 1
                and threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods())
    return multiprocessing.get_context("fork" if forkable else "spawn")


def run_experiment_units(store, names, jobs: int = 1, out_dir: Path | None = None, on_done=None,
                         meanwhile=None, **kwargs) -> list[Outcome]:
    """:func:`run_experiment_unit` for each of ``names``, outcomes in that order (``out_dir / name``
    receives each one's files; ``on_done(outcome)`` is called for each, in that order, as soon as
    it and those before it are in; ``meanwhile()`` runs in this process first, while the workers
    compute when there are any).

    With ``jobs`` > 1 the experiments not yet checkpointed run in a pool of that many worker
    processes (:func:`worker_context`), one intra-op thread each, longest first; this process
    checkpoints each outcome the moment it arrives, so ``--resume`` after an interruption loses only
    the unfinished ones. A worker that dies breaks the pool: the experiments not yet finished then
    run here, one after another, as in a serial run. Every experiment seeds its own streams, so the records are those of
    a serial run (``tests/test_report.py`` checks it). Methods are passed by name (a worker resolves
    them itself); anything else runs serially here."""
    names = list(names)
    out_of = (lambda name: None if out_dir is None else Path(out_dir) / name)
    pending = [n for n in names if not store.has(n)]
    by_name = all(isinstance(kwargs.get(k, ""), str) for k in ("subject", "baseline"))
    if jobs <= 1 or len(pending) < 2 or not by_name:
        if meanwhile is not None:
            meanwhile()
        outcomes = []
        for name in names:
            outcomes.append(run_experiment_unit(store, name, out=out_of(name), **kwargs))
            if on_done is not None:
                on_done(outcomes[-1])
        return outcomes
    worker_kwargs = {**kwargs, "progress": False}  # one bar per worker would interleave
    order = sorted(pending, key=lambda n: _LONGEST_FIRST.index(n) if n in _LONGEST_FIRST else -1)
    device = kwargs.get("device", "cpu")
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(pending)), mp_context=worker_context(device),
                               initializer=_worker_start, initargs=(device,))
    done: dict[str, Outcome] = {}
    reported = 0

    def report_in_order() -> None:
        nonlocal reported
        while reported < len(names) and names[reported] in done:
            if on_done is not None:
                on_done(done[names[reported]])
            reported += 1

    try:
        futures = {pool.submit(run_experiment, n, out=out_of(n), **worker_kwargs): n for n in order}
        if meanwhile is not None:
            meanwhile()
        for name in names:  # checkpointed before this run: read back
            if name not in pending:
                done[name] = run_experiment_unit(store, name, out=out_of(name), **kwargs)
        report_in_order()
        broken = []
        for future in as_completed(futures):
            name = futures[future]
            try:
                outcome = future.result()
            except BrokenProcessPool:
                broken.append(name)
                continue
            except Exception as err:  # the outcome could not come back (e.g. not picklable)
                outcome = Outcome(name, error=f"{type(err).__name__}: {err} (in a worker process)")
            done[name] = run_experiment_unit(store, name, outcome_of=lambda o=outcome: o, out=out_of(name), **kwargs)
            report_in_order()
        for name in sorted(broken, key=names.index):  # a worker died: the rest here, serially
            done[name] = run_experiment_unit(store, name, out=out_of(name), **kwargs)
            report_in_order()
    except BaseException:  # interrupted (SIGINT, SIGTERM): stop the workers now, keep what is checkpointed
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [done[name] for name in names]
