"""Monitors that test each theorem's hypotheses on a trajectory.

Each monitor takes the run's recorded quantities and returns a :class:`MonitorResult`
saying whether the hypothesis held, how often and where it failed first. Pure functions.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MonitorResult:
    """Outcome of one hypothesis check on one run (or a batch of runs)."""

    hypothesis: str  # e.g. "v_t <= v_{t+1} per coordinate (Theorem 1)"
    holds: bool
    violations: int  # number of (step, coordinate, run) triples where it failed
    checked: int  # number of triples checked
    first_violation_step: int | None = None
    details: dict = field(default_factory=dict)

    @property
    def violation_rate(self) -> float:
        return self.violations / self.checked if self.checked else 0.0

    def as_dict(self) -> dict:
        return {
            "hypothesis": self.hypothesis,
            "holds": self.holds,
            "violations": self.violations,
            "checked": self.checked,
            "violation_rate": self.violation_rate,
            "first_violation_step": self.first_violation_step,
            "details": self.details,
        }


# ---- Theorem 1 / Corollary 1 monitors ------------------------------------------------------

# ---- Theorem 2 / Corollary 2 monitors ------------------------------------------------------

# ---- Lemma 1 / Proposition 1 monitors (Assumptions 1-5) -----------------------------------
