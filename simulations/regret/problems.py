"""Online convex problems for the regret experiment (Section 4.1, Theorem 1 / Corollary 1).

Problem instances only: the data streams, their gradients, losses and the best point in hindsight;
no optimizer appears here (:mod:`simulations.regret.simulate` drives the update rule).

Every problem lives on the box F = [-radius, radius]^d (an l_inf ball), so Euclidean projection is
coordinate clipping, and for a diagonal second moment it equals the weighted projection
Pi_{F, sqrt(V_t)} of the regret proofs (Reddi et al. 2018). Conventions:

* ``periodic`` (d = 1): f_t(x) = big * x when t mod period = 1 (t = 1, 1 + period, ...), else
  -small * x. Reddi, Kale & Kumar's family; their plot uses period 101, big 1010, small 10.
* ``stochastic-periodic`` (d = 1): f_t(x) = big * x with probability ``prob``, else -small * x.
* ``box-linear``: f_t(x) = <g_t, x>; coordinate i is active at step t with probability
  prob * (i + 1)^(-power) (a power law of coordinate frequencies); an active coordinate's value
  is +1 with probability (1 + drift) / 2, else -1. Best point in hindsight is exact:
  min_x <G_T, x> = -radius * sum_i |G_{T,i}| with G_T = sum_t g_t.
* ``logistic``: f_t(x) = log(1 + exp(-y_t <a_t, x>)), a_t uniform on [-1, 1]^d masked by the
  same power-law activity (optionally dense), y_t = sign(<w, a_t> + noise * N(0, 1)) for a
  per-seed w ~ N(0, I); the comparator min over F is found by L-BFGS-B (scipy).

Batches: a batch holds ``configs x seeds`` runs (run r = config r // seeds, seed r % seeds). The
random stream of a seed is drawn in chunks of :data:`CHUNK` steps from one generator seeded with
``seed`` and shared by all configs (common random numbers), so a config replayed alone with the
same ``seed`` and ``seeds`` sees exactly the same data on the same device.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import torch

from simulations.runtime import generator

PROBLEMS = ("periodic", "stochastic-periodic", "box-linear", "logistic")
CHUNK = 1024  # steps of random data drawn at once; part of the reproducibility contract


@dataclass(frozen=True)
class ProblemConfig:
    """One online problem; fields not used by ``name`` are ignored (and recorded as given)."""

    name: str = "periodic"
    period: int = 101
    big: float = 1010.0
    small: float = 10.0
    prob: float = 0.01
    dim: int = 1
    power: float = 1.0
    drift: float = 0.2
    noise: float = 0.5
    dense: bool = False
    radius: float = 1.0

    def __post_init__(self) -> None:
        if self.name not in PROBLEMS:
            raise ValueError(f"problem must be one of {PROBLEMS}, got {self.name!r}")
        if self.name in ("periodic", "stochastic-periodic") and self.dim != 1:
            raise ValueError(f"dim must be 1 for the {self.name} problem, got {self.dim}")
        checks = (
            ("period", self.period >= 1, "period >= 1"),
            ("big", self.big > 0 and math.isfinite(self.big), "0 < big < inf"),
            ("small", self.small > 0 and math.isfinite(self.small), "0 < small < inf"),
            ("prob", 0.0 < self.prob <= 1.0, "0 < prob <= 1"),
            ("dim", self.dim >= 1, "dim >= 1"),
            ("power", self.power >= 0, "power >= 0"),
            ("drift", -1.0 <= self.drift <= 1.0, "-1 <= drift <= 1"),
            ("noise", self.noise >= 0, "noise >= 0"),
            ("radius", self.radius > 0 and math.isfinite(self.radius), "0 < radius < inf"),
        )
        for label, ok, valid in checks:
            if not ok:
                raise ValueError(f"Invalid {label}: {getattr(self, label)}; valid range: {valid}")

    @property
    def linear(self) -> bool:
        return self.name != "logistic"

    @property
    def grad_bound(self) -> float:
        """G_inf: a bound on ||grad f_t(x)||_inf over all x and t (Corollary 1's hypothesis)."""
        return max(self.big, self.small) if self.name in ("periodic", "stochastic-periodic") else 1.0

    @property
    def drift_rate(self) -> float | None:
        """Mean gradient per step of the 1-D problems (> 0 puts x* at -radius in the long run)."""
        if self.name == "periodic":
            return (self.big - (self.period - 1) * self.small) / self.period
        if self.name == "stochastic-periodic":
            return self.prob * self.big - (1 - self.prob) * self.small
        return None

    @property
    def diameter(self) -> float:
        """The l_inf diameter of F, a D_inf valid for every run."""
        return 2.0 * self.radius

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class ProblemBatch:
    """Data source for ``len(configs) * seeds`` runs of problems of one kind and dimension."""

    def __init__(self, configs: list[ProblemConfig], seeds: int, seed: int, device: torch.device,
                 dtype: torch.dtype) -> None:
        if not configs:
            raise ValueError("at least one problem config is needed")
        kinds = {(c.name, c.dim, c.dense) for c in configs}
        if len(kinds) != 1:
            raise ValueError(f"a batch holds one problem kind and dimension, got {sorted(kinds)}")
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {seeds}")
        self.configs, self.seeds, self.seed = list(configs), int(seeds), int(seed)
        self.name, self.dim = configs[0].name, configs[0].dim
        self.device, self.dtype = device, dtype
        self.runs = len(configs) * self.seeds
        self._seed_index = torch.arange(self.runs, device=device) % self.seeds
        col = (lambda attr: torch.tensor([getattr(c, attr) for c in configs], device=device,
                                         dtype=dtype).repeat_interleave(self.seeds))
        self.period = torch.tensor([c.period for c in configs], device=device).repeat_interleave(self.seeds)
        self.big, self.small, self.prob = col("big"), col("small"), col("prob")
        self.power, self.drift, self.noise = col("power"), col("drift"), col("noise")
        self.radius = col("radius").unsqueeze(1)  # (runs, 1), broadcasts over coordinates
        self._gen = generator(self.seed, device)
        self._buffer: dict | None = None
        self._buffer_start = 1
        self._next_chunk_start = 1
        if self.name == "logistic":
            self.w = torch.randn(self.seeds, self.dim, generator=self._gen, device=device, dtype=dtype)
            self.history: list[dict] = []
        if self.name in ("box-linear", "logistic"):
            i = torch.arange(1, self.dim + 1, device=device, dtype=dtype)
            self.activity = (self.prob.unsqueeze(1) * i.pow(-self.power.unsqueeze(1))).clamp(max=1.0)

    # -- data ------------------------------------------------------------------------------
    def _draw_chunk(self, start: int) -> dict:
        """Data for steps start .. start + CHUNK - 1; tensors have shape (CHUNK, runs, ...)."""
        K, dev, dt, gen = CHUNK, self.device, self.dtype, self._gen
        t = torch.arange(start, start + K, device=dev).unsqueeze(1)  # (K, 1)
        if self.name == "periodic":
            hit = ((t - 1) % self.period) == 0
            return {"g": torch.where(hit, self.big, -self.small).unsqueeze(-1)}
        per_seed = (lambda *shape: torch.rand(K, self.seeds, *shape, generator=gen, device=dev, dtype=dt)
                    [:, self._seed_index])
        if self.name == "stochastic-periodic":
            hit = per_seed() < self.prob
            return {"g": torch.where(hit, self.big, -self.small).unsqueeze(-1)}
        active = per_seed(self.dim) < self.activity
        if self.name == "box-linear":
            sign = torch.where(per_seed(self.dim) < (1 + self.drift.unsqueeze(1)) / 2, 1.0, -1.0).to(dt)
            return {"g": active.to(dt) * sign}
        a = 2 * per_seed(self.dim) - 1
        if not self.configs[0].dense:
            a = a * active.to(dt)
        z = torch.randn(K, self.seeds, generator=gen, device=dev, dtype=dt)[:, self._seed_index]
        margin = (a * self.w[self._seed_index]).sum(-1) + self.noise * z
        y = torch.where(margin >= 0, 1.0, -1.0).to(dt)
        return {"a": a, "y": y}

    def data(self, t: int) -> tuple[dict, int]:
        """The chunk holding step t and the index of t inside it (chunks are drawn in order)."""
        while self._buffer is None or t >= self._buffer_start + CHUNK:
            if self._buffer is not None and t < self._buffer_start:
                raise ValueError("steps must be visited in increasing order")
            self._buffer_start = self._next_chunk_start
            self._buffer = self._draw_chunk(self._buffer_start)
            self._next_chunk_start += CHUNK
            if self.name == "logistic":
                self.history.append(self._buffer)
        return self._buffer, t - self._buffer_start

    def grad(self, chunk: dict, k: int, x: torch.Tensor) -> torch.Tensor:
        """grad f_t(x_t) for the step at index k of ``chunk``; x has shape (runs, d)."""
        if self.linear:
            return chunk["g"][k]
        a, y = chunk["a"][k], chunk["y"][k]
        s = -y * (a * x).sum(-1)
        return (-y * torch.sigmoid(s)).unsqueeze(-1) * a

    @property
    def linear(self) -> bool:
        return self.name != "logistic"

    def losses(self, chunk: dict, lo: int, hi: int, xs: torch.Tensor) -> torch.Tensor:
        """f_t(x_t) for chunk indices lo..hi-1, with xs of shape (hi - lo, runs, d)."""
        if self.linear:
            return (chunk["g"][lo:hi] * xs).sum(-1)
        margin = chunk["y"][lo:hi] * (chunk["a"][lo:hi] * xs).sum(-1)
        return torch.nn.functional.softplus(-margin)

    # -- comparator ------------------------------------------------------------------------
    def comparator(self, T: int, grad_sum: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(min_x sum_{t<=T} f_t(x), argmin), shapes (runs,) and (runs, d).

        Linear problems: exact from ``grad_sum`` = sum_{t<=T} g_t. Logistic: L-BFGS-B per run.
        """
        if self.linear:
            x_star = -self.radius * torch.sign(grad_sum)
            # a zero coordinate sum leaves the argmin anywhere in [-r, r]; the centre is the natural pick
            return -(self.radius * grad_sum.abs()).sum(-1), x_star
        return self._logistic_comparator(T)

    def _logistic_comparator(self, T: int) -> tuple[torch.Tensor, torch.Tensor]:
        # The data depend only on (configs, seeds, seed, device, dtype), not on the optimizer, so
        # the comparator is shared by every member run on the same batch.
        key = (tuple(self.configs), self.seeds, self.seed, str(self.device), str(self.dtype), T)
        if key not in _COMPARATOR_CACHE:
            if len(_COMPARATOR_CACHE) > 256:
                _COMPARATOR_CACHE.clear()
            _COMPARATOR_CACHE[key] = self._solve_logistic(T)
        return _COMPARATOR_CACHE[key]

    def _solve_logistic(self, T: int) -> tuple[torch.Tensor, torch.Tensor]:
        from scipy.optimize import minimize

        a = torch.cat([c["a"] for c in self.history])[:T].double().cpu().numpy()  # (T, runs, d)
        y = torch.cat([c["y"] for c in self.history])[:T].double().cpu().numpy()
        radius = self.radius.reshape(-1).double().cpu().numpy()
        values, points = np.empty(self.runs), np.empty((self.runs, self.dim))
        for r in range(self.runs):
            ya = a[:, r, :] * y[:, r, None]

            def fun(x, ya=ya):
                m = ya @ x
                return float(np.logaddexp(0.0, -m).sum()), -(ya.T @ _sigmoid(-m))

            bounds = [(-radius[r], radius[r])] * self.dim
            res = minimize(fun, np.zeros(self.dim), jac=True, method="L-BFGS-B", bounds=bounds,
                           options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 2000})
            values[r], points[r] = res.fun, res.x
        return (torch.as_tensor(values, device=self.device, dtype=self.dtype),
                torch.as_tensor(points, device=self.device, dtype=self.dtype))


_COMPARATOR_CACHE: dict = {}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * z))
