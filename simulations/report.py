"""``amlab report``: run every experiment at one scale and assemble one offline HTML page.

The page (``<out>/index.html``) opens with the headline claims ledger built by
``proofs_check.ledger`` (one verdict per claim, anchored ``#claim-<id>``). Each experiment
section then shows its status (a failed experiment is shown as failed, with its error), its
headline table, its rows grouped as *evidence for* a claim of that ledger (each row linked to the
claim, with the headline verdict and why the row's own finding differs: a proof step, or the
ledger's combination rule), and every figure it wrote (relative links into
``<out>/<experiment>/``). The full ledger with every row's evidence ends the page. Long evidence
is folded in ``<details>`` under a one-line summary. No external CSS or JavaScript: it reads the
same offline. One part that fails (an experiment, the ledger module) is reported on the page; the
rest still runs.
"""
from __future__ import annotations

import datetime as _dt
import html
import os
import time
import traceback
from pathlib import Path

from proofs_check import ledger as ledger_module
from simulations.experiments import DEFAULT_BASELINE, DEFAULT_SUBJECT, EXPERIMENTS, Outcome
from simulations.records import library_versions, write_json_atomic, write_text_atomic
from simulations.report_evidence import needs_folding, row_role, scope, summary_line

IMAGE_SUFFIXES = {".png", ".svg", ".gif", ".jpg", ".jpeg"}
VERDICT_CLASSES = {"proved", "holds", "fails", "assumption-violated", "unsatisfiable", "not-significant", "unchecked"}


def load_ledger_api():
    """(symbolic_rows, build_ledger) from proofs_check.ledger (a seam the tests replace)."""
    return ledger_module.symbolic_rows, ledger_module.build_ledger


def symbolic_part(subject=DEFAULT_SUBJECT, baseline=DEFAULT_BASELINE) -> tuple[list[dict] | None, str | None]:
    """The rows of the symbolic and numeric checks, or (None, error) when computing them fails."""
    try:
        symbolic_rows, _ = load_ledger_api()
        return list(symbolic_rows(subject=subject, baseline=baseline)), None
    except Exception as err:  # the page must still be written
        return None, f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=4)}"


def build_claims_ledger(outcomes: list[Outcome], symbolic: tuple, subject=DEFAULT_SUBJECT,
                        baseline=DEFAULT_BASELINE) -> tuple[list[dict] | None, str | None]:
    """The combined ledger, or (None, error) when building it fails. ``symbolic``: what
    :func:`symbolic_part` returned."""
    rows, error = symbolic
    if error is not None:
        return None, error
    try:
        _, build_ledger = load_ledger_api()
        rows = list(rows)
        for outcome in outcomes:
            rows.extend(outcome.rows)
        missing = {o.name: o.error for o in outcomes if not o.ok}
        return list(build_ledger(rows, missing=missing, subject=subject, baseline=baseline)), None
    except Exception as err:  # the page must still be written
        return None, f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=4)}"


def run_report(out: str | os.PathLike, scale: str = "quick", device: str = "auto", progress: bool = True,
               experiments: tuple = EXPERIMENTS, subject=DEFAULT_SUBJECT, baseline=DEFAULT_BASELINE,
               sections: tuple[str, ...] = (), title: str = "adamomentum-lab report", resume: bool = False,
               checkpoints: str | None = "report", jobs: int = 1) -> dict:
    """Run ``experiments`` for ``subject`` against ``baseline`` into ``out/<name>/``, build the ledger
    and write ``out/index.html``; ``sections`` are extra HTML sections placed after the ledger
    (``amlab audit`` adds its invariant checks there). Each finished experiment is a checkpointed unit
    under ``out/checkpoints/<checkpoints>/`` (None: no checkpoints); ``resume`` reads them back. ``jobs``
    > 1 runs the experiments in that many processes (:func:`simulations.experiments.run_experiment_units`)."""
    from simulations.checkpoints import NO_CHECKPOINTS, UnitStore
    from simulations.experiments import run_experiment_units

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    label = (lambda x: getattr(x, "name", x))
    store = NO_CHECKPOINTS if checkpoints is None else UnitStore(
        out / "checkpoints" / checkpoints, {"scale": scale, "device": device, "subject": label(subject),
                                           "baseline": label(baseline), "experiments": list(experiments)},
        resume=resume)
    start = time.perf_counter()
    bar = None

    def done(outcome) -> None:
        if bar is not None:
            bar.set_postfix_str(outcome.name)
            bar.update(1)

    symbolic = []

    def meanwhile() -> None:  # in this process, while the workers run the experiments
        nonlocal bar
        if progress:  # made once the workers are started: tqdm's monitor thread must not be forked
            from tqdm import tqdm
            bar = tqdm(total=len(experiments), desc=f"amlab report --{scale}", unit="experiment")
        symbolic.append(symbolic_part(subject, baseline))

    outcomes = run_experiment_units(store, experiments, jobs=jobs, out_dir=out, on_done=done, scale=scale,
                                    device=device, progress=False, subject=subject, baseline=baseline,
                                    meanwhile=meanwhile)
    if bar is not None:
        bar.close()
    ledger, ledger_error = build_claims_ledger(outcomes, symbolic[0], subject, baseline)
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
h4{margin:1.2em 0 .3em} nav a{margin-right:.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em;width:100%}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:target,div:target{background:#fffbe0}
.verdict{font-weight:600;white-space:nowrap;padding:.1em .4em;border-radius:3px}
.v-proved,.v-holds{background:#d8f3dc;color:#1b5e20} .v-fails{background:#ffd6d6;color:#8b0000}
.v-assumption-violated,.v-unsatisfiable{background:#ffe8c2;color:#7a4100}
.v-unchecked,.v-not-significant{background:#eee;color:#555} .ok{color:#1b5e20;font-weight:600}
.failed{color:#8b0000;font-weight:600} pre.error{background:#fff3f3;border:1px solid #e0a0a0;padding:.6em;
 overflow-x:auto;font-size:.82em;white-space:pre-wrap}
details.ev summary{cursor:pointer} details.ev .full{white-space:pre-wrap;margin:.3em 0 .3em 1em;color:#333}
.ev-row{margin:.25em 0 .5em} .role{color:#555;font-size:.92em} .tag{font-size:.8em;color:#555;
 border:1px solid #bbb;border-radius:3px;padding:0 .3em;margin-left:.3em}
figure{display:inline-block;margin:.5em;vertical-align:top;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:.8em;color:#555} .meta{color:#555;font-size:.9em}
.interactive svg{max-width:100%;height:auto;border:1px solid #ddd;background:#fff}
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _verdict(verdict: str) -> str:
    cls = verdict if verdict in VERDICT_CLASSES else "unchecked"
    return f'<span class="verdict v-{cls}">{_e(verdict)}</span>'


def _anchor(prefix: str, name) -> str:
    """An id safe in HTML and URLs (claim ids and experiment names are already close to that)."""
    return prefix + "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))


def _table(columns: list[str], rows: list[list[str]], raw: set[int] = frozenset(),
           row_ids: list[str] | None = None) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join((f'<tr id="{_e(row_ids[k])}">' if row_ids else "<tr>")
                   + "".join(f"<td>{cell if i in raw else _e(cell)}</td>" for i, cell in enumerate(row))
                   + "</tr>" for k, row in enumerate(rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def folded(text) -> str:
    """Evidence as HTML: short text as it is, long text folded under its one-line summary."""
    text = str(text)
    if not needs_folding(text):
        return _e(" ".join(text.split()))
    return (f'<details class="ev"><summary>{_e(summary_line(text))}</summary>'
            f'<div class="full">{_e(text.strip())}</div></details>')


def rows_table(rows: list[dict]) -> str:
    """Rows not combined into a ledger (shown when building the ledger failed)."""
    return _table(["claim", "verdict", "method", "evidence"],
                  [[r.get("claim", ""), _verdict(r.get("verdict", "unchecked")), r.get("method", ""),
                    folded(r.get("evidence", ""))] for r in rows], raw={1, 3})


def _ledger_method(entry: dict) -> str:
    if entry.get("method"):
        return str(entry["method"])
    return ", ".join(str(m) for m in entry.get("methods", []))


def evidence_row(row: dict, headline_verdict: str | None, rules: dict[str, int] | None = None) -> str:
    """One row as evidence under its claim: its own finding, its method, its role, its evidence."""
    step = '<span class="tag">proof step</span>' if scope(row) == "step" else ""
    check = (row.get("details") or {}).get("check")
    check = f" <code>{_e(check)}</code>" if check else ""
    return (f'<div class="ev-row">{_verdict(row.get("verdict", "unchecked"))} <i>{_e(row.get("method", ""))}</i>'
            f'{step}{check} <span class="role">({_e(row_role(row, headline_verdict, rules))})</span>'
            f"<br>{folded(row.get('evidence', ''))}</div>")


def _ledger_evidence(entry: dict) -> str:
    """HTML for an entry's evidence: its own string, or each combined source row (``rows`` as
    proofs_check.ledger.build_ledger returns them) with its role, plus the reason if unchecked."""
    parts = []
    if entry.get("reason"):
        parts.append(f"<i>{_e(entry['reason'])}</i>")
    if entry.get("evidence"):
        parts.append(folded(entry["evidence"]))
    parts += [evidence_row(row, entry.get("verdict")) for row in entry.get("rows", []) or []]
    return "".join(parts)


def _deciding(entry: dict) -> str:
    """The evidence that decides an entry's verdict (the first row with that verdict), or its reason."""
    if entry.get("reason"):
        return str(entry["reason"])
    rows = [r for r in entry.get("rows", []) or [] if scope(r) == "claim"] or entry.get("rows", []) or []
    deciding = [r for r in rows if r.get("verdict") == entry.get("verdict")] or rows
    return str(deciding[0].get("evidence", "")) if deciding else str(entry.get("evidence", ""))


def _sources_html(entry: dict, sources: dict[str, list[str]]) -> str:
    claim = entry.get("claim", "")
    links = [f'<a href="#{_e(_anchor("exp-" + name + "-", claim))}">{_e(name)}</a>'
             for name in sources.get(claim, [])]
    if entry.get("rows") or entry.get("evidence") or entry.get("reason"):
        links.append(f'<a href="#{_e(_anchor("evidence-", claim))}">all evidence</a>')
    return ", ".join(links)


def ledger_summary_table(ledger: list[dict], sources: dict[str, list[str]] | None = None) -> str:
    """The headline ledger: one verdict per claim (row id ``claim-<id>``), the deciding evidence in one
    line, and links to the experiment sections that fed the claim and to all of its evidence."""
    sources = sources or {}
    return _table(["claim", "where", "statement", "verdict", "deciding evidence", "evidence from"],
                  [[r.get("claim", ""), r.get("where", ""), r.get("statement", ""),
                    _verdict(r.get("verdict", "unchecked")), _e(summary_line(_deciding(r))),
                    _sources_html(r, sources)] for r in ledger], raw={3, 4, 5},
                  row_ids=[_anchor("claim-", r.get("claim", "")) for r in ledger])


def ledger_table(ledger: list[dict]) -> str:
    """Every claim with every row behind its verdict (row id ``evidence-<id>``)."""
    return _table(["claim", "where", "statement", "verdict", "method", "evidence"],
                  [[f'<a href="#{_e(_anchor("claim-", r.get("claim", "")))}">{_e(r.get("claim", ""))}</a>',
                    r.get("where", ""), r.get("statement", ""), _verdict(r.get("verdict", "unchecked")),
                    _ledger_method(r), _ledger_evidence(r)] for r in ledger], raw={0, 3, 5},
                  row_ids=[_anchor("evidence-", r.get("claim", "")) for r in ledger])


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


def experiment_evidence(outcome: Outcome, entries: dict[str, dict] | None) -> str:
    """The experiment's rows grouped by claim, each group headed by the claim's headline verdict."""
    groups: dict[str, list[dict]] = {}
    for row in outcome.rows:
        groups.setdefault(str(row.get("claim", "")), []).append(row)
    parts = ['<h3>Evidence from this experiment</h3><p class="meta">Each claim has one verdict, in the '
             '<a href="#ledger">claims ledger</a>, combined from all of its rows (rule in '
             "<code>proofs_check/ledger.py</code>). The rows below are this experiment's evidence for "
             "those claims; where a row's own finding differs from the headline verdict, it says why.</p>"]
    for claim, rows in groups.items():
        entry = (entries or {}).get(claim)
        verdict = entry.get("verdict") if entry else None
        shown = _verdict(verdict) if verdict else "not available"
        parts.append(f'<div class="claim-evidence" id="{_e(_anchor("exp-" + outcome.name + "-", claim))}">'
                     f'<h4>Evidence for claim <a href="#{_e(_anchor("claim-", claim))}">{_e(claim)}</a> '
                     f"(headline verdict: {shown})</h4>"
                     + "".join(evidence_row(row, verdict) for row in rows) + "</div>")
    return "".join(parts)


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


def interactive_html(outcome: Outcome) -> str:
    """Inline SVG charts with tooltips for the experiments that have them (none is not an error)."""
    if outcome.record is None:
        return ""
    try:
        from simulations import report_svg
        charts = report_svg.charts_for(outcome.name, outcome.record)
    except Exception as err:  # an interactive extra must not hide the figures
        return f'<p class="failed">interactive charts failed: {_e(type(err).__name__)}: {_e(err)}</p>'
    if not charts:
        return ""
    return ('<details class="interactive"><summary>Interactive charts (hover a point for its values)</summary>'
            + "".join(charts) + "</details>")


def experiment_section(outcome: Outcome, out: Path, entries: dict[str, dict] | None = None) -> str:
    status = ('<span class="ok">ok</span>' if outcome.ok else '<span class="failed">FAILED</span>')
    parts = [f'<section id="exp-{_e(outcome.name)}"><h2>{_e(outcome.name)}</h2>',
             f'<p>status: {status} &middot; {outcome.seconds:.1f} s &middot; '
             f'<a href="#ledger">claims ledger</a></p>']
    if not outcome.ok:
        parts.append(f'<pre class="error">{_e(outcome.error)}</pre>')
    parts.append(headline(outcome))
    if outcome.rows:
        parts.append(experiment_evidence(outcome, entries))
    figs = figures_html(outcome, out)
    if figs:
        parts.append("<h3>Figures</h3>" + figs)
    parts.append(interactive_html(outcome))
    if outcome.ok and not outcome.rows and not figs:
        parts.append("<p>This experiment produced a record but no ledger rows and no figures.</p>")
    parts.append("</section>")
    return "".join(parts)


def _claim_sources(outcomes: list[Outcome]) -> dict[str, list[str]]:
    sources: dict[str, list[str]] = {}
    for o in outcomes:
        for row in o.rows:
            names = sources.setdefault(str(row.get("claim", "")), [])
            if o.name not in names:
                names.append(o.name)
    return sources


def render_html(outcomes: list[Outcome], ledger: list[dict] | None, ledger_error: str | None, out: Path,
                meta: dict, sections: tuple[str, ...] = ()) -> str:
    out = Path(out)
    overview = _table(["experiment", "status", "seconds", "figures", "ledger rows"],
                      [[f'<a href="#exp-{_e(o.name)}">{_e(o.name)}</a>',
                        '<span class="ok">ok</span>' if o.ok else '<span class="failed">FAILED</span>',
                        f"{o.seconds:.1f}", str(len([p for p in o.figures if Path(p).suffix.lower() in IMAGE_SUFFIXES])),
                        str(len(o.rows))] for o in outcomes], raw={0, 1})
    entries = None
    if ledger is not None and ledger:
        entries = {str(e.get("claim", "")): e for e in ledger}
        counts = {}
        for row in ledger:
            counts[row.get("verdict", "unchecked")] = counts.get(row.get("verdict", "unchecked"), 0) + 1
        tally = ", ".join(f"{_verdict(v)} {n}" for v, n in sorted(counts.items()))
        ledger_html = (f"<p>{len(ledger)} claims: {tally}. This is the one verdict per claim; the experiment "
                       "sections below show their rows as evidence for these claims, and the evidence behind "
                       f'each verdict is in the <a href="#ledger-evidence">full ledger</a> at the end of the page.</p>'
                       + ledger_summary_table(ledger, _claim_sources(outcomes)))
        evidence_html = ('<section id="ledger-evidence"><h2>Claims ledger with evidence</h2>'
                         '<p class="meta">Every row behind each verdict; proof-step rows are marked and never '
                         "decide a statement by themselves.</p>" + ledger_table(ledger) + "</section>")
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
    nav = ('<nav><a href="#ledger">claims ledger</a><a href="#overview">experiments</a>'
           + "".join(f'<a href="#exp-{_e(o.name)}">{_e(o.name)}</a>' for o in outcomes)
           + ('<a href="#ledger-evidence">full evidence</a>' if evidence_html else "") + "</nav>")
    body = [f"<h1>{_e(title)}</h1>", comparison,
            f'<p class="meta">scale <b>{_e(meta.get("scale"))}</b> &middot; device {_e(meta.get("device"))} &middot; '
            f'{float(meta.get("seconds", 0.0)):.0f} s &middot; {_e(meta.get("created", ""))} &middot; {_e(versions)}</p>',
            nav,
            '<p>Each experiment checks claims of "Adapting Stepsizes by Momentumized Gradients Improves '
            'Optimization and Generalization" (AdaMomentum). Verdicts: proved (symbolic), holds (numerically, on '
            'the stated cases), fails (a reproducible counterexample), assumption-violated, unsatisfiable, '
            'not-significant (a difference within the noise), unchecked.</p>',
            '<section id="ledger"><h2>Claims ledger</h2>' + ledger_html + "</section>",
            '<section id="overview"><h2>Experiments</h2>' + overview + "</section>", *sections]
    body += [experiment_section(o, out, entries) for o in outcomes]
    body.append(evidence_html)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<link rel=\"icon\" href=\"data:,\">"  # no favicon request: the page makes none it cannot serve
            f"<title>{_e(title)} ({_e(meta.get('scale'))})</title><style>{CSS}</style></head>"
            "<body>" + "\n".join(body) + "</body></html>\n")
