"""``amlab train``: real training on MNIST-1D or digits; noise tail index, sharpness, escape."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from simulations.commands._common import (add_optimizer_arguments, add_progress_argument, add_run_arguments,
                                          add_subject_arguments, float_list, progress_enabled, usage_errors)

HELP = "train MLP/CNN on MNIST-1D or digits with tuned lrs; gradient-noise tail index, sharpness, escape"
OUT_DEFAULT = "amlab-out/train"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=("mnist1d", "digits"), default="mnist1d", help="data set (default mnist1d)")
    parser.add_argument("--model", choices=("mlp", "cnn"), default="mlp", help="model (cnn: mnist1d only; default mlp)")
    add_optimizer_arguments(parser, default="adam,adamomentum")
    add_subject_arguments(parser)
    parser.add_argument("--scale", choices=("smoke", "quick", "full"), default="quick",
                        help="budget: smoke (seconds), quick (~40 s), full (< 1 h on 2 cores); default quick")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per (optimizer, lr) (default: the scale's)")
    parser.add_argument("--lrs", type=float_list, default=None,
                        help="learning-rate grid (default: the scale's; full: Appendix D's 0.1,0.01,0.0015,0.001,0.0005)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the scale's)")
    parser.add_argument("--eps", type=float, default=1e-8, help="eps of every optimizer (default 1e-8, Appendix D)")
    parser.add_argument("--no-refit", dest="refit", action="store_false",
                        help="report the tuning runs (trained on train only) instead of retraining the picked lr on "
                             "train + validation (default: refit, as the benchmark trains on all training examples)")
    parser.add_argument("--resume", action="store_true", help="skip the (optimizer, lr, seed) units saved under OUT/units")
    add_progress_argument(parser)
    add_run_arguments(parser, OUT_DEFAULT)


def _check_out(out: Path) -> None:
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise ValueError(f"--out {out}: not writable ({probe} is not a writable folder)")


def run(args) -> int:
    from simulations.training import experiment
    from simulations.training.units import UnitStore

    with usage_errors():  # bad input fails here, before any training
        if args.seeds is not None and args.seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
        if args.steps is not None and args.steps < 1:
            raise ValueError(f"--steps must be >= 1, got {args.steps}")
        if args.lrs is not None and (not args.lrs or any(lr <= 0 for lr in args.lrs)):
            raise ValueError(f"--lrs must be positive learning rates, got {args.lrs}")
        if args.dataset == "digits" and args.model == "cnn":
            raise ValueError("--model cnn is for --dataset mnist1d only (digits: mlp)")
        if args.subject == args.baseline:
            raise ValueError(f"--subject and --baseline must differ, got {args.subject!r} twice")
        optimizers = list(args.optimizers)
        for name in (args.baseline, args.subject):
            if name not in optimizers:
                optimizers.append(name)
        out = Path(args.out)
        _check_out(out)
        changes = {k: v for k, v in (("seeds", args.seeds), ("steps", args.steps),
                                     ("lrs", tuple(args.lrs) if args.lrs else None)) if v is not None}
        config, analysis = experiment.preset(args.scale, args.dataset, args.model, optimizers=tuple(optimizers),
                                             eps=args.eps, seed=args.seed, device=args.device, refit=args.refit,
                                             **changes)
        store = UnitStore(out / "units", config.fingerprint(), resume=args.resume)
    case = experiment.run_case(config, analysis, args.subject, args.baseline, progress_enabled(args), store)
    from simulations.records import make_record

    record = make_record("training", {"scale": args.scale, "device": str(experiment.resolve_device(args.device)),
                                      "subject": args.subject, "baseline": args.baseline,
                                      "dataset": args.dataset, "model": args.model}, {"cases": [case]}, seed=args.seed)
    for path in experiment.write_outputs(record, out):
        print(path)
    if store.resumed:
        print(f"resumed {len(store.resumed)} saved unit(s)")
    for opt, res in case["per_optimizer"].items():
        acc = res["accuracy"]["test_acc"]
        print(f"{opt:>14}: lr {res['selection']['lr']:g}, test acc {_ci(acc)}, "
              f"lambda_max {_ci(res['flatness']['lambda_max'])}")
    ref = case["reference"]
    print(f"benchmark check: {ref['status']} ({ref['reason']})")
    for row in experiment.ledger_rows(record):
        print(f"{row['claim']}: {row['verdict']} -- {row['evidence']}")
    return 0


def _ci(ci: dict) -> str:
    if ci["estimate"] is None:
        return "n/a"
    if ci["low"] is None:
        return f"{ci['estimate']:.4g}"
    return f"{ci['estimate']:.4g} [{ci['low']:.4g}, {ci['high']:.4g}]"
