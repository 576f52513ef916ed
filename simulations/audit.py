"""``amlab audit``: every experiment and invariant check that applies to one method, on one page.

The method (the subject) is any name the toolkit accepts (registry member, installed plugin,
``module.path:Attribute[:key=value]``) and is compared with a baseline (default ``adam``). The
page is :func:`simulations.report.run_report`'s, with the subject in every comparative claim,
plus the shipped invariant suite (:mod:`theory.testing`) and a digest: what holds, what fails,
what could not be checked and why.
"""
from __future__ import annotations

import dataclasses
import html
import os
from pathlib import Path

from simulations.experiments import DEFAULT_BASELINE, EXPERIMENTS
from simulations.records import read_json, write_json_atomic, write_text_atomic
from simulations.report import run_report
from theory.names import resolve
from theory.testing import check_invariants

DIGEST_GROUPS = (("holds", ("proved", "holds")), ("fails", ("fails",)), ("not significant", ("not-significant",)),
                 ("hypotheses broken", ("assumption-violated", "unsatisfiable")), ("not checked", ("unchecked",)))


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def invariants_section(results) -> str:
    rows = "".join(f"<tr><td>{_e(r.name)}</td><td><span class=\"verdict v-{_e(r.status)}"
                   f"\">{_e(r.status)}</span></td><td>{_e(r.detail)}</td></tr>" for r in results)
    return ('<section id="invariants"><h2>Invariant checks (theory.testing)</h2>'
            "<p>Properties every Adam-type update rule should have, checked in float64 on seeded gradients.</p>"
            f"<table><thead><tr><th>invariant</th><th>status</th><th>detail</th></tr></thead><tbody>{rows}"
            "</tbody></table></section>")


def _about(entry: dict, subject: str) -> bool:
    """Whether a ledger entry rests on a measurement of ``subject`` (its rows name it), rather than
    on the paper's printed formulas or on other methods (the baseline, the paper's members)."""
    needle = subject.lower()
    for row in entry.get("rows", []):
        details = row.get("details") or {}
        if details.get("subject") == subject or details.get("member") == subject or needle in str(row.get("evidence", "")).lower():
            return True
    return False


def digest(ledger: list[dict] | None, invariants, subject: str) -> dict[str, list[str]]:
    """Claim ids and invariant names grouped by outcome (the audit's one-glance summary).

    Claims whose rows do not measure the subject (the sympy checks of the paper's formulas, rows
    about the baseline or a registry member) go to their own group, so that nothing about another
    method reads as a result for the subject."""
    groups = {label: [] for label, _ in DIGEST_GROUPS}
    other = []
    for entry in ledger or []:
        reason = f" ({entry['reason']})" if entry.get("reason") else ""
        line = f"{entry['claim']}: {entry['verdict']}{reason}"
        if not _about(entry, subject):
            other.append(line)
            continue
        for label, verdicts in DIGEST_GROUPS:
            if entry.get("verdict") in verdicts:
                groups[label].append(line)
    status_group = {"holds": "holds", "fails": "fails", "unchecked": "not checked"}
    for result in invariants:
        groups[status_group[result.status]].append(f"invariant {result.name}: {result.detail}")
    groups["not about this method (the paper's formulas, other methods)"] = other
    return groups


def digest_section(groups: dict[str, list[str]]) -> str:
    parts = ['<section id="digest"><h2>Digest</h2>']
    for label, items in groups.items():
        body = "".join(f"<li>{_e(item)}</li>" for item in items) or "<li>none</li>"
        parts.append(f"<h3>{_e(label)} ({len(items)})</h3><ul>{body}</ul>")
    return "".join(parts) + "</section>"


def run_audit(optimizer: str, out: str | os.PathLike, baseline: str = DEFAULT_BASELINE, scale: str = "quick",
              device: str = "auto", progress: bool = True, experiments: tuple = EXPERIMENTS,
              resume: bool = False) -> dict:
    """Audit ``optimizer`` against ``baseline``; writes ``out/index.html`` and ``out/report.json``
    (each finished experiment checkpointed under ``out/checkpoints/audit/``; ``resume`` reads them back)."""
    subject_rule, baseline_rule = resolve(optimizer), resolve(baseline)  # bad names fail before any work
    invariants = check_invariants(subject_rule)
    sections = (invariants_section(invariants),)
    result = run_report(Path(out), scale=scale, device=device, progress=progress, experiments=experiments,
                        subject=optimizer, baseline=baseline, sections=sections, resume=resume, checkpoints="audit",
                        title=f"amlab audit: {subject_rule.name} against {baseline_rule.name}"
                              + (" (smoke scale: a trial run, its verdicts decide nothing)" if scale == "smoke" else ""))
    groups = digest(result["ledger"], invariants, subject_rule.name)
    result.update(invariants=invariants, digest=groups)
    page = Path(result["index"]).read_text(encoding="utf-8")
    marker = '<section id="ledger">'
    page = page.replace(marker, digest_section(groups) + marker, 1)
    write_text_atomic(result["index"], page)
    summary_path = Path(out) / "report.json"
    summary = read_json(summary_path)
    summary.update(invariants=[dataclasses.asdict(r) for r in invariants], digest=groups)
    write_json_atomic(summary_path, summary)
    return result
