"""Table 1, eq. (2) and Algorithm 1: the unified form and its members.

* Table 1 writes each method's m_t and v_t as explicit sums; they are the EMA recursions of
  eq. (2) exactly when the sum coefficients satisfy the induction of
  :func:`proofs_check.eps_placement.ema_induction` (checked for symbolic t).
* eq. (2): m_t = b1 m + (1-b1) g, v_t = b2 v + (1-b2) k_t^2, theta -= a m_t / ((1-b1^t) sqrt(v_t/(1-b2^t)))
  with k_t = g (Adam) or m (AdaMomentum), no eps. The bias corrections make the EMA of a constant
  input exact: sum_i (1-b) b^(t-i) = 1 - b^t.
* Algorithm 1 is transcribed line by line in plain float64 Python and compared with
  ``theory.family``'s ``adamomentum`` and with ``theory.optim.AdaMomentum``.
"""
from __future__ import annotations

import math
from typing import Callable

import sympy as sp
import torch

from proofs_check.eps_placement import b1, b2, ema_induction, i, t
from proofs_check.result import CheckResult, fmt
from theory.family import Hyper, init_state, step_
from theory.optim import AdaMomentum


def ema_coefficient(t_, i_, beta):
    """Table 1's coefficient of the i-th input in the t-th EMA value: (1 - b) b^(t - i)."""
    return (1 - beta) * beta ** (t_ - i_)


TABLE_1 = {
    # row: (quantity, decay, coefficient, what is averaged)
    "RMSprop v_t": (b2, ema_coefficient, "g_i^2"),
    "Adam m_t": (b1, ema_coefficient, "g_i"),
    "Adam v_t": (b2, ema_coefficient, "g_i^2"),
    "AdaMomentum m_t": (b1, ema_coefficient, "g_i"),
    "AdaMomentum v_t": (b2, ema_coefficient, "m_i^2"),
}


def _table_sums(grads: list[float], beta1: float, beta2: float) -> dict:
    """Table 1's sums evaluated directly (float64), for the last t."""
    n = len(grads)
    ms = [sum((1 - beta1) * beta1 ** (s - j) * grads[j - 1] for j in range(1, s + 1)) for s in range(1, n + 1)]
    return {
        "adam_m": ms[-1],
        "adam_v": sum((1 - beta2) * beta2 ** (n - j) * grads[j - 1] ** 2 for j in range(1, n + 1)),
        "adamomentum_v": sum((1 - beta2) * beta2 ** (n - j) * ms[j - 1] ** 2 for j in range(1, n + 1)),
    }


def check_table_1(rows: dict | None = None, steps: int = 25, seed: int = 0) -> CheckResult:
    """Each Table 1 sum solves its EMA recursion (symbolic t), theory.family matches the sums
    numerically (eps = 0, no bias correction), and Rprop's m/sqrt(v) is sign(g)."""
    rows = TABLE_1 if rows is None else rows
    residuals = {}
    for name, (beta, coefficient, _) in rows.items():
        for obligation, r in ema_induction(coefficient, None, beta).items():
            residuals[f"{name}: {obligation}"] = r
    failed = [k for k, v in residuals.items() if v != 0]
    g = sp.Symbol("g", real=True, nonzero=True)
    rprop = sp.simplify(g / sp.sqrt(g**2) - sp.sign(g))

    gen = torch.Generator().manual_seed(seed)
    grads = torch.randn(steps, generator=gen, dtype=torch.float64).tolist()
    beta1, beta2 = 0.9, 0.99
    direct = _table_sums(grads, beta1, beta2)
    hyper = Hyper(lr=1e-2, beta1=beta1, beta2=beta2, eps=0.0, bias_correction=False)
    got = {}
    for member in ("adam", "adamomentum"):
        theta = torch.zeros(1, dtype=torch.float64)
        state = init_state(member, theta)
        for k in range(steps):
            step_(member, state, theta, torch.tensor([grads[k]], dtype=torch.float64), hyper)
        got[member] = (float(state.m), float(state.v))
    numeric_err = max(abs(got["adam"][0] - direct["adam_m"]), abs(got["adam"][1] - direct["adam_v"]),
                      abs(got["adamomentum"][1] - direct["adamomentum_v"]))
    expressions = {**{k: v for k, v in residuals.items()}, "g/sqrt(g^2) - sign(g)": rprop}
    details = {"theory_family_max_abs_error": numeric_err}
    if failed or rprop != 0 or numeric_err > 1e-12:
        what = failed[0] if failed else ("Rprop sign identity" if rprop != 0 else "numeric comparison")
        return CheckResult("table-1", "table-1", "fails", "symbolic",
                           f"Table 1 check fails at {what}"
                           + (f": residual {residuals[failed[0]]}" if failed else "")
                           + f"; theory.family vs Table 1 sums max error {fmt(numeric_err, 3)}.",
                           expressions=expressions, details={**details, "failed": failed})
    return CheckResult("table-1", "table-1", "proved", "symbolic",
                       f"Every Table 1 sum (RMSprop v, Adam m and v, AdaMomentum m and v = (1-b2) sum b2^(t-i) m_i^2) "
                       f"solves its EMA recursion for symbolic t ({len(residuals)} obligations = 0); Rprop's "
                       f"g/sqrt(g^2) = sign(g); theory.family (eps=0, no bias correction, {steps} steps) matches the "
                       f"sums to {fmt(numeric_err, 2)}. Table 1 omits eps and the bias corrections, as the text says.",
                       expressions=expressions, details=details)


def check_bias_corrections(exponent_shift: int = 0) -> CheckResult:
    """sum_{i=1}^t (1-b) b^(t-i) = 1 - b^(t + shift): the debiasing that makes the EMA of a
    constant input exact (the paper: shift 0). Also: the eps part of vhat is eps/(1-b2) exactly."""
    beta = sp.Symbol("beta", positive=True)
    j = sp.Symbol("j", integer=True, nonnegative=True)
    total = sp.summation((1 - beta) * beta**j, (j, 0, t - 1))
    total = total.args[-1][0] if isinstance(total, sp.Piecewise) else total
    residual = sp.simplify(total - (1 - beta ** (t + exponent_shift)))
    expressions = {"sum_i (1-b) b^(t-i)": sp.simplify(total), "residual": residual}
    if residual == 0:
        return CheckResult("bias-corrections", "eq-2", "proved", "symbolic",
                           "sum_{i<=t} (1-b) b^(t-i) = 1 - b^t for symbolic t, so mhat_t = m_t/(1-b1^t) and "
                           "vhat_t = v_t/(1-b2^t) are exact for a constant input (and the accumulated eps becomes "
                           "exactly eps/(1-b2) after debiasing).", scope="step", expressions=expressions)
    return CheckResult("bias-corrections", "eq-2", "fails", "symbolic",
                       f"Debiasing by 1 - b^(t{exponent_shift:+d}) leaves residual {residual} "
                       f"(at b=0.9, t=1: {fmt(residual.subs({beta: 0.9, t: 1}))}).",
                       scope="step", expressions=expressions)


def eq2_transcription(grads: list[float], lr: float, beta1: float, beta2: float, k: str) -> list[float]:
    """eq. (2) as printed (no eps), one coordinate, k in {"g", "m"}."""
    theta, m, v, path = 0.0, 0.0, 0.0, []
    for step, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        kk = g if k == "g" else m
        v = beta2 * v + (1 - beta2) * kk * kk
        theta = theta - lr * m / ((1 - beta1**step) * math.sqrt(v / (1 - beta2**step)))
        path.append(theta)
    return path


def check_eq2_members(k_adam: str = "g", k_adamomentum: str = "m", steps: int = 30, seed: int = 1) -> CheckResult:
    """eq. (2) with k_t = g is theory.family's adam, with k_t = m its adamomentum (eps = 0)."""
    gen = torch.Generator().manual_seed(seed)
    grads = torch.randn(steps, generator=gen, dtype=torch.float64).tolist()
    lr, beta1, beta2 = 1e-2, 0.9, 0.999
    hyper = Hyper(lr=lr, beta1=beta1, beta2=beta2, eps=0.0)
    errors = {}
    for member, k in (("adam", k_adam), ("adamomentum", k_adamomentum)):
        theta = torch.zeros(1, dtype=torch.float64)
        state = init_state(member, theta)
        path = []
        for g in grads:
            step_(member, state, theta, torch.tensor([g], dtype=torch.float64), hyper)
            path.append(float(theta))
        errors[member] = max(abs(a - b) for a, b in zip(path, eq2_transcription(grads, lr, beta1, beta2, k)))
    worst = max(errors.values())
    verdict = "holds" if worst <= 1e-12 else "fails"
    return CheckResult("eq2-members", "eq-2", verdict, "numeric",
                       f"eq. (2) transcribed (k_t = {k_adam} for Adam, {k_adamomentum} for AdaMomentum, eps = 0, "
                       f"bias corrections as printed) vs theory.family over {steps} float64 steps: max |theta "
                       f"difference| adam {fmt(errors['adam'], 3)}, adamomentum {fmt(errors['adamomentum'], 3)}. "
                       f"eq. (2) has no eps; Algorithm 1 adds it inside v (see sec3.1-eps-closed-form).",
                       details={"max_abs_theta_error": errors})


def algorithm_1_transcription(grads: list[list[float]], lr: float, beta1: float, beta2: float, eps: float,
                              variant: str = "paper") -> list[list[float]]:
    """Algorithm 1, line by line, element-wise, plain float64. Variants for tests:
    "eps-outside" (eps after the sqrt, as Adam) and "g-in-v" (g_t^2 in line 6, as Adam)."""
    d = len(grads[0])
    theta, m, v = [0.0] * d, [0.0] * d, [0.0] * d  # line 1: m_0 <- 0, v_0 <- 0, t <- 0
    path = []
    for step, g in enumerate(grads, start=1):  # lines 3-4: t <- t + 1; g_t
        for c in range(d):
            m[c] = beta1 * m[c] + (1 - beta1) * g[c]  # line 5
            k = g[c] if variant == "g-in-v" else m[c]
            v[c] = beta2 * v[c] + (1 - beta2) * k * k + (0.0 if variant == "eps-outside" else eps)  # line 6
            m_hat = m[c] / (1 - beta1**step)  # line 7
            v_hat = v[c] / (1 - beta2**step)  # line 8
            denom = math.sqrt(v_hat) + (eps if variant == "eps-outside" else 0.0)
            theta[c] = theta[c] - lr * m_hat / denom  # line 9
        path.append(list(theta))
    return path


def check_algorithm_1(variant: str = "paper", steps: int = 12, eps: float = 1e-3, seed: int = 2) -> CheckResult:
    """Algorithm 1 (transcribed) vs theory.family ``adamomentum`` and ``theory.optim.AdaMomentum``.

    eps = 1e-3 by default so that where eps goes is visible in float64 (with 1e-8 both
    placements agree to ~1e-6 relative on O(1) gradients)."""
    gen = torch.Generator().manual_seed(seed)
    grads = torch.randn(steps, 5, generator=gen, dtype=torch.float64)
    lr, beta1, beta2 = 1e-2, 0.9, 0.999
    reference = torch.tensor(algorithm_1_transcription(grads.tolist(), lr, beta1, beta2, eps, variant),
                             dtype=torch.float64)

    hyper = Hyper(lr=lr, beta1=beta1, beta2=beta2, eps=eps)
    theta = torch.zeros(5, dtype=torch.float64)
    state = init_state("adamomentum", theta)
    family_path = []
    for k in range(steps):
        step_("adamomentum", state, theta, grads[k], hyper)
        family_path.append(theta.clone())
    family_err = float((torch.stack(family_path) - reference).abs().max())

    param = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    opt = AdaMomentum([param], lr=lr, betas=(beta1, beta2), eps=eps)
    optim_path = []
    for k in range(steps):
        param.grad = grads[k].clone()
        opt.step()
        optim_path.append(param.detach().clone())
    optim_err = float((torch.stack(optim_path) - reference).abs().max())
    ok = max(family_err, optim_err) <= 1e-12
    return CheckResult("algorithm-1", "algorithm-1", "holds" if ok else "fails", "numeric",
                       f"Algorithm 1 transcribed line by line ({variant}), {steps} float64 steps, 5 coordinates, "
                       f"eps={eps:g}: max |theta difference| vs theory.family adamomentum {fmt(family_err, 3)}, vs "
                       f"theory.optim.AdaMomentum {fmt(optim_err, 3)} (tolerance 1e-12).",
                       details={"family_max_abs_error": family_err, "optim_max_abs_error": optim_err,
                                "variant": variant})
