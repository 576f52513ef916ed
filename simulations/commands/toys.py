"""``amlab toys``: the 2-D toy problems (Figure 2) and the Figure 1 stepsize sweep (parsing only)."""
from __future__ import annotations

import argparse
from pathlib import Path

from simulations.commands._common import add_optimizer_arguments, add_run_arguments, add_subject_arguments
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
    parser.add_argument("--lr", type=float, default=None,
                        help="one learning rate for every optimizer (default: Appendix A's per-function values)")
    parser.add_argument("--steps", type=int, default=defaults.steps, help=f"steps per run (default: {defaults.steps})")
    parser.add_argument("--starts", type=int, default=defaults.starts,
                        help=f"grid cells per side of the start box (default: {defaults.starts})")
    parser.add_argument("--seeds", type=int, default=defaults.seeds,
                        help=f"random starts per grid cell (default: {defaults.seeds})")
    parser.add_argument("--radius", type=float, default=defaults.radius,
                        help=f"'reached' means within this distance of the optimum (default: {defaults.radius})")
    parser.add_argument("--noise", type=float, default=0.0, help="std of Gaussian gradient noise (default: 0)")
    parser.add_argument("--skip-stepsize", action="store_true", help="do not run the Figure 1 stepsize sweep")
    parser.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    add_run_arguments(parser, "amlab-out/toys")


def run(args: argparse.Namespace) -> int:
    config = experiment.ToyConfig(functions=tuple(args.functions), optimizers=tuple(args.optimizers),
                                  steps=args.steps, starts=args.starts, seeds=args.seeds, seed=args.seed,
                                  radius=args.radius, lr=args.lr, grad_noise=args.noise, subject=args.subject)
    step_config = (None if args.skip_stepsize else
                   experiment.StepsizeConfig(subject=args.subject, baseline=args.baseline))
    record = experiment.run_experiment(config, step_config, device=args.device, progress=args.progress)
    paths = write_outputs(record, Path(args.out))
    for row in experiment.ledger_rows(record):
        print(f"{row['claim']}: {row['verdict']}")
    print(f"wrote {len(paths)} files to {args.out}")
    return 0
