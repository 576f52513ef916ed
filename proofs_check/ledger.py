"""The claims ledger: one row per claim of the paper, its verdict, how it was checked and the evidence.

Row format (every source, symbolic or simulation)::

    {"claim": id, "verdict": v, "method": "symbolic"|"numeric"|"simulation",
     "evidence": "short text with the numbers", "details": {...}}

``details["scope"]`` may be ``"step"`` (the row checks one step of the claim's proof) or
``"claim"`` (the default: the row bears on the statement itself).

Combination rule (:func:`combine`), applied to the rows of one claim, "unchecked" rows ignored.
The verdict is about the *statement*; a row scoped to one proof step is evidence about the paper's
proof, shown with the claim, but it never decides the statement's verdict by itself (a false step
means the printed proof does not establish the statement, not that the statement is false):
1. any claim-scoped ``unsatisfiable`` -> ``unsatisfiable``: the hypotheses cannot hold together, so the statement
   is vacuous and no genuine counterexample to it can exist; a failing row can then only concern a
   proof step or a setting outside the hypotheses, and is kept as evidence;
2. else any claim-scoped ``fails`` -> ``fails`` (a reproducible counterexample to the statement);
3. else any claim-scoped ``assumption-violated`` -> ``assumption-violated``;
4. else, when every usable row is step-scoped -> ``unchecked`` (reason "only proof steps checked",
   naming failed steps): proof steps, proved or false, are not evidence about the statement;
5. else ``proved`` when at least one claim-scoped row is ``proved`` and every other claim-scoped row
   is ``proved`` or ``holds`` (measurement agrees with the proof);
6. else ``holds`` (claim-scoped numeric/simulation support; failed proof steps stay in the evidence);
7. no usable row -> ``unchecked``, with the reason: the evidence of the inconclusive ("unchecked")
   rows when there are any, else the error of each experiment expected to feed the claim
   (``missing``), else "no check".
Every row is kept in the ledger entry, so the evidence behind a verdict is never lost.
"""
from __future__ import annotations

import inspect
import json
import time
import traceback
from pathlib import Path

from proofs_check.result import VERDICTS

RECORD_PATH = Path(__file__).with_name("recorded_verdicts.json")
# The paper's comparison; the recorded verdicts are about these two (any method can be the subject).
DEFAULT_SUBJECT, DEFAULT_BASELINE = "adamomentum", "adam"

# id, where, statement (paraphrase), sources: "proofs" (this package) and experiment names.
CLAIMS: list[dict] = [
    {"id": "algorithm-1", "where": "Algorithm 1", "sources": ["proofs"],
     "statement": "AdaMomentum: m = b1 m + (1-b1) g; v = b2 v + (1-b2) m^2 + eps; theta -= a mhat / sqrt(vhat)."},
    {"id": "table-1", "where": "Table 1", "sources": ["proofs"],
     "statement": "m_t and v_t of SGD, Rprop, RMSprop, Adam and AdaMomentum as explicit sums (EMA forms)."},
    {"id": "eq-2", "where": "Section 3.2, eq. (2)", "sources": ["proofs"],
     "statement": "Adam (k_t = g) and AdaMomentum (k_t = m) share one update with bias corrections (1-b1^t), (1-b2^t)."},
    {"id": "sec3.1-eps-closed-form", "where": "Section 3.1", "sources": ["proofs"],
     "statement": "With eps inside the EMA, vhat_t = vhat'_t + eps/(1-b2)."},
    {"id": "sec3.1-limiting-stepsizes", "where": "Section 3.1", "sources": ["proofs"],
     "statement": "Near the end of training (vhat' ~ 0, far below eps) the stepsizes are ~sqrt(1-b2) a/sqrt(eps) "
                  "(AdaMomentum) and a/eps (Adam)."},
    {"id": "sec3.1-stepsize-ordering", "where": "Section 3.1", "sources": ["proofs", "toys"],
     "statement": "sqrt(1-b2) a/sqrt(eps) << a/eps: moving eps inside the sqrt makes AdaMomentum's stepsize "
                  "smaller near minima."},
    {"id": "sec3.1-area-A", "where": "Section 3.1, Figure 1", "sources": ["toys"],
     "statement": "Plateau to slope: Adam's stepsize shrinks while AdaMomentum's stays large (|m| lags |g|)."},
    {"id": "sec3.1-area-B", "where": "Section 3.1, Figure 1", "sources": ["toys"],
     "statement": "Steep slope: |m_t| gradually becomes as large as |g_t|."},
    {"id": "sec3.1-area-C", "where": "Section 3.1, Figure 1", "sources": ["proofs", "toys"],
     "statement": "Slope to basin: AdaMomentum's stepsize stays smaller than Adam's (|m| > |g|)."},
    {"id": "lemma-1", "where": "Section 3.2, Lemma 1", "sources": ["escape"],
     "statement": "Under Assumptions 1-3, E(escape time) = Theta(upsilon / m(Upsilon))."},
    {"id": "assumption-1", "where": "Section 3.2", "sources": ["escape"],
     "statement": "f non-negative, upper bounded, locally mu-strongly convex in the basin."},
    {"id": "assumption-2", "where": "Section 3.2", "sources": ["nonconvex"],
     "statement": "grad f is L-Lipschitz."},
    {"id": "assumption-3", "where": "Section 3.2", "sources": ["escape"],
     "statement": "m_t aligned with grad f, b1 <= b2 <= 2 b1, sqrt(v_t) in (v-, v+), tracking bounds."},
    {"id": "assumption-4", "where": "Section 3.2", "sources": ["nonconvex"],
     "statement": "||grad f(theta_t)|| <= H and ||g_t|| <= H for all t."},
    {"id": "assumption-5", "where": "Section 3.2", "sources": ["proofs", "escape"],
     "statement": "For t > T0, diag(Sigma_t) <= b1 E(m_{t-1}^2) / (2 - b1)."},
    {"id": "proposition-1", "where": "Section 3.2, Proposition 1 (App. B.3)", "sources": ["proofs", "escape"],
     "statement": "In a flat/asymmetric basin, E Gamma(AdaMomentum) >= E Gamma(Adam)."},
    {"id": "theorem-1", "where": "Section 4.1, Theorem 1 (App. C.1.1)", "sources": ["proofs", "regret"],
     "statement": "Online convex regret bound, O~(sqrt(T)), assuming v_t <= v_{t+1} and gamma = b1/sqrt(b2) < 1."},
    {"id": "corollary-1", "where": "Section 4.1, Corollary 1 (App. C.1.2)", "sources": ["proofs", "regret"],
     "statement": "With b1_t = b1 lam^t and bounded gradients, R(T)/T = O(1/sqrt(T)) with explicit constants."},
    {"id": "theorem-2", "where": "Section 4.2, Theorem 2 (App. C.2.2)", "sources": ["proofs", "nonconvex"],
     "statement": "Nonconvex: min_t E||grad f||^2 <= (Q1 + Q2 eta(T)) / (T a_T)."},
    {"id": "corollary-2", "where": "Section 4.2, Corollary 2 (App. C.2.3)", "sources": ["proofs", "nonconvex"],
     "statement": "With a_t = a/sqrt(t): min_t E||grad f||^2 <= (Q1 + Q2 log T)/sqrt(T)."},
    {"id": "sec5.1.1-toy-fastest", "where": "Section 5.1.1, Figure 2", "sources": ["toys"],
     "statement": "AdaMomentum reaches the optimum fastest on Sphere, Three-Hump Camel, Beale and Ackley."},
    {"id": "memory-cost", "where": "Section 1", "sources": ["proofs"],
     "statement": "AdaMomentum has no additional memory cost (over Adam)."},
]
CLAIM_IDS = tuple(c["id"] for c in CLAIMS)
_BY_ID = {c["id"]: c for c in CLAIMS}


def symbolic_checks() -> list[tuple[str, object]]:
    """Every check of this package as (claim id, zero-argument callable returning a CheckResult)."""
    from proofs_check import eps_placement as eps, escape_proof as esc, family_form as fam
    from proofs_check import memory, nonconvex_proof as nc, regret_proof as reg

    return [
        ("algorithm-1", fam.check_algorithm_1), ("table-1", fam.check_table_1),
        ("eq-2", fam.check_eq2_members), ("eq-2", fam.check_bias_corrections),
        ("sec3.1-eps-closed-form", eps.check_v_closed_form), ("sec3.1-eps-closed-form", eps.check_vhat_offset),
        ("sec3.1-eps-closed-form", eps.check_family_eps_offset),
        ("sec3.1-limiting-stepsizes", eps.check_limiting_stepsizes),
        ("sec3.1-limiting-stepsizes", eps.check_approximation_region),
        ("sec3.1-stepsize-ordering", eps.check_stepsize_ordering),
        ("sec3.1-stepsize-ordering", eps.check_stepsize_ordering_same_k),
        ("sec3.1-area-C", eps.check_stepsize_near_optimum_under_noise),
        ("corollary-1", reg.check_momentum_induction), ("corollary-1", reg.check_v_induction),
        ("corollary-1", reg.check_series_bound), ("corollary-1", reg.check_corollary_1_arithmetic),
        ("theorem-1", reg.check_theorem_1_key_inequality),
        ("corollary-2", nc.check_harmonic_bound), ("theorem-2", nc.check_theorem_2_arithmetic),
        ("corollary-2", nc.check_corollary_2_arithmetic), ("theorem-2", nc.check_theorem_2_v_bound),
        ("theorem-2", nc.check_min_v_from_eps),
        ("proposition-1", esc.check_assumption_5_implies_order), ("assumption-5", esc.check_assumption_5_satisfiable),
        ("proposition-1", esc.check_sas_scale_version), ("proposition-1", esc.check_variance_order_at_minimum),
        ("proposition-1", esc.check_ellipsoid_volume), ("proposition-1", esc.check_escape_set_monotone),
        ("memory-cost", memory.check_memory_cost),
    ]


def _call(check, subject, baseline):
    """Run a check, passing ``subject`` / ``baseline`` to the checks that compare two methods."""
    params = inspect.signature(check).parameters
    kwargs = {k: v for k, v in (("subject", subject), ("baseline", baseline)) if k in params}
    return check(**kwargs)


def symbolic_rows(checks: list | None = None, subject=DEFAULT_SUBJECT, baseline=DEFAULT_BASELINE) -> list[dict]:
    """Run every sympy/numeric check; a check that raises gives an "unchecked" row with the error.

    Checks that compare two methods take ``subject`` and ``baseline`` (names or update rules);
    the others are about the paper's printed formulas and ignore them."""
    rows = []
    for claim, check in symbolic_checks() if checks is None else checks:
        start = time.perf_counter()
        name = getattr(check, "__name__", str(check))
        try:
            row = _call(check, subject, baseline).as_row()
        except Exception as err:  # one broken check must not hide the others
            row = {"claim": claim, "verdict": "unchecked", "method": "symbolic",
                   "evidence": f"check {name} raised {type(err).__name__}: {err}",
                   "details": {"check": name, "traceback": traceback.format_exc(limit=4)}}
        row["details"]["seconds"] = round(time.perf_counter() - start, 3)
        rows.append(row)
    return rows


def _scope(row: dict) -> str:
    return (row.get("details") or {}).get("scope", "claim")


def combine(rows: list[dict]) -> str:
    """The verdict of one claim from its rows (rule in the module docstring)."""
    used = [r for r in rows if r["verdict"] != "unchecked"]
    if not used:
        return "unchecked"
    on_claim = [r for r in used if _scope(r) == "claim"]
    verdicts = {r["verdict"] for r in on_claim}
    for dominant in ("unsatisfiable", "fails", "assumption-violated"):
        if dominant in verdicts:
            return dominant
    if not on_claim:
        return "unchecked"
    if "proved" in verdicts:
        return "proved"
    return "holds"


def _unchecked_reason(claim: dict, missing: dict[str, str]) -> str:
    reasons = [f"{src}: {missing[src].strip().splitlines()[0]}" for src in claim["sources"] if src in missing]
    if reasons:
        return "experiment not available: " + "; ".join(reasons)
    expected = [s for s in claim["sources"] if s != "proofs"]
    if expected:
        return f"no row from {', '.join(expected)} (expected source)"
    return "no check produced a row"


def _reason_for(claim: dict, mine: list[dict], missing: dict[str, str]) -> str:
    """Why a claim is unchecked: only proof steps, inconclusive rows (their evidence), or missing sources."""
    used = [r for r in mine if r["verdict"] != "unchecked"]
    if used:
        failed = sum(r["verdict"] in ("fails", "assumption-violated") for r in used)
        reason = (f"only proof steps checked ({len(used)} step row{'s' if len(used) > 1 else ''}"
                  f"{f', {failed} of them false' if failed else ''}; no row on the statement)")
        inconclusive = _inconclusive(mine)
        rest = inconclusive or _unchecked_reason(claim, missing)
        return reason if rest == "no check produced a row" else f"{reason}; {rest}"
    return _inconclusive(mine) or _unchecked_reason(claim, missing)


def _inconclusive(mine: list[dict]) -> str:
    """The evidence of a claim's "unchecked" rows (why they could not decide), or ""."""
    rows = [r for r in mine if r["verdict"] == "unchecked"]
    return ("inconclusive: " + " | ".join(" ".join(str(r["evidence"]).split()) for r in rows)) if rows else ""


def build_ledger(rows: list[dict], missing: dict[str, str] | None = None,
                 subject: str = DEFAULT_SUBJECT, baseline: str = DEFAULT_BASELINE) -> list[dict]:
    """One entry per claim id (in the paper's order), combining all rows for it.

    ``subject`` / ``baseline`` name the methods the rows measured (entries carry them; the
    statement stays the paper's, about AdaMomentum and Adam)."""
    missing = missing or {}
    for row in rows:
        if row.get("verdict") not in VERDICTS:
            raise ValueError(f"row for {row.get('claim')!r} has verdict {row.get('verdict')!r}; valid: {VERDICTS}")
    ledger = []
    for claim in CLAIMS:
        mine = [r for r in rows if r.get("claim") == claim["id"]]
        verdict = combine(mine)
        entry = {"claim": claim["id"], "where": claim["where"], "statement": claim["statement"],
                 "verdict": verdict, "methods": sorted({r["method"] for r in mine}), "rows": mine,
                 "subject": subject, "baseline": baseline}
        if verdict == "unchecked":
            entry["reason"] = _reason_for(claim, mine, missing)
        ledger.append(entry)
    unknown = sorted({r.get("claim") for r in rows} - set(CLAIM_IDS))
    if unknown:
        ledger.append({"claim": "unknown-claim-ids", "where": "-", "statement": "rows with unknown claim ids",
                       "verdict": "unchecked", "methods": [], "rows": [r for r in rows if r.get("claim") in unknown],
                       "reason": f"unknown claim ids: {unknown}"})
    return ledger


def _cell(text: str, width: int | None = None) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if width is None or len(text) <= width else text[: width - 1] + "…"


def headline(entry: dict) -> str:
    """The evidence that decides an entry's verdict (or the reason it is unchecked)."""
    if entry.get("reason"):
        return entry["reason"]
    deciding = [r for r in entry["rows"] if r["verdict"] == entry["verdict"]]
    return (deciding or entry["rows"])[0]["evidence"] if entry["rows"] else ""


def is_default_comparison(subject, baseline) -> bool:
    """True for the paper's comparison, the one the recorded verdicts are about."""
    label = (lambda x: getattr(x, "name", x))
    return label(subject) == DEFAULT_SUBJECT and label(baseline) == DEFAULT_BASELINE


def render_markdown(ledger: list[dict]) -> str:
    """The ledger as Markdown: a summary table, then every claim with all of its evidence."""
    subject = ledger[0].get("subject", DEFAULT_SUBJECT) if ledger else DEFAULT_SUBJECT
    baseline = ledger[0].get("baseline", DEFAULT_BASELINE) if ledger else DEFAULT_BASELINE
    lines = ["# Claims ledger", "",
             *([] if is_default_comparison(subject, baseline) else
               [f"Subject: `{subject}`, baseline: `{baseline}` (the statements are the paper's, about "
                "AdaMomentum and Adam; every measured row is about the subject and the baseline).", ""]),
             "Generated by `amlab verify` (do not edit by hand). Verdicts: proved (symbolic), holds (numeric or "
             "simulation), fails (reproducible counterexample), assumption-violated, unsatisfiable, unchecked. "
             "How rows combine into a verdict: `proofs_check/ledger.py`; the checks: `docs/proofs.md`.", "",
             "| claim | where | verdict | methods | deciding evidence (first row with that verdict) |",
             "|---|---|---|---|---|"]
    for e in ledger:
        lines.append(f"| `{e['claim']}` | {_cell(e['where'])} | **{e['verdict']}** | "
                     f"{', '.join(e['methods']) or '-'} | {_cell(headline(e), 220)} |")
    lines.append("")
    for e in ledger:
        lines += [f"## `{e['claim']}`: {e['verdict']}", "", f"*{e['where']}.* {e['statement']}", ""]
        if e.get("reason"):
            lines += [f"Unchecked: {e['reason']}", ""]
        for r in e["rows"]:
            scope = _scope(r)
            tag = f"{r['verdict']}, {r['method']}" + (", proof step" if scope == "step" else "")
            check = (r.get("details") or {}).get("check")
            lines.append(f"- **{tag}**{f' (`{check}`)' if check else ''}: {_cell(r['evidence'])}")
        lines.append("")
    return "\n".join(lines)


def load_recorded(path: Path | None = None) -> dict[str, str]:
    """The reviewed verdicts recorded in the repository ({} when there is no record yet)."""
    path = RECORD_PATH if path is None else Path(path)
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return dict(data.get("verdicts", data))


def recorded_payload(ledger: list[dict]) -> dict:
    """What ``amlab verify --update-record`` writes to :data:`RECORD_PATH` (the CLI does the writing)."""
    verdicts = {e["claim"]: e["verdict"] for e in ledger if e["claim"] in CLAIM_IDS}
    return {"comment": "Reviewed verdicts; `amlab verify` exits non-zero when one changes. "
                       "Update with `amlab verify --update-record` after reviewing the change.",
            "verdicts": verdicts}


def compare_with_recorded(ledger: list[dict], recorded: dict[str, str] | None = None) -> list[str]:
    """Differences between the ledger and the record, one line each; empty when all agree."""
    recorded = load_recorded() if recorded is None else recorded
    now = {e["claim"]: e["verdict"] for e in ledger if e["claim"] in CLAIM_IDS}
    diffs = []
    for claim in CLAIM_IDS:
        if claim not in recorded:
            diffs.append(f"{claim}: not recorded, now {now.get(claim)}")
        elif recorded[claim] != now.get(claim):
            diffs.append(f"{claim}: recorded {recorded[claim]}, now {now.get(claim)}")
    for claim in sorted(set(recorded) - set(CLAIM_IDS)):
        diffs.append(f"{claim}: recorded {recorded[claim]}, but no such claim id")
    return diffs
