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

import sympy as sp
import torch

from proofs_check.eps_placement import b1, b2, ema_induction, t
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


# Which theory.family state each Table 1 row describes: (member, field).
FAMILY_FIELD = {"RMSprop v_t": ("rmsprop", "v"), "Adam m_t": ("adam", "m"), "Adam v_t": ("adam", "v"),
                "AdaMomentum m_t": ("adamomentum", "m"), "AdaMomentum v_t": ("adamomentum", "v")}
QUANTITIES = ("g_i", "g_i^2", "m_i", "m_i^2")


def _averaged_inputs(quantity: str, grads: list[float], beta1: float) -> list[float]:
    """The sequence a Table 1 row averages: g_i, g_i^2, or (AdaMomentum's change) m_i^2, with
    m_i = b1 m_{i-1} + (1-b1) g_i."""
    if quantity not in QUANTITIES:
        raise ValueError(f"averaged quantity must be one of {QUANTITIES}, got {quantity!r}")
    ms, m = [], 0.0
    for g in grads:
        m = beta1 * m + (1 - beta1) * g
        ms.append(m)
    base = grads if quantity.startswith("g") else ms
    return [x * x for x in base] if quantity.endswith("^2") else list(base)


def _table_sums(rows: dict, grads: list[float], beta1: float, beta2: float) -> dict:
    """Each Table 1 row's sum evaluated directly (float64) for the last t, from the row's own
    decay, coefficient and averaged quantity."""
    n = len(grads)
    values = {b1: beta1, b2: beta2}
    out = {}
    for name, (beta, coefficient, quantity) in rows.items():
        bv = float(beta.subs(values)) if isinstance(beta, sp.Basic) else float(beta)
        inputs = _averaged_inputs(quantity, grads, beta1)
        out[name] = sum(float(coefficient(n, j, bv)) * inputs[j - 1] for j in range(1, n + 1))
    return out


def check_table_1(rows: dict | None = None, steps: int = 25, seed: int = 0) -> CheckResult:
    """Each Table 1 sum solves its EMA recursion (symbolic t); theory.family's state matches each
    row's sum of its averaged quantity numerically (eps = 0, no bias correction), so averaging g_i^2
    instead of m_i^2 in AdaMomentum's v (the paper's one change to Adam) is caught; Rprop's
    m/sqrt(v) is sign(g)."""
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
    direct = _table_sums(rows, grads, beta1, beta2)
    hyper = Hyper(lr=1e-2, beta1=beta1, beta2=beta2, eps=0.0, bias_correction=False)
    state_of = {}
    for member in sorted({FAMILY_FIELD[name][0] for name in rows}):
        theta = torch.zeros(1, dtype=torch.float64)
        state = init_state(member, theta)
        for k in range(steps):
            step_(member, state, theta, torch.tensor([grads[k]], dtype=torch.float64), hyper)
        state_of[member] = state
    errors = {name: abs(float(getattr(state_of[FAMILY_FIELD[name][0]], FAMILY_FIELD[name][1])) - direct[name])
              for name in rows}
    numeric_err = max(errors.values())
    expressions = {**{k: v for k, v in residuals.items()}, "g/sqrt(g^2) - sign(g)": rprop}
    details = {"theory_family_max_abs_error": numeric_err, "row_errors": errors,
               "averaged": {name: q for name, (_, _, q) in rows.items()}}
    if failed or rprop != 0 or numeric_err > 1e-12:
        if failed:
            what = f"{failed[0]}: residual {residuals[failed[0]]}"
        elif rprop != 0:
            what = "Rprop sign identity"
        else:
            worst = max(errors, key=errors.get)
            what = (f"'{worst}' averaging {rows[worst][2]}: theory.family's {FAMILY_FIELD[worst][0]} "
                    f"{FAMILY_FIELD[worst][1]} differs from that sum by {fmt(errors[worst], 3)}")
        return CheckResult("table-1", "table-1", "fails", "symbolic",
                           f"Table 1 check fails at {what}; theory.family vs Table 1 sums max error "
                           f"{fmt(numeric_err, 3)}.", expressions=expressions, details={**details, "failed": failed})
    averaged = ", ".join(f"{name} = sum of {q}" for name, (_, _, q) in rows.items())
    return CheckResult("table-1", "table-1", "proved", "symbolic",
                       f"Every Table 1 sum ({averaged}) solves its EMA recursion for symbolic t ({len(residuals)} "
                       f"obligations = 0); Rprop's g/sqrt(g^2) = sign(g); theory.family (eps=0, no bias correction, "
                       f"{steps} steps) matches each row's sum of its averaged quantity to {fmt(numeric_err, 2)}. "
                       f"Table 1 omits eps and the bias corrections, as the text says.",
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
