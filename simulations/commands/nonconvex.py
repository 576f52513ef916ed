"""``amlab nonconvex``: gradient-norm decay of the family against Theorem 2 and Corollary 2."""
from __future__ import annotations

import argparse
from pathlib import Path

from simulations.commands._common import add_optimizer_arguments, add_run_arguments, pyplot
from simulations.records import save_figure_atomic, write_json_atomic

HELP = "min_t E||grad f||^2 against T on nonconvex problems, with Theorem 2's bound and its hypotheses"
OUT_DEFAULT = "amlab-out/nonconvex"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from simulations.nonconvex_problems import PROBLEMS

    parser.add_argument("--problem", default="robust-regression", choices=PROBLEMS,
                        help="test problem (default: robust-regression)")
    add_optimizer_arguments(parser, default=",".join(
        ("sgdm", "rmsprop", "adam", "adamw", "amsgrad", "adabelief", "adamomentum", "adamomentum-max")))
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
                        help="run the standard presets instead (ignores the options above)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_run_arguments(parser, OUT_DEFAULT)


def run(args: argparse.Namespace) -> int:
    from simulations import nonconvex

    progress = not args.no_progress
    if args.preset:
        record = nonconvex.run_scale(args.preset, device=args.device, progress=progress)
    else:
        config = nonconvex.NonconvexConfig(
            problem=args.problem, optimizers=tuple(args.optimizers), lr=args.lr, beta1=args.beta1,
            beta2=args.beta2, eps=args.eps, steps=args.steps, seeds=args.seeds, seed=args.seed,
            lr_decay=args.lr_decay, bias_correction=args.bias_correction, dtype=args.dtype)
        record = nonconvex.run_config(config, device=args.device, progress=progress)
    paths = write_outputs(record, Path(args.out))
    for row in nonconvex.ledger_rows(record):
        print(f"{row['claim']}: {row['verdict']}\n  {row['evidence']}")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


# ---- figures --------------------------------------------------------------------------------



def _decay_figure(run: dict):
    import numpy as np

    from simulations.nonconvex_verdicts import envelope

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    ax = axes[0]
    for name, m in run["members"].items():
        T = np.asarray(m["T"])
        y = np.asarray(m["min_mean_grad_sq"], dtype=float)
        lo, hi = (np.asarray(b, dtype=float) for b in m["min_mean_grad_sq_ci"])
        line, = ax.loglog(T, y, label=name)
        ax.fill_between(T, lo, hi, color=line.get_color(), alpha=0.2)
    ref = run["members"].get("adamomentum") or next(iter(run["members"].values()))
    if ref.get("fit"):
        T = np.asarray(ref["T"], dtype=float)
        ax.loglog(T, ref["fit"]["scale_K"] * envelope(T), "k--", label="K (1 + log T)/sqrt(T)")
    ax.set_xlabel("T")
    ax.set_ylabel("min_{t<=T} E||grad f(theta_t)||^2")
    ax.set_title(f"{run['problem']}: decay (95% bands over seeds)")
    ax.legend(fontsize=7)
    ax = axes[1]
    for name in ("adamomentum", "adamomentum-max"):
        m = run["members"].get(name)
        if not m or "rhs" not in m:
            continue
        T = np.asarray(m["T"])
        line, = ax.loglog(T, np.asarray(m["min_mean_grad_sq"], dtype=float), label=f"{name}: measured")
        ax.loglog(T, np.asarray(m["rhs"]["theorem-2"]["floor"], dtype=float), ":", color=line.get_color(),
                  label=f"{name}: RHS floor H_low (f(x1) - min f)/(T a_T)")
        ax.loglog(T, np.asarray(m["rhs"]["theorem-2"]["rhs"], dtype=float), "--", color=line.get_color(),
                  label=f"{name}: Theorem 2 RHS")
        if m["T_valid"] < T[-1]:
            ax.axvline(m["T_valid"], color=line.get_color(), lw=0.8)
    ax.set_xlabel("T (vertical line: first hypothesis violation)")
    ax.set_title("Theorem 2's right-hand side vs measured")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _monitor_figure(run: dict):
    import numpy as np

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, m in run["members"].items():
        ax.semilogx(np.asarray(m["T"]), m["stepsize_rise_fraction"], label=name)
    ax.set_xlabel("t (averaged over the steps since the previous grid point)")
    ax.set_ylabel("fraction of (run, coord) with alpha_t/sqrt(v_t) rising")
    ax.set_title(f"{run['problem']}: Theorem 2's monotone-stepsize hypothesis")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _defossez_figure(run: dict):
    import numpy as np

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, m in run["members"].items():
        d = m.get("defossez") or {}
        if not d.get("applies"):
            continue
        ax.loglog(d["N"], np.asarray(d["measured"], dtype=float), label=f"{name}: E||grad F(x_tau)||^2")
        ax.loglog(d["N"], np.asarray(d["bound"], dtype=float), "--", label="Defossez et al. bound")
    ax.set_xlabel("N")
    ax.set_title(f"{run['problem']}: Adam vs Defossez et al. (TMLR 2022)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _calibration_figure(run: dict):
    import numpy as np

    plt = pyplot()
    m = run["members"]["sgdm"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    T = np.asarray(m["T"])
    lo, hi = (np.asarray(b, dtype=float) for b in m["mean_grad_sq_ci"])
    ax.fill_between(T, lo, hi, alpha=0.3, label="Monte Carlo 95% CI")
    ax.loglog(T, np.asarray(m["closed_form"]["expected_grad_sq"], dtype=float), "k-", label="closed form")
    ax.loglog(T, T ** -0.5 * m["closed_form"]["expected_grad_sq"][-1] * T[-1] ** 0.5, "k:", label="t^-1/2")
    ax.set_xlabel("t")
    ax.set_ylabel("E||grad f(theta_t)||^2")
    ax.set_title("Calibration: SGD, alpha/sqrt(t), quadratic with noise")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write_outputs(record: dict, out: Path) -> list[Path]:
    """Write ``<out>/nonconvex.json`` and the figures; return the paths written."""
    out = Path(out)
    paths = [write_json_atomic(out / "nonconvex.json", record)]
    plt = pyplot()
    for run in record["results"]["runs"]:
        config = run.get("config") or {}
        name = run["problem"]
        figures = []
        if config.get("stepsize", "paper") == "defossez":
            figures.append((f"nonconvex_defossez_{name}.png", _defossez_figure(run)))
        elif "closed_form" in run["members"].get("sgdm", {}):
            figures.append(("nonconvex_calibration.png", _calibration_figure(run)))
        else:
            figures.append((f"nonconvex_decay_{name}.png", _decay_figure(run)))
            figures.append((f"nonconvex_monitors_{name}.png", _monitor_figure(run)))
        for filename, fig in figures:
            paths.append(save_figure_atomic(fig, out / filename, dpi=110))
            plt.close(fig)
    return paths
