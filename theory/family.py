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
  accumulates in the stored s *and* is added outside the square root), ``"outside-raw"``
  (AdaBound's and RAdam's released code, torch.optim.RAdam: eps is added to the square root of
  the stored v *before* its bias correction, denom = (sqrt(v) + eps) / sqrt(1 - b2^t), i.e.
  Kingma & Ba's "eps hat"), ``"none"`` (SGDM);
* ``bias_correction``: mhat = m / (1 - b1^t), vhat = v / (1 - b2^t) (Adam-style members);
* ``max_v``: AMSGrad-style running maximum of the *stored* (not bias-corrected) v, as
  ``torch.optim.Adam(amsgrad=True)`` does (``amsgrad``, ``adamomentum-max``);
* ``decoupled_weight_decay``: the member's default weight-decay mode. Coupled (L2):
  g += wd * theta before the moments; decoupled: theta *= 1 - a_t * wd before the update;
* ``v_update``: ``"ema"`` (eq. (2)) or ``"yogi"``, Yogi's additive sign rule
  v_t = v_{t-1} - (1 - b2) sign(v_{t-1} - k_t^2) k_t^2 (Zaheer et al. 2018, Algorithm 2), which
  moves v by exactly (1 - b2) k_t^2 towards k_t^2 (possibly past it), where the EMA moves by
  (1 - b2)(k_t^2 - v_{t-1}); v_0 is ``Hyper.initial_accumulator``;
* ``stepsize_clip``: ``"none"`` or ``"adabound"`` (Luo et al. 2019): the per-coordinate stepsize
  eta_t = a_t / ((1 - b1^t) denom_t) is clipped into [lower(t), upper(t)],
  lower(t) = f_t (1 - 1/(gamma t + 1)), upper(t) = f_t (1 + 1/(gamma t)), and the update is
  eta_t * m_t (not mhat: the bias correction sits inside eta before the clip, as in the released
  code). f_t = ``final_lr`` times the schedule factor a_t / lr (the released code's
  ``final_lr * group_lr / base_lr``, so a schedule moves the bounds too); f_t = 0 where lr = 0;
* ``rectify``: RAdam's variance rectification (Liu et al. 2020): with
  rho_inf = 2/(1 - b2) - 1 and rho_t = rho_inf - 2 t b2^t / (1 - b2^t), the step is
  a_t r_t mhat_t / denom_t, r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t)),
  when rho_t > ``Hyper.rectify_threshold`` (5 as in torch.optim.RAdam and the released code;
  the RAdam paper's Algorithm 2 tests rho_t > 4), and a_t mhat_t (SGD with momentum, no v)
  otherwise, as Algorithm 2 and torch.optim.RAdam do.

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

The paper's Tables 2-7 baselines, each as the code the paper ran where it could be read
(``wyzjack/AdaM3``: its Yogi.py is forked from jettify/pytorch-optimizer, its CIFAR script
imports AdaBound from the ``adabound`` package; its RAdam.py was not available, so RAdam follows
Liu et al.'s Algorithm 2 and released code):

* ``yogi``: m_0 = 0, v_0 = ``initial_accumulator`` (1e-6, tensorflow-addons' and jettify's
  default), the sign rule on g^2, Adam's bias corrections and eps placement
  (denom = sqrt(v / (1 - b2^t)) + eps, as jettify's and pytorch-optimizer's code; tensorflow-addons
  adds eps before v's bias correction instead), coupled weight decay (jettify's). jettify's and
  pytorch-optimizer's code also start m at ``initial_accumulator``; the paper's Algorithm 2 and
  tensorflow-addons start m at 0, and so does this member (so the method stays odd in g).
* ``adabound``: Adam's moments, eps ``"outside-raw"``, the stepsize clip above, coupled weight
  decay (the ``adabound`` package's AdaBound; its AdaBoundW is the decoupled one). pytorch-optimizer
  additionally adds 1e-15 to v under the square root; this member does not.
* ``radam``: Adam's moments, eps ``"outside-raw"``, the rectification above, decoupled weight
  decay theta *= 1 - a_t wd applied in both phases (Liu et al.'s code; torch.optim.RAdam defaults
  to coupled). Liu et al.'s code and pytorch-optimizer switch phase at rho_t >= 5, torch.optim.RAdam
  and this member at rho_t > 5: they differ only at rho_t exactly equal to the threshold. Liu et
  al.'s packaged ``radam`` (``degenerated_to_sgd=False``) and pytorch-optimizer's default skip the
  step instead of the SGD phase; the first released radam.py, Algorithm 2 and torch take it.
  ``bias_correction=False`` in :class:`Hyper` drops 1/(1 - b1^t) and sqrt(1 - b2^t) but keeps
  r_t and the phase switch.

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


# The allowed values of each string field of Member (what __post_init__ checks).
MEMBER_CHOICES: dict[str, tuple[str, ...]] = {
    "k": ("grad", "momentum", "belief", "none"),
    "momentum": ("ema", "heavy-ball", "none"),
    "eps_mode": ("outside", "inside", "both", "outside-raw", "none"),
    "v_update": ("ema", "yogi"),
    "stepsize_clip": ("none", "adabound"),
}


@dataclass(frozen=True)
class Member:
    """One member of the Adam-type family; see the module docstring for each field.

    Every field is validated: a string field outside :data:`MEMBER_CHOICES`, a flag that is not
    a bool, or a combination the one implementation does not define raises ValueError naming
    the field, the value and what is allowed (a typo must not silently run another method).
    """

    name: str
    k: str  # "grad" | "momentum" | "belief" | "none"
    momentum: str  # "ema" | "heavy-ball" | "none"
    eps_mode: str  # "outside" | "inside" | "both" | "outside-raw" | "none"
    bias_correction: bool
    max_v: bool
    decoupled_weight_decay: bool
    summary: str
    v_update: str = "ema"  # "ema" | "yogi"
    stepsize_clip: str = "none"  # "none" | "adabound"
    rectify: bool = False  # RAdam's variance rectification

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Invalid Member name: {self.name!r}; expected a non-empty string")
        for field, allowed in MEMBER_CHOICES.items():
            value = getattr(self, field)
            if value not in allowed:
                raise ValueError(f"Invalid Member field {field}={value!r} (member {self.name!r}); "
                                 f"allowed values: {', '.join(map(repr, allowed))}")
        for field in ("bias_correction", "max_v", "decoupled_weight_decay", "rectify"):
            value = getattr(self, field)
            if not isinstance(value, bool):
                raise ValueError(f"Invalid Member field {field}={value!r} (member {self.name!r}); "
                                 "allowed values: True, False")
        if not self.adaptive:
            # step_ ignores these without a second moment: a non-default value would not run.
            for field, plain in (("eps_mode", "none"), ("v_update", "ema"), ("stepsize_clip", "none"),
                                 ("bias_correction", False), ("max_v", False), ("rectify", False)):
                if getattr(self, field) != plain:
                    raise ValueError(f"Invalid Member field {field}={getattr(self, field)!r} (member "
                                     f"{self.name!r}): k='none' has no second moment; allowed value: {plain!r}")
        if (self.rectify or self.stepsize_clip != "none") and self.momentum != "ema":
            raise ValueError(f"Invalid Member field momentum={self.momentum!r} (member {self.name!r}): "
                             "rectify and stepsize_clip are defined for momentum='ema' only")
        if self.rectify and self.stepsize_clip != "none":
            raise ValueError(f"Invalid Member fields rectify=True with stepsize_clip={self.stepsize_clip!r} "
                             f"(member {self.name!r}): the combination is not defined; allowed: one of them")

    @property
    def adaptive(self) -> bool:
        return self.k != "none"

    @property
    def scale_invariant(self) -> bool:
        """Whether, at eps = 0 and without weight decay, scaling every gradient by c > 0 leaves the
        iterates unchanged (m scales by c, v by c^2). Not for SGDM, nor where the step has an
        absolute part: AdaBound's bounds, RAdam's un-normalised SGD phase, Yogi's v_0 (c^2 v_0 != v_0
        unless initial_accumulator = 0)."""
        return self.adaptive and self._plain_update and self.v_update == "ema"

    @property
    def _plain_update(self) -> bool:
        """True for the eq. (2) update a_t * mhat / denom (the first 8 members' code path)."""
        return not self.rectify and self.stepsize_clip == "none"


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
        Member("yogi", "grad", "ema", "outside", True, False, False,
               "Yogi (additive sign rule for v, v_0 = initial_accumulator; jettify's eps placement)",
               v_update="yogi"),
        Member("adabound", "grad", "ema", "outside-raw", True, False, False,
               "AdaBound (Luo et al.: stepsize clipped into [lower(t), upper(t)] around final_lr)",
               stepsize_clip="adabound"),
        Member("radam", "grad", "ema", "outside-raw", True, False, True,
               "RAdam (Liu et al.: rectified Adam, SGD with momentum while rho_t <= threshold)",
               rectify=True),
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
    # Used by one member each (ignored by the others); defaults are the reference code's.
    final_lr: Scalar = 0.1  # adabound: the SGD learning rate the bounds converge to
    gamma: Scalar = 1e-3  # adabound: convergence speed of the bounds
    initial_accumulator: Scalar = 1e-6  # yogi: v_0 (read by init_state)
    rectify_threshold: float = 5.0  # radam: rectified step when rho_t > this

    def __post_init__(self) -> None:
        validate_hyper(self.lr, (self.beta1, self.beta2), self.eps, self.weight_decay)
        if self.lr_decay not in LR_DECAYS:
            raise ValueError(f"Invalid lr_decay: {self.lr_decay!r}; expected one of {LR_DECAYS}")
        if self.beta1_decay is not None and not 0.0 < self.beta1_decay <= 1.0:
            raise ValueError(f"Invalid beta1_decay (lambda): {self.beta1_decay}; expected 0 < lambda <= 1")
        checks = (
            ("final_lr (AdaBound's final learning rate)", self.final_lr, lambda lo, hi: lo >= 0.0, "final_lr >= 0"),
            ("gamma (AdaBound's bound speed)", self.gamma, lambda lo, hi: lo > 0.0, "gamma > 0"),
            ("initial_accumulator (Yogi's v_0)", self.initial_accumulator, lambda lo, hi: lo >= 0.0,
             "initial_accumulator >= 0"),
        )
        for label, value, ok, valid in checks:
            lo, hi = _bounds(value)
            if not (math.isfinite(lo) and math.isfinite(hi) and ok(lo, hi)):
                raise ValueError(f"Invalid {label}: {value}; valid range: {valid}")
        # r_t needs rho_t > 4 to be real; one threshold for all runs (it picks a code branch).
        threshold = self.rectify_threshold
        if isinstance(threshold, (bool, torch.Tensor)) or not isinstance(threshold, (int, float)) \
                or not (math.isfinite(threshold) and threshold >= 4.0):
            raise ValueError(f"Invalid rectify_threshold (RAdam's rho_t threshold): {threshold!r}; "
                             "valid range: a float >= 4")

    def with_(self, **changes) -> "Hyper":
        return replace(self, **changes)

    def lr_at(self, t: int) -> Scalar:
        return self.lr / math.sqrt(t) if self.lr_decay == "inverse-sqrt" else self.lr

    def lr_factor_at(self, t: int) -> float:
        """The schedule alone, a_t / lr (1 or 1 / sqrt(t)), defined also where lr = 0."""
        return 1.0 / math.sqrt(t) if self.lr_decay == "inverse-sqrt" else 1.0

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


def init_state(member: str | Member, params: torch.Tensor, hyper: Hyper | None = None) -> State:
    """Zero moments, except Yogi's v_0 = ``hyper.initial_accumulator`` (``Hyper()``'s when None)."""
    member = get_member(member)
    zeros = (lambda: torch.zeros_like(params))
    v = zeros() if member.adaptive else None
    if member.v_update == "yogi":
        v.add_((Hyper() if hyper is None else hyper).initial_accumulator)
    return State(
        step=0,
        m=zeros(),
        v=v,
        v_max=zeros() if member.max_v else None,
    )


def _decoupled(member: Member, hyper: Hyper) -> bool:
    return member.decoupled_weight_decay if hyper.decoupled_weight_decay is None else hyper.decoupled_weight_decay


def _has_weight_decay(wd: Scalar) -> bool:
    return bool(torch.any(wd != 0)) if isinstance(wd, torch.Tensor) else wd != 0.0


def _adam_denominator(member: Member, state: State, hyper: Hyper) -> torch.Tensor:
    """sqrt of the (bias-corrected) stored v with eps where the member puts it: eq. (2)'s denom."""
    t = state.step
    v = state.second_moment()
    use_bc = member.bias_correction and hyper.bias_correction
    if member.eps_mode == "outside-raw":
        denom = v.sqrt() + hyper.eps
        return denom / (1 - hyper.beta2**t) ** 0.5 if use_bc else denom
    vhat = v / (1 - hyper.beta2**t) if use_bc else v
    denom = vhat.sqrt()
    if member.eps_mode in ("outside", "both"):
        denom = denom + hyper.eps
    return denom


def rectification(hyper: Hyper, t: int) -> tuple[Scalar, Scalar]:
    """RAdam's (r_t, rectified) at step t: rectified is rho_t > ``hyper.rectify_threshold``.

    rho_inf = 2/(1 - b2) - 1, rho_t = rho_inf - 2 t b2^t / (1 - b2^t) (torch.optim.RAdam's
    expression, operation for operation), r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf /
    ((rho_inf - 4)(rho_inf - 2) rho_t)). Floats for a float beta2; tensors (r_t = 1 where not
    rectified) for a per-run tensor beta2.
    """
    b2 = hyper.beta2
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * t * (b2**t) / (1 - b2**t)
    if isinstance(rho_t, torch.Tensor):
        rectified = rho_t > hyper.rectify_threshold
        r = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)).sqrt()
        return torch.where(rectified, r, torch.ones_like(r)), rectified
    if not rho_t > hyper.rectify_threshold:
        return 1.0, False
    return math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)), True


def adabound_bounds(hyper: Hyper, t: int) -> tuple[Scalar, Scalar]:
    """AdaBound's [lower(t), upper(t)]: f_t (1 - 1/(gamma t + 1)), f_t (1 + 1/(gamma t)), with
    f_t = final_lr * a_t / lr (the schedule factor), and f_t = 0 where lr = 0 (no step)."""
    factor = hyper.lr_factor_at(t)
    lr = hyper.lr
    live = (lr > 0).to(lr.dtype) if isinstance(lr, torch.Tensor) else float(lr > 0)
    final = hyper.final_lr * factor * live
    return final * (1 - 1 / (hyper.gamma * t + 1)), final * (1 + 1 / (hyper.gamma * t))


def _clip(eta: torch.Tensor, lower: Scalar, upper: Scalar) -> torch.Tensor:
    if isinstance(lower, torch.Tensor) or isinstance(upper, torch.Tensor):
        as_t = (lambda x: torch.as_tensor(x, dtype=eta.dtype, device=eta.device))
        return torch.minimum(torch.maximum(eta, as_t(lower)), as_t(upper))
    return eta.clamp(lower, upper)


def _bounded_stepsize(member: Member, state: State, hyper: Hyper) -> torch.Tensor:
    """update = this * m for the rectified and the clipped members (exactly how step_ moves)."""
    t = state.step
    use_bc = member.bias_correction and hyper.bias_correction
    lr = hyper.lr_at(t)
    scale = lr / (1 - hyper.beta1**t) if use_bc else lr
    denom = _adam_denominator(member, state, hyper)
    if member.rectify:
        r, rectified = rectification(hyper, t)
        if isinstance(rectified, torch.Tensor):
            return torch.where(rectified, scale * r / denom, scale * torch.ones_like(denom))
        return scale * r / denom if rectified else scale * torch.ones_like(denom)
    lower, upper = adabound_bounds(hyper, t)
    return _clip(scale / denom, lower, upper)


def denominator(member: str | Member, state: State, hyper: Hyper) -> torch.Tensor | None:
    """denom_t of eq. (2) after the state has been updated to step t (None for SGDM).

    Includes the bias correction of v, so the step is a_t * mhat_t / denom_t, for every adaptive
    member: for ``rectify`` members denom_t = adam_denom_t / r_t when rectified and 1 (a tensor
    of ones: the step is a_t mhat_t, SGD with momentum) otherwise; for ``stepsize_clip`` members
    denom_t = a_t / ((1 - b1^t) eta_t) with eta_t the clipped stepsize. Both are a_t-free
    ratios, undefined (0/0) where lr = 0.
    """
    member = get_member(member)
    if not member.adaptive:
        return None
    if member._plain_update:
        return _adam_denominator(member, state, hyper)
    t = state.step
    if member.rectify:
        denom = _adam_denominator(member, state, hyper)
        r, rectified = rectification(hyper, t)
        if isinstance(rectified, torch.Tensor):
            return torch.where(rectified, denom / r, torch.ones_like(denom))
        return denom / r if rectified else torch.ones_like(denom)
    use_bc = member.bias_correction and hyper.bias_correction
    lr = hyper.lr_at(t)
    scale = lr / (1 - hyper.beta1**t) if use_bc else lr
    return scale / _bounded_stepsize(member, state, hyper)


def effective_stepsize(member: str | Member, state: State, hyper: Hyper) -> torch.Tensor | Scalar:
    """a_t / denom_t per coordinate, including the first-moment bias correction 1/(1 - b1^t).

    This is the "actual stepsize" of Section 3.1: the update is this times m_t. For AdaBound it
    is the clipped eta_t; for RAdam a_t r_t / ((1 - b1^t) adam_denom_t) when rectified and
    a_t / (1 - b1^t) in every coordinate (a tensor) while not.
    """
    member = get_member(member)
    if not member._plain_update:
        return _bounded_stepsize(member, state, hyper)
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
    if member.v_update == "yogi":
        k2 = k * k
        state.v.sub_(torch.sign(state.v - k2) * k2 * (1 - b2))
    else:
        state.v.mul_(b2).add_(k * k * (1 - b2))
    if member.eps_mode in ("inside", "both"):
        state.v.add_(hyper.eps)
    if member.max_v:
        torch.maximum(state.v_max, state.v, out=state.v_max)

    if not member._plain_update:
        params.sub_(_bounded_stepsize(member, state, hyper) * m)
        return
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
    state = init_state(member, theta, hyper)
    path = [theta.clone()] if record else None
    for t in range(1, steps + 1):
        step_(member, state, theta, grad_fn(theta, t), hyper)
        if record:
            path.append(theta.clone())
    return theta, state, (torch.stack(path) if record else None)
