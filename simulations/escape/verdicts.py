"""Claims-ledger rows of Section 3.2: lemma-1, proposition-1, assumption-1, assumption-3, assumption-5.

Each row is about a subject against a baseline (defaults: AdaMomentum, the paper's method, against
Adam); the claim ids stay the same for any pair (the ledger is built for one subject at a time) and
a row about another pair says so at the start of its evidence. Verdict rules: a conclusion is tested
only where its hypotheses hold on the runs; where they do not, the verdict is
``assumption-violated`` and the evidence still gives the numbers. A hypothesis the runs could not
check (a read-out the subject's rule lacks, or runs it cannot make: eq. (3) needs a registry
member) makes the verdict ``unchecked`` with the reason, never a failure.
"""
from __future__ import annotations

from simulations.escape.summary import DEFAULT_BASELINE, DEFAULT_SUBJECT, all_hold, assumptions_hold, display_name


def comparison(record: dict) -> tuple[str, str]:
    """(subject, baseline) of a record (the defaults where the record does not say)."""
    config = record.get("config") if isinstance(record.get("config"), dict) else {}
    return config.get("subject") or DEFAULT_SUBJECT, config.get("baseline") or DEFAULT_BASELINE


def ledger_rows(record: dict, subject: str | None = None, baseline: str | None = None) -> list[dict]:
    """Claims-ledger rows for lemma-1, proposition-1, assumption-1, assumption-3, assumption-5.

    ``subject`` / ``baseline`` default to the record's (``config.subject`` / ``config.baseline``),
    else to adamomentum / adam."""
    rec_subject, rec_baseline = comparison(record)
    subject, baseline = subject or rec_subject, baseline or rec_baseline
    res = record["results"]
    rows = []
    lemma = res.get("lemma1", {})
    if lemma:
        rows.append(_lemma1_row(res, lemma) if lemma.get("runs") else _lemma1_not_run(lemma))
    prop = res.get("prop1", {}).get("summary", {}).get("table", [])
    if prop:
        rows.append(_prop1_row(prop, subject, baseline))
        rows.append(_a1_row(prop))
        rows.append(_a3_row(res, prop, subject, baseline))
        rows.append(_a5_row(res, prop, subject))
    if (subject, baseline) != (DEFAULT_SUBJECT, DEFAULT_BASELINE):
        about = f"[subject {subject}, baseline {baseline}] "
        rows = [{**row, "evidence": about + row["evidence"], "subject": subject, "baseline": baseline}
                for row in rows]
    return rows


# ---- Lemma 1 ------------------------------------------------------------------------------------

def _lemma1_not_run(lemma: dict) -> dict:
    skipped = lemma.get("skipped", {})
    reasons = sorted(set(skipped.values()))
    return {"claim": "lemma-1", "verdict": "unchecked", "method": "simulation",
            "evidence": "Lemma 1 is checked on eq. (3) (sde), and no sde run could be made: "
                        + ("; ".join(reasons) if reasons else "no runs"),
            "details": {"skipped": skipped}}


def _lemma1_conditions(lemma: dict, fits: dict) -> tuple[bool | None, dict, dict, list]:
    a_ok = all_hold(assumptions_hold(r["results"][k]["assumptions"], a5=False)
                    for r in lemma["runs"] for k in r["results"])
    viol = {k: max((r["results"][k]["assumptions"]["assumption-3-direction"]["violation_rate"]
                    for r in lemma["runs"] if "assumption-3-direction" in r["results"][k]["assumptions"]),
                   default=float("nan")) for k in fits}
    cfgs = [_cfg(r) for r in lemma["runs"]]
    ups = [c["noise_coefficient"] or c["lr"] ** (1 - 1 / c["tail_index"]) for c in cfgs]
    conditions = {
        "assumptions_1_3_hold_on_every_run": a_ok,
        "assumption-3-direction_violation_rate": viol,
        "upsilon_range": [min(ups), max(ups)],
        "fixed": {"lr": sorted({c["lr"] for c in cfgs}), "dt": sorted({c["dt"] or c["lr"] for c in cfgs}),
                  "alpha": sorted({c["tail_index"] for c in cfgs}), "warmup": sorted({c["warmup"] for c in cfgs})},
        "note": "Lemma 1 is an upsilon -> 0 statement; only this finite range is tested",
    }
    return a_ok, viol, conditions, cfgs


def _lemma1_row(res: dict, lemma: dict) -> dict:
    fits = lemma["summary"]["fits"]
    preds = lemma["summary"]["predicted_exponents"]
    stated = [v for k, v in preds.items() if k.startswith("lemma-1")]
    n_ups = len(lemma["runs"])
    # a fit decides nothing unless every upsilon has an estimate (a dropped point is the most
    # censored one, so the slope would be biased) and a residual degree of freedom checks the line
    missing = [k for k, f in fits.items() if not _fit_usable(f, n_ups)]
    consistent = all(any(f["low"] <= s <= f["high"] for s in stated) for k, f in fits.items() if k not in missing)
    a_ok, viol, conditions, cfgs = _lemma1_conditions(lemma, fits)
    ups = conditions["upsilon_range"]
    ip = res.get("ip", {}).get("summary", {}).get("exponent_vs_noise_scale")
    alpha = cfgs[0]["tail_index"]
    evidence = (f"sde, sharp quadratic basin, alpha={alpha:g}, lr={cfgs[0]['lr']:g} (dt, moment rates fixed), "
                f"upsilon in [{ups[0]:.3g}, {ups[1]:.3g}]: exponent of E Gamma in upsilon "
                + "; ".join(_fit_text(k, f, n_ups) for k, f in fits.items())
                + (f"; no usable fit (needs every upsilon estimated and dof >= 1) for {', '.join(missing)}"
                   if missing else "")
                + f"; Lemma 1 as stated predicts {preds['lemma-1 as stated']:+g} "
                f"({preds['lemma-1 with nu(upsilon-scaled set)']:+g} with nu of the scaled set), the exit-time "
                f"asymptotics {preds['imkeller-pavlyukevich']:+g}"
                + (f"; flow exponent vs noise scale {_slope_ci(ip)}" if ip else "")
                + "; Assumption 3 direction condition violated at rate "
                + ", ".join(f"{k} {v:.2f}" for k, v in viol.items()))
    if a_ok is False:
        verdict = "assumption-violated"
    elif a_ok is None or missing or not fits:
        verdict = "unchecked"
    else:
        verdict = "holds" if consistent else "fails"
    return {"claim": "lemma-1", "verdict": verdict, "method": "simulation", "evidence": evidence,
            "details": {"fits": fits, "predicted_exponents": preds, "assumptions_hold": a_ok,
                        "conditions": conditions, "missing_fits": missing,
                        "exponent_consistent_with_statement": consistent}}


# ---- Proposition 1 and its assumptions ------------------------------------------------------------

def _prop1_verdict(prop: list[dict]) -> tuple[str, dict]:
    # Proposition 1 claims only "flat basin or asymmetric valley": sharp regimes are context.
    scope = [r for r in prop if _regime(r["key"]) in ("flat", "asymmetric")]
    held = [r for r in scope if r["assumptions_hold"] and r["ratio"]]
    unknown = [r for r in scope if r["assumptions_hold"] is None]
    above = [r for r in held if r["ratio"]["low"] >= 1.0]
    below_any = [r for r in scope if r["ratio"] and r["ratio"]["high"] < 1.0]
    if held:
        bad = [r for r in held if r["ratio"]["high"] < 1.0]
        if bad:
            verdict = "fails"
        elif len(above) == len(held):
            verdict = "holds"
        else:
            verdict = "unchecked"  # some interval straddles 1 (or is a bound that does not decide)
    elif unknown:
        verdict = "unchecked"  # the hypotheses could not be checked for this subject
    elif below_any:
        verdict = "assumption-violated"  # contrary data only where the hypotheses fail
    else:
        verdict = "assumption-violated" if scope else "unchecked"
    return verdict, {"scope": scope, "held": held, "above": above, "below_any": below_any}


def _prop1_row(prop: list[dict], subject: str, baseline: str) -> dict:
    verdict, parts = _prop1_verdict(prop)
    scope, held, above, below_any = parts["scope"], parts["held"], parts["above"], parts["below_any"]
    faster = [r for r in prop if r["ratio"] and r["ratio"]["high"] < 1.0]
    subj, base = display_name(subject), display_name(baseline)
    a5_key = f"a5_{subject}"
    evidence = (f"E Gamma({subj})/E Gamma({base}), 95% CI (flat/asymmetric in scope; sharp = context): "
                + "; ".join(f"{r['key']}{'' if r in scope else ' [context]'} {_fmt(r['ratio'])}" for r in prop)
                + f". {subj} escapes faster (CI < 1) in {len(faster)}/{len(prop)} regimes "
                f"({len(below_any)}/{len(scope)} in scope); CI >= 1 in {len(above)}; "
                f"all assumptions hold in {len(held)}/{len(scope)} in-scope regimes (A3's direction condition fails in "
                f"{sum(1 for r in prop if max(v or 0 for v in r['a3_direction_violation_rate'].values()) > 0)}/{len(prop)}, "
                f"A5 in {sum(1 for r in prop if not r[a5_key])}/{len(prop)}). Mean R ({base} vs {subj}): "
                + "; ".join(f"{r['key']} {_r(r['r_mean'])}" for r in prop[:3]))
    return {"claim": "proposition-1", "verdict": verdict, "method": "simulation", "evidence": evidence,
            "details": {"table": prop}}


def _a1_row(prop: list[dict]) -> dict:
    a1 = all(r["a1"] for r in prop)
    return {"claim": "assumption-1", "verdict": "holds" if a1 else "fails", "method": "numeric",
            "evidence": "escape basins (quadratic, asymmetric piecewise quadratic): f >= 0, bounded on the "
                        "closed basin, mu = min curvature > 0; the driftless 'none' basin (Getoor check "
                        "only) has mu = 0 and is not used for Lemma 1 / Proposition 1",
            "details": {r["key"]: r["a1"] for r in prop}}


def _direction_state(row: dict, label: str) -> bool | None:
    """Assumption 3's direction condition for one method in one regime: True (no negative sample),
    False (some, or not monitored at all), None (reported unchecked: a read-out is missing)."""
    rate = row["a3_direction_violation_rate"][label]
    if rate is None:
        return None if label in row.get("a3_unchecked", {}) else False
    return rate == 0


def _a3_row(res: dict, prop: list[dict], subject: str, baseline: str) -> dict:
    a3 = [(r["key"], r["a3_direction_violation_rate"]) for r in prop]
    betas = all(r["a3_betas"] for r in prop)
    direction = all_hold(_direction_state(r, k) for r in prop for k in r["a3_direction_violation_rate"])
    if not betas or direction is False:
        verdict = "fails"
    elif direction is None:
        verdict = "unchecked"  # the direction condition could not be formed for one of the methods
    else:
        verdict = "holds"
    return {"claim": "assumption-3", "verdict": verdict, "method": "simulation",
            "evidence": f"beta1 <= beta2 <= 2 beta1 {'holds' if betas else 'fails'} "
                        f"({_betas(res)}); <grad f/(1+f), q R^-1 m> >= 0 a.e. {verdict}: "
                        "negative at a fraction of (path, time) samples of "
                        + "; ".join(f"{k} {baseline} {_rate(v[baseline])} / {subject} {_rate(v[subject])}"
                                    for k, v in a3)
                        + ". The bounds v-, v+ and tau_m are not falsifiable on finite runs (ranges recorded)",
            "details": {"direction_violation_rate": dict(a3)}}


def _a5_row(res: dict, prop: list[dict], subject: str) -> dict:
    a5_key = f"a5_{subject}"
    a5_where = [r["key"] for r in prop if r[a5_key]]
    holds = all_hold(None if r[a5_key] is None else bool(r[a5_key]) for r in prop)
    verdict = "unchecked" if holds is None else ("holds" if holds else "fails")
    return {"claim": "assumption-5", "verdict": verdict, "method": "simulation",
            "evidence": f"{display_name(subject)}, alpha={_alphas(res)}: Var(noise) is infinite for alpha < 2 (so is "
                        f"E m^2); checked with the surrogate (E|X|^p)^(2/p), p = alpha/3, on both sides. Holds on the "
                        f"last half of the run in {len(a5_where)}/{len(prop)} regimes"
                        + (f" ({', '.join(a5_where)})" if a5_where else "")
                        + "; fraction of checks holding (last half): "
                        + "; ".join(f"{r['key']} {_rate(r['a5_fraction_last_half'])}" for r in prop)
                        + ". At a minimum with i.i.d. finite-variance noise, stationary E m^2 = "
                          "(1-b1)/(1+b1) Var < (2-b1)/b1 Var for every b1, so it cannot hold there",
            "details": {"holds_in": a5_where}}


# ---- formatting -----------------------------------------------------------------------------------

def _fmt(ci: dict | None, digits: int = 3) -> str:
    if ci and ci.get("estimate") is None and ci.get("one_sided") == "lower":
        return f"> {ci['low']:.{digits}g} (one-sided, Bonferroni 95%)"
    if ci and ci.get("estimate") is None and ci.get("high") is not None:
        return f"< {ci['high']:.{digits}g} (one-sided, Bonferroni 95%)"
    if not ci or ci.get("estimate") is None:
        return "n/a"
    return f"{ci['estimate']:.{digits}g} [{ci['low']:.{digits}g}, {ci['high']:.{digits}g}]"


def _fit_usable(fit: dict | None, n_points: int) -> bool:
    """A slope decides a verdict only when it used every point and has dof >= 1 (hence an interval)."""
    if not fit or fit.get("low") is None or fit.get("high") is None or fit.get("dof", 0) < 1:
        return False
    return fit.get("points", 0) >= max(n_points, fit.get("points_total", 0))


def _slope_ci(fit: dict) -> str:
    if fit.get("low") is None:
        return f"{fit['slope']:.3g} (no interval: dof 0)"
    return _fmt({"estimate": fit["slope"], "low": fit["low"], "high": fit["high"]})


def _fit_text(label: str, fit: dict | None, n_points: int) -> str:
    if not fit:
        return f"{label} no fit (< 2 of {n_points} upsilons estimated)"
    return (f"{label} {_slope_ci(fit)} ({fit['points']}/{fit.get('points_total', n_points)} upsilons estimated, "
            f"chi2/dof {fit['chi2']:.2g}/{fit['dof']})")


def _cfg(run: dict) -> dict:
    c = run["config"]
    if isinstance(c, dict):
        return {"noise_coefficient": None, "dt": None, **c}
    return {f: getattr(c, f) for f in c.__dataclass_fields__}


def _regime(key: str) -> str:
    """'sde:flat/noise-dominated' -> 'flat'."""
    return key.split(":")[-1].split("/")[0]


def _betas(res: dict) -> str:
    pairs = sorted({(_cfg(r)["beta1"], _cfg(r)["beta2"]) for r in res.get("prop1", {}).get("runs", [])})
    return ", ".join(f"beta1={b1:g}, beta2={b2:g}" for b1, b2 in pairs) or "n/a"


def _alphas(res: dict) -> str:
    vals = sorted({_cfg(r)["tail_index"] for r in res.get("prop1", {}).get("runs", [])})
    return "/".join(f"{a:g}" for a in vals) or "n/a"


def _r(r_mean: dict) -> str:
    return ", ".join(f"{k} {v[0]:.3g}" if v else f"{k} n/a" for k, v in r_mean.items())


def _rate(value) -> str:
    return "unchecked" if value is None else f"{value:.2f}"
