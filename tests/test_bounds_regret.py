"""Theorem 1 / Corollary 1 right-hand sides and their hypothesis monitors (theory/)."""
import math

import pytest
import torch

from theory.assumptions import (monitor_beta1_schedule, monitor_bounded, monitor_from_counts, monitor_gamma,
                                monitor_v_nondecreasing)
from theory.bounds import corollary1_average_regret_bound, theorem1_diameter, theorem1_rhs_terms


def _plain_theorem1(T, alpha, b1, b2, D, v_hist, b1_t, g_hist):
    """Theorem 1's RHS written out longhand from full histories (v_hist, g_hist: T x d lists)."""
    d = len(v_hist[0])
    gamma = b1 / math.sqrt(b2)
    term1 = D**2 * math.sqrt(T) / (2 * alpha * (1 - b1)) * sum(math.sqrt(v_hist[-1][i]) for i in range(d))
    term2 = D**2 / (2 * (1 - b1)) * sum(b1_t[t] * math.sqrt(v_hist[t][i]) / (alpha / math.sqrt(t + 1))
                                        for t in range(T) for i in range(d))
    term3 = (alpha * math.sqrt(1 + math.log(T)) / ((1 - b1) ** 3 * (1 - gamma) * math.sqrt(1 - b2))
             * sum(math.sqrt(sum(g_hist[t][i] ** 2 for t in range(T))) for i in range(d)))
    return term1, term2, term3


def test_theorem1_rhs_matches_longhand_formula():
    gen = torch.Generator().manual_seed(3)
    T, d, alpha, b1, b2, D, lam = 7, 3, 0.3, 0.8, 0.95, 1.7, 0.9
    v = torch.rand(T, d, generator=gen).cumsum(0)
    g = torch.randn(T, d, generator=gen)
    b1_t = [b1 * lam ** (t + 1) for t in range(T)]
    want = _plain_theorem1(T, alpha, b1, b2, D, v.tolist(), b1_t, g.tolist())
    weighted = sum(b1_t[t] / (alpha / math.sqrt(t + 1)) * float(v[t].sqrt().sum()) for t in range(T))
    got = theorem1_rhs_terms(T=T, alpha=alpha, beta1=b1, beta2=b2, D_inf=D, sqrt_v_final_sum=v[-1].sqrt().sum(),
                             weighted_sqrt_v_sum=weighted, grad_l2_sum=(g**2).sum(0).sqrt().sum())
    for key, value in zip(("term1", "term2", "term3"), want):
        assert float(got[key]) == pytest.approx(value, rel=1e-12)
    assert float(got["total"]) == pytest.approx(sum(want), rel=1e-12)


def test_theorem1_rhs_is_infinite_when_gamma_reaches_one():
    got = theorem1_rhs_terms(T=10, alpha=torch.tensor([0.1, 0.1]), beta1=torch.tensor([0.9, 0.99]),
                             beta2=torch.tensor([0.99, 0.9]), D_inf=2.0, sqrt_v_final_sum=1.0,
                             weighted_sqrt_v_sum=1.0, grad_l2_sum=1.0)
    assert math.isfinite(float(got["total"][0]))
    assert float(got["total"][1]) == math.inf


def test_corollary1_bound_matches_formula():
    T, d, a, b1, b2, lam, D, G = 1000, 4, 0.2, 0.9, 0.999, 0.95, 2.0, 3.0
    gamma = b1 / math.sqrt(b2)
    want = (d * G * a * math.sqrt(1 + math.log(T)) / ((1 - b1) ** 3 * (1 - gamma) * math.sqrt((1 - b2) * T))
            + d * D**2 * G / (2 * a * (1 - b1) * math.sqrt(T))
            + d * D**2 * G * b1 / (2 * a * (1 - b1) * (1 - lam) ** 2 * T))
    got = corollary1_average_regret_bound(T=T, d=d, alpha=a, beta1=b1, beta2=b2, lam=lam, D_inf=D, G_inf=G)
    assert float(got["total"]) == pytest.approx(want, rel=1e-12)
    no_decay = corollary1_average_regret_bound(T=T, d=d, alpha=a, beta1=b1, beta2=b2, lam=1.0, D_inf=D, G_inf=G)
    assert float(no_decay["total"]) == math.inf


def test_corollary1_dominates_theorem1_when_v_and_g_obey_its_bounds():
    """Corollary 1 is Theorem 1 with sum_i sqrt(v_T,i) <= d G and ||g_1:T,i|| <= G sqrt(T)."""
    T, d, a, b1, b2, lam, D, G = 500, 2, 0.3, 0.5, 0.9, 0.8, 2.0, 1.0
    weighted = sum(b1 * lam**t * d * G / (a / math.sqrt(t)) for t in range(1, T + 1))
    thm = theorem1_rhs_terms(T=T, alpha=a, beta1=b1, beta2=b2, D_inf=D, sqrt_v_final_sum=d * G,
                             weighted_sqrt_v_sum=weighted, grad_l2_sum=d * G * math.sqrt(T))
    cor = corollary1_average_regret_bound(T=T, d=d, alpha=a, beta1=b1, beta2=b2, lam=lam, D_inf=D, G_inf=G)
    assert float(thm["total"]) / T <= float(cor["total"]) * (1 + 1e-12)


def test_diameter_readings():
    x_min = torch.tensor([[-0.2, 0.0]])
    x_max = torch.tensor([[0.3, 0.1]])
    D = theorem1_diameter(x_min, x_max, torch.tensor([[-1.0, 1.0]]))
    assert float(D["iterates"]) == pytest.approx(0.5)
    assert float(D["to_optimum"]) == pytest.approx(1.3)
    assert float(D["proof"]) == pytest.approx(1.3)


def test_v_monitor_finds_every_drop_and_the_first_step():
    v = torch.tensor([[[1.0, 1.0]], [[2.0, 0.5]], [[2.0, 0.7]], [[1.5, 0.1]]])  # (T=4, runs=1, d=2)
    result = monitor_v_nondecreasing(v)
    assert not result.holds
    assert result.violations == 3 and result.checked == 6
    assert result.first_violation_step == 2
    assert monitor_v_nondecreasing(v.cummax(0).values).holds


def test_gamma_beta1_and_bound_monitors():
    gamma = monitor_gamma(torch.tensor([0.9, 0.99, 0.5]), torch.tensor([0.999, 0.9, 0.3]))
    assert gamma.details["per_run"] == [True, False, True] and not gamma.holds
    sched = monitor_beta1_schedule(torch.tensor([0.9, 0.0]), 100, 0.99)
    assert sched.details["per_run"] == [True, False]  # beta1_t = 0 violates 0 < beta1_t
    assert sched.details["beta1_1_equals_beta1"] == [False, True]
    assert monitor_beta1_schedule(torch.tensor([0.9]), 100, None).holds
    assert monitor_beta1_schedule(torch.tensor([0.01]), 10**6, 0.5).holds  # 0.01 * 0.5^1e6 underflows, still > 0
    bounded = monitor_bounded("g", torch.tensor([1.0, 2.0]), torch.tensor([1.5, 1.5]))
    assert bounded.details["per_run"] == [True, False]
    counts = monitor_from_counts("h", [0, 3], 10, [0, 7])
    assert counts.first_violation_step == 7 and counts.violations == 3 and counts.checked == 20
