"""The native discrete escape step (simulations/escape/native.py) against its reference, the torch
path (``simulate(..., native=False)``): the same exit steps, monitor values and path-steps, bit for
bit, for every plain registry member in float32 and float64 on several basins, with a warm-up and on
a fixed noise table; the native blocks (many steps per call, the noise drawn inside, the default)
against the per-step kernel (``native="step"``): the same exit steps, path-steps, generator state
and monitor counts and extremes bit for bit, the monitor's means to rounding; the step-major copy
equals torch's transpose; rules and settings the kernel does not cover fall back with a stated
reason."""
import numpy as np
import pytest
import torch

from simulations.escape import native
from simulations.escape.experiment import EscapeConfig
from simulations.escape.problems import Basin
from simulations.escape.simulate import FreshNoise, TableNoise, simulate
from simulations.levy import symmetric_stable
from simulations.runtime import generator
from theory.family import REGISTRY, Hyper
from theory.names import resolve

pytestmark = pytest.mark.skipif(native.kernel() is None, reason="no C compiler or no MKL in torch")

BASINS = {
    "quadratic": Basin("quadratic", (4.0,), (0.25, 0.25)),
    "asymmetric": Basin("asymmetric", (4.0,), (0.25, 1.0)),
    "quadratic-2d": Basin("quadratic", (4.0, 1.0), (0.25, 0.25)),
}
NATIVE_MEMBERS = [name for name in REGISTRY
                  if native.unsupported(resolve(name), Hyper(), torch.device("cpu"), torch.float32, 1) is None]


def _config(basin, dtype, **changes):
    fields = dict(dynamics="discrete", optimizers=("adam",), basin=basin, tail_index=1.5, noise_scale=1.0,
                  lr=0.05, paths=300, max_steps=400, dtype=dtype, compact_every=50, monitor_every=5, seed=3)
    return EscapeConfig(**{**fields, **changes})


def _assert_same(a, b):
    assert np.array_equal(a["exit_step"], b["exit_step"])
    assert a["path_steps"] == b["path_steps"] and a["steps_run"] == b["steps_run"]
    assert repr(a["monitor"]) == repr(b["monitor"])  # every monitor value to the last bit (NaN-aware)
    assert a["escaped"].any()  # the exit bookkeeping is exercised


def test_the_kernel_covers_the_plain_members():
    assert {"adam", "adamomentum", "adabelief", "amsgrad", "adamomentum-max"} <= set(NATIVE_MEMBERS)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", NATIVE_MEMBERS)
def test_native_step_is_the_torch_path_bit_for_bit(name, dtype, monkeypatch):
    config = _config(BASINS["asymmetric"], dtype)
    calls = []
    step = native.DiscreteStep.__call__
    monkeypatch.setattr(native.DiscreteStep, "__call__", lambda self, *a: calls.append(step(self, *a)) or calls[-1])
    fast = simulate(config, name, native="step")
    assert calls and all(calls)  # every step of the run went through the kernel
    monkeypatch.undo()
    _assert_same(fast, simulate(config, name, native=False))


@pytest.mark.parametrize("basin", list(BASINS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_native_step_on_every_basin_with_warmup(basin, dtype):
    config = _config(BASINS[basin], dtype, warmup=30)
    for name in ("adamomentum", "adam"):
        _assert_same(simulate(config, name, native="step"), simulate(config, name, native=False))


# the monitor's means from float64 sums in row order against torch's sums in the tensor's dtype:
# float64, a few ulps of a sum of <= 300 terms; float32, torch's float32 sum (rounding ~ 1e-7 per term)
MONITOR_SUM_RTOL = {"float32": 2e-6, "float64": 1e-13}
EXACT_SERIES = ("steps", "alive", "negative", "r_min", "r_max", "moment_order_p", "missing")
SUM_SERIES = ("m_moment", "r_inv_alpha", "r_mean")


def _assert_same_blocks(blocks, reference, dtype):
    """native blocks against the per-step path: exit steps, path-steps, steps run and every count,
    minimum and maximum of the monitor bit for bit; its means (sums) to rounding."""
    assert np.array_equal(blocks["exit_step"], reference["exit_step"])
    assert (blocks["path_steps"], blocks["steps_run"]) == (reference["path_steps"], reference["steps_run"])
    a, b = blocks["monitor"], reference["monitor"]
    for key in EXACT_SERIES:
        assert repr(a[key]) == repr(b[key]), key
    for key in SUM_SERIES:
        assert a[key].shape == b[key].shape and a[key].size > 0
        np.testing.assert_allclose(a[key], b[key], rtol=MONITOR_SUM_RTOL[dtype], atol=0, err_msg=key)
    assert reference["escaped"].any() and b["alive"][0] > b["alive"][-1]  # compaction dropped rows


def _uses_blocks(config, name, monkeypatch, kinds=None):
    """simulate with native blocks, asserting that every step went through them (none per step);
    ``kinds`` (a set) collects how each block got its noise: drawn from its first step ("draw"),
    drawn mid-block after a compaction that dropped rows ("redraw"), or the stored columns of the
    block before, after a compaction that kept every row ("continue")."""
    counts = {"block": 0, "step": 0}
    block, step = native.DiscreteStep.block, native.DiscreteStep.__call__
    kinds = set() if kinds is None else kinds

    def counted_block(self, state, theta, clocks, j0, buffer, draw, *args):
        counts["block"] += 1
        kinds.add("continue" if draw is None else "draw" if j0 == 0 else "redraw")
        return block(self, state, theta, clocks, j0, buffer, draw, *args)

    monkeypatch.setattr(native.DiscreteStep, "block", counted_block)
    monkeypatch.setattr(native.DiscreteStep, "__call__",
                        lambda self, *a: counts.__setitem__("step", counts["step"] + 1) or step(self, *a))
    out = simulate(config, name)
    monkeypatch.undo()
    assert counts["block"] > 0 and counts["step"] == 0
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", NATIVE_MEMBERS)
def test_native_blocks_are_the_native_step(name, dtype, monkeypatch):
    """warm-up 30 and compaction every 50 steps: the noise blocks (50 steps from step 1) and the
    compactions (every 50 of the clock) do not line up, so blocks are drawn, continued from the
    stored columns after a compaction that kept every row, and redrawn mid-block after one that
    dropped rows; the generator ends where the per-step path leaves it."""
    config = _config(BASINS["asymmetric"], dtype, warmup=30, tail_index=1.7, noise_scale=0.05, paths=20,
                     max_steps=1000)
    gen_blocks, gen_steps = generator(9, torch.device("cpu")), generator(9, torch.device("cpu"))
    kinds = set()
    blocks = _uses_blocks(config, name, monkeypatch, kinds)
    _assert_same_blocks(blocks, simulate(config, name, native="step"), dtype)
    assert kinds == {"draw", "redraw", "continue"}
    noise_b = FreshNoise(1.7, gen_blocks, torch.device("cpu"), torch.float64 if dtype == "float64" else torch.float32,
                         config.compact_every)
    noise_s = FreshNoise(1.7, gen_steps, torch.device("cpu"), noise_b.dtype, config.compact_every)
    simulate(config, name, noise=noise_b)
    simulate(config, name, noise=noise_s, native="step")
    assert torch.equal(gen_blocks.get_state(), gen_steps.get_state())


@pytest.mark.parametrize("basin", list(BASINS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("alpha", [1.0, 1.5, 2.0])
def test_native_blocks_on_every_basin_and_alpha(basin, dtype, alpha, monkeypatch):
    """alpha 1 (W not drawn) and 3/2 (the special forms; the monitor's |m|^p is a square root) and 2
    (|m|^2 and R^-2 squares); the 2-d basin takes the kernel's general-dimension loops."""
    config = _config(BASINS[basin], dtype, warmup=64, compact_every=64, monitor_every=3, tail_index=alpha,
                     noise_scale=0.7 if alpha == 2.0 else 1.0)
    _assert_same_blocks(_uses_blocks(config, "adamomentum", monkeypatch),
                        simulate(config, "adamomentum", native="step"), dtype)


def test_native_blocks_end_where_every_path_escaped():
    config = _config(BASINS["quadratic"], "float64", noise_scale=3.0, max_steps=2000)
    blocks, steps = simulate(config, "adam"), simulate(config, "adam", native="step")
    assert blocks["escaped"].all() and blocks["steps_run"] < config.max_steps
    assert np.array_equal(blocks["exit_step"], steps["exit_step"]) and blocks["steps_run"] == steps["steps_run"]


def test_native_must_be_a_known_mode():
    with pytest.raises(ValueError, match="native must be"):
        simulate(_config(BASINS["quadratic"], "float64"), "adam", native="fused")


def test_native_step_on_a_noise_table():
    basin = BASINS["quadratic-2d"]
    config = _config(basin, "float64", paths=40, max_steps=150, compact_every=7)
    table = symmetric_stable(1.5, (40, 150, 2), generator=generator(0, torch.device("cpu")), dtype=torch.float64)
    _assert_same(simulate(config, "adamomentum", noise=TableNoise(table)),
                 simulate(config, "adamomentum", noise=TableNoise(table), native=False))


CPU = torch.device("cpu")


@pytest.mark.parametrize("rule,hyper,device,dtype,dim,reason", [
    ("adabound", Hyper(), CPU, torch.float32, 1, "rectified or clipped"),
    ("radam", Hyper(), CPU, torch.float32, 1, "rectified or clipped"),
    ("adam", Hyper(lr=torch.tensor([0.1, 0.2])), CPU, torch.float32, 1, "tensor hyperparameter"),
    ("adam", Hyper(weight_decay=0.1), CPU, torch.float32, 1, "weight decay"),
    ("adam", Hyper(), CPU, torch.float16, 1, "float32 / float64"),
    ("adam", Hyper(), CPU, torch.bfloat16, 1, "float32 / float64"),
    ("adam", Hyper(), torch.device("meta"), torch.float32, 1, "float32 / float64"),
    ("adam", Hyper(), CPU, torch.float32, native.MAX_DIM + 1, "dimension"),
])
def test_unsupported_settings_say_why(rule, hyper, device, dtype, dim, reason):
    assert reason in native.unsupported(resolve(rule), hyper, device, dtype, dim)


def test_a_rule_outside_the_family_falls_back():
    rule = resolve("torch.optim:NAdam")
    assert "not a registry member" in native.unsupported(rule, Hyper(), CPU, torch.float32, 1)
