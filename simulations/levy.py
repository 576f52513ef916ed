"""Symmetric alpha-stable sampling and tail-index estimation.

Convention (REFERENCES.md, "Alpha-stable noise"): a unit-scale symmetric alpha-stable variable
X has E exp(iuX) = exp(-|u|^alpha), 0 < alpha <= 2 (scipy.stats.levy_stable with beta = 0).
alpha = 2 is N(0, 2), not N(0, 1); alpha = 1 is the standard Cauchy law.

Sampling is the exact Chambers-Mallows-Stuck (CMS) formula for beta = 0,

    X = sin(alpha V) / cos(V)^(1/alpha) * (cos((1 - alpha) V) / W)^((1 - alpha)/alpha),

V ~ U(-pi/2, pi/2), W ~ Exp(1); at alpha = 1 it is tan(V). The tail of X comes from V near
+-pi/2, where cos(V) -> 0, so the formula is evaluated in a form that never loses that tail:

* the uniforms are drawn in float64 (a 2^-53 grid) even for float32 output, so the largest
  samples are limited by the law, not by a 2^-24 uniform grid;
* h = pi/2 - |V| (the distance to the singularity) is computed in float64 and every factor is
  rewritten in terms of h or |V| without cancellation: cos V = sin h, cos((1-alpha)V) =
  sin((1 - |1-alpha|) pi/2 + |1-alpha| h), sin(alpha |V|) = sin((2 - alpha) pi/2 + alpha h)
  for alpha > 1, tan|V| = cos h / sin h at alpha = 1;
* nothing is clamped except the two measure-zero grid points that would make the formula
  0/0 or x/0: U = 0 exactly (h = 0, probability 2^-53) is moved to the middle of its grid cell,
  and W = 0 exactly (probability 2^-53) likewise. No sample is truncated, no NaN replaced.

In float32 a sample whose true value exceeds float32's range (possible only for small alpha,
roughly alpha < 0.5, at probability ~1e-16 per sample) becomes +-inf; use float64 there.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from theory.bounds import stable_levy_constant

_HALF_PI = math.pi / 2
_GRID = 2.0**-53  # spacing of torch.rand in float64


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not (0.0 < alpha <= 2.0) or not math.isfinite(alpha):
        raise ValueError(f"tail index alpha must satisfy 0 < alpha <= 2, got {alpha}")
    return alpha


def symmetric_stable(
    alpha: float,
    shape: tuple[int, ...] | int,
    *,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
    scale: float = 1.0,
) -> torch.Tensor:
    """Draw i.i.d. symmetric alpha-stable samples (exact CMS; see the module docstring).

    ``scale`` multiplies the unit-scale law (characteristic function exp(-|scale u|^alpha)).
    The generator must live on ``device`` (see :func:`simulations.runtime.generator`).
    """
    alpha = _check_alpha(alpha)
    if isinstance(shape, int):
        shape = (shape,)
    if device is None:
        device = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand(shape, generator=generator, device=device, dtype=torch.float64)
    w_u = torch.rand(shape, generator=generator, device=device, dtype=torch.float64)

    t = u.mul_(2.0).sub_(1.0)  # V = t * pi/2, t in [-1, 1) exactly
    abs_t = t.abs()
    sign = torch.sign(t).to(dtype)
    # h = pi/2 - |V| > 0; zero only at u == 0 exactly (measure zero): half a grid cell instead.
    h = (1.0 - abs_t).clamp_(min=_GRID / 2).mul_(_HALF_PI).to(dtype)
    # W = -log(1 - w_u) ~ Exp(1); zero only at w_u == 0 exactly: half a grid cell instead.
    w = torch.log1p(w_u.clamp_(min=_GRID / 2).neg_()).neg_().to(dtype)
    del u, w_u

    cos_v = torch.sin(h)
    if alpha == 1.0:
        x = torch.cos(h).div_(cos_v)  # tan|V|
    else:
        if alpha > 1.0:
            sin_av = torch.sin(h * alpha + (2.0 - alpha) * _HALF_PI)
        else:
            sin_av = torch.sin(abs_t.to(dtype) * (alpha * _HALF_PI))
        c = abs(1.0 - alpha)
        cos_1av = torch.sin(h * c + (1.0 - c) * _HALF_PI)
        # log form: one exp instead of two pow calls, and no intermediate overflow.
        log_x = (
            torch.log(sin_av)
            .sub_(torch.log(cos_v).div_(alpha))
            .add_(torch.log(cos_1av).sub_(torch.log(w)).mul_((1.0 - alpha) / alpha))
        )
        x = torch.exp(log_x)
        # sin(alpha |V|) is exactly 0 only at V = 0 (alpha <= 1 branch), where X = 0: log gives
        # -inf and exp gives 0, which is right.
    x.mul_(sign)
    if scale != 1.0:
        x.mul_(scale)
    return x


def levy_measure_constant(alpha: float) -> float:
    """c_alpha in the Levy measure c_alpha |y|^(-1-alpha) dy of the unit-scale law
    (P(X > x) ~ (c_alpha / alpha) x^-alpha); 0 at alpha = 2. See theory.bounds."""
    return stable_levy_constant(_check_alpha(alpha))


def fractional_moment(alpha: float, p: float, scale: float = 1.0) -> float:
    """E|X|^p for X symmetric alpha-stable with ``scale``, -1 < p < alpha (p <= 2 at alpha = 2).

    E|X|^p = scale^p 2^p Gamma((1+p)/2) Gamma(1 - p/alpha) / (sqrt(pi) Gamma(1 - p/2)).
    At alpha = 2, p = 2 it is the variance 2 scale^2 (the limit of the formula).
    """
    alpha = _check_alpha(alpha)
    if alpha == 2.0 and p == 2.0:
        return 2.0 * scale**2
    if not (-1.0 < p < alpha):
        raise ValueError(f"fractional moment order p must satisfy -1 < p < alpha = {alpha}, got {p}")
    return (
        scale**p * 2.0**p * math.gamma((1.0 + p) / 2.0) * math.gamma(1.0 - p / alpha)
        / (math.sqrt(math.pi) * math.gamma(1.0 - p / 2.0))
    )


def tail_index(samples, block: int | None = None) -> float:
    """Tail-index estimator of Mohammadi et al. (2015), as used by Simsekli et al. (2019).

    Split N = m * n samples into n blocks of m; Y_j = block sums;
    1/alpha_hat = (mean log|Y_j| - mean log|X_i|) / log m. ``block`` is m (default
    floor(sqrt(N))). Exact zeros (log|0| = -inf) are dropped from the sample first.
    Returns alpha_hat (it estimates alpha for stable data; values above 2 are returned as is).
    """
    x = samples.detach().double().cpu().numpy().ravel() if isinstance(samples, torch.Tensor) \
        else np.asarray(samples, dtype=np.float64).ravel()
    x = x[x != 0.0]
    n_total = x.size
    m = int(block) if block is not None else int(math.isqrt(n_total))
    if m < 2 or n_total // m < 2:
        raise ValueError(f"tail_index needs block m >= 2 and at least 2 blocks; got N={n_total}, m={m}")
    n = n_total // m
    x = x[: n * m]
    y = x.reshape(n, m).sum(axis=1)
    y = y[y != 0.0]
    inv_alpha = (np.mean(np.log(np.abs(y))) - np.mean(np.log(np.abs(x)))) / math.log(m)
    return float(1.0 / inv_alpha)
