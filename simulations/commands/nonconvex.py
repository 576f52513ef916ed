"""``amlab nonconvex``: gradient-norm decay of the family against Theorem 2 and Corollary 2."""
from __future__ import annotations

import argparse

from simulations.commands._common import (UsageError, add_optimizer_arguments, add_progress_argument,
                                          add_resume_argument, add_run_arguments, add_scale_argument,
                                          add_subject_arguments, check_budget, check_out_dir, positive_count,
                                          positive_float, progress_enabled, unit_interval, usage_errors)

HELP = "min_t E||grad f||^2 against T on nonconvex problems, with Theorem 2's bound and its hypotheses"
OUT_DEFAULT = "amlab-out/nonconvex"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from simulations.nonconvex.experiment import DEFAULT_OPTIMIZERS, PROBLEMS

    parser.add_argument("--problem", default="robust-regression", choices=PROBLEMS,
                        help="test problem (default: robust-regression)")
    add_optimizer_arguments(parser, default=",".join(DEFAULT_OPTIMIZERS))
    parser.add_argument("--lr", type=positive_float, default=None, help="alpha, > 0 (default: the problem's own)")
    parser.add_argument("--beta1", type=unit_interval, default=0.9, help="beta1 in [0, 1) (default: %(default)s)")
    parser.add_argument("--beta2", type=unit_interval, default=0.999, help="beta2 in [0, 1) (default: %(default)s)")
    parser.add_argument("--eps", type=float, default=1e-8, help="eps (default: %(default)s)")
    parser.add_argument("--steps", type=positive_count, default=None, help=f"horizon T (default: {STEPS_DEFAULT})")
    parser.add_argument("--seeds", type=positive_count, default=None,
                        help=f"independent runs per optimizer (default: {SEEDS_DEFAULT})")
    parser.add_argument("--lr-decay", default="inverse-sqrt", choices=("inverse-sqrt", "constant"),
                        help="alpha_t schedule (default: inverse-sqrt, as in Corollary 2)")
    parser.add_argument("--bias-correction", action="store_true",
                        help="use the members' bias corrections (the theorem analyses the method without)")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"), help="(default: %(default)s)")
    add_scale_argument(parser, default=None,
                       help="run the standard presets at this scale instead of one configuration (then only "
                            "--subject/--baseline apply; --steps and --seeds are refused)")
    add_progress_argument(parser)
    add_resume_argument(parser)
    add_subject_arguments(parser)
    add_run_arguments(parser, OUT_DEFAULT)


STEPS_DEFAULT, SEEDS_DEFAULT = 2000, 32
STEP_S, RUN_STEP_S = 3e-4, 2e-6  # measured per step and per (run x optimizer) step, one CPU core


def run(args: argparse.Namespace) -> int:
    from simulations.nonconvex import experiment

    from simulations.checkpoints import UnitStore

    out = check_out_dir(args.out)
    progress = progress_enabled(args)
    if args.scale is not None:
        given = [f"--{name}" for name in ("steps", "seeds") if getattr(args, name) is not None]
        if given:
            raise UsageError(f"{', '.join(given)}: not used with --scale (the presets' sizes come from the scale); "
                             f"drop them, or drop --scale to run one configuration")
        hashed = {"scale": args.scale, "subject": args.subject, "baseline": args.baseline, "device": args.device}
        with usage_errors():
            units = UnitStore(out / "checkpoints" / "nonconvex", hashed, resume=args.resume)
        record = experiment.run_scale(args.scale, device=args.device, progress=progress,
                                      subject=args.subject, baseline=args.baseline, units=units)
    else:
        steps = STEPS_DEFAULT if args.steps is None else args.steps
        seeds = SEEDS_DEFAULT if args.seeds is None else args.seeds
        with usage_errors():
            config = experiment.NonconvexConfig(
                problem=args.problem, optimizers=tuple(args.optimizers), lr=args.lr, beta1=args.beta1,
                beta2=args.beta2, eps=args.eps, steps=steps, seeds=seeds, seed=args.seed,
                lr_decay=args.lr_decay, bias_correction=args.bias_correction, dtype=args.dtype,
                subject=args.subject, baseline=args.baseline)
        methods = len(config.optimizers)
        runs = seeds * methods
        # mean and variance curves: (T, methods) float64; parameters and state: a few hundred per run
        check_budget("nonconvex", 8 * 2 * steps * methods + 8 * 4 * 1000 * runs, "--steps or --seeds",
                     steps * (STEP_S + RUN_STEP_S * runs), device=args.device)
        record = experiment.run_config(config, device=args.device, progress=progress)
    paths = experiment.write_outputs(record, out)
    for row in experiment.ledger_rows(record):
        print(f"{row['claim']}: {row['verdict']}\n  {row['evidence']}")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
