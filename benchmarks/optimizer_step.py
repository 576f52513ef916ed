"""AdaMomentum.step against torch.optim.Adam on the same ~10M float32 parameters, in one process.

Each configuration is timed in interleaved rounds (so background load hits all of them alike)
with torch.utils.benchmark; the figure of merit is the ratio of AdaMomentum's best path to Adam's
best path (median time per step). Also checks that the optimizer state is exactly as large as
Adam's. Usage:

    python benchmarks/optimizer_step.py [--params 10000000] [--tensors 10] [--rounds 7] [--threads N]
"""
from __future__ import annotations

import argparse
import statistics

import torch
from torch.utils import benchmark

from theory import AdaMomentum


def make_params(total: int, tensors: int, seed: int = 0) -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(seed)
    sizes = [total // tensors] * tensors
    params = [torch.nn.Parameter(torch.randn(n, generator=gen)) for n in sizes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen) * 1e-2
    return params


def state_bytes(opt: torch.optim.Optimizer) -> int:
    return sum(t.numel() * t.element_size() for s in opt.state.values() for t in s.values()
               if isinstance(t, torch.Tensor))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=10_000_000)
    parser.add_argument("--tensors", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps-per-round", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    configs = {
        "adam foreach=False": (torch.optim.Adam, {"foreach": False}),
        "adam foreach=True": (torch.optim.Adam, {"foreach": True}),
        "adamomentum foreach=False": (AdaMomentum, {"foreach": False}),
        "adamomentum foreach=True": (AdaMomentum, {"foreach": True}),
    }
    optimizers = {}
    for name, (cls, kw) in configs.items():
        opt = cls(make_params(args.params, args.tensors), lr=1e-3, **kw)
        opt.step()  # create the state outside the timing
        optimizers[name] = opt

    times = {name: [] for name in configs}
    for _ in range(args.rounds):
        for name, opt in optimizers.items():
            timer = benchmark.Timer(stmt="opt.step()", globals={"opt": opt}, num_threads=torch.get_num_threads())
            times[name].append(timer.timeit(args.steps_per_round).median)

    print(f"{args.params:,} float32 parameters in {args.tensors} tensors, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}; median of {args.rounds} interleaved rounds")
    median = {name: statistics.median(ts) for name, ts in times.items()}
    for name, t in median.items():
        print(f"  {name:28s} {t * 1e3:8.2f} ms/step")
    best_adam = min(v for k, v in median.items() if k.startswith("adam "))
    best_am = min(v for k, v in median.items() if k.startswith("adamomentum"))
    print(f"  ratio best AdaMomentum / best Adam: {best_am / best_adam:.3f} (target <= 1.05)")

    for amsgrad in (False, True):
        a = torch.optim.Adam(make_params(1000, 1), amsgrad=amsgrad)
        b = AdaMomentum(make_params(1000, 1), amsgrad=amsgrad)
        a.step()
        b.step()
        print(f"  state bytes for 1000 params (amsgrad={amsgrad}): Adam {state_bytes(a)}, "
              f"AdaMomentum {state_bytes(b)}")


if __name__ == "__main__":
    main()
