"""Right-hand sides of the paper's bounds, computed from a run's own quantities.

Pure functions (torch or numpy in, floats or tensors out); no I/O. Sections:
Theorem 1 / Corollary 1 (online regret), Theorem 2 / Corollary 2 (nonconvex),
Lemma 1 / Proposition 1 quantities (escape set, ellipsoid volume).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

# ---- Theorem 1 / Corollary 1 (online convex regret) ---------------------------------------

# Section 4.1 and Appendix C.1 of the paper (method WITHOUT bias correction, alpha_t = alpha/sqrt(t)):
#   R(T) <= D^2 sqrt(T) / (2 alpha (1-b1)) * sum_i sqrt(v_{T,i})                         (term 1)
#         + D^2 / (2 (1-b1)) * sum_t sum_i b1_t sqrt(v_{t,i}) / alpha_t                 (term 2)
#         + alpha sqrt(1 + log T) / ((1-b1)^3 (1-gamma) sqrt(1-b2)) * sum_i ||g_{1:T,i}||_2  (term 3)
# with gamma = b1 / sqrt(b2). Corollary 1 (b1_t = b1 lam^t, ||grad f_t||_inf <= G):
#   R(T)/T <= d G alpha sqrt(1 + log T) / ((1-b1)^3 (1-gamma) sqrt((1-b2) T))
#           + d D^2 G / (2 alpha (1-b1) sqrt(T)) + d D^2 G b1 / (2 alpha (1-b1) (1-lam)^2 T).
# D (D_inf) must bound |theta_{t,i} - theta*_i| for the proof to go through (see theorem1_diameter).


def _t1_tensor(x, like=None):
    if isinstance(x, torch.Tensor):
        return x
    return torch.as_tensor(x, dtype=like.dtype if like is not None else torch.get_default_dtype(),
                           device=like.device if like is not None else None)


def theorem1_gamma(beta1, beta2):
    """gamma = beta1 / sqrt(beta2) of Theorem 1 (floats or tensors)."""
    return beta1 / beta2**0.5


def theorem1_rhs_terms(*, T: int, alpha, beta1, beta2, D_inf, sqrt_v_final_sum, weighted_sqrt_v_sum,
                       grad_l2_sum) -> dict:
    """The three terms of Theorem 1's right-hand side and their sum, from a run's own quantities.

    Arguments are per run (floats or tensors of shape ``(runs,)``):
    ``sqrt_v_final_sum`` = sum_i sqrt(v_{T,i}); ``weighted_sqrt_v_sum`` =
    sum_{t<=T} beta1_t / alpha_t * sum_i sqrt(v_{t,i}); ``grad_l2_sum`` = sum_i ||g_{1:T,i}||_2.
    ``v`` is the second moment the update divides by (the running max for max members).
    Returns ``{"term1", "term2", "term3", "total"}``; ``total`` is +inf where gamma >= 1 or beta1 >= 1
    (the bound says nothing there).
    """
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    ref = next((x for x in (sqrt_v_final_sum, weighted_sqrt_v_sum, grad_l2_sum, alpha, beta1, beta2, D_inf)
                if isinstance(x, torch.Tensor)), None)
    alpha, beta1, beta2, D_inf = (_t1_tensor(x, ref) for x in (alpha, beta1, beta2, D_inf))
    sv, wsv, gl2 = (_t1_tensor(x, ref) for x in (sqrt_v_final_sum, weighted_sqrt_v_sum, grad_l2_sum))
    gamma = theorem1_gamma(beta1, beta2)
    one_b1 = 1 - beta1
    term1 = D_inf**2 * math.sqrt(T) / (2 * alpha * one_b1) * sv
    term2 = D_inf**2 / (2 * one_b1) * wsv
    term3 = alpha * math.sqrt(1 + math.log(T)) / (one_b1**3 * (1 - gamma) * (1 - beta2).sqrt()) * gl2
    total = term1 + term2 + term3
    valid = (gamma < 1) & (beta1 < 1)
    total = torch.where(valid, total, torch.full_like(total, math.inf))
    return {"term1": term1, "term2": term2, "term3": term3, "total": total}


def corollary1_average_regret_bound(*, T: int, d: int, alpha, beta1, beta2, lam, D_inf, G_inf) -> dict:
    """Corollary 1's bound on R(T)/T (and its three terms), floats or tensors.

    ``lam`` is the decay of beta1_t = beta1 * lam^t; lam = 1 (no decay) makes the last term
    infinite, as in the paper's formula. +inf where gamma >= 1.
    """
    if T < 1 or d < 1:
        raise ValueError(f"T and d must be >= 1, got T={T}, d={d}")
    ref = next((x for x in (alpha, beta1, beta2, lam, D_inf, G_inf) if isinstance(x, torch.Tensor)), None)
    alpha, beta1, beta2, lam, D_inf, G_inf = (_t1_tensor(x, ref)
                                              for x in (alpha, beta1, beta2, lam, D_inf, G_inf))
    gamma = theorem1_gamma(beta1, beta2)
    one_b1 = 1 - beta1
    term1 = d * G_inf * alpha * math.sqrt(1 + math.log(T)) / (one_b1**3 * (1 - gamma) * ((1 - beta2) * T).sqrt())
    term2 = d * D_inf**2 * G_inf / (2 * alpha * one_b1 * math.sqrt(T))
    with torch.no_grad():
        term3 = torch.where(lam < 1, d * D_inf**2 * G_inf * beta1 / (2 * alpha * one_b1 * (1 - lam).clamp_min(1e-300)**2 * T),
                            torch.full_like(term2, math.inf))
    total = term1 + term2 + term3
    total = torch.where((gamma < 1) & (beta1 < 1), total, torch.full_like(total, math.inf))
    return {"term1": term1, "term2": term2, "term3": term3, "total": total}


def theorem1_diameter(theta_min, theta_max, theta_star) -> dict:
    """Two readings of D_inf from per-coordinate extremes of the iterates (shape ``(runs, d)``).

    ``iterates``: max_{m,n} ||theta_m - theta_n||_inf, the statement's literal hypothesis;
    ``to_optimum``: max_t ||theta_t - theta*||_inf, what the proof (eqs. 13-16) actually uses.
    The bound is evaluated with ``proof`` = max of the two.
    """
    iterates = (theta_max - theta_min).amax(dim=-1)
    to_opt = torch.maximum((theta_max - theta_star).abs(), (theta_min - theta_star).abs()).amax(dim=-1)
    return {"iterates": iterates, "to_optimum": to_opt, "proof": torch.maximum(iterates, to_opt)}


# ---- Theorem 2 / Corollary 2 (nonconvex) ----------------------------------------------------

# Theorem 2 (Section 4.2, proof in Appendix C.2.2) rests on Chen, Liu, Sun & Hong (ICLR 2019),
# Theorem 3.1 (the paper's Theorem 5). For x_{t+1} = x_t - alpha_t m_t / sqrt(v_t) WITHOUT bias
# correction, Assumptions 2 (L-smooth) and 4 (||grad f||_2, ||g_t||_2 <= H), 0 <= b1_{t+1} <= b1_t,
# alpha_t / sqrt(v_t) non-increasing per coordinate, min v >= c > 0, alpha_t <= alpha and
# sum_t alpha_t^2 <= eta(T) (the statement prints "sum alpha_t"; eq. (21) needs the squares):
#   min_t E||grad f(theta_t)||^2 <= H / (T alpha_T) [C1 H^2 eta/c + C2 d alpha/sqrt(c)
#                                                    + C3 d alpha^2/c + C4] = (Q1 + Q2 eta)/(T alpha_T),
#   Q1 = H (C2 d alpha/sqrt(c) + C3 d alpha^2/c + C4),  Q2 = C1 H^3 / c.
# Corollary 2 (alpha_t = alpha/sqrt(t)): T alpha_T = alpha sqrt(T), eta = alpha^2 (1 + log T).
# C1..C4 are printed only at the end of Appendix C.2.5, and the text there is garbled. As read:
#   C1 = 3L/2 + 1/2 + L^2 b1/(1-b1) (1/(1-b1))^2,   C2 = H^2 b1/(1-b1) + 2 H^2,
#   C3 = (1 + L^2 (1/(1-b1))^2 b1/(1-b1)) (1/(1-b1))^2,
#   C4 = b1/(1-b1) (H^2 + G^2) + (b1/(1-b1))^2 G^2 + 2 H^2 E||alpha_1/sqrt(v_1)||_1 + E[f(z_1) - f*],
# with G >= ||alpha_t m_t / sqrt(v_t)||_2 for all t (an extra hypothesis of Chen et al.) and
# z_1 = theta_1 (the start point). The merged inequality just above carries factors the printed
# C3 and C4 lack (H^2 on the squared-difference terms, 3L/2 on the G^2 term); reading="conservative"
# multiplies them in (C3 * max(1, H^2), G^2 term * max(1, 3L/2)). Every reading contains the term
# H E[f(z_1) - f*] / (T alpha_T), which is therefore a floor of the right-hand side (``floor``):
# a lower bound of the RHS for the true constants only when H and f_gap passed in are lower bounds
# (callers that pass upper bounds, as f(z_1) - 0, must build their floor from lower bounds).

CHEN_READINGS = ("as-printed", "conservative")


@dataclass(frozen=True)
class ChenConstants:
    """C1..C4 of Theorem 5 (Chen et al. 2019) for one problem and one run; see the section notes."""

    C1: float
    C2: float
    C3: float
    C4: float
    f_gap_term: float  # the E[f(z_1) - f*] part of C4, present under every reading
    reading: str = "as-printed"

    def as_dict(self) -> dict:
        return {"C1": self.C1, "C2": self.C2, "C3": self.C3, "C4": self.C4,
                "f_gap_term": self.f_gap_term, "reading": self.reading}


def chen_constants(L: float, H: float, G: float, beta1: float, first_step_l1: float, f_gap: float,
                   reading: str = "as-printed") -> ChenConstants:
    """C1..C4 from the problem's L and H, the run's G, b1 (= b1_1, the largest b1_t), the mean
    first-step size E||alpha_1/sqrt(v_1)||_1 and an upper bound ``f_gap`` of E[f(theta_1) - f*]."""
    if reading not in CHEN_READINGS:
        raise ValueError(f"reading must be one of {CHEN_READINGS}, got {reading!r}")
    if not 0.0 <= beta1 < 1.0:
        raise ValueError(f"beta1 must satisfy 0 <= beta1 < 1, got {beta1}")
    for name, value in (("L", L), ("H", H), ("G", G), ("first_step_l1", first_step_l1), ("f_gap", f_gap)):
        if not (value >= 0.0 and math.isfinite(value)):
            raise ValueError(f"{name} must be finite and >= 0, got {value}")
    r = beta1 / (1.0 - beta1)  # b1 / (1 - b1)
    s = 1.0 / (1.0 - beta1)  # 1 / (1 - b1)
    c1 = 1.5 * L + 0.5 + L**2 * r * s**2
    c2 = H**2 * r + 2.0 * H**2
    c3 = (1.0 + L**2 * s**2 * r) * s**2
    g2_factor = 1.0
    if reading == "conservative":
        c3 *= max(1.0, H**2)
        g2_factor = max(1.0, 1.5 * L)
    c4 = r * (H**2 + G**2) + g2_factor * r**2 * G**2 + 2.0 * H**2 * first_step_l1 + f_gap
    return ChenConstants(c1, c2, c3, c4, f_gap, reading)


def theorem2_q(consts: ChenConstants, H: float, c: float, d: int, alpha: float) -> tuple[float, float]:
    """(Q1, Q2) of eq. (25): Q1 = H (C2 d alpha/sqrt(c) + C3 d alpha^2/c + C4), Q2 = C1 H^3/c."""
    if not c > 0.0:
        raise ValueError(f"c must be > 0 (min v), got {c}")
    q1 = H * (consts.C2 * d * alpha / math.sqrt(c) + consts.C3 * d * alpha**2 / c + consts.C4)
    q2 = consts.C1 * H**3 / c
    return q1, q2


def theorem2_rhs(consts: ChenConstants, H: float, c: float, d: int, alpha: float,
                 T_alpha_T: float, eta: float) -> dict:
    """Theorem 2's right-hand side, term by term, for one horizon T.

    ``T_alpha_T`` is T * alpha_T, ``eta`` bounds sum_{t<=T} alpha_t^2, ``alpha`` bounds every
    alpha_t. Returns the four bracketed terms (already multiplied by H / (T alpha_T)), their sum
    ``rhs``, the reading-independent ``floor`` H E[f(z_1) - f*] / (T alpha_T), Q1 and Q2.
    """
    if not T_alpha_T > 0.0:
        raise ValueError(f"T_alpha_T must be > 0, got {T_alpha_T}")
    if not c > 0.0:
        raise ValueError(f"c must be > 0 (min v), got {c}")
    scale = H / T_alpha_T
    terms = {
        "C1": scale * consts.C1 * H**2 * eta / c,
        "C2": scale * consts.C2 * d * alpha / math.sqrt(c),
        "C3": scale * consts.C3 * d * alpha**2 / c,
        "C4": scale * consts.C4,
    }
    q1, q2 = theorem2_q(consts, H, c, d, alpha)
    return {"terms": terms, "rhs": sum(terms.values()), "floor": scale * consts.f_gap_term,
            "Q1": q1, "Q2": q2}


def inverse_sqrt_schedule(alpha: float, T: int) -> tuple[float, float, float]:
    """(T alpha_T, exact sum_{t<=T} alpha_t^2, Corollary 2's eta = alpha^2 (1 + log T)) for alpha/sqrt(t)."""
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    harmonic = float(sum(1.0 / t for t in range(1, T + 1))) if T < 10_000 else (
        math.log(T) + 0.5772156649015329 + 1.0 / (2 * T) - 1.0 / (12 * T * T))
    return alpha * math.sqrt(T), alpha**2 * harmonic, alpha**2 * (1.0 + math.log(T))


def corollary2_rhs(consts: ChenConstants, H: float, c: float, d: int, alpha: float, T: int) -> dict:
    """Corollary 2: Theorem 2 with alpha_t = alpha / sqrt(t), eta(T) = alpha^2 (1 + log T)."""
    t_alpha_t, _, eta = inverse_sqrt_schedule(alpha, T)
    return theorem2_rhs(consts, H, c, d, alpha, t_alpha_t, eta)


# Defossez, Bottou, Bach & Usunier, "A Simple Convergence Proof of Adam and Adagrad" (TMLR 2022),
# theorem for Adam with heavy-ball momentum (0 <= b1 < b2 < 1), transcribed from the published
# statement as we know it (the text was not available to re-check here): their iteration is
# x_n = x_{n-1} - a_n m_n / sqrt(eps + v_n), m_n = b1 m_{n-1} + g_n, v_n = b2 v_{n-1} + g_n^2,
# a_n = a (1 - b1) sqrt(sum_{j<n} b2^j); ||g||_inf <= R - sqrt(eps) a.s.; F L-smooth; tau in
# {0..N-1} with P[tau = j] proportional to 1 - b1^(N-j); N~ = N - b1/(1-b1):
#   E||grad F(x_tau)||^2 <= 2 R (F(x_0) - F*)/(a N~) + E/N~ (ln(1 + R^2/((1-b2) eps)) - N ln b2),
#   E = a d R L (1-b1)/((1-b1/b2)(1-b2)) + 12 d R^2 sqrt(1-b1)/((1-b1/b2)^{3/2} sqrt(1-b2))
#       + 2 a^2 d L^2 b1/((1-b1/b2)(1-b2)^{3/2}).


def defossez_adam_bound(N: int, alpha: float, beta1: float, beta2: float, eps: float, R: float,
                        L: float, d: int, f_gap: float) -> float:
    """Defossez et al.'s explicit bound on E||grad F(x_tau)||^2 for Adam (see the notes above)."""
    if not 0.0 <= beta1 < beta2 < 1.0:
        raise ValueError(f"need 0 <= beta1 < beta2 < 1, got beta1={beta1}, beta2={beta2}")
    n_tilde = N - beta1 / (1.0 - beta1)
    if not n_tilde > 0:
        raise ValueError(f"N must exceed beta1/(1-beta1), got N={N}")
    if not (eps > 0 and R > 0 and alpha > 0):
        raise ValueError("eps, R and alpha must be > 0")
    k = 1.0 - beta1 / beta2
    e_const = (alpha * d * R * L * (1 - beta1) / (k * (1 - beta2))
               + 12 * d * R**2 * math.sqrt(1 - beta1) / (k**1.5 * math.sqrt(1 - beta2))
               + 2 * alpha**2 * d * L**2 * beta1 / (k * (1 - beta2) ** 1.5))
    log_term = math.log(1 + R**2 / ((1 - beta2) * eps)) - N * math.log(beta2)
    return 2 * R * f_gap / (alpha * n_tilde) + e_const / n_tilde * log_term


def defossez_tau_weights(N: int, beta1: float):
    """P[tau = j] for j = 0..N-1, proportional to 1 - b1^(N-j) (uniform when b1 = 0)."""
    w = 1.0 - beta1 ** (N - np.arange(N, dtype=np.float64))
    return w / w.sum()


# ---- Lemma 1 / Proposition 1 (escape set, ellipsoid volume) --------------------------------

# Section 3.2. Lemma 1: E Gamma = Theta(upsilon / m(Upsilon)), upsilon = lr^(1 - 1/alpha), with
# Upsilon the escaping set of Definition 2. For Levy motion with independent components the jumps
# lie on the axes, and the natural Radon measure of Upsilon is the Levy measure nu(Upsilon); with
# the noise coefficient frozen at the minimum this is the Imkeller-Pavlyukevich exit rate
# (REFERENCES.md, "Exit times"). Proposition 1's proof compares the volumes of the ellipsoid
# Upsilon^c = {y : y' S R^-1 H R^-1 S y < h_f} for Adam and AdaMomentum.


def stable_levy_constant(alpha: float) -> float:
    """c_alpha = Gamma(1 + alpha) sin(pi alpha / 2) / pi: the Levy measure of the unit-scale
    symmetric alpha-stable law is c_alpha |y|^(-1-alpha) dy (0 at alpha = 2: no jumps)."""
    if not 0.0 < alpha <= 2.0:
        raise ValueError(f"tail index alpha must satisfy 0 < alpha <= 2, got {alpha}")
    if alpha == 2.0:
        return 0.0
    return math.gamma(1.0 + alpha) * math.sin(math.pi * alpha / 2.0) / math.pi


def getoor_mean_exit_time(alpha: float, radius: float, start: float = 0.0, scale: float = 1.0) -> float:
    """Exact E tau for ``scale`` * unit symmetric alpha-stable Levy motion (no drift) started at
    ``start`` in (-radius, radius), in one dimension (Getoor):
    (r^2 - x^2)^(alpha/2) / Gamma(1 + alpha) / scale^alpha. alpha = 2: Brownian motion with
    variance 2 scale^2 t, (r^2 - x^2) / (2 scale^2)."""
    if not abs(start) < radius:
        raise ValueError(f"start must lie in (-radius, radius) = ({-radius}, {radius}), got {start}")
    return (radius**2 - start**2) ** (alpha / 2.0) / math.gamma(1.0 + alpha) / scale**alpha


def box_escape_measure(alpha: float, right, left, coefficient) -> float:
    """nu(Upsilon) for the box (-left_i, right_i) and jumps coefficient_i * y_i of a Levy motion with
    independent unit symmetric alpha-stable components (one-sided tail c_alpha/alpha x^-alpha):

        sum_i (c_alpha / alpha) coefficient_i^alpha (right_i^-alpha + left_i^-alpha).

    Scalars broadcast. This is the Imkeller-Pavlyukevich small-noise exit rate lambda."""
    c = stable_levy_constant(alpha)
    a, b, k = np.broadcast_arrays(np.asarray(right, float), np.asarray(left, float), np.asarray(coefficient, float))
    return float(np.sum(c / alpha * k**alpha * (a**-alpha + b**-alpha)))


def ip_mean_exit_time(alpha: float, right, left, coefficient) -> float:
    """Imkeller-Pavlyukevich small-noise asymptotics E tau ~ 1 / box_escape_measure(...)
    (dX = -U'(X) dt + coefficient dL, single minimum of U at 0 inside (-left, right))."""
    return 1.0 / box_escape_measure(alpha, right, left, coefficient)


def lemma1_exponents(alpha: float) -> dict:
    """Exponent s in E Gamma ~ upsilon^s as upsilon -> 0 with everything else fixed, as each
    reading predicts: Lemma 1 as stated (m(Upsilon) does not depend on upsilon: Definition 2's
    Upsilon involves upsilon only through the vanishing margin upsilon*gamma), Lemma 1 with
    m(Upsilon) read as the Levy measure of the upsilon-scaled escaping set, and the
    Imkeller-Pavlyukevich law for a noise coefficient proportional to upsilon."""
    return {"lemma-1 as stated": 1.0, "lemma-1 with nu(upsilon-scaled set)": 1.0 - alpha,
            "imkeller-pavlyukevich": -alpha}


def ellipsoid_volume(semi_axes) -> float:
    """Volume pi^(d/2) / Gamma(d/2 + 1) * prod r_i of the ellipsoid with the given semi-axes."""
    r = np.asarray(semi_axes, dtype=float).ravel()
    return float(math.pi ** (r.size / 2) / math.gamma(r.size / 2 + 1) * np.prod(r))


def escaping_complement_semi_axes(hessian_diag, r_diag, noise_diag, height):
    """Semi-axes of Upsilon^c = {y : y' S R^-1 H R^-1 S y < h_f} (proof of Proposition 1) for
    diagonal H, R, S: r_i = R_i sqrt(h_f / H_i) / S_i. A larger R (second moment) gives a larger
    complement, a smaller escaping set Upsilon and, by Lemma 1, a longer escape."""
    h, r, s = np.broadcast_arrays(np.asarray(hessian_diag, float), np.asarray(r_diag, float),
                                  np.asarray(noise_diag, float))
    return r * np.sqrt(height / h) / s
