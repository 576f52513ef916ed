"""Sampler benchmark: simulations.levy.symmetric_stable against scipy.stats.levy_stable.rvs and a
plain numpy Chambers-Mallows-Stuck sampler (the textbook formula, numpy's default generator),
side by side in one process, at the same dtype.

Rounds are interleaved (every contender once per round, in turn) and each figure is the median
over rounds, so a shared machine's load hits every contender alike. Targets (issue 13): sampler
>= 20x scipy and >= 1.0x plain numpy CMS at alpha 1.0 and 1.5.

    python benchmarks/sampler.py [--samples 1000000] [--rounds 7] [--threads 1] [--scipy-samples N] [--json]

Both sides' rates move with the process's heap (whether a fresh 1e6-sample output is recycled
memory or new pages to fault in): on the 2-core machine one process's ratio at float64 alpha 1.5
came out anywhere in 15-24x, so ``python -m benchmarks`` runs this in several fresh processes and
reports the median and the range over them.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time
import warnings

import numpy as np
import torch
from scipy import stats

from simulations.levy import symmetric_stable
from simulations.runtime import generator

ALPHAS = (1.0, 1.5)
DTYPES = {"float32": (torch.float32, np.float32), "float64": (torch.float64, np.float64)}


def numpy_cms(alpha: float, n: int, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """Plain CMS in numpy at ``dtype``: V ~ U(-pi/2, pi/2), W ~ Exp(1), the formula as printed."""
    v = rng.random(n, dtype=dtype)
    v -= dtype(0.5)
    v *= dtype(math.pi)
    w = rng.standard_exponential(n, dtype=dtype)
    if alpha == 1.0:
        return np.tan(v)
    a = dtype(alpha)
    return (np.sin(a * v) / np.cos(v) ** dtype(1.0 / alpha)
            * (np.cos(dtype(1.0 - alpha) * v) / w) ** dtype((1.0 - alpha) / alpha))


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(samples: int = 1_000_000, rounds: int = 7, threads: int | None = 1,
         scipy_samples: int | None = None, verbose: bool = True) -> dict:
    """Run the benchmark; return {"alpha=A,dtype": {"vs_scipy": r, "vs_numpy": r, ...}} (ratios
    of throughputs, medians over interleaved rounds) and print a table."""
    if threads:
        torch.set_num_threads(threads)
    scipy_n = scipy_samples or max(samples // 5, 10_000)
    gen = generator(0, torch.device("cpu"))
    rng = np.random.default_rng(0)
    contenders = {}
    for alpha in ALPHAS:
        contenders[(alpha, "scipy")] = (scipy_n, lambda a=alpha: stats.levy_stable.rvs(
            a, 0.0, size=scipy_n, random_state=rng))
        for name, (tdt, ndt) in DTYPES.items():
            contenders[(alpha, f"torch-{name}")] = (samples, lambda a=alpha, d=tdt: symmetric_stable(
                a, samples, generator=gen, dtype=d))
            contenders[(alpha, f"numpy-{name}")] = (samples, lambda a=alpha, d=ndt: numpy_cms(a, samples, rng, d))
    times: dict = {k: [] for k in contenders}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the plain numpy formula divides by 0 at its grid edges
        for fn in (f for _, f in contenders.values()):
            fn()  # warm-up
        for _ in range(rounds):
            for key, (n, fn) in contenders.items():
                times[key].append(_time(fn) / n)
    rate = {k: 1e-6 / statistics.median(v) for k, v in times.items()}  # M samples / s
    out = {"threads": torch.get_num_threads(), "samples": samples, "rounds": rounds}
    for alpha in ALPHAS:
        for name in DTYPES:
            t = rate[(alpha, f"torch-{name}")]
            out[f"alpha={alpha},{name}"] = {
                "torch_Msps": t, "numpy_Msps": rate[(alpha, f"numpy-{name}")], "scipy_Msps": rate[(alpha, "scipy")],
                "vs_scipy": t / rate[(alpha, "scipy")], "vs_numpy": t / rate[(alpha, f"numpy-{name}")]}
    if verbose:
        print(f"threads={out['threads']} samples={samples} rounds={rounds} (medians, M samples/s)")
        print(f"{'case':<22}{'torch':>8}{'numpy':>8}{'scipy':>8}{'vs scipy':>10}{'vs numpy':>10}")
        for key, row in out.items():
            if isinstance(row, dict):
                print(f"{key:<22}{row['torch_Msps']:>8.1f}{row['numpy_Msps']:>8.1f}{row['scipy_Msps']:>8.1f}"
                      f"{row['vs_scipy']:>10.2f}{row['vs_numpy']:>10.2f}")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--scipy-samples", type=int, default=None,
                        help="samples per scipy call (default: a fifth of --samples, at least 10000)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object, no table")
    args = parser.parse_args()
    result = main(args.samples, args.rounds, args.threads or None, args.scipy_samples, verbose=not args.json)
    if args.json:
        print(json.dumps(result))
