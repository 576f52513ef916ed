"""Proposition 1 (Appendix B.3): Assumption 5, the step E(v~) >= E(v), the ellipsoid volume and
the monotonicity of the escape set.

Setting of the proof: theta ~ theta*, grad f(theta*) = 0, so g_t = zeta_t (the noise), Adam's
v = E g^2 = E zeta^2 and AdaMomentum's v~ = E m_t^2 with m_t = b1 m_{t-1} + (1-b1) zeta_t.
Assumption 5: diag(Sigma_t) <= b1 E(m_{t-1}^2) / (2 - b1) for t > T0.

The symbolic checks are about the proof as printed (AdaMomentum's k_t = m against Adam's k_t = g);
:func:`check_variance_order_at_minimum` measures any ``subject`` against any ``baseline`` (names or
update rules, through :mod:`theory.rule`; defaults AdaMomentum and Adam).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import sympy as sp

from proofs_check import subjects
from proofs_check.eps_placement import stationary_k_square
from proofs_check.result import CheckResult, fmt
from theory.family import Hyper
from theory.rule import member_of, second_moment
from theory.stats import mean_ci

b1 = sp.Symbol("beta1", positive=True)
M, S, rho = sp.symbols("M S rho", positive=True)  # E m_{t-1}^2, E zeta^2, AR(1) correlation


def paper_assumption_5_factor(beta):
    return beta / (2 - beta)


def check_assumption_5_implies_order(factor: Callable = paper_assumption_5_factor) -> CheckResult:
    """E v~ - E v = b1^2 M + (1-b1)^2 S - S (cross term 0: zeta_t independent of m_{t-1}, mean 0).
    Assumption 5 (S <= factor M) implies E v~ >= E v iff factor <= b1/(2-b1)."""
    gap = sp.factor(sp.expand(b1**2 * M + (1 - b1) ** 2 * S - S))
    # Worst case under the assumption: S = factor * M.
    worst = sp.factor(sp.simplify(gap.subs(S, factor(b1) * M)))
    u = sp.Symbol("u", positive=True)  # b1 = 1/(1+u) spans (0, 1)
    worst_sign = sp.simplify(worst.subs(b1, 1 / (1 + u)) / M)
    grid = [k / 100 for k in range(1, 100)]
    numeric_min = min(float(worst_sign.subs(u, 1 / q - 1)) for q in grid)
    expressions = {"E v~ - E v": gap, "at S = factor M": worst}
    exact = sp.simplify(worst_sign) == 0  # the factor is exactly the paper's b1/(2-b1)
    if exact:
        return CheckResult("assumption5-implies-order", "proposition-1", "proved", "symbolic",
                           f"E v~ - E v = {gap} = b1^2 (M - (2-b1)/b1 S): S <= b1/(2-b1) M holds iff E v~ >= E v, so "
                           f"Assumption 5 is exactly the condition the step needs (an equivalence, sympy).",
                           scope="step", expressions=expressions)
    if worst_sign.is_nonnegative:
        return CheckResult("assumption5-implies-order", "proposition-1", "proved", "symbolic",
                           f"E v~ - E v = {gap}; at S = {factor(b1)} M it is {worst} >= 0 (sympy), so this assumption "
                           f"implies E v~ >= E v; it is sufficient but stronger than needed (not an equivalence: the "
                           f"exact condition is S <= b1/(2-b1) M).", scope="step", expressions=expressions)
    verdict = "fails" if numeric_min < 0 else "unchecked"
    return CheckResult("assumption5-implies-order", "proposition-1", verdict, "symbolic" if verdict == "fails" else "numeric",
                       f"With S <= {factor(b1)} M the gap E v~ - E v can be negative: {worst} "
                       f"(min over b1 grid {fmt(numeric_min)} M).", scope="step", expressions=expressions)


def stationary_momentum_second_moment(correlation=0):
    """E m^2 / s^2 at stationarity for zero-mean noise with AR(1) correlation rho^|k| (rho = 0: i.i.d.).
    m = (1-b1) sum_k b1^k zeta_{t-k}, so E m^2 = (1-b1)^2 s^2 sum_{k,l} b1^(k+l) rho^|k-l|."""
    r = sp.sympify(correlation)
    return sp.factor(sp.simplify((1 - b1) ** 2 * (1 + b1 * r) / ((1 - b1**2) * (1 - b1 * r))))


def check_assumption_5_satisfiable(factor: Callable = paper_assumption_5_factor) -> CheckResult:
    """Can S <= factor * E m^2 hold at theta* with nonzero noise? Derive E m^2 for i.i.d. and AR(1)
    noise, and the general bound E m_t^2 <= max_j E zeta_j^2 (any correlation)."""
    x = sp.Symbol("x", positive=True)
    fixed_point = sp.solve(sp.Eq(x, b1**2 * x + (1 - b1) ** 2), x)[0]  # E m^2 / s^2, i.i.d.
    iid = stationary_momentum_second_moment(0)
    ar1 = stationary_momentum_second_moment(rho)
    need_iid = sp.factor(sp.simplify(1 - factor(b1) * iid))  # > 0 means unsatisfiable for s > 0
    need_ar1 = sp.factor(sp.simplify(1 - factor(b1) * ar1))
    u, w = sp.Symbol("u", positive=True), sp.Symbol("w", positive=True)
    iid_positive = sp.simplify(need_iid.subs(b1, 1 / (1 + u))).is_positive
    # AR(1) on rho in (-1, 1), b1 in (0, 1): dense grid (the closed form is a rational function).
    f_ar1 = sp.lambdify((b1, rho), need_ar1, "numpy")
    bg, rg = np.meshgrid(np.linspace(0.01, 0.999, 300), np.linspace(-0.999, 0.999, 300))
    ar1_min = float(np.min(f_ar1(bg, rg)))
    # Any correlation: m_t = sum_j w_j zeta_j with sum w_j = 1 - b1^t <= 1, so
    # E m_t^2 <= (sum_j w_j sigma_j)^2 (Minkowski); with a_t = sum_j w_j sigma_j (an EMA of the
    # sigma_j) Assumption 5 gives sigma_t <= sqrt(factor) a_{t-1} and a_t = b1 a_{t-1} + (1-b1) sigma_t
    # <= (b1 + (1-b1) sqrt(factor)) a_{t-1}: a contraction when factor < 1, so a_t -> 0 and sigma_t -> 0.
    factor_max = max(float(factor(sp.Float(q))) for q in np.linspace(0.0, 0.9999, 500))
    expressions = {"E m^2 / s^2 (i.i.d., fixed point)": fixed_point, "E m^2 / s^2 (AR(1))": ar1,
                   "1 - factor * E m^2/s^2 (i.i.d.)": need_iid, "1 - factor * E m^2/s^2 (AR(1))": need_ar1}
    unsat = bool(iid_positive) and ar1_min > 0 and factor_max < 1
    at = float(iid.subs(b1, 0.9))
    if unsat:
        return CheckResult("assumption5-satisfiable", "assumption-5", "unsatisfiable", "symbolic",
                           f"At theta* (grad f = 0) with i.i.d. noise of variance s^2, E m^2 = (1-b1)/(1+b1) s^2 "
                           f"({at:.3g} s^2 at b1 = 0.9); Assumption 5 then reads s^2 <= b1(1-b1)/((2-b1)(1+b1)) s^2, "
                           f"i.e. {need_iid} s^2 <= 0: only s = 0. AR(1) noise, any rho in (-1, 1): E m^2/s^2 = {ar1} "
                           f"< 1 and the requirement still fails (min margin {ar1_min:.3g} > 0). Any noise with "
                           f"finite variance (Assumption 4 bounds g, so it has): m_t = sum_j w_j zeta_j, so sqrt(E m_t^2) <= "
                           f"a_t = sum_j w_j sigma_j, an EMA of the sigma_j; the assumption gives sigma_t <= "
                           f"sqrt(f) a_(t-1) with f = b1/(2-b1) < 1, hence a_t <= (b1 + (1-b1) sqrt(f)) a_(t-1) with "
                           f"b1 + (1-b1) sqrt(f) = {0.9 + 0.1 * math.sqrt(0.9 / 1.1):.3g} < 1 at b1 = 0.9: a_t -> 0 and "
                           f"sigma_t -> 0, i.e. Sigma_theta* = 0. Larger "
                           f"batches scale s^2 and E m^2 alike and cannot help. Heavy-tailed SaS noise (alpha < 2) "
                           f"has no variance: both sides are infinite.", expressions=expressions,
                           details={"iid_Em2_over_s2_at_b1_0.9": at, "ar1_min_margin": ar1_min})
    return CheckResult("assumption5-satisfiable", "assumption-5", "holds", "symbolic",
                       f"With this factor the assumption can hold with nonzero noise (i.i.d. margin {need_iid}, "
                       f"AR(1) min margin {ar1_min:.3g}, max factor {factor_max:.3g}).", expressions=expressions)


def sas_noise(alpha: float, h: float = 10.0) -> dict:
    """eq. (3)'s noise, symmetric alpha-stable with unit scale: its density is positive on all of R for
    every alpha in (0, 2] (alpha = 2: Gaussian of variance 2), so its support is unbounded; the tail
    mass two-sided at |zeta| > h is computed with scipy (a numeric witness, not the proof)."""
    from scipy.stats import levy_stable

    return {"support_radius": math.inf, "tail": float(2 * levy_stable.sf(h, alpha, 0.0)), "h": h}


def check_sas_scale_version(alphas=(0.5, 0.8, 1.0, 1.2, 1.5, 1.8, 2.0), beta1: float = 0.9,
                            noise_model: Callable = sas_noise, steps: int = 10**6) -> CheckResult:
    """Assumption 4 (||g_t|| <= H for every t) against the noise model of eq. (3) at theta*, where
    g_t = zeta_t: with i.i.d. noise whose support is unbounded, P(|zeta_t| > H) = p > 0 for every H and
    P(max_{t<=T} |zeta_t| <= H) = (1-p)^T -> 0, so no H works. The verdict is computed from
    ``noise_model(alpha)["support_radius"]`` for each alpha (bounded noise: no conflict). Also reports
    Assumption 5 read with SaS scales (m's scale is sigma ((1-b1)^alpha / (1-b1^alpha))^(1/alpha))."""
    rows = []
    for al in alphas:
        noise = noise_model(al)
        scale_ratio = ((1 - beta1) ** al / (1 - beta1**al)) ** (1 / al)
        p = noise["tail"]
        exceed = 1 - (1 - p) ** steps if p > 0 else 0.0
        rows.append({"alpha": al, "support_radius": noise["support_radius"], "tail_beyond_h": p, "h": noise["h"],
                     "p_exceed_h_within_steps": exceed, "assumption_4_possible": math.isfinite(noise["support_radius"]),
                     "scale_m_over_scale_zeta": scale_ratio,
                     "assumption_5_scale_form_holds": beta1 / (2 - beta1) * scale_ratio**2 >= 1})
    conflict = [r["alpha"] for r in rows if not r["assumption_4_possible"]]
    ok_scale = [r["alpha"] for r in rows if r["assumption_5_scale_form_holds"]]
    scales = ", ".join(f"alpha={r['alpha']}: {r['scale_m_over_scale_zeta']:.3g}" for r in rows)
    tails = ", ".join(f"alpha={r['alpha']}: {r['tail_beyond_h']:.3g}" for r in rows)
    scale_text = (f"Reading Assumption 5 with SaS scales instead, scale(m)/scale(zeta) at b1={beta1} is {scales}; the "
                  f"scale form holds only for alpha in {ok_scale or 'none'} (alpha < 1, where (1-b1)^alpha + b1^alpha "
                  f"> 1), outside the range alpha ~ 1.1-1.9 measured for SGD/Adam noise.")
    if len(conflict) == len(rows):
        return CheckResult("sas-noise-vs-assumptions", "proposition-1", "unsatisfiable", "numeric",
                           f"Proposition 1 assumes Assumption 4 (||g_t|| <= H for all t) and the SaS noise of eq. (3), "
                           f"alpha in (0, 2]; at theta* g_t = zeta_t. For every alpha checked ({list(alphas)}, Gaussian "
                           f"alpha = 2 included) the noise support is unbounded, so P(|zeta_t| > H) = p > 0 for every "
                           f"H and the bound fails almost surely over infinitely many steps: P(|zeta| > {rows[0]['h']:g} "
                           f"scales) = {tails}; within {steps:g} steps the chance of exceeding it is "
                           f"{min(r['p_exceed_h_within_steps'] for r in rows):.3g} or more. The two hypotheses cannot "
                           f"hold together. " + scale_text, details={"rows": rows})
    compatible = [r["alpha"] for r in rows if r["assumption_4_possible"]]
    return CheckResult("sas-noise-vs-assumptions", "proposition-1", "holds", "numeric",
                       f"With this noise model the support is bounded for alpha in {compatible} (radius "
                       f"{max(r['support_radius'] for r in rows if r['assumption_4_possible']):.3g}), so Assumption 4 "
                       f"can hold with H >= sup ||grad f|| + that radius; unbounded for {conflict or 'none'}. "
                       + scale_text, details={"rows": rows})


# E k^2 / s^2 at stationarity for i.i.d. noise, as printed in evidence (k = g, m, g - m; EMA momentum).
K_SQUARE_TEXT = {"grad": "1", "momentum": "(1-b1)/(1+b1)", "belief": "2 b1^2/(1+b1)"}


def _stationary_v(rule, beta1: float):
    """(E v / s^2, its formula) of a registry member whose v is the EMA of k_t^2 with EMA momentum
    (Prop. 1's setting, grad f = 0, i.i.d. noise); None for a max, Yogi or non-member rule."""
    member = member_of(rule)
    if (member is None or not member.adaptive or member.max_v or getattr(member, "v_update", "ema") != "ema"
            or (member.k != "grad" and member.momentum != "ema") or member.k not in K_SQUARE_TEXT):
        return None
    return stationary_k_square(member.k, beta1), K_SQUARE_TEXT[member.k]


def _predicted_ratio(rules: dict, beta1: float):
    """(value, formula) of E v(subject) / E v(baseline) at stationarity, or (None, None)."""
    s, b = _stationary_v(rules["subject"], beta1), _stationary_v(rules["baseline"], beta1)
    if s is None or b is None:
        return None, None
    formula = s[1] if b[1] == "1" else f"[{s[1]}]/[{b[1]}]"
    return s[0] / b[0], formula


def _eps_free_hyper(rule, hyper: Hyper) -> Hyper:
    """Members run at the check's eps (their eps part of v is known and removed); any other rule runs
    at eps = 0, since where it puts eps is unknown and v without eps is the quantity compared."""
    return hyper if member_of(rule) is not None else hyper.with_(eps=0.0)


def _debiased_v(rule, state, hyper: Hyper, beta2: float, steps: int):
    """The stored second moment debiased by 1 - b2^t, minus the eps a member accumulates in it
    (eps/(1-b2) after debiasing, for eps inside the EMA). Returns (tensor, eps_removed)."""
    v = second_moment(rule, state) / subjects.bias_correction(beta2, steps)
    if member_of(rule) is not None and member_of(rule).eps_mode in ("inside", "both"):
        return v - hyper.eps / (1 - beta2), True
    return v, member_of(rule) is None


def check_variance_order_at_minimum(beta1: float = 0.9, beta2: float = 0.999, eps_value: float = 1e-8,
                                    noise_std: float = 0.1, coords: int = 1000, steps: int = 2000,
                                    seed: int = 0, subject=subjects.DEFAULT_SUBJECT,
                                    baseline=subjects.DEFAULT_BASELINE) -> CheckResult:
    """Subject and baseline (default theory.family AdaMomentum and Adam) at theta* (g = noise), same
    noise: the subject's stored v (debiased, eps part removed) over the baseline's. The proof claims
    >= 1 (R_AdaM >= R_Adam)."""
    rules = {"subject": subjects.resolve(subject), "baseline": subjects.resolve(baseline)}
    hyper = Hyper(lr=1e-3, beta1=beta1, beta2=beta2, eps=eps_value)
    hypers = {k: _eps_free_hyper(r, hyper) for k, r in rules.items()}
    details = subjects.comparison_details(rules["subject"], rules["baseline"], subjects.rule_notes(rules, hypers))
    lacking = subjects.first_missing(rules, "second_moment", hypers)
    if lacking is not None:
        return subjects.missing_readout("variance-order-at-minimum", "proposition-1", lacking, "second_moment",
                                        "the check compares E v of the subject and the baseline at theta*",
                                        scope="step", details=details)
    states = subjects.noise_run({k: (r, hypers[k]) for k, r in rules.items()}, (noise_std,), coords, steps, seed)
    v = {k: _debiased_v(r, states[k], hypers[k], beta2, steps) for k, r in rules.items()}
    ratio = (v["subject"][0] / v["baseline"][0]).numpy()
    iv = mean_ci(ratio, level=0.99)
    mean, lo, hi = iv.estimate, iv.low, iv.high
    predicted, formula = _predicted_ratio(rules, beta1)
    verdict = "assumption-violated" if hi < 1 else "holds"
    names = {k: subjects.label(r) for k, r in rules.items()}
    vhat = {k: "vhat'" if v[k][1] else "vhat" for k in rules}
    source = "theory.family" if all(subjects.is_family(r) for r in rules.values()) else "theory.rule"
    prediction = (f"predicted {formula} = {predicted:.4f}" if predicted is not None
                  else "no stationary prediction for this pair")
    consequence = (f"where it is applied the order is reversed, so by the proof's own ellipsoid argument "
                   f"{names['subject']}'s escape set would be the larger one." if verdict == "assumption-violated"
                   else f"here the measured order does not contradict it.")
    return CheckResult("variance-order-at-minimum", "proposition-1", verdict, "numeric",
                       f"At theta* with i.i.d. N(0, {noise_std}^2) gradients ({source}, float64, {coords} coordinates, "
                       f"t = {steps}): {vhat['subject']}({names['subject']})/{vhat['baseline']}({names['baseline']}) = "
                       f"{mean:.4f} [99% CI {lo:.4f}, {hi:.4f}], {prediction}. The proof needs E v~ >= E v (so that "
                       f"R_theta*(AdaM) >= R_theta*(Adam)); {consequence}",
                       scope="step", details={"ratio_mean": mean, "ci99": [lo, hi], "predicted": predicted, **details})


# ---- ellipsoid volume and escape-set monotonicity ----------------------------------------------

def paper_ellipsoid_volume(dim, radii):
    return sp.pi ** sp.Rational(dim, 2) / sp.gamma(sp.Rational(dim, 2) + 1) * sp.Mul(*radii)


def check_ellipsoid_volume(volume: Callable = paper_ellipsoid_volume, dims=(1, 2, 3)) -> CheckResult:
    """V{sum x_i^2/R_i^2 <= 1} = pi^(d/2) / Gamma(d/2 + 1) prod R_i, against direct integration."""
    residuals = {}
    for dim in dims:
        radii = sp.symbols(f"R1:{dim + 1}", positive=True)
        # Change of variables x_i = R_i y_i: V = prod R_i * V_d(unit ball), and the unit ball by
        # iterated sections V_k = int_{-1}^{1} V_{k-1} (1 - y^2)^((k-1)/2) dy, V_1 = 2.
        unit = sp.Integer(2)
        yv = sp.Symbol("y", real=True)
        for k in range(2, dim + 1):
            unit = sp.simplify(sp.integrate(unit * (1 - yv**2) ** sp.Rational(k - 1, 2), (yv, -1, 1)))
        direct = unit * sp.Mul(*radii)
        residuals[dim] = sp.simplify(direct - volume(dim, radii))
    bad = {k: v for k, v in residuals.items() if v != 0}
    expressions = {f"d={k} residual": v for k, v in residuals.items()}
    if not bad:
        return CheckResult("ellipsoid-volume", "proposition-1", "proved", "symbolic",
                           f"Ellipsoid volume pi^(d/2)/Gamma(d/2+1) prod R_i matches iterated integration for d in "
                           f"{list(dims)}. Note Upsilon itself is the complement of that ellipsoid and has infinite "
                           f"volume; the argument compares the complements.", scope="step", expressions=expressions)
    return CheckResult("ellipsoid-volume", "proposition-1", "fails", "symbolic",
                       f"Volume formula differs from integration: {bad}.", scope="step", expressions=expressions)


def check_escape_set_monotone(hessian=((1.0, 0.9), (0.9, 1.0)), sigma=(1.0, 1.0), r_small=(1.0, 1.0),
                              r_large=(1.0, 2.0), h: float = 1.0, seed: int = 0) -> CheckResult:
    """Proposition 1 concludes m(Upsilon(AdaM)) vs m(Upsilon(Adam)) from R(AdaM) >= R(Adam) via the
    volumes of the ellipsoids Upsilon^c = {y : y^T M y < h}, M = Sigma R^-1 H R^-1 Sigma. Lemma 1's
    measure is monotone under inclusion, so the step needs Upsilon(R_large) subset Upsilon(R_small).
    Diagonal Hessian: true (proved for d = 1). Non-diagonal: search for y in Upsilon(R_large) \\ Upsilon(R_small)."""
    y, hh, sg, rr = sp.symbols("y H Sigma R", positive=True)
    one_d = sp.solve(sp.Eq(y**2 * sg**2 * hh / rr**2, 1), y)  # Upsilon = {|y| >= R/(Sigma sqrt(H))}
    hmat = np.array(hessian, dtype=float)
    sig = np.diag(sigma)

    def mmat(r):
        rinv = np.diag(1 / np.asarray(r, dtype=float))
        return sig @ rinv @ hmat @ rinv @ sig

    m_small, m_large = mmat(r_small), mmat(r_large)
    det_ratio = float(np.linalg.det(m_large) / np.linalg.det(m_small))
    # y in Upsilon(large) (y^T M_large y >= h) but not in Upsilon(small) (y^T M_small y < h).
    eigval, eigvec = np.linalg.eigh(m_small - m_large)
    witness = None
    if eigval[0] < 0:
        direction = eigvec[:, 0]
        scale = math.sqrt(h / float(direction @ m_large @ direction))
        cand = direction * scale * (1 + 1e-6)
        if cand @ m_large @ cand >= h > cand @ m_small @ cand:
            witness = cand
    complement_volume_ratio = 1 / math.sqrt(det_ratio)
    expressions = {"1-D boundary |y|": one_d}
    if witness is None:
        return CheckResult("escape-set-monotone", "proposition-1", "holds", "numeric",
                           f"For H = {hessian}: M_small - M_large is positive semidefinite, so Upsilon(R_large) is "
                           f"inside Upsilon(R_small); in 1-D Upsilon = {{|y| >= R/(Sigma sqrt(H))}} shrinks as R grows.",
                           scope="step", expressions=expressions)
    return CheckResult("escape-set-monotone", "proposition-1", "fails", "numeric",
                       f"Larger R does not shrink Upsilon when the Hessian is not diagonal: H = {hessian}, R from "
                       f"{r_small} to {r_large}: y = {np.round(witness, 4).tolist()} has y^T M y = "
                       f"{float(witness @ m_large @ witness):.4g} >= h = {h} with the larger R (escape) but "
                       f"{float(witness @ m_small @ witness):.4g} < h with the smaller R (no escape), so neither set "
                       f"contains the other; only the complement volumes are ordered (ratio {complement_volume_ratio:.3g})"
                       f", and Lemma 1's measure is monotone under inclusion, not under volume. (1-D and diagonal H: "
                       f"monotone.) Also Lemma 1 gives E Gamma = Theta(upsilon/m), whose hidden constants differ "
                       f"between algorithms, so comparing two Theta's does not order the expected escape times.",
                       scope="step", expressions=expressions,
                       details={"witness": witness.tolist(), "complement_volume_ratio": complement_volume_ratio})
