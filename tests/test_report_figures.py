"""Every figure the experiments write, read back as matplotlib objects: labelled axes, a legend that
names every labelled line (bound lines included), coinciding lines that stay distinguishable, a
colour bar on the toy contours, and text that is readable at the size the report shows it.

Records come from each experiment's smoke scale or a few of its presets made shorter (their numbers
decide nothing; the figures are drawn from them exactly as from a full run).
"""
from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

from simulations.escape import experiment as escape_experiment
from simulations.escape import figures as escape_figures
from simulations.nonconvex import experiment as nonconvex_experiment
from simulations.nonconvex import figures as nonconvex_figures
from simulations.regret import experiment as regret_experiment
from simulations.regret import figures as regret_figures
from simulations.toys import experiment as toys_experiment
from simulations.toys import figures as toys_figures

# The report page's content is ~1150 px wide; an image wider than that is shrunk to fit. A font of
# F points in a figure saved at d dpi is F * d / 96 CSS points at full size (96 px per CSS inch).
PAGE_PX = 1150
MIN_PT = 9.0


def _png_width(path: Path) -> int:
    with open(path, "rb") as handle:
        header = handle.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">I", header[16:20])[0]


def capture(module, monkeypatch) -> list:
    """Replace ``module.save_figure_atomic`` by one that saves and keeps (fig, path, dpi)."""
    saved = []
    real = module.save_figure_atomic

    def keep(fig, path, **kwargs):
        out = real(fig, path, **kwargs)
        saved.append((fig, Path(out), kwargs.get("dpi", fig.dpi)))
        return out
    monkeypatch.setattr(module, "save_figure_atomic", keep)
    return saved


def _is_colorbar(ax) -> bool:
    return ax.get_label() == "<colorbar>"


def _has_data(ax) -> bool:
    return bool(ax.lines or ax.collections or ax.patches or ax.images)


def _xlabel(ax) -> str:
    """The axes' x label, or that of an axes sharing its x axis (stacked panels label the bottom one)."""
    for other in [ax, *ax.get_shared_x_axes().get_siblings(ax)]:
        if other.get_xlabel().strip():
            return other.get_xlabel()
    return ""


def _legend_texts(fig, ax=None) -> set[str]:
    """The legend entries of ``ax`` or, without it, of every panel (panels may share one legend)."""
    texts = set()
    for legend in [*(a.get_legend() for a in ([ax] if ax is not None else fig.axes)), *fig.legends]:
        if legend is not None:
            texts |= {t.get_text() for t in legend.get_texts()}
    return texts


def _line_key(line):
    return (line.get_linestyle(), line.get_marker(), str(line.get_markevery()))


def _tick_boxes(axis):
    ticks = [*axis.get_majorticklabels(), *axis.get_minorticklabels()]
    return sorted((t.get_window_extent() for t in ticks if t.get_visible() and t.get_text().strip()),
                  key=lambda box: box.x0)


def check_figure(fig, path: Path, dpi: float) -> None:
    scale = min(1.0, PAGE_PX / _png_width(path)) * dpi / 96
    for text in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text")):
        if text.get_visible() and text.get_text().strip() and text.get_window_extent().width > 0:
            shown = text.get_fontsize() * scale
            assert shown >= MIN_PT, f"{path.name}: {text.get_text()!r} is {shown:.1f} pt on the page"
    for ax in fig.axes:
        if not ax.axison or not _has_data(ax):
            continue
        if _is_colorbar(ax):
            assert ax.get_ylabel().strip() or ax.get_xlabel().strip(), f"{path.name}: colour bar without a label"
            continue
        assert len(_xlabel(ax).strip()) >= 4, f"{path.name}: axes {ax.get_title()!r} has no x label"
        assert len(ax.get_ylabel().strip()) >= 4, f"{path.name}: axes {ax.get_title()!r} has no y label"
        boxes = _tick_boxes(ax.xaxis)
        for left, right in zip(boxes, boxes[1:]):
            assert left.x1 <= right.x0 + 1, f"{path.name}: x tick labels of {ax.get_title()!r} overlap"
        labelled = {line.get_label() for line in ax.lines if not line.get_label().startswith("_")}
        labelled |= {c.get_label() for c in ax.containers if not c.get_label().startswith("_")}
        missing = labelled - _legend_texts(fig)
        assert not missing, f"{path.name}: lines not in the legend: {missing}"
        curves = [line for line in ax.lines if len(line.get_xdata()) > 1 and line.get_visible()
                  and not line.get_label().startswith("_")]
        for i, a in enumerate(curves):
            for b in curves[i + 1:]:
                same = (len(a.get_xdata()) == len(b.get_xdata())
                        and list(a.get_xdata()) == list(b.get_xdata()) and list(a.get_ydata()) == list(b.get_ydata()))
                if same:
                    assert _line_key(a) != _line_key(b), \
                        f"{path.name}: {a.get_label()!r} and {b.get_label()!r} coincide and look the same"


def _check_all(saved) -> None:
    assert saved
    for fig, path, dpi in saved:
        check_figure(fig, path, dpi)


def test_toys_figures(tmp_path, monkeypatch):
    saved = capture(toys_figures, monkeypatch)
    record = toys_experiment.run_scale("smoke", device="cpu")
    toys_figures.write_outputs(record, tmp_path)
    _check_all(saved)
    trajectories = [(fig, path) for fig, path, _ in saved if path.name.startswith("toys_")
                    and path.name != "toys_steps.png"]
    assert trajectories
    for fig, path in trajectories:
        bars = [ax for ax in fig.axes if _is_colorbar(ax)]
        assert len(bars) == 1 and "log colour scale" in bars[0].get_ylabel(), path.name
        main = [ax for ax in fig.axes if not _is_colorbar(ax)][0]
        assert main.get_xlabel().startswith("x1") and main.get_ylabel().startswith("x2")


def test_escape_figure(tmp_path, monkeypatch):
    saved = capture(escape_figures, monkeypatch)
    record = escape_experiment.run_scale("smoke", device="cpu")
    escape_figures.write_outputs(record, tmp_path)
    _check_all(saved)
    (fig, path, dpi), = saved
    assert _png_width(path) <= PAGE_PX  # shown unscaled: its panels are as readable as a single figure
    prop1 = [ax for ax in fig.axes if ax.get_title().startswith("Proposition 1")]
    assert prop1 and any("bound" in t for t in _legend_texts(fig, prop1[0]))  # the ratio = 1 line is named


def test_regret_figures_name_the_bound_lines_and_keep_coinciding_curves_visible(tmp_path, monkeypatch):
    saved = capture(regret_figures, monkeypatch)
    shorter = [dataclasses.replace(p, steps=200, seeds=1) for p in regret_experiment.presets("smoke")
               if p.name in ("tight", "reddi-periodic-bias-corrected")]
    record = {"results": {"summaries": [s for p in shorter for s in regret_experiment.run_preset(p, device="cpu")]}}
    regret_figures.write_outputs(record, tmp_path)
    _check_all(saved)
    bounds = 0
    for fig, path, _ in saved:
        if path.name.endswith("-vs-sqrtT.png"):
            ax = fig.axes[0]
            dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
            named = [t for t in _legend_texts(fig, ax) if t.startswith("Theorem 1 RHS")]
            assert len(dashed) == len(named), path.name  # every dashed right-hand side is in the legend
            bounds += len(named)
    assert bounds > 0  # "tight" has Theorem 1's right-hand side
    # Two methods with one curve (the smoke record's summaries, duplicated) stay distinguishable.
    summary = dict(record["results"]["summaries"][0], preset="twins")
    twin = dict(summary, member=summary["member"] + "-twin")
    saved.clear()
    regret_figures.write_outputs({"results": {"summaries": [summary, twin]}}, tmp_path / "twins")
    _check_all(saved)
    ax = saved[0][0].axes[0]
    solid = [line for line in ax.lines if line.get_label().startswith("R(T)")]
    assert len(solid) == 2 and _line_key(solid[0]) != _line_key(solid[1])


def test_nonconvex_figures(tmp_path, monkeypatch):
    saved = capture(nonconvex_figures, monkeypatch)
    # the calibration run, one run in Theorem 2's setting (both panels) and one Defossez et al. run
    keep = ("sgdm", "adam", "adamomentum", "adamomentum-max")
    configs = [dataclasses.replace(c, steps=60, seeds=2, grid_points=6,
                                   optimizers=tuple(o for o in c.optimizers if o in keep))
               for c in nonconvex_experiment.preset_configs("smoke") if c.problem in ("quadratic", "rosenbrock")]
    records = [nonconvex_experiment.run_config(c, device="cpu") for c in configs]
    record = dict(records[0], results=dict(records[0]["results"],
                                           runs=[run for r in records for run in r["results"]["runs"]]))
    nonconvex_figures.write_outputs(record, tmp_path)
    _check_all(saved)
    names = {path.name for _, path, _ in saved}
    assert {"nonconvex_calibration.png", "nonconvex_decay_rosenbrock.png", "nonconvex_monitors_rosenbrock.png",
            "nonconvex_defossez_rosenbrock.png"} <= names
