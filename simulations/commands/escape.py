"""``amlab escape``: Levy-driven escape times (flow, eq. (3) SDE, discrete optimizer), or a named preset."""
from __future__ import annotations

import argparse
from pathlib import Path

from simulations.commands._common import add_optimizer_arguments, add_run_arguments, float_list, pyplot

HELP = "Levy-driven escape times from a basin (Lemma 1, Proposition 1): flow, sde (eq. 3) or discrete"
OUT_DEFAULT = "amlab-out/escape"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from simulations.escape import PRESETS

    parser.add_argument("--preset", choices=PRESETS + ("all",), default=None,
                        help="run a named experiment instead of one configuration (all: every preset)")
    parser.add_argument("--scale", choices=("quick", "full"), default="quick", help="preset scale (default: quick)")
    parser.add_argument("--dynamics", choices=("flow", "sde", "discrete"), default="discrete")
    add_optimizer_arguments(parser)
    parser.add_argument("--basin", choices=("quadratic", "asymmetric", "none"), default="quadratic")
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
    from simulations.escape_model import Basin, EscapeConfig
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
    basin = Basin(args.basin, tuple(args.curvature), tuple(width))
    return EscapeConfig(
        dynamics=args.dynamics, optimizers=tuple(args.optimizers), basin=basin, tail_index=args.tail_index,
        noise_scale=args.noise_scale, lr=args.lr, dt=args.dt, beta1=args.beta1, beta2=args.beta2, eps=args.eps,
        start=tuple(args.start) if args.start else None, paths=args.paths, max_steps=args.max_steps,
        warmup=args.warmup, seed=args.seed, device=str(resolve_device(args.device)), dtype=args.dtype)


def run(args) -> int:
    from simulations import escape
    from simulations.escape_run import run_config
    from simulations.records import make_record

    progress = not args.no_progress
    if args.preset:
        names = escape.PRESETS if args.preset == "all" else (args.preset,)
        results = escape.run_presets(names, args.scale, args.device, progress, args.seed)
        record = make_record("escape", {"scale": args.scale, "presets": list(names), "device": args.device},
                             results, seed=args.seed)
    else:
        config = config_from_args(args)
        record = make_record("escape", config, run_config(config, progress=progress), seed=args.seed)
    paths = write_outputs(record, Path(args.out))
    for line in _summary_lines(record):
        print(line)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _g(value) -> str:
    """Four significant digits; None prints as "n/a" (no estimate), inf as "inf"."""
    if value is None:
        return "n/a"
    return f"{value:.4g}" if isinstance(value, (int, float)) else str(value)


def _summary_lines(record: dict) -> list[str]:
    res = record["results"]
    if "results" in res:  # one configuration
        lines = []
        for label, r in res["results"].items():
            m = r["mean_escape_time"]
            pred = (r.get("prediction") or {}).get("value")
            rm = m["restricted_mean"]
            lines.append(f"{label}: E Gamma = {_g(m['estimate'])} [{_g(m['low'])}, {_g(m['high'])}] "
                         f"({m['method']}), E min(Gamma, T) = {_g(rm['estimate'])} [{_g(rm['low'])}, "
                         f"{_g(rm['high'])}], escaped {m['escaped']}/{m['paths']}, predicted {_g(pred)}")
        for key, name in (("ratio_adamomentum_over_adam", "E Gamma"),
                          ("restricted_ratio_adamomentum_over_adam", "E min(Gamma, T)")):
            r = res.get(key)
            if r:
                lines.append(f"{name}(adamomentum)/{name}(adam) = {_g(r['estimate'])} [{_g(r['low'])}, "
                             f"{_g(r['high'])}]")
        return lines
    from simulations.escape import ledger_rows

    return [f"{row['claim']}: {row['verdict']} -- {row['evidence']}" for row in ledger_rows(record)]


def write_outputs(record: dict, out: Path) -> list[Path]:
    """Write ``<out>/escape.json`` and ``<out>/escape.png``; returns the paths written."""
    plt = pyplot()

    from simulations.records import save_figure_atomic, write_json_atomic

    out = Path(out)
    paths = [write_json_atomic(out / "escape.json", record)]
    res = record["results"]
    if "results" in res:
        fig = _plot_single(plt, res)
    else:
        fig = _plot_presets(plt, res)
    paths.append(save_figure_atomic(fig, out / "escape.png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
    return paths


def _err(m):
    return [[max(m["estimate"] - m["low"], 0)], [max(m["high"] - m["estimate"], 0)]]


def _plot_single(plt, res):
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, (label, r) in enumerate(res["results"].items()):
        m = r["mean_escape_time"]
        if m["estimate"] is not None:
            ax[0].errorbar([i], [m["estimate"]], yerr=_err(m), fmt="o", capsize=4, label=f"{label} measured")
        else:
            ax[0].plot([i], [m["low"]], "^", label=f"{label}: lower bound (none escaped)")
        pred = (r.get("prediction") or {}).get("value")
        if pred:
            ax[0].plot([i], [pred], "x", ms=9, color="k")
        trace = r.get("monitor_trace")
        if trace:
            ax[1].plot(trace["steps"], trace["r_mean"], label=label)
    ax[0].set_xticks(range(len(res["results"])), list(res["results"]))
    ax[0].set_yscale("log")
    ax[0].set_ylabel("mean escape time (95% CI); x = prediction")
    ax[0].legend(fontsize=7)
    ax[1].set_xlabel("step")
    ax[1].set_ylabel("mean R = sqrt(v_hat) over alive paths")
    ax[1].set_yscale("log")
    if res["results"] and any(r.get("monitor_trace") for r in res["results"].values()):
        ax[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def _plot_presets(plt, res):
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    if "getoor" in res:
        ax = axes[0, 0]
        for row in res["getoor"]["summary"]["bias_table"]:
            ax.errorbar([row["dt"]], [row["bias"]], yerr=[[row["bias"] - row["bias_low"]], [row["bias_high"] - row["bias"]]],
                        fmt="o", capsize=3, label=f"alpha={row['alpha']}",
                        color=f"C{[1.2, 1.5, 1.8, 2.0].index(row['alpha']) if row['alpha'] in (1.2, 1.5, 1.8, 2.0) else 4}")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xscale("log")
        ax.set_xlabel("dt")
        ax.set_ylabel("measured / Getoor exact - 1")
        ax.set_title("time-step bias (flow, no drift)", fontsize=9)
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(dict(zip(labels, handles)).values(), dict(zip(labels, handles)).keys(), fontsize=7)
    if "lemma1" in res:
        ax = axes[0, 1]
        for label in res["lemma1"]["summary"]["fits"]:
            xs, ms = [], []
            for run in res["lemma1"]["runs"]:
                m = run["results"][label]["mean_escape_time"]
                if m["estimate"] is not None:
                    ups = run["config"].get("noise_coefficient") or run["config"]["lr"] ** (
                        1 - 1 / run["config"]["tail_index"])
                    ax.errorbar([ups], [m["estimate"]], yerr=_err(m), fmt="o", capsize=3,
                                color="C0" if label == "adam" else "C1")
            fit = res["lemma1"]["summary"]["fits"][label]
            if fit and fit.get("slope") is not None:
                interval = (f"[{fit['low']:.2f}, {fit['high']:.2f}]" if fit.get("low") is not None
                            else "(no interval: too few points)")
                ax.plot([], [], "o", color="C0" if label == "adam" else "C1",
                        label=f"{label}: slope {fit['slope']:.2f} {interval}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("upsilon (noise coefficient of eq. (3); lr, dt fixed)")
        ax.set_ylabel("E Gamma (sde time)")
        ax.set_title("Lemma 1: predicted slope +1 (as stated), IP: -alpha", fontsize=9)
        ax.legend(fontsize=7)
    if "prop1" in res:
        ax = axes[1, 0]
        table = res["prop1"]["summary"]["table"]
        for i, row in enumerate(table):
            r = row["ratio"]
            color = "C2" if row["assumptions_hold"] else "C3"
            if r and r.get("estimate") is not None:
                ax.errorbar([r["estimate"]], [i], xerr=[[r["estimate"] - r["low"]], [r["high"] - r["estimate"]]],
                            fmt="o", capsize=3, color=color)
            elif r:
                ax.plot([r["high"]], [i], "<", color=color)
        ax.axvline(1.0, color="k", lw=0.8)
        ax.set_yticks(range(len(table)), [row["key"] for row in table], fontsize=7)
        ax.set_xscale("log")
        ax.set_xlabel("E Gamma(AdaMomentum) / E Gamma(Adam), 95% CI (< : upper bound)")
        ax.set_title("Proposition 1 predicts >= 1 (red: assumptions violated)", fontsize=9)
    if "alpha" in res:
        ax = axes[1, 1]
        for row in res["alpha"]["summary"]["table"]:
            for k, v in row["measured"].items():
                if v is not None:
                    ax.plot([row["alpha"]], [v], "o", color={"flow": "C0", "adam": "C1"}.get(k, "C2"))
                p = row["predicted"].get(k)
                if p:
                    ax.plot([row["alpha"]], [p], "x", color={"flow": "C0", "adam": "C1"}.get(k, "C2"))
        ax.set_yscale("log")
        ax.set_xlabel("tail index alpha")
        ax.set_ylabel("E Gamma (o measured, x predicted)")
        ax.set_title("escape time vs alpha (flow: C0, adam: C1, adamomentum: C2)", fontsize=9)
    fig.tight_layout()
    return fig
