"""Every output file of the regret experiment: the record, its figures, search and replay outputs.

Per preset (``cli`` for a command-line run): R(T) and Theorem 1's bound against sqrt(T), and the
average regret R(T)/T against T. Every line is in the legend (the bounds too); coinciding curves stay
visible through per-curve marker shapes at staggered positions. matplotlib is loaded only when a
figure is drawn.
"""
from __future__ import annotations

import re
from pathlib import Path

from simulations.records import pyplot
from simulations.records import save_figure_atomic, write_json_atomic
from simulations.regret.problems import ProblemConfig


def write_outputs(record: dict, out: Path) -> list[Path]:
    """``<out>/regret.json`` and the figures: R(T) and the bound vs sqrt(T); R(T)/T vs T."""
    out = Path(out)
    paths = [write_json_atomic(out / "regret.json", record)]
    groups: dict[str, list[dict]] = {}
    for s in record["results"]["summaries"]:
        groups.setdefault(s.get("preset", "cli"), []).append(s)
    for name, group in groups.items():
        paths.append(_figure_vs_sqrt_t(group, out, name))
        paths.append(_figure_average(group, out, name))
    return paths


def file_stem(name: str) -> str:
    """A method's name as a file-name part (``torch.optim:NAdam:momentum_decay=0.004`` has colons)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "rule"


def write_search_outputs(record: dict, out: Path) -> list[Path]:
    """``<out>/regret-search.json`` and one replayable file per confirmed counterexample."""
    out = Path(out)
    paths = [write_json_atomic(out / "regret-search.json", record)]
    for k, cex in enumerate(record["results"]["counterexamples"]):
        paths.append(write_json_atomic(out / "counterexamples" / f"{file_stem(cex['member'])}-{k:03d}.json", cex))
    return paths


def write_replay_output(record: dict, out: Path, stem: str) -> Path:
    """``<out>/replay-<stem>.json``."""
    return write_json_atomic(Path(out) / f"replay-{stem}.json", record)


def _drift(problem: dict) -> float | None:
    r = ProblemConfig(**problem).drift_rate
    return r if r is not None and r > 0 else None


def _label(s: dict) -> str:
    bc = ", bias-corr." if s["bias_correction"] else ""
    return f"{s['member']} (lr {s['optimizer']['lr']:g}{bc})"


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LEGEND_FONT = 8.5  # >= 9 pt on the page (figures are shown at 110 dpi / 96 css dpi, unscaled)


def _style(k: int, n_points: int) -> dict:
    """Line k's marker, spaced so that two coinciding curves still show both: each curve puts its
    markers at a different offset (markevery=(k, every)), and each has its own marker shape."""
    every = max(1, n_points // 8)
    return {"marker": MARKERS[k % len(MARKERS)], "markevery": (k % every, every), "ms": 5,
            "markerfacecolor": "none", "markeredgewidth": 1.2}


def _log_ticks(axis) -> None:
    """Plain decimal tick labels (1, 2, 5, 10, ...) instead of overlapping 3x10^0 4x10^0 minors."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _legend_below(ax) -> None:
    """The legend under the axes: it names every line, bounds included, and hides no data."""
    ax.legend(fontsize=LEGEND_FONT, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=1, frameon=False)


def _figure_vs_sqrt_t(group: list[dict], out: Path, name: str) -> Path:
    import numpy as np

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    for k, s in enumerate(group):
        color = f"C{k % 10}"
        T = np.asarray(s["checkpoints"], dtype=float)
        R = np.asarray(s["regret_mean_curve"], dtype=float)
        pos = R > 0
        ax.loglog(np.sqrt(T[pos]), R[pos], "-", color=color, label=f"R(T), {_label(s)}", **_style(k, len(T)))
        if "theorem1" in s:
            rhs = np.asarray([float(x) for x in s["theorem1"]["rhs_mean_curve"]], dtype=float)
            fin = np.isfinite(rhs) & (rhs > 0)
            ax.loglog(np.sqrt(T[fin]), rhs[fin], "--", color=color, alpha=0.8,
                      label=f"Theorem 1 RHS (dashed), {_label(s)}", **_style(k, len(T)))
    T = np.asarray(group[0]["checkpoints"], dtype=float)
    end = max(abs(float(s["regret_mean_curve"][-1])) for s in group) or 1.0
    ax.loglog(np.sqrt(T), end * np.sqrt(T / T[-1]), ":", color="k", label="reference c sqrt(T) (slope 1 here)")
    ax.loglog(np.sqrt(T), end * T / T[-1], "-.", color="grey", label="reference c T (slope 2: linear regret)")
    _log_ticks(ax.xaxis)
    ax.set_xlabel("sqrt(T), T = number of rounds (log scale)", fontsize=10)
    ax.set_ylabel("regret R(T), loss units (log scale)", fontsize=10)
    ax.set_title(f"{name}: R(T) (solid) and Theorem 1's bound (dashed), means over seeds", fontsize=10)
    _legend_below(ax)
    path = save_figure_atomic(fig, out / f"regret-{name}-vs-sqrtT.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _figure_average(group: list[dict], out: Path, name: str) -> Path:
    import numpy as np

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    for k, s in enumerate(group):
        T = np.asarray(s["checkpoints"], dtype=float)
        avg = np.asarray(s["avg_regret_mean_curve"], dtype=float)
        pos = avg > 0
        ax.loglog(T[pos], avg[pos], color=f"C{k % 10}", label=f"R(T)/T, {_label(s)}", **_style(k, len(T)))
    T = np.asarray(group[0]["checkpoints"], dtype=float)
    end = max(float(s["avg_regret_mean_curve"][-1]) for s in group)
    if end > 0:
        ax.loglog(T, end * np.sqrt(T[-1] / T), ":", color="k", label="reference c / sqrt(T) (Corollary 1's rate)")
    drift = _drift(group[0]["problem"])
    if drift:
        ax.axhline(drift, color="grey", ls="--", lw=0.8, label="drift r: floor of R/T if x stays >= 0")
    ax.set_xlabel("T, number of rounds (log scale)", fontsize=10)
    ax.set_ylabel("average regret R(T)/T, loss per round (log scale)", fontsize=10)
    ax.set_title(f"{name}: average regret (positive values; means over seeds)", fontsize=10)
    _legend_below(ax)
    path = save_figure_atomic(fig, out / f"regret-{name}-average.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
