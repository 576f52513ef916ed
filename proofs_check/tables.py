"""The paper's experimental tables (2-6) against its "best" claims: Welch tests from the printed
mean and standard deviation, Holm-corrected per table.

Data: ``paper_tables.json`` (every number transcribed from the paper's OCR text, with the table,
column, row, the line it came from and the raw line). Each claim in it quotes the sentence of the
paper that makes it, the rows it is about, the methods AdaMomentum is said to beat
(``better_than``) and those it is said to match (``as_good_as``).

Test: for every (row, competitor) pair, Welch's two-sided t-test from the summary statistics
(``scipy.stats.ttest_ind_from_stats(equal_var=False)``) with the seed count the paper states, the
printed standard deviations read as sample standard deviations. The p-values of one table form
one family per kind of claim ("beats" and "as good as": the equivalence rows can never confirm a
claim, so they must not dilute the correction of the "beats" tests); Holm's step-down correction
keeps each family's error rate at ``ALPHA`` = 0.05.

Verdict of one "best" claim on one table row:

- ``fails``: some competitor is significantly better than AdaMomentum (Holm-adjusted p < 0.05,
  difference in the competitor's favour): the paper's own numbers contradict the claim;
- ``holds``: AdaMomentum is significantly better than every competitor it is said to beat;
- ``not-significant``: neither. *Decision*: a verdict of its own (added to
  :data:`proofs_check.result.VERDICTS`), not ``fails`` and not ``unchecked``. ``fails`` in this
  ledger means a reproducible counterexample, and a difference within the noise is not one: the
  paper's numbers are as compatible with "AdaMomentum is best" as with "it is not". ``unchecked``
  would say nothing was tested, which is false: the test was done and the claim is *not
  supported* by the data the paper gives. The ledger ranks it below ``fails`` and above
  ``holds`` (:func:`proofs_check.ledger.combine`).

"As good as" (Table 3's SGDM) is an equivalence claim; without a stated margin no test can
confirm it, so such a row is ``fails`` when the competitor is significantly better and
``unchecked`` otherwise. Table 6's "lowest variance" is tested with the two-sided F test of
variances (same seeds, Holm over its comparisons).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from proofs_check.result import CheckResult, fmt

TABLES_PATH = Path(__file__).with_name("paper_tables.json")
ALPHA = 0.05  # family-wise error rate per table
SUBJECT_COLUMN = "AdaMomentum"  # the paper's "Ours"


@lru_cache(maxsize=1)
def load_tables() -> dict:
    """The transcribed tables, by table id ("table-2" ...)."""
    return {t["table"]: t for t in json.loads(TABLES_PATH.read_text(encoding="utf-8"))["tables"]}


def holm(pvalues) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order (reject H_i iff adjusted_i < alpha).

    Sorted ascending, p_(k) is multiplied by (m - k + 1) (k = 1..m), the running maximum keeps the
    adjusted values monotone, and they are capped at 1."""
    p = [float(x) for x in pvalues]
    for x in p:
        if not 0.0 <= x <= 1.0:
            raise ValueError(f"p-values must lie in [0, 1], got {x}")
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def welch(mean_a: float, std_a: float, n_a: int, mean_b: float, std_b: float, n_b: int) -> dict:
    """Welch's two-sided t-test of mean_a vs mean_b from summary statistics (sample stds)."""
    from scipy import stats

    for name, n in (("n_a", n_a), ("n_b", n_b)):
        if int(n) != n or n < 2:
            raise ValueError(f"{name} must be an integer >= 2 (seeds), got {n}")
    for name, s in (("std_a", std_a), ("std_b", std_b)):
        if not s > 0:
            raise ValueError(f"{name} must be > 0, got {s}")
    res = stats.ttest_ind_from_stats(mean_a, std_a, n_a, mean_b, std_b, n_b, equal_var=False)
    va, vb = std_a**2 / n_a, std_b**2 / n_b
    dof = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
    return {"t": float(res.statistic), "p": float(res.pvalue), "dof": dof}


def variance_f_test(std_a: float, n_a: int, std_b: float, n_b: int) -> dict:
    """Two-sided F test of equal variances from sample stds: F = s_a^2 / s_b^2."""
    from scipy import stats

    if not (std_a > 0 and std_b > 0) or n_a < 2 or n_b < 2:
        raise ValueError(f"stds must be > 0 and seeds >= 2, got {std_a}, {n_a}, {std_b}, {n_b}")
    f = std_a**2 / std_b**2
    dist = stats.f(n_a - 1, n_b - 1)
    return {"F": f, "p": float(min(1.0, 2 * min(dist.cdf(f), dist.sf(f))))}


def _favours_subject(table: dict, subject_mean: float, other_mean: float) -> bool:
    return subject_mean < other_mean if table["better"] == "lower" else subject_mean > other_mean


def table_comparisons(table_id: str, tables: dict | None = None) -> list[dict]:
    """Every (row, competitor) Welch comparison of one table's claims, Holm-adjusted over the table."""
    table = (tables or load_tables())[table_id]
    n = table["seeds"]
    by_row = {r["row"]: r for r in table["rows"]}
    comps = []
    for claim in table["claims"]:
        for row_name in claim["rows"]:
            row = by_row[row_name]
            ours = row["cells"][SUBJECT_COLUMN]
            for kind in ("better_than", "as_good_as"):
                for other in claim[kind]:
                    cell = row["cells"][other]
                    test = welch(ours["mean"], ours["std"], n, cell["mean"], cell["std"], n)
                    comps.append({"row": row_name, "other": other, "kind": kind, "line": row["line"],
                                  "ours": ours, "theirs": cell, "seeds": n, **test,
                                  "favours_subject": _favours_subject(table, ours["mean"], cell["mean"])})
    for kind in ("better_than", "as_good_as"):  # one family per kind of claim (see the module docstring)
        family = [c for c in comps if c["kind"] == kind]
        for comp, adj in zip(family, holm([c["p"] for c in family])):
            comp["p_holm"] = adj
            comp["significant"] = adj < ALPHA
    return comps


def _describe(c: dict) -> str:
    return (f"{c['other']} {fmt(c['theirs']['mean'])}±{fmt(c['theirs']['std'])} (t={c['t']:.2f}, "
            f"p={c['p']:.2g}, Holm p={c['p_holm']:.2g})")


def row_verdicts(table_id: str, tables: dict | None = None) -> list[CheckResult]:
    """One CheckResult per (claim, row, kind) of a table: holds / not-significant / fails / unchecked."""
    tables = tables or load_tables()
    table = tables[table_id]
    comps = table_comparisons(table_id, tables)
    results = []
    header = (f"{table_id} ({table['metric']}, {table['better']} is better; n = {table['seeds']} seeds per "
              f"method, line {table['seeds_line']}; Welch two-sided, Holm over the table's "
              f"{sum(c['kind'] == 'better_than' for c in comps)} 'beats' comparisons"
              + (f" (and separately its {sum(c['kind'] == 'as_good_as' for c in comps)} 'as good as' ones)"
                 if any(c["kind"] == "as_good_as" for c in comps) else "") + f", alpha {ALPHA})")
    for claim in table["claims"]:
        for row_name in claim["rows"]:
            for kind in ("better_than", "as_good_as"):
                mine = [c for c in comps if c["row"] == row_name and c["kind"] == kind]
                if not mine:
                    continue
                ours = mine[0]["ours"]
                against = [c for c in mine if c["significant"] and not c["favours_subject"]]
                weak = [c for c in mine if not (c["significant"] and c["favours_subject"])]
                if against:
                    verdict = "fails"
                    why = "significantly better than AdaMomentum: " + "; ".join(map(_describe, against))
                elif kind == "as_good_as":
                    verdict = "unchecked"
                    why = ("'as good as' is an equivalence claim with no margin, which no test can confirm; "
                           "not significantly different: " + "; ".join(map(_describe, mine)))
                elif not weak:
                    verdict = "holds"
                    closest = max(mine, key=lambda c: c["p_holm"])
                    why = f"better than all {len(mine)} (the closest: {_describe(closest)})"
                else:
                    verdict = "not-significant"
                    why = "not significantly worse than AdaMomentum: " + "; ".join(map(_describe, weak))
                claim_text = "matches" if kind == "as_good_as" else "beats"
                evidence = (f"{row_name}: AdaMomentum {fmt(ours['mean'])}±{fmt(ours['std'])} {claim_text} "
                            f"{', '.join(claim[kind])} (claim, line {claim['quote_line']}) -> {verdict}: {why}. "
                            f"{header}; numbers from line {mine[0]['line']}."
                            + (f" Seeds: {table['seeds_note']}." if table.get("seeds_note") else ""))
                results.append(CheckResult(
                    name=f"check_{table_id.replace('-', '_')}", claim=table_id, verdict=verdict,
                    method="numeric", evidence=evidence,
                    details={"table": table_id, "row": row_name, "kind": kind, "claim_quote": claim["quote"],
                             "claim_line": claim["quote_line"], "seeds": table["seeds"],
                             "seeds_line": table["seeds_line"], "seeds_note": table.get("seeds_note", ""),
                             "comparisons": [{k: c[k] for k in ("other", "ours", "theirs", "t", "dof", "p",
                                                                   "p_holm", "significant", "favours_subject",
                                                                   "line")} for c in mine]}))
            if claim.get("lowest_std"):
                results.append(_lowest_std(table, claim, row_name))
    return results


def _lowest_std(table: dict, claim: dict, row_name: str) -> CheckResult:
    row = next(r for r in table["rows"] if r["row"] == row_name)
    n = table["seeds"]
    ours = row["cells"][SUBJECT_COLUMN]
    others = [m for m in table["columns"] if m != SUBJECT_COLUMN]
    tests = [{"other": m, "std": row["cells"][m]["std"], **variance_f_test(row["cells"][m]["std"], n, ours["std"], n)}
             for m in others]
    for t, adj in zip(tests, holm([t["p"] for t in tests])):
        t["p_holm"] = adj
    against = [t for t in tests if t["p_holm"] < ALPHA and t["std"] < ours["std"]]
    weak = [t for t in tests if not (t["p_holm"] < ALPHA and t["std"] > ours["std"])]
    verdict = "fails" if against else ("not-significant" if weak else "holds")
    shown = "; ".join(f"{t['other']} sd {fmt(t['std'])} (F={t['F']:.2f}, Holm p={t['p_holm']:.2g})"
                      for t in (against or weak or tests))
    literal = all(t["std"] > ours["std"] for t in tests)
    evidence = (f"{row_name}: 'lowest variance' (line {claim['quote_line']}): AdaMomentum's printed sd "
                f"{fmt(ours['std'])} is {'the lowest' if literal else 'not the lowest'} of the table; two-sided "
                f"F test of variances, n = {n} per method, Holm over {len(tests)}: {verdict}: {shown}.")
    return CheckResult(name=f"check_{table['table'].replace('-', '_')}_variance", claim=table["table"],
                       verdict=verdict, method="numeric", evidence=evidence,
                       details={"table": table["table"], "row": row_name, "kind": "lowest_std",
                                "tests": tests, "literal_lowest": literal})


def table_checks() -> list[tuple[str, object]]:
    """(claim id, check) pairs for :func:`proofs_check.ledger.symbolic_checks`; each check returns
    a list of CheckResults (one per claim row)."""
    def make(table_id):
        def check():
            return row_verdicts(table_id)
        check.__name__ = f"check_{table_id.replace('-', '_')}"
        return check
    return [(table_id, make(table_id)) for table_id in load_tables()]
