"""``amlab toys``: the 2-D toy problems (Figure 2) and the Figure 1 stepsize sweep (parsing only)."""
from __future__ import annotations

import argparse

from simulations.commands._common import (UsageError, add_optimizer_arguments, add_progress_argument,
                                          add_resume_argument, add_run_arguments, add_scale_argument,
                                          add_subject_arguments, check_budget, check_out_dir, positive_count,
                                          positive_float, progress_enabled, smoke_requested, usage_errors)
from simulations.toys import experiment
from simulations.toys.figures import write_outputs
from simulations.toys.problems import FUNCTIONS

HELP = "2-D toy trajectories (Fig. 2, steps to the optimum with CIs) and the Fig. 1 stepsize areas"


def _function_list(text: str) -> list[str]:
    names = [item.strip() for item in text.split(",") if item.strip()]
    for name in names:
        if name not in FUNCTIONS:
            raise argparse.ArgumentTypeError(f"unknown toy function {name!r}; valid: {', '.join(FUNCTIONS)}")
    if not names:
        raise argparse.ArgumentTypeError("expected at least one function name")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(f"duplicate toy function(s): {', '.join(repeated)}; list each once")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = experiment.ToyConfig()
    parser.add_argument("--functions", type=_function_list, default=list(defaults.functions),
                        help=f"comma-separated, from: {', '.join(FUNCTIONS)} (default: all)")
    add_optimizer_arguments(parser, default=",".join(experiment.TOY_OPTIMIZERS))
    add_subject_arguments(parser)
    parser.add_argument("--lr", type=positive_float, default=None,
                        help="one learning rate (> 0) for every optimizer (default: Appendix A's per-function values)")
    parser.add_argument("--steps", type=positive_count, default=None,
                        help=f"steps per run (default: {defaults.steps})")
    parser.add_argument("--starts", type=positive_count, default=None,
                        help=f"grid cells per side of the start box (default: {defaults.starts})")
    parser.add_argument("--seeds", type=positive_count, default=None,
                        help=f"random starts per grid cell (default: {defaults.seeds})")
    add_scale_argument(parser, default=None,
                       help="use the experiment's sizes at this scale (those amlab report runs) instead of --steps, "
                            "--starts and --seeds")
    parser.add_argument("--radius", type=positive_float, default=defaults.radius,
                        help="'reached' means within this distance of the optimum (default: %(default)s)")
    parser.add_argument("--noise", type=float, default=0.0, help="std of Gaussian gradient noise (default: 0)")
    parser.add_argument("--skip-stepsize", action="store_true", help="do not run the Figure 1 stepsize sweep")
    add_progress_argument(parser)
    add_resume_argument(parser)
    add_run_arguments(parser, "amlab-out/toys")


# Per run (start): position, gradient, two moments, the hit step and the recorded start, 8 bytes
# each, for the functions one after another; the step cost measured on one CPU core.
BYTES_PER_RUN, STEP_S, RUN_STEP_S = 8 * 16, 1e-4, 2e-8


def run(args: argparse.Namespace) -> int:
    from simulations.checkpoints import UnitStore

    out = check_out_dir(args.out)
    defaults, step_sizes = experiment.ToyConfig(), {}
    sizes = {"steps": defaults.steps, "starts": defaults.starts, "seeds": defaults.seeds}
    if args.scale is not None:
        given = [f"--{name}" for name in sizes if getattr(args, name) is not None]
        if given:
            raise UsageError(f"{', '.join(given)}: not used with --scale (the sizes come from the scale); drop "
                             f"one or the other")
        sizes, step_sizes = experiment.SCALES[args.scale]["toys"], experiment.SCALES[args.scale]["stepsize"]
    else:
        sizes = {name: value if getattr(args, name) is None else getattr(args, name) for name, value in sizes.items()}
        if smoke_requested():  # AMLAB_SCALE=smoke: the stepsize sweep at its smoke size too
            step_sizes = experiment.SCALES["smoke"]["stepsize"]
    with usage_errors():
        config = experiment.ToyConfig(functions=tuple(args.functions), optimizers=tuple(args.optimizers),
                                      seed=args.seed, radius=args.radius, lr=args.lr, grad_noise=args.noise,
                                      subject=args.subject, **sizes)
        step_config = (None if args.skip_stepsize else
                       experiment.StepsizeConfig(subject=args.subject, baseline=args.baseline, **step_sizes))
    runs = config.starts ** 2 * config.seeds + 1
    check_budget("toys", runs * BYTES_PER_RUN, "--starts (or --seeds)",
                 len(config.functions) * len(config.optimizers) * config.steps * (STEP_S + RUN_STEP_S * runs),
                 device=args.device)
    with usage_errors():
        units = UnitStore(out / "checkpoints" / "toys", {"toys": config, "stepsize": step_config,
                                                         "device": args.device}, resume=args.resume)
    record = experiment.run_experiment(config, step_config, device=args.device, progress=progress_enabled(args),
                                       units=units)
    paths = write_outputs(record, out)
    for row in experiment.ledger_rows(record):
        print(f"{row['claim']}: {row['verdict']}")
    print(f"wrote {len(paths)} files to {args.out}")
    return 0
