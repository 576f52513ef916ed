"""The shipped invariant suite: properties every Adam-type update rule should have.

Use it from your own pytest on any rule the toolkit accepts (a registry name, a torch optimizer,
your own :class:`theory.rule.Rule`)::

    from theory.testing import assert_invariants
    def test_my_rule():
        assert_invariants("mypkg.optim:MyAdam")

:func:`check_invariants` returns one :class:`InvariantResult` per property (``holds``, ``fails``
with the evidence, or ``unchecked`` with the reason, e.g. a rule with no second-moment read-out);
:func:`assert_invariants` raises on any ``fails``. The properties, each exact in float64 up to
``rtol``:

* ``v-nonnegative``: the second moment, where the rule has one, is >= 0 at every step;
* ``odd-symmetry``: negating the start point and every gradient negates every iterate;
* ``coordinate-wise``: changing one coordinate's gradients leaves the other coordinates' iterates
  unchanged (the update is element-wise, as eq. (2) is);
* ``runs-independent``: a run stepped alone equals the same run stepped inside the batch;
* ``permutation-equivariant``: permuting coordinates permutes the iterates;
* ``scale-invariant``: at eps = 0, multiplying every gradient by c > 0 leaves the iterates unchanged
  (only where it applies: registry members whose ``Member.scale_invariant`` says so, or when asked);
* ``stepsize-times-moment``: the last update equals ``-effective_stepsize * first_moment`` where
  the rule has both read-outs;
* ``finite``: finite inputs give finite iterates.

Hypothesis strategies for your own property tests: :func:`gradient_runs` and :func:`hypers`
(hypothesis is imported only when they are called).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from theory import rule as rules
from theory.family import Hyper
from theory.names import resolve

STATUSES = ("holds", "fails", "unchecked")


@dataclass(frozen=True)
class InvariantResult:
    name: str
    status: str  # holds | fails | unchecked
    detail: str = ""


def _run(rule, theta0: torch.Tensor, grads: torch.Tensor, hyper: Hyper):
    """Iterates theta_1..theta_T (T, runs, dim), the second moments seen and the final state."""
    theta = theta0.clone()
    state = rule.init(theta, hyper)
    path, seconds, before = [], [], None
    for g in grads:
        before = theta.clone()
        rule.step(state, theta, g.clone(), hyper)
        path.append(theta.clone())
        v = rules.second_moment(rule, state)
        if v is not None:
            seconds.append(v.clone())
    return torch.stack(path), seconds, state, before


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float) -> tuple[bool, float]:
    """Largest relative difference; equal values (inf included) and NaN against NaN count as 0, any
    other non-finite mismatch (NaN against a number, inf against -inf) as inf."""
    scale = torch.maximum(a.abs(), b.abs()).clamp_min(1e-300)
    err = ((a - b).abs() / scale).nan_to_num(nan=float("inf"))
    same = (a == b) | (torch.isnan(a) & torch.isnan(b))
    err = torch.where(same, torch.zeros_like(err), err)
    worst = float(err.max()) if err.numel() else 0.0
    return worst <= rtol, worst


def _verdict(name: str, ok: bool, worst: float, what: str) -> InvariantResult:
    return InvariantResult(name, "holds" if ok else "fails", f"{what}; largest relative difference {worst:.3g}")


def _default_scale_invariant(rule) -> bool | None:
    member = rules.member_of(rule)
    if member is None:
        return None
    return member.scale_invariant


def check_invariants(rule, grads: torch.Tensor | None = None, theta0: torch.Tensor | None = None,
                     hyper: Hyper | None = None, steps: int = 8, runs: int = 3, dim: int = 4, seed: int = 0,
                     scale_invariant: bool | None = None, rtol: float = 1e-12) -> list[InvariantResult]:
    """Check every invariant of the module docstring on ``rule`` (a name or a rule object).

    ``grads`` (steps, runs, dim) and ``theta0`` (runs, dim) default to seeded float64 normals;
    ``hyper`` to lr 1e-2, betas (0.9, 0.99), eps 1e-8. ``scale_invariant=None`` decides from the
    registry member (``Member.scale_invariant``); other rules are then ``unchecked``.
    """
    rule = resolve(rule)
    gen = torch.Generator().manual_seed(seed)
    if grads is None:
        grads = torch.randn(steps, runs, dim, generator=gen, dtype=torch.float64)
    if theta0 is None:
        theta0 = torch.randn(grads.shape[1], grads.shape[2], generator=gen, dtype=torch.float64)
    if grads.dim() != 3 or theta0.shape != grads.shape[1:]:
        raise ValueError(f"grads must be (steps, runs, dim) and theta0 (runs, dim); got {tuple(grads.shape)} "
                         f"and {tuple(theta0.shape)}")
    hyper = hyper or Hyper(lr=1e-2, beta1=0.9, beta2=0.99, eps=1e-8)
    path, seconds, state, before = _run(rule, theta0, grads, hyper)
    results = [_finite(path), _v_nonnegative(seconds), _odd_symmetry(rule, theta0, grads, hyper, path, rtol),
               _coordinate_wise(rule, theta0, grads, hyper, path, rtol),
               _runs_independent(rule, theta0, grads, hyper, path, rtol),
               _permutation(rule, theta0, grads, hyper, path, rtol),
               _scale(rule, theta0, grads, hyper, scale_invariant, rtol),
               _stepsize_times_moment(rule, state, hyper, before, path[-1], rtol)]
    return results


def assert_invariants(rule, **kwargs) -> list[InvariantResult]:
    """:func:`check_invariants`, raising AssertionError that lists every failed invariant."""
    results = check_invariants(rule, **kwargs)
    failed = [r for r in results if r.status == "fails"]
    if failed:
        raise AssertionError("invariants failed for " + str(getattr(resolve(rule), "name", rule)) + ": "
                             + "; ".join(f"{r.name} ({r.detail})" for r in failed))
    return results


def _finite(path) -> InvariantResult:
    ok = bool(torch.isfinite(path).all())
    return InvariantResult("finite", "holds" if ok else "fails",
                           "every iterate finite" if ok else "non-finite iterate from finite inputs")


def _v_nonnegative(seconds) -> InvariantResult:
    if not seconds:
        return InvariantResult("v-nonnegative", "unchecked", "the rule has no second-moment read-out")
    low = min(float(v.min()) for v in seconds)
    return InvariantResult("v-nonnegative", "holds" if low >= 0 else "fails", f"smallest v entry {low:.3g}")


def _odd_symmetry(rule, theta0, grads, hyper, path, rtol) -> InvariantResult:
    mirrored, *_ = _run(rule, -theta0, -grads, hyper)
    ok, worst = _close(mirrored, -path, rtol)
    return _verdict("odd-symmetry", ok, worst, "(-theta0, -g) against -(theta0, g)")


def _coordinate_wise(rule, theta0, grads, hyper, path, rtol) -> InvariantResult:
    if grads.shape[2] < 2:
        return InvariantResult("coordinate-wise", "unchecked", "needs dim >= 2")
    changed = grads.clone()
    changed[:, :, 0] = changed[:, :, 0] * 3.0 + 1.0
    other, *_ = _run(rule, theta0, changed, hyper)
    ok, worst = _close(other[:, :, 1:], path[:, :, 1:], rtol)
    return _verdict("coordinate-wise", ok, worst, "coordinates 1.. after changing coordinate 0's gradients")


def _runs_independent(rule, theta0, grads, hyper, path, rtol) -> InvariantResult:
    if grads.shape[1] < 2:
        return InvariantResult("runs-independent", "unchecked", "needs runs >= 2")
    alone, *_ = _run(rule, theta0[-1:], grads[:, -1:], hyper)
    ok, worst = _close(alone, path[:, -1:], rtol)
    return _verdict("runs-independent", ok, worst, "the last run stepped alone against inside the batch")


def _permutation(rule, theta0, grads, hyper, path, rtol) -> InvariantResult:
    perm = torch.arange(grads.shape[2] - 1, -1, -1)
    permuted, *_ = _run(rule, theta0[:, perm], grads[:, :, perm], hyper)
    ok, worst = _close(permuted, path[:, :, perm], rtol)
    return _verdict("permutation-equivariant", ok, worst, "reversed coordinates")


def _scale(rule, theta0, grads, hyper, scale_invariant, rtol) -> InvariantResult:
    if scale_invariant is None:
        scale_invariant = _default_scale_invariant(rule)
    if scale_invariant is None:
        return InvariantResult("scale-invariant", "unchecked",
                               "not a registry member: pass scale_invariant=True if the rule should be")
    if not scale_invariant:
        return InvariantResult("scale-invariant", "unchecked", "does not apply (not adaptive, or absolute step bounds)")
    at_zero = hyper.with_(eps=0.0, weight_decay=0.0)  # weight decay adds an unscaled theta term
    base, *_ = _run(rule, theta0, grads, at_zero)
    scaled, *_ = _run(rule, theta0, grads * 8.0, at_zero)  # a power of two: the scaling itself is exact
    ok, worst = _close(scaled, base, rtol)
    return _verdict("scale-invariant", ok, worst, "gradients x8 at eps = 0")


def _stepsize_times_moment(rule, state, hyper, before, after, rtol) -> InvariantResult:
    step = rules.effective_stepsize(rule, state, hyper)
    m = rules.first_moment(rule, state)
    if step is None or m is None:
        missing = "effective_stepsize" if step is None else "first_moment"
        return InvariantResult("stepsize-times-moment", "unchecked", f"the rule has no {missing} read-out")
    if hyper.weight_decay != 0:
        return InvariantResult("stepsize-times-moment", "unchecked", "weight decay moves theta outside the update")
    # compare iterates, not differences: |theta| >> |update| would amplify rounding in after - before
    ok, worst = _close(after, before - step * m, rtol)
    return _verdict("stepsize-times-moment", ok, worst, "last update against -effective_stepsize * m")


def gradient_runs(max_steps: int = 10, max_dim: int = 4, max_runs: int = 3):
    """Hypothesis strategy: (grads (steps, runs, dim), theta0 (runs, dim)) in float64, |g| >= 1e-3."""
    from hypothesis import strategies as st

    nonzero = st.floats(min_value=1e-3, max_value=10.0).flatmap(lambda x: st.sampled_from([x, -x]))

    @st.composite
    def draw_runs(draw):
        steps, runs, dim = (draw(st.integers(1, n)) for n in (max_steps, max_runs, max_dim))
        flat = draw(st.lists(nonzero, min_size=steps * runs * dim, max_size=steps * runs * dim))
        start = draw(st.lists(st.floats(-2.0, 2.0), min_size=runs * dim, max_size=runs * dim))
        return (torch.tensor(flat, dtype=torch.float64).reshape(steps, runs, dim),
                torch.tensor(start, dtype=torch.float64).reshape(runs, dim))

    return draw_runs()


def hypers(schedules: bool = True):
    """Hypothesis strategy: :class:`theory.family.Hyper` over the valid ranges (eps = 0 included)."""
    from hypothesis import strategies as st

    return st.builds(
        Hyper,
        lr=st.floats(1e-4, 0.5),
        beta1=st.sampled_from([0.0, 0.5, 0.9]) | st.floats(0.0, 0.99),
        beta2=st.sampled_from([0.9, 0.99, 0.999]) | st.floats(0.0, 0.9999),
        eps=st.sampled_from([0.0, 1e-16, 1e-8, 1e-3]),
        weight_decay=st.sampled_from([0.0, 0.0, 1e-2, 0.3]),
        lr_decay=st.sampled_from(["constant", "inverse-sqrt"]) if schedules else st.just("constant"),
        beta1_decay=st.sampled_from([None, 0.9, 0.99]) if schedules else st.none(),
        bias_correction=st.booleans() if schedules else st.just(True),
    )
