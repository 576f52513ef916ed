"""``amlab escape``: Levy-driven escape times (flow, eq. (3) SDE, discrete optimizer), or a named preset.

Argument parsing only: the runs are :mod:`simulations.escape.experiment`, the figures
:mod:`simulations.escape.figures`.
"""
from __future__ import annotations

import argparse

from simulations.commands._common import (UsageError, add_optimizer_arguments, add_progress_argument,
                                          add_resume_argument, add_run_arguments, add_scale_argument,
                                          add_subject_arguments, check_budget, check_out_dir, count, float_list,
                                          positive_count, positive_float, progress_enabled, unit_interval,
                                          usage_errors)

HELP = "Levy-driven escape times from a basin (Lemma 1, Proposition 1): flow, sde (eq. 3) or discrete"
OUT_DEFAULT = "amlab-out/escape"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from simulations.escape.experiment import DYNAMICS, PRESETS
    from simulations.escape.problems import BASINS

    parser.add_argument("--preset", choices=PRESETS + ("all",), default=None,
                        help="run a named experiment instead of one configuration (all: every preset); its sizes "
                             "come from --scale, so --paths, --max-steps and --warmup are refused with it")
    add_scale_argument(parser, help="preset scale (with --preset)")
    parser.add_argument("--dynamics", choices=DYNAMICS, default="discrete",
                        help="discrete: any optimizer; sde (eq. (3)): registry members only (default: %(default)s)")
    add_optimizer_arguments(parser)
    parser.set_defaults(optimizers=None)  # not given: baseline,subject (adam,adamomentum by default)
    add_subject_arguments(parser)
    parser.add_argument("--basin", choices=BASINS, default="quadratic", help="(default: %(default)s)")
    parser.add_argument("--curvature", type=float_list, default=[4.0], help="one per dimension (default: 4)")
    parser.add_argument("--width", type=float_list, default=[0.25],
                        help="half-width; two values (right,left) for an asymmetric basin (default: 0.25)")
    parser.add_argument("--tail-index", type=float, default=1.5, help="alpha in (0, 2] (default: 1.5)")
    parser.add_argument("--noise-scale", type=float, default=1.0,
                        help="epsilon for flow, gradient-noise scale sigma otherwise (default: 1)")
    parser.add_argument("--lr", type=positive_float, default=0.01, help="learning rate, > 0 (default: %(default)s)")
    parser.add_argument("--dt", type=positive_float, default=None,
                        help="time step (flow: 1e-2, sde: lr; discrete: = lr)")
    parser.add_argument("--beta1", type=unit_interval, default=0.9, help="in [0, 1) (default: %(default)s)")
    parser.add_argument("--beta2", type=unit_interval, default=0.999, help="in [0, 1) (default: %(default)s)")
    parser.add_argument("--eps", type=float, default=1e-8, help="(default: %(default)s)")
    parser.add_argument("--start", type=float_list, default=None, help="start point (default: the minimum)")
    parser.add_argument("--paths", type=positive_count, default=None,
                        help=f"independent paths per optimizer (default: {PATHS_DEFAULT})")
    parser.add_argument("--max-steps", type=positive_count, default=None,
                        help=f"step budget per path (default: {MAX_STEPS_DEFAULT})")
    parser.add_argument("--warmup", type=count, default=None,
                        help="steps before the clock starts (paths that leave restart) (default: 0)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="(default: %(default)s)")
    add_progress_argument(parser)
    add_resume_argument(parser)
    add_run_arguments(parser, OUT_DEFAULT)


PATHS_DEFAULT, MAX_STEPS_DEFAULT = 2000, 2000
# The main tensors per path and dimension: position, momentum (noisy and clean), v, v_max, the
# gradient, the noise sampler's buffers, plus the per-path exit bookkeeping; 8 bytes each at worst.
BYTES_PER_PATH_DIM, BYTES_PER_PATH = 8 * 24, 8 * 8
STEP_S, PATH_STEP_S = 5e-5, 2e-8  # measured per step and per path x step, one CPU core


def config_from_args(args):
    from simulations.escape.experiment import EscapeConfig
    from simulations.escape.problems import Basin
    from simulations.runtime import resolve_device

    with usage_errors():
        return _config_from_args(args, EscapeConfig, Basin, resolve_device)


def _config_from_args(args, EscapeConfig, Basin, resolve_device):
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
        start=tuple(args.start) if args.start else None,
        paths=PATHS_DEFAULT if args.paths is None else args.paths,
        max_steps=MAX_STEPS_DEFAULT if args.max_steps is None else args.max_steps,
        warmup=0 if args.warmup is None else args.warmup, seed=args.seed, device=str(resolve_device(args.device)), dtype=args.dtype,
        subject=args.subject, baseline=args.baseline)


def _check_size(config) -> None:
    """Refuse a run that cannot fit in memory; say the time when it is long (estimates, before work)."""
    dims = len(config.basin.curvature)
    methods = 1 if config.dynamics == "flow" else len(config.optimizers)
    memory = config.paths * (BYTES_PER_PATH_DIM * dims + BYTES_PER_PATH)
    seconds = methods * config.max_steps * (STEP_S + PATH_STEP_S * config.paths * dims)
    check_budget("escape", memory, "--paths", seconds, device=config.device)


def run(args) -> int:
    from simulations.checkpoints import UnitStore
    from simulations.escape import experiment, figures

    out = check_out_dir(args.out)
    progress = progress_enabled(args)
    if args.preset:
        given = [f"--{name.replace('_', '-')}" for name in ("paths", "max_steps", "warmup")
                 if getattr(args, name) is not None]
        if given:
            raise UsageError(f"{', '.join(given)}: not used with --preset (the preset's sizes come from --scale "
                             f"smoke|quick|full); drop them, or run one configuration without --preset")
        names = experiment.PRESETS if args.preset == "all" else (args.preset,)
        hashed = {"presets": list(names), "scale": args.scale, "seed": args.seed, "subject": args.subject,
                  "baseline": args.baseline, "device": args.device}
        with usage_errors():
            units = UnitStore(out / "checkpoints" / "escape", hashed, resume=args.resume)
        record = experiment.run_named(names, args.scale, args.device, progress, args.seed, args.subject,
                                      args.baseline, device_label=args.device, units=units)
    else:
        config = config_from_args(args)
        _check_size(config)
        with usage_errors():
            units = UnitStore(out / "checkpoints" / "escape", config, resume=args.resume)
        record = experiment.run_single(config, progress=progress, units=units)
    paths = figures.write_outputs(record, out)
    for line in experiment.summary_lines(record):
        print(line)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
