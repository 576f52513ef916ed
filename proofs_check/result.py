"""The result every check returns, and the row format of the claims ledger.

A check is one derivation step of the paper (or one numeric probe of it). It returns a
:class:`CheckResult`: the claim id it bears on, its verdict, how it was checked, a short
evidence string with the numbers, and the sympy expressions it compared (as strings), so a
reader can redo the step by hand.

``scope`` says what the verdict is about: ``"claim"`` (the paper's statement itself) or
``"step"`` (one step of its proof). The ledger uses it: a proved step does not make the whole
claim proved (see :func:`proofs_check.ledger.combine`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

# "not-significant": a comparison claim tested on the paper's own numbers whose difference is within
# the noise (not supported, not refuted); see proofs_check/tables.py for why it is a verdict of its own.
VERDICTS = ("proved", "holds", "fails", "assumption-violated", "unsatisfiable", "not-significant", "unchecked")
METHODS = ("symbolic", "numeric", "simulation")
SCOPES = ("claim", "step")


@dataclass
class CheckResult:
    """Outcome of one check; ``as_row()`` gives the ledger row."""

    name: str
    claim: str
    verdict: str
    method: str
    evidence: str
    scope: str = "claim"
    expressions: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {self.scope!r}")

    def as_row(self) -> dict:
        details = {"check": self.name, "scope": self.scope, **self.details}
        if self.expressions:
            details["expressions"] = {k: str(v) for k, v in self.expressions.items()}
        return {"claim": self.claim, "verdict": self.verdict, "method": self.method,
                "evidence": self.evidence, "details": details}


def fmt(x: float, digits: int = 4) -> str:
    """Short numeric formatting for evidence strings."""
    return f"{float(x):.{digits}g}"


class single_thread:
    """Run small torch loops on one intra-op thread (restored afterwards): on a shared 2-core
    machine torch's parallel element-wise kernels on a few thousand elements can be ~1000x
    slower than the serial ones."""

    def __enter__(self):
        import torch

        self._threads = torch.get_num_threads()
        torch.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self._threads)
        return False
