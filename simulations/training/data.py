"""The data sets: MNIST-1D (generated procedurally by the ``mnist1d`` package, never downloaded)
and scikit-learn's bundled 8x8 digits, split deterministically from a seed.

MNIST-1D keeps the package's own test set (1000 examples, fixed by its generator seed 42) and
splits its 4000 training examples into train / validation by ``seed``. Digits (1797 examples,
pixel values / 16) is split into train / validation / test by ``seed``.
"""
from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

DATASETS = ("mnist1d", "digits")
VALIDATION = {"mnist1d": 500, "digits": 360}
TEST_DIGITS = 360


@dataclass(frozen=True)
class Split:
    """Arrays of one split of a data set (features float32, labels int64)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int

    def sizes(self) -> dict:
        return {"train": len(self.y_train), "validation": len(self.y_val), "test": len(self.y_test)}

    def tensors(self, device, dtype) -> dict:
        """{"train": (x, y), "val": ..., "test": ...} on ``device``; inputs in ``dtype``."""
        def pair(x, y):
            return (torch.as_tensor(x, dtype=dtype, device=device), torch.as_tensor(y, dtype=torch.int64, device=device))
        return {"train": pair(self.x_train, self.y_train), "val": pair(self.x_val, self.y_val),
                "test": pair(self.x_test, self.y_test)}


def check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    return dataset


MNIST1D_ARRAYS = ("x", "y", "x_test", "y_test")


def mnist1d_cache_file() -> Path:
    """Where the generated MNIST-1D arrays are kept (the project's cache folder, ``AMLAB_CACHE``).
    The name hashes the generator's arguments and the versions of the packages that compute them,
    so a file made by another version is never read."""
    from importlib.metadata import version

    from mnist1d.data import get_dataset_args

    from theory.cbuild import cache_dir

    key = repr(([version(p) for p in ("mnist1d", "numpy", "scipy")], sorted(vars(get_dataset_args()).items())))
    return cache_dir() / f"mnist1d_{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


def _mnist1d_generate() -> tuple[np.ndarray, ...]:
    from mnist1d.data import get_dataset_args, make_dataset

    data = make_dataset(get_dataset_args())  # procedural (seed 42 of the package): no download
    return (np.asarray(data["x"], np.float32), np.asarray(data["y"], np.int64),
            np.asarray(data["x_test"], np.float32), np.asarray(data["y_test"], np.int64))


@functools.lru_cache(maxsize=1)
def _mnist1d_raw() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The package's arrays: generated once (about 8 s on one core) and then read from the cache
    folder, the same bytes (``tests/test_training.py``)."""
    path = mnist1d_cache_file()
    try:
        with np.load(path) as saved:  # no pickles: arrays only
            return tuple(saved[name] for name in MNIST1D_ARRAYS)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        pass  # not made yet, or a broken file: generate (and replace) it
    arrays = _mnist1d_generate()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **dict(zip(MNIST1D_ARRAYS, arrays)))
            os.replace(tmp, path)  # atomic: a concurrent process writes the same bytes
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError:
        pass  # an unwritable cache folder costs the generation next time, nothing else
    return arrays


@functools.lru_cache(maxsize=1)
def _digits_raw() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return np.asarray(digits.data / 16.0, np.float32), np.asarray(digits.target, np.int64)


def load(dataset: str, seed: int = 0) -> Split:
    """The split of ``dataset`` for ``seed`` (same seed, same split)."""
    check_dataset(dataset)
    rng = np.random.default_rng(int(seed))
    n_val = VALIDATION[dataset]
    if dataset == "mnist1d":
        x, y, x_test, y_test = _mnist1d_raw()
        order = rng.permutation(len(y))
        val, train = order[:n_val], order[n_val:]
        return Split(x[train], y[train], x[val], y[val], x_test, y_test, 10)
    x, y = _digits_raw()
    order = rng.permutation(len(y))
    test, val, train = order[:TEST_DIGITS], order[TEST_DIGITS:TEST_DIGITS + n_val], order[TEST_DIGITS + n_val:]
    return Split(x[train], y[train], x[val], y[val], x[test], y[test], 10)
