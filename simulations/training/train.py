"""Training runs: every (optimizer, learning rate, seed) unit, batched per optimizer as runs of
one (runs, dim) parameter tensor stepped by the optimizer's :class:`theory.rule.UpdateRule`.

A seed fixes the initial parameters and the minibatch order, so units of different optimizers
or learning rates with the same seed are paired. On the CPU a run's numbers do not depend on
which other runs share its batch (vmapped matmuls are computed per run; checked by
``tests/test_training.py``), so resuming with a subset of the units gives the same record.
Noise measurements (:mod:`simulations.training.noise`) are taken at fixed fractions of training.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from simulations.runtime import resolve_device, resolve_dtype
from simulations.training.data import check_dataset, load
from simulations.training.models import check_model, flat_model
from simulations.training.noise import noise_stats
from theory.family import Hyper
from theory.names import resolve, split_names


@dataclass(frozen=True)
class TrainConfig:
    """One training experiment; every field is validated (a bad value fails before any work)."""

    dataset: str = "mnist1d"
    model: str = "mlp"
    optimizers: tuple = ("adam", "adamomentum")
    lrs: tuple = (0.01, 0.001)
    seeds: int = 3
    steps: int = 1500
    batch: int = 100
    evals: int = 10
    noise_points: tuple = (0.0, 0.5, 1.0)  # fractions of training at which the noise is measured
    noise_draws: int = 16
    noise_coords: int = 1024
    noise_optimizers: tuple = ("adam", "adamomentum")
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8  # Appendix D: eps = 1e-8 for image classification (AdaMomentum included)
    weight_decay: float = 0.0
    split_seed: int = 0
    refit: bool = True  # after tuning, train the picked lr on train + validation (as the benchmark trains)
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    notes: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        check_dataset(self.dataset)
        check_model(self.dataset, self.model)
        if isinstance(self.optimizers, str):
            object.__setattr__(self, "optimizers", tuple(split_names(self.optimizers)))
        if not self.optimizers:
            raise ValueError("optimizers must name at least one optimizer")
        if len(set(self.optimizers)) != len(self.optimizers):
            raise ValueError(f"optimizers must be distinct, got {self.optimizers}")
        for name in self.optimizers:
            resolve(name)  # an unknown name fails here
        for label, value, low in (("seeds", self.seeds, 1), ("steps", self.steps, 1), ("batch", self.batch, 1),
                                  ("evals", self.evals, 1), ("noise_draws", self.noise_draws, 2),
                                  ("noise_coords", self.noise_coords, 16)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{label} must be an integer >= {low}, got {value!r}")
        if not self.lrs or any(not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0) for lr in self.lrs):
            raise ValueError(f"lrs must be a non-empty list of positive learning rates, got {self.lrs!r}")
        if not isinstance(self.refit, bool):
            raise ValueError(f"refit must be True or False, got {self.refit!r}")
        if any(not 0.0 <= f <= 1.0 for f in self.noise_points):
            raise ValueError(f"noise_points must be fractions in [0, 1], got {self.noise_points!r}")
        Hyper(lr=self.lrs[0], beta1=self.beta1, beta2=self.beta2, eps=self.eps, weight_decay=self.weight_decay)
        resolve_dtype(self.dtype)
        resolve_device(self.device)

    def fingerprint(self) -> dict:
        """What a saved unit depends on (a resume with another fingerprint is refused)."""
        out = asdict(self)
        for key in ("optimizers", "noise_optimizers", "device", "notes"):
            out.pop(key)
        out["lrs"] = [float(x) for x in self.lrs]
        out["noise_points"] = [float(x) for x in self.noise_points]
        return out

    def noise_steps(self) -> list[int]:
        return sorted({int(round(f * self.steps)) for f in self.noise_points})

    def eval_steps(self) -> list[int]:
        return sorted({int(round(i * self.steps / self.evals)) for i in range(self.evals + 1)})


def unit_key(optimizer: str, lr: float, seed: int, refit: bool = False) -> str:
    safe = re.sub(r"[^A-Za-z0-9.-]+", "_", optimizer).strip("_")
    return f"{safe}__lr{float(lr):g}__seed{int(seed)}" + ("__refit" if refit else "")


def _seed_of(config: TrainConfig, seed: int, stream: int) -> int:
    return (int(config.seed) * 1_000_003 + int(seed) * 7919 + stream) % (2**63 - 1)


def minibatch_indices(n: int, steps: int, batch: int, seed: int) -> torch.Tensor:
    """(steps, batch) indices: epochs of a seeded permutation, the last partial batch of each dropped."""
    gen = torch.Generator().manual_seed(int(seed))
    per_epoch = max(1, n // batch)
    epochs = -(-steps // per_epoch)
    rows = [torch.randperm(n, generator=gen)[: per_epoch * batch].view(per_epoch, batch) for _ in range(epochs)]
    return torch.cat(rows)[:steps]


class Context:
    """Data tensors and the flat model of one configuration, built once.

    ``refit``: the final runs at a picked learning rate, trained on train + validation (the
    benchmark's 4000 MNIST-1D training examples); their curves are read on train and test, since
    the validation split is then part of training."""

    def __init__(self, config: TrainConfig, refit: bool = False):
        self.config = config
        self.refit = refit
        self.device = resolve_device(config.device)
        self.dtype = resolve_dtype(config.dtype)
        self.split = load(config.dataset, config.split_seed)
        self.data = self.split.tensors(self.device, self.dtype)
        if refit:
            (x, y), (xv, yv) = self.data["train"], self.data.pop("val")
            self.data["train"] = (torch.cat([x, xv]), torch.cat([y, yv]))
        self.curve_splits = ("train", "test") if refit else ("train", "val")
        self.model = flat_model(config.dataset, config.model, self.dtype, self.device)

    def initial(self, seeds) -> torch.Tensor:
        return torch.stack([self.model.initial(_seed_of(self.config, s, 0), self.dtype, self.device) for s in seeds])

    def hyper(self, lrs) -> Hyper:
        lr = torch.tensor([[float(x)] for x in lrs], dtype=self.dtype, device=self.device)
        c = self.config
        return Hyper(lr=lr, beta1=c.beta1, beta2=c.beta2, eps=c.eps, weight_decay=c.weight_decay)


def _evaluate(ctx: Context, params: torch.Tensor, with_test: bool) -> dict:
    out = {}
    for split in dict.fromkeys(ctx.curve_splits + (("test",) if with_test else ())):
        loss, acc = ctx.model.evaluate(params, *ctx.data[split])
        out[f"{split}_loss"], out[f"{split}_acc"] = loss.cpu().tolist(), acc.cpu().tolist()
    return out


def _noise(ctx: Context, params: torch.Tensor, seeds, step: int) -> list[dict]:
    """Noise statistics of each run at ``params`` (K minibatches of the run's seed at this step)."""
    c, model = ctx.config, ctx.model
    x, y = ctx.data["train"]
    full = ctx.model.shared_grads(params, x, y)
    draws = []
    for k in range(c.noise_draws):
        idx = torch.stack([torch.randperm(len(y), generator=torch.Generator().manual_seed(
            _seed_of(c, s, 1000 + 131 * step + k)))[: c.batch] for s in seeds]).to(ctx.device)
        draws.append(model.grads(params, x[idx], y[idx]) - full)
    noise = torch.stack(draws, 1).double().cpu().numpy()  # (runs, K, dim)
    out = []
    for r, s in enumerate(seeds):
        rng = np.random.default_rng(_seed_of(c, s, 2))  # same coordinates for every optimizer of a seed
        overall = np.sort(rng.choice(model.dim, min(model.dim, 2 * c.noise_coords), replace=False))
        out.append(noise_stats(noise[r], model.layers, overall, c.noise_coords, rng))
    return out


def train_units(ctx: Context, optimizer: str, units: list[tuple[float, int]], progress: bool = False) -> list:
    """Train the (lr, seed) units of ``optimizer`` as one batch; [(unit record, final params)]."""
    c = ctx.config
    rule = resolve(optimizer)
    lrs, seeds = [u[0] for u in units], [u[1] for u in units]
    params = ctx.initial(seeds)
    hyper = ctx.hyper(lrs)
    state = rule.init(params, hyper)
    x, y = ctx.data["train"]
    order = torch.stack([minibatch_indices(len(y), c.steps, c.batch, _seed_of(c, s, 3)) for s in seeds], 1)
    order = order.to(ctx.device)  # (steps, runs, batch)
    measure_noise = optimizer in c.noise_optimizers and not ctx.refit  # the tuning runs measure it
    eval_at, noise_at = set(c.eval_steps()), set(c.noise_steps()) if measure_noise else set()
    curves = {"step": []}
    noise = [[] for _ in units]

    def checkpoint(step):
        if step in eval_at:
            curves["step"].append(step)
            for k, v in _evaluate(ctx, params, with_test=False).items():
                curves.setdefault(k, []).append(v)
        if step in noise_at:
            for r, stats in enumerate(_noise(ctx, params, seeds, step)):
                noise[r].append({"step": step, "parts": stats})

    checkpoint(0)
    bar = tqdm(range(1, c.steps + 1), desc=f"{optimizer} ({len(units)} runs)", disable=not progress, leave=False)
    for step in bar:
        idx = order[step - 1]
        grads = ctx.model.grads(params, x[idx], y[idx])
        rule.step(state, params, grads, hyper)
        checkpoint(step)
    final = _evaluate(ctx, params, with_test=True)
    out = []
    for r, (lr, seed) in enumerate(units):
        unit = {"key": unit_key(optimizer, lr, seed, ctx.refit), "optimizer": optimizer, "lr": float(lr),
                "seed": int(seed), "refit": ctx.refit,
                "curve": {k: (v if k == "step" else [row[r] for row in v]) for k, v in curves.items()},
                "final": {k: v[r] for k, v in final.items()},
                "diverged": not bool(torch.isfinite(params[r]).all()),
                "noise": noise[r] if noise_at else None}
        out.append((unit, params[r].detach().cpu().numpy().copy()))
    return out
