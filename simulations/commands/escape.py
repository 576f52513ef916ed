"""``amlab escape``: Levy-driven escape times (flow, eq. (3) SDE, discrete optimizer), or a named preset.

Argument parsing only: the runs are :mod:`simulations.escape.experiment`, the figures
:mod:`simulations.escape.figures`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from simulations.commands._common import add_optimizer_arguments, add_run_arguments, add_subject_arguments, float_list

HELP = "Levy-driven escape times from a basin (Lemma 1, Proposition 1): flow, sde (eq. 3) or discrete"
OUT_DEFAULT = "amlab-out/escape"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from simulations.escape.experiment import DYNAMICS, PRESETS
    from simulations.escape.problems import BASINS

    parser.add_argument("--preset", choices=PRESETS + ("all",), default=None,
                        help="run a named experiment instead of one configuration (all: every preset)")
    parser.add_argument("--scale", choices=("quick", "full"), default="quick", help="preset scale (default: quick)")
    parser.add_argument("--dynamics", choices=DYNAMICS, default="discrete",
                        help="discrete: any optimizer; sde (eq. (3)): registry members only (default: discrete)")
    add_optimizer_arguments(parser)
    parser.set_defaults(optimizers=None)  # not given: baseline,subject (adam,adamomentum by default)
    add_subject_arguments(parser)
    parser.add_argument("--basin", choices=BASINS, default="quadratic")
    parser.add_argument("--curvature", type=float_list, default=[4.0], help="one per dimension (default: 4)")
    parser.add_argument("--width", type=float_list, default=[0.25],
                        help="half-width; two values (right,left) for an asymmetric basin (default: 0.25)")
    parser.add_argument("--tail-index", type=float, default=1.5, help="alpha in (0, 2] (default: 1.5)")
    parser.add_argument("--noise-scale", type=float, default=1.0,
                        help="epsilon for flow, gradient-noise scale sigma otherwise (default: 1)")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--dt", type=float, default=None, help="time step (flow: 1e-2, sde: lr; discrete: = lr)")
    parser.add_argument("--beta1", type=float, default=0.9)
    parser.add_argument("--beta2", type=float, default=0.999)
    parser.add_argument("--eps", type=float, default=1e-8)
    parser.add_argument("--start", type=float_list, default=None, help="start point (default: the minimum)")
    parser.add_argument("--paths", type=int, default=2000)
    parser.add_argument("--max-steps", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=0,
                        help="steps before the clock starts (paths that leave restart) (default: 0)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    add_run_arguments(parser, OUT_DEFAULT)


def config_from_args(args):
    from simulations.escape.experiment import EscapeConfig
    from simulations.escape.problems import Basin
    from simulations.runtime import resolve_device

    width = list(args.width)
    if args.basin == "asymmetric" and len(width) != 2:
        raise ValueError(f"width: an asymmetric basin needs two half-widths (right,left), got {args.width}")
    if len(width) == 1:
        width = width * 2
    if len(width) != 2:
        raise ValueError(f"width takes one value or two (right,left), got {args.width}")
    if args.dt is not None and args.dynamics == "discrete":
        raise ValueError("dt: the discrete dynamics steps one iteration = lr time units; --dt applies to flow "
                         "and sde only")
    optimizers = args.optimizers if args.optimizers is not None else [args.baseline, args.subject]
    basin = Basin(args.basin, tuple(args.curvature), tuple(width))
    return EscapeConfig(
        dynamics=args.dynamics, optimizers=tuple(optimizers), basin=basin, tail_index=args.tail_index,
        noise_scale=args.noise_scale, lr=args.lr, dt=args.dt, beta1=args.beta1, beta2=args.beta2, eps=args.eps,
        start=tuple(args.start) if args.start else None, paths=args.paths, max_steps=args.max_steps,
        warmup=args.warmup, seed=args.seed, device=str(resolve_device(args.device)), dtype=args.dtype,
        subject=args.subject, baseline=args.baseline)


def run(args) -> int:
    from simulations.escape import experiment, figures

    progress = not args.no_progress
    if args.preset:
        names = experiment.PRESETS if args.preset == "all" else (args.preset,)
        record = experiment.run_named(names, args.scale, args.device, progress, args.seed, args.subject,
                                      args.baseline, device_label=args.device)
    else:
        record = experiment.run_single(config_from_args(args), progress=progress)
    paths = figures.write_outputs(record, Path(args.out))
    for line in experiment.summary_lines(record):
        print(line)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
