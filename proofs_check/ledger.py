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
4. else any claim-scoped ``not-significant`` -> ``not-significant`` (a comparison claim tested on the
   paper's own numbers whose difference is within the noise: not supported, not refuted; see
   :mod:`proofs_check.tables`);
5. else, when every usable row is step-scoped -> ``unchecked`` (reason "only proof steps checked",
   naming failed steps): proof steps, proved or false, are not evidence about the statement;
6. else ``proved`` when at least one claim-scoped row is ``proved`` and every other claim-scoped row
   is ``proved`` or ``holds`` (measurement agrees with the proof);
7. else ``holds`` (claim-scoped numeric/simulation support; failed proof steps stay in the evidence);
8. no usable row -> ``unchecked``, with the reason: the evidence of the inconclusive ("unchecked")
   rows when there are any, else the error of each experiment expected to feed the claim
   (``missing``), else the claim's own ``unchecked`` text (a definition, or a result quoted from
   another paper: what would check it), else "no check".
A source listed in a claim's ``sources`` that did not run only changes the *reason* of a claim that
is unchecked anyway; it never turns a verdict to unchecked by itself.

Verdict rules for the rows (what each source must establish before it emits a verdict):

- ``fails``: an instance that meets *every* hypothesis as printed (each one verified true on the
  run by a monitor) on which the conclusion is violated; the instance is the evidence (for a
  search, the replayable case file). A false proof step is ``fails`` at step scope only.
- ``assumption-violated``: only when instances meeting the hypotheses were searched for (the row
  says how hard: instances tried, the fraction on which the hypotheses held, time) and none
  violated the conclusion, while the method the paper applies the statement to breaks a hypothesis
  (the row names it and where it breaks).
- ``unsatisfiable``: the hypotheses cannot hold together; the evidence names its scope ("at the
  minimum", "for every alpha < 2", "for every finite-variance noise") and, where a search exists,
  shows whether the hypotheses can hold outside that scope.
- ``not-significant``: a "best" claim against the paper's tables whose Holm-corrected Welch test is
  not significant (``fails`` when a competitor is significantly better, ``holds`` when AdaMomentum
  is significantly better than every competitor named).
- ``proved`` / ``holds``: a symbolic proof / a numeric or simulation agreement on the statement.
- ``consistency-*`` claims compare a main-text statement with its use in the appendix: ``fails``
  with a witness on which the two differ, quoting both (line numbers of the OCR text).
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
    {"id": "sec3.1-limiting-stepsizes", "where": "Section 3.1", "sources": ["proofs", "search"],
     "statement": "Near the end of training (vhat' ~ 0, far below eps) the stepsizes are ~sqrt(1-b2) a/sqrt(eps) "
                  "(AdaMomentum) and a/eps (Adam)."},
    {"id": "sec3.1-stepsize-ordering", "where": "Section 3.1", "sources": ["proofs", "toys", "search"],
     "statement": "sqrt(1-b2) a/sqrt(eps) << a/eps: moving eps inside the sqrt makes AdaMomentum's stepsize "
                  "smaller near minima."},
    {"id": "sec3.1-area-A", "where": "Section 3.1, Figure 1", "sources": ["toys"],
     "statement": "Plateau to slope: Adam's stepsize shrinks while AdaMomentum's stays large (|m| lags |g|)."},
    {"id": "sec3.1-area-B", "where": "Section 3.1, Figure 1", "sources": ["toys"],
     "statement": "Steep slope: |m_t| gradually becomes as large as |g_t|."},
    {"id": "sec3.1-area-C", "where": "Section 3.1, Figure 1", "sources": ["proofs", "toys"],
     "statement": "Slope to basin: AdaMomentum's stepsize stays smaller than Adam's (|m| > |g|)."},
    {"id": "definition-1", "where": "Section 3.2, Definition 1", "sources": ["proofs"],
     "statement": "Radon measure: a Borel measure on a Hausdorff space, inner regular on open sets, outer regular "
                  "on Borel sets, finite on compact sets.",
     "unchecked": "a definition (the standard one, after Simon 1983): nothing to prove; its use in Lemma 1 is "
                  "checked in lemma-1-measure"},
    {"id": "definition-2", "where": "Section 3.2, Definition 2", "sources": ["proofs"],
     "statement": "Escaping time Gamma = inf{t : theta_t not in Omega_(-upsilon^gamma)}; escaping set "
                  "Upsilon = {y : R^-1 Sigma_theta* y in Omega_(-upsilon^gamma)}.",
     "unchecked": "a definition: nothing to prove; its use in Appendix B.3 is checked in consistency-escape-set"},
    {"id": "consistency-escape-set", "where": "Definition 2 vs Appendix B.3 (lines 208-210, 808)", "sources": ["proofs"],
     "statement": "The escaping set of Definition 2 is the set Appendix B.3 computes with."},
    {"id": "lemma-1", "where": "Section 3.2, Lemma 1", "sources": ["escape", "search"],
     "statement": "Under Assumptions 1-3, E(escape time) = Theta(upsilon / m(Upsilon))."},
    {"id": "lemma-1-side-conditions", "where": "Section 3.2, Lemma 1 (line 229)", "sources": ["proofs"],
     "statement": "The log condition ln(2 Delta/(mu upsilon^(1/3))) <= 2 mu tau (b1 - b2/4)/(b1 v+ + mu tau) can hold "
                  "together with Assumption 3 (satisfiable; for which starts theta0 in Omega_(-2 upsilon^gamma) "
                  "is in the evidence)."},
    {"id": "lemma-1-measure", "where": "Section 3.2, Lemma 1 (line 231)", "sources": ["proofs"],
     "statement": "m is a non-zero Radon measure with m(U) < m(V) if U is a subset of V."},
    {"id": "consistency-lemma-1-log-condition", "where": "Lemma 1 vs Theorem 3 (lines 229, 663)", "sources": ["proofs"],
     "statement": "Lemma 1's log condition is the one of Theorem 3, from which the appendix derives it."},
    {"id": "assumption-1", "where": "Section 3.2", "sources": ["escape"],
     "statement": "f non-negative, upper bounded, locally mu-strongly convex in the basin."},
    {"id": "assumption-2", "where": "Section 3.2", "sources": ["nonconvex"],
     "statement": "grad f is L-Lipschitz."},
    {"id": "assumption-3", "where": "Section 3.2", "sources": ["escape", "search"],
     "statement": "m_t aligned with grad f, b1 <= b2 <= 2 b1, sqrt(v_t) in (v-, v+), tracking bounds."},
    {"id": "assumption-4", "where": "Section 3.2", "sources": ["nonconvex"],
     "statement": "||grad f(theta_t)|| <= H and ||g_t|| <= H for all t."},
    {"id": "assumption-5", "where": "Section 3.2", "sources": ["proofs", "escape", "search"],
     "statement": "For t > T0, diag(Sigma_t) <= b1 E(m_{t-1}^2) / (2 - b1)."},
    {"id": "proposition-1", "where": "Section 3.2, Proposition 1 (App. B.3)", "sources": ["proofs", "escape", "search"],
     "statement": "In a flat/asymmetric basin, E Gamma(AdaMomentum) >= E Gamma(Adam)."},
    # Section 3.2 on real data (simulations/training; copied here, as proofs_check imports no experiment).
    {"id": "sec3.2-sas-premise", "where": "Section 3.2", "sources": ["training"],
     "statement": "Minibatch gradient noise of a real network is symmetric alpha-stable with alpha < 2."},
    {"id": "sec3.2-flatter-minima", "where": "Section 3.2 (conclusion)", "sources": ["training"],
     "statement": "AdaMomentum converges to flatter minima than Adam."},
    {"id": "sec3.2-generalize-better", "where": "Section 3.2 (conclusion), Section 5", "sources": ["training"],
     "statement": "The minima AdaMomentum finds generalize better than Adam's (higher test accuracy)."},
    {"id": "proposition-1-real-loss", "where": "Section 3.2, Proposition 1", "sources": ["training"],
     "statement": "Near a minimum of a real training loss, AdaMomentum stays longer than Adam (E Gamma larger)."},
    {"id": "theorem-3", "where": "Appendix B.2, Theorem 3 (line 662)", "sources": ["proofs"],
     "statement": "Under Assumptions 1-3 and the log condition, (1-rho)/(1+u+rho) <= E exp(-u m(Upsilon) "
                  "Theta(upsilon^-1) Gamma) <= (1+rho)/(1+u-rho) (adapted from Zhou et al. 2020, Theorem 1).",
     "unchecked": "adapted from Zhou et al. (2020); checking it needs their Levy-SDE exit-time analysis. Its "
                  "consequence (Lemma 1's scaling) is measured by the escape experiment; its log condition is "
                  "compared with Lemma 1's in consistency-lemma-1-log-condition"},
    {"id": "theorem-4", "where": "Appendix B.2.2, Theorem 4 (line 696)", "sources": ["proofs"],
     "statement": "Zhou et al. (2020): the Lyapunov function of the Levy-free SDE (6) decays exponentially, "
                  "||theta_t - theta*||^2 <= 2 Delta exp(-2 mu tau (b1 - b2/4) t/(b1 v+ + mu tau)) (OCR garbled).",
     "unchecked": "quoted from Zhou et al. (2020); would be checked by integrating the Levy-free SDE (6) on a "
                  "strongly convex quadratic and comparing ||theta_t - theta*||^2 with the printed rate (the "
                  "extracted exponent is garbled, lines 700-706)"},
    {"id": "lemma-2", "where": "Appendix B.2.2, Lemma 2 (line 710)", "sources": ["proofs"],
     "statement": "Zhou et al. (2020): decomposition of the small-jump Levy part into a martingale and a drift, "
                  "with tail estimates.",
     "unchecked": "quoted from Zhou et al. (2020) (text garbled in the OCR); would be checked against their "
                  "statement and by Monte Carlo of the truncated alpha-stable process (simulations/levy.py)"},
    {"id": "lemma-3", "where": "Appendix B.2.2, Lemma 3 (line 720)", "sources": ["proofs"],
     "statement": "Zhou et al. (2020): exponential tail bound for stochastic integrals against the martingale part.",
     "unchecked": "quoted from Zhou et al. (2020); would be checked against their statement and by Monte Carlo"},
    {"id": "lemma-4", "where": "Appendix B.2.2, Lemma 4 (line 732)", "sources": ["proofs"],
     "statement": "Zhou et al. (2020): before the first big jump, the SDE (3) stays within 2 upsilon^delta of the "
                  "Levy-free path (6) with probability >= 1 - 2 exp(-upsilon^-p).",
     "unchecked": "quoted from Zhou et al. (2020); would be checked by coupling simulations of (3) and (6)"},
    {"id": "theorem-1", "where": "Section 4.1, Theorem 1 (App. C.1.1)", "sources": ["proofs", "regret", "search"],
     "statement": "Online convex regret bound, O~(sqrt(T)), assuming v_t <= v_{t+1} and gamma = b1/sqrt(b2) < 1."},
    {"id": "theorem-1-rate", "where": "Section 4.1, after Theorem 1 (line 277)", "sources": ["proofs"],
     "statement": "Theorem 1 implies that the regret of AdaMomentum is O~(sqrt(T))."},
    {"id": "consistency-diameter", "where": "Theorem 1 vs Appendix C.1.1 (lines 269, 1024-1060)", "sources": ["proofs"],
     "statement": "The diameter hypothesis of Theorem 1 (between iterates) is what its proof uses."},
    {"id": "consistency-eps", "where": "Algorithm 1 / Section 4 vs Appendix C (lines 262, 1105-1108)", "sources": ["proofs"],
     "statement": "The v_t of the Section 4 proofs is Algorithm 1's v_t without bias correction (eps kept)."},
    {"id": "sec4-debiased-adaptation", "where": "Section 4 (lines 262-263)", "sources": ["proofs"],
     "statement": "The analysis without the bias corrections can be easily adapted to the de-biased version."},
    {"id": "corollary-1", "where": "Section 4.1, Corollary 1 (App. C.1.2)", "sources": ["proofs", "regret", "search"],
     "statement": "With b1_t = b1 lam^t and bounded gradients, R(T)/T = O(1/sqrt(T)) with explicit constants."},
    {"id": "corollary-1-rate", "where": "Section 4.1, Corollary 1 (line 282)", "sources": ["proofs"],
     "statement": "The printed bound gives R(T)/T = O(1/sqrt(T))."},
    {"id": "corollary-1-vanishing-regret", "where": "Section 4.1, after Corollary 1 (line 285)", "sources": ["proofs"],
     "statement": "The average regret of AdaMomentum converges to zero as T goes to infinity."},
    {"id": "consistency-beta1-schedule", "where": "Theorem 1 vs Corollary 1 (lines 267, 281, 1118)", "sources": ["proofs"],
     "statement": "Corollary 1's schedule b1_t = b1 lam^t meets Theorem 1's hypothesis b1_1 = b1."},
    {"id": "theorem-2", "where": "Section 4.2, Theorem 2 (App. C.2.2)", "sources": ["proofs", "nonconvex", "search"],
     "statement": "Nonconvex: min_t E||grad f||^2 <= (Q1 + Q2 eta(T)) / (T a_T)."},
    {"id": "theorem-2-conditions", "where": "Section 4.2, after Theorem 2 (lines 297-298)", "sources": ["proofs"],
     "statement": "The conditions in Theorem 2 can be satisfied in most scenarios, e.g. alpha_t = alpha/sqrt(t), "
                  "beta1,t = 1/t (as extracted)."},
    {"id": "consistency-eta", "where": "Theorem 2 vs Corollary 2's proof (lines 290, 1252)", "sources": ["proofs"],
     "statement": "Theorem 2's hypothesis on eta(T) (printed: sum_t alpha_t <= eta(T)) is the one Corollary 2 uses."},
    {"id": "corollary-2", "where": "Section 4.2, Corollary 2 (App. C.2.3)", "sources": ["proofs", "nonconvex", "search"],
     "statement": "With a_t = a/sqrt(t): min_t E||grad f||^2 <= (Q1 + Q2 log T)/sqrt(T)."},
    {"id": "corollary-2-rate", "where": "Section 4.2, after Corollary 2 (line 304)", "sources": ["proofs", "search"],
     "statement": "Corollary 2 manifests the O(log(T)/sqrt(T)) convergence rate."},
    {"id": "theorem-5", "where": "Appendix C.2.1, Theorem 5 (line 1143)", "sources": ["proofs"],
     "statement": "Chen et al. (2019): the bound (20) on E sum_t alpha_t <grad f, grad f/sqrt(v_t)> for Adam-type "
                  "methods, and min_t E||grad f||^2 = O(s1(T)/s2(T)).",
     "unchecked": "quoted from Chen et al. (2019, Theorem 3.1); would be checked against their statement. Its "
                  "constants C1..C4 are theory.bounds.chen_constants and the nonconvex experiment measures "
                  "Theorem 2's bound, which rests on it"},
    {"id": "lemma-5", "where": "Appendix C.2.4, Lemma 5 (line 1266)", "sources": ["proofs"],
     "statement": "Chen et al. (2019): the auxiliary sequence z_t = theta_t + b1_t/(1-b1_t) (theta_t - theta_(t-1)) "
                  "and its increment.",
     "unchecked": "quoted from Chen et al. (2019); an algebraic identity of the update that sympy could check "
                  "(not done: the extracted formula is garbled, lines 1266-1289)"},
    {"id": "lemma-6", "where": "Appendix C.2.4, Lemma 6 (line 1290)", "sources": ["proofs"],
     "statement": "Chen et al. (2019): E[f(z_(t+1)) - f(z_t)] <= sum of the terms T1..T6.",
     "unchecked": "quoted from Chen et al. (2019), a step of Theorem 5's proof; would be checked against their paper"},
    {"id": "lemma-7", "where": "Appendix C.2.4, Lemma 7 (line 1325)", "sources": ["proofs"],
     "statement": "Chen et al. (2019): bound on T1.",
     "unchecked": "quoted from Chen et al. (2019), a step of Theorem 5's proof; would be checked against their paper"},
    {"id": "lemma-8", "where": "Appendix C.2.4, Lemma 8 (line 1332)", "sources": ["proofs"],
     "statement": "Chen et al. (2019): bound on T3.",
     "unchecked": "quoted from Chen et al. (2019), a step of Theorem 5's proof; would be checked against their paper"},
    {"id": "lemma-9", "where": "Appendix C.2.4, Lemma 9 (line 1346)", "sources": ["proofs"],
     "statement": "Chen et al. (2019): bound on T4.",
     "unchecked": "quoted from Chen et al. (2019), a step of Theorem 5's proof; would be checked against their paper"},
    {"id": "lemma-10", "where": "Appendix C.2.4, Lemma 10 (line 1351)", "sources": ["proofs"],
     "statement": "Chen et al. (2019): bound on T5.",
     "unchecked": "quoted from Chen et al. (2019), a step of Theorem 5's proof; would be checked against their paper"},
    {"id": "lemma-11", "where": "Appendix C.2.4, Lemma 11 (line 1380)", "sources": ["proofs"],
     "statement": "Chen et al. (2019): bound on T2.",
     "unchecked": "quoted from Chen et al. (2019), a step of Theorem 5's proof; would be checked against their paper"},
    {"id": "sec5.1.1-toy-fastest", "where": "Section 5.1.1, Figure 2", "sources": ["toys"],
     "statement": "AdaMomentum reaches the optimum fastest on Sphere, Three-Hump Camel, Beale and Ackley."},
    {"id": "table-2", "where": "Section 5.1.2, Table 2 (lines 326-348)", "sources": ["proofs"],
     "statement": "SN-GAN on CIFAR-10: AdaMomentum outperforms all the best tuned baselines in FID by a large margin."},
    {"id": "sec5.2-default-setting", "where": "Section 5.2 (lines 390-392), Tables 7-12", "sources": ["proofs"],
     "statement": "alpha = 0.001, beta1 = 0.9, beta2 = 0.999 works well in most cases (AdaMomentum is tuning-friendly)."},
    {"id": "table-3", "where": "Section 5.2.1, Table 3 (lines 395-412)", "sources": ["proofs"],
     "statement": "CIFAR-10: AdaMomentum is as good as SGDM and far exceeds the other adaptive methods in test accuracy."},
    {"id": "table-4", "where": "Section 5.2.1, Table 4 (lines 401-449)", "sources": ["proofs"],
     "statement": "ImageNet: AdaMomentum outperforms all the competitors, including SGDM, in top-1 accuracy."},
    {"id": "table-5", "where": "Section 5.2.2, Table 5 (lines 440-456)", "sources": ["proofs"],
     "statement": "Penn Treebank: AdaMomentum achieves the lowest perplexity in all settings, by a considerable margin."},
    {"id": "table-6", "where": "Section 5.2.3, Table 6 (lines 463-471)", "sources": ["proofs"],
     "statement": "IWSLT'14 DE-EN: AdaMomentum achieves the highest average BLEU score with the lowest variance."},
    {"id": "memory-cost", "where": "Section 1", "sources": ["proofs"],
     "statement": "AdaMomentum has no additional memory cost (over Adam)."},
    {"id": "appendix-d-little-tuning", "where": "Appendix D (lines 1489-1493), abstract (line 78), Tables 7-12",
     "sources": ["proofs"],
     "statement": "The default setting is universally ample for AdaMomentum: little tuning effort is needed "
                  "(a superiority over the baselines)."},
]
CLAIM_IDS = tuple(c["id"] for c in CLAIMS)
_BY_ID = {c["id"]: c for c in CLAIMS}


def symbolic_checks() -> list[tuple[str, object]]:
    """Every check of this package as (claim id, zero-argument callable returning a CheckResult)."""
    from proofs_check import eps_placement as eps, escape_proof as esc, family_form as fam
    from proofs_check import memory, nonconvex_proof as nc, paper_claims, regret_proof as reg, tables

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
        *paper_claims.paper_claim_checks(), *tables.table_checks(),
    ]


def _call(check, subject, baseline):
    """Run a check, passing ``subject`` / ``baseline`` to the checks that compare two methods."""
    params = inspect.signature(check).parameters
    kwargs = {k: v for k, v in (("subject", subject), ("baseline", baseline)) if k in params}
    return check(**kwargs)


def symbolic_rows(checks: list | None = None, subject=DEFAULT_SUBJECT, baseline=DEFAULT_BASELINE) -> list[dict]:
    """Run every sympy/numeric check; a check that raises gives an "unchecked" row with the error.
    A check returns one CheckResult or a list of them (the table checks: one per "best" claim row).

    Checks that compare two methods take ``subject`` and ``baseline`` (names or update rules);
    the others are about the paper's printed formulas and ignore them."""
    rows = []
    for claim, check in symbolic_checks() if checks is None else checks:
        start = time.perf_counter()
        name = getattr(check, "__name__", str(check))
        try:
            result = _call(check, subject, baseline)
            new = [r.as_row() for r in (result if isinstance(result, list) else [result])]
        except Exception as err:  # one broken check must not hide the others
            new = [{"claim": claim, "verdict": "unchecked", "method": "symbolic",
                    "evidence": f"check {name} raised {type(err).__name__}: {err}",
                    "details": {"check": name, "traceback": traceback.format_exc(limit=4)}}]
        for row in new:  # a check may return several rows (one per table row); each carries the time
            row["details"]["seconds"] = round(time.perf_counter() - start, 3)
        rows.extend(new)
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
    for dominant in ("unsatisfiable", "fails", "assumption-violated", "not-significant"):
        if dominant in verdicts:
            return dominant
    if not on_claim:
        return "unchecked"
    if "proved" in verdicts:
        return "proved"
    return "holds"


def _unchecked_reason(claim: dict, missing: dict[str, str]) -> str:
    if claim.get("unchecked"):  # a statement no check here can decide (a definition, a cited result)
        return claim["unchecked"]
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
    # a step-scoped row never decides a verdict by itself (rule 4), so prefer a claim-scoped one
    claim_scoped = [r for r in deciding if (r.get("details") or {}).get("scope", "claim") != "step"]
    return (claim_scoped or deciding or entry["rows"])[0]["evidence"] if entry["rows"] else ""


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
             "simulation), fails (reproducible counterexample), assumption-violated, unsatisfiable, not-significant "
             "(a comparison within the noise of the paper's own numbers), unchecked. "
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
