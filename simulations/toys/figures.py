"""Every figure of the toys experiment, and :func:`write_outputs` (the record and its figures).

* ``toys_<function>.png``: contours of the function and each optimizer's trajectory from the one
  illustrative start (an illustration, not evidence);
* ``toys_steps.png``: mean min(steps to optimum, T) and the reach proportion per function x
  optimizer, with their intervals (the evidence);
* ``stepsize_figure1.png``: Figure 1's loss with areas A, B, C, the effective stepsize and |m|/|g|
  of the subject and the baseline along the first approach (a series a rule has no read-out for
  is left out).
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from simulations.records import pyplot
from simulations.records import save_figure_atomic, write_json_atomic
from simulations.toys.problems import value_grid, well_value

# Registry members keep their colours across figures; any other method takes matplotlib's next one.
COLORS = {"sgdm": "tab:gray", "rmsprop": "tab:green", "adam": "tab:blue", "adabelief": "tab:orange",
          "adamomentum": "tab:red", "adamw": "tab:cyan", "amsgrad": "tab:purple", "adamomentum-max": "tab:pink"}
# Trajectories that coincide (Adam and AdaBelief often do) stay visible: each optimizer has its own
# line style and marker shape, with markers at staggered steps.
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LEGEND_FONT = 8.5  # >= 9 pt on the page (110 dpi shown at 96 css dpi)


def _path_style(k: int, n_points: int) -> dict:
    every = max(1, n_points // 10)
    return {"ls": LINESTYLES[k % len(LINESTYLES)], "marker": MARKERS[k % len(MARKERS)], "ms": 4.5,
            "markevery": ((k * max(1, every // 5)) % every, every), "markerfacecolor": "none"}


def trajectory_figure(name: str, result: dict, out: Path) -> Path:
    plt = pyplot()
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import FuncFormatter, LogLocator
    xs, ys, values = value_grid(name, tuple(result["box"]))
    fig, ax = plt.subplots(figsize=(7.6, 5.8))
    filled = ax.contourf(xs, ys, values + 1e-3, levels=np.geomspace(values.min() + 1e-3, values.max() + 1e-3, 30),
                         norm=LogNorm(), cmap="Greys", alpha=0.6)
    bar = fig.colorbar(filled, ax=ax, fraction=0.05, pad=0.02, ticks=LogLocator(base=10, subs=(1.0, 3.0)),
                       format=FuncFormatter(lambda v, _: f"{v:.3g}"))
    bar.ax.minorticks_off()
    bar.set_label(f"{result['label']} value f(x1, x2) + 0.001 (log colour scale)", fontsize=9)
    for k, (opt, res) in enumerate(result["optimizers"].items()):
        path = np.array(res["showcase_path"], dtype=np.float64)
        path = path[np.all(np.isfinite(path), axis=1)]
        hit = res["showcase_hit"]
        label = f"{opt} (lr {res['lr']:g}, {'reached at step ' + str(hit) if hit >= 0 else 'not reached'})"
        ax.plot(path[:, 0], path[:, 1], lw=1.3, color=COLORS.get(opt, f"C{k % 10}"), label=label, alpha=0.9,
                **_path_style(k, len(path)))
    ax.plot(*result["optimum"], "x", color="purple", ms=12, mew=3, ls="none", label="optimum")
    ax.plot(*result["showcase_start"], "o", color="black", ms=6, ls="none", label="start")
    x_lo, x_hi, y_lo, y_hi = result["box"]
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_xlabel("x1 (first coordinate, unitless)")
    ax.set_ylabel("x2 (second coordinate, unitless)")
    ax.set_title(f"{result['label']}: trajectories from one start ({result['verdict']} over all starts)", fontsize=10)
    ax.legend(fontsize=LEGEND_FONT, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    path = save_figure_atomic(fig, out / f"toys_{name}.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def steps_figure(record: dict, out: Path) -> Path:
    plt = pyplot()
    functions = record["results"]["toys"]["functions"]
    names = list(functions)
    opts = list(next(iter(functions.values()))["optimizers"])
    fig, axes = plt.subplots(1, 2, figsize=(10.2, 4.4))
    width = 0.8 / len(opts)
    for j, opt in enumerate(opts):
        pos = np.arange(len(names)) + (j - (len(opts) - 1) / 2) * width
        rm = [functions[n]["optimizers"][opt]["restricted_mean_steps"] for n in names]
        rp = [functions[n]["optimizers"][opt]["reach_proportion"] for n in names]
        color = COLORS.get(opt, f"C{j % 10}")  # one colour per optimizer in both panels
        for ax, data in ((axes[0], rm), (axes[1], rp)):
            est = np.array([d["estimate"] for d in data], dtype=float)
            err = np.array([[d["estimate"] - d["low"], d["high"] - d["estimate"]] for d in data], dtype=float).T
            err = np.clip(err, 0.0, None)  # an interval bound one ulp inside the estimate (e.g. 1 - 1e-16) is 0 long
            ax.bar(pos, est, width, yerr=np.nan_to_num(err), capsize=2, color=color, label=opt)
    steps = record["config"]["toys"]["steps"]
    axes[0].set_ylabel(f"mean min(steps to optimum, T={steps}), iterations")
    axes[0].set_title("steps to reach the optimum (95% CI; lower is faster)", fontsize=10)
    axes[1].set_ylabel("fraction of starts that reach (0 to 1)")
    axes[1].set_title("reach proportion (Wilson 95% CI)", fontsize=10)
    for ax in axes:
        # wrapped: at the page's width "Three-Hump Camel" would run into its neighbour
        ax.set_xticks(np.arange(len(names)), [textwrap.fill(functions[n]["label"], 11) for n in names])
        ax.set_xlabel("test function (Figure 2)")
    axes[0].legend(fontsize=9)
    path = save_figure_atomic(fig, out / "toys_steps.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _shade_areas(axes, geo: dict, plateau_slope: float, lo: float) -> None:
    xs = np.linspace(lo, 0.6, 800)
    axes[0].plot(xs, well_value(xs, 1.0, plateau_slope), "k-")
    axes[0].set_ylabel("loss f(x), unitless")
    for ax in axes:
        for (area, (a, b)), color in zip(geo["areas"].items(), ("#fde0c5", "#c6e2ff", "#d5f5d5")):
            ax.axvspan(a, b, color=color, alpha=0.6, lw=0)
        ax.axvline(geo["x_min"], color="purple", lw=0.8, ls=":")
    for area, (a, b) in geo["areas"].items():
        axes[0].text((a + b) / 2, 0.1, area, transform=axes[0].get_xaxis_transform(), ha="center",
                     fontsize=12, weight="bold")


def _stepsize_curves(axes, curves: dict) -> None:
    for j, (name, curve) in enumerate(curves.items()):
        x = np.array(curve["x_before"])
        arrive = curve["arrival_step"]
        mask = np.array(curve["t"]) <= (arrive if arrive > 0 else np.inf)  # first approach only
        color = COLORS.get(name, f"C{j}")
        if curve["eta"] is not None:
            axes[1].semilogy(x[mask], np.array(curve["eta"])[mask], MARKERS[j % len(MARKERS)],
                             ls=LINESTYLES[j % len(LINESTYLES)], ms=3, markevery=(j * 3 % 12, 12),
                             markerfacecolor="none", lw=1.2, color=color, label=name)
        if curve["m"] is not None:
            ratio = np.abs(np.array(curve["m"])) / np.maximum(np.abs(np.array(curve["g"])), 1e-300)
            axes[2].semilogy(x[mask], ratio[mask], MARKERS[j % len(MARKERS)], ls=LINESTYLES[j % len(LINESTYLES)],
                             ms=3, markevery=(j * 3 % 12, 12), markerfacecolor="none", lw=1.2, color=color,
                             label=name)


def stepsize_figure(results: dict, out: Path) -> Path:
    plt = pyplot()
    case = results["showcase"]["case"]
    curves = results["showcase"]["curves"]
    fig, axes = plt.subplots(3, 1, figsize=(8, 9), sharex=True)
    lo = min(min(c["x_before"]) for c in curves.values())
    _shade_areas(axes, results["geometry"], results["config"]["plateau_slope"], lo)
    _stepsize_curves(axes, curves)
    axes[1].set_ylabel("effective stepsize a_t/((1-b1^t) denom)\n(x per unit gradient)")
    axes[2].set_ylabel("|m_t| / |g_t| (ratio)")
    axes[2].axhline(1.0, color="k", lw=0.6, label="|m| = |g|")
    axes[2].set_xlabel("position x (start of the step), unitless")
    for ax in axes[1:]:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=9)
    summary = results["decision"]["summary"]
    axes[0].set_title(f"Figure 1 check (lr {case['lr']}, beta2 {case['beta2']}, eps {case['eps']:g});\n"
                      f"over the cases that resolve each area: "
                      + ", ".join(f"{k} {summary[k]['verdict']} ({summary[k]['true_in']}/{summary[k]['of']})"
                                  for k in "ABC"), fontsize=10)
    path = save_figure_atomic(fig, out / "stepsize_figure1.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def write_outputs(record: dict, out: Path) -> list[Path]:
    """Write ``<out>/toys.json`` and the figures; return the paths written."""
    out = Path(out)
    paths = [write_json_atomic(out / "toys.json", record)]
    functions = record["results"]["toys"]["functions"]
    for name, result in functions.items():
        paths.append(trajectory_figure(name, result, out))
    paths.append(steps_figure(record, out))
    if record["results"].get("stepsize") is not None:
        paths.append(stepsize_figure(record["results"]["stepsize"], out))
    return paths
