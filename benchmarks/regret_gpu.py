"""The large regret run on one GPU: 10^6 steps x 1000 seeds x 2 configs, sized for < 3 min on one H200.

    python benchmarks/regret_gpu.py                       # cuda, 10^6 steps, 1000 seeds per config
    python benchmarks/regret_gpu.py --device cpu --steps 2000 --seeds 4   # tiny CPU smoke run

Per member, one batch holds ``seeds`` runs of Reddi et al.'s stochastic problem for each of two
learning rates (0.1, 0.5). A step is ~25 small kernels whatever the batch width, so the run is
launch-bound: per-step time on a GPU is expected at 100-250 us (not measured here: no GPU was
available), i.e. 100-250 s per member for 10^6 steps. The script therefore probes first (2000
steps), projects the time per member, runs the members that fit in ``--budget-s`` (default 170 s)
and, if not even one fits, shortens ``--steps`` to fit and says so. One JSON line per member;
with ``--out``, a record.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from simulations.records import make_record, write_json_atomic
from simulations.regret.problems import ProblemConfig
from simulations.regret.simulate import OptimizerConfig, simulate
from simulations.regret.summary import summarise
from simulations.runtime import resolve_device, resolve_dtype
from theory.names import split_names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--members", default="adamomentum,adamomentum-max,adam,amsgrad")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--budget-s", type=float, default=170.0, help="stop before the projected time passes this")
    parser.add_argument("--out", type=Path, default=None, help="folder for regret-gpu.json")
    args = parser.parse_args(argv)
    device, dtype = resolve_device(args.device), resolve_dtype(args.dtype)
    problem = ProblemConfig("stochastic-periodic", prob=0.01, big=1010.0, small=10.0)
    opts = [OptimizerConfig(lr=lr, beta1=0.9, beta2=0.99) for lr in (0.1, 0.5)]
    start, rows = time.perf_counter(), []
    members = split_names(args.members)
    probe_steps = min(2000, args.steps)
    t0 = time.perf_counter()
    simulate(members[0], [problem] * 2, opts, probe_steps, seeds=args.seeds, device=device, dtype=dtype)
    if device.type == "cuda":
        torch.cuda.synchronize()
    per_step = (time.perf_counter() - t0) / probe_steps
    steps = args.steps
    budget = args.budget_s - (time.perf_counter() - start)
    if per_step * steps > budget:
        steps = max(probe_steps, int(budget / per_step) // 1000 * 1000)
        print(json.dumps({"warning": f"--steps {args.steps} would take {per_step * args.steps:.0f} s per member; "
                                     f"running {steps} steps to fit --budget-s {args.budget_s}"}))
    print(json.dumps({"probe_us_per_step": round(1e6 * per_step, 1), "steps": steps,
                      "projected_s_per_member": round(per_step * steps, 1)}), flush=True)
    for member in members:
        elapsed = time.perf_counter() - start
        if elapsed + per_step * steps > args.budget_s:
            print(json.dumps({"skipped": member, "reason": f"projected past --budget-s {args.budget_s}"}))
            continue
        t0 = time.perf_counter()
        result = simulate(member, [problem] * 2, opts, steps, seeds=args.seeds, device=device, dtype=dtype)
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        summaries = summarise(result)
        rows.append({"member": member, "wall_s": round(wall, 2), "steps": steps, "us_per_step": round(1e6 * wall / steps, 1),
                     "runs": result.runs, "device": str(device),
                     "avg_regret": {f"lr={s['optimizer']['lr']}": s["avg_regret"] for s in summaries},
                     "x_tail_mean": {f"lr={s['optimizer']['lr']}": s["x_tail_mean"] for s in summaries},
                     "v_nondecreasing_held": {f"lr={s['optimizer']['lr']}":
                                              s.get("monitors", {}).get("v_nondecreasing", {}).get("holds")
                                              for s in summaries}})
        print(json.dumps(rows[-1]), flush=True)
    if args.out is not None:
        record = make_record("regret-gpu", vars(args) | {"out": str(args.out)}, rows, seed=0)
        print(write_json_atomic(args.out / "regret-gpu.json", record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
