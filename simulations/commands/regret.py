"""``amlab regret``: online regret against sqrt(T), Theorem 1 / Corollary 1, counterexample search."""
from __future__ import annotations

import argparse
from pathlib import Path

from simulations.commands._common import (UsageError, add_optimizer_arguments, add_progress_argument,
                                          add_resume_argument, add_run_arguments, add_scale_argument, check_budget,
                                          check_out_dir, count, optimizer_list, positive_count, positive_float,
                                          progress_enabled, read_replay_file, unit_interval, usage_errors)

HELP = "online regret vs sqrt(T) with Theorem 1's bound and its hypothesis monitors; --search, --replay"
OUT_DEFAULT = "amlab-out/regret"
OPTIMIZERS_DEFAULT = "adam,amsgrad,adamomentum,adamomentum-max"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from simulations.regret.problems import PROBLEMS

    parser.add_argument("--problem", choices=PROBLEMS, default="periodic", help="online problem (default: %(default)s)")
    parser.add_argument("--period", type=positive_count, default=101,
                        help="periodic: big loss every PERIOD steps (default: %(default)s)")
    parser.add_argument("--big", type=float, default=1010.0,
                        help="coefficient of the rare loss big*x (default: %(default)s)")
    parser.add_argument("--small", type=float, default=10.0,
                        help="coefficient of the frequent loss -small*x (default: %(default)s)")
    parser.add_argument("--prob", type=float, default=None,
                        help="stochastic-periodic: P(big) (default 0.01); box-linear/logistic: activity of "
                             "coordinate 1 (default 0.5; a small value leaves the data almost all zero)")
    parser.add_argument("--dim", type=positive_count, default=1,
                        help="dimension d (box-linear, logistic; default: %(default)s)")
    parser.add_argument("--power", type=float, default=1.0,
                        help="power law of coordinate frequencies (default: %(default)s)")
    parser.add_argument("--drift", type=float, default=0.2,
                        help="box-linear: mean sign of active coordinates (default: %(default)s)")
    parser.add_argument("--dense", action="store_true", help="logistic: dense features (default: sparse)")
    add_optimizer_arguments(parser, default=OPTIMIZERS_DEFAULT)
    parser.set_defaults(optimizers=None)  # filled in run(): with --search, None means the scale's members
    parser.add_argument("--lr", type=positive_float, default=0.5,
                        help="alpha of alpha_t = alpha/sqrt(t), > 0 (default: %(default)s)")
    parser.add_argument("--beta1", type=unit_interval, default=0.9, help="beta1 in [0, 1) (default: %(default)s)")
    parser.add_argument("--beta2", type=unit_interval, default=0.99, help="beta2 in [0, 1) (default: %(default)s)")
    parser.add_argument("--eps", type=float, default=1e-8, help="eps >= 0 (default: %(default)s)")
    parser.add_argument("--beta1-decay", type=float, default=None,
                        help="lambda of beta1_t = beta1 lambda^t, in (0, 1] (default: no decay)")
    parser.add_argument("--bias-correction", action="store_true",
                        help="use each member's bias correction (Theorem 1 analyses the method without it)")
    parser.add_argument("--steps", type=count, default=100_000, help="horizon T, >= 10 (default: %(default)s)")
    parser.add_argument("--seeds", type=positive_count, default=1, help="seeds per optimizer (default: %(default)s)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="(default: %(default)s)")
    parser.add_argument("--search", action="store_true",
                        help="run the counterexample search instead (over --optimizers when given, else the "
                             "search scale's methods); writes OUT/counterexamples/MEMBER-NNN.json")
    add_scale_argument(parser, help="size of the counterexample search (--search)")
    parser.add_argument("--replay", type=Path, default=None, metavar="FILE",
                        help="replay a saved counterexample (a file --search wrote)")
    add_progress_argument(parser)
    add_resume_argument(parser)
    add_run_arguments(parser, OUT_DEFAULT)


PROB_DEFAULTS = {"stochastic-periodic": 0.01, "box-linear": 0.5, "logistic": 0.5, "periodic": 0.01}


# Measured on one shared CPU core (float64, 1-D periodic problem): the cost of one step of one
# method is about STEP_S plus SEED_DIM_S per seed x dimension (the batch's element-wise work).
STEP_S, SEED_DIM_S = 6e-5, 2e-8
# Memory per run (seed) and dimension: the data chunk (CHUNK steps) of losses, gradients and
# iterates plus the trackers, 8 bytes each (float64).
BYTES_PER_SEED_DIM = 8 * (4 * 1024 + 32)


def _validate(args) -> None:
    if args.steps < 10:
        raise UsageError(f"--steps must be >= 10, got {args.steps}")
    if args.eps < 0:
        raise UsageError(f"--eps must be >= 0, got {args.eps}")
    if args.beta1_decay is not None and not 0 < args.beta1_decay <= 1:
        raise UsageError(f"--beta1-decay must be in (0, 1], got {args.beta1_decay}")


def estimate(args) -> tuple[float, float]:
    """(bytes, seconds) of a single ``amlab regret`` run, from the constants above."""
    size = args.seeds * args.dim
    per_member = args.steps * (STEP_S + SEED_DIM_S * size)
    return BYTES_PER_SEED_DIM * size * (2 if args.dtype == "float64" else 1) / 2, per_member * len(args.optimizers)


def recorded_config(args) -> dict:
    """The record's config: the command's options, under the keys the records have always had."""
    skip = {"progress", "resume", "scale"}
    recorded = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                if not k.startswith("_") and k not in skip}
    recorded["search_scale"] = args.scale
    recorded["no_progress"] = not progress_enabled(args)
    return dict(sorted(recorded.items(), key=lambda kv: _KEY_ORDER.get(kv[0], len(_KEY_ORDER))))


_KEY_ORDER = {k: i for i, k in enumerate(
    ("command", "problem", "period", "big", "small", "prob", "dim", "power", "drift", "dense", "optimizers", "lr",
     "beta1", "beta2", "eps", "beta1_decay", "bias_correction", "steps", "seeds", "dtype", "search", "search_scale",
     "replay", "no_progress", "seed", "device", "out"))}


def run(args) -> int:
    out = check_out_dir(args.out)
    progress = progress_enabled(args)
    if args.replay is not None:
        return _run_replay(args, out, progress)
    if args.search:
        return _run_search(args, out, progress)
    if args.optimizers is None:
        args.optimizers = optimizer_list(OPTIMIZERS_DEFAULT)
    _validate(args)
    from simulations.checkpoints import UnitStore
    from simulations.regret import experiment
    from simulations.regret.problems import ProblemConfig
    from simulations.regret.simulate import OptimizerConfig
    from simulations.runtime import resolve_device

    prob = args.prob = PROB_DEFAULTS[args.problem] if args.prob is None else args.prob
    memory, seconds = estimate(args)
    check_budget("regret", memory, "--seeds (or --dim)", seconds, device=str(resolve_device(args.device)))
    with usage_errors():
        problem = ProblemConfig(args.problem, period=args.period, big=args.big, small=args.small, prob=prob,
                                dim=args.dim, power=args.power, drift=args.drift, dense=args.dense)
        config = experiment.RunConfig(problem, tuple(args.optimizers),
                                      OptimizerConfig(lr=args.lr, beta1=args.beta1, beta2=args.beta2, eps=args.eps),
                                      args.steps, args.seeds, args.beta1_decay, args.bias_correction, args.seed,
                                      args.device, args.dtype)
    recorded = recorded_config(args)
    with usage_errors():
        units = UnitStore(out / "checkpoints" / "regret",
                          {k: v for k, v in recorded.items() if k not in ("out", "no_progress")}
                          | {"device": str(resolve_device(args.device))}, resume=args.resume)
    record = experiment.run(config, progress, recorded_config=recorded, units=units)
    for path in experiment.write_outputs(record, out):
        print(path)
    for s in record["results"]["summaries"]:
        print(_line(s))
    return 0


def _line(s: dict) -> str:
    th = s.get("theorem1")
    text = (f"{s['member']:>16}: R(T)/T = {s['avg_regret']['estimate']:.4g} "
            f"[{s['avg_regret']['low']:.4g}, {s['avg_regret']['high']:.4g}]")
    if s["x_tail_mean"] is not None:
        text += f", x_tail = {s['x_tail_mean']['estimate']:+.3f}"
    if th:
        runs_inf = th.get("rhs_infinite_runs", 0)
        ratio = th["max_ratio_regret_to_rhs"]
        if runs_inf and runs_inf >= s["seeds"]:
            gamma_ok = s["monitors"]["gamma_below_one"]["holds"]
            text += f", RHS = inf ({'beta1 >= 1' if gamma_ok else 'gamma >= 1'}: the bound says nothing)"
        elif ratio is None:
            text += ", R/RHS: no checkpoint with 0 < RHS < inf"
        else:
            text += f", R/RHS max = {ratio:.3g}" + (f" ({runs_inf} runs with RHS = inf left out)" if runs_inf else "")
        text += f", v_t<=v_t+1 {'held' if s['monitors']['v_nondecreasing']['holds'] else 'FAILED'}"
    elif s.get("theorem1_not_applicable"):
        text += ", Theorem 1 not evaluated (bias correction: not the theorem's method)"
    elif s.get("theorem1_unchecked"):
        text += f", Theorem 1 unchecked ({s['theorem1_unchecked']})"
    return text


def _run_search(args, out: Path, progress: bool) -> int:
    from simulations.regret import experiment
    from simulations.regret.figures import write_search_outputs

    record = experiment.run_search(args.scale, args.optimizers, seed=args.seed,
                                   bias_correction=args.bias_correction, device=args.device, dtype=args.dtype,
                                   progress=progress)
    for path in write_search_outputs(record, out):
        print(path)
    for member, tally in record["results"]["per_member"].items():
        print(f"{member:>16}: tried {tally['tried']}, candidates {tally['candidates']}, confirmed {tally['confirmed']}")
    return 0


def _run_replay(args, out: Path, progress: bool) -> int:
    from simulations.regret import experiment
    from simulations.regret.figures import write_replay_output

    config = read_replay_file(args.replay, "JSON counterexample")
    try:
        record = experiment.run_replay(config, device=args.device, progress=progress)
    except ValueError as err:  # the file's content is the user's input
        raise UsageError(f"--replay {args.replay}: {err}") from None
    result = record["results"]
    print(write_replay_output(record, out, Path(args.replay).stem))
    print(_line(result["summary"]))
    print(f"reproduced: {result['reproduced']} (numbers match at rtol {result['tolerance']:g}: "
          f"{result['numbers_match']}; non-vanishing test passed: {result['test']['passed']})")
    return 0 if result["reproduced"] else 1
