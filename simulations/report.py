"""``amlab report``: run every experiment at one scale and assemble one offline HTML page.

The page (``<out>/index.html``) holds, for each experiment, its status (a failed experiment is
shown as failed, with its error), its headline table, its ledger rows and every figure it wrote
(relative links into ``<out>/<experiment>/``), then the claims ledger built by
``proofs_check.ledger``. No external CSS or JavaScript: it reads the same offline. One part that
fails (an experiment, the ledger module) is reported on the page; the rest still runs.
"""
from __future__ import annotations

import datetime as _dt
import html
import os
import time
import traceback
from pathlib import Path

from proofs_check import ledger as ledger_module
from simulations.experiments import DEFAULT_BASELINE, DEFAULT_SUBJECT, EXPERIMENTS, Outcome, run_experiment
from simulations.records import library_versions, write_json_atomic, write_text_atomic

IMAGE_SUFFIXES = {".png", ".svg", ".gif", ".jpg", ".jpeg"}
VERDICT_CLASSES = {"proved", "holds", "fails", "assumption-violated", "unsatisfiable", "unchecked"}


def load_ledger_api():
    """(symbolic_rows, build_ledger) from proofs_check.ledger (a seam the tests replace)."""
    return ledger_module.symbolic_rows, ledger_module.build_ledger


def build_claims_ledger(outcomes: list[Outcome], subject=DEFAULT_SUBJECT,
                        baseline=DEFAULT_BASELINE) -> tuple[list[dict] | None, str | None]:
    """The combined ledger, or (None, error) when building it fails."""
    try:
        symbolic_rows, build_ledger = load_ledger_api()
        rows = list(symbolic_rows(subject=subject, baseline=baseline))
        for outcome in outcomes:
            rows.extend(outcome.rows)
        missing = {o.name: o.error for o in outcomes if not o.ok}
        return list(build_ledger(rows, missing=missing, subject=subject, baseline=baseline)), None
    except Exception as err:  # the page must still be written
        return None, f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=4)}"


def run_report(out: str | os.PathLike, scale: str = "quick", device: str = "auto", progress: bool = True,
               experiments: tuple = EXPERIMENTS, subject=DEFAULT_SUBJECT, baseline=DEFAULT_BASELINE,
               sections: tuple[str, ...] = (), title: str = "adamomentum-lab report") -> dict:
    """Run ``experiments`` for ``subject`` against ``baseline`` into ``out/<name>/``, build the ledger
    and write ``out/index.html``; ``sections`` are extra HTML sections placed after the ledger
    (``amlab audit`` adds its invariant checks there)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    outcomes = []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(experiments), desc=f"amlab report --{scale}", unit="experiment")
    for name in experiments:
        if bar is not None:
            bar.set_postfix_str(name)
        outcomes.append(run_experiment(name, scale, device, progress=False, out=out / name, subject=subject,
                                       baseline=baseline))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    ledger, ledger_error = build_claims_ledger(outcomes, subject, baseline)
    meta = {"scale": scale, "device": device, "seconds": time.perf_counter() - start, "title": title,
            "subject": getattr(subject, "name", subject), "baseline": getattr(baseline, "name", baseline),
            "created": _dt.datetime.now().isoformat(timespec="seconds"), "versions": library_versions()}
    page = render_html(outcomes, ledger, ledger_error, out, meta, sections)
    index = write_text_atomic(out / "index.html", page)
    summary = {"meta": meta, "index": str(index), "ledger_error": ledger_error, "ledger": ledger,
               "experiments": {o.name: {"ok": o.ok, "error": o.error, "seconds": o.seconds,
                                        "figures": [str(p) for p in o.figures], "rows": o.rows}
                               for o in outcomes}}
    write_json_atomic(out / "report.json", summary)
    return {"index": index, "outcomes": outcomes, "ledger": ledger, "ledger_error": ledger_error}


# --- HTML -------------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;
 color:#222;line-height:1.4;padding:0 1em}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em;width:100%}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{font-weight:600;white-space:nowrap;padding:.1em .4em;border-radius:3px}
.v-proved,.v-holds{background:#d8f3dc;color:#1b5e20} .v-fails{background:#ffd6d6;color:#8b0000}
.v-assumption-violated,.v-unsatisfiable{background:#ffe8c2;color:#7a4100}
.v-unchecked{background:#eee;color:#555} .ok{color:#1b5e20;font-weight:600}
.failed{color:#8b0000;font-weight:600} pre.error{background:#fff3f3;border:1px solid #e0a0a0;padding:.6em;
 overflow-x:auto;font-size:.82em;white-space:pre-wrap}
figure{display:inline-block;margin:.5em;vertical-align:top} figure img{max-width:560px;border:1px solid #ddd}
figcaption{font-size:.8em;color:#555} .meta{color:#555;font-size:.9em}
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _verdict(verdict: str) -> str:
    cls = verdict if verdict in VERDICT_CLASSES else "unchecked"
    return f'<span class="verdict v-{cls}">{_e(verdict)}</span>'


def _table(columns: list[str], rows: list[list[str]], raw: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell if i in raw else _e(cell)}</td>" for i, cell in enumerate(row))
                   + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def rows_table(rows: list[dict]) -> str:
    return _table(["claim", "verdict", "method", "evidence"],
                  [[r.get("claim", ""), _verdict(r.get("verdict", "unchecked")), r.get("method", ""),
                    r.get("evidence", "")] for r in rows], raw={1})


def _ledger_method(entry: dict) -> str:
    if entry.get("method"):
        return str(entry["method"])
    return ", ".join(str(m) for m in entry.get("methods", []))


def _ledger_evidence(entry: dict) -> str:
    """HTML for an entry's evidence: its own string, or one line per combined source row
    (``rows`` as proofs_check.ledger.build_ledger returns them), plus the reason if unchecked."""
    parts = []
    if entry.get("evidence"):
        parts.append(_e(entry["evidence"]))
    for row in entry.get("rows", []) or []:
        parts.append(f"{_verdict(row.get('verdict', 'unchecked'))} <i>{_e(row.get('method', ''))}</i>: "
                     f"{_e(row.get('evidence', ''))}")
    if entry.get("reason"):
        parts.append(f"<i>{_e(entry['reason'])}</i>")
    return "<br>".join(parts)


def ledger_summary_table(ledger: list[dict]) -> str:
    return _table(["claim", "where", "statement", "verdict", "method"],
                  [[r.get("claim", ""), r.get("where", ""), r.get("statement", ""),
                    _verdict(r.get("verdict", "unchecked")), _ledger_method(r)] for r in ledger], raw={3})


def ledger_table(ledger: list[dict]) -> str:
    return _table(["claim", "where", "statement", "verdict", "method", "evidence"],
                  [[r.get("claim", ""), r.get("where", ""), r.get("statement", ""),
                    _verdict(r.get("verdict", "unchecked")), _ledger_method(r), _ledger_evidence(r)]
                   for r in ledger], raw={3, 5})


def headline(outcome: Outcome) -> str:
    """The experiment's own headline table (``headline_table(record)`` in its module), if any."""
    if outcome.record is None:
        return ""
    try:
        make = getattr(outcome.module, "headline_table", None)
        if make is None:
            return ""
        title, columns, rows = make(outcome.record)
        return f"<h3>{_e(title)}</h3>" + _table(columns, rows)
    except Exception as err:  # a broken headline must not hide the rest
        return f'<p class="failed">headline table failed: {_e(type(err).__name__)}: {_e(err)}</p>'


def figures_html(outcome: Outcome, out: Path) -> str:
    parts = []
    for path in outcome.figures:
        path = Path(path)
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.exists():
            continue
        rel = Path(os.path.relpath(path.resolve(), out.resolve())).as_posix()
        parts.append(f'<figure><a href="{_e(rel)}"><img src="{_e(rel)}" alt="{_e(path.stem)}" loading="eager">'
                     f"</a><figcaption>{_e(path.name)}</figcaption></figure>")
    return "".join(parts)


def experiment_section(outcome: Outcome, out: Path) -> str:
    status = ('<span class="ok">ok</span>' if outcome.ok else '<span class="failed">FAILED</span>')
    parts = [f'<section id="exp-{_e(outcome.name)}"><h2>{_e(outcome.name)}</h2>',
             f'<p>status: {status} &middot; {outcome.seconds:.1f} s</p>']
    if not outcome.ok:
        parts.append(f'<pre class="error">{_e(outcome.error)}</pre>')
    parts.append(headline(outcome))
    if outcome.rows:
        parts.append("<h3>Ledger rows from this experiment</h3>" + rows_table(outcome.rows))
    figs = figures_html(outcome, out)
    if figs:
        parts.append("<h3>Figures</h3>" + figs)
    if outcome.ok and not outcome.rows and not figs:
        parts.append("<p>This experiment produced a record but no ledger rows and no figures.</p>")
    parts.append("</section>")
    return "".join(parts)


def render_html(outcomes: list[Outcome], ledger: list[dict] | None, ledger_error: str | None, out: Path,
                meta: dict, sections: tuple[str, ...] = ()) -> str:
    out = Path(out)
    overview = _table(["experiment", "status", "seconds", "figures", "ledger rows"],
                      [[f'<a href="#exp-{_e(o.name)}">{_e(o.name)}</a>',
                        '<span class="ok">ok</span>' if o.ok else '<span class="failed">FAILED</span>',
                        f"{o.seconds:.1f}", str(len([p for p in o.figures if Path(p).suffix.lower() in IMAGE_SUFFIXES])),
                        str(len(o.rows))] for o in outcomes], raw={0, 1})
    if ledger is not None and ledger:
        counts = {}
        for row in ledger:
            counts[row.get("verdict", "unchecked")] = counts.get(row.get("verdict", "unchecked"), 0) + 1
        tally = ", ".join(f"{_verdict(v)} {n}" for v, n in sorted(counts.items()))
        ledger_html = (f"<p>{len(ledger)} claims: {tally}. The evidence behind each verdict is in the "
                       f'<a href="#ledger-evidence">full ledger</a> at the end of the page.</p>'
                       + ledger_summary_table(ledger))
        evidence_html = ('<section id="ledger-evidence"><h2>Claims ledger with evidence</h2>'
                         + ledger_table(ledger) + "</section>")
    elif ledger is not None:
        ledger_html = '<p class="failed">The ledger API returned no rows.</p>'
    else:
        rows = [r for o in outcomes for r in o.rows]
        ledger_html = (f'<p class="failed">Building the claims ledger FAILED; the rows the experiments produced '
                       f'are listed below uncombined.</p><pre class="error">{_e(ledger_error)}</pre>'
                       + (rows_table(rows) if rows else "<p>No experiment produced ledger rows.</p>"))
    if ledger is None or not ledger:
        evidence_html = ""
    versions = ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())
    title = meta.get("title", "adamomentum-lab report")
    subject, baseline = meta.get("subject", DEFAULT_SUBJECT), meta.get("baseline", DEFAULT_BASELINE)
    comparison = ("" if (subject, baseline) == (DEFAULT_SUBJECT, DEFAULT_BASELINE) else
                  f'<p class="meta">subject <b>{_e(subject)}</b> against baseline <b>{_e(baseline)}</b>: every '
                  f"measured row is about these two methods; the statements are the paper's.</p>")
    body = [f"<h1>{_e(title)}</h1>", comparison,
            f'<p class="meta">scale <b>{_e(meta.get("scale"))}</b> &middot; device {_e(meta.get("device"))} &middot; '
            f'{float(meta.get("seconds", 0.0)):.0f} s &middot; {_e(meta.get("created", ""))} &middot; {_e(versions)}</p>',
            '<p>Each experiment checks claims of "Adapting Stepsizes by Momentumized Gradients Improves '
            'Optimization and Generalization" (AdaMomentum). Verdicts: proved (symbolic), holds (numerically, on '
            'the stated cases), fails (a reproducible counterexample), assumption-violated, unsatisfiable, '
            'unchecked.</p>',
            '<section id="overview"><h2>Experiments</h2>' + overview + "</section>",
            '<section id="ledger"><h2>Claims ledger</h2>' + ledger_html + "</section>", *sections]
    body += [experiment_section(o, out) for o in outcomes]
    body.append(evidence_html)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)} ({_e(meta.get('scale'))})</title><style>{CSS}</style></head>"
            "<body>" + "\n".join(body) + "</body></html>\n")
