"""Escape-time benchmarks (run once; timings on a shared machine are noisy).

1. Sampler throughput: simulations.levy.symmetric_stable (torch, float32 and float64) against
   scipy.stats.levy_stable.rvs, in one process, same alpha and sample count. Target: >= 20x in
   float32 on the CPU.
2. Simulator throughput: batched path-steps/s against the per-path float64 reference loop
   (simulations.escape.reference), same configuration.

    python benchmarks/escape.py [--samples 2000000] [--threads N]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from scipy import stats

from simulations.escape.experiment import EscapeConfig
from simulations.escape.problems import Basin
from simulations.escape.reference import reference_exit_step
from simulations.escape.simulate import simulate
from simulations.levy import symmetric_stable
from simulations.runtime import generator


def _best(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def sampler(samples: int) -> list[dict]:
    rows = []
    gen = generator(0, torch.device("cpu"))
    rng = np.random.default_rng(0)
    for alpha in (1.0, 1.5, 1.9):
        scipy_n = max(samples // 10, 10_000)
        t_scipy = _best(lambda: stats.levy_stable.rvs(alpha, 0.0, size=scipy_n, random_state=rng), 2) / scipy_n
        for dtype in (torch.float32, torch.float64):
            t_torch = _best(lambda: symmetric_stable(alpha, samples, generator=gen, dtype=dtype)) / samples
            rows.append({"alpha": alpha, "dtype": str(dtype), "torch_Msamples_per_s": 1e-6 / t_torch,
                         "scipy_Msamples_per_s": 1e-6 / t_scipy, "speedup": t_scipy / t_torch})
    return rows


def simulator() -> list[dict]:
    rows = []
    for dyn, label in (("flow", "flow"), ("sde", "adam"), ("discrete", "adamomentum")):
        cfg = EscapeConfig(dynamics=dyn, basin=Basin("quadratic", (1.0,), (1.0, 1.0)), noise_scale=0.05, lr=0.01,
                           dt=0.01 if dyn != "discrete" else None, paths=20_000, max_steps=300, dtype="float32")
        sim = simulate(cfg, label)
        batched = sim["path_steps"] / sim["seconds"]
        ref_cfg = EscapeConfig(**{**{f: getattr(cfg, f) for f in cfg.__dataclass_fields__}, "paths": 2,
                                  "dtype": "float64"})
        noise = symmetric_stable(1.5, (20, 300, 1), generator=generator(1, torch.device("cpu")),
                                 dtype=torch.float64).tolist()
        start = time.perf_counter()
        steps = 0
        for i in range(20):
            k = reference_exit_step(ref_cfg, label, noise[i])
            steps += k if k else ref_cfg.max_steps
        ref = steps / (time.perf_counter() - start)
        rows.append({"dynamics": dyn, "label": label, "batched_path_steps_per_s": batched,
                     "reference_path_steps_per_s": ref, "speedup": batched / ref})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2_000_000)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = {"threads": torch.get_num_threads(), "sampler": sampler(args.samples), "simulator": simulator()}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
