"""Experiment records: the config, seed, library versions and results, written atomically.

Every experiment function returns a plain dict built by :func:`make_record`; the CLI
writes it with :func:`write_json_atomic` so no half-written file is ever left behind.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from theory.rule import UpdateRule


def library_versions() -> dict[str, str]:
    import matplotlib
    import scipy
    import sympy

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sympy": sympy.__version__,
        "torch": torch.__version__,
        "matplotlib": matplotlib.__version__,
    }


def to_jsonable(obj: Any) -> Any:
    """Convert dataclasses, tensors, numpy values and non-finite floats to JSON-safe values.

    Non-finite floats become the strings "inf", "-inf", "nan" so the JSON stays standard.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return to_jsonable(obj.detach().cpu().tolist())
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        if math.isfinite(value):
            return value
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (torch.dtype, torch.device, Path)):
        return str(obj)
    if isinstance(obj, UpdateRule):  # an update rule is recorded by its name (theory.names resolves it)
        return obj.name
    return obj


def make_record(experiment: str, config: Any, results: Any, seed: int | None = None, **extra: Any) -> dict:
    """Assemble one experiment record (config, seed, versions, results) as a JSON-safe dict."""
    record = {
        "experiment": experiment,
        "config": to_jsonable(config),
        "seed": seed,
        "versions": library_versions(),
        "results": to_jsonable(results),
    }
    record.update({k: to_jsonable(v) for k, v in extra.items()})
    return record


def _umask() -> int:
    try:  # Linux says it without changing it (os.umask both sets and reads: racy under threads)
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)  # elsewhere: set, then restore at once
    os.umask(current)
    return current


def file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give: 0666 less the umask (0644 under the usual 022)."""
    return 0o666 & ~_umask()


def _publish(tmp: str, path: Path) -> None:
    # mkstemp creates 0600 files; results are meant to be read (and served) by others, like any file
    # the user writes, so they get the mode the umask gives.
    os.chmod(tmp, file_mode())
    os.replace(tmp, path)


def write_json_atomic(path: str | os.PathLike, data: Any, default=None) -> Path:
    """Write JSON to ``path`` through a temporary file in the same folder and an atomic rename.

    ``default`` converts what JSON cannot hold (e.g. ``str`` for sympy objects in the ledger's
    details); without it such a value raises TypeError and nothing is written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(to_jsonable(data), handle, indent=2, sort_keys=False, default=default)
            handle.write("\n")
        _publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write text (UTF-8) to ``path`` through a temporary file and an atomic rename, mode 0644."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        _publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_figure_atomic(fig, path: str | os.PathLike, **kwargs: Any) -> Path:
    """Save a matplotlib figure atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, **kwargs)
        _publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (figures are files; no display needed).

    Imported lazily so that commands start fast and tests that write no figure never load it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def read_json(path: str | os.PathLike) -> Any:
    with open(path) as handle:
        return json.load(handle)
