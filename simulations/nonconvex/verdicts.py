"""Verdict rules of the nonconvex runs and the claims-ledger rows for Theorem 2 / Corollary 2.

Verdict rules (per rule and problem, Theorem 2's setting; the numbers come from
:mod:`simulations.nonconvex.summary`):

* on T <= T_valid (the last horizon before the first violation of a monitored hypothesis) the
  measured min_t E||grad f||^2 (interval [lo, hi]) is compared with the right-hand side:
  ``fails`` if lo exceeds the conservative right-hand side at some T (a reproducible
  counterexample under every reading of the garbled constants; never when L is only estimated, as
  on ``mlp``: that case is ``exceeds-rhs-with-estimated-L`` and the rule's verdict ``unchecked``);
  ``holds`` if hi is below the reading-independent floor H_low E_low/(T alpha_T) at every T, where
  H_low (largest gradient norm seen) and E_low = f(theta_1) - min observed f are lower bounds of
  the smallest valid H and of E[f(theta_1) - f*]; else ambiguous (:func:`bound_status`);
* rule verdict: fails > unchecked (exceeds an RHS built on an estimated L) > assumption-violated
  (T_valid < steps) > holds > unchecked (:func:`member_verdict`). A rule without the read-outs
  Theorem 2's hypotheses need is ``unchecked`` with the reason.

The claim rows report the subject (default: AdaMomentum, Algorithm 1, as the paper states it)
and name the baseline's verdicts (default: Adam); ``adamomentum-max`` (the registry member for
which the stepsize hypothesis holds by construction) and the other rules are in the details. The
Assumption 2 / 4 rows are about the problems, over every rule that ran.
"""
from __future__ import annotations

import numpy as np

DEFAULT_SUBJECT, DEFAULT_BASELINE = "adamomentum", "adam"
# the registry member whose alpha_t/sqrt(v_t) is non-increasing by construction (running max of v)
MAX_VARIANT = "adamomentum-max"


def bound_status(lo, hi, floor, rhs_cons, valid, L_certified: bool = True) -> str:
    if not valid.any():
        return "no-valid-horizon"
    if np.any(lo[valid] > rhs_cons[valid]):
        # with an estimated (secant, i.e. lower) L the right-hand side may be too small: no counterexample
        return "fails" if L_certified else "exceeds-rhs-with-estimated-L"
    if np.all(hi[valid] <= floor[valid]):
        return "holds"
    return "ambiguous"


def member_verdict(status: str, hyp_hold_full: bool) -> str:
    if status == "fails":
        return "fails"
    if status == "exceeds-rhs-with-estimated-L":
        return "unchecked"
    if not hyp_hold_full:
        return "assumption-violated"
    return "holds" if status == "holds" else "unchecked"


# ---- ledger rows ---------------------------------------------------------------------------

def subject_and_baseline(record: dict, subject: str | None = None, baseline: str | None = None) -> tuple[str, str]:
    """The subject and baseline: the arguments, else the record's, else the defaults."""
    results = record.get("results") or {}
    config = record.get("config") if isinstance(record.get("config"), dict) else {}
    subject = subject or results.get("subject") or config.get("subject") or DEFAULT_SUBJECT
    baseline = baseline or results.get("baseline") or config.get("baseline") or DEFAULT_BASELINE
    return subject, baseline


def _paper_runs(record: dict) -> list[dict]:
    return [r for r in record["results"]["runs"]
            if (r.get("config") or {}).get("stepsize", "paper") == "paper"]


def _combine(verdicts: list[str]) -> str:
    if not verdicts:
        return "unchecked"
    for v in ("fails", "assumption-violated"):
        if v in verdicts:
            return v
    return "holds" if all(v == "holds" for v in verdicts) else "unchecked"


def _fmt(x) -> str:
    return f"{float(x):.3g}"


def _checked_runs(record: dict, claim: str, subject: str) -> list[dict]:
    """The paper-setting runs in which the subject has a verdict other than unchecked on ``claim``."""
    return [r for r in _paper_runs(record) if subject in r["members"]
            and "verdict" in r["members"][subject]
            and r["members"][subject]["verdict"].get(claim, "unchecked") != "unchecked"]


def _run_text(r: dict, claim: str, subject: str) -> str:
    """One run's sentence of the evidence: the subject's measured minimum against the right-hand side."""
    m = r["members"][subject]
    T = m["T"][-1]
    rhs = m["rhs"][claim]
    step = m["monitors"]["stepsize-nonincreasing"]
    text = (f"{r['problem']}: min_t E||grad f||^2 at T={T}: {_fmt(m['min_mean_grad_sq'][-1])} "
            f"(95% CI [{_fmt(m['min_mean_grad_sq_ci'][0][-1])}, {_fmt(m['min_mean_grad_sq_ci'][1][-1])}]) vs RHS floor "
            f"{_fmt(rhs['floor'][-1])}, RHS {_fmt(rhs['rhs'][-1])}; hypotheses hold up to T={m['T_valid']}"
            f" (alpha_t/sqrt(v_t) rose in {100 * step['violation_rate']:.2g}% of checks, first at t="
            f"{step['first_violation_step']}); bound on T<=T_valid: {rhs['status_on_valid_range']}"
            + ("" if (r.get("constants") or {}).get("L") is not None
               else " (L only estimated by secant ratios: no 'fails' possible)"))
    if claim == "corollary-2" and m.get("fit"):
        f = m["fit"]
        text += (f"; fitted slope {_fmt(f['slope'])} (95% seed-bootstrap interval [{_fmt(f['slope_low'])}, "
                 f"{_fmt(f['slope_high'])}]) vs envelope {_fmt(f['envelope_slope'])} on T in {f['fit_range']}")
    return text


def _run_details(r: dict, claim: str) -> dict:
    """Every rule's verdict, T_valid and fitted slope in one run."""
    others = {}
    for name, mm in r["members"].items():
        if "verdict" in mm and claim in mm["verdict"]:
            others[name] = {"verdict": mm["verdict"][claim], "T_valid": mm["T_valid"],
                            "slope": (mm.get("fit") or {}).get("slope")}
    return others


def _head(record: dict, subject: str) -> str:
    if subject == DEFAULT_SUBJECT:
        return ("AdaMomentum (Algorithm 1, no bias correction, alpha_t = alpha/sqrt t, "
                f"{_seeds(record)} seeds, 95% CIs over seeds).")
    return (f"Subject {subject} (bias correction off where the rule honours it, alpha_t = alpha/sqrt t, "
            f"{_seeds(record)} seeds, 95% CIs over seeds).")


def _why_unchecked(record: dict, subject: str) -> str:
    """Why no run checked the claim for the subject."""
    whys = sorted({r["members"][subject]["verdict"]["why"] for r in _paper_runs(record)
                   if subject in r["members"] and "why" in r["members"][subject].get("verdict", {})})
    if not any(subject in r["members"] for r in _paper_runs(record)) and subject != DEFAULT_SUBJECT:
        return f" No run checked this claim ({subject} was not among the optimizers run)."
    if whys and subject != DEFAULT_SUBJECT:
        return f" No run checked this claim for {subject}: {'; '.join(whys)}."
    return " No run checked this claim (none in Theorem 2's setting with a known H)."


def _rule_notes_text(record: dict, subject: str) -> str:
    notes = sorted({n for r in record["results"]["runs"] for n in (r.get("rule_notes") or {}).get(subject, [])})
    return f" Rule notes for {subject}: {'; '.join(notes)}." if notes else ""


def _claim_row(record: dict, claim: str, subject: str = DEFAULT_SUBJECT, baseline: str = DEFAULT_BASELINE) -> dict:
    runs = _checked_runs(record, claim, subject)
    verdict = _combine([r["members"][subject]["verdict"][claim] for r in runs])
    parts = [_run_text(r, claim, subject) for r in runs]
    details = {r["problem"]: _run_details(r, claim) for r in runs}
    evidence = _head(record, subject)
    evidence += (" " + "; ".join(parts) + ".") if parts else _why_unchecked(record, subject)
    maxv = {p: d[MAX_VARIANT]["verdict"] for p, d in details.items() if MAX_VARIANT in d}
    if maxv and subject != MAX_VARIANT:
        evidence += f" {MAX_VARIANT} (running max of v): " + ", ".join(f"{p} {v}" for p, v in maxv.items()) + "."
    base = {p: d[baseline]["verdict"] for p, d in details.items() if baseline in d}
    if base and baseline != subject:
        evidence += f" Baseline {baseline}: " + ", ".join(f"{p} {v}" for p, v in base.items()) + "."
    evidence += _rule_notes_text(record, subject)
    if claim == "corollary-2":
        cal = _calibration(record)
        if cal:
            details["calibration"] = cal
            evidence += (f" Rate-fit calibration, SGD on a quadratic with alpha/sqrt t: fitted slope "
                         f"{_fmt(cal['slope'])} [{_fmt(cal['slope_low'])}, {_fmt(cal['slope_high'])}] vs the "
                         f"closed-form curve's {_fmt(cal['closed_form_fit_slope'])}, "
                         f"closed-form curve inside the pointwise CI at {100 * cal['inside']:.0f}% of T.")
    details["subject"], details["baseline"] = subject, baseline
    return {"claim": claim, "verdict": verdict, "method": "simulation", "evidence": evidence, "details": details}


def _seeds(record: dict) -> int:
    runs = _paper_runs(record)
    return (runs[0].get("config") or {}).get("seeds", 0) if runs else 0


def _calibration(record: dict) -> dict | None:
    """The rate fit of plain SGD on the quadratic next to its closed form (the run that has one)."""
    for r in _paper_runs(record):
        for m in r["members"].values():
            if "closed_form" in m and m.get("fit"):
                return {"slope": m["fit"]["slope"], "slope_low": m["fit"]["slope_low"],
                        "slope_high": m["fit"]["slope_high"], "inside": m["closed_form"]["fraction_inside_ci"],
                        "closed_form_fit_slope": (m["closed_form"]["fit"] or {}).get("slope")}
    return None


def _assumption_parts(r: dict) -> tuple[str | None, bool, str, bool]:
    """(Assumption 2 text, its failure, Assumption 4 text, its failure) for one run, every rule."""
    const = r["constants"]
    secant = max(m["L_secant"] for m in r["members"].values())
    outside = sum(m["outside_box"] for m in r["members"].values())
    a2_bad = False
    if const["L"] is not None:
        a2_bad = not (secant <= const["L"] and outside == 0)
        a2 = (f"{r['problem']}: L = {_fmt(const['L'])} ({const['L_source']}), largest secant "
              f"ratio on the runs {_fmt(secant)}" + (f", {outside} iterates left the box" if outside else ""))
    else:
        a2 = f"{r['problem']}: no global L; largest secant ratio {_fmt(secant)} (used as L)"
    viol = sum(m["monitors"]["grad-bound"]["violations"] + m["monitors"]["true-grad-bound"]["violations"]
               for m in r["members"].values())
    checked = sum(m["monitors"]["grad-bound"]["checked"] for m in r["members"].values())
    gmax = max(m["measured"]["max_grad_norm"] for m in r["members"].values())
    H_text = _fmt(const["H"]) if const["H"] is not None else "state-dependent"
    a4 = (f"{r['problem']}: H = {H_text} ({const['H_source']}); max ||g|| seen {_fmt(gmax)}, "
          f"{viol} violations in {checked} checks")
    return a2, a2_bad, a4, viol > 0


def _assumption_rows(record: dict) -> list[dict]:
    a2_parts, a4_parts, a2_bad, a4_bad = [], [], False, False
    for r in _paper_runs(record):
        if r["problem"] == "quadratic":
            continue
        a2, bad2, a4, bad4 = _assumption_parts(r)
        a2_parts.append(a2)
        a4_parts.append(a4)
        a2_bad |= bad2
        a4_bad |= bad4
    rows = []
    if a2_parts:
        rows.append({"claim": "assumption-2", "verdict": "fails" if a2_bad else "holds", "method": "numeric",
                     "evidence": "L-smoothness on the nonconvex problems. " + "; ".join(a2_parts)})
    if a4_parts:
        rows.append({"claim": "assumption-4", "verdict": "fails" if a4_bad else "holds", "method": "numeric",
                     "evidence": "Gradient bound H on the nonconvex problems (every member, every step). "
                                 + "; ".join(a4_parts)})
    return rows


def ledger_rows(record: dict, subject: str | None = None, baseline: str | None = None) -> list[dict]:
    """Claims-ledger rows (theorem-2, corollary-2, assumption-2, assumption-4) from a record.

    ``subject`` / ``baseline`` default to the record's (``results["subject"]``), else
    adamomentum / adam."""
    subject, baseline = subject_and_baseline(record, subject, baseline)
    rows = [_claim_row(record, "theorem-2", subject, baseline), _claim_row(record, "corollary-2", subject, baseline)]
    return rows + _assumption_rows(record)
