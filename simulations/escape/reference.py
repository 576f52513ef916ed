"""Per-path float64 reference loops for the escape simulators (tests and benchmarks only).

Plain Python floats, one path at a time, written longhand from the definitions in
:mod:`simulations.escape.simulate` (the discrete dynamics from :mod:`theory.reference`), so the
batched simulator can be checked against them on the same noise table. Family members only: the
loops are written from each member's structure (a name or a rule whose ``member`` is one).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from theory.family import Member
from theory.names import resolve
from theory.reference import REFERENCE
from theory.rule import member_of

if TYPE_CHECKING:
    from simulations.escape.experiment import EscapeConfig


def _grad(x: float, cl: float, cr: float) -> float:
    return (cr if x > 0 else cl) * x


def _inside(theta, right: float, left: float) -> bool:
    return all(-left < x < right for x in theta)


def _member(optimizer: Any) -> Member:
    member = member_of(resolve(optimizer))
    if member is None:
        raise ValueError(f"reference_exit_step: the float64 reference loops are family-only; got {optimizer!r}")
    return member


def reference_exit_step(config: EscapeConfig, label: Any, noise_rows) -> int:
    """Exit step (0: none within max_steps) of one path driven by ``noise_rows[k-1][i]``
    (``label``: "flow" for the flow, else a registry member's name or rule)."""
    if config.dynamics == "flow":
        return _flow_exit(config, noise_rows)
    if config.dynamics == "discrete":
        return _discrete_exit(config, _member(label), noise_rows)
    return _sde_exit(config, _member(label), noise_rows)


def _first_exit(path, basin) -> int:
    """The first k >= 1 with path[k] outside the basin (0: none)."""
    for k in range(1, len(path)):
        if not _inside(path[k], basin.right, basin.left):
            return k
    return 0


def _flow_exit(config: EscapeConfig, noise_rows) -> int:
    basin = config.basin
    cl, cr = basin.curvatures()
    theta = [float(x) for x in config.start_point]
    dt = config.time_step
    coef = config.noise_scale * dt ** (1.0 / config.tail_index)
    for k in range(1, config.max_steps + 1):
        theta = [x - _grad(x, cl[i], cr[i]) * dt + coef * float(noise_rows[k - 1][i]) for i, x in enumerate(theta)]
        if not _inside(theta, basin.right, basin.left):
            return k
    return 0


def _discrete_exit(config: EscapeConfig, member: Member, noise_rows) -> int:
    """The member's own float64 loop (theory.reference) on g = grad f + sigma zeta."""
    basin = config.basin
    cl, cr = basin.curvatures()
    sigma = config.noise_scale
    theta = [float(x) for x in config.start_point]
    grads = [
        (lambda th, t: [_grad(x, cl[i], cr[i]) + sigma * float(noise_rows[t - 1][i]) for i, x in enumerate(th)])
        for _ in range(config.max_steps)
    ]
    path, _ = REFERENCE[member.name](theta, grads, config.lr, config.beta1, config.beta2, config.eps)
    return _first_exit(path, basin)


def _sde_exit(config: EscapeConfig, member: Member, noise_rows) -> int:
    """The sde of :mod:`simulations.escape.simulate`, longhand."""
    basin = config.basin
    cl, cr = basin.curvatures()
    d, alpha, sigma = basin.dim, config.tail_index, config.noise_scale
    theta = [float(x) for x in config.start_point]
    dt, lr, b1, b2, eps = config.time_step, config.lr, config.beta1, config.beta2, config.eps
    h = dt / lr
    c1 = (1 - b1) if member.momentum == "ema" else 1.0
    a1 = c1 * h if member.momentum == "ema" else 1.0
    a2 = (1 - b2) * h
    coef = lr ** (1 - 1 / alpha) * sigma * dt ** (1 / alpha)
    gcoef = sigma * h ** (1 / alpha)
    m, mn, v, vmax = [0.0] * d, [0.0] * d, [0.0] * d, [0.0] * d

    def r_of(i, t):  # denominator R_i at iteration t
        used = vmax[i] if member.max_v else v[i]
        r = math.sqrt(used / (1 - b2**t) if member.bias_correction else used)
        return r + eps if member.eps_mode in ("outside", "both") else r

    def q_of(t):
        return 1 / (1 - b1**t) if member.bias_correction and member.momentum == "ema" else 1.0

    for k in range(1, config.max_steps + 1):
        t_prev, t = (k - 1) * h, k * h
        new = []
        for i, x in enumerate(theta):
            g = _grad(x, cl[i], cr[i])
            xi = float(noise_rows[k - 1][i])
            if k > 1:  # noise coefficient before the update (R_{t-}); step 1 has no previous state
                r = r_of(i, t_prev)
            nz = gcoef * xi
            old_mn = mn[i]
            m[i] += a1 * (g - m[i])
            mn[i] += a1 * (g - mn[i]) + c1 * nz
            if member.k == "grad":
                force = (math.sqrt(h) * g + nz) ** 2
            elif member.k == "momentum":
                force = h * mn[i] ** 2
            else:
                force = (b1 * (math.sqrt(h) * (g - old_mn) + nz)) ** 2
            v[i] = v[i] * (1 - a2) + (1 - b2) * force
            if member.eps_mode in ("inside", "both"):
                v[i] += eps * h
            vmax[i] = max(vmax[i], v[i])
            if k == 1:
                r = r_of(i, t)
            q = q_of(t)  # the bias correction of the m it multiplies (m after the update)
            new.append(x - q * m[i] / r * dt + coef * xi / r)
        theta = new
        if not _inside(theta, basin.right, basin.left):
            return k
    return 0
