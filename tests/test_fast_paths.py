"""The exact fast paths equal their per-step references bit for bit (float64, torch.equal)."""
from __future__ import annotations

import pytest
import torch

from simulations.regret import fast
from simulations.regret.problems import ProblemConfig
from simulations.regret.simulate import OptimizerConfig, simulate
from theory.family import REGISTRY

STOCHASTIC = [ProblemConfig("stochastic-periodic", prob=0.01, big=1010.0, small=10.0)]
# Two configs of different radius and hyperparameters: per-run (runs, 1) columns everywhere.
GRID_PROBLEMS = [ProblemConfig("box-linear", dim=3), ProblemConfig("box-linear", dim=3, radius=2.0)]
GRID_OPTS = [OptimizerConfig(lr=0.5, beta1=0.9, beta2=0.99),
             OptimizerConfig(lr=0.1, beta1=0.8, beta2=0.999, eps=1e-6)]


def assert_same(problems, optimizers, member, steps, seeds, **kw):
    ref = simulate(member, problems, optimizers, steps, seeds=seeds, path="reference", record_v=True, **kw)
    got = simulate(member, problems, optimizers, steps, seeds=seeds, path="fast", record_v=True, **kw)
    assert torch.equal(ref.x_final, got.x_final)
    assert torch.equal(ref.x_tail_mean, got.x_tail_mean)
    assert ref.values.keys() == got.values.keys()
    for key, val in ref.values.items():
        assert torch.equal(val, got.values[key]), key


@pytest.mark.parametrize("member", [m for m in REGISTRY if REGISTRY[m]._plain_update])
@pytest.mark.parametrize("bias_correction,beta1_decay", [(False, None), (True, 0.999)])
def test_regret_fast_path_is_bit_identical(member, bias_correction, beta1_decay):
    # 1100 steps cross a data chunk (1024) and the log-spaced checkpoints cut the segments.
    assert_same(STOCHASTIC, [OptimizerConfig(lr=0.5)], member, 1100, 3,
                bias_correction=bias_correction, beta1_decay=beta1_decay)


@pytest.mark.parametrize("member", ["adam", "adamomentum", "adamomentum-max", "adabelief", "yogi", "sgdm"])
@pytest.mark.parametrize("bias_correction,beta1_decay", [(False, None), (True, 0.99)])
def test_regret_fast_path_per_run_columns(member, bias_correction, beta1_decay):
    assert_same(GRID_PROBLEMS, GRID_OPTS, member, 1100, 2, bias_correction=bias_correction,
                beta1_decay=beta1_decay)


def test_regret_fast_path_with_the_numpy_loops(monkeypatch):
    """The numpy loops the compiled kernels replace are exact on their own (the kernels' own check)."""
    monkeypatch.setattr(fast, "_recurrence", fast._numpy_recurrence)
    monkeypatch.setattr(fast, "_ema", fast._numpy_ema)
    monkeypatch.setattr(fast, "_walk", fast._numpy_walk)
    assert_same(STOCHASTIC, [OptimizerConfig(lr=0.5)], "adamomentum", 1100, 4)
    assert_same([ProblemConfig("periodic")], [OptimizerConfig(lr=0.5)], "adam", 1100, 1, bias_correction=True)
    assert_same(GRID_PROBLEMS, GRID_OPTS, "adamomentum-max", 300, 2, beta1_decay=0.99)


def test_fast_path_refuses_what_it_does_not_implement():
    logistic = [ProblemConfig("logistic", dim=2)]
    with pytest.raises(ValueError, match="path='fast'.*logistic"):
        simulate("adam", logistic, [OptimizerConfig()], 10, path="fast")
    with pytest.raises(ValueError, match="path='fast'.*rectified"):
        simulate("radam", STOCHASTIC, [OptimizerConfig()], 10, path="fast")
    with pytest.raises(ValueError, match="path='fast'.*float64"):
        simulate("adam", STOCHASTIC, [OptimizerConfig()], 10, path="fast", dtype=torch.float32)
    with pytest.raises(ValueError, match="Invalid path"):
        simulate("adam", STOCHASTIC, [OptimizerConfig()], 10, path="quick")
    # auto falls back to the reference where the fast path does not apply
    simulate("adam", logistic, [OptimizerConfig()], 10, path="auto")


# -- nonconvex: Theorem 2's monitor reduced once per chunk equals the per-step monitor -------------

def _nonconvex(monitor_chunk, **overrides):
    from simulations.nonconvex.experiment import NonconvexConfig
    from simulations.nonconvex.simulate import simulate as nonconvex_simulate
    from theory.names import resolve_all

    cfg = NonconvexConfig(**{"steps": 150, "seeds": 4, "grid_points": 12,
                             "optimizers": ("sgdm", "adam", "adamomentum", "adamomentum-max"), **overrides})
    return nonconvex_simulate(cfg, resolve_all(cfg.optimizers), device="cpu", monitor_chunk=monitor_chunk)


@pytest.mark.parametrize("chunk", [7, 64])
@pytest.mark.parametrize("overrides", [{}, {"problem": "rosenbrock", "bias_correction": True}])
def test_chunked_theorem2_monitor_equals_the_per_step_monitor(chunk, overrides):
    import numpy as np

    ref, got = _nonconvex(0, **overrides), _nonconvex(chunk, **overrides)
    for key, val in ref["snaps"].items():
        assert np.array_equal(val, got["snaps"][key], equal_nan=True), key
    a, b = ref["monitor"], got["monitor"]
    for group in range(len(a.c_list) if len(a.c_list) > 1 else 1):
        assert a.results(group) == b.results(group)
        assert a.measured(group) == b.measured(group)
        assert a.rise_fractions(group) == b.rise_fractions(group)
    for name in a.NAMES:
        assert torch.equal(a.viol[name], b.viol[name]) and torch.equal(a.first[name], b.first[name])
        assert a.checked[name] == b.checked[name]
    assert torch.equal(a.prev_step, b.prev_step)


def test_monitor_chunk_is_validated():
    with pytest.raises(ValueError, match="monitor_chunk"):
        _nonconvex(-1)


def test_compiled_recurrences_equal_the_numpy_loops():
    """The numba kernels do the numpy loops' operations in the same order: equal bit for bit,
    NaN and the clip bounds included."""
    import numpy as np

    from simulations.regret import kernels

    rng = np.random.default_rng(7)
    n, runs, d = 257, 5, 3
    scale = 10.0 ** rng.integers(-6, 6, (n, runs, d))
    forcing = rng.random((n, runs, d)) * scale
    v0 = rng.random((runs, d))
    b2 = np.broadcast_to(rng.uniform(0.9, 0.9999, (runs, 1)), (runs, d)).copy()
    eps = np.full((runs, d), 1e-8)
    for coef in (np.broadcast_to(0.97, forcing.shape), rng.uniform(0.5, 1.0, (n, runs, 1)) + 0 * forcing):
        want, got = np.empty_like(forcing), np.empty_like(forcing)
        fast._numpy_recurrence(v0, forcing, coef, want)
        kernels.linear_recurrence(v0, forcing, coef, got)
        assert np.array_equal(want, got)
    for inside in (True, False):
        want, got = np.empty_like(forcing), np.empty_like(forcing)
        fast._numpy_ema(v0, forcing, b2, eps, inside, want)
        kernels.ema_second_moments(v0, forcing, b2, eps, inside, got)
        assert np.array_equal(want, got)
    U = rng.standard_normal((n, runs, d)) * 0.3
    U[100, 2, 1] = np.nan  # propagates from there on, as numpy's clip lets it
    hi = rng.uniform(0.5, 2.0, (runs, 1))
    x0 = rng.uniform(-0.5, 0.5, (runs, d))
    want, got = np.empty((n + 1, runs, d)), np.empty((n + 1, runs, d))
    fast._numpy_walk(x0, U, -hi, hi, want)
    kernels.clipped_walk(x0, U, -hi, hi, got)
    assert np.array_equal(want, got, equal_nan=True)
    assert np.isnan(got[101:, 2, 1]).all() and (np.abs(got[:, 0]) == hi[0]).any()  # the bounds were hit


def test_compiled_v_monitors_equal_the_torch_form():
    """Theorem 1's streamed v monitors: the compiled float64 pass and the torch form agree (sums to
    1e-12, counts, first drops and maxima exactly, NaN included), over segments of any length."""
    from simulations.regret.simulate import _Stream

    gen = torch.Generator().manual_seed(11)
    runs, d, steps = 6, 3, 40
    vs = torch.rand(steps, runs, d, generator=gen, dtype=torch.float64).cumsum(0)
    vs[7, 2, 1] = 0.01  # drops
    vs[20:, 4] *= 0.5
    vs[30, 5, 0] = float("nan")
    b1 = torch.full((1, runs), 0.9, dtype=torch.float64)
    lr = torch.linspace(0.1, 0.6, runs, dtype=torch.float64).unsqueeze(0)
    streams = {}
    for compiled in (True, False):
        stream = _Stream(runs, d, steps, torch.device("cpu"), torch.float64)
        stream.compiled = compiled
        t = 1
        for n in (1, 6, 13, 20):  # segments
            stream.add_v(vs[t - 1:t - 1 + n].contiguous(), t, b1, lr, 0.99)
            t += n
        streams[compiled] = stream
    one, two = streams[True], streams[False]
    torch.testing.assert_close(one.acc["weighted_sqrt_v"], two.acc["weighted_sqrt_v"], rtol=1e-12, atol=0,
                               equal_nan=True)
    assert torch.equal(one.acc["v_max_seen"].isnan(), two.acc["v_max_seen"].isnan())
    assert torch.equal(one.acc["v_max_seen"].nan_to_num(), two.acc["v_max_seen"].nan_to_num())
    assert torch.equal(one.v_drops, two.v_drops) and torch.equal(one.v_first_drop, two.v_first_drop)
    assert int(one.v_drops.sum()) > 0 and int((one.v_first_drop > 0).sum()) >= 2
