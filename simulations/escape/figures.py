"""The escape experiment's figures: ``write_outputs(record, out)`` writes ``<out>/escape.json`` and
``<out>/escape.png`` (one run: E Gamma per optimizer and the mean R trace; the named experiments:
the time-step bias, Lemma 1's exponent, Proposition 1's ratio, E Gamma against alpha)."""
from __future__ import annotations

from pathlib import Path

from simulations.records import pyplot
from simulations.escape.summary import display_name
from simulations.escape.verdicts import comparison
from simulations.records import save_figure_atomic, write_json_atomic

GETOOR_ALPHAS = (1.2, 1.5, 1.8, 2.0)  # one colour each in the time-step bias panel
# The page shows figures unscaled up to ~1150 px: at 110 dpi, 10.4 in wide and fonts >= 8 pt
# (9.2 pt at 96 css dpi).
LEGEND_FONT = 8.5
MARKERS = ("o", "s", "^", "D", "v", "P")


def write_outputs(record: dict, out: Path) -> list[Path]:
    """Write ``<out>/escape.json`` and ``<out>/escape.png``; returns the paths written."""
    plt = pyplot()
    out = Path(out)
    paths = [write_json_atomic(out / "escape.json", record)]
    res = record["results"]
    fig = _plot_single(plt, res) if "results" in res else _plot_presets(plt, res, *comparison(record))
    paths.append(save_figure_atomic(fig, out / "escape.png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
    return paths


def _plain_log_ticks(axis) -> None:
    """Decimal tick labels on a log axis (1, 2, 5, ...; no overlapping 3x10^-1 minor labels)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _err(m):
    return [[max(m["estimate"] - m["low"], 0)], [max(m["high"] - m["estimate"], 0)]]


def _plot_single(plt, res):
    fig, ax = plt.subplots(1, 2, figsize=(10.4, 4.4))
    predicted = False
    for i, (label, r) in enumerate(res["results"].items()):
        m = r["mean_escape_time"]
        if m["estimate"] is not None:
            ax[0].errorbar([i], [m["estimate"]], yerr=_err(m), fmt="o", capsize=4, label=f"{label}: measured")
        else:
            ax[0].plot([i], [m["low"]], "^", label=f"{label}: lower bound (none escaped)")
        pred = (r.get("prediction") or {}).get("value")
        if pred:
            ax[0].plot([i], [pred], "x", ms=9, color="k", label=None if predicted else "prediction")
            predicted = True
        trace = r.get("monitor_trace")
        if trace and trace.get("r_mean") is not None:
            ax[1].plot(trace["steps"], trace["r_mean"], label=label, ls=("-", "--", "-.", ":")[i % 4],
                       marker=MARKERS[i % len(MARKERS)], markevery=(i, max(1, len(trace["steps"]) // 8)),
                       markerfacecolor="none")
    ax[0].set_xticks(range(len(res["results"])), list(res["results"]))
    ax[0].set_yscale("log")
    ax[0].set_xlabel("optimizer")
    ax[0].set_ylabel("mean escape time E Gamma, steps (95% CI)")
    ax[0].legend(fontsize=LEGEND_FONT)
    ax[1].set_xlabel("step (iterations)")
    ax[1].set_ylabel("mean R = sqrt(v_hat) over alive paths\n(gradient units)")
    ax[1].set_yscale("log")
    if res["results"] and any((r.get("monitor_trace") or {}).get("r_mean") for r in res["results"].values()):
        ax[1].legend(fontsize=LEGEND_FONT)
    fig.tight_layout()
    return fig


def _plot_presets(plt, res, subject: str, baseline: str):
    fig, axes = plt.subplots(2, 2, figsize=(10.2, 9.6))
    if "getoor" in res:
        _getoor_panel(axes[0, 0], res["getoor"])
    if "lemma1" in res and res["lemma1"].get("runs"):
        _lemma1_panel(axes[0, 1], res["lemma1"])
    elif "lemma1" in res:  # the sde runs could not be made for this pair: say why
        reasons = sorted(set(res["lemma1"].get("skipped", {}).values())) or ["no runs"]
        axes[0, 1].text(0.5, 0.5, "Lemma 1 (sde) not run:\n" + "\n".join(reasons), ha="center", va="center",
                        wrap=True, fontsize=9, transform=axes[0, 1].transAxes)
        axes[0, 1].set_axis_off()
    if "prop1" in res:
        _prop1_panel(axes[1, 0], res["prop1"], subject, baseline)
    if "alpha" in res:
        _alpha_panel(axes[1, 1], res["alpha"], subject, baseline)
    fig.tight_layout()
    return fig


def _getoor_panel(ax, getoor: dict) -> None:
    for row in getoor["summary"]["bias_table"]:
        colour = GETOOR_ALPHAS.index(row["alpha"]) if row["alpha"] in GETOOR_ALPHAS else 4
        ax.errorbar([row["dt"]], [row["bias"]], yerr=[[row["bias"] - row["bias_low"]], [row["bias_high"] - row["bias"]]],
                    fmt="o", capsize=3, label=f"alpha={row['alpha']}", color=f"C{colour}")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xscale("log")
    ax.set_xlabel("time step dt (sde time units)")
    ax.set_ylabel("relative bias: measured / Getoor exact - 1")
    ax.set_title("time-step bias (flow, no drift; 0 = unbiased)", fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(dict(zip(labels, handles)).values(), dict(zip(labels, handles)).keys(), fontsize=LEGEND_FONT)


def _lemma1_panel(ax, lemma: dict) -> None:
    for i, label in enumerate(lemma["summary"]["fits"]):
        colour, marker = f"C{i}", MARKERS[i % len(MARKERS)]
        for run in lemma["runs"]:
            m = run["results"][label]["mean_escape_time"]
            if m["estimate"] is not None:
                ups = run["config"].get("noise_coefficient") or run["config"]["lr"] ** (
                    1 - 1 / run["config"]["tail_index"])
                ax.errorbar([ups], [m["estimate"]], yerr=_err(m), fmt=marker, capsize=3, color=colour)
        fit = lemma["summary"]["fits"][label]
        if fit and fit.get("slope") is not None:
            interval = (f"[{fit['low']:.2f}, {fit['high']:.2f}]" if fit.get("low") is not None
                        else "(no interval: too few points)")
            ax.plot([], [], marker, color=colour, label=f"{label}: slope {fit['slope']:.2f} {interval}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_ticks(ax.xaxis)
    ax.set_xlabel("upsilon, noise coefficient of eq. (3) (unitless; lr, dt fixed)")
    ax.set_ylabel("mean escape time E Gamma (sde time units)")
    ax.set_title("Lemma 1: log-log slope +1 as stated (IP: -alpha)", fontsize=10)
    ax.legend(fontsize=LEGEND_FONT)


def _prop1_panel(ax, prop: dict, subject: str, baseline: str) -> None:
    table = prop["summary"].get("table", [])
    for i, row in enumerate(table):
        r = row["ratio"]
        colour = "C2" if row["assumptions_hold"] else "C3"
        if r and r.get("estimate") is not None:
            ax.errorbar([r["estimate"]], [i], xerr=[[r["estimate"] - r["low"]], [r["high"] - r["estimate"]]],
                        fmt="o", capsize=3, color=colour)
        elif r:
            ax.plot([r["high"]], [i], "<", color=colour)
    ax.axvline(1.0, color="k", lw=0.8, ls="--", label="Proposition 1's bound: ratio >= 1")
    ax.errorbar([], [], xerr=[], fmt="o", color="C2", label="ratio, 95% CI: assumptions hold")
    ax.errorbar([], [], xerr=[], fmt="o", color="C3", label="ratio, 95% CI: assumptions violated")
    ax.plot([], [], "<", color="grey", ls="none", label="upper bound (subject never escaped)")
    ax.set_yticks(range(len(table)), [row["key"] for row in table], fontsize=8)
    ax.set_ylabel("case (dynamics:basin/regime)")
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis)
    ax.set_xlabel(f"E Gamma({display_name(subject)}) / E Gamma({display_name(baseline)})\n"
                  "(ratio of mean escape times, unitless)")
    ax.set_title("Proposition 1: ratio per case", fontsize=10)
    ax.legend(fontsize=LEGEND_FONT, loc="best")


def _alpha_panel(ax, alpha: dict, subject: str, baseline: str) -> None:
    colours = {"flow": "C0", baseline: "C1"}  # the subject (and anything else): C2
    seen = set()
    for row in alpha["summary"]["table"]:
        for k, v in row["measured"].items():
            colour = colours.get(k, "C2")
            if v is not None:
                ax.plot([row["alpha"]], [v], "o", color=colour,
                        label=None if (k, "m") in seen else f"{k}: measured")
                seen.add((k, "m"))
            p = row["predicted"].get(k)
            if p:
                ax.plot([row["alpha"]], [p], "x", ms=8, mew=1.5, color=colour,
                        label=None if (k, "p") in seen else f"{k}: predicted")
                seen.add((k, "p"))
    ax.set_yscale("log")
    ax.set_xlabel("tail index alpha of the Levy noise (unitless)")
    ax.set_ylabel("mean escape time E Gamma (time units of the run)")
    ax.set_title("escape time against alpha (o measured, x predicted)", fontsize=10)
    if seen:
        ax.legend(fontsize=LEGEND_FONT)
