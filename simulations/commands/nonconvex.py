"""``amlab nonconvex``: gradient-norm decay of the family against Theorem 2 and Corollary 2."""
from __future__ import annotations

import argparse
from pathlib import Path

from simulations.commands._common import add_optimizer_arguments, add_run_arguments, add_subject_arguments

HELP = "min_t E||grad f||^2 against T on nonconvex problems, with Theorem 2's bound and its hypotheses"
OUT_DEFAULT = "amlab-out/nonconvex"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from simulations.nonconvex.experiment import DEFAULT_OPTIMIZERS, PROBLEMS

    parser.add_argument("--problem", default="robust-regression", choices=PROBLEMS,
                        help="test problem (default: robust-regression)")
    add_optimizer_arguments(parser, default=",".join(DEFAULT_OPTIMIZERS))
    parser.add_argument("--lr", type=float, default=None, help="alpha (default: the problem's own)")
    parser.add_argument("--beta1", type=float, default=0.9, help="beta1 (default: 0.9)")
    parser.add_argument("--beta2", type=float, default=0.999, help="beta2 (default: 0.999)")
    parser.add_argument("--eps", type=float, default=1e-8, help="eps (default: 1e-8)")
    parser.add_argument("--steps", type=int, default=2000, help="horizon T (default: 2000)")
    parser.add_argument("--seeds", type=int, default=32, help="independent runs per optimizer (default: 32)")
    parser.add_argument("--lr-decay", default="inverse-sqrt", choices=("inverse-sqrt", "constant"),
                        help="alpha_t schedule (default: inverse-sqrt, as in Corollary 2)")
    parser.add_argument("--bias-correction", action="store_true",
                        help="use the members' bias corrections (the theorem analyses the method without)")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--preset", choices=("quick", "full"), default=None,
                        help="run the standard presets instead (ignores the options above but --subject/--baseline)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_subject_arguments(parser)
    add_run_arguments(parser, OUT_DEFAULT)


def run(args: argparse.Namespace) -> int:
    from simulations.nonconvex import experiment

    progress = not args.no_progress
    if args.preset:
        record = experiment.run_scale(args.preset, device=args.device, progress=progress,
                                      subject=args.subject, baseline=args.baseline)
    else:
        config = experiment.NonconvexConfig(
            problem=args.problem, optimizers=tuple(args.optimizers), lr=args.lr, beta1=args.beta1,
            beta2=args.beta2, eps=args.eps, steps=args.steps, seeds=args.seeds, seed=args.seed,
            lr_decay=args.lr_decay, bias_correction=args.bias_correction, dtype=args.dtype,
            subject=args.subject, baseline=args.baseline)
        record = experiment.run_config(config, device=args.device, progress=progress)
    paths = experiment.write_outputs(record, Path(args.out))
    for row in experiment.ledger_rows(record):
        print(f"{row['claim']}: {row['verdict']}\n  {row['evidence']}")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
