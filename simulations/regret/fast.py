"""An exact fast path for the regret inner loop: many steps per call, bit-identical to the per-step path.

On the linear problems (``periodic``, ``stochastic-periodic``, ``box-linear``) the gradient g_t does
not depend on the iterate, and for a plain eq. (2) member without weight decay neither do m_t, v_t
nor the update u_t = a_t q_t m_t / denom_t: only the projection x_t = clip(x_{t-1} - u_t) needs x.
So a segment of n steps is computed as

* every operation that does not feed back (g (1 - b1_t), k^2 (1 - b2), sqrt, the divisions, the
  running max) once, vectorised over the n steps: element for element the same IEEE operation as
  :func:`theory.family.step_` performs at each step, so the same result;
* only the true recurrences (m_t = b1_t m_{t-1} + ..., v_t = b2 v_{t-1} + ..., the clipped x_t) in a
  loop over steps, each step the same operations in the same order as ``step_``: m, v and x in compiled loops
  (:mod:`simulations.regret.kernels`, numba, about a nanosecond per run and step, where a numpy
  ufunc call costs about 0.5 us and a torch op about 3 us; ``_numpy_recurrence``, ``_numpy_ema``
  and ``_numpy_walk`` are the same loops in numpy, kept as their check), Yogi's v in numpy ufuncs
  on the (runs, d) rows.

No operation is fused or reordered (float multiply, add and divide are correctly rounded in numpy and
torch alike; torch's ``add_`` is fma(b, 1, a), exactly a + b; square roots are torch's, see
:func:`_torch_sqrt`), so the float64 result is
bit-identical to the reference; ``tests/test_fast_paths.py`` checks it with ``torch.equal`` for every
member, both bias-correction settings, beta1 decay and per-run hyperparameter columns. Powers of a
per-run tensor hyperparameter (beta^t in the bias corrections) are evaluated by torch itself, with
the very expression and shape ``step_`` uses, since torch's vectorised pow is not libm's.

CPU only (numpy views of the tensors); anything else runs the per-step reference.
"""
from __future__ import annotations

import numpy as np
import torch

from theory.family import Hyper, Member
from theory.rule import FamilyRule

PATHS = ("auto", "fast", "reference")
_clip = (np._core if hasattr(np, "_core") else np.core).umath.clip  # the ufunc behind np.clip: min(max(x, lo), hi), without the wrapper's cost


def _numpy_recurrence(y0, forcing, coef, out) -> None:
    """The numpy loop behind :func:`simulations.regret.kernels.linear_recurrence`:
    y_t = c_t y_{t-1} + forcing_t (coef broadcast to forcing's shape)."""
    prev, mul, add = y0, np.multiply, np.add
    for j in range(forcing.shape[0]):
        mul(prev, coef[j], out[j])
        add(out[j], forcing[j], out[j])
        prev = out[j]


def _numpy_ema(v0, K2omb2, b2, eps, inside, out) -> None:
    """The numpy loop behind :func:`simulations.regret.kernels.ema_second_moments` (same operations)."""
    prev, mul, add = v0, np.multiply, np.add
    for j in range(K2omb2.shape[0]):
        mul(prev, b2, out[j])
        add(out[j], K2omb2[j], out[j])
        if inside:
            add(out[j], eps, out[j])
        prev = out[j]


def _numpy_walk(x0, U, lo, hi, out) -> None:
    """The numpy loop behind :func:`simulations.regret.kernels.clipped_walk` (same operations)."""
    out[0] = x0
    for j in range(U.shape[0]):  # x_{t+1} = clamp(x_t - u_t, -radius, radius)
        np.subtract(out[j], U[j], out[j + 1])
        _clip(out[j + 1], lo, hi, out[j + 1])


def _recurrence(*args) -> None:
    from simulations.regret.kernels import linear_recurrence  # numba: imported (and compiled) on first use

    linear_recurrence(*args)


def _ema(*args) -> None:
    from simulations.regret.kernels import ema_second_moments

    ema_second_moments(*args)


def _walk(x0, U, lo, hi, out) -> None:
    if lo.shape[-1] != 1:  # the kernel reads one bound per run
        return _numpy_walk(x0, U, lo, hi, out)
    from simulations.regret.kernels import clipped_walk

    clipped_walk(x0, U, lo, hi, out)


def unsupported(rule, batch, hyper: Hyper) -> str | None:
    """Why the exact fast path cannot run this batch (None: it can)."""
    member = getattr(rule, "member", None)
    if type(rule) is not FamilyRule:  # a subclass may step differently
        return f"{getattr(rule, 'name', rule)!r} is not a registry member of the family (its step is opaque)"
    if not member._plain_update:
        return f"{member.name}: rectified or clipped steps are not implemented in the fast path"
    if not batch.linear:
        return f"the {batch.name} problem's gradient depends on the iterate"
    if batch.device.type != "cpu":
        return f"the fast path runs on the CPU (device {batch.device})"
    if batch.dtype != torch.float64:
        return f"the fast path is checked bit-identical in float64 only (dtype {batch.dtype})"
    wd = hyper.weight_decay
    if (bool(torch.any(wd != 0)) if isinstance(wd, torch.Tensor) else wd != 0.0):
        return "weight decay is not implemented in the fast path"
    return None


def _torch_sqrt(a: np.ndarray) -> np.ndarray:
    """torch's sqrt, element for element what ``step_`` gets: on AVX-512 CPUs torch's vectorised sqrt
    is not correctly rounded (about 1% of values differ from libm's by one ulp), and it is the same
    function whatever the tensor's shape, so the segment's square roots are taken by torch too."""
    return torch.from_numpy(np.ascontiguousarray(a)).sqrt().numpy()


def _np(value):
    """A float stays a float; a (runs, 1) tensor column becomes its numpy array."""
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else float(value)


class ExactSteps:
    """Advances ``x`` (runs, d) and a :class:`theory.family.State` n steps at a time, exactly."""

    def __init__(self, member: Member, hyper: Hyper, radius: torch.Tensor):
        self.member, self.hyper = member, hyper
        self.use_bc = member.bias_correction and hyper.bias_correction
        self.lo_rows = (-radius).detach().cpu().numpy().copy()  # (runs, 1), as the reference's clamp
        self.hi_rows = radius.detach().cpu().numpy().copy()
        self.lr, self.b1, self.b2, self.eps = (_np(hyper.lr), _np(hyper.beta1), _np(hyper.beta2),
                                               _np(hyper.eps))
        self.omb2 = 1 - self.b2  # what step_ multiplies k^2 by: 1 - b2 (float or column)

    # -- per-step factors (functions of t and the hyperparameters only) -----------------------------
    def _factors(self, t0: int, n: int) -> dict:
        """a_t, b1_t and the bias corrections of steps t0 .. t0 + n - 1, shaped (n, 1, 1) or (n, runs, 1),
        each computed as ``step_`` computes it: Python's float arithmetic for a float hyperparameter,
        the same IEEE operation element-wise for a column, torch's pow for a column's powers."""
        hp, ts = self.hyper, range(t0, t0 + n)
        as_rows = (lambda a: a.reshape(n, 1, 1) if a.ndim == 1 else a.reshape(n, -1, 1))
        if hp.lr_decay == "inverse-sqrt":
            # numpy's float64 sqrt is correctly rounded, as math.sqrt (torch's is not: _torch_sqrt)
            roots = np.sqrt(np.arange(t0, t0 + n, dtype=np.float64))
            lr = as_rows(np.asarray(self.lr)[None] / roots.reshape((n,) + (1,) * np.ndim(self.lr)))
        else:
            lr = as_rows(np.broadcast_to(np.asarray(self.lr, dtype=np.float64), (n,) + np.shape(self.lr)))
        f = {"lr": lr}
        if hp.beta1_decay is None:
            f["b1"] = None  # constant: self.b1
        else:
            pows = np.array([hp.beta1_decay**t for t in ts]).reshape((n,) + (1,) * np.ndim(self.b1))
            f["b1"] = as_rows(np.asarray(self.b1)[None] * pows)
        if self.use_bc:
            f["bc1"] = as_rows(self._one_minus_power(hp.beta1, ts))
            f["bc2"] = as_rows(self._one_minus_power(hp.beta2, ts))
            if self.member.eps_mode == "outside-raw":
                if isinstance(hp.beta2, torch.Tensor):
                    f["bc2_root"] = as_rows(np.stack([((1 - hp.beta2**t) ** 0.5).cpu().numpy() for t in ts]))
                else:
                    f["bc2_root"] = as_rows(np.array([(1 - hp.beta2**t) ** 0.5 for t in ts]))
        return f

    @staticmethod
    def _one_minus_power(base, ts) -> np.ndarray:
        """1 - base^t for each t: Python's pow for a float, torch's (same expression, same shape) for a tensor."""
        if isinstance(base, torch.Tensor):
            return np.stack([(1 - base**t).cpu().numpy() for t in ts])
        return np.array([1 - base**t for t in ts])

    # -- one segment --------------------------------------------------------------------------------
    def run(self, state, x: torch.Tensor, grads: torch.Tensor, xs_out: torch.Tensor,
            vs_out: torch.Tensor | None) -> None:
        """n = len(grads) steps from ``x``: x_t before each step into ``xs_out[:n]``, the second moment
        after each step into ``vs_out[:n]``; ``x`` and ``state`` end at step t0 + n - 1."""
        member, n = self.member, grads.shape[0]
        t0 = state.step + 1
        f = self._factors(t0, n)
        G = grads.numpy()
        M = self._first_moments(state, G, f)
        if not member.adaptive:
            U = f["lr"] * M  # params.sub_(lr * m)
        else:
            S = self._second_moments(state, G, M)
            U = (f["lr"] / f["bc1"] if self.use_bc else f["lr"]) * M / self._denominator(S, f)
            if vs_out is not None:
                vs_out[:n].numpy()[...] = S
        state.step = t0 + n - 1
        X = np.empty((n + 1,) + G.shape[1:])
        _walk(x.numpy(), np.ascontiguousarray(np.broadcast_to(U, G.shape)), self.lo_rows, self.hi_rows, X)
        xs_out[:n].numpy()[...] = X[:n]
        x.numpy()[...] = X[n]

    def _first_moments(self, state, G, f) -> np.ndarray:
        """m_t = b1_t m_{t-1} + (1 - b1_t) g_t (ema), b1 m + g (heavy ball) or g (none), for each step."""
        member, n = self.member, G.shape[0]
        m = state.m.numpy()
        if member.momentum == "none":
            M = G.copy()
        else:
            b1 = self.b1 if f["b1"] is None else f["b1"]
            forcing = G * (1 - b1) if member.momentum == "ema" else G  # grad * (1 - b1)
            M = np.empty_like(forcing)
            _recurrence(m, forcing, np.broadcast_to(np.asarray(b1, dtype=np.float64), forcing.shape), M)
        m[...] = M[-1]
        return M

    def _second_moments(self, state, G, M) -> np.ndarray:
        member, n = self.member, G.shape[0]
        K = {"grad": G, "momentum": M, "belief": G - M}[member.k]
        K2 = K * K
        V = np.empty_like(G)
        v = state.v.numpy()
        prev = v
        shape = G.shape[1:]
        full = (lambda c: np.broadcast_to(np.asarray(c, dtype=np.float64), shape).copy())
        omb2, b2, eps = full(self.omb2), full(self.b2), full(self.eps)
        inside = member.eps_mode in ("inside", "both")
        mul, add, subtract, sign = np.multiply, np.add, np.subtract, np.sign
        if member.v_update == "yogi":
            gap = np.empty_like(v)
            for j in range(n):  # v -= sign(v - k^2) k^2 (1 - b2)
                subtract(prev, K2[j], gap)
                sign(gap, gap)
                mul(gap, K2[j], gap)
                mul(gap, omb2, gap)
                subtract(prev, gap, V[j])
                if inside:
                    add(V[j], eps, V[j])
                prev = V[j]
        else:  # v = b2 v + k^2 (1 - b2) [+ eps]
            _ema(v, np.ascontiguousarray(K2 * self.omb2), b2, eps, inside, V)
        v[...] = V[-1]
        if not member.max_v:
            return V
        vmax = state.v_max.numpy()
        S = np.maximum.accumulate(np.concatenate([vmax[None], V]), axis=0)[1:]
        vmax[...] = S[-1]
        return S

    def _denominator(self, S, f):
        member = self.member
        if member.eps_mode == "outside-raw":
            D = _torch_sqrt(S) + self.eps
            return D / f["bc2_root"] if self.use_bc else D
        D = _torch_sqrt(S / f["bc2"] if self.use_bc else S)
        if member.eps_mode in ("outside", "both"):
            D = D + self.eps
        return D
