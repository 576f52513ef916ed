"""The native discrete escape step (simulations/escape/native.py) against its reference, the torch
path (``simulate(..., native=False)``): the same exit steps, monitor values and path-steps, bit for
bit, for every plain registry member in float32 and float64 on several basins, with a warm-up and on
a fixed noise table; the step-major copy equals torch's transpose; rules and settings the kernel does
not cover fall back with a stated reason."""
import numpy as np
import pytest
import torch

from simulations.escape import native
from simulations.escape.experiment import EscapeConfig
from simulations.escape.problems import Basin
from simulations.escape.simulate import TableNoise, simulate
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
    fast = simulate(config, name)
    assert calls and all(calls)  # every step of the run went through the kernel
    monkeypatch.undo()
    _assert_same(fast, simulate(config, name, native=False))


@pytest.mark.parametrize("basin", list(BASINS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_native_step_on_every_basin_with_warmup(basin, dtype):
    config = _config(BASINS[basin], dtype, warmup=30)
    for name in ("adamomentum", "adam"):
        _assert_same(simulate(config, name), simulate(config, name, native=False))


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
