"""Each proofs_check check: the paper's derivation gives its verdict, and a deliberately wrong
variant (misplaced eps, wrong exponent, wrong constant) changes it."""
import math

import pytest
import sympy as sp
import torch

from proofs_check import eps_placement as E
from proofs_check import escape_proof as P
from proofs_check import family_form as F
from proofs_check import memory as Mem
from proofs_check import nonconvex_proof as N
from proofs_check import regret_proof as R
from proofs_check import subjects as S
from proofs_check.result import VERDICTS, CheckResult
from theory.rule import Rule
from theory.stats import mean_ci


# ---- Section 3.1: eps placement ---------------------------------------------------------------

def test_v_closed_form_proved_and_wrong_variants_fail():
    assert E.check_v_closed_form().verdict == "proved"
    not_accumulated = E.check_v_closed_form(eps_coefficient=lambda t, b: 1)
    assert not_accumulated.verdict == "fails"
    assert not_accumulated.details["counterexample"]["t"] == 2
    wrong_exponent = E.check_v_closed_form(m_coefficient=lambda t, i, b: (1 - b) * b ** (t - i + 1))
    assert wrong_exponent.verdict == "fails"
    # The paper's closed form is specific to eps added every step.
    assert E.check_v_closed_form(eps_every_step=False).verdict == "fails"
    # ...and the right closed form of the other recursion is accepted.
    once = E.check_v_closed_form(eps_coefficient=lambda t, b: b ** (t - 1), eps_every_step=False)
    assert once.verdict == "proved"


def test_vhat_offset_exact_with_bias_correction_only():
    assert E.check_vhat_offset().verdict == "proved"
    assert E.check_vhat_offset(claimed_offset=E.eps).verdict == "fails"
    assert E.check_vhat_offset(bias_correction=False).verdict == "fails"
    no_bc = E.eps * (1 - E.b2**E.t) / (1 - E.b2)
    assert E.check_vhat_offset(claimed_offset=no_bc, bias_correction=False).verdict == "proved"


def test_family_matches_accumulated_eps_and_detects_a_wrong_coefficient():
    result = E.check_family_eps_offset(steps=30)
    assert result.verdict == "holds" and result.details["max_relative_error"] < 1e-12
    assert E.check_family_eps_offset(eps_coefficient=lambda t, b: 1.0, steps=30).verdict == "fails"


def test_limiting_stepsizes():
    assert E.check_limiting_stepsizes().verdict == "proved"
    assert E.check_limiting_stepsizes(claimed_adamomentum=E.alpha / sp.sqrt(E.eps)).verdict == "fails"
    assert E.check_limiting_stepsizes(claimed_adam=E.alpha / sp.sqrt(E.eps)).verdict == "fails"


def test_approximation_region_paper_condition_fails_for_adam_and_eps_squared_holds():
    paper = E.check_approximation_region()
    assert paper.verdict == "fails"
    assert {f["method"] for f in paper.details["failures"]} == {"adam"}
    assert E.check_approximation_region(threshold=lambda e, b: e * e).verdict == "holds"


def test_approximation_region_bounds_are_exact():
    regions = E.approximation_regions(0.1)
    values = {E.eps: 1e-8, E.b2: 0.999}
    v_m = float(regions["adamomentum"].subs(values))
    v_a = float(regions["adam"].subs(values))
    ratio_m = 1 / math.sqrt(1 + v_m * (1 - 0.999) / 1e-8)
    ratio_a = 1e-8 / (math.sqrt(v_a) + 1e-8)
    assert ratio_m == pytest.approx(0.9, rel=1e-12)
    assert ratio_a == pytest.approx(0.9, rel=1e-12)


def test_stepsize_ordering_at_equal_v():
    result = E.check_stepsize_ordering()
    assert result.verdict == "proved" and result.scope == "claim" and result.method == "symbolic"
    assert result.details["boundary_sqrt_vhat_prime"] == pytest.approx((1000 - 1e-8) / 2)
    default = result.details["cases"][0]
    assert default["ratio_bound_on_premise"] == pytest.approx(math.sqrt(1e-3) * (1 + 1e-4))
    assert E.check_stepsize_ordering(eps_inside=False).verdict == "fails"
    # "much smaller" is part of the check: b2 = 0.9 gives a premise bound of 0.32.
    assert E.check_stepsize_ordering(cases=((1e-8, 0.9),)).verdict == "fails"


def test_stepsize_ordering_same_k_compares_only_the_eps_placement():
    result = E.check_stepsize_ordering_same_k(coords=200, steps=400)
    assert result.claim == "sec3.1-stepsize-ordering" and result.verdict == "holds"
    assert result.details["cases"][0]["premise_vhat_prime_below_eps"]
    assert result.details["cases"][0]["ci99"][1] < 0.05
    assert E.check_stepsize_ordering_same_k(coords=200, steps=400, eps_inside=False).verdict == "fails"


def test_adam_vs_adamomentum_near_optimum_is_an_area_c_row():
    low = E.check_stepsize_near_optimum_under_noise(noise_stds=(1e-4,), coords=200, steps=400)
    high = E.check_stepsize_near_optimum_under_noise(noise_stds=(1e-1,), coords=200, steps=400)
    assert low.claim == high.claim == "sec3.1-area-C"
    assert low.verdict == "holds" and high.verdict == "fails"
    assert not low.details["cases"][0]["outside_eps_premise"] and high.details["cases"][0]["outside_eps_premise"]
    for result in (low, high):
        case = result.details["cases"][0]
        assert case["ratio_mean"] == pytest.approx(case["proxy_ratio"], rel=0.05)


@pytest.mark.parametrize("intervals, verdict", [
    ([[0.1, 0.2], [0.3, 0.4]], "holds"),
    ([[0.1, 0.2], [0.9, 1.1]], "unchecked"),  # an inconclusive interval is not evidence
    ([[0.1, 0.2], [1.0, 1.2]], "fails"),
])
def test_interval_verdict(intervals, verdict):
    assert E._interval_verdict([{"ci99": iv} for iv in intervals]) == verdict


# ---- Table 1, eq. (2), Algorithm 1, memory ---------------------------------------------------

def test_table_1_and_wrong_exponent():
    assert F.check_table_1().verdict == "proved"
    wrong = {"Adam v_t": (E.b2, lambda t, i, b: (1 - b) * b ** (t - i + 1), "g_i^2")}
    assert F.check_table_1(rows=wrong).verdict == "fails"


def test_table_1_reads_the_averaged_quantity():
    g_for_m = F.check_table_1(rows={"AdaMomentum v_t": (E.b2, F.ema_coefficient, "g_i^2")})
    assert g_for_m.verdict == "fails" and "AdaMomentum v_t" in g_for_m.evidence
    assert F.check_table_1(rows={"Adam v_t": (E.b2, F.ema_coefficient, "m_i^2")}).verdict == "fails"
    assert F.check_table_1(rows={"AdaMomentum v_t": (E.b2, F.ema_coefficient, "m_i^2")}).verdict == "proved"


def test_bias_corrections():
    assert F.check_bias_corrections().verdict == "proved"
    assert F.check_bias_corrections(exponent_shift=1).verdict == "fails"


def test_eq2_members():
    assert F.check_eq2_members().verdict == "holds"
    assert F.check_eq2_members(k_adamomentum="g").verdict == "fails"
    assert F.check_eq2_members(k_adam="m").verdict == "fails"


@pytest.mark.parametrize("variant, verdict", [("paper", "holds"), ("eps-outside", "fails"), ("g-in-v", "fails")])
def test_algorithm_1(variant, verdict):
    assert F.check_algorithm_1(variant=variant).verdict == verdict


def test_memory_cost_and_a_heavier_variant():
    result = Mem.check_memory_cost()
    assert result.verdict == "holds"
    table = result.details["footprint"]
    assert table["adamomentum"]["bytes"] == 2 * table["adamomentum"]["param_bytes"]
    assert table["adamomentum+amsgrad"]["bytes"] == 3 * table["adamomentum"]["param_bytes"]
    heavier = dict(Mem.FACTORIES, adamomentum=lambda params, amsgrad: Mem.AdaMomentum(params, amsgrad=True))
    assert Mem.check_memory_cost(heavier).verdict == "fails"


# ---- Theorem 1 / Corollary 1 -------------------------------------------------------------------

def test_momentum_induction():
    assert R.check_momentum_induction().verdict == "proved"
    wrong = R.check_momentum_induction(lambda b, m, g: b**2 * m**2 + (1 - b) ** 2 * g**2)
    assert wrong.verdict == "fails"


def test_v_induction_needs_eps_zero():
    assert R.check_v_induction(eps_inside=False).verdict == "proved"
    with_eps = R.check_v_induction()
    assert with_eps.verdict == "fails" and with_eps.scope == "step"
    assert with_eps.details["counterexample"]["sqrt_v_over_G"] > 3
    assert with_eps.details["corrected_bound_proved"]


def test_corrected_v_bound_on_theory_family():
    """v_t <= (1 - b2^t)(G^2 + eps/(1-b2)) on random bounded gradients, and tight for constant g = G."""
    from theory.family import Hyper, init_state, step_

    gen = torch.Generator().manual_seed(3)
    big_g, eps, b2 = 1e-3, 1e-8, 0.99
    hyper = Hyper(lr=1e-3, beta1=0.9, beta2=b2, eps=eps, bias_correction=False)
    theta = torch.zeros(64)
    state = init_state("adamomentum", theta)
    for t in range(1, 400):
        g = big_g * (2 * torch.rand(64, generator=gen) - 1)
        g[0] = big_g
        step_("adamomentum", state, theta, g, hyper)
        bound = (1 - b2**t) * (big_g**2 + eps / (1 - b2))
        assert float(state.v.max()) <= bound * (1 + 1e-12)
    assert float(state.v[0]) > big_g**2  # the paper's v_t <= G^2 is violated


def test_series_bound():
    assert R.check_series_bound().verdict == "proved"
    assert R.check_series_bound(lambda l: 1 / (1 - l)).verdict == "fails"


def test_corollary_1_arithmetic():
    assert R.check_corollary_1_arithmetic().verdict == "proved"
    assert R.check_corollary_1_arithmetic(series_bound=lambda l: 1 / (1 - l)).verdict == "fails"


def test_theorem_1_key_inequality_true_but_one_step_wrong():
    result = R.check_theorem_1_key_inequality(betas=((0.9, 0.999), (0.9, 0.82)), optimise=2)
    assert result.verdict == "proved" and result.method == "symbolic"
    assert set(result.details["symbolic_obligations"].values()) == {"True"}
    steps = {s["step"]: s["verdict"] for s in result.details["steps"]}
    assert steps.pop("replace m_j by (1 - b1_j) g_j in the denominator") == "fails"
    assert set(steps.values()) == {"holds"}
    # Wrong exponent: (1 - b1)^(+2) instead of (1 - b1)^(-2).
    flipped = R.check_theorem_1_key_inequality(
        coefficient=lambda b1, b2: (1 - b1) ** 4 * R.paper_key_coefficient(b1, b2), betas=((0.9, 0.999),), optimise=1)
    assert flipped.verdict == "fails" and flipped.details["max_lhs_over_rhs"] > 1


def test_theorem_1_key_inequality_is_not_proved_when_sympy_cannot_prove_the_route():
    # A coefficient below the shorter route's (but above every ratio found): no counterexample, no proof.
    smaller = R.check_theorem_1_key_inequality(
        coefficient=lambda b1, b2: (1 - b1) / 2 * R.paper_key_coefficient(b1, b2), betas=((0.9, 0.999),), optimise=1)
    assert smaller.verdict == "unchecked" and smaller.method == "numeric"
    obligations = R.shorter_route_obligations(lambda b1, b2: (1 - b1) / 2 * R.paper_key_coefficient(b1, b2))
    assert obligations["(d) coefficient >= 1/((1-b1) sqrt(1-b2))"] is False


def test_the_wrong_step_fails_on_alternating_gradients_at_default_betas():
    g = R.np.array([(-1.0) ** k for k in range(40)])
    lines = R._last_term_chain(g, R.np.full(40, 0.9), 0.9, 0.999)
    assert lines[3] > lines[4]  # 'replace m_j by (1 - b1_j) g_j' would need lines[3] <= lines[4]


# ---- Theorem 2 / Corollary 2 -------------------------------------------------------------------

def test_harmonic_bound():
    assert N.check_harmonic_bound(upto=2000).verdict == "proved"
    assert N.check_harmonic_bound(lambda n: sp.log(n), upto=2000).verdict == "fails"
    assert N.check_harmonic_bound(lambda n: sp.Rational(1, 2) + sp.log(n), upto=2000).verdict == "fails"


def test_theorem_2_and_corollary_2_arithmetic():
    assert N.check_theorem_2_arithmetic().verdict == "proved"
    assert N.check_theorem_2_arithmetic(N.C1 * N.H**2 / N.c).verdict == "fails"
    assert N.check_corollary_2_arithmetic().verdict == "proved"
    assert N.check_corollary_2_arithmetic(N.C1 * N.H**3 / N.c).verdict == "fails"


def test_theorem_2_v_bound_row():
    result = N.check_theorem_2_v_bound()
    assert result.claim == "theorem-2" and result.verdict == "fails" and result.scope == "step"


def test_min_v_from_eps_is_proved_only_for_positive_eps():
    assert N.check_min_v_from_eps().verdict == "proved"
    assert N.check_min_v_from_eps(eps_value=0).verdict == "fails"
    negative = N.check_min_v_from_eps(eps_value=-1)
    assert negative.verdict == "fails" and negative.details["zero_gradient_v"][0] == pytest.approx(-1)


# ---- Proposition 1 / Assumption 5 -------------------------------------------------------------

def test_assumption_5_is_exactly_the_variance_order():
    assert P.check_assumption_5_implies_order().verdict == "proved"
    assert P.check_assumption_5_implies_order(lambda b: (2 - b) / b).verdict == "fails"
    exact = P.check_assumption_5_implies_order()
    assert "equivalence" in exact.evidence
    stronger = P.check_assumption_5_implies_order(lambda b: P.paper_assumption_5_factor(b) / 10)
    assert stronger.verdict == "proved" and "not an equivalence" in stronger.evidence
    assert "exactly" not in stronger.evidence


def test_assumption_5_unsatisfiable_and_a_weaker_variant_is_satisfiable():
    assert P.check_assumption_5_satisfiable().verdict == "unsatisfiable"
    assert P.check_assumption_5_satisfiable(lambda b: 100 * b / (2 - b)).verdict == "holds"


def test_stationary_momentum_moment_matches_monte_carlo():
    assert P.stationary_momentum_second_moment(0).subs(P.b1, sp.Rational(9, 10)) == sp.Rational(1, 19)
    assert sp.simplify(P.stationary_momentum_second_moment(1) - 1) == 0  # rho -> 1: m = zeta
    result = P.check_variance_order_at_minimum(coords=400, steps=1500)
    assert result.verdict == "assumption-violated"
    low, high = result.details["ci99"]
    assert low <= 1 / 19 * 1.03 and high >= 1 / 19 * 0.97


def test_ellipsoid_volume():
    assert P.check_ellipsoid_volume().verdict == "proved"
    wrong = P.check_ellipsoid_volume(lambda d, r: sp.pi ** sp.Rational(d, 2) / sp.gamma(sp.Rational(d, 2)) * sp.Mul(*r))
    assert wrong.verdict == "fails"


def test_escape_set_monotone_only_for_diagonal_hessians():
    assert P.check_escape_set_monotone().verdict == "fails"
    assert P.check_escape_set_monotone(hessian=((1.0, 0.0), (0.0, 2.0))).verdict == "holds"


def test_sas_row_is_unsatisfiable_and_bounded_noise_is_not():
    result = P.check_sas_scale_version()
    assert result.verdict == "unsatisfiable"
    assert all(not r["assumption_4_possible"] for r in result.details["rows"])  # alpha = 2 included
    bounded = P.check_sas_scale_version(noise_model=lambda a: {"support_radius": 1.0, "tail": 0.0, "h": 10.0})
    assert bounded.verdict != "unsatisfiable"
    gaussian_only = P.check_sas_scale_version(alphas=(2.0,))
    assert gaussian_only.verdict == "unsatisfiable"
    rows = {r["alpha"]: r for r in result.details["rows"]}
    assert rows[1.0]["scale_m_over_scale_zeta"] == pytest.approx(1.0)
    assert not rows[1.5]["assumption_5_scale_form_holds"]


# ---- the result type ---------------------------------------------------------------------------

def test_check_result_validates():
    with pytest.raises(ValueError, match="verdict"):
        CheckResult("x", "table-1", "maybe", "symbolic", "e")
    with pytest.raises(ValueError, match="method"):
        CheckResult("x", "table-1", "holds", "guess", "e")
    row = CheckResult("x", "table-1", "holds", "numeric", "e", scope="step", expressions={"a": sp.Symbol("a")}).as_row()
    assert row["details"]["scope"] == "step" and row["details"]["expressions"] == {"a": "a"}
    assert set(VERDICTS) >= {"proved", "holds", "fails", "assumption-violated", "unsatisfiable", "unchecked"}


# ---- any method as the subject: rules through the numeric checks -------------------------------

NOISE = dict(noise_stds=(1e-4, 1e-2), coords=40, steps=150, seed=3)


def _hand_second_moments(make_optimizer, noise_stds, coords, steps, seed):
    """A torch optimizer stepped by hand in a plain loop, one (coords,) parameter per noise level, on
    the gradients proofs_check.subjects.noise_run draws; returns the stacked exp_avg_sq."""
    stds = torch.tensor(noise_stds, dtype=torch.float64).reshape(-1, 1)
    gen = torch.Generator().manual_seed(seed)
    params = [torch.zeros(coords, dtype=torch.float64, requires_grad=True) for _ in noise_stds]
    optimizers = [make_optimizer([p]) for p in params]
    for _ in range(steps):
        g = stds * torch.randn(len(noise_stds), coords, generator=gen, dtype=torch.float64)
        for k, (p, opt) in enumerate(zip(params, optimizers)):
            p.grad = g[k].clone()
            opt.step()
    return torch.stack([opt.state[p]["exp_avg_sq"] for p, opt in zip(params, optimizers)])


def _hand_adam_v(noise_stds, coords, steps, seed, beta2=0.999):
    """Adam's stored v (an EMA of g^2, eps outside) by hand on the same gradients."""
    stds = torch.tensor(noise_stds, dtype=torch.float64).reshape(-1, 1)
    gen = torch.Generator().manual_seed(seed)
    v = torch.zeros(len(noise_stds), coords, dtype=torch.float64)
    for _ in range(steps):
        g = stds * torch.randn(len(noise_stds), coords, generator=gen, dtype=torch.float64)
        v = beta2 * v + (1 - beta2) * g * g
    return v


def _close(a, b, rel=1e-12):
    return a == pytest.approx(b, rel=rel, abs=0)


def _plain_adam(params, eps):
    from plugin_optim import PlainAdam

    return PlainAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=eps)


HAND = {
    "torch.optim:NAdam": lambda params, eps: torch.optim.NAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=eps),
    "plugin_optim:PlainAdam": _plain_adam,
}


@pytest.mark.parametrize("name", sorted(HAND))
def test_same_k_check_on_an_unseen_optimizer_equals_a_hand_loop(name):
    result = E.check_stepsize_ordering_same_k(subject=name, **NOISE)
    assert result.details["subject"] == name and name in result.evidence
    v = _hand_second_moments(lambda p: HAND[name](p, 0.0), **NOISE)
    vp = v / (1 - 0.999 ** NOISE["steps"])
    ratio = ((1 / (vp + 1e-8 / (1 - 0.999)).sqrt()) / (1 / (vp.sqrt() + 1e-8))).numpy()
    for k, case in enumerate(result.details["cases"]):
        iv = mean_ci(ratio[k], level=0.99)
        assert _close(case["ratio_mean"], iv.estimate) and _close(case["ci99"][0], iv.low)
        assert _close(case["ci99"][1], iv.high) and _close(case["mean_vhat_prime"], float(vp[k].mean()))
    assert result.verdict == "holds"


def test_variance_order_check_on_unseen_optimizers_equals_hand_loops():
    run = dict(coords=NOISE["coords"], steps=NOISE["steps"], seed=NOISE["seed"], noise_std=0.1)
    hand = dict(noise_stds=(0.1,), coords=run["coords"], steps=run["steps"], seed=run["seed"])
    bc = 1 - 0.999 ** run["steps"]
    # Two rules the toolkit has never seen: both run at eps = 0 (where they put eps is unknown).
    both = P.check_variance_order_at_minimum(subject="plugin_optim:PlainAdam", baseline="torch.optim:NAdam", **run)
    v_s = _hand_second_moments(lambda p: HAND["plugin_optim:PlainAdam"](p, 0.0), **hand)
    v_b = _hand_second_moments(lambda p: HAND["torch.optim:NAdam"](p, 0.0), **hand)
    iv = mean_ci(((v_s / bc) / (v_b / bc)).numpy(), level=0.99)
    assert _close(both.details["ratio_mean"], iv.estimate)
    assert _close(both.details["ci99"][0], iv.low) and _close(both.details["ci99"][1], iv.high)
    assert both.details["predicted"] is None and "torch.optim:NAdam" in both.evidence
    # Against the registry's Adam (eps outside: nothing to remove from its v).
    mixed = P.check_variance_order_at_minimum(subject="torch.optim:NAdam", **run)
    iv = mean_ci(((v_b / bc) / (_hand_adam_v(**hand) / bc)).numpy(), level=0.99)
    assert _close(mixed.details["ratio_mean"], iv.estimate) and mixed.details["baseline"] == "adam"
    assert mixed.verdict == "holds"  # k_t = g for both: no reversed order


def test_memory_check_measures_torch_optimizers_and_rules():
    result = Mem.check_memory_cost(subject="torch.optim:NAdam", baseline="plugin_optim:PlainAdam")
    assert result.verdict == "holds" and result.details["subject"] == "torch.optim:NAdam"
    table = result.details["footprint"]
    for name, make in HAND.items():
        model = Mem._model(0)
        optimizer = make(model.parameters(), 1e-8)
        model(torch.randn(8, 64, dtype=torch.float32)).square().mean().backward()
        optimizer.step()
        by_hand = sum(t.numel() * t.element_size() for s in optimizer.state.values() for t in s.values()
                      if isinstance(t, torch.Tensor) and t.dim() > 0)
        assert table[name]["bytes"] == by_hand == 2 * table[name]["param_bytes"]
    assert set(table) == {"torch.optim:NAdam", "plugin_optim:PlainAdam"}  # neither has an amsgrad option

    class ThreeBuffers(Rule):
        """A user's rule keeping one buffer more than Adam."""

        name = "three-buffers"

        def init(self, params, hyper):
            return {"m": torch.zeros_like(params), "v": torch.zeros_like(params), "u": torch.zeros_like(params),
                    "params": params}  # a reference to the parameters is not state memory

        def step(self, state, params, grad, hyper):
            state["m"].mul_(0.9).add_(grad, alpha=0.1)
            state["v"].mul_(0.999).addcmul_(grad, grad, value=1e-3)
            state["u"].copy_(grad)
            params.sub_(1e-3 * state["m"] / (state["v"].sqrt() + 1e-8))

    heavier = Mem.check_memory_cost(subject=ThreeBuffers())
    assert heavier.verdict == "fails" and "three-buffers keeps more state than Adam" in heavier.evidence
    assert heavier.details["footprint"]["three-buffers"]["bytes"] == 3 * table["torch.optim:NAdam"]["param_bytes"]
    # A registry member without a torch implementation here goes through the contract too.
    belief = Mem.check_memory_cost(subject="adabelief")
    assert belief.verdict == "holds" and belief.details["footprint"]["adabelief+amsgrad"]["buffers"] == 12
    assert "update rule" in belief.details["measured_as"]["adabelief"]


def test_a_missing_readout_or_premise_gives_unchecked_with_the_reason():
    area_c = E.check_stepsize_near_optimum_under_noise(subject="torch.optim:NAdam", **NOISE)
    assert area_c.verdict == "unchecked" and "effective_stepsize" in area_c.evidence
    assert area_c.details["missing_readout"] == "effective_stepsize" and area_c.claim == "sec3.1-area-C"
    no_v = E.check_stepsize_ordering_same_k(subject="sgdm", **NOISE)
    assert no_v.verdict == "unchecked" and "second_moment" in no_v.evidence
    assert P.check_variance_order_at_minimum(subject="sgdm", coords=20, steps=20).verdict == "unchecked"
    outside = E.check_family_eps_offset(subject="torch.optim:NAdam", steps=10)
    assert outside.verdict == "unchecked" and "does not put eps inside" in outside.evidence
    assert E.check_family_eps_offset(subject="adam", steps=10).verdict == "unchecked"
    assert E.check_family_eps_offset(subject="adamomentum-max", steps=10).verdict == "unchecked"
    assert E.check_family_eps_offset(subject="adabelief", steps=10).verdict == "holds"  # eps in s as well
    with pytest.raises(ValueError, match="nope"):
        E.check_stepsize_ordering_same_k(subject="nope")


def test_rule_notes_are_recorded_and_defaults_name_the_paper_pair():
    fixed = E.check_stepsize_ordering_same_k(subject="torch.optim:NAdam:eps=1e-3", **NOISE)
    assert "eps fixed by the spec" in fixed.details["rule_notes"]["torch.optim:NAdam:eps=1e-3"][0]
    assert (S.DEFAULT_SUBJECT, S.DEFAULT_BASELINE) == ("adamomentum", "adam")
    default = E.check_stepsize_near_optimum_under_noise(noise_stds=(1e-4,), coords=50, steps=100)
    assert default.details["subject"] == "adamomentum" and default.details["baseline"] == "adam"
    assert "rule_notes" not in default.details
    assert "AdaMomentum/Adam" in default.evidence
    swapped = E.check_stepsize_near_optimum_under_noise(noise_stds=(1e-4,), coords=50, steps=100,
                                                        subject="adam", baseline="adamomentum")
    assert "Adam/AdaMomentum" in swapped.evidence and swapped.details["cases"][0]["proxy_ratio"] is not None
    assert swapped.details["crossover_noise_std"] is None  # the crossover text is about AdaMomentum vs Adam


def test_checks_that_compare_methods_take_subject_and_baseline():
    import inspect

    for check in (E.check_family_eps_offset, E.check_stepsize_ordering_same_k,
                  E.check_stepsize_near_optimum_under_noise, P.check_variance_order_at_minimum, Mem.check_memory_cost):
        params = inspect.signature(check).parameters
        assert params["subject"].default == "adamomentum"
        assert "baseline" not in params or params["baseline"].default == "adam"


def test_family_rules_through_the_contract_match_theory_family_by_hand():
    """The area-C ratio for two registry members equals theory.family stepped by hand."""
    from theory.family import Hyper, effective_stepsize, init_state, step_

    result = E.check_stepsize_near_optimum_under_noise(subject="adabelief", baseline="amsgrad", **NOISE)
    stds = torch.tensor(NOISE["noise_stds"], dtype=torch.float64).reshape(-1, 1)
    gen = torch.Generator().manual_seed(NOISE["seed"])
    hyper = Hyper(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)
    theta = {n: torch.zeros(2, NOISE["coords"], dtype=torch.float64) for n in ("adabelief", "amsgrad")}
    state = {n: init_state(n, theta[n]) for n in theta}
    for _ in range(NOISE["steps"]):
        g = stds * torch.randn(2, NOISE["coords"], generator=gen, dtype=torch.float64)
        for n in theta:
            step_(n, state[n], theta[n], g, hyper)
    ratio = (effective_stepsize("adabelief", state["adabelief"], hyper)
             / effective_stepsize("amsgrad", state["amsgrad"], hyper)).numpy()
    for k, case in enumerate(result.details["cases"]):
        assert case["ratio_mean"] == mean_ci(ratio[k], level=0.99).estimate  # bit for bit
        assert case["proxy_ratio"] is None  # a max member has no stationary proxy
