"""Section 3.1, "Benefits of changing the location of eps": the closed form of v_t, the
offset vhat_t = vhat'_t + eps / (1 - b2), the limiting stepsizes and their ordering.

Conventions (paper, Algorithm 1 line 6): v_0 = 0 and v_t = b2 v_{t-1} + (1 - b2) m_t^2 + eps, so
eps is added to the *stored* v every step; vhat_t = v_t / (1 - b2^t); vhat'_t is the same with
eps = 0. Adam's stepsize is a / (sqrt(vhat') + eps). "Stepsize" here is a / denom, without the
first-moment bias correction 1 / (1 - b1^t), which is the same factor for both methods.

Each ``check_*`` takes the claimed formula as a parameter (default: the paper's), so a test can
feed a deliberately wrong variant and see the verdict change. The sympy checks are about the
paper's printed formulas; the numeric ones that step an optimizer take ``subject`` (and area C a
``baseline``), names or update rules driven through :mod:`theory.rule` (defaults: AdaMomentum and
Adam; see :mod:`proofs_check.subjects`).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import sympy as sp
import torch

from proofs_check import subjects
from proofs_check.result import CheckResult, fmt
from theory.family import Hyper
from theory.rule import effective_stepsize, member_of, second_moment
from theory.stats import Interval, mean_ci

t, i = sp.symbols("t i", integer=True, positive=True)
b1, b2 = sp.symbols("beta1 beta2", positive=True)
eps, alpha = sp.symbols("epsilon alpha", positive=True)
vp = sp.Symbol("vhat_prime", nonnegative=True)  # vhat'_t: the debiased EMA without eps
x = sp.Symbol("x", nonnegative=True)  # sqrt(vhat')

CLAIM = "sec3.1-eps-closed-form"


def paper_m_coefficient(t_, i_, beta):
    """Coefficient of m_i^2 in v_t (paper, Section 3.1): (1 - b2) b2^(t - i)."""
    return (1 - beta) * beta ** (t_ - i_)


def paper_eps_coefficient(t_, beta):
    """Coefficient of eps in v_t: sum_{j<t} b2^j = (1 - b2^t) / (1 - b2) (eps accumulated)."""
    return (1 - beta**t_) / (1 - beta)


def _zero(expr) -> bool:
    return sp.simplify(sp.expand(sp.powsimp(sp.expand(expr, power_exp=True)))) == 0


def ema_induction(m_coefficient: Callable, eps_coefficient: Callable | None, beta=b2,
                  new_weight=None, eps_every_step: bool = True) -> dict:
    """Prove by induction on t (t symbolic) that the claimed coefficients solve the recursion
    x_t = beta x_{t-1} + new_weight y_t [+ eps every step, or at t = 1 only], x_0 = 0.

    x_t is linear in (y_1..y_t, eps), so it suffices that each coefficient satisfies the base case
    and the step. Returns {obligation: residual (0 when it holds)}.
    """
    w = (1 - beta) if new_weight is None else new_weight
    c = m_coefficient
    obligations = {
        "base: coefficient of y_1 in x_1 is (1 - beta)": c(1, 1, beta) - w,
        "step, old terms (i <= t): c(t+1, i) = beta c(t, i)": c(t + 1, i, beta) - beta * c(t, i, beta),
        "step, new term: c(t+1, t+1) = (1 - beta)": c(t + 1, t + 1, beta) - w,
    }
    if eps_coefficient is not None:
        increment = 1 if eps_every_step else 0
        obligations["base: coefficient of eps in x_1 is 1"] = eps_coefficient(1, beta) - 1
        obligations[f"step: e(t+1) = beta e(t) + {increment}"] = (
            eps_coefficient(t + 1, beta) - (beta * eps_coefficient(t, beta) + increment))
    return {name: sp.simplify(sp.expand(sp.powsimp(sp.expand(r, power_exp=True)))) for name, r in obligations.items()}


def _recursion_counterexample(m_coefficient, eps_coefficient, eps_every_step, steps=6):
    """First t where the claimed closed form differs from the recursion, exact rationals."""
    beta, e = sp.Rational(9, 10), sp.Rational(1, 100)
    ms = [sp.Rational(k + 2, 3) for k in range(steps)]
    v = sp.Integer(0)
    for step in range(1, steps + 1):
        v = beta * v + (1 - beta) * ms[step - 1] ** 2 + (e if (eps_every_step or step == 1) else 0)
        claimed = sum(m_coefficient(step, j, beta) * ms[j - 1] ** 2 for j in range(1, step + 1))
        claimed += eps_coefficient(step, beta) * e
        if sp.simplify(claimed - v) != 0:
            return {"t": step, "recursion": float(v), "claimed": float(claimed), "b2": 0.9, "eps": 0.01}
    return None


def check_v_closed_form(m_coefficient: Callable = paper_m_coefficient,
                        eps_coefficient: Callable = paper_eps_coefficient,
                        eps_every_step: bool = True) -> CheckResult:
    """v_t = (1 - b2) sum_i b2^(t-i) m_i^2 + eps (1 - b2^t)/(1 - b2) for all t >= 1 (induction)."""
    residuals = ema_induction(m_coefficient, eps_coefficient, b2, eps_every_step=eps_every_step)
    # Independent cross-check: sympy's own geometric sum for the eps part.
    geometric = sp.summation(b2**sp.Symbol("j", integer=True, nonnegative=True),
                             (sp.Symbol("j", integer=True, nonnegative=True), 0, t - 1))
    geometric = geometric.args[-1][0] if isinstance(geometric, sp.Piecewise) else geometric
    expressions = {"claimed v_t": sp.Sum(m_coefficient(t, i, b2) * sp.Function("m")(i) ** 2, (i, 1, t))
                   + eps_coefficient(t, b2) * eps,
                   "sympy sum_{j<t} b2^j (b2 != 1)": geometric, **{k: v for k, v in residuals.items()}}
    failed = [k for k, v in residuals.items() if v != 0]
    recursion = "eps added every step (Algorithm 1 line 6)" if eps_every_step else "eps added at t = 1 only"
    if not failed:
        return CheckResult("v-closed-form", CLAIM, "proved", "symbolic",
                           f"By induction on symbolic t ({recursion}): v_t = (1-b2) sum_i b2^(t-i) m_i^2 "
                           f"+ eps (1-b2^t)/(1-b2) for every t >= 1; all {len(residuals)} obligations reduce to 0.",
                           expressions=expressions)
    counter = _recursion_counterexample(m_coefficient, eps_coefficient, eps_every_step)
    return CheckResult("v-closed-form", CLAIM, "fails", "symbolic",
                       f"Claimed closed form does not solve the recursion ({recursion}): obligation "
                       f"'{failed[0]}' leaves {residuals[failed[0]]}; counterexample {counter}.",
                       expressions=expressions, details={"counterexample": counter, "failed": failed})


def check_vhat_offset(claimed_offset=None, bias_correction: bool = True) -> CheckResult:
    """vhat_t - vhat'_t, from the proved closed form, against the paper's eps / (1 - b2)."""
    claimed_offset = eps / (1 - b2) if claimed_offset is None else claimed_offset
    derived = eps * paper_eps_coefficient(t, b2) / ((1 - b2**t) if bias_correction else 1)
    derived = sp.simplify(derived)
    residual = sp.simplify(derived - claimed_offset)
    no_bc = sp.simplify(eps * paper_eps_coefficient(t, b2))
    expressions = {"derived offset": derived, "claimed offset": claimed_offset, "residual": residual,
                   "offset without bias correction": no_bc}
    which = "with" if bias_correction else "without"
    if residual == 0:
        return CheckResult("vhat-offset", CLAIM, "proved", "symbolic",
                           f"vhat_t = vhat'_t + eps/(1-b2) is exact for every t >= 1 ({which} bias correction: "
                           f"the factor (1-b2^t) of the accumulated eps cancels the debiasing 1/(1-b2^t)). Without "
                           f"bias correction (as in Section 4) the offset is eps(1-b2^t)/(1-b2), which equals eps "
                           f"at t = 1 and only tends to eps/(1-b2).", expressions=expressions)
    at = {b2: sp.Rational(999, 1000), eps: sp.Rational(1, 10**8), t: 1}
    return CheckResult("vhat-offset", CLAIM, "fails", "symbolic",
                       f"Offset {which} bias correction is {derived}, not {claimed_offset}: residual {residual}; "
                       f"at t=1, b2=0.999, eps=1e-8 derived={fmt(derived.subs(at))}, "
                       f"claimed={fmt(sp.sympify(claimed_offset).subs(at))}.", expressions=expressions)


def _second_moment_history(rule, grads, hyper) -> list:
    """The rule's stored second moment after each step on ``grads`` (steps, runs, dim)."""
    theta = torch.zeros(grads.shape[1:], dtype=torch.float64)
    state = rule.init(theta, hyper)
    history = []
    for k in range(grads.shape[0]):
        rule.step(state, theta, grads[k], hyper)
        history.append(second_moment(rule, state).clone())
    return history


def check_family_eps_offset(eps_coefficient: Callable = paper_eps_coefficient, steps: int = 60,
                            eps_value: float = 1e-3, beta2: float = 0.95, seed: int = 0,
                            subject=subjects.DEFAULT_SUBJECT) -> CheckResult:
    """The subject's stored v with eps minus v without eps = eps * e(t), every t (default: theory.family's
    adamomentum, Algorithm 1). A subject whose stored v does not change with eps does not put eps
    inside its EMA: the claim's premise does not apply (unchecked)."""
    rule = subjects.resolve(subject)
    hypers = {e: Hyper(lr=1e-2, beta1=0.9, beta2=beta2, eps=e) for e in (eps_value, 0.0)}
    details = subjects.comparison_details(rule, notes=subjects.rule_notes({"subject": rule}, hypers[eps_value]))
    if not subjects.has_readout(rule, "second_moment", hypers[0.0]):
        return subjects.missing_readout("family-eps-offset", CLAIM, rule, "second_moment",
                                        "the check compares the stored v with and without eps", details=details)
    if subjects.member_field(rule, "max_v"):
        return CheckResult("family-eps-offset", CLAIM, "unchecked", "numeric",
                           f"{subjects.label(rule)} ({rule.name}) divides by the running max of its stored v, and its "
                           f"second-moment read-out is that max, not the EMA the claim is about.", details=details)
    gen = torch.Generator().manual_seed(seed)
    grads = torch.randn(steps, 2, 16, generator=gen, dtype=torch.float64)
    states = {e: _second_moment_history(rule, grads, hp) for e, hp in hypers.items()}
    worst, largest_diff = 0.0, 0.0
    for k in range(steps):
        expected = eps_value * float(eps_coefficient(k + 1, beta2))
        diff = states[eps_value][k] - states[0.0][k]
        largest_diff = max(largest_diff, float(diff.abs().max()))
        worst = max(worst, float(((diff - expected).abs() / expected).max()))
    source = f"theory.family {rule.name}" if subjects.is_family(rule) else subjects.spec_name(rule)
    if largest_diff == 0.0:
        return CheckResult("family-eps-offset", CLAIM, "unchecked", "numeric",
                           f"{source}, {steps} float64 steps, b2={beta2}: the stored second moment is the same with "
                           f"eps={eps_value} and eps=0, so {subjects.label(rule)} does not put eps inside its EMA and "
                           f"the claim (about eps inside the EMA) does not apply to it.",
                           details={**details, "max_abs_difference": largest_diff})
    ok = worst <= 1e-10
    return CheckResult("family-eps-offset", CLAIM, "holds" if ok else "fails", "numeric",
                       f"{source}, {steps} float64 steps, b2={beta2}, eps={eps_value}: stored "
                       f"v(eps) - v(0) vs eps*e(t): max relative error {fmt(worst, 3)} "
                       f"({'<=' if ok else '>'} 1e-10).", details={"max_relative_error": worst, **details})


# ---- limiting stepsizes ----------------------------------------------------------------------

def adamomentum_stepsize(v, e=eps, beta=b2, eps_inside: bool = True):
    """a / sqrt(vhat' + eps/(1-b2)) (eps inside); the "outside" variant is a / (sqrt(vhat') + eps)."""
    return alpha / sp.sqrt(v + e / (1 - beta)) if eps_inside else alpha / (sp.sqrt(v) + e)


def adam_stepsize(v, e=eps):
    return alpha / (sp.sqrt(v) + e)


def check_limiting_stepsizes(claimed_adamomentum=None, claimed_adam=None) -> CheckResult:
    """lim_{vhat' -> 0+} of both stepsizes against sqrt(1-b2) a / sqrt(eps) and a / eps."""
    claimed_adamomentum = sp.sqrt(1 - b2) * alpha / sp.sqrt(eps) if claimed_adamomentum is None else claimed_adamomentum
    claimed_adam = alpha / eps if claimed_adam is None else claimed_adam
    b2_in = sp.Symbol("beta2", positive=True)
    lim_m = sp.limit(adamomentum_stepsize(vp), vp, 0, "+")
    lim_a = sp.limit(adam_stepsize(vp), vp, 0, "+")
    # b2 < 1 is needed to simplify sqrt(1 - b2); substitute b2 = 1 - d with d > 0.
    d = sp.Symbol("d", positive=True)
    res_m = sp.simplify((lim_m - claimed_adamomentum).subs(b2, 1 - d))
    res_a = sp.simplify(lim_a - claimed_adam)
    ratio = sp.simplify((lim_m / lim_a).subs(b2, 1 - d)).subs(d, 1 - b2_in)
    expressions = {"limit AdaMomentum": lim_m, "limit Adam": lim_a, "ratio AdaMomentum/Adam": ratio,
                   "residual AdaMomentum": res_m, "residual Adam": res_a}
    if res_m == 0 and res_a == 0:
        return CheckResult("limiting-stepsizes", "sec3.1-limiting-stepsizes", "proved", "symbolic",
                           f"As vhat' -> 0+: a/sqrt(vhat'+eps/(1-b2)) -> sqrt(1-b2) a/sqrt(eps) and "
                           f"a/(sqrt(vhat')+eps) -> a/eps (sympy limits); ratio {ratio}.", scope="step",
                           expressions=expressions)
    return CheckResult("limiting-stepsizes", "sec3.1-limiting-stepsizes", "fails", "symbolic",
                       f"Limits are {lim_m} and {lim_a}; residuals {res_m}, {res_a} against the claimed forms.",
                       scope="step", expressions=expressions)


def approximation_regions(delta: float = 0.1) -> dict:
    """Exact vhat' below which each stepsize is within relative error delta of its limit (sympy)."""
    dl = sp.Rational(str(delta))
    ratio_m = sp.simplify(adamomentum_stepsize(vp) / sp.limit(adamomentum_stepsize(vp), vp, 0, "+"))
    ratio_a = sp.simplify(adam_stepsize(vp) / (alpha / eps))
    bound_m = sp.solve(sp.Eq(ratio_m, 1 - dl), vp)
    bound_a = sp.solve(sp.Eq(ratio_a, 1 - dl), vp)
    return {"adamomentum": sp.simplify(bound_m[0]), "adam": sp.simplify(bound_a[0]),
            "ratio_adamomentum": ratio_m, "ratio_adam": ratio_a}


def check_approximation_region(threshold: Callable = lambda e, beta: e, kappa: float = 1e-2,
                               delta: float = 0.1, eps_grid=(1e-16, 1e-12, 1e-8, 1e-6),
                               b2_grid=(0.99, 0.999, 0.9999)) -> CheckResult:
    """Is "vhat' far below eps" (vhat' <= kappa * threshold(eps, b2)) enough for both limits
    to be within ``delta`` of the actual stepsizes? The paper's threshold is eps."""
    regions = approximation_regions(delta)
    failures = []
    for e in eps_grid:
        for beta in b2_grid:
            v_value = kappa * threshold(e, beta)
            for name in ("adamomentum", "adam"):
                limit_v = float(regions[name].subs({eps: e, b2: beta}))
                if v_value > limit_v:
                    rel = float(regions[f"ratio_{name}"].subs({vp: v_value, eps: e, b2: beta}))
                    failures.append({"method": name, "eps": e, "b2": beta, "vhat_prime": v_value,
                                     "stepsize_over_limit": rel, "largest_valid_vhat_prime": limit_v})
    expressions = {f"vhat' bound for {delta:.0%} error, AdaMomentum": regions["adamomentum"],
                   f"vhat' bound for {delta:.0%} error, Adam": regions["adam"]}
    text = (f"Within {delta:.0%} of its limit, AdaMomentum's stepsize needs vhat' <= "
            f"{float(sp.simplify(regions['adamomentum'] * (1 - b2) / eps)):.3g} eps/(1-b2) "
            f"and Adam's needs vhat' <= {float((regions['adam'] / eps**2)):.3g} eps^2 (sympy: "
            f"{regions['adamomentum']}, {regions['adam']}).")
    if not failures:
        return CheckResult("approximation-region", "sec3.1-limiting-stepsizes", "holds", "symbolic",
                           f"{text} vhat' <= {kappa} x threshold satisfies both on the whole grid.",
                           expressions=expressions)
    typical = [f for f in failures if f["eps"] == 1e-8] or failures
    worst = min(typical, key=lambda f: f["stepsize_over_limit"])
    names = sorted({f["method"] for f in failures})
    return CheckResult("approximation-region", "sec3.1-limiting-stepsizes", "fails", "symbolic",
                       f"'vhat' far below eps' does not give Adam's limit a/eps: Adam's needs vhat' << eps^2. {text} "
                       f"vhat' = {kappa} x threshold is not enough for "
                       f"{', '.join(names)}: {len(failures)} grid cases fail, e.g. eps={worst['eps']:g}, "
                       f"vhat'={worst['vhat_prime']:.3g}: {worst['method']}'s stepsize is "
                       f"{worst['stepsize_over_limit']:.3g} x its claimed limit. The limits hold as vhat' -> 0, "
                       f"but Adam's needs vhat' << eps^2, not vhat' << eps.",
                       expressions=expressions, details={"failures": failures[:12], "count": len(failures)})


def check_stepsize_ordering(eps_inside: bool = True, much_smaller: float = 0.1,
                            cases=((1e-8, 0.999), (1e-16, 0.999), (1e-12, 0.999), (1e-8, 0.9999))) -> CheckResult:
    """Section 3.1's claim, at the same k_t (so the same vhat'): is a/sqrt(vhat'+eps/(1-b2)) (eps
    inside) smaller than a/(sqrt(vhat')+eps) (eps outside), and much smaller (ratio <= ``much_smaller``)
    on the paper's premise vhat' <= eps? Exact ordering region (sympy) and the sympy bound
    ratio <= (sqrt(eps) + eps)/sqrt(eps/(1-b2)) = sqrt(1-b2)(1 + sqrt(eps)) for 0 <= vhat' <= eps
    (the numerator grows with vhat', the denominator is >= sqrt(eps/(1-b2)))."""
    s_m = adamomentum_stepsize(x**2, eps_inside=eps_inside)
    s_a = adam_stepsize(x**2)
    # s_m < s_a  <=>  denom_m^2 > (x + eps)^2 (both positive): a linear inequality in x.
    gap = sp.expand((alpha / s_m) ** 2 - (x + eps) ** 2)
    boundary = sp.solve(sp.Eq(gap, 0), x)
    dd = sp.Symbol("d", positive=True)  # d = 1 - b2 > 0 lets sympy simplify sqrt(1 - b2)
    limit_ratio = sp.simplify(sp.limit(s_m / s_a, x, 0, "+").subs(b2, 1 - dd)).subs(dd, 1 - b2)
    # Premise bound: numerator (x + eps) at x = sqrt(eps), denominator at x = 0.
    premise_bound = sp.simplify(((sp.sqrt(eps) + eps) / (alpha / s_m).subs(x, 0)).subs(b2, 1 - dd))
    premise_bound = premise_bound.subs(dd, 1 - b2)
    expressions = {"denom_M^2 - denom_A^2": gap, "ordering boundary sqrt(vhat')": boundary,
                   "limit ratio": limit_ratio, "ratio bound for vhat' <= eps": premise_bound}
    if not boundary or gap.subs(x, 0) == 0:
        return CheckResult("stepsize-ordering", "sec3.1-stepsize-ordering", "fails", "symbolic",
                           f"With this eps placement the two stepsizes are equal or not ordered at small vhat' "
                           f"(denominator gap {gap}): moving eps does not make the stepsize smaller.",
                           expressions=expressions)
    x_star = sp.simplify(boundary[0])
    rows = []
    for e, beta in cases:
        at = {eps: e, b2: beta}
        bound = float(premise_bound.subs(at))
        # vhat' <= eps must lie inside the ordering region sqrt(vhat') < x_star.
        inside = float(x_star.subs(at)) > math.sqrt(e)
        rows.append({"eps": e, "b2": beta, "boundary_sqrt_vhat_prime": float(x_star.subs(at)),
                     "ratio_bound_on_premise": bound, "premise_inside_ordering_region": inside,
                     "much_smaller": inside and bound <= much_smaller})
    # Ratio <= much_smaller boundary at the defaults, numerically (exact ratio, bisection on log scale).
    defaults = {eps: 1e-8, b2: 0.999}
    ratio_fn = sp.lambdify(x, (s_m / s_a).subs(defaults).subs(alpha, 1), "math")
    lo, hi = 1e-12, 1e3
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if ratio_fn(mid) <= much_smaller else (lo, mid)
    x_star_default = float(x_star.subs(defaults))
    table = "; ".join(f"eps={r['eps']:g}, b2={r['b2']}: ratio <= {r['ratio_bound_on_premise']:.3g}" for r in rows)
    ok = all(r["much_smaller"] for r in rows)
    text = (f"Same k_t (same vhat'), eps inside vs outside the sqrt: the eps-inside stepsize is smaller iff "
            f"sqrt(vhat') < {x_star} (= {x_star_default:.4g} at eps=1e-8, b2=0.999). On the paper's premise "
            f"vhat' <= eps the ratio is at most {premise_bound} (sympy): {table}; it tends to {limit_ratio} as "
            f"vhat' -> 0. Outside the premise the gain fades: the ratio is <= {much_smaller} only for vhat' <= "
            f"{lo**2:.3g} at the defaults, and above eps/(1-b2) = 1e-5 the placement barely matters.")
    details = {"boundary_sqrt_vhat_prime": x_star_default, "much_smaller_vhat_prime": lo**2, "cases": rows}
    if ok:
        return CheckResult("stepsize-ordering", "sec3.1-stepsize-ordering", "proved", "symbolic", text,
                           expressions=expressions, details=details)
    return CheckResult("stepsize-ordering", "sec3.1-stepsize-ordering", "fails", "symbolic",
                       "Not much smaller on the premise vhat' <= eps for every case: " + text,
                       expressions=expressions, details=details)


def _interval99(samples) -> Interval:
    """Mean and 99% Student-t interval (theory.stats.mean_ci); all-equal samples give the point."""
    if np.ptp(samples) > 0:
        return mean_ci(samples, level=0.99)
    value = float(samples[0])
    return Interval(value, value, value, 0.99)


def _interval_verdict(cases) -> str:
    """"holds" when every 99% interval is below 1, "fails" when one is at or above 1, else "unchecked"."""
    if any(cs["ci99"][0] >= 1 for cs in cases):
        return "fails"
    if all(cs["ci99"][1] < 1 for cs in cases):
        return "holds"
    return "unchecked"


# What a member's k_t is, in evidence text.
K_TEXT = {"grad": " (k_t = g)", "momentum": " (k_t = m)", "belief": " (k_t = g - m)"}


def check_stepsize_ordering_same_k(noise_stds=(1e-4, 1e-3, 1e-2, 1e-1), eps_value: float = 1e-8,
                                   beta1: float = 0.9, beta2: float = 0.999, coords: int = 1000,
                                   steps: int = 2000, seed: int = 0, eps_inside: bool = True,
                                   subject=subjects.DEFAULT_SUBJECT) -> CheckResult:
    """sec3.1-stepsize-ordering measured: the subject (default AdaMomentum, k_t = m) near a minimum, the
    same vhat' (its stored second moment at eps = 0, debiased) with eps inside the sqrt (Algorithm 1)
    vs outside (Adam's placement). Only the eps placement differs."""
    rule = subjects.resolve(subject)
    hyper0 = Hyper(lr=1e-3, beta1=beta1, beta2=beta2, eps=0.0)
    details = subjects.comparison_details(rule, notes=subjects.rule_notes({"subject": rule}, hyper0))
    if not subjects.has_readout(rule, "second_moment", hyper0):
        return subjects.missing_readout("stepsize-ordering-same-k", "sec3.1-stepsize-ordering", rule,
                                        "second_moment", "the check needs the subject's vhat'", details=details)
    states = subjects.noise_run({"subject": (rule, hyper0)}, noise_stds, coords, steps, seed)
    vp_ = second_moment(rule, states["subject"]) / subjects.bias_correction(beta2, steps)
    big_e = eps_value / (1 - beta2)
    inside = 1 / (vp_ + big_e).sqrt() if eps_inside else 1 / (vp_.sqrt() + eps_value)
    outside = 1 / (vp_.sqrt() + eps_value)
    ratio = (inside / outside).numpy()
    cases = []
    for k, s in enumerate(noise_stds):
        iv = _interval99(ratio[k])
        mean_vp = float(vp_[k].mean())
        cases.append({"noise_std": s, "ratio_mean": iv.estimate, "ci99": [iv.low, iv.high], "mean_vhat_prime": mean_vp,
                      "premise_vhat_prime_below_eps": mean_vp < eps_value})
    verdict = _interval_verdict(cases)
    table = "; ".join(f"s={cs['noise_std']:g}: vhat'={cs['mean_vhat_prime']:.2g}"
                      f"{' (premise)' if cs['premise_vhat_prime_below_eps'] else ''}, ratio {cs['ratio_mean']:.3g} "
                      f"[{cs['ci99'][0]:.3g}, {cs['ci99'][1]:.3g}]" for cs in cases)
    placement = "inside" if eps_inside else "outside (variant)"
    who = subjects.label(rule) + K_TEXT.get(subjects.member_field(rule, "k"), "")
    if not subjects.is_family(rule):
        who += " (vhat' = its stored second moment at eps = 0 over 1 - b2^t)"
    return CheckResult("stepsize-ordering-same-k", "sec3.1-stepsize-ordering", verdict, "numeric",
                       f"{who} at grad f = 0 with i.i.d. N(0, s^2) gradients, b1={beta1}, b2={beta2}, "
                       f"eps={eps_value:g}, t={steps}, {coords} coordinates: stepsize with eps {placement} the sqrt over "
                       f"eps outside, same vhat', mean [99% CI]: {table}. Verdict: holds if every interval is below 1, "
                       f"fails if one is at or above 1, otherwise unchecked.",
                       details={"cases": cases, "steps": steps, "coords": coords, "seed": seed, **details})


# ---- area C: the actual stepsizes of subject and baseline near a minimum ------------------------

def _plain_ema_member(rule):
    """The rule's registry member when its v is eq. (2)'s EMA of k_t^2 (no max, no Yogi rule) and its
    step a_t mhat / denom (no clip, no rectification), with an EMA momentum; else None."""
    member = member_of(rule)
    if member is None or not member.adaptive or member.momentum != "ema" or member.max_v:
        return None
    if (getattr(member, "v_update", "ema") != "ema" or getattr(member, "stepsize_clip", "none") != "none"
            or getattr(member, "rectify", False)):
        return None
    return member


def stationary_k_square(k: str, beta1: float):
    """E k_t^2 / s^2 at stationarity for i.i.d. zero-mean noise of variance s^2 (EMA momentum):
    g: 1; m: (1-b1)/(1+b1); g - m = b1 (g - m_(t-1)): 2 b1^2/(1+b1). None for another k."""
    return {"grad": 1.0, "momentum": (1 - beta1) / (1 + beta1),
            "belief": 2 * beta1 * beta1 / (1 + beta1)}.get(k)


def _stationary_denominator(member, s: float, eps_value: float, beta1: float, beta2: float):
    """denom_t of a plain member with its bias-corrected v at the stationary E k_t^2 (a proxy)."""
    f = stationary_k_square(member.k, beta1)
    if f is None or member.eps_mode not in ("inside", "outside", "both"):
        return None
    if member.eps_mode == "outside":
        return (s if f == 1.0 else math.sqrt(f * s * s)) + eps_value
    inner = math.sqrt(f * s * s + eps_value / (1 - beta2))
    return inner + eps_value if member.eps_mode == "both" else inner


def _proxy_ratio(subject_member, baseline_member, s, eps_value, beta1, beta2):
    """Stationary-moment proxy of the actual-stepsize ratio subject/baseline (None where unknown)."""
    if subject_member is None or baseline_member is None:
        return None
    if subject_member.bias_correction != baseline_member.bias_correction:
        return None
    num = _stationary_denominator(baseline_member, s, eps_value, beta1, beta2)
    den = _stationary_denominator(subject_member, s, eps_value, beta1, beta2)
    return None if num is None or den is None else num / den


def _is_paper_pair(subject_member, baseline_member) -> bool:
    """k_t = m with eps inside (AdaMomentum's structure) against k_t = g with eps outside (Adam's)."""
    return (subject_member is not None and baseline_member is not None
            and (subject_member.k, subject_member.eps_mode) == ("momentum", "inside")
            and (baseline_member.k, baseline_member.eps_mode) == ("grad", "outside"))


def _stepsize_ratio(rules: dict, states: dict, hyper: Hyper, shape) -> np.ndarray:
    """effective_stepsize(subject) / effective_stepsize(baseline), coordinate by coordinate."""
    ratio = (effective_stepsize(rules["subject"], states["subject"], hyper)
             / effective_stepsize(rules["baseline"], states["baseline"], hyper))
    ratio = torch.as_tensor(ratio, dtype=torch.float64)
    return (ratio if tuple(ratio.shape) == tuple(shape) else torch.broadcast_to(ratio, shape)).numpy()


def _area_c_cases(ratio, noise_stds, members, eps_value, beta1, beta2) -> list[dict]:
    premise_scale = math.sqrt(eps_value / (1 - beta2))
    cases = []
    for k, s in enumerate(noise_stds):
        iv = mean_ci(ratio[k], level=0.99)
        proxy = _proxy_ratio(members["subject"], members["baseline"], s, eps_value, beta1, beta2)
        cases.append({"noise_std": s, "ratio_mean": iv.estimate, "ci99": [iv.low, iv.high], "proxy_ratio": proxy,
                      "outside_eps_premise": s > premise_scale})
    return cases


def _crossover_text(names: dict, eps_value: float, beta1: float, beta2: float) -> tuple[str, float]:
    """Where k_t = m with eps inside gets the smaller denominator than k_t = g with eps outside."""
    c = (1 - beta1) / (1 + beta1)
    big_e = eps_value / (1 - beta2)
    premise_scale = math.sqrt(big_e)
    # Proxy crossover: c s^2 + E = (s + eps)^2, i.e. (1 - c) s^2 + 2 eps s + eps^2 - E = 0, positive root.
    s_cross = (-eps_value + math.sqrt(eps_value**2 - (1 - c) * (eps_value**2 - big_e))) / (1 - c)
    text = (f"E m^2 = (1-b1)/(1+b1) s^2 = {c:.3g} s^2, so {names['subject']}'s denominator is the smaller one once s "
            f"exceeds ~{s_cross:.3g} (the sqrt(eps/(1-b2)) = {premise_scale:.3g} scale, where Section 3.1's premise "
            f"vhat' << eps ends); the ratio then tends to sqrt((1+b1)/(1-b1)) = {1 / math.sqrt(c):.3g}. ")
    return text, s_cross


def check_stepsize_near_optimum_under_noise(noise_stds=(1e-4, 1e-3, 1e-2, 1e-1), eps_value: float = 1e-8,
                                            beta1: float = 0.9, beta2: float = 0.999, coords: int = 1000,
                                            steps: int = 2000, seed: int = 0, subject=subjects.DEFAULT_SUBJECT,
                                            baseline=subjects.DEFAULT_BASELINE) -> CheckResult:
    """Area C ("AdaMomentum keeps a smaller stepsize near the optimum"): near a minimum the gradient is
    the noise; run the subject and the baseline (default AdaMomentum and Adam, theory.family, float64) on
    the same i.i.d. N(0, s^2) gradients and compare the actual stepsizes a_t / ((1 - b1^t) denom_t)
    (theory.rule.effective_stepsize) coordinate by coordinate. For the defaults this mixes the k_t = m
    substitution with the eps placement, as the two algorithms do; cases with s above sqrt(eps/(1-b2))
    are outside Section 3.1's eps premise (vhat' far below eps) but still about area C."""
    rules = {"subject": subjects.resolve(subject), "baseline": subjects.resolve(baseline)}
    hyper = Hyper(lr=1e-3, beta1=beta1, beta2=beta2, eps=eps_value)
    details = subjects.comparison_details(rules["subject"], rules["baseline"], subjects.rule_notes(rules, hyper))
    lacking = subjects.first_missing(rules, "effective_stepsize", hyper)
    if lacking is not None:
        return subjects.missing_readout("stepsize-near-optimum-noise", "sec3.1-area-C", lacking, "effective_stepsize",
                                        "the check compares the actual stepsizes a_t / denom_t", details=details)
    states = subjects.noise_run({k: (r, hyper) for k, r in rules.items()}, noise_stds, coords, steps, seed)
    ratio = _stepsize_ratio(rules, states, hyper, (len(noise_stds), coords))
    members = {k: _plain_ema_member(r) for k, r in rules.items()}
    names = {k: subjects.label(r) for k, r in rules.items()}
    cases = _area_c_cases(ratio, noise_stds, members, eps_value, beta1, beta2)
    paper_pair = _is_paper_pair(members["subject"], members["baseline"])
    middle, s_cross = _crossover_text(names, eps_value, beta1, beta2) if paper_pair else ("", None)
    if not paper_pair and any(cs["proxy_ratio"] is not None for cs in cases):
        middle = "Proxy: each denominator at the stationary E k_t^2 of i.i.d. noise. "
    table = "; ".join(f"s={cs['noise_std']:g}{' (outside the eps premise)' if cs['outside_eps_premise'] else ''}: "
                      f"{cs['ratio_mean']:.3g} [{cs['ci99'][0]:.3g}, {cs['ci99'][1]:.3g}]"
                      + (f" (proxy {cs['proxy_ratio']:.3g})" if cs["proxy_ratio"] is not None else "")
                      for cs in cases)
    verdict = _interval_verdict(cases)
    text = (f"Actual-stepsize ratio {names['subject']}/{names['baseline']} at grad f = 0 with i.i.d. N(0, s^2) "
            f"gradients, b1={beta1}, b2={beta2}, eps={eps_value:g}, t={steps}, {coords} coordinates, mean [99% CI]: "
            f"{table}. {middle}Verdict: holds if every interval is below 1, fails if one is at or above 1, "
            f"otherwise unchecked.")
    if verdict == "fails":
        where = ("for noise above the eps floor" if paper_pair else
                 "for s in " + ", ".join(f"{cs['noise_std']:g}" for cs in cases if cs["ci99"][0] >= 1))
        text = f"{names['subject']}'s stepsize near a minimum is LARGER than {names['baseline']}'s {where}. " + text
    return CheckResult("stepsize-near-optimum-noise", "sec3.1-area-C", verdict, "numeric", text,
                       details={"cases": cases, "crossover_noise_std": s_cross, "steps": steps, "coords": coords,
                                "seed": seed, **details})
