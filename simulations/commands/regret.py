"""``amlab regret``: online regret against sqrt(T), Theorem 1 / Corollary 1, counterexample search."""
from __future__ import annotations

import argparse
from pathlib import Path

from simulations.commands._common import add_optimizer_arguments, add_run_arguments, optimizer_list
from simulations.records import read_json

HELP = "online regret vs sqrt(T) with Theorem 1's bound and its hypothesis monitors; --search, --replay"
OUT_DEFAULT = "amlab-out/regret"
OPTIMIZERS_DEFAULT = "adam,amsgrad,adamomentum,adamomentum-max"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from simulations.regret.problems import PROBLEMS

    parser.add_argument("--problem", choices=PROBLEMS, default="periodic", help="online problem (default: periodic)")
    parser.add_argument("--period", type=int, default=101, help="periodic: big loss every PERIOD steps (default 101)")
    parser.add_argument("--big", type=float, default=1010.0, help="coefficient of the rare loss big*x (default 1010)")
    parser.add_argument("--small", type=float, default=10.0, help="coefficient of the frequent loss -small*x (default 10)")
    parser.add_argument("--prob", type=float, default=None,
                        help="stochastic-periodic: P(big) (default 0.01); box-linear/logistic: activity of "
                             "coordinate 1 (default 0.5; a small value leaves the data almost all zero)")
    parser.add_argument("--dim", type=int, default=1, help="dimension d (box-linear, logistic; default 1)")
    parser.add_argument("--power", type=float, default=1.0, help="power law of coordinate frequencies (default 1)")
    parser.add_argument("--drift", type=float, default=0.2, help="box-linear: mean sign of active coordinates")
    parser.add_argument("--dense", action="store_true", help="logistic: dense features (default sparse)")
    add_optimizer_arguments(parser, default=OPTIMIZERS_DEFAULT)
    parser.set_defaults(optimizers=None)  # filled in run(): with --search, None means the scale's members
    parser.add_argument("--lr", type=float, default=0.5, help="alpha of alpha_t = alpha/sqrt(t) (default 0.5)")
    parser.add_argument("--beta1", type=float, default=0.9, help="beta1 (default 0.9)")
    parser.add_argument("--beta2", type=float, default=0.99, help="beta2 (default 0.99)")
    parser.add_argument("--eps", type=float, default=1e-8, help="eps (default 1e-8)")
    parser.add_argument("--beta1-decay", type=float, default=None, help="lambda of beta1_t = beta1 lambda^t")
    parser.add_argument("--bias-correction", action="store_true",
                        help="use each member's bias correction (Theorem 1 analyses the method without it)")
    parser.add_argument("--steps", type=int, default=100_000, help="horizon T (default 100000)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per optimizer (default 1)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--search", action="store_true",
                        help="run the counterexample search instead (over --optimizers when given, else the "
                             "search scale's methods)")
    parser.add_argument("--search-scale", choices=("quick", "full"), default="quick",
                        help="size of the search: quick or full (default quick)")
    parser.add_argument("--replay", type=Path, default=None, metavar="FILE", help="replay a saved counterexample")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_run_arguments(parser, OUT_DEFAULT)


PROB_DEFAULTS = {"stochastic-periodic": 0.01, "box-linear": 0.5, "logistic": 0.5, "periodic": 0.01}


def _validate(args) -> None:
    if args.steps < 10:
        raise ValueError(f"--steps must be >= 10, got {args.steps}")
    if args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {args.seeds}")


def run(args) -> int:
    out = Path(args.out)
    progress = not args.no_progress
    if args.replay is not None:
        return _run_replay(args, out, progress)
    if args.search:
        return _run_search(args, out, progress)
    if args.optimizers is None:
        args.optimizers = optimizer_list(OPTIMIZERS_DEFAULT)
    _validate(args)
    from simulations.regret import experiment
    from simulations.regret.problems import ProblemConfig
    from simulations.regret.simulate import OptimizerConfig

    prob = args.prob = PROB_DEFAULTS[args.problem] if args.prob is None else args.prob
    problem = ProblemConfig(args.problem, period=args.period, big=args.big, small=args.small, prob=prob,
                            dim=args.dim, power=args.power, drift=args.drift, dense=args.dense)
    config = experiment.RunConfig(problem, tuple(args.optimizers),
                                  OptimizerConfig(lr=args.lr, beta1=args.beta1, beta2=args.beta2, eps=args.eps),
                                  args.steps, args.seeds, args.beta1_decay, args.bias_correction, args.seed,
                                  args.device, args.dtype)
    recorded = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if not k.startswith("_")}
    record = experiment.run(config, progress, recorded_config=recorded)
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

    record = experiment.run_search(args.search_scale, args.optimizers, seed=args.seed,
                                   bias_correction=args.bias_correction, device=args.device, dtype=args.dtype,
                                   progress=progress)
    for path in write_search_outputs(record, out):
        print(path)
    for member, tally in record["results"]["per_member"].items():
        print(f"{member:>16}: tried {tally['tried']}, candidates {tally['candidates']}, confirmed {tally['confirmed']}")
    return 0


def _run_replay(args, out: Path, progress: bool) -> int:
    import json

    from simulations.regret import experiment
    from simulations.regret.figures import write_replay_output

    try:
        config = read_json(args.replay)
    except FileNotFoundError:
        raise ValueError(f"--replay {args.replay}: no such file") from None
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"--replay {args.replay}: cannot read a JSON counterexample ({err})") from None
    try:
        record = experiment.run_replay(config, device=args.device, progress=progress)
    except ValueError as err:
        raise ValueError(f"--replay {args.replay}: {err}") from None
    result = record["results"]
    print(write_replay_output(record, out, Path(args.replay).stem))
    print(_line(result["summary"]))
    print(f"reproduced: {result['reproduced']} (numbers match at rtol {result['tolerance']:g}: "
          f"{result['numbers_match']}; non-vanishing test passed: {result['test']['passed']})")
    return 0 if result["reproduced"] else 1
