"""The large regret run on one GPU: 10^6 steps x many seeds x configs, sized for < 3 min on one H200.

    python benchmarks/regret_gpu.py                       # cuda, 10^6 steps, 1000 seeds x 4 members
    python benchmarks/regret_gpu.py --device cpu --steps 2000 --seeds 4   # tiny CPU smoke run

Per member, one batch holds ``seeds`` runs of Reddi et al.'s stochastic problem for each of two
learning rates (0.1, 0.5). The time is dominated by per-step kernel launches (about 25
small kernels per step), not by the batch width, so widening the batch is nearly free on a GPU:
at ~40 us per step, 10^6 steps take ~40 s per member. ``--budget-s`` stops adding members once the
projected time would pass the budget. Writes one JSON line per member and, with ``--out``, a record.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from simulations.records import make_record, write_json_atomic
from simulations.regret_core import OptimizerConfig, simulate
from simulations.regret_problems import ProblemConfig
from simulations.regret_summary import summarise
from simulations.runtime import resolve_device, resolve_dtype


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--members", default="adam,amsgrad,adamomentum,adamomentum-max")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--budget-s", type=float, default=170.0, help="stop before the projected time passes this")
    parser.add_argument("--out", type=Path, default=None, help="folder for regret-gpu.json")
    args = parser.parse_args(argv)
    device, dtype = resolve_device(args.device), resolve_dtype(args.dtype)
    problem = ProblemConfig("stochastic-periodic", prob=0.01, big=1010.0, small=10.0)
    opts = [OptimizerConfig(lr=lr, beta1=0.9, beta2=0.99) for lr in (0.1, 0.5)]
    start, rows = time.perf_counter(), []
    for member in args.members.split(","):
        elapsed = time.perf_counter() - start
        if rows and elapsed + rows[-1]["wall_s"] > args.budget_s:
            print(json.dumps({"skipped": member, "reason": f"projected past --budget-s {args.budget_s}"}))
            continue
        t0 = time.perf_counter()
        result = simulate(member, [problem] * 2, opts, args.steps, seeds=args.seeds, device=device, dtype=dtype)
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        summaries = summarise(result)
        rows.append({"member": member, "wall_s": round(wall, 2), "us_per_step": round(1e6 * wall / args.steps, 1),
                     "runs": result.runs, "device": str(device),
                     "avg_regret": {f"lr={s['optimizer']['lr']}": s["avg_regret"] for s in summaries},
                     "x_tail_mean": {f"lr={s['optimizer']['lr']}": s["x_tail_mean"] for s in summaries},
                     "v_nondecreasing_held": {f"lr={s['optimizer']['lr']}": s["monitors"]["v_nondecreasing"]["holds"]
                                              for s in summaries}})
        print(json.dumps(rows[-1]), flush=True)
    if args.out is not None:
        record = make_record("regret-gpu", vars(args) | {"out": str(args.out)}, rows, seed=0)
        print(write_json_atomic(args.out / "regret-gpu.json", record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
