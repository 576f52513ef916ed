"""The floor of the exact alpha-stable draw's operation count on this CPU, set against issue 13's
escape target (5x path-steps/s) and the sampler's 20x scipy.

The Chambers-Mallows-Stuck draw at alpha != 1, in a reduced count of the formula the native
kernel evaluates (which does three sines, four logs, one log1p and one exp in float64), takes two
uniforms (V and W) and seven transcendental functions: sin(alpha V), cos V and cos((1 - alpha) V),
log U' for W, two logs and one exp for the powers (cos V)^(-1/alpha) and (cos((1 - alpha) V) /
W)^((1 - alpha) / alpha). At alpha = 1 it is tan V: one uniform and one tangent. Uniforms are
charged as the recorded stream draws them (float64, two 32-bit words each, also for float32).
This is the floor of that operation count on this CPU, a measured figure, not a lower bound over
every sampler: float32 and float64 output at alpha 1.5 and 1.0 take cheaper exact forms (simulations/levy.py:
at 1.5, X = sin 3b cbrt(W / (cos b cos^2 V)) with b = |V|/2, and at 1.0 tan V as a ratio of
polynomial sines and cosines on [0, pi/4]: no library sine, log or exp), which the native sampler's
figures below include; the floor is that of the general formula. This script times the
vector versions at hand, MKL's vm?Sin / vm?Tan / vm?Ln / vm?Exp in libtorch_cpu (the functions
torch and the native sampler call), in each of MKL's accuracy modes (HA: high accuracy, torch's;
LA: low accuracy; EP: enhanced performance, about half the bits), and torch's generator's float64
uniform (MT19937, two 32-bit words; the native kernel's copy of it), per element, medians of
interleaved rounds (LA and EP are timed only when their output differs from HA's: in some MKL
builds they return HA's bits, the same function), and prints those floors next to the native sampler's measured cost per sample.

    python benchmarks/floor.py [--rounds 7]
"""
from __future__ import annotations

import argparse
import ctypes
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from simulations import levy_native
from simulations.levy import symmetric_stable
from simulations.runtime import generator

# VML_HA / VML_LA / VML_EP, each with torch's VML_FTZDAZ_OFF | VML_ERRMODE_IGNORE
MODES = {"HA": 0x2 | 0x140000 | 0x100, "LA": 0x1 | 0x140000 | 0x100, "EP": 0x3 | 0x140000 | 0x100}
FUNCTIONS = ("Sin", "Tan", "Ln", "Exp")
CMS_COUNTS = {"Sin": 3, "Ln": 3, "Exp": 1}  # the minimal exact draw at alpha != 1 (see above)
CAUCHY_COUNTS = {"Tan": 1}  # ... and at alpha = 1
N = 16_384  # elements per call: in cache, and the ctypes call is < 1% of it


def _mkl() -> ctypes.CDLL:
    if not torch.backends.mkl.is_available():
        raise SystemExit("benchmarks/floor.py: this torch has no MKL (the functions timed here)")
    return ctypes.CDLL(str(Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"))


def _inputs(fn: str, dtype) -> np.ndarray:
    lo, hi = {"Sin": (1e-3, 1.57), "Tan": (-1.57, 1.57), "Ln": (1e-3, 1.0), "Exp": (-5.0, 5.0)}[fn]
    return np.linspace(lo, hi, N, dtype=dtype)


def vml_ns_per_element(rounds: int, calls: int = 200) -> dict:
    """{(dtype, function, mode): ns per element}, medians over interleaved rounds; LA and EP only
    where their output differs from HA's."""
    lib = _mkl()
    cases = {}
    for prefix, dtype in (("vms", np.float32), ("vmd", np.float64)):
        for fn in FUNCTIONS:
            c_fn = getattr(lib, prefix + fn)
            c_fn.argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_longlong]
            c_fn.restype = None
            x, y = _inputs(fn, dtype), np.empty(N, dtype)
            c_fn(N, x.ctypes.data, y.ctypes.data, MODES["HA"])
            ha = y.copy()
            for mode, bits in MODES.items():
                c_fn(N, x.ctypes.data, y.ctypes.data, bits)
                if mode == "HA" or not np.array_equal(y, ha):  # a mode returning HA's bits is HA here
                    cases[(np.dtype(dtype).name, fn, mode)] = (c_fn, x, np.empty(N, dtype), bits)
    times = {key: [] for key in cases}
    for _ in range(rounds):
        for key, (c_fn, x, y, bits) in cases.items():
            start = time.perf_counter()
            for _ in range(calls):
                c_fn(N, x.ctypes.data, y.ctypes.data, bits)
            times[key].append((time.perf_counter() - start) / (calls * N) * 1e9)
    return {key: statistics.median(v) for key, v in times.items()}


def uniform_ns(rounds: int, calls: int = 200) -> float:
    """ns per float64 uniform of torch's CPU generator (MT19937 words, as the native kernel draws them)."""
    lib = levy_native.kernel()
    if lib is None:
        raise SystemExit(f"benchmarks/floor.py: no native sampler here ({levy_native.why_not()})")
    engine, _ = levy_native.read_state(generator(0, torch.device("cpu")))
    u = np.empty(N, np.float64)
    runs = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            lib.mt_uniform(ctypes.byref(engine), N, u.ctypes.data)
        runs.append((time.perf_counter() - start) / (calls * N) * 1e9)
    return statistics.median(runs)


def sampler_ns_per_sample(rounds: int, samples: int = 1_000_000) -> dict:
    gen = generator(0, torch.device("cpu"))
    out = {}
    for dtype in (torch.float32, torch.float64):
        for alpha in (1.0, 1.5):
            runs = []
            for _ in range(rounds):
                start = time.perf_counter()
                symmetric_stable(alpha, samples, generator=gen, dtype=dtype)
                runs.append((time.perf_counter() - start) / samples * 1e9)
            out[(str(dtype).removeprefix("torch."), alpha)] = statistics.median(runs)
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    torch.set_num_threads(1)
    vml = vml_ns_per_element(args.rounds)
    uniform = uniform_ns(args.rounds)
    sampler = sampler_ns_per_sample(args.rounds)
    print(f"{'dtype':8} {'function':8} " + " ".join(f"{m:>6}" for m in MODES)
          + "   (ns per element; =HA: that mode returns HA's bits here)")
    for dtype in ("float32", "float64"):
        for fn in FUNCTIONS:
            print(f"{dtype:8} {fn:8} " + " ".join(f"{vml[(dtype, fn, m)]:6.2f}" if (dtype, fn, m) in vml
                                                   else f"{'=HA':>6}" for m in MODES))
    print(f"uniform  MT19937  {uniform:6.2f}   (ns per float64 uniform, torch's generator)")
    floors = {}
    for dtype in ("float32", "float64"):
        def fastest(counts, uniforms):
            return uniforms * uniform + sum(k * min(t for (d, f, _), t in vml.items() if (d, f) == (dtype, fn))
                                            for fn, k in counts.items())
        floors[dtype] = {"alpha!=1": fastest(CMS_COUNTS, 2), "alpha=1": fastest(CAUCHY_COUNTS, 1)}
        print(f"{dtype}: floor of the CMS operation count (fastest distinct mode each): {floors[dtype]['alpha!=1']:.1f} ns at "
              f"alpha != 1 (2 uniforms, 3 sin/cos, 3 log, 1 exp), {floors[dtype]['alpha=1']:.1f} ns at alpha = 1 "
              f"(1 uniform, 1 tan); native sampler (bit for bit the torch path) {sampler[(dtype, 1.5)]:.1f} ns at "
              f"alpha 1.5, {sampler[(dtype, 1.0)]:.1f} ns at alpha 1.0")
    return {"vml_ns": {"/".join(k): v for k, v in vml.items()}, "uniform_ns": uniform, "floor_ns": floors,
            "sampler_ns": {f"{d} alpha={a}": v for (d, a), v in sampler.items()}}

if __name__ == "__main__":
    main()
