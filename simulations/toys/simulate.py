"""The batched 2-D toy runs: one update rule from every start at once, with optional gradient noise.

The simulation drives an update rule (:mod:`theory.rule`), never a name: a registry member, a
torch optimizer and a user's rule run through the same loop. With ``grad_noise`` > 0 every run
adds N(0, sigma^2) noise to its gradient, drawn from a stream seeded by (seed, function name, start
index) alone, so every optimizer sees the same noise on the same start (the comparison stays paired)
and the noise does not depend on the order of the functions or optimizers requested.
"""
from __future__ import annotations

import zlib

import numpy as np
import torch

from simulations.toys.problems import ToyFunction
from theory.family import Hyper
from theory.rule import member_of, second_moment

SHOWCASE_INDEX = -1  # start index of the illustrative start in the noise seeds


def noise_seed(seed: int, function_name: str, start_index: int) -> np.random.SeedSequence:
    """The seed of one run's gradient-noise stream: a function of (seed, function name, start
    index) only (start index ``SHOWCASE_INDEX`` is the illustrative start)."""
    return np.random.SeedSequence([int(seed) % 2**64, zlib.crc32(function_name.encode()), int(start_index) + 1])


class NoiseStreams:
    """Per-run N(0, 1) streams of shape (dim,) per step, one numpy generator per run, drawn in
    chunks of steps and moved to the device a chunk at a time."""

    def __init__(self, seeds: list, dim: int, device, dtype, chunk: int = 256):
        self.gens = [np.random.Generator(np.random.PCG64(s)) for s in seeds]
        self.dim, self.device, self.dtype, self.chunk = dim, device, dtype, chunk
        self.block, self.first = None, 0

    def at(self, t: int) -> torch.Tensor:
        """Noise of step t (1-based; steps must be requested in order)."""
        if self.block is None or t - self.first >= self.block.shape[1]:
            draws = np.stack([g.standard_normal((self.chunk, self.dim)) for g in self.gens])
            self.block, self.first = torch.as_tensor(draws, device=self.device, dtype=self.dtype), t
        return self.block[:, t - self.first]


def is_adaptive(rule) -> bool:
    """Whether ``rule`` divides by a second moment (Appendix A gives such methods one lr and SGDM
    another). A registry member answers from its structure; any other rule takes one step on a
    dummy parameter and is adaptive when it then has a second-moment read-out."""
    member = member_of(rule)
    if member is not None:
        return member.adaptive
    hyper = Hyper()
    params = torch.zeros((1, 2), dtype=torch.float64)
    state = rule.init(params, hyper)
    rule.step(state, params, torch.ones_like(params), hyper)
    return second_moment(rule, state) is not None


def _noise(function: ToyFunction, theta: torch.Tensor, grad_noise: float, seed: int,
           start_indices: list[int] | None) -> NoiseStreams | None:
    if grad_noise <= 0:
        return None
    indices = range(theta.shape[0]) if start_indices is None else start_indices
    if len(indices) != theta.shape[0]:
        raise ValueError(f"start_indices has {len(indices)} entries for {theta.shape[0]} starts")
    return NoiseStreams([noise_seed(seed, function.name, i) for i in indices], theta.shape[-1],
                        theta.device, theta.dtype)


def simulate(function: ToyFunction, rule, starts: torch.Tensor, hyper: Hyper, steps: int,
             radius: float, grad_noise: float = 0.0, seed: int = 0, keep: torch.Tensor | None = None,
             start_indices: list[int] | None = None) -> dict:
    """Run the update rule ``rule`` from every start at once (``rule.init`` / ``rule.step``).

    With ``grad_noise`` > 0, run i's noise stream is seeded by ``noise_seed(seed, function.name,
    start_indices[i])`` (default start index: i), so runs of different optimizers from the same
    start index see the same noise.

    Returns per-run ``hit`` (first step within ``radius`` of the optimum, -1 if never), ``settle``
    (first step from which it stays within the radius up to ``steps``, -1 if not inside at the end),
    ``diverged`` (non-finite iterate), ``final_distance`` and the paths of the runs in ``keep``.
    """
    if isinstance(rule, str):
        raise TypeError(f"simulate drives an update rule, got the name {rule!r}: resolve it first "
                        "(theory.names.resolve)")
    theta = starts.clone()
    optimum = torch.tensor(function.optimum, device=theta.device, dtype=theta.dtype)
    state = rule.init(theta, hyper)
    noise = _noise(function, theta, grad_noise, seed, start_indices)
    distance = torch.linalg.vector_norm(theta - optimum, dim=-1)
    inside = distance <= radius
    hit = torch.where(inside, 0, -1)
    last_outside = torch.where(inside, -1, 0)
    paths = [theta[keep].clone()] if keep is not None else None
    for t in range(1, steps + 1):
        grad = function.gradient(theta)
        if noise is not None:
            grad = grad + grad_noise * noise.at(t)
        rule.step(state, theta, grad, hyper)
        distance = torch.linalg.vector_norm(theta - optimum, dim=-1)
        inside = distance <= radius  # NaN compares False: a diverged run never counts as inside
        hit = torch.where(inside & (hit < 0), t, hit)
        last_outside = torch.where(inside, last_outside, t)
        if paths is not None:
            paths.append(theta[keep].clone())
    settle = torch.where(last_outside < steps, last_outside + 1, -1)
    finite = torch.isfinite(theta).all(dim=-1)
    return {"hit": hit.cpu().numpy(), "settle": settle.cpu().numpy(), "diverged": (~finite).cpu().numpy(),
            "final_distance": torch.where(finite, distance, torch.inf).cpu().numpy(),
            "paths": None if paths is None else torch.stack(paths, dim=1).cpu().numpy()}
