"""AdaMomentum.step against torch.optim.Adam, side by side in one process, on two layouts:
~10M float32 parameters in 10 tensors and 1000 tensors of 1000 elements.

Each configuration is timed in interleaved rounds (so background load hits all of them alike)
with torch.utils.benchmark; the figures of merit are medians per step and the ratios of each
AdaMomentum path (forloop, foreach, fused = compiled single pass) to Adam(foreach=True) and to
Adam(fused=True); target: AdaMomentum's best <= 1.10x Adam(fused=True). The fused path is
compiled (and warmed) before timing. Also checks that the optimizer state is exactly as large
as Adam's. ``run()`` returns the numbers as a dict. Usage:

    python benchmarks/optimizer_step.py [--layouts 10000000x10,1000000x1000] [--rounds 7] [--threads N] [--json]

A process's memory layout moves the 1000-tensor ratio (0.97-1.21x in five runs of one afternoon),
so ``python -m benchmarks`` runs this with ``--json`` in several fresh processes and reports the
median and the range over them, as it does for the sampler.
"""
from __future__ import annotations

import argparse
import json
import statistics

import torch
from torch.utils import benchmark

from theory import AdaMomentum


def make_params(total: int, tensors: int, seed: int = 0, device: str = "cpu") -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(seed)
    sizes = [total // tensors] * tensors
    params = [torch.nn.Parameter(torch.randn(n, generator=gen).to(device)) for n in sizes]
    for p in params:
        p.grad = (torch.randn(p.shape, generator=gen) * 1e-2).to(device)
    return params


def state_bytes(opt: torch.optim.Optimizer) -> int:
    return sum(t.numel() * t.element_size() for s in opt.state.values() for t in s.values()
               if isinstance(t, torch.Tensor))


CONFIGS = {
    "adam foreach=False": (torch.optim.Adam, {"foreach": False}),
    "adam foreach=True": (torch.optim.Adam, {"foreach": True}),
    "adam fused=True": (torch.optim.Adam, {"fused": True}),
    "adamomentum foreach=False": (AdaMomentum, {"foreach": False}),
    "adamomentum foreach=True": (AdaMomentum, {"foreach": True}),
    "adamomentum fused=True": (AdaMomentum, {"fused": True}),
}


def run(layouts=((10_000_000, 10), (1_000_000, 1000)), rounds: int = 7, steps_per_round: int = 5,
        configs: dict | None = None, device: str = "cpu") -> dict:
    """Median ms/step per configuration and the ratios, per layout (interleaved rounds).

    ``configs``: a subset of :data:`CONFIGS` (it must hold "adam fused=True"); all by default."""
    configs = CONFIGS if configs is None else configs
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else None
    results = {}
    for total, tensors in layouts:
        optimizers = {}
        for name, (cls, kw) in configs.items():
            opt = cls(make_params(total, tensors, device=device), lr=1e-3, **kw)
            for _ in range(3):
                opt.step()  # state created and the fused path compiled outside the timing
            optimizers[name] = opt
        times = {name: [] for name in configs}
        for _ in range(rounds):
            for name, opt in optimizers.items():
                # torch.utils.benchmark.Timer synchronises CUDA itself
                timer = benchmark.Timer(stmt="opt.step()", globals={"opt": opt}, num_threads=torch.get_num_threads())
                times[name].append(timer.timeit(steps_per_round).median)
        if sync is not None:
            sync()
        median = {name: statistics.median(ts) * 1e3 for name, ts in times.items()}
        best_am = min(v for k, v in median.items() if k.startswith("adamomentum"))
        ratios = {f"{k} / adam fused": v / median["adam fused=True"] for k, v in median.items()
                  if k.startswith("adamomentum")}
        if "adam foreach=True" in median:
            ratios.update({f"{k} / adam foreach": v / median["adam foreach=True"] for k, v in median.items()
                           if k.startswith("adamomentum")})
        ratios["best adamomentum / adam fused"] = best_am / median["adam fused=True"]
        results[f"{total}x{tensors}"] = {"ms_per_step": median, "ratios": ratios, "target": 1.10,
                                         "best": min((k for k in median if k.startswith("adamomentum")),
                                                     key=median.get),
                                         "met": ratios["best adamomentum / adam fused"] <= 1.10}
        del optimizers
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", default="10000000x10,1000000x1000",
                        help="comma-separated TOTALxTENSORS float32 layouts")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps-per-round", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--json", action="store_true", help="print run()'s result as one JSON object, no table")
    args = parser.parse_args()
    try:
        layouts = [tuple(int(x) for x in item.split("x")) for item in args.layouts.split(",")]
    except ValueError:
        parser.error(f"--layouts: TOTALxTENSORS items separated by commas, got {args.layouts!r}")
    if args.rounds < 1 or args.steps_per_round < 1 or any(t < 1 or n < t for n, t in layouts):
        parser.error("--rounds and --steps-per-round must be >= 1, and each layout TOTAL >= TENSORS >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    results = run(layouts, args.rounds, args.steps_per_round)
    if args.json:
        print(json.dumps(results))
        return
    for layout, res in results.items():
        total, tensors = layout.split("x")
        print(f"{int(total):,} float32 parameters in {tensors} tensors, {torch.get_num_threads()} threads, "
              f"torch {torch.__version__}; median of {args.rounds} interleaved rounds")
        for name, t in res["ms_per_step"].items():
            print(f"  {name:28s} {t:8.2f} ms/step")
        for name, r in res["ratios"].items():
            print(f"  {name:44s} {r:6.3f}")
        print(f"  target best / adam fused <= {res['target']}: {'met' if res['met'] else 'MISSED'}")

    for amsgrad in (False, True):
        a = torch.optim.Adam(make_params(1000, 1), amsgrad=amsgrad)
        b = AdaMomentum(make_params(1000, 1), amsgrad=amsgrad)
        a.step()
        b.step()
        print(f"  state bytes for 1000 params (amsgrad={amsgrad}): Adam {state_bytes(a)}, "
              f"AdaMomentum {state_bytes(b)}")


if __name__ == "__main__":
    main()
