"""Figures of the nonconvex experiment: decay against T with Theorem 2's right-hand side, the
monotone-stepsize monitor, Defossez et al.'s Adam bound and the SGD calibration run."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from simulations.records import pyplot
from simulations.nonconvex.summary import envelope
from simulations.nonconvex.verdicts import MAX_VARIANT, subject_and_baseline
from simulations.records import save_figure_atomic, write_json_atomic


def _legend(ax, empty: str) -> None:
    """The legend, or a note saying why the axes are empty."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes, fontsize=8)


def _decay_panel(ax, run: dict, subject: str) -> None:
    for name, m in run["members"].items():
        T = np.asarray(m["T"])
        y = np.asarray(m["min_mean_grad_sq"], dtype=float)
        lo, hi = (np.asarray(b, dtype=float) for b in m["min_mean_grad_sq_ci"])
        line, = ax.loglog(T, y, label=name)
        ax.fill_between(T, lo, hi, color=line.get_color(), alpha=0.2)
    ref = run["members"].get(subject) or next(iter(run["members"].values()))
    if ref.get("fit"):
        T = np.asarray(ref["T"], dtype=float)
        ax.loglog(T, ref["fit"]["scale_K"] * envelope(T), "k--", label="K (1 + log T)/sqrt(T)")
    ax.set_xlabel("T")
    ax.set_ylabel("min_{t<=T} E||grad f(theta_t)||^2")
    ax.set_title(f"{run['problem']}: decay (95% bands over seeds)")
    ax.legend(fontsize=7)


def _rhs_panel(ax, run: dict, subject: str) -> None:
    for name in dict.fromkeys((subject, MAX_VARIANT)):
        m = run["members"].get(name)
        if not m or "rhs" not in m:
            continue
        T = np.asarray(m["T"])
        line, = ax.loglog(T, np.asarray(m["min_mean_grad_sq"], dtype=float), label=f"{name}: measured")
        ax.loglog(T, np.asarray(m["rhs"]["theorem-2"]["floor"], dtype=float), ":", color=line.get_color(),
                  label=f"{name}: RHS floor H_low (f(x1) - min f)/(T a_T)")
        ax.loglog(T, np.asarray(m["rhs"]["theorem-2"]["rhs"], dtype=float), "--", color=line.get_color(),
                  label=f"{name}: Theorem 2 RHS")
        if m["T_valid"] is not None and m["T_valid"] < T[-1]:
            ax.axvline(m["T_valid"], color=line.get_color(), lw=0.8)
    ax.set_xlabel("T (vertical line: first hypothesis violation)")
    ax.set_title("Theorem 2's right-hand side vs measured")
    _legend(ax, "no rule with Theorem 2's right-hand side in this run")


def decay_figure(run: dict, subject: str):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    _decay_panel(axes[0], run, subject)
    _rhs_panel(axes[1], run, subject)
    fig.tight_layout()
    return fig


def monitor_figure(run: dict):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, m in run["members"].items():
        if m["stepsize_rise_fraction"] is None:  # no effective_stepsize read-out: not monitored
            continue
        ax.semilogx(np.asarray(m["T"]), m["stepsize_rise_fraction"], label=name)
    ax.set_xlabel("t (averaged over the steps since the previous grid point)")
    ax.set_ylabel("fraction of (run, coord) with alpha_t/sqrt(v_t) rising")
    ax.set_title(f"{run['problem']}: Theorem 2's monotone-stepsize hypothesis")
    _legend(ax, "no rule with an effective_stepsize read-out in this run")
    fig.tight_layout()
    return fig


def defossez_figure(run: dict):
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
    ax.set_xlabel("t")
    ax.set_ylabel("E||grad f(theta_t)||^2")
    ax.set_title("Calibration: SGD, alpha/sqrt(t), quadratic with noise")
    ax.legend(fontsize=8)
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
            paths.append(save_figure_atomic(fig, out / filename, dpi=110))
            plt.close(fig)
    return paths
