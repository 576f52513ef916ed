"""Deterministic work that many tests repeat, done once per test session and shared by the
pytest-xdist workers through files.

The docs-examples tests run ``amlab report`` and ``amlab verify`` about ten times at the smoke scale
and the browser test renders one more such report: the same experiments with the same arguments,
the same sympy checks, the same figures drawn from the same records. Each of those is a
deterministic function of its arguments (seeded streams; a figure is a function of its record), so
it is computed once, pickled under the session's shared temporary folder (a file lock per key, so
two workers never compute the same key twice), and handed back as a fresh copy. Every command's own
code (parsing, checkpoints, the ledger, the page) still runs every time.

Only calls whose arguments are plain values (names, numbers, strings...) are shared; a call given an
object (a rule, an optimizer) runs as usual. Figures are shared only when a record is equal, as
JSON, to one already drawn, and the files are written where the call would have written them.
Tests whose subject is this computation (resume, parallel runs, the figures' own tests) do not use it.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import inspect
import json
import os
import pickle
from pathlib import Path

import torch
from filelock import FileLock

PLAIN = (str, int, float, bool, type(None))
# The pytest-xdist group (--dist loadgroup) of the tests that run the whole smoke report: one worker
# runs them one after another, the first computing what the others then read.
REPORT_GROUP = "smoke-report"


def shared_dir(tmp_path_factory) -> Path:
    """A folder of this test session that every pytest-xdist worker sees."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' basetemps are siblings under the session's folder
    path = root / "smoke-memo"
    path.mkdir(exist_ok=True)
    return path


def _plain(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return isinstance(value, PLAIN)


def _key_file(folder: Path, key: str) -> Path:
    return folder / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".pkl")


def _cached(folder: Path, key: str, compute):
    """compute() once per key across the session's processes; a pickled copy each time."""
    path = _key_file(folder, key)
    with FileLock(str(path) + ".lock"):
        if path.exists():
            return pickle.loads(path.read_bytes())
        value = compute()
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(value))
        tmp.replace(path)
        return copy.deepcopy(value)


def _shared_call(folder: Path, function, ignore=("progress",)):
    name = f"{function.__module__}.{function.__qualname__}"

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        keyed = {k: v for k, v in kwargs.items() if k not in ignore}
        if not (_plain(list(args)) and _plain(keyed)):
            return function(*args, **kwargs)
        key = repr((name, args, sorted(keyed.items()), str(torch.get_default_dtype())))
        return _cached(folder, key, lambda: function(*args, **kwargs))
    return wrapper


def _files_under(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} \
        if out.exists() else {}


def _shared_outputs(folder: Path, write_outputs, experiment: str):
    """write_outputs(record, out) drawn once per record: on a repeat, the same files are written
    (every file the first call wrote or rewrote under ``out``) and the same paths returned."""
    @functools.wraps(write_outputs)
    def wrapper(record, out):
        out = Path(out)
        try:
            content = json.dumps(record, sort_keys=True, allow_nan=True)
        except TypeError:  # not JSON: draw it
            return write_outputs(record, out)
        key = repr(("write_outputs", experiment, content))

        drew = []

        def draw():
            before = _files_under(out)
            paths = [Path(p) for p in write_outputs(record, out)]
            drew.append(paths)
            if not all(p.is_relative_to(out) for p in paths):
                return None
            written = {rel: (out / rel).read_bytes() for rel, stamp in _files_under(out).items()
                       if before.get(rel) != stamp}
            return [str(p.relative_to(out)) for p in paths], written

        drawn = _cached(folder, key, draw)
        if drawn is None:  # paths outside out: not shareable
            return drew[0] if drew else write_outputs(record, out)
        relative, written = drawn
        if not drew:
            for rel, data in written.items():
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                (out / rel).write_bytes(data)
        return [out / rel for rel in relative]
    return wrapper


def _shared_symbolic_rows(folder: Path, symbolic_rows):
    """symbolic_rows, each check computed once per session for the arguments it takes: most checks
    are about the paper's printed formulas and ignore ``subject`` / ``baseline``, so the report of
    the paper's method and the audit of another one share them."""
    from proofs_check import ledger

    @functools.wraps(symbolic_rows)
    def wrapper(checks=None, subject=ledger.DEFAULT_SUBJECT, baseline=ledger.DEFAULT_BASELINE):
        if checks is not None or not _plain([subject, baseline]):
            return symbolic_rows(checks=checks, subject=subject, baseline=baseline)
        rows = []
        for index, (claim, check) in enumerate(ledger.symbolic_checks()):
            params = inspect.signature(check).parameters
            taken = sorted((k, v) for k, v in (("subject", subject), ("baseline", baseline)) if k in params)
            # the index and name tell apart the checks a factory makes (the table checks)
            key = repr(("symbolic", index, claim, getattr(check, "__qualname__", str(check)), taken,
                        str(torch.get_default_dtype())))
            rows += _cached(folder, key, lambda entry=(claim, check): symbolic_rows(
                checks=[entry], subject=subject, baseline=baseline))
        return rows
    return wrapper


def share_symbolic_checks(monkeypatch, folder: Path) -> None:
    """The symbolic checks alone, one check at a time (for tests whose subject is not them)."""
    from proofs_check import ledger

    monkeypatch.setattr(ledger, "symbolic_rows", _shared_symbolic_rows(folder, ledger.symbolic_rows))


def share_figures(monkeypatch, folder: Path) -> None:
    """Every experiment's figures drawn once per session for each record (for tests whose subject is
    not the figures)."""
    from simulations.experiments import EXPERIMENT_MODULES

    for name, module in EXPERIMENT_MODULES.items():
        monkeypatch.setattr(module, "write_outputs", _shared_outputs(folder, module.write_outputs, name))


def share_experiments(monkeypatch, folder: Path) -> None:
    """Every experiment's ``run_scale`` and ``write_outputs``, and the symbolic checks, computed once
    per session for each set of plain arguments (see the module docstring)."""
    from simulations.experiments import EXPERIMENT_MODULES

    for module in EXPERIMENT_MODULES.values():
        monkeypatch.setattr(module, "run_scale", _shared_call(folder, module.run_scale))
    share_figures(monkeypatch, folder)
    share_symbolic_checks(monkeypatch, folder)
