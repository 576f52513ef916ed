"""Checkpointed units of a long run: each finished unit (an optimizer, a preset, a function) is one
JSON file under ``<out>/checkpoints/<name>/``, so an interrupted run continues with ``--resume``.

A unit's result is stored as the JSON the record would hold (:func:`simulations.records.to_jsonable`),
and a run always uses that JSON form, computed or read back, so a resumed run's record equals an
uninterrupted one's exactly (:data:`NO_CHECKPOINTS` returns values as computed). ``manifest.json`` holds a hash of the run's configuration; resuming
under a different configuration is refused (:class:`CheckpointMismatch`). Experiments take a
store and call :meth:`UnitStore.unit`; :data:`NO_CHECKPOINTS` (the default) computes every unit.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

from simulations.records import read_json, to_jsonable, write_json_atomic

_last_store: "UnitStore | None" = None


class CheckpointMismatch(ValueError):
    """``--resume`` found checkpoints written by a different configuration."""


def config_hash(config: Any) -> str:
    text = json.dumps(to_jsonable(config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _as_stored(value: Any) -> Any:
    return json.loads(json.dumps(to_jsonable(value)))


def _file_name(key: str) -> str:
    # readable and unique: a sanitised prefix plus a hash of the key itself
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", key)[:60] + "-" + hashlib.sha256(key.encode()).hexdigest()[:8] + ".json"


class UnitStore:
    """Finished units of one run in ``folder``; ``resume`` keeps the ones already there."""

    def __init__(self, folder: str | Path | None, config: Any, resume: bool = False):
        global _last_store
        self.folder = None if folder is None else Path(folder)
        self.hash = config_hash(config)
        self.resumed = 0  # units read back
        self.saved = 0  # units computed and written by this run
        if self.folder is not None:
            self._open(resume)
            _last_store = self

    def _open(self, resume: bool) -> None:
        manifest = self.folder / "manifest.json"
        if resume and manifest.exists():
            found = read_json(manifest).get("config_hash")
            if found != self.hash:
                raise CheckpointMismatch(
                    f"--resume: the checkpoints in {self.folder} were written by a different configuration "
                    f"(hash {found}, this run {self.hash}); rerun the original command with --resume, or drop "
                    f"--resume to start afresh")
        elif self.folder.exists():  # a fresh run replaces old units, and says so
            old = self.count()
            shutil.rmtree(self.folder)
            if old:
                print(f"starting afresh: {old} checkpointed unit(s) in {self.folder} replaced (--resume continues "
                      f"from them instead)", file=sys.stderr)
        write_json_atomic(manifest, {"config_hash": self.hash})

    def unit(self, key: str, compute: Callable[[], Any]) -> Any:
        """The unit ``key``'s result: read back when checkpointed, else computed and saved (JSON form)."""
        if self.folder is None:  # no checkpoints: the value as computed (library callers see no change)
            return compute()
        path = self.folder / _file_name(key)
        if path.exists():
            stored = read_json(path)
            if stored.get("key") == key:
                self.resumed += 1
                return stored["value"]
        value = _as_stored(compute())
        write_json_atomic(path, {"key": key, "value": value})
        self.saved += 1
        return value

    def has(self, key: str) -> bool:
        """Whether unit ``key`` is checkpointed (so :meth:`unit` would read it back)."""
        if self.folder is None:
            return False
        path = self.folder / _file_name(key)
        return path.exists() and read_json(path).get("key") == key

    def count(self) -> int:
        if self.folder is None or not self.folder.exists():
            return 0
        return sum(1 for p in self.folder.glob("*.json") if p.name != "manifest.json")


NO_CHECKPOINTS = UnitStore(None, None)


def last_store() -> UnitStore | None:
    """The store the current command opened last (for the interruption message)."""
    return _last_store


def forget_last_store() -> None:
    global _last_store
    _last_store = None
