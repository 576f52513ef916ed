"""How the report shows a ledger row: a one-line summary of its evidence, and why its own finding
may differ from the headline verdict of its claim.

A claim's headline verdict comes from ``proofs_check.ledger.combine``; :func:`row_role` cites the
numbered rule of that combination by its number in ``proofs_check/ledger.py``'s docstring, read
from the docstring itself (:func:`combination_rules`), so a renumbered rule is cited correctly.
"""
from __future__ import annotations

import functools
import re

SUMMARY_CHARS = 120
_SENTENCE_END = re.compile(r"[.!?](?=\s+\S)")
# Words whose full stop does not end a sentence ("eq. (3)", "Defossez et al. (2022)").
_ABBREVIATIONS = {"eq", "eqs", "e.g", "i.e", "vs", "al", "fig", "cf", "approx", "no", "resp", "sec", "app"}
# The dominant verdicts, most dominant first, as combine() applies them to claim-scoped rows.
DOMINANT_ORDER = ("unsatisfiable", "fails", "assumption-violated", "not-significant")


def combination_rules(doc: str | None = None) -> dict[str, int]:
    """{verdict: number of the rule that yields it, "step": the proof-steps-only rule} from the
    numbered list in ``proofs_check.ledger``'s docstring ("N. ... -> ``verdict``" or "N. else ``verdict``")."""
    if doc is None:
        from proofs_check import ledger

        doc = ledger.__doc__ or ""
    rules: dict[str, int] = {}
    for number, text in re.findall(r"^(\d+)\.\s+(.*)$", doc, flags=re.M):
        if "step-scoped" in text:
            rules.setdefault("step", int(number))
            continue
        found = re.search(r"->\s*``([\w-]+)``", text) or re.search(r"^else\s+``([\w-]+)``", text)
        if found:
            rules.setdefault(found.group(1), int(number))
    return rules


@functools.lru_cache(maxsize=1)
def _ledger_rules() -> tuple[tuple[str, int], ...]:
    return tuple(combination_rules().items())


def _rule(rules: dict[str, int], key: str) -> str:
    return f"ledger rule {rules[key]}" if key in rules else "the ledger's combination rule"


def scope(row: dict) -> str:
    """"step" (the row checks one step of the claim's proof) or "claim" (the default)."""
    return (row.get("details") or {}).get("scope", "claim")


def summary_line(text, limit: int = SUMMARY_CHARS) -> str:
    """The first line, or else the first sentence, of ``text``, cut at a word to ``limit`` characters."""
    text = str(text).strip()
    first = text.splitlines()[0].strip() if text else ""
    first = " ".join(_first_sentence(first).split())
    if len(first) <= limit:
        return first
    cut = first[: limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:") + "…"


def _first_sentence(line: str) -> str:
    for match in _SENTENCE_END.finditer(line):
        words = line[: match.start()].split()
        word = words[-1].lower().lstrip("(") if words else ""
        # "i.i.d." and "U.S." (a stop inside the word) and initials ("A.") do not end a sentence
        if word and word not in _ABBREVIATIONS and "." not in word and len(word) > 1:
            return line[: match.end()]
    return line


def needs_folding(text, limit: int = SUMMARY_CHARS) -> bool:
    """True when the summary line does not say everything ``text`` says."""
    return " ".join(str(text).split()) != summary_line(text, limit)


def row_role(row: dict, headline_verdict: str | None, rules: dict[str, int] | None = None) -> str:
    """Why this row's finding is, or is not, its claim's headline verdict (one sentence)."""
    rules = dict(_ledger_rules()) if rules is None else rules
    verdict = row.get("verdict", "unchecked")
    if headline_verdict is None:
        return "headline verdict not available (the claims ledger could not be built)"
    if scope(row) == "step":
        return f"proof step: about the printed proof, never decides the statement ({_rule(rules, 'step')})"
    if verdict == "unchecked":
        return "inconclusive: unchecked rows take no part in the verdict"
    if verdict == headline_verdict:
        return f"agrees with the headline verdict ({_rule(rules, verdict)})"
    if headline_verdict == "unsatisfiable":
        return (f"{_rule(rules, 'unsatisfiable')}: another row finds the hypotheses cannot hold together, so the "
                f"statement is vacuous and no row can decide it otherwise; this {verdict} row is kept as evidence")
    if headline_verdict in DOMINANT_ORDER:
        what = {"fails": "is a reproducible counterexample", "assumption-violated": "finds a hypothesis violated",
                "not-significant": "finds the difference within the noise"}[headline_verdict]
        return f"{_rule(rules, headline_verdict)}: another row {what}, which outranks {verdict}"
    if headline_verdict == "proved" and verdict == "holds":
        return f"{_rule(rules, 'proved')}: the measurement agrees with the proof, so the claim is proved"
    return f"combined by the ledger's rule (proofs_check/ledger.py): {verdict} here, {headline_verdict} overall"
