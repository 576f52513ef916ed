"""Figures of the nonconvex experiment: decay against T with Theorem 2's right-hand side, the
monotone-stepsize monitor, Defossez et al.'s Adam bound and the SGD calibration run."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from simulations.records import pyplot
from simulations.nonconvex.summary import envelope
from simulations.nonconvex.verdicts import MAX_VARIANT, subject_and_baseline
from simulations.records import save_figure_atomic, write_json_atomic


# Shown unscaled on the report page up to ~1150 px: 10.4 in at 110 dpi, fonts >= 8 pt (9.2 css pt).
LEGEND_FONT = 8.5
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _style(k: int, n_points: int) -> dict:
    """Curve k's line style and marker, markers at staggered points: coinciding curves stay visible."""
    every = max(1, n_points // 8)
    return {"ls": LINESTYLES[k % len(LINESTYLES)], "marker": MARKERS[k % len(MARKERS)], "ms": 4.5,
            "markevery": (k % every, every), "markerfacecolor": "none"}


def _legend(ax, empty: str, below: bool = False, ncol: int = 1) -> None:
    """The legend (under the axes when ``below``), or a note saying why the axes are empty."""
    if ax.get_legend_handles_labels()[0]:
        if below:
            ax.legend(fontsize=LEGEND_FONT, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=ncol,
                      frameon=False)
        else:
            ax.legend(fontsize=LEGEND_FONT)
    else:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes, fontsize=9)


def _decay_panel(ax, run: dict, subject: str) -> None:
    for k, (name, m) in enumerate(run["members"].items()):
        T = np.asarray(m["T"])
        y = np.asarray(m["min_mean_grad_sq"], dtype=float)
        lo, hi = (np.asarray(b, dtype=float) for b in m["min_mean_grad_sq_ci"])
        line, = ax.loglog(T, y, label=name, color=f"C{k % 10}", **_style(k, len(T)))
        ax.fill_between(T, lo, hi, color=line.get_color(), alpha=0.15)
    ref = run["members"].get(subject) or next(iter(run["members"].values()))
    if ref.get("fit"):
        T = np.asarray(ref["T"], dtype=float)
        ax.loglog(T, ref["fit"]["scale_K"] * envelope(T), "k--", label="K (1 + log T)/sqrt(T)")
    ax.set_xlabel("T, number of steps (log scale)")
    ax.set_ylabel("min_{t<=T} E||grad f(theta_t)||^2 (squared gradient units)")
    ax.set_title(f"{run['problem']}: decay (95% bands over seeds)", fontsize=10)
    _legend(ax, "no rule in this run", below=True, ncol=3)


def _rhs_panel(ax, run: dict, subject: str) -> None:
    for k, name in enumerate(dict.fromkeys((subject, MAX_VARIANT))):
        m = run["members"].get(name)
        if not m or "rhs" not in m:
            continue
        T = np.asarray(m["T"])
        marks = {"marker": MARKERS[k], "ms": 4.5, "markerfacecolor": "none",
                 "markevery": (k * max(1, len(T) // 16), max(1, len(T) // 8))}
        line, = ax.loglog(T, np.asarray(m["min_mean_grad_sq"], dtype=float), "-", color=f"C{k}",
                          label=f"{name}: measured", **marks)
        ax.loglog(T, np.asarray(m["rhs"]["theorem-2"]["floor"], dtype=float), ":", color=line.get_color(),
                  label=f"{name}: RHS floor H_low (f(x1) - min f)/(T a_T)", **marks)
        ax.loglog(T, np.asarray(m["rhs"]["theorem-2"]["rhs"], dtype=float), "--", color=line.get_color(),
                  label=f"{name}: Theorem 2 RHS", **marks)
        if m["T_valid"] is not None and m["T_valid"] < T[-1]:
            ax.axvline(m["T_valid"], color=line.get_color(), lw=0.8,
                       label=f"{name}: first hypothesis violation")
    ax.set_xlabel("T, number of steps (log scale)")
    ax.set_ylabel("min_{t<=T} E||grad f||^2 and bounds (squared gradient units)")
    ax.set_title("Theorem 2's right-hand side vs measured", fontsize=10)
    _legend(ax, "no rule with Theorem 2's right-hand side in this run", below=True)


def decay_figure(run: dict, subject: str):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10.4, 6.0))
    _decay_panel(axes[0], run, subject)
    _rhs_panel(axes[1], run, subject)
    fig.tight_layout()
    return fig


def monitor_figure(run: dict):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for k, (name, m) in enumerate(run["members"].items()):
        if m["stepsize_rise_fraction"] is None:  # no effective_stepsize read-out: not monitored
            continue
        ax.semilogx(np.asarray(m["T"]), m["stepsize_rise_fraction"], label=name, color=f"C{k % 10}",
                    **_style(k, len(m["T"])))
    ax.set_xlabel("step t (averaged over the steps since the previous grid point)")
    ax.set_ylabel("fraction of (run, coord) with\nalpha_t/sqrt(v_t) rising (0 to 1)")
    ax.set_title(f"{run['problem']}: Theorem 2's monotone-stepsize hypothesis", fontsize=10)
    _legend(ax, "no rule with an effective_stepsize read-out in this run", below=True, ncol=3)
    fig.tight_layout()
    return fig


def defossez_figure(run: dict):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for k, (name, m) in enumerate(run["members"].items()):
        d = m.get("defossez") or {}
        if not d.get("applies"):
            continue
        marks = {"marker": MARKERS[k % len(MARKERS)], "ms": 4.5, "markerfacecolor": "none",
                 "markevery": max(1, len(d["N"]) // 8)}
        ax.loglog(d["N"], np.asarray(d["measured"], dtype=float), "-", color=f"C{k % 10}",
                  label=f"{name}: E||grad F(x_tau)||^2", **marks)
        ax.loglog(d["N"], np.asarray(d["bound"], dtype=float), "--", color=f"C{k % 10}",
                  label=f"{name}: Defossez et al. bound", **marks)
    ax.set_xlabel("N, number of steps (log scale)")
    ax.set_ylabel("E||grad F(x_tau)||^2 (squared gradient units)")
    ax.set_title(f"{run['problem']}: Adam vs Defossez et al. (TMLR 2022)", fontsize=10)
    _legend(ax, "no rule to which Defossez et al.'s bound applies in this run")
    fig.tight_layout()
    return fig


def _calibrated(run: dict) -> dict | None:
    """The rule of a run that has a closed-form curve (plain SGD on the quadratic), if any."""
    return next((m for m in run["members"].values() if "closed_form" in m), None)


def calibration_figure(run: dict):
    plt = pyplot()
    m = _calibrated(run)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    T = np.asarray(m["T"])
    lo, hi = (np.asarray(b, dtype=float) for b in m["mean_grad_sq_ci"])
    ax.fill_between(T, lo, hi, alpha=0.3, label="Monte Carlo 95% CI")
    ax.loglog(T, np.asarray(m["closed_form"]["expected_grad_sq"], dtype=float), "k-", label="closed form")
    ax.loglog(T, T ** -0.5 * m["closed_form"]["expected_grad_sq"][-1] * T[-1] ** 0.5, "k:", label="t^-1/2")
    ax.set_xlabel("step t (log scale)")
    ax.set_ylabel("E||grad f(theta_t)||^2 (squared gradient units)")
    ax.set_title("Calibration: SGD, alpha/sqrt(t), quadratic with noise", fontsize=10)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def _run_figures(run: dict, subject: str) -> list[tuple[str, object]]:
    config = run.get("config") or {}
    name = run["problem"]
    if config.get("stepsize", "paper") == "defossez":
        return [(f"nonconvex_defossez_{name}.png", defossez_figure(run))]
    if _calibrated(run) is not None:
        return [("nonconvex_calibration.png", calibration_figure(run))]
    return [(f"nonconvex_decay_{name}.png", decay_figure(run, subject)),
            (f"nonconvex_monitors_{name}.png", monitor_figure(run))]


def write_outputs(record: dict, out: Path) -> list[Path]:
    """Write ``<out>/nonconvex.json`` and the figures; return the paths written."""
    out = Path(out)
    paths = [write_json_atomic(out / "nonconvex.json", record)]
    subject, _ = subject_and_baseline(record)
    plt = pyplot()
    for run in record["results"]["runs"]:
        for filename, fig in _run_figures(run, subject):
            paths.append(save_figure_atomic(fig, out / filename, dpi=110, bbox_inches="tight"))
            plt.close(fig)
    return paths
