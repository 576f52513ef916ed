"""GPU escape-time benchmark and run, sized to finish in under 3 minutes on one H200.

Measures sampler throughput (float32) and batched simulator path-steps/s on the device, then runs
the Proposition 1 comparison (discrete and sde, sharp / asymmetric basins, Adam vs AdaMomentum)
with 10^6 paths per optimizer. On the CPU use a tiny size to test the script itself:

    python benchmarks/escape_gpu.py --device cuda --out gpu-escape       # on the GPU machine
    python benchmarks/escape_gpu.py --device cpu --tiny --out amlab-out/gpu-escape
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from simulations.escape.experiment import EscapeConfig, ratio_key, run_config
from simulations.escape.problems import Basin
from simulations.escape.summary import DEFAULT_BASELINE, DEFAULT_SUBJECT
from simulations.levy import symmetric_stable
from simulations.records import make_record, write_json_atomic
from simulations.runtime import generator, resolve_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tiny", action="store_true", help="a few paths and steps (CPU smoke test)")
    parser.add_argument("--out", default="amlab-out/escape-gpu")
    args = parser.parse_args()
    device = resolve_device(args.device)
    ratio = ratio_key(DEFAULT_SUBJECT, DEFAULT_BASELINE)
    paths, steps, warmup, samples = (200, 60, 20, 100_000) if args.tiny else (1_000_000, 1500, 500, 100_000_000)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    gen = generator(0, device)
    symmetric_stable(1.5, 1000, generator=gen, device=device)
    sync()
    start = time.perf_counter()
    symmetric_stable(1.5, samples, generator=gen, device=device)
    sync()
    result = {"device": str(device), "sampler_Msamples_per_s": samples / (time.perf_counter() - start) / 1e6, "runs": {}}
    for dyn in ("discrete", "sde"):
        for key, basin in (("sharp", Basin("quadratic", (4.0,), (0.25, 0.25))),
                           ("asymmetric", Basin("asymmetric", (4.0,), (0.25, 1.0)))):
            cfg = EscapeConfig(dynamics=dyn, basin=basin, tail_index=1.5, noise_scale=1.0, lr=0.01, paths=paths,
                               max_steps=steps, warmup=warmup, device=str(device), dtype="float32",
                               compact_every=128, monitor_every=32)
            run = run_config(cfg)
            result["runs"][f"{dyn}:{key}"] = {
                ratio: run.get(ratio),
                "mean_escape_time": {k: r["mean_escape_time"] for k, r in run["results"].items()},
                "path_steps_per_second": {k: r["path_steps_per_second"] for k, r in run["results"].items()},
                "seconds": run["seconds"]}
    write_json_atomic(Path(args.out) / "escape_gpu.json", make_record("escape-gpu", vars(args), result, seed=0))
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))
    for key, r in result["runs"].items():
        print(key, r[ratio], {k: round(v / 1e6, 1) for k, v in r["path_steps_per_second"].items()},
              "M path-steps/s", round(r["seconds"], 1), "s")


if __name__ == "__main__":
    main()
