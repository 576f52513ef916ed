"""Every benchmark, one table of ratios against each one's side-by-side reference, and benchmarks.json.

    python -m benchmarks                      # the full set on the CPU (several minutes)
    python -m benchmarks --quick              # a smoke run of every benchmark (seconds)
    python -m benchmarks --only regret,sampler --out results/benchmarks.json
    bash benchmarks/gpu.sh                    # the same on a CUDA device

One process, one intra-op thread by default (``--threads``), and each benchmark times its contenders
in interleaved rounds (every contender once per round, in turn) and reports medians over the rounds,
so background load on a shared machine hits every contender alike. Each row has the measure, the
value, the reference's value, the ratio and the issue-13 target the ratio is held against (with
``met``); a row without a target is context. ``--quick`` sizes are far too small for figures worth
quoting: it checks that everything runs and the JSON has its keys. The sampler's and (on the
CPU) the optimizer's rows are the medians over five fresh processes (a process's heap and memory
layout move their rates; see benchmarks/sampler.py and benchmarks/optimizer_step.py), with each
ratio's range over them.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import torch

NAMES = ("regret", "nonconvex", "escape", "sampler", "optimizer")


def _row(benchmark: str, case: str, measure: str, value: float, reference_name: str, reference: float,
         ratio: float, target: str | None = None, met: bool | None = None, **extra) -> dict:
    return {"benchmark": benchmark, "case": case, "measure": measure, "value": value,
            "reference_name": reference_name, "reference": reference, "ratio": ratio, "target": target,
            "met": met, **extra}


def _median_rounds(contenders: dict, rounds: int) -> dict:
    """Seconds per call of each contender: median over interleaved rounds (after one warm-up call)."""
    for fn in contenders.values():
        fn()
    times = {k: [] for k in contenders}
    for _ in range(rounds):
        for key, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def bench_regret(quick: bool, device: str) -> list[dict]:
    """Regret inner loop: us per step at 100 seeds, the fast path against the per-step reference."""
    from simulations.regret.problems import ProblemConfig
    from simulations.regret.simulate import OptimizerConfig, simulate

    steps, seeds, rounds = (200, 4, 1) if quick else (5_000, 100, 3) if device == "cuda" else (20_000, 100, 5)
    problem = ProblemConfig("stochastic-periodic", prob=0.01, big=1010.0, small=10.0)
    opt = OptimizerConfig(lr=0.5, beta1=0.9, beta2=0.99)
    rows = []
    for member in ("adamomentum", "adamomentum-max"):
        run = (lambda path, m=member: simulate(m, [problem], [opt], steps, seeds=seeds, device=device, path=path))
        secs = _median_rounds({"reference": lambda: run("reference"), "auto": lambda: run("auto")}, rounds)
        fast_us, ref_us = 1e6 * secs["auto"] / steps, 1e6 * secs["reference"] / steps
        ratio = fast_us / ref_us
        rows.append(_row("regret", f"{member} stochastic-periodic {seeds} seeds {device} float64",
                         "us/step (path=auto)", fast_us, "us/step (path=reference)", ref_us, ratio,
                         target="<= 0.15", met=ratio <= 0.15, steps=steps, seeds=seeds))
    return rows


def bench_nonconvex(quick: bool, device: str) -> list[dict]:
    """Nonconvex run (8 rules, default problem): Theorem 2's monitor reduced per chunk of 64 steps
    (the default) against the per-step monitor (``monitor_chunk=0``, the reference)."""
    from simulations.nonconvex.experiment import NonconvexConfig
    from simulations.nonconvex.simulate import simulate
    from theory.names import resolve_all

    rows = []
    steps, seeds, rounds = (40, 2, 1) if quick else (1000, 32, 3)
    for problem in ("robust-regression", "quadratic"):
        cfg = NonconvexConfig(problem=problem, steps=steps, seeds=seeds)
        rules = resolve_all(cfg.optimizers)
        run = (lambda chunk: simulate(cfg, rules, device=device, monitor_chunk=chunk))
        secs = _median_rounds({"chunked": lambda: run(64), "per-step": lambda: run(0)}, rounds)
        ms, ref_ms = 1e3 * secs["chunked"] / steps, 1e3 * secs["per-step"] / steps
        rows.append(_row("nonconvex", f"{problem} {len(rules)} rules {seeds} seeds {device} float64",
                         "ms/step (monitor_chunk=64)", ms, "ms/step (monitor_chunk=0)", ref_ms, ms / ref_ms))
    return rows


def bench_escape(quick: bool, device: str) -> list[dict]:
    """Escape, discrete dynamics: the native step (simulations/escape/native.py) against the path
    before issue 13 (torch step and torch sampler; the target: 5x), the torch step with the native
    sampler (``native=False``) and the per-path float64 reference loop."""
    from simulations.escape.experiment import EscapeConfig
    from simulations.escape.problems import Basin
    from simulations.escape.reference import reference_exit_step
    from simulations import levy
    from simulations.escape.simulate import simulate
    from simulations.levy import symmetric_stable
    from simulations.runtime import generator

    paths, steps, ref_paths, rounds = (200, 30, 2, 1) if quick else (20_000, 300, 10, 7)
    rows = []
    for dtype in ("float32", "float64"):
        cfg = EscapeConfig(dynamics="discrete", basin=Basin("quadratic", (1.0,), (1.0, 1.0)), noise_scale=0.05,
                           lr=0.01, paths=paths, max_steps=steps, dtype=dtype, device=device)
        ref_cfg = EscapeConfig(**{**{f: getattr(cfg, f) for f in cfg.__dataclass_fields__}, "paths": 2,
                                  "dtype": "float64", "device": "cpu"})
        noise = symmetric_stable(1.5, (ref_paths, steps, 1), generator=generator(1, torch.device("cpu")),
                                 dtype=torch.float64).tolist()
        counted = {}

        def batched():
            counted["batched"] = simulate(cfg, "adamomentum")["path_steps"]

        def torch_path():
            counted["torch"] = simulate(cfg, "adamomentum", native=False)["path_steps"]

        def before_issue_13():
            # the native step and sampler off: the torch step and sample_torch in its general form
            # (no special forms), the path issue 13's "5x today's" was set against (the later
            # step-major noise block and its one-pass copy stay in, so this reference is if
            # anything faster than that path was)
            with mock.patch.object(levy, "_native_kernel", lambda *args: None), \
                    mock.patch.object(levy, "_SPECIAL_FORMS", False):
                counted["before"] = simulate(cfg, "adamomentum", native=False)["path_steps"]

        def reference():
            counted["reference"] = sum(reference_exit_step(ref_cfg, "adamomentum", noise[i]) or steps
                                       for i in range(ref_paths))

        native = device == "cpu"
        contenders = {"batched": batched, "torch": torch_path, "reference": reference}
        if native:
            contenders["before"] = before_issue_13
        secs = _median_rounds(contenders, rounds)
        rate, ref_rate = counted["batched"] / secs["batched"], counted["reference"] / secs["reference"]
        torch_rate = counted["torch"] / secs["torch"]
        case = f"discrete adamomentum {paths} paths {device} {dtype}"
        measure = "path-steps/s (native step)" if native else "path-steps/s (batched)"
        if native:
            before_rate = counted["before"] / secs["before"]
            rows.append(_row("escape", case, measure, rate, "path-steps/s (torch step + torch sampler, before "
                             "issue 13)", before_rate, rate / before_rate, target=">= 5", met=rate / before_rate >= 5))
        rows.append(_row("escape", case, measure, rate, "path-steps/s (torch path, native=False)", torch_rate,
                         rate / torch_rate))
        rows.append(_row("escape", case, "path-steps/s (batched)", rate, "path-steps/s (per-path float64 loop)",
                         ref_rate, rate / ref_rate))
    return rows


def _fresh_processes(module_argv: list[str], processes: int) -> list[dict]:
    """``python -m <module_argv> --json`` in ``processes`` fresh processes, one after the other, from
    the repository root; their JSON results. A failing process raises with its stderr."""
    command = [sys.executable, "-m", *module_argv, "--json"]
    runs = []
    for _ in range(processes):
        done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[1:])} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        runs.append(json.loads(done.stdout))
    return runs


def bench_sampler(quick: bool, device: str, processes: int = 5, sizes: tuple[int, int] | None = None) -> list[dict]:
    """symmetric_stable against scipy's levy_stable.rvs and a plain numpy CMS, same dtype (CPU), in
    ``processes`` fresh processes (one, this one, with ``quick``): each process's heap moves both
    sides' rates, so a row gives the medians over processes and each ratio's range over them, and
    ``met`` holds the median ratio against the target (``met_every_process``: the worst one).
    ``value`` and ``reference`` are the median rates, so with several processes value / reference
    need not be the median ratio. scipy draws 10000 samples per call (fewer with ``quick``), in
    every process. ``sizes``: (samples, rounds) in place of the defaults."""
    from benchmarks import sampler

    samples, rounds = sizes or ((20_000, 1) if quick else (1_000_000, 15))
    scipy_samples = min(samples, 10_000)
    if quick:
        runs = [sampler.main(samples=samples, rounds=rounds, threads=None, scipy_samples=scipy_samples,
                             verbose=False)]
    else:
        runs = _fresh_processes(["benchmarks.sampler", "--samples", str(samples), "--rounds", str(rounds),
                                 "--threads", str(torch.get_num_threads()), "--scipy-samples", str(scipy_samples)],
                                processes)
    rows = []
    for case in (k for k, r in runs[0].items() if isinstance(r, dict)):
        per = [run[case] for run in runs]
        torch_rate = statistics.median(r["torch_Msps"] for r in per)
        for key, name, target in (("scipy", "scipy levy_stable.rvs", 20.0), ("numpy", "plain numpy CMS", 1.0)):
            ratios = [r[f"vs_{key}"] for r in per]
            ratio = statistics.median(ratios)
            reference = statistics.median(r[f"{key}_Msps"] for r in per)
            rows.append(_row("sampler", f"{case} cpu", "M samples/s (torch)", torch_rate, name, reference,
                             ratio, target=f">= {target:g}", met=ratio >= target, processes=len(runs),
                             ratio_range=[min(ratios), max(ratios)], met_every_process=min(ratios) >= target,
                             scipy_samples=scipy_samples))
    return rows


def bench_optimizer(quick: bool, device: str, processes: int = 5) -> list[dict]:
    """AdaMomentum's paths against Adam(fused=True); --quick leaves out the compiled path (its compile
    alone takes longer than a smoke run should). On the CPU away from --quick, in ``processes`` fresh
    processes (a process's memory layout moves the 1000-tensor ratio): ms/step are medians over the
    processes, each ratio the median of the processes' ratios with its range, and the target row is
    the path with the lowest median ratio (``met``: that median; ``met_every_process``: its worst)."""
    from benchmarks import optimizer_step

    if quick:
        layouts, rounds, steps = ((2_000, 10), (1_000, 100)), 1, 1
        configs = {k: v for k, v in optimizer_step.CONFIGS.items() if "fused=True" not in k or k.startswith("adam ")}
    else:
        layouts, rounds, steps, configs = ((10_000_000, 10), (1_000_000, 1000)), 7, 5, None
    if quick or device != "cpu":
        runs = [optimizer_step.run(layouts, rounds, steps, configs=configs, device=device)]
    else:
        runs = _fresh_processes(["benchmarks.optimizer_step", "--layouts", ",".join(f"{n}x{t}" for n, t in layouts),
                                 "--rounds", str(rounds), "--steps-per-round", str(steps),
                                 "--threads", str(torch.get_num_threads())], processes)
    rows = []
    for layout in runs[0]:
        per = [run[layout]["ms_per_step"] for run in runs]
        ref = statistics.median(p["adam fused=True"] for p in per)
        ratios = {name: [p[name] / p["adam fused=True"] for p in per]
                  for name in per[0] if name.startswith("adamomentum")}
        best = min(ratios, key=lambda name: statistics.median(ratios[name]))
        for name, rs in ratios.items():
            ratio = statistics.median(rs)
            target = name == best
            extra = dict(processes=len(runs), ratio_range=[min(rs), max(rs)],
                         met_every_process=(max(rs) <= 1.10) if target else None) if len(runs) > 1 else {}
            rows.append(_row("optimizer", f"{name} float32 {layout} {device}", "ms/step",
                             statistics.median(p[name] for p in per), "adam fused=True ms/step", ref, ratio,
                             target="<= 1.10" if target else None, met=(ratio <= 1.10) if target else None, **extra))
    return rows


BENCHMARKS = {"regret": bench_regret, "nonconvex": bench_nonconvex, "escape": bench_escape, "sampler": bench_sampler,
              "optimizer": bench_optimizer}


def run(names=NAMES, quick: bool = False, device: str = "cpu") -> dict:
    """Run the named benchmarks; the record written to benchmarks.json."""
    rows, seconds = [], {}
    for name in names:
        start = time.perf_counter()
        rows += BENCHMARKS[name](quick, device)
        seconds[name] = time.perf_counter() - start
    meta = {"torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine(),
            "device": device, "threads": torch.get_num_threads(), "quick": quick, "seconds": seconds,
            "cuda_device": torch.cuda.get_device_name() if device == "cuda" else None,
            "method": "medians of interleaved rounds, one process (the sampler: medians over fresh "
                      "processes of those, with each ratio's range)"}
    return {"meta": meta, "rows": rows}


def format_table(record: dict) -> str:
    lines = [f"{'benchmark':<10} {'case':<52} {'value':>11} {'reference':>11} {'ratio':>8}  target  met",
             "-" * 108]
    for r in record["rows"]:
        met = "" if r["met"] is None else ("yes" if r["met"] else "NO")
        spread = (f"  ({r['ratio_range'][0]:.3g}-{r['ratio_range'][1]:.3g} over {r['processes']} processes)"
                  if r.get("processes", 1) > 1 else "")
        lines.append(f"{r['benchmark']:<10} {r['case'][:52]:<52} {r['value']:>11.4g} {r['reference']:>11.4g} "
                     f"{r['ratio']:>8.3f}  {r['target'] or '':<7} {met}{spread}")
    meta = record["meta"]
    lines.append(f"(value: {', '.join(sorted({r['measure'] for r in record['rows']}))}; "
                 f"reference: its side-by-side reference; rows over several processes: median rates, the "
                 f"median of the processes' ratios and its range; {meta['threads']} thread(s), device {meta['device']}, "
                 f"torch {meta['torch']}{', QUICK sizes' if meta['quick'] else ''})")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of every benchmark")
    parser.add_argument("--only", default=",".join(NAMES), help=f"comma-separated subset of {', '.join(NAMES)}")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: these are small-tensor workloads; 0 leaves torch's)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks.json"))
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown or not names:
        parser.error(f"--only: unknown benchmark(s) {unknown or names}; valid: {', '.join(NAMES)}")
    if args.threads < 0:
        parser.error(f"--threads must be >= 0, got {args.threads}")
    if args.device == "cuda" and not torch.cuda.is_available():
        print("python -m benchmarks --device cuda: CUDA is not available here "
              f"(torch {torch.__version__}, cuda build {torch.version.cuda}); run it on a machine with a GPU",
              file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    from simulations.records import write_json_atomic

    record = run(names, args.quick, args.device)
    print(format_table(record))
    print(write_json_atomic(args.out, record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
