"""Escape-time problems: the basins, the named basins of the presets, the known answers for the flow.

Basins (diagonal, coordinate-wise; the minimum is at 0; the basin Omega is the box
prod_i (-left, right)):

* ``quadratic``: f = sum_i c_i x_i^2 / 2, symmetric box (-w, w);
* ``asymmetric``: an asymmetric valley of equal height on both sides: f_i = c_i x^2 / 2 for x > 0
  and c_i (a/b)^2 x^2 / 2 for x < 0 on (-b, a), so the wider side is the flatter one
  (He et al. 2019); ``width = (a, b)``;
* ``none``: f = 0 (pure Levy motion), exit from (-b, a) (one value: symmetric).

Time is measured in the SDE's units: ``flow`` and ``sde`` advance by ``dt`` per step; one
iteration of the ``discrete`` optimizer is ``lr`` units of time (eq. (3) with upsilon =
lr^(1 - 1/alpha) is the continuous model of the iteration with that convention, Appendix B.1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from theory.bounds import getoor_mean_exit_time, ip_mean_exit_time

if TYPE_CHECKING:
    from simulations.escape.experiment import EscapeConfig

BASINS = ("quadratic", "asymmetric", "none")


@dataclass(frozen=True)
class Basin:
    """A diagonal basin; ``width`` = (right, left) half-widths, ``curvature`` one per dimension."""

    kind: str = "quadratic"
    curvature: tuple[float, ...] = (1.0,)
    width: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self) -> None:
        if self.kind not in BASINS:
            raise ValueError(f"basin must be one of {BASINS}, got {self.kind!r}")
        if len(self.curvature) < 1 or any(not (c > 0 and math.isfinite(c)) for c in self.curvature):
            raise ValueError(f"curvature must be one positive finite value per dimension, got {self.curvature}")
        if len(self.width) != 2 or any(not (w > 0 and math.isfinite(w)) for w in self.width):
            raise ValueError(f"width must be positive (right, left) half-widths, got {self.width}")
        if self.kind == "quadratic" and self.width[0] != self.width[1]:
            raise ValueError("width: a quadratic basin takes one half-width; use basin=asymmetric for two")

    @property
    def dim(self) -> int:
        return len(self.curvature)

    @property
    def right(self) -> float:
        return self.width[0]

    @property
    def left(self) -> float:
        return self.width[1]

    def curvatures(self) -> tuple[list[float], list[float]]:
        """(left-side, right-side) curvature per dimension (zeros for ``none``)."""
        if self.kind == "none":
            return [0.0] * self.dim, [0.0] * self.dim
        right = list(self.curvature)
        if self.kind == "asymmetric":
            ratio = (self.right / self.left) ** 2
            return [c * ratio for c in right], right
        return right, right

    def tensors(self, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        left, right = self.curvatures()
        return (torch.tensor(left, device=device, dtype=dtype), torch.tensor(right, device=device, dtype=dtype))

    def height(self) -> float:
        """Barrier height f at the walls (the same on both sides by construction)."""
        return 0.0 if self.kind == "none" else 0.5 * min(self.curvature) * self.right**2


# The basins of the named experiments (Proposition 1's regimes: sharp, flat, asymmetric valley).
SHARP = Basin("quadratic", (4.0,), (0.25, 0.25))
FLAT = Basin("quadratic", (0.25,), (1.0, 1.0))
ASYM = Basin("asymmetric", (4.0,), (0.25, 1.0))  # sharp right wall, flat left side, same height


def basin_grad(theta: torch.Tensor, c_left: torch.Tensor, c_right: torch.Tensor) -> torch.Tensor:
    """grad f for the piecewise-quadratic diagonal basin (zeros for ``none``)."""
    return torch.where(theta > 0, c_right, c_left) * theta


def basin_value(theta: torch.Tensor, c_left: torch.Tensor, c_right: torch.Tensor) -> torch.Tensor:
    """f per path (sum over the last dimension)."""
    return (0.5 * torch.where(theta > 0, c_right, c_left) * theta * theta).sum(-1)


def inside(theta: torch.Tensor, basin: Basin) -> torch.Tensor:
    """True per path while every coordinate lies in the open box (-left, right)."""
    return ((theta < basin.right) & (theta > -basin.left)).all(-1)


def flow_prediction(config: EscapeConfig) -> dict | None:
    """The known answer for the ``flow`` dynamics, where one exists.

    ``none`` basin in one dimension: Getoor's exact mean exit time (shifted to the interval's
    centre). Quadratic / asymmetric basins with alpha < 2: the Imkeller-Pavlyukevich small-noise
    asymptotics alpha eps^-alpha / (c_alpha sum_i (a^-alpha + b^-alpha)) (exact only as eps -> 0).
    """
    if config.dynamics != "flow" or config.noise_scale == 0:
        return None
    basin, alpha, eps = config.basin, config.tail_index, config.noise_scale
    if basin.kind == "none":
        if basin.dim != 1:
            return None
        centre = (basin.right - basin.left) / 2
        radius = (basin.right + basin.left) / 2
        value = getoor_mean_exit_time(alpha, radius, config.start_point[0] - centre, eps)
        return {"value": value, "law": "getoor-exact"}
    if alpha >= 2.0:
        return None
    value = ip_mean_exit_time(alpha, [basin.right] * basin.dim, [basin.left] * basin.dim, eps)
    return {"value": value, "law": "imkeller-pavlyukevich-asymptotic"}
