"""Benchmark: how long a regret run of many steps x many seeds takes (CPU by default).

    python benchmarks/regret.py --steps 1000000 --seeds 100            # the README figure
    python benchmarks/regret.py --steps 20000 --seeds 100 --members adamomentum

Runs Reddi et al.'s stochastic 1-D problem (the one that needs seeds) for each member, batched over
seeds, and prints the wall time, microseconds per step and the resulting R(T)/T with its 95% CI.
Timings on a shared machine are noisy: run it once on an idle machine for a figure worth quoting.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from simulations.regret.problems import ProblemConfig
from simulations.regret.simulate import OptimizerConfig, simulate
from simulations.regret.summary import summarise
from simulations.runtime import resolve_device, resolve_dtype
from theory.names import split_names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--members", default="adamomentum,adamomentum-max")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads (default 1: faster for these tiny tensors; 0 leaves it)")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device, dtype = resolve_device(args.device), resolve_dtype(args.dtype)
    problem = ProblemConfig("stochastic-periodic", prob=0.01, big=1010.0, small=10.0)
    opt = OptimizerConfig(lr=0.5, beta1=0.9, beta2=0.99)
    rows = []
    for member in split_names(args.members):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        result = simulate(member, [problem], [opt], args.steps, seeds=args.seeds, device=device, dtype=dtype,
                          progress=args.progress)
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        s = summarise(result)[0]
        rows.append({"member": member, "steps": args.steps, "seeds": args.seeds, "device": str(device),
                     "dtype": args.dtype, "threads": torch.get_num_threads(), "wall_s": round(wall, 2),
                     "us_per_step": round(1e6 * wall / args.steps, 1), "avg_regret": s["avg_regret"],
                     "x_tail_mean": s["x_tail_mean"]})
        print(json.dumps(rows[-1]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
