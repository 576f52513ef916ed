"""Interactive versions of the regret and escape plots for the report: self-contained inline SVG.

Every data point carries a ``<title>`` (the browser shows it as a tooltip on hover), so the page
needs no JavaScript, no plotting library and no external asset. Log axes use decade ticks.
:func:`charts_for` returns the charts of one experiment's record (an empty list for the others).
"""
from __future__ import annotations

import html
import math

WIDTH, HEIGHT = 720, 420
MARGIN = {"left": 78, "right": 16, "top": 34, "bottom": 54}
LEGEND_ROW = 17
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
DASHES = {"solid": "", "dashed": "7 4", "dotted": "2 3", "dashdot": "7 3 2 3"}


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


class _Axis:
    """Maps data to pixels on a linear or log axis and names its ticks."""

    def __init__(self, values: list[float], log: bool, start: float, end: float):
        self.log = log
        vals = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
        if not vals:
            vals = [1.0]
        lo, hi = min(vals), max(vals)
        if log:
            lo, hi = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
            hi = hi if hi > lo else lo + 1
        else:
            pad = (hi - lo) * 0.05 or abs(hi) * 0.1 or 1.0
            lo, hi = lo - pad, hi + pad
        self.lo, self.hi, self.start, self.end = lo, hi, start, end

    def usable(self, v: float) -> bool:
        return math.isfinite(v) and (v > 0 or not self.log)

    def __call__(self, v: float) -> float:
        u = math.log10(v) if self.log else v
        return self.start + (u - self.lo) / (self.hi - self.lo) * (self.end - self.start)

    def ticks(self) -> list[tuple[float, str]]:
        if self.log:
            step = max(1, math.ceil((self.hi - self.lo) / 8))
            return [(10.0 ** k, f"1e{k}" if abs(k) > 2 else _fmt(10.0 ** k))
                    for k in range(int(self.lo), int(self.hi) + 1, step)]
        raw = (self.hi - self.lo) / 6
        mag = 10 ** math.floor(math.log10(raw))
        step = min((m * mag for m in (1, 2, 5, 10) if m * mag >= raw), default=raw)
        first = math.ceil(self.lo / step) * step
        return [(first + k * step, _fmt(first + k * step)) for k in range(int((self.hi - first) / step) + 1)]


def chart(title: str, xlabel: str, ylabel: str, series: list[dict], logx: bool = False, logy: bool = False) -> str:
    """One chart. Each series: ``label``, ``x``, ``y`` (lists), optional ``style`` (solid, dashed,
    dotted, dashdot), ``color``, ``points`` (draw point markers, default True), ``line`` (default
    True), ``tips`` (one tooltip per point; default "label: x, y")."""
    legend_h = LEGEND_ROW * len(series) + 6
    height = HEIGHT + legend_h
    plot_b = HEIGHT - MARGIN["bottom"]
    xs = _Axis([v for s in series for v in s["x"]], logx, MARGIN["left"], WIDTH - MARGIN["right"])
    ys = _Axis([v for s in series for v in s["y"]], logy, plot_b, MARGIN["top"])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
             f'height="{height}" font-family="sans-serif" font-size="13" role="img" aria-label="{_e(title)}">',
             f"<title>{_e(title)}</title>",
             f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="14">{_e(title)}</text>',
             f'<rect x="{MARGIN["left"]}" y="{MARGIN["top"]}" width="{WIDTH - MARGIN["left"] - MARGIN["right"]}" '
             f'height="{plot_b - MARGIN["top"]}" fill="none" stroke="#888"/>']
    for value, text in xs.ticks():
        px = xs(value)
        parts.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{MARGIN["top"]}" y2="{plot_b}" stroke="#eee"/>'
                     f'<text x="{px:.1f}" y="{plot_b + 17}" text-anchor="middle" font-size="12">{_e(text)}</text>')
    for value, text in ys.ticks():
        py = ys(value)
        parts.append(f'<line x1="{MARGIN["left"]}" x2="{WIDTH - MARGIN["right"]}" y1="{py:.1f}" y2="{py:.1f}" '
                     f'stroke="#eee"/><text x="{MARGIN["left"] - 6}" y="{py + 4:.1f}" text-anchor="end" '
                     f'font-size="12">{_e(text)}</text>')
    parts.append(f'<text x="{(MARGIN["left"] + WIDTH - MARGIN["right"]) / 2}" y="{plot_b + 40}" '
                 f'text-anchor="middle">{_e(xlabel)}</text>'
                 f'<text transform="translate(18 {(MARGIN["top"] + plot_b) / 2}) rotate(-90)" '
                 f'text-anchor="middle">{_e(ylabel)}</text>')
    for k, s in enumerate(series):
        color = s.get("color") or PALETTE[k % len(PALETTE)]
        dash = DASHES[s.get("style", "solid")]
        pts = [(x, y, i) for i, (x, y) in enumerate(zip(s["x"], s["y"])) if xs.usable(x) and ys.usable(y)]
        group = [f'<g class="series"><title>{_e(s["label"])}</title>']
        if s.get("line", True) and len(pts) > 1:
            coords = " ".join(f"{xs(x):.1f},{ys(y):.1f}" for x, y, _ in pts)
            group.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.8"'
                         + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        if s.get("points", True):
            tips = s.get("tips")
            for x, y, i in pts:
                tip = tips[i] if tips else f"{s['label']}: {_fmt(x)}, {_fmt(y)}"
                group.append(f'<circle cx="{xs(x):.1f}" cy="{ys(y):.1f}" r="3.2" fill="{color}">'
                             f"<title>{_e(tip)}</title></circle>")
        group.append("</g>")
        parts += group
        ly = HEIGHT + LEGEND_ROW * k + 4
        parts.append(f'<line x1="{MARGIN["left"]}" x2="{MARGIN["left"] + 30}" y1="{ly}" y2="{ly}" stroke="{color}" '
                     f'stroke-width="2"' + (f' stroke-dasharray="{dash}"' if dash else "") + "/>"
                     f'<text x="{MARGIN["left"] + 38}" y="{ly + 4}" font-size="12">{_e(s["label"])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def regret_charts(record: dict) -> list[str]:
    """Per preset: R(T) of each method and Theorem 1's right-hand side (dashed), against T."""
    groups: dict[str, list[dict]] = {}
    for s in record["results"]["summaries"]:
        groups.setdefault(s.get("preset", "cli"), []).append(s)
    charts = []
    for name, group in groups.items():
        series = []
        for k, s in enumerate(group):
            color = PALETTE[k % len(PALETTE)]
            label = f"{s['member']} (lr {s['optimizer']['lr']:g}{', bias-corr.' if s['bias_correction'] else ''})"
            T = [float(t) for t in s["checkpoints"]]
            R = [float(r) for r in s["regret_mean_curve"]]
            series.append({"label": f"R(T) {label}", "x": T, "y": R, "color": color,
                           "tips": [f"{label}: T={t:g}, R(T)={r:.4g}, R(T)/T={r / t:.3g}" for t, r in zip(T, R)]})
            if "theorem1" in s:
                rhs = [float(x) for x in s["theorem1"]["rhs_mean_curve"]]
                series.append({"label": f"Theorem 1 RHS {label}", "x": T, "y": rhs, "color": color,
                               "style": "dashed", "tips": [f"Theorem 1 RHS, {label}: T={t:g}, RHS={v:.4g}"
                                                           for t, v in zip(T, rhs)]})
        charts.append(chart(f"{name}: mean regret R(T) and Theorem 1's bound", "T (rounds)",
                            "regret (log scale)", series, logx=True, logy=True))
    return charts


def escape_charts(record: dict) -> list[str]:
    """Proposition 1's ratio per case, and E Gamma against alpha (measured and predicted)."""
    res = record["results"]
    charts = []
    prop = (res.get("prop1") or {}).get("summary", {}).get("table", [])
    if prop:
        series = {True: {"label": "ratio, assumptions hold", "x": [], "y": [], "tips": [], "line": False,
                         "color": PALETTE[2]},
                  False: {"label": "ratio, assumptions violated", "x": [], "y": [], "tips": [], "line": False,
                          "color": PALETTE[3]}}
        for i, row in enumerate(prop):
            r = row.get("ratio") or {}
            value = r.get("estimate") if r.get("estimate") is not None else r.get("high")
            if value is None:
                continue
            s = series[bool(row.get("assumptions_hold"))]
            kind = "estimate" if r.get("estimate") is not None else "upper bound (none escaped)"
            interval = (f", 95% CI [{r['low']:.3g}, {r['high']:.3g}]" if r.get("estimate") is not None
                        and r.get("low") is not None else "")
            s["x"].append(float(i + 1))
            s["y"].append(float(value))
            s["tips"].append(f"case {i + 1} {row['key']}: {kind} {value:.3g}{interval}")
        used = [s for s in series.values() if s["x"]]
        if used:
            used.append({"label": "Proposition 1 predicts >= 1", "x": [0.5, len(prop) + 0.5], "y": [1.0, 1.0],
                         "style": "dotted", "color": "#000", "points": False})
            charts.append(chart("Proposition 1: E Gamma(subject) / E Gamma(baseline) per case (hover: case)",
                                "case number (hover a point for its name)", "ratio of mean escape times",
                                used, logy=True))
    alpha = (res.get("alpha") or {}).get("summary", {}).get("table", [])
    if alpha:
        by_method: dict[str, dict] = {}
        colours: dict[str, str] = {}  # measured and predicted of one method share a colour
        for row in alpha:
            for kind, style in (("measured", "solid"), ("predicted", "dashed")):
                for method, value in (row.get(kind) or {}).items():
                    if value is None:
                        continue
                    s = by_method.setdefault(f"{method} {kind}", {"label": f"{method}: {kind}", "x": [], "y": [],
                                                                  "tips": [], "style": style,
                                                                  "color": colours.setdefault(
                                                                      method, PALETTE[len(colours) % 10])})
                    s["x"].append(float(row["alpha"]))
                    s["y"].append(float(value))
                    s["tips"].append(f"{method} {kind}: alpha={row['alpha']}, E Gamma={value:.4g}")
        if by_method:
            charts.append(chart("mean escape time against the tail index", "tail index alpha",
                                "E Gamma (time units of the run)", list(by_method.values()), logy=True))
    return charts


def charts_for(name: str, record: dict) -> list[str]:
    """The interactive charts of one experiment's record."""
    if name == "regret":
        return regret_charts(record)
    if name == "escape":
        return escape_charts(record)
    return []
