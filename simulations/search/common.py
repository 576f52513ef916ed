"""Helpers shared by the statements: planted weakenings, dtype/device, per-run hyperparameters."""
from __future__ import annotations

import math

import torch

from simulations.runtime import resolve_device, resolve_dtype

# A planted violation weakens the right-hand side on purpose (tests of the engine, never a verdict):
# "rhs/3" divides it by 3, "no-sqrt-T" divides it by sqrt(T) (the bound with a missing sqrt(T)).
PLANTED = (None, "rhs/3", "no-sqrt-T")


def check_planted(planted) -> None:
    if planted not in PLANTED:
        raise ValueError(f"planted must be one of {PLANTED}, got {planted!r}")


def planted_factor(planted, T: float) -> float:
    """How much a planted weakening multiplies measured / RHS by."""
    if planted is None:
        return 1.0
    return 3.0 if planted == "rhs/3" else math.sqrt(T)


def place(device: str, dtype: str) -> tuple[torch.device, torch.dtype]:
    return resolve_device(device), resolve_dtype(dtype)


def by_family_and_dim(configs: list[dict]) -> dict[tuple[str, int], list[int]]:
    """Indices of ``configs`` per (loss family, dimension): each group is one batched run."""
    groups: dict[tuple[str, int], list[int]] = {}
    for i, c in enumerate(configs):
        groups.setdefault((c["family"], int(c["d"])), []).append(i)
    return groups


def column(configs: list[dict], key: str, dev, dt) -> torch.Tensor:
    """Per-run values of ``key`` as a (runs, 1) column."""
    return torch.tensor([float(c[key]) for c in configs], dtype=dt, device=dev).unsqueeze(1)


def margin(hypotheses: dict) -> float:
    return sum(bool(v) for v in hypotheses.values()) / max(1, len(hypotheses))
