"""Escape-time problem definitions: basins, the run configuration, the predictions.

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
from dataclasses import dataclass, field

import torch

from theory.bounds import getoor_mean_exit_time, ip_mean_exit_time
from theory.family import get_member

DYNAMICS = ("flow", "sde", "discrete")
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


def basin_grad(theta: torch.Tensor, c_left: torch.Tensor, c_right: torch.Tensor) -> torch.Tensor:
    """grad f for the piecewise-quadratic diagonal basin (zeros for ``none``)."""
    return torch.where(theta > 0, c_right, c_left) * theta


def basin_value(theta: torch.Tensor, c_left: torch.Tensor, c_right: torch.Tensor) -> torch.Tensor:
    """f per path (sum over the last dimension)."""
    return (0.5 * torch.where(theta > 0, c_right, c_left) * theta * theta).sum(-1)


def inside(theta: torch.Tensor, basin: Basin) -> torch.Tensor:
    """True per path while every coordinate lies in the open box (-left, right)."""
    return ((theta < basin.right) & (theta > -basin.left)).all(-1)


@dataclass(frozen=True)
class EscapeConfig:
    """One escape run: dynamics, basin, noise, hyperparameters, paths and limits.

    ``noise_scale`` is epsilon for ``flow`` (d theta = -grad f dt + epsilon dL) and sigma, the
    scale of the gradient noise g = grad f + sigma zeta, for ``sde`` and ``discrete``.
    """

    dynamics: str = "flow"
    optimizers: tuple[str, ...] = ("adam", "adamomentum")
    basin: Basin = field(default_factory=Basin)
    tail_index: float = 1.5
    noise_scale: float = 0.1
    lr: float = 1e-2
    dt: float | None = None  # default: 1e-2 for flow, lr for sde; ignored by discrete (dt = lr)
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    start: tuple[float, ...] | None = None  # default: the minimum
    paths: int = 2000
    max_steps: int = 10_000
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    warmup: int = 0  # steps before the clock starts; a path leaving the basin then restarts at start
    noise_coefficient: float | None = None  # sde: upsilon of eq. (3); default lr^(1 - 1/alpha)
    compact_every: int = 64
    monitor_every: int = 16

    def __post_init__(self) -> None:
        if self.dynamics not in DYNAMICS:
            raise ValueError(f"dynamics must be one of {DYNAMICS}, got {self.dynamics!r}")
        if not 0.0 < self.tail_index <= 2.0:
            raise ValueError(f"tail_index (alpha) must satisfy 0 < alpha <= 2, got {self.tail_index}")
        if not (self.noise_scale >= 0 and math.isfinite(self.noise_scale)):
            raise ValueError(f"noise_scale must be >= 0 and finite, got {self.noise_scale}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.noise_coefficient is not None and not (self.noise_coefficient > 0 and math.isfinite(self.noise_coefficient)):
            raise ValueError(f"noise_coefficient (upsilon) must be > 0 and finite, got {self.noise_coefficient}")
        if self.dt is not None and not self.dt > 0:
            raise ValueError(f"dt must be > 0, got {self.dt}")
        if self.dynamics == "sde" and self.time_step > self.lr * (1 + 1e-12):
            raise ValueError(f"dt must satisfy 0 < dt <= lr = {self.lr} for the sde (one step at most per "
                             f"iteration of the moments), got {self.dt}")
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must satisfy 0 <= {name} < 1, got {value}")
        if self.eps < 0:
            raise ValueError(f"eps must be >= 0, got {self.eps}")
        if self.paths < 2:
            raise ValueError(f"paths must be >= 2, got {self.paths}")
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        if self.compact_every < 1 or self.monitor_every < 1:
            raise ValueError("compact_every and monitor_every must be >= 1")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")
        for name in self.optimizers:
            member = get_member(name)
            if self.dynamics == "sde" and member.momentum == "heavy-ball":
                raise ValueError(f"optimizers: {name} (heavy-ball) has no eq. (3) form; use dynamics=discrete")
        start = self.start_point
        if len(start) != self.basin.dim:
            raise ValueError(f"start needs one value per dimension ({self.basin.dim}), got {len(start)}")
        if not all(-self.basin.left < x < self.basin.right for x in start):
            raise ValueError(f"start must lie inside the basin (-{self.basin.left}, {self.basin.right}), got {start}")

    @property
    def time_step(self) -> float:
        if self.dynamics == "discrete":
            return self.lr
        if self.dt is not None:
            return self.dt
        return 1e-2 if self.dynamics == "flow" else self.lr

    @property
    def start_point(self) -> tuple[float, ...]:
        if self.start is None:
            return (0.0,) * self.basin.dim
        if len(self.start) == 1 and self.basin.dim > 1:
            return tuple(self.start) * self.basin.dim
        return tuple(self.start)

    @property
    def upsilon(self) -> float:
        """upsilon of eq. (3): ``noise_coefficient`` when given (the Lemma 1 experiment varies it alone,
        with dt and the moment rates fixed), else lr^(1 - 1/alpha)."""
        if self.noise_coefficient is not None:
            return self.noise_coefficient
        return self.lr ** (1.0 - 1.0 / self.tail_index)

    @property
    def horizon(self) -> float:
        return self.max_steps * self.time_step

    def labels(self) -> tuple[str, ...]:
        return ("flow",) if self.dynamics == "flow" else tuple(self.optimizers)


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
