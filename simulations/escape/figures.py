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
        if trace and trace.get("r_mean") is not None:
            ax[1].plot(trace["steps"], trace["r_mean"], label=label)
    ax[0].set_xticks(range(len(res["results"])), list(res["results"]))
    ax[0].set_yscale("log")
    ax[0].set_ylabel("mean escape time (95% CI); x = prediction")
    ax[0].legend(fontsize=7)
    ax[1].set_xlabel("step")
    ax[1].set_ylabel("mean R = sqrt(v_hat) over alive paths")
    ax[1].set_yscale("log")
    if res["results"] and any((r.get("monitor_trace") or {}).get("r_mean") for r in res["results"].values()):
        ax[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def _plot_presets(plt, res, subject: str, baseline: str):
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    if "getoor" in res:
        _getoor_panel(axes[0, 0], res["getoor"])
    if "lemma1" in res and res["lemma1"].get("runs"):
        _lemma1_panel(axes[0, 1], res["lemma1"])
    elif "lemma1" in res:  # the sde runs could not be made for this pair: say why
        reasons = sorted(set(res["lemma1"].get("skipped", {}).values())) or ["no runs"]
        axes[0, 1].text(0.5, 0.5, "Lemma 1 (sde) not run:\n" + "\n".join(reasons), ha="center", va="center",
                        wrap=True, fontsize=8, transform=axes[0, 1].transAxes)
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
    ax.set_xlabel("dt")
    ax.set_ylabel("measured / Getoor exact - 1")
    ax.set_title("time-step bias (flow, no drift)", fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(dict(zip(labels, handles)).values(), dict(zip(labels, handles)).keys(), fontsize=7)


def _lemma1_panel(ax, lemma: dict) -> None:
    for i, label in enumerate(lemma["summary"]["fits"]):
        colour = f"C{i}"
        for run in lemma["runs"]:
            m = run["results"][label]["mean_escape_time"]
            if m["estimate"] is not None:
                ups = run["config"].get("noise_coefficient") or run["config"]["lr"] ** (
                    1 - 1 / run["config"]["tail_index"])
                ax.errorbar([ups], [m["estimate"]], yerr=_err(m), fmt="o", capsize=3, color=colour)
        fit = lemma["summary"]["fits"][label]
        if fit and fit.get("slope") is not None:
            interval = (f"[{fit['low']:.2f}, {fit['high']:.2f}]" if fit.get("low") is not None
                        else "(no interval: too few points)")
            ax.plot([], [], "o", color=colour, label=f"{label}: slope {fit['slope']:.2f} {interval}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("upsilon (noise coefficient of eq. (3); lr, dt fixed)")
    ax.set_ylabel("E Gamma (sde time)")
    ax.set_title("Lemma 1: predicted slope +1 (as stated), IP: -alpha", fontsize=9)
    ax.legend(fontsize=7)


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
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks(range(len(table)), [row["key"] for row in table], fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel(f"E Gamma({display_name(subject)}) / E Gamma({display_name(baseline)}), 95% CI "
                  "(< : upper bound)")
    ax.set_title("Proposition 1 predicts >= 1 (red: assumptions violated)", fontsize=9)


def _alpha_panel(ax, alpha: dict, subject: str, baseline: str) -> None:
    colours = {"flow": "C0", baseline: "C1"}  # the subject (and anything else): C2
    for row in alpha["summary"]["table"]:
        for k, v in row["measured"].items():
            if v is not None:
                ax.plot([row["alpha"]], [v], "o", color=colours.get(k, "C2"))
            p = row["predicted"].get(k)
            if p:
                ax.plot([row["alpha"]], [p], "x", color=colours.get(k, "C2"))
    ax.set_yscale("log")
    ax.set_xlabel("tail index alpha")
    ax.set_ylabel("E Gamma (o measured, x predicted)")
    ax.set_title(f"escape time vs alpha (flow: C0, {baseline}: C1, {subject}: C2)", fontsize=9)
