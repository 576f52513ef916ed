"""Escape on a real loss (Proposition 1 where it is meant to apply).

From a minimum found by one optimizer, each optimizer continues with real minibatch noise; its
state is first warmed up at the minimum (``warmup`` steps at lr = 0: m and v fill with the noise
there, the parameters do not move), then it steps at a common learning rate. A run has escaped
at the first check (every ``check_every`` steps) where the training loss exceeds the threshold
L0 + max(rise, L0) (the loss at least doubles, and rises by at least ``rise`` nats); runs still
inside at the horizon are censored there. Replicate r uses the same minibatch stream for every
optimizer (common random numbers), so the comparison is paired.
"""
from __future__ import annotations

import torch

from simulations.training.train import Context, _seed_of, minibatch_indices
from theory.names import resolve


def threshold(loss0: float, rise: float) -> float:
    return loss0 + max(rise, loss0)


def run_escape(ctx: Context, start: torch.Tensor, optimizer: str, lr: float, replicates: int, warmup: int,
               horizon: int, check_every: int, rise: float, eval_samples: int, seed: int = 0) -> dict:
    """Exit steps of ``replicates`` runs of ``optimizer`` from ``start`` (see the module docstring)."""
    rule = resolve(optimizer)
    x, y = ctx.data["train"]
    x_eval, y_eval = x[:eval_samples], y[:eval_samples]
    params = start.to(ctx.device, ctx.dtype).expand(replicates, -1).clone()
    loss0 = float(ctx.model.evaluate(params[:1], x_eval, y_eval)[0][0])
    limit = threshold(loss0, rise)
    streams = [minibatch_indices(len(y), warmup + horizon, ctx.config.batch, _seed_of(ctx.config, 10_000 + seed, r))
               for r in range(replicates)]
    order = torch.stack(streams, 1).to(ctx.device)
    still = ctx.hyper([0.0] * replicates)
    moving = ctx.hyper([lr] * replicates)
    state = rule.init(params, still)
    for t in range(warmup):
        rule.step(state, params, ctx.model.grads(params, x[order[t]], y[order[t]]), still)
    exit_step = [None] * replicates
    checks, survival = [0], [1.0]
    for t in range(1, horizon + 1):
        idx = order[warmup + t - 1]
        rule.step(state, params, ctx.model.grads(params, x[idx], y[idx]), moving)
        if t % check_every == 0 or t == horizon:
            loss = ctx.model.evaluate(params, x_eval, y_eval)[0]
            out = ~torch.isfinite(loss) | (loss > limit)
            for r in torch.nonzero(out).flatten().tolist():
                if exit_step[r] is None:
                    exit_step[r] = t
            checks.append(t)
            survival.append(sum(e is None for e in exit_step) / replicates)
    return {"optimizer": optimizer, "lr": lr, "loss0": loss0, "threshold": limit, "horizon": horizon,
            "exit_step": [horizon if e is None else e for e in exit_step],
            "escaped": [e is not None for e in exit_step], "checks": checks, "survival": survival}
