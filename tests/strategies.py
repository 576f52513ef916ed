"""Hypothesis strategies shared by the family and optimizer tests."""
from __future__ import annotations

import torch
from hypothesis import strategies as st

from theory.family import REGISTRY, Hyper

member_names = st.sampled_from(sorted(REGISTRY))

# Gradients bounded away from zero so that eps = 0 never gives 0 / 0 (tested separately).
nonzero = st.floats(min_value=1e-3, max_value=10.0).flatmap(lambda x: st.sampled_from([x, -x]))


@st.composite
def gradient_runs(draw, max_steps: int = 10, max_dim: int = 4, max_runs: int = 3):
    """A (steps, runs, dim) float64 gradient sequence and a (runs, dim) start point."""
    steps = draw(st.integers(1, max_steps))
    runs = draw(st.integers(1, max_runs))
    dim = draw(st.integers(1, max_dim))
    flat = draw(st.lists(nonzero, min_size=steps * runs * dim, max_size=steps * runs * dim))
    start = draw(st.lists(st.floats(-2.0, 2.0), min_size=runs * dim, max_size=runs * dim))
    grads = torch.tensor(flat, dtype=torch.float64).reshape(steps, runs, dim)
    theta0 = torch.tensor(start, dtype=torch.float64).reshape(runs, dim)
    return grads, theta0


@st.composite
def hypers(draw, allow_schedules: bool = True):
    """Hyperparameters over the valid ranges, including eps = 0 and the theorems' schedules."""
    return Hyper(
        lr=draw(st.floats(1e-4, 0.5)),
        beta1=draw(st.sampled_from([0.0, 0.5, 0.9]) | st.floats(0.0, 0.99)),
        beta2=draw(st.sampled_from([0.9, 0.99, 0.999]) | st.floats(0.0, 0.9999)),
        eps=draw(st.sampled_from([0.0, 1e-16, 1e-8, 1e-3])),
        weight_decay=draw(st.sampled_from([0.0, 0.0, 1e-2, 0.3])),
        decoupled_weight_decay=draw(st.sampled_from([None, False, True])),
        lr_decay=draw(st.sampled_from(["constant", "inverse-sqrt"])) if allow_schedules else "constant",
        beta1_decay=draw(st.sampled_from([None, 0.9, 0.99])) if allow_schedules else None,
        bias_correction=draw(st.booleans()) if allow_schedules else True,
        # Member-specific (yogi, adabound, radam): the reference code's defaults and values that
        # make the AdaBound clip bind on either side and RAdam rectify early (threshold 4).
        final_lr=draw(st.sampled_from([0.1, 0.01, 1.0])),
        gamma=draw(st.sampled_from([1e-3, 0.1, 0.9])),
        initial_accumulator=draw(st.sampled_from([1e-6, 0.0, 1e-2])),
        rectify_threshold=draw(st.sampled_from([5.0, 4.0])),
    )
