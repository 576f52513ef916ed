"""``amlab regret``: online regret against sqrt(T), Theorem 1 / Corollary 1, counterexample search."""
from __future__ import annotations

import argparse
from pathlib import Path

from simulations.commands._common import add_optimizer_arguments, add_run_arguments, pyplot
from simulations.records import make_record, read_json, save_figure_atomic, write_json_atomic

HELP = "online regret vs sqrt(T) with Theorem 1's bound and its hypothesis monitors; --search, --replay"
OUT_DEFAULT = "amlab-out/regret"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from simulations.regret_problems import PROBLEMS

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
    add_optimizer_arguments(parser, default="adam,amsgrad,adamomentum,adamomentum-max")
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
    parser.add_argument("--search", action="store_true", help="run the counterexample search instead")
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
    _validate(args)
    from simulations.regret import Preset, reddi_reproduction, run_preset
    from simulations.regret_core import OptimizerConfig
    from simulations.regret_problems import ProblemConfig

    prob = args.prob = PROB_DEFAULTS[args.problem] if args.prob is None else args.prob
    problem = ProblemConfig(args.problem, period=args.period, big=args.big, small=args.small, prob=prob,
                            dim=args.dim, power=args.power, drift=args.drift, dense=args.dense)
    preset = Preset("cli", problem, tuple(args.optimizers),
                    (OptimizerConfig(lr=args.lr, beta1=args.beta1, beta2=args.beta2, eps=args.eps),),
                    args.steps, args.seeds, args.beta1_decay, args.bias_correction)
    summaries = run_preset(preset, args.device, args.dtype, progress, seed=args.seed)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if not k.startswith("_")}
    results = {"summaries": summaries}
    if args.problem == "periodic":
        results["reddi"] = reddi_reproduction([dict(s, preset="reddi-periodic") for s in summaries])
    record = make_record("regret", config, results, seed=args.seed)
    for path in write_outputs(record, out):
        print(path)
    for s in summaries:
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
    return text


def _run_search(args, out: Path, progress: bool) -> int:
    from simulations.regret_search import SEARCH_SIZES, search

    sizes = dict(SEARCH_SIZES[args.search_scale])
    result = search(seed=args.seed, bias_correction=args.bias_correction, device=args.device, dtype=args.dtype,
                    progress=progress, **sizes)
    record = make_record("regret-search", {"scale": args.search_scale, **sizes}, result, seed=args.seed)
    path = write_json_atomic(out / "regret-search.json", record)
    print(path)
    for k, cex in enumerate(result["counterexamples"]):
        print(write_json_atomic(out / "counterexamples" / f"{cex['member']}-{k:03d}.json", cex))
    for member, tally in result["per_member"].items():
        print(f"{member:>16}: tried {tally['tried']}, candidates {tally['candidates']}, confirmed {tally['confirmed']}")
    return 0


def _run_replay(args, out: Path, progress: bool) -> int:
    from simulations.regret_search import replay

    import json

    try:
        config = read_json(args.replay)
    except FileNotFoundError:
        raise ValueError(f"--replay {args.replay}: no such file") from None
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"--replay {args.replay}: cannot read a JSON counterexample ({err})") from None
    try:
        result = replay(config, device=args.device, progress=progress)
    except ValueError as err:
        raise ValueError(f"--replay {args.replay}: {err}") from None
    record = make_record("regret-replay", config, result, seed=config.get("seed"))
    path = write_json_atomic(out / f"replay-{Path(args.replay).stem}.json", record)
    print(path)
    print(_line(result["summary"]))
    print(f"reproduced: {result['reproduced']} (numbers match at rtol {result['tolerance']:g}: "
          f"{result['numbers_match']}; non-vanishing test passed: {result['test']['passed']})")
    return 0 if result["reproduced"] else 1


def write_outputs(record: dict, out: Path) -> list[Path]:
    """``<out>/regret.json`` and the figures: R(T) and the bound vs sqrt(T); R(T)/T vs T."""
    out = Path(out)
    paths = [write_json_atomic(out / "regret.json", record)]
    summaries = record["results"]["summaries"]
    groups: dict[str, list[dict]] = {}
    for s in summaries:
        groups.setdefault(s.get("preset", "cli"), []).append(s)
    for name, group in groups.items():
        paths.extend(_figures(group, out, name))
    return paths


def _drift(problem: dict) -> float | None:
    from simulations.regret_problems import ProblemConfig

    r = ProblemConfig(**problem).drift_rate
    return r if r is not None and r > 0 else None


def _label(s: dict) -> str:
    bc = ", bias-corr." if s["bias_correction"] else ""
    return f"{s['member']} (lr {s['optimizer']['lr']:g}{bc})"


def _figures(group: list[dict], out: Path, name: str) -> list[Path]:
    import numpy as np

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for k, s in enumerate(group):
        color = f"C{k % 10}"
        T = np.asarray(s["checkpoints"], dtype=float)
        R = np.asarray(s["regret_mean_curve"], dtype=float)
        pos = R > 0
        ax.loglog(np.sqrt(T[pos]), R[pos], "-", color=color, label=f"R(T) {_label(s)}")
        if "theorem1" in s:
            rhs = np.asarray([float(x) for x in s["theorem1"]["rhs_mean_curve"]], dtype=float)
            fin = np.isfinite(rhs)
            ax.loglog(np.sqrt(T[fin]), rhs[fin], "--", color=color, alpha=0.7)
    T = np.asarray(group[0]["checkpoints"], dtype=float)
    end = max(abs(float(s["regret_mean_curve"][-1])) for s in group) or 1.0
    ax.loglog(np.sqrt(T), end * np.sqrt(T / T[-1]), ":", color="k", label="c sqrt(T) (slope 1 here)")
    ax.loglog(np.sqrt(T), end * T / T[-1], "-.", color="grey", label="c T (slope 2: linear regret)")
    ax.set_xlabel("sqrt(T)")
    ax.set_ylabel("regret (solid), Theorem 1 RHS (dashed)")
    ax.set_title(f"{name}: R(T) and Theorem 1's bound (means over seeds)", fontsize=9)
    ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    p1 = save_figure_atomic(fig, out / f"regret-{name}-vs-sqrtT.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for k, s in enumerate(group):
        T = np.asarray(s["checkpoints"], dtype=float)
        avg = np.asarray(s["avg_regret_mean_curve"], dtype=float)
        pos = avg > 0
        ax.loglog(T[pos], avg[pos], color=f"C{k % 10}", label=_label(s))
    T = np.asarray(group[0]["checkpoints"], dtype=float)
    end = max(float(s["avg_regret_mean_curve"][-1]) for s in group)
    if end > 0:
        ax.loglog(T, end * np.sqrt(T[-1] / T), ":", color="k", label="c / sqrt(T) (Corollary 1's rate)")
    drift = _drift(group[0]["problem"])
    if drift:
        ax.axhline(drift, color="grey", ls="--", lw=0.8, label="drift r: floor of R/T if x stays >= 0")
    ax.set_xlabel("T")
    ax.set_ylabel("average regret R(T)/T (positive values)")
    ax.set_title(f"{name}: average regret (means over seeds)", fontsize=9)
    ax.legend(fontsize=6)
    fig.tight_layout()
    p2 = save_figure_atomic(fig, out / f"regret-{name}-average.png", dpi=120)
    plt.close(fig)
    return [p1, p2]
