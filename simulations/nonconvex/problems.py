"""Stochastic test problems with known smoothness L and gradient bound H (Section 4.2).

Every problem is batched: parameters have shape ``(runs, dim)`` (runs = seeds, possibly several
optimizers stacked), the stochastic gradient of each run draws its own noise from one torch
generator, and ``full_grad`` is the exact gradient of the objective f (what Theorem 2 measures).

Problems and where their constants come from:

* ``quadratic``: f = lam/2 ||x||^2, g = grad f + sigma * Rademacher noise. Convex; the calibration
  case whose expected gradient norm under SGD with alpha_t = alpha/sqrt(t) is known exactly
  (:func:`sgd_quadratic_expected_grad_sq`), decaying as t^(-1/2). L = lam; no global H.
* ``rosenbrock``: f = log(1 + R(x, y)), R the Rosenbrock function (1-x)^2 + b (y - x^2)^2. The
  logarithm keeps the function nonconvex and smooth but makes its gradient globally bounded
  (|grad R| / (1 + R) -> 0 at infinity). L and sup ||grad f|| are maximised on a fine grid of the box
  [-3, 3]^2 (with the grid-spacing correction for H and a 2 % margin for L); runs are checked to
  stay inside the box. Noise: uniform on [-sigma, sigma]^2, so H = sup ||grad f|| + sigma sqrt(2).
* ``robust-regression``: f(w) = mean_i rho(a_i.w - b_i), rho(r) = r^2/(1 + r^2) (Geman-McClure,
  nonconvex), unit-norm rows a_i, 10 % outliers in b; minibatch gradients. Closed form:
  |rho'| <= 9/(8 sqrt 3), |rho''| <= 2, so H = 9/(8 sqrt 3) and L = 2 lambda_max(A^T A / n).
* ``mlp``: one tanh hidden layer, logistic loss, labels from a random teacher with 10 % flipped,
  inputs clipped to ||x|| <= X; minibatch gradients, written batched over runs with torch.bmm.
  The per-sample gradient obeys ||g||^2 <= 1 + hidden + ||w2||^2 (1 + X^2) (|loss'| <= 1,
  |tanh| <= 1), a bound that depends on the state: ``grad_bound(theta)``. No global L exists (the
  weights are unbounded); L is estimated along the run (secant ratios) and flagged as such.

f* is bounded below by 0 for every problem (``f_lower``), which bounds E[f(theta_1) - f*] above.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

PROBLEMS = ("quadratic", "rosenbrock", "robust-regression", "mlp")


@dataclass
class Problem:
    """Base class: subclasses set the fields and implement the three batched maps."""

    name: str
    dim: int
    L: float | None  # smoothness of f (None: not known globally)
    H: float | None  # bound on ||g||_2 and ||grad f||_2 (None: state-dependent or none)
    L_source: str
    H_source: str
    f_lower: float = 0.0
    default_lr: float = 0.01

    def init(self, runs: int, device, dtype) -> torch.Tensor:
        raise NotImplementedError

    def _data(self, device, dtype) -> tuple[torch.Tensor, ...]:
        """The problem's fixed data arrays (``self.data_np``) as tensors, converted once per device/dtype."""
        cache = self.__dict__.setdefault("_data_cache", {})
        key = (str(device), dtype)
        if key not in cache:
            cache[key] = tuple(torch.as_tensor(x, device=device, dtype=dtype) for x in self.data_np)
        return cache[key]

    def stochastic_grad(self, theta: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def full_grad(self, theta: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def value(self, theta: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def grad_bound(self, theta: torch.Tensor) -> torch.Tensor | None:
        """Per-run bound on ||g|| at ``theta`` when H depends on the state (else None)."""
        return None

    def in_domain(self, theta: torch.Tensor) -> torch.Tensor | None:
        """Per-run flag: is theta where L and H were certified (None: everywhere)."""
        return None

    def constants(self) -> dict:
        return {"L": self.L, "H": self.H, "L_source": self.L_source, "H_source": self.H_source,
                "f_lower": self.f_lower, "dim": self.dim}


# ---- quadratic (calibration, closed-form rate) ---------------------------------------------

class Quadratic(Problem):
    def __init__(self, dim: int = 4, lam: float = 1.0, sigma: float = 1.0, x0: float = 0.5):
        super().__init__("quadratic", dim, lam, None, "exact: Hessian lam I", "none (unbounded domain)",
                         default_lr=0.5)
        self.lam, self.sigma, self.x0 = lam, sigma, x0

    def init(self, runs, device, dtype):
        return torch.full((runs, self.dim), self.x0, device=device, dtype=dtype)

    def stochastic_grad(self, theta, gen):
        signs = torch.randint(0, 2, theta.shape, generator=gen, device=theta.device).to(theta.dtype)
        return self.lam * theta + self.sigma * (2 * signs - 1)

    def full_grad(self, theta):
        return self.lam * theta

    def value(self, theta):
        return 0.5 * self.lam * (theta * theta).sum(-1)


def sgd_quadratic_expected_grad_sq(problem: Quadratic, lr: float, steps: int) -> np.ndarray:
    """Exact E||grad f(theta_{t-1})||^2, t = 1..steps, for plain SGD with a_t = lr/sqrt(t).

    Per coordinate e_t = E x_t^2 obeys e_t = (1 - a_t lam)^2 e_{t-1} + a_t^2 sigma^2 (zero-mean,
    independent noise of variance sigma^2), so E||grad f(x_t)||^2 = lam^2 d e_t ~ lam lr sigma^2 d /(2 sqrt t).
    """
    e = np.empty(steps + 1)
    e[0] = problem.x0**2
    for t in range(1, steps + 1):
        a = lr / math.sqrt(t)
        e[t] = (1 - a * problem.lam) ** 2 * e[t - 1] + a * a * problem.sigma**2
    return problem.lam**2 * problem.dim * e[:steps]


# ---- log-Rosenbrock (bounded gradient, nonconvex) ------------------------------------------

def _log_rosenbrock_derivatives(x, y, b):
    """Gradient and Hessian of log(1 + R) on numpy arrays (R the Rosenbrock function)."""
    u = y - x * x
    R = (1 - x) ** 2 + b * u * u
    Rx = -2 * (1 - x) - 4 * b * x * u
    Ry = 2 * b * u
    Rxx = 2 - 4 * b * u + 8 * b * x * x
    Rxy = -4 * b * x
    Ryy = 2 * b
    s = 1 + R
    gx, gy = Rx / s, Ry / s
    hxx = Rxx / s - gx * gx
    hxy = Rxy / s - gx * gy
    hyy = Ryy / s - gy * gy
    return gx, gy, hxx, hxy, hyy


@lru_cache(maxsize=8)
def log_rosenbrock_constants(b: float, box: float, points: int = 1201) -> tuple[float, float]:
    """(L, sup ||grad f||) of log(1 + Rosenbrock) on [-box, box]^2 from a grid maximisation.

    L: the largest Hessian spectral norm on the grid, times 1.02. The gradient sup adds
    L * (half the grid diagonal), which bounds how much ||grad f|| can grow between grid points.
    """
    grid = np.linspace(-box, box, points)
    x, y = np.meshgrid(grid, grid, indexing="ij")
    gx, gy, hxx, hxy, hyy = _log_rosenbrock_derivatives(x, y, b)
    half_trace = 0.5 * (hxx + hyy)
    radius = np.sqrt(0.25 * (hxx - hyy) ** 2 + hxy**2)
    L = 1.02 * float(np.max(np.abs(half_trace) + radius))
    h = grid[1] - grid[0]
    sup_grad = float(np.max(np.hypot(gx, gy))) + L * h / math.sqrt(2)
    return L, sup_grad


class LogRosenbrock(Problem):
    def __init__(self, b: float = 100.0, sigma: float = 1.0, box: float = 3.0, start=(-1.2, 1.0)):
        L, sup_grad = log_rosenbrock_constants(b, box)
        super().__init__("rosenbrock", 2, L, sup_grad + sigma * math.sqrt(2),
                         f"grid maximum of the Hessian norm on [-{box},{box}]^2 (+2%)",
                         f"grid sup ||grad f|| on [-{box},{box}]^2 + L h/sqrt2 + sigma sqrt(2)",
                         default_lr=0.01)
        self.b, self.sigma, self.box, self.start = b, sigma, box, start
        self.sup_grad = sup_grad

    def init(self, runs, device, dtype):
        return torch.tensor(self.start, device=device, dtype=dtype).expand(runs, 2).clone()

    def full_grad(self, theta):
        x, y = theta[:, 0], theta[:, 1]
        u = y - x * x
        s = 1 + (1 - x) ** 2 + self.b * u * u
        return torch.stack((-2 * (1 - x) - 4 * self.b * x * u, 2 * self.b * u), dim=-1) / s.unsqueeze(-1)

    def stochastic_grad(self, theta, gen):
        noise = torch.rand(theta.shape, generator=gen, device=theta.device, dtype=theta.dtype)
        return self.full_grad(theta) + self.sigma * (2 * noise - 1)

    def value(self, theta):
        x, y = theta[:, 0], theta[:, 1]
        return torch.log1p((1 - x) ** 2 + self.b * (y - x * x) ** 2)

    def in_domain(self, theta):
        return (theta.abs() <= self.box).all(dim=-1)


# ---- robust (Geman-McClure) regression -----------------------------------------------------

RHO_PRIME_MAX = 9.0 / (8.0 * math.sqrt(3.0))  # max |rho'(r)|, at r^2 = 1/3
RHO_SECOND_MAX = 2.0  # max |rho''(r)|, at r = 0


class RobustRegression(Problem):
    def __init__(self, dim: int = 10, samples: int = 512, batch: int = 4, outliers: float = 0.1,
                 data_seed: int = 1234):
        g = np.random.default_rng(data_seed)
        a = g.standard_normal((samples, dim))
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        w_star = g.standard_normal(dim) * 2.0
        b = a @ w_star + 0.1 * g.standard_normal(samples)
        bad = g.random(samples) < outliers
        b[bad] += g.standard_normal(int(bad.sum())) * 10.0
        lam_max = float(np.linalg.eigvalsh(a.T @ a / samples)[-1])
        super().__init__("robust-regression", dim, RHO_SECOND_MAX * lam_max, RHO_PRIME_MAX,
                         "closed form: max|rho''| * lambda_max(A^T A / n)",
                         "closed form: max|rho'| * max ||a_i|| (unit rows)", default_lr=0.05)
        self.a_np, self.b_np, self.batch = a, b, batch
        self.data_np = (a, b)

    def init(self, runs, device, dtype):
        return torch.zeros((runs, self.dim), device=device, dtype=dtype)

    @staticmethod
    def _rho_prime(r):
        return 2 * r / (1 + r * r) ** 2

    def full_grad(self, theta):
        a, b = self._data(theta.device, theta.dtype)
        r = theta @ a.T - b  # (runs, n)
        return self._rho_prime(r) @ a / a.shape[0]

    def stochastic_grad(self, theta, gen):
        a, b = self._data(theta.device, theta.dtype)
        idx = torch.randint(0, a.shape[0], (theta.shape[0], self.batch), generator=gen, device=theta.device)
        rows = a[idx]  # (runs, batch, dim)
        r = torch.einsum("rbd,rd->rb", rows, theta) - b[idx]
        return torch.einsum("rb,rbd->rd", self._rho_prime(r), rows) / self.batch

    def value(self, theta):
        a, b = self._data(theta.device, theta.dtype)
        r = theta @ a.T - b
        return (r * r / (1 + r * r)).mean(-1)


# ---- small tanh network, batched over runs with bmm ----------------------------------------

class TanhMLP(Problem):
    def __init__(self, inputs: int = 4, hidden: int = 8, samples: int = 128, batch: int = 8,
                 x_max: float = 2.0, flip: float = 0.1, data_seed: int = 4321, init_seed: int = 99):
        g = np.random.default_rng(data_seed)
        x = g.standard_normal((samples, inputs))
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x *= np.minimum(1.0, x_max / norms)
        teacher_w = g.standard_normal((hidden, inputs))
        teacher_v = g.standard_normal(hidden)
        y = np.sign(np.tanh(x @ teacher_w.T) @ teacher_v + 1e-12)
        y[g.random(samples) < flip] *= -1
        dim = hidden * inputs + hidden + hidden + 1
        super().__init__("mlp", dim, None, None, "estimated along the run (secant ratios of grad f)",
                         "state-dependent: sqrt(1 + hidden + ||w2||^2 (1 + X^2)) along the run",
                         default_lr=0.02)
        self.inputs, self.hidden, self.batch, self.x_max = inputs, hidden, batch, x_max
        self.x_np, self.y_np = x, y
        self.data_np = (x, y)
        self.init_np = np.random.default_rng(init_seed).standard_normal(dim) * 0.5

    def _unpack(self, theta):
        h, p = self.hidden, self.inputs
        w1 = theta[:, : h * p].reshape(-1, h, p)
        b1 = theta[:, h * p: h * p + h]
        w2 = theta[:, h * p + h: h * p + 2 * h]
        b2 = theta[:, -1]
        return w1, b1, w2, b2

    def init(self, runs, device, dtype):
        return torch.as_tensor(self.init_np, device=device, dtype=dtype).expand(runs, self.dim).clone()

    def _loss_and_grad(self, theta, x, y):
        """x: (runs, n, p) and y: (runs, n), or the shared data set x: (n, p), y: (n,).
        Mean logistic loss log(1 + exp(-y z)) and its gradient (written out, batched over runs)."""
        w1, b1, w2, b2 = self._unpack(theta)
        if x.dim() == 2:  # the full data set, shared by every run
            pre = (x @ w1.reshape(-1, self.inputs).T).view(x.shape[0], -1, self.hidden).transpose(0, 1)
        else:
            pre = torch.bmm(x, w1.transpose(1, 2))
        hid = torch.tanh(pre + b1.unsqueeze(1))  # (runs, n, h)
        z = torch.bmm(hid, w2.unsqueeze(-1)).squeeze(-1) + b2.unsqueeze(-1)  # (runs, n)
        margin = y * z
        loss = torch.nn.functional.softplus(-margin).mean(-1)
        dz = -y * torch.sigmoid(-margin) / z.shape[1]  # d loss / d z, |.| <= 1/n
        g_w2 = torch.bmm(hid.transpose(1, 2), dz.unsqueeze(-1)).squeeze(-1)
        g_b2 = dz.sum(-1, keepdim=True)
        dpre = dz.unsqueeze(-1) * w2.unsqueeze(1) * (1 - hid * hid)  # (runs, n, h)
        g_w1 = dpre.transpose(1, 2) @ x  # (runs, h, p); x (n, p) broadcasts
        g_b1 = dpre.sum(1)
        grad = torch.cat((g_w1.flatten(1), g_b1, g_w2, g_b2), dim=-1)
        return loss, grad

    def full_grad(self, theta):
        x, y = self._data(theta.device, theta.dtype)
        return self._loss_and_grad(theta, x, y)[1]

    def stochastic_grad(self, theta, gen):
        x, y = self._data(theta.device, theta.dtype)
        idx = torch.randint(0, x.shape[0], (theta.shape[0], self.batch), generator=gen, device=theta.device)
        return self._loss_and_grad(theta, x[idx], y[idx])[1]

    def value(self, theta):
        x, y = self._data(theta.device, theta.dtype)
        return self._loss_and_grad(theta, x, y)[0]

    def grad_bound(self, theta):
        w2 = self._unpack(theta)[2]
        return torch.sqrt(1 + self.hidden + (w2 * w2).sum(-1) * (1 + self.x_max**2))


def make_problem(name: str) -> Problem:
    """A problem by name, with its default size and noise (see the module docstring)."""
    factories = {"quadratic": Quadratic, "rosenbrock": LogRosenbrock,
                 "robust-regression": RobustRegression, "mlp": TanhMLP}
    if name not in factories:
        raise ValueError(f"problem must be one of {PROBLEMS}, got {name!r}")
    return factories[name]()


__all__ = ["PROBLEMS", "Problem", "Quadratic", "LogRosenbrock", "RobustRegression", "TanhMLP",
           "make_problem", "sgd_quadratic_expected_grad_sq", "log_rosenbrock_constants"]
