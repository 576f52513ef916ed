"""Ledger rows of the regret experiment: claims ``theorem-1`` and ``corollary-1`` for one subject.

The rows are about the subject (default ``adamomentum``, the paper's method) and, for that
default only, about ``adamomentum-max`` (:data:`MAX_MEMBER`), the registry member for which Theorem 1's hypothesis
v_t <= v_{t+1} holds by construction, so that the conclusion is tested where every hypothesis
holds; plus Theorem 1 read literally (the statement's D_inf). Only runs without bias correction
count (the method the theorem analyses). The claims compare no two methods, so the baseline is
carried in the record but enters no row. A subject other than the default is named in its rows'
evidence; the claim ids stay the same.
"""
from __future__ import annotations

import math

from theory.family import REGISTRY

DEFAULT_SUBJECT, DEFAULT_BASELINE = "adamomentum", "adam"
MAX_MEMBER = "adamomentum-max"  # a claim about this registry member's structure (running max of v)


def unique(names) -> tuple:
    """Names (or rules) without repeats, first occurrence kept, compared by name."""
    seen, out = set(), []
    for item in names:
        key = getattr(item, "name", item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return tuple(out)


def theorem_members(subject=DEFAULT_SUBJECT) -> tuple:
    """The methods the theorem rows are about: the subject, and, for the paper's subject,
    :data:`MAX_MEMBER` (AdaMomentum with the max, where the hypothesis v_t <= v_{t+1} holds by
    construction). Another subject's verdicts rest on its own runs only."""
    if getattr(subject, "name", subject) != DEFAULT_SUBJECT:
        return (subject,)
    return unique((subject, MAX_MEMBER))


def subject_of(record: dict) -> tuple[str, str]:
    """(subject, baseline) a record was made for (the defaults for records that do not say)."""
    config = record.get("config") or {}
    return config.get("subject", DEFAULT_SUBJECT), config.get("baseline", DEFAULT_BASELINE)


def _theorem_summaries(record: dict, member: str, corollary: bool) -> list[dict]:
    out = []
    for s in record["results"]["summaries"]:
        if s["member"] != member or s["bias_correction"] or "theorem1" not in s:
            continue
        decays = s["optimizer"]["beta1_decay"] is not None and s["optimizer"]["beta1_decay"] < 1
        if decays or not corollary:  # Theorem 1 covers every run, Corollary 1 the decaying beta1_t
            out.append(s)
    return out


def _unchecked_reasons(record: dict, member: str) -> list[str]:
    """Why the bound was not evaluated for ``member``'s runs without bias correction (rules outside
    the registry that could not honour a setting, or that have no second moment)."""
    reasons = [s["theorem1_unchecked"] for s in record["results"]["summaries"]
               if s["member"] == member and not s["bias_correction"] and s.get("theorem1_unchecked")]
    return list(dict.fromkeys(reasons))


def _reddi_note(r: dict) -> str:
    fit = r.get("linear_rate_fit") or {}
    return (f"Reddi problem (T={r['steps']}, lr={r['lr']}): x_tail={r['x_tail_mean']:.3f} (x*=-1), "
            f"R(T)/T={r['avg_regret']:.4f} vs drift r={r['drift_rate']:.4f}; fit R(t) = a t + b sqrt(t) + c "
            f"over [T/100, T]: a={_fmt(fit.get('a'))} (95% lower bound {_fmt(fit.get('a_low'))}, "
            f"test a_low >= r/2); local growth exponent of R over the last two decades "
            f"{_fmt(r.get('local_growth_exponent'))} at T, "
            f"{_fmt(r.get('local_growth_exponent_at_T_over_10'))} at T/10 (reported, not tested): "
            + ("non-vanishing (x at the wrong end, linear part of R >= r/2)" if r['non_vanishing']
               else "x at the wrong end but regret not shown non-vanishing at this T" if r['to_plus_one']
               else "not at the wrong end"))


def _counterexample_note(record: dict, member: str) -> str:
    search = record["results"].get("search") or {}
    found = [c for c in search.get("counterexamples", []) if c["member"] == member and not c["bias_correction"]]
    reddi = [r for r in (record["results"].get("reddi") or {}).get("rows", [])
             if r["member"] == member and not r["bias_correction"]]
    parts = [_reddi_note(r) for r in reddi]
    if search:
        parts.append(f"search: {len(found)} confirmed non-vanishing-regret configs without bias correction")
    return "; ".join(parts)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _max_finite(values) -> float | None:
    """max over the values that are not None/NaN (+inf kept); None when none are left."""
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return max(kept) if kept else None


def _verdict(runs: int, hyp: int, viol: int) -> str:
    if runs == 0:
        return "unchecked"
    if viol > 0:
        return "fails"
    if hyp < runs:
        return "assumption-violated"
    return "holds"


def _eps_accumulates(member: str) -> bool:
    """Does the registry member put eps inside its EMA (where it accumulates to eps/(1-beta2))?"""
    m = REGISTRY.get(member)
    return m is not None and m.eps_mode in ("inside", "both")


def _verdict_row(claim: str, member: str, summaries: list[dict], note: str, corollary: bool,
                 prefix: str = "", reasons: list[str] | None = None) -> dict:
    key = "corollary1" if corollary else "theorem1"
    runs = sum(s["seeds"] for s in summaries)
    hyp = sum(s[key]["runs_hypotheses_hold"] for s in summaries)
    viol = sum(s[key]["violations_where_hypotheses_hold"] for s in summaries)
    v_fail = sum(s["monitors"]["v_nondecreasing"]["details"]["runs_failing"] for s in summaries)
    max_ratio = _max_finite(s["theorem1"]["max_ratio_regret_to_rhs"] for s in summaries)
    bound = "R(T)/T <= Corollary 1 bound" if corollary else "R(T) <= Theorem 1 RHS"
    evidence = (f"{prefix}{member}, no bias correction: {runs} runs in {len(summaries)} configs; hypotheses held on "
                f"{hyp}; {bound} violated on {viol} of those; v_t <= v_{{t+1}} failed on {v_fail} runs; "
                f"max R/RHS(Thm 1, over finite RHS > 0) = {_fmt(max_ratio)}")
    if corollary:
        vg = sum(s["monitors"]["v_below_G_squared"]["details"]["runs_failing"] for s in summaries)
        evidence += f"; the proof's step v_(t,i) <= G_inf^2 failed on {vg} runs"
        if _eps_accumulates(member):
            evidence += " (eps accumulated inside v adds up to eps/(1-beta2))"
    if reasons:
        evidence += "; the right-hand side was not evaluated: " + " | ".join(reasons)
    if note:
        evidence += f". {note}"
    details = {"member": member, "configs": [{"preset": s["preset"], "problem": s["problem"]["name"],
                                              "avg_regret": s["avg_regret"], key: s[key],
                                              "v_nondecreasing": s["monitors"]["v_nondecreasing"]["holds"]}
                                             for s in summaries]}
    if reasons:
        details["unchecked"] = reasons
    return {"claim": claim, "verdict": _verdict(runs, hyp, viol), "method": "simulation", "evidence": evidence,
            "details": details}


def _literal_violations(record: dict, members) -> dict:
    """Tallies of Theorem 1 read literally over the theorem members' runs (see :func:`_literal_statement_row`)."""
    tally = {"bad": 0, "runs": 0, "where": [], "ratios": [], "proof_bad": 0}
    for member in members:
        for s in _theorem_summaries(record, member, False):
            th = s["theorem1"]
            tally["runs"] += th["runs_hypotheses_hold"]
            tally["proof_bad"] += th["violations_where_hypotheses_hold"]
            tally["ratios"].append(th.get("literal_max_ratio_where_hypotheses_hold"))
            if th["literal_diameter_violations"]:
                tally["bad"] += th["literal_diameter_violations"]
                tally["where"].append({"preset": s["preset"], "member": member,
                                       "runs": th["literal_diameter_violations"],
                                       "max_ratio": th.get("literal_max_ratio_where_hypotheses_hold"),
                                       "D_iterates": th["D_iterates"], "D_to_optimum": th["D_to_optimum"],
                                       "problem": s["problem"], "optimizer": s["optimizer"], "seed": s["seed"]})
    return tally


def _literal_statement_row(record: dict, members, prefix: str = "") -> dict:
    """Theorem 1 read literally: D_inf bounds only ||theta_m - theta_n||_inf over the iterates.

    The proof (eqs. 13-16) uses |theta_{t,i} - theta*_i| <= D_inf; theta* need not be an iterate.
    Every literal hypothesis must hold, including beta1_1 = beta1: the RHS is evaluated with
    beta1 := beta1_1 = beta1 * lam (the schedule that ran is beta1_1 lam^(t-1)), which only shrinks
    it. Runs whose other hypotheses hold are checked with D_inf = their iterate diameter.
    """
    t = _literal_violations(record, members)
    bad, runs, where, proof_bad = t["bad"], t["runs"], t["where"], t["proof_bad"]
    verdict = "unchecked" if runs == 0 else ("fails" if bad else "holds")
    listed = ", ".join(f"{w['preset']}/{w['member']}: {w['runs']} runs, max {_fmt(w['max_ratio'])}" for w in where)
    evidence = (f"{prefix}Theorem 1 as literally stated (D_inf = max_(m,n) ||theta_m - theta_n||_inf over iterates "
                f"only; beta1 := beta1_1 = beta1*lambda so that the stated beta1_1 = beta1 holds, with the schedule "
                f"that ran, beta1_1 lambda^(t-1), and an RHS no larger than with the nominal beta1): R(T) > RHS on "
                f"{bad} of {runs} runs whose literal hypotheses held; max R/RHS(literal) = "
                f"{_fmt(_max_finite(t['ratios']))}"
                + (f" ({listed}); "
                   "the proof needs D_inf >= max_t ||theta_t - theta*||_inf, with which "
                   + ("no run violates the bound" if proof_bad == 0 else f"{proof_bad} runs still violate it")
                   if bad else ""))
    return {"claim": "theorem-1", "verdict": verdict, "method": "simulation", "evidence": evidence,
            "details": {"member": "statement-literal-diameter", "violations": where}}


def ledger_rows(record: dict, subject: str | None = None, baseline: str | None = None) -> list[dict]:
    """theorem-1 and corollary-1 rows for the subject and :data:`MAX_MEMBER`, plus the literal-D_inf row.

    ``subject`` defaults to the one the record was made for (:func:`subject_of`). ``baseline`` is
    accepted like every experiment's ``ledger_rows`` takes it; no regret claim compares two methods.
    """
    subject = subject_of(record)[0] if subject is None else getattr(subject, "name", subject)
    members = theorem_members(subject)
    named = subject != DEFAULT_SUBJECT  # a subject other than the paper's is named in its rows
    rows = []
    for member in members:
        lead = "subject " if named and member == subject else ""
        note = _counterexample_note(record, member)
        reasons = _unchecked_reasons(record, member)
        rows.append(_verdict_row("theorem-1", member, _theorem_summaries(record, member, False), note, False,
                                 lead, reasons))
        rows.append(_verdict_row("corollary-1", member, _theorem_summaries(record, member, True), "", True,
                                 lead, reasons))
    rows.append(_literal_statement_row(record, members, f"subject {subject}: " if named else ""))
    return rows
