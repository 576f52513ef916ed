"""Finished units, kept in memory or saved under ``DIR/units/`` (``<key>.json`` and ``<key>.npy``,
the final parameters), so that ``--resume`` skips them. Every unit goes through its JSON form, so
a record built from saved units equals one built from fresh ones.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from simulations.records import read_json, to_jsonable, write_json_atomic

FINGERPRINT = "config.json"


def normalise(unit: dict) -> dict:
    return json.loads(json.dumps(to_jsonable(unit)))


class UnitStore:
    """Units of one configuration; ``folder=None`` keeps them in memory only."""

    def __init__(self, folder: Path | None, fingerprint: dict, resume: bool = False):
        self.folder = Path(folder) if folder is not None else None
        self._memory: dict[str, tuple[dict, np.ndarray]] = {}
        self.resumed: list[str] = []
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        saved = self.folder / FINGERPRINT
        fingerprint = normalise(fingerprint)
        if resume and saved.exists():
            old = read_json(saved)
            if old != fingerprint:
                changed = sorted(k for k in set(old) | set(fingerprint) if old.get(k) != fingerprint.get(k))
                raise ValueError(f"--resume: the saved units in {self.folder} were made with another configuration "
                                 f"(differs in: {', '.join(changed)}); use another --out or drop --resume")
        elif not resume:
            for path in self.folder.glob("*.json"):
                path.unlink()
            for path in self.folder.glob("*.npy"):
                path.unlink()
        write_json_atomic(saved, fingerprint)
        self.resume = resume

    def has(self, key: str) -> bool:
        if key in self._memory:
            return True
        return self.folder is not None and (self.folder / f"{key}.json").exists() \
            and (self.folder / f"{key}.npy").exists()

    def save(self, unit: dict, params: np.ndarray) -> None:
        unit = normalise(unit)
        self._memory[unit["key"]] = (unit, params)
        if self.folder is None:
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{unit['key']}.", suffix=".npy", dir=self.folder)
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, params)
        os.replace(tmp, self.folder / f"{unit['key']}.npy")
        write_json_atomic(self.folder / f"{unit['key']}.json", unit)  # written last: it marks the unit done

    def load(self, key: str) -> tuple[dict, np.ndarray]:
        if key not in self._memory:
            self._memory[key] = (read_json(self.folder / f"{key}.json"), np.load(self.folder / f"{key}.npy"))
            self.resumed.append(key)
        return self._memory[key]
