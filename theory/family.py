"""The Adam-type family in the unified form of eq. (2) / Table 1 of the paper.

Every member is

    m_t = b1_t m_{t-1} + (1 - b1_t) g_t                 (``momentum="ema"``)
    v_t = b2 v_{t-1} + (1 - b2) k_t^2  [+ eps]          (k_t: g, m or g - m)
    theta_t = theta_{t-1} - a_t * mhat_t / denom_t

and members differ only in the fields of :class:`Member`:

* ``k`` (what enters the second moment): ``"grad"`` for RMSprop / Adam / AdamW / AMSGrad,
  ``"momentum"`` for AdaMomentum, ``"belief"`` (g - m) for AdaBelief, ``"none"`` for SGDM;
* ``eps_mode``: ``"outside"`` (torch's Adam and RMSprop: denom = sqrt(vhat) + eps),
  ``"inside"`` (AdaMomentum, Algorithm 1 line 6: eps is added to the *stored* v every step, so
  it accumulates, and there is no outer eps), ``"both"`` (AdaBelief's released code: eps
  accumulates in the stored s *and* is added outside the square root);
* ``bias_correction``: mhat = m / (1 - b1^t), vhat = v / (1 - b2^t) (Adam-style members);
* ``max_v``: AMSGrad-style running maximum of the *stored* (not bias-corrected) v, as
  ``torch.optim.Adam(amsgrad=True)`` does (``amsgrad``, ``adamomentum-max``);
* ``decoupled_weight_decay``: the member's default weight-decay mode. Coupled (L2):
  g += wd * theta before the moments; decoupled: theta *= 1 - a_t * wd before the update.

Conventions pinned down here (each is tested against ``torch.optim`` or the reference loops):

* ``sgdm`` is torch's heavy ball, m = b1 m + g, theta -= a_t m (``torch.optim.SGD`` with
  ``momentum=b1``, ``dampening=0``); in eq. (2)'s EMA form that is the same method with
  a_t / (1 - b1) as the learning rate.
* ``rmsprop`` is ``torch.optim.RMSprop`` (no momentum, no bias correction, eps outside);
  beta1 is ignored. Its ``beta2`` is torch's ``alpha``.
* ``adam``, ``amsgrad``, ``adamw`` are ``torch.optim.Adam`` / ``Adam(amsgrad=True)`` /
  ``AdamW``, formula for formula.
* ``adamomentum`` is Algorithm 1: v = b2 v + (1 - b2) m^2 + eps, vhat = v / (1 - b2^t),
  theta -= a_t * (m / (1 - b1^t)) / sqrt(vhat).
* ``adabelief``: s = b2 s + (1 - b2)(g - m)^2 + eps, denom = sqrt(s / (1 - b2^t)) + eps.

Schedules (what Theorems 1 and 2 use): ``lr_decay="inverse-sqrt"`` gives a_t = lr / sqrt(t);
``beta1_decay=lam`` gives b1_t = b1 * lam^t. Bias corrections always use the base b1
(1 - b1^t); the theorems analyse the method without bias correction, which
``bias_correction=False`` in :class:`Hyper` switches off for every member.

This module holds the one batched torch implementation (a parameter tensor of shape
``(runs, dim)``, or any shape: the update is element-wise) that every simulation uses.
The plain float64 reference loops live in :mod:`theory.reference` and are used only by tests.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Union

import torch

Scalar = Union[float, torch.Tensor]


@dataclass(frozen=True)
class Member:
    """One member of the Adam-type family; see the module docstring for each field."""

    name: str
    k: str  # "grad" | "momentum" | "belief" | "none"
    momentum: str  # "ema" | "heavy-ball" | "none"
    eps_mode: str  # "outside" | "inside" | "both" | "none"
    bias_correction: bool
    max_v: bool
    decoupled_weight_decay: bool
    summary: str

    @property
    def adaptive(self) -> bool:
        return self.k != "none"


REGISTRY: dict[str, Member] = {
    m.name: m
    for m in (
        Member("sgdm", "none", "heavy-ball", "none", False, False, False,
               "SGD with heavy-ball momentum (torch.optim.SGD, dampening 0)"),
        Member("rmsprop", "grad", "none", "outside", False, False, False,
               "RMSprop (torch.optim.RMSprop, beta2 is torch's alpha)"),
        Member("adam", "grad", "ema", "outside", True, False, False, "Adam (torch.optim.Adam)"),
        Member("adamw", "grad", "ema", "outside", True, False, True, "AdamW (torch.optim.AdamW)"),
        Member("amsgrad", "grad", "ema", "outside", True, True, False,
               "AMSGrad (torch.optim.Adam(amsgrad=True))"),
        Member("adabelief", "belief", "ema", "both", True, False, False,
               "AdaBelief (released code: eps inside the EMA and outside the sqrt)"),
        Member("adamomentum", "momentum", "ema", "inside", True, False, False,
               "AdaMomentum, Algorithm 1 (eps accumulated inside v)"),
        Member("adamomentum-max", "momentum", "ema", "inside", True, True, False,
               "AdaMomentum with the running max of the stored v (AMSGrad-style)"),
    )
}

PAPER_MEMBERS = ("adam", "adamomentum")


def get_member(name: str | Member) -> Member:
    """Look a member up by registry name; an unknown name lists the valid ones."""
    if isinstance(name, Member):
        return name
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown optimizer {name!r}; registry names: {', '.join(REGISTRY)}") from None


LR_DECAYS = ("constant", "inverse-sqrt")


@dataclass(frozen=True)
class Hyper:
    """Hyperparameters of one family step. Each scalar may be a tensor that broadcasts
    against the parameters (e.g. shape ``(runs, 1)`` for one value per run)."""

    lr: Scalar = 1e-3
    beta1: Scalar = 0.9
    beta2: Scalar = 0.999
    eps: Scalar = 1e-8
    weight_decay: Scalar = 0.0
    decoupled_weight_decay: bool | None = None  # None: the member's default
    lr_decay: str = "constant"  # or "inverse-sqrt": a_t = lr / sqrt(t)
    beta1_decay: float | None = None  # lam: b1_t = b1 * lam^t
    bias_correction: bool = True  # False switches it off for every member (as the theorems do)

    def __post_init__(self) -> None:
        validate_hyper(self.lr, (self.beta1, self.beta2), self.eps, self.weight_decay)
        if self.lr_decay not in LR_DECAYS:
            raise ValueError(f"Invalid lr_decay: {self.lr_decay!r}; expected one of {LR_DECAYS}")
        if self.beta1_decay is not None and not 0.0 < self.beta1_decay <= 1.0:
            raise ValueError(f"Invalid beta1_decay (lambda): {self.beta1_decay}; expected 0 < lambda <= 1")

    def with_(self, **changes) -> "Hyper":
        return replace(self, **changes)

    def lr_at(self, t: int) -> Scalar:
        return self.lr / math.sqrt(t) if self.lr_decay == "inverse-sqrt" else self.lr

    def beta1_at(self, t: int) -> Scalar:
        return self.beta1 if self.beta1_decay is None else self.beta1 * self.beta1_decay**t


def _bounds(value: Scalar) -> tuple[float, float]:
    if isinstance(value, torch.Tensor):
        if value.numel() == 0:
            raise ValueError("hyperparameter tensors must not be empty")
        return float(value.min()), float(value.max())
    return float(value), float(value)


def validate_hyper(lr: Scalar, betas: tuple[Scalar, Scalar], eps: Scalar, weight_decay: Scalar) -> None:
    """Raise ValueError naming the parameter and its valid range (torch.optim's convention)."""
    checks = (
        ("learning rate (lr)", lr, lambda lo, hi: lo >= 0.0, "lr >= 0"),
        ("beta parameter at index 0 (beta1)", betas[0], lambda lo, hi: lo >= 0.0 and hi < 1.0, "0 <= beta1 < 1"),
        ("beta parameter at index 1 (beta2)", betas[1], lambda lo, hi: lo >= 0.0 and hi < 1.0, "0 <= beta2 < 1"),
        ("epsilon value (eps)", eps, lambda lo, hi: lo >= 0.0, "eps >= 0"),
        ("weight_decay value", weight_decay, lambda lo, hi: lo >= 0.0, "weight_decay >= 0"),
    )
    for label, value, ok, valid in checks:
        lo, hi = _bounds(value)
        if not (math.isfinite(lo) and math.isfinite(hi) and ok(lo, hi)):
            raise ValueError(f"Invalid {label}: {value}; valid range: {valid}")


@dataclass
class State:
    """Optimizer state for a batch of runs: step count and the moment buffers."""

    step: int
    m: torch.Tensor
    v: torch.Tensor | None
    v_max: torch.Tensor | None = None

    def select(self, index: torch.Tensor) -> "State":
        """The state of a subset of runs (first dimension), e.g. paths still alive."""
        pick = (lambda x: None if x is None else x[index])
        return State(self.step, pick(self.m), pick(self.v), pick(self.v_max))

    def second_moment(self) -> torch.Tensor | None:
        """The v the update divides by (the running max for max members), stored form."""
        return self.v_max if self.v_max is not None else self.v


def init_state(member: str | Member, params: torch.Tensor) -> State:
    member = get_member(member)
    zeros = (lambda: torch.zeros_like(params))
    return State(
        step=0,
        m=zeros(),
        v=zeros() if member.adaptive else None,
        v_max=zeros() if member.max_v else None,
    )


def _decoupled(member: Member, hyper: Hyper) -> bool:
    return member.decoupled_weight_decay if hyper.decoupled_weight_decay is None else hyper.decoupled_weight_decay


def _has_weight_decay(wd: Scalar) -> bool:
    return bool(torch.any(wd != 0)) if isinstance(wd, torch.Tensor) else wd != 0.0


def denominator(member: str | Member, state: State, hyper: Hyper) -> torch.Tensor | None:
    """denom_t of eq. (2) after the state has been updated to step t (None for SGDM).

    Includes the bias correction of v, so the step is a_t * mhat_t / denom_t.
    """
    member = get_member(member)
    if not member.adaptive:
        return None
    t = state.step
    v = state.second_moment()
    use_bc = member.bias_correction and hyper.bias_correction
    vhat = v / (1 - hyper.beta2**t) if use_bc else v
    denom = vhat.sqrt()
    if member.eps_mode in ("outside", "both"):
        denom = denom + hyper.eps
    return denom


def effective_stepsize(member: str | Member, state: State, hyper: Hyper) -> torch.Tensor | Scalar:
    """a_t / denom_t per coordinate, including the first-moment bias correction 1/(1 - b1^t).

    This is the "actual stepsize" of Section 3.1: the update is this times m_t.
    """
    member = get_member(member)
    t = state.step
    lr = hyper.lr_at(t)
    use_bc = member.bias_correction and hyper.bias_correction
    scale = lr / (1 - hyper.beta1**t) if use_bc else lr
    denom = denominator(member, state, hyper)
    return scale if denom is None else scale / denom


def step_(member: str | Member, state: State, params: torch.Tensor, grad: torch.Tensor, hyper: Hyper) -> None:
    """One family step, in place on ``params`` and ``state`` (element-wise, any shape/device/dtype)."""
    member = get_member(member)
    t = state.step = state.step + 1
    lr = hyper.lr_at(t)
    b1 = hyper.beta1_at(t)
    b2 = hyper.beta2
    wd = hyper.weight_decay

    if _has_weight_decay(wd):
        if _decoupled(member, hyper):
            params.mul_(1 - lr * wd)
        else:
            grad = grad + wd * params

    m = state.m
    if member.momentum == "ema":
        m.mul_(b1).add_(grad * (1 - b1))
    elif member.momentum == "heavy-ball":
        m.mul_(b1).add_(grad)
    else:
        m.copy_(grad)

    if not member.adaptive:
        params.sub_(lr * m)
        return

    k = {"grad": grad, "momentum": m, "belief": grad - m}[member.k]
    state.v.mul_(b2).add_(k * k * (1 - b2))
    if member.eps_mode in ("inside", "both"):
        state.v.add_(hyper.eps)
    if member.max_v:
        torch.maximum(state.v_max, state.v, out=state.v_max)

    use_bc = member.bias_correction and hyper.bias_correction
    mhat_scale = lr / (1 - hyper.beta1**t) if use_bc else lr
    params.sub_(mhat_scale * m / denominator(member, state, hyper))


def run(
    member: str | Member,
    theta0: torch.Tensor,
    grad_fn,
    hyper: Hyper,
    steps: int,
    record: bool = True,
) -> tuple[torch.Tensor, State, torch.Tensor | None]:
    """Iterate ``steps`` family steps from ``theta0`` with ``grad = grad_fn(theta, t)``.

    Returns the final parameters, the final state and (if ``record``) the trajectory
    ``theta_0..theta_T`` stacked along a new first dimension.
    """
    member = get_member(member)
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    theta = theta0.clone()
    state = init_state(member, theta)
    path = [theta.clone()] if record else None
    for t in range(1, steps + 1):
        step_(member, state, theta, grad_fn(theta, t), hyper)
        if record:
            path.append(theta.clone())
    return theta, state, (torch.stack(path) if record else None)
