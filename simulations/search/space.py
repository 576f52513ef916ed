"""Instance spaces: named, bounded parameters decoded from the unit cube the optimiser searches."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Param:
    """One searched parameter in [low, high]; ``log``: uniform in log space; ``integer``: rounded."""

    name: str
    low: float
    high: float
    log: bool = False
    integer: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low <= self.high):
            raise ValueError(f"parameter {self.name}: need finite low <= high, got [{self.low}, {self.high}]")
        if self.log and self.low <= 0:
            raise ValueError(f"parameter {self.name}: a log-scaled range needs low > 0, got {self.low}")

    def decode(self, u: float) -> float:
        u = min(1.0, max(0.0, float(u)))
        if self.log:
            value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + u * (self.high - self.low)
        return float(round(value)) if self.integer else float(value)


@dataclass(frozen=True)
class Variant:
    """One region of an instance space: fixed settings (loss family, d, ...) and the searched params."""

    name: str
    fixed: dict
    params: tuple[Param, ...]
    note: str = ""
    constraints: tuple = field(default_factory=tuple)  # callables config -> bool, cheap a-priori checks

    @property
    def dim(self) -> int:
        return len(self.params)

    def decode(self, u) -> dict:
        u = np.asarray(u, dtype=np.float64).reshape(-1)
        if u.size != self.dim:
            raise ValueError(f"variant {self.name}: expected {self.dim} coordinates, got {u.size}")
        config = dict(self.fixed)
        config.update({p.name: p.decode(x) for p, x in zip(self.params, u)})
        config["variant"] = self.name
        return config
