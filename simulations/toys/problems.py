"""The toys' problem instances: Appendix A's four 2-D functions with their starts, and Figure 1's
1-D loss curve (a Gaussian well at the end of a gently sloping plateau) with its areas A, B, C.

Beale's second constant is printed as "2.2" in the paper; with 2.2 the stated optimum (3, 0.5) is
not a minimum, so the standard 2.25 is used. Figure 1's loss is

    f(x) = -H exp(-x^2 / (2 w^2)) + s w softplus(-x / w),   H = G w sqrt(e),

whose slope |f'| is ~s on the far left (the plateau, s = ``plateau_slope`` times the well's peak
slope G), rises to ~G at x = -w and falls to 0 at the minimum x_m (just right of 0, found
numerically); :func:`geometry` gives the areas as x-intervals (see :mod:`simulations.toys.stepsize`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from scipy.optimize import brentq, minimize_scalar

from simulations.runtime import generator


# --- the four functions of Appendix A (x has shape (..., 2)) -------------------------------------

def _sphere(x):
    return (x * x).sum(-1)


def _sphere_grad(x):
    return 2 * x


def _camel(x):
    a, b = x[..., 0], x[..., 1]
    return 2 * a**2 - 1.05 * a**4 + a**6 / 6 + a * b + b**2


def _camel_grad(x):
    a, b = x[..., 0], x[..., 1]
    return torch.stack((4 * a - 4.2 * a**3 + a**5 + b, a + 2 * b), dim=-1)


def _beale_terms(x):
    a, b = x[..., 0], x[..., 1]
    return a, b, 1.5 - a + a * b, 2.25 - a + a * b**2, 2.625 - a + a * b**3


def _beale(x):
    _, _, t1, t2, t3 = _beale_terms(x)
    return t1**2 + t2**2 + t3**2


def _beale_grad(x):
    a, b, t1, t2, t3 = _beale_terms(x)
    da = 2 * t1 * (b - 1) + 2 * t2 * (b**2 - 1) + 2 * t3 * (b**3 - 1)
    db = 2 * t1 * a + 4 * t2 * a * b + 6 * t3 * a * b**2
    return torch.stack((da, db), dim=-1)


def _ackley(x):
    a, b = x[..., 0], x[..., 1]
    r = torch.sqrt(0.5 * (a * a + b * b))
    cosines = 0.5 * (torch.cos(2 * math.pi * a) + torch.cos(2 * math.pi * b))
    return -20 * torch.exp(-0.2 * r) - torch.exp(cosines) + 20 + math.e


def _ackley_grad(x):
    """Gradient away from the origin; at the origin (a cone tip) the subgradient 0 is used."""
    a, b = x[..., 0], x[..., 1]
    r = torch.sqrt(0.5 * (a * a + b * b))
    safe_r = torch.where(r > 0, r, torch.ones_like(r))
    radial = torch.where(r > 0, 2 * torch.exp(-0.2 * r) / safe_r, torch.zeros_like(r))
    wave = math.pi * torch.exp(0.5 * (torch.cos(2 * math.pi * a) + torch.cos(2 * math.pi * b)))
    return torch.stack((radial * a + wave * torch.sin(2 * math.pi * a),
                        radial * b + wave * torch.sin(2 * math.pi * b)), dim=-1)


@dataclass(frozen=True)
class ToyFunction:
    """One Appendix-A function: value, closed-form gradient, optimum, box and paper lrs.

    ``sgdm_lr`` is Appendix A's lr for the non-adaptive method (SGD with momentum),
    ``adaptive_lr`` the one the adaptive methods share."""

    name: str
    label: str
    value: Callable
    gradient: Callable
    optimum: tuple
    box: tuple  # (x1 low, x1 high, x2 low, x2 high): start region and plot window
    sgdm_lr: float
    showcase_start: tuple  # the single start drawn in the trajectory figure (illustration only)
    adaptive_lr: float = 0.1


FUNCTIONS: dict[str, ToyFunction] = {
    f.name: f
    for f in (
        ToyFunction("sphere", "Sphere", _sphere, _sphere_grad, (0.0, 0.0), (-3.0, 3.0, -3.0, 3.0), 0.1,
                    (-2.5, 2.0)),
        ToyFunction("camel", "Three-Hump Camel", _camel, _camel_grad, (0.0, 0.0), (-2.0, 2.0, -2.0, 2.0),
                    0.001, (-1.5, 1.5)),
        ToyFunction("beale", "Beale", _beale, _beale_grad, (3.0, 0.5), (-4.5, 4.5, -4.5, 4.5), 0.1,
                    (1.0, 1.5)),
        ToyFunction("ackley", "Ackley", _ackley, _ackley_grad, (0.0, 0.0), (-3.0, 3.0, -3.0, 3.0), 0.1,
                    (2.2, -1.7)),
    )
}


def get_function(name: str) -> ToyFunction:
    try:
        return FUNCTIONS[name]
    except KeyError:
        raise ValueError(f"unknown toy function {name!r}; valid: {', '.join(FUNCTIONS)}") from None


def start_points(function: ToyFunction, config, device, dtype) -> torch.Tensor:
    """(starts^2 * seeds, 2) stratified starts: the box cut into a ``config.starts`` x
    ``config.starts`` grid, one uniform draw per cell per seed (``config.seeds``, ``config.seed``)."""
    x_lo, x_hi, y_lo, y_hi = function.box
    k = config.starts
    gen = generator(config.seed, torch.device("cpu"))
    u = torch.rand((config.seeds, k, k, 2), generator=gen, dtype=torch.float64)
    i = torch.arange(k, dtype=torch.float64)
    cell_x = x_lo + (x_hi - x_lo) * (i.view(1, k, 1) + u[..., 0]) / k
    cell_y = y_lo + (y_hi - y_lo) * (i.view(1, 1, k) + u[..., 1]) / k
    return torch.stack((cell_x, cell_y), dim=-1).reshape(-1, 2).to(device=device, dtype=dtype)


def value_grid(name: str, box: tuple, n: int = 200):
    """The function's values on an n x n grid over ``box`` (for contour plots)."""
    x_lo, x_hi, y_lo, y_hi = box
    xs, ys = np.linspace(x_lo, x_hi, n), np.linspace(y_lo, y_hi, n)
    grid = torch.tensor(np.stack(np.meshgrid(xs, ys), axis=-1), dtype=torch.float64)
    return xs, ys, FUNCTIONS[name].value(grid).numpy()


# --- Figure 1's loss curve ------------------------------------------------------------------------

def well_gradient(x, peak_slope, plateau_slope: float, width: float = 1.0):
    """f'(x) for the loss of the module docstring (torch tensors or numpy arrays)."""
    lib = torch if isinstance(x, torch.Tensor) else np
    height = peak_slope * width * math.exp(0.5)
    sigmoid = 1.0 / (1.0 + lib.exp(x / width))  # sigma(-x / w)
    return height * x / width**2 * lib.exp(-x * x / (2 * width**2)) - plateau_slope * peak_slope * sigmoid


def well_value(x, peak_slope, plateau_slope: float, width: float = 1.0):
    height = peak_slope * width * math.exp(0.5)
    x = np.asarray(x, dtype=np.float64)
    return -height * np.exp(-x * x / (2 * width**2)) + plateau_slope * peak_slope * width * np.logaddexp(0.0, -x / width)


def geometry(levels: tuple, plateau_slope: float, width: float = 1.0) -> dict:
    """Minimum x_m, slope peak and the x-intervals of areas A, B, C (scale-free: peak slope 1).

    With ``levels = (low, high)`` as fractions of the peak slope: A is where |f'| rises from
    ``low`` to ``high`` of its peak (left of the peak), B where |f'| >= ``high`` of its peak, C
    where it falls from ``high`` of its peak to 0, up to x_m."""
    low, high = levels
    slope = (lambda x: -well_gradient(np.float64(x), 1.0, plateau_slope, width))  # |f'| left of x_m
    x_min = brentq(lambda x: well_gradient(np.float64(x), 1.0, plateau_slope, width), 0.0, width)
    peak = minimize_scalar(lambda x: -slope(x), bounds=(-3 * width, 0.0), method="bounded")
    x_peak, top = float(peak.x), float(slope(peak.x))
    far = -12.0 * width
    a_left = brentq(lambda x: slope(x) - low * top, far, x_peak)
    a_right = brentq(lambda x: slope(x) - high * top, far, x_peak)
    b_right = brentq(lambda x: slope(x) - high * top, x_peak, x_min)
    return {"x_min": float(x_min), "x_peak": x_peak, "peak_slope": top,
            "areas": {"A": (a_left, a_right), "B": (a_right, b_right), "C": (b_right, float(x_min))}}
