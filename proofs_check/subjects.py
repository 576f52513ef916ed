"""The subject and the baseline of the numeric checks, driven through the update-rule contract.

A check that steps an optimizer takes ``subject`` and ``baseline`` keyword arguments: names as
:func:`theory.names.resolve` accepts them (registry members, plugins, ``module.path:Attribute``)
or update-rule objects; the defaults are the paper's comparison, AdaMomentum against Adam
(:data:`theory.family.PAPER_MEMBERS`). The check steps them only through :mod:`theory.rule`
(``init`` / ``step`` and the read-outs ``first_moment``, ``second_moment``,
``effective_stepsize``); where a rule lacks the read-out a check needs, the check returns an
``unchecked`` result that says which read-out and why (:func:`missing_readout`), never a crash.

This module holds what those checks share: resolving (:func:`resolve`), the method's name in
evidence text (:func:`label`), the settings a rule could not honour (:func:`rule_notes`, put
into ``details["rule_notes"]``), the noise run at a minimum (:func:`noise_run`) and the
bias-correction factor of a stored EMA (:func:`bias_correction`). Checks about the printed
formulas of the paper (sympy derivations, the transcriptions of Algorithm 1 / Table 1 / eq. (2))
do not take a subject: they are about the paper's method.
"""
from __future__ import annotations

import torch

from proofs_check.result import CheckResult, single_thread
from theory import names
from theory import rule as contract
from theory.family import PAPER_MEMBERS, Hyper, Member

DEFAULT_BASELINE, DEFAULT_SUBJECT = PAPER_MEMBERS  # ("adam", "adamomentum"): the paper's comparison
READOUTS = ("first_moment", "second_moment", "effective_stepsize")


def resolve(spec):
    """The update rule a name (or rule object) denotes; bad names raise ValueError naming the spec."""
    return names.resolve(spec)


def spec_name(rule) -> str:
    """The name records use for a rule (the registry name or the ``module:Attribute`` spec)."""
    return str(getattr(rule, "name", rule))


def label(rule) -> str:
    """The method's name in evidence text: a registry member's printed name (the head of its
    summary: "AdaMomentum", "Adam", ...), otherwise the rule's name (e.g. ``torch.optim:NAdam``)."""
    member = contract.member_of(rule)
    if isinstance(member, Member) and member.summary:
        return member.summary.split(" (")[0].split(",")[0].strip() or member.name
    return spec_name(rule)


def member_field(rule, field: str, default=None):
    """A field of the rule's registry member, ``default`` where the rule is not a member (or the
    member has no such field)."""
    member = contract.member_of(rule)
    return default if member is None else getattr(member, field, default)


def is_family(rule) -> bool:
    return isinstance(rule, contract.FamilyRule)


def bias_correction(beta, t: int):
    """1 - beta^t: the factor by which an EMA started at 0 under-weights its input after t steps
    (so ``v / bias_correction(b2, t)`` is the debiased second moment, vhat)."""
    return 1 - beta**t


def rule_notes(rules: dict, hyper: Hyper | dict) -> dict:
    """``{rule name: theory.rule.notes(rule, hyper)}`` for the rules whose notes are non-empty;
    ``hyper`` is one Hyper for all or ``{key of rules: Hyper}``."""
    out = {}
    for key, rule in rules.items():
        hp = hyper[key] if isinstance(hyper, dict) else hyper
        found = contract.notes(rule, hp)
        if found:
            out[spec_name(rule)] = found
    return out


def comparison_details(subject, baseline=None, notes: dict | None = None) -> dict:
    """The ``details`` keys every subject/baseline check carries: the two names and, where a rule
    could not honour a setting, ``rule_notes``."""
    out = {"subject": spec_name(subject)}
    if baseline is not None:
        out["baseline"] = spec_name(baseline)
    if notes:
        out["rule_notes"] = notes
    return out


def has_readout(rule, readout: str, hyper: Hyper) -> bool:
    """Whether ``rule`` gives ``readout`` (one of :data:`READOUTS`): a probe of one step on a
    (1, 2) float64 parameter, so a check can say ``unchecked`` before any long run."""
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
    params = torch.zeros(1, 2, dtype=torch.float64)
    state = rule.init(params, hyper)
    rule.step(state, params, torch.tensor([[0.1, -0.2]], dtype=torch.float64), hyper)
    fn = getattr(contract, readout)
    value = fn(rule, state, hyper) if readout == "effective_stepsize" else fn(rule, state)
    return value is not None


def missing_readout(name: str, claim: str, rule, readout: str, needed_for: str, scope: str = "claim",
                    details: dict | None = None) -> CheckResult:
    """The ``unchecked`` result of a check whose subject (or baseline) lacks a read-out."""
    return CheckResult(name, claim, "unchecked", "numeric",
                       f"{label(rule)} ({spec_name(rule)}) has no {readout} read-out (theory.rule.{readout} "
                       f"returns None): {needed_for}, so this check cannot run on it.", scope=scope,
                       details={**(details or {}), "missing_readout": readout, "rule": spec_name(rule)})


def first_missing(rules: dict, readout: str, hyper: Hyper | dict):
    """The first rule of ``rules`` (in order) without ``readout``, or None."""
    for key, rule in rules.items():
        hp = hyper[key] if isinstance(hyper, dict) else hyper
        if not has_readout(rule, readout, hp):
            return rule
    return None


def noise_run(runs: dict, noise_stds, coords: int, steps: int, seed: int) -> dict:
    """Every rule of ``runs`` (``{key: (rule, hyper)}``) at a minimum, grad f = 0, where the gradient
    is the noise: the same i.i.d. N(0, s^2) gradients for all, one run (row) per s in
    ``noise_stds``, ``coords`` coordinates, float64, ``steps`` steps. Returns ``{key: state}``.

    Per step one draw ``stds * randn(len(noise_stds), coords)`` from ``torch.Generator`` seeded
    with ``seed`` (reproduce it to step a method by hand); each rule gets its own copy."""
    stds = torch.tensor(noise_stds, dtype=torch.float64).reshape(-1, 1)
    gen = torch.Generator().manual_seed(seed)
    thetas = {key: torch.zeros(len(noise_stds), coords, dtype=torch.float64) for key in runs}
    states = {key: rule.init(thetas[key], hp) for key, (rule, hp) in runs.items()}
    with single_thread():
        for _ in range(steps):
            g = stds * torch.randn(len(noise_stds), coords, generator=gen, dtype=torch.float64)
            for key, (rule, hp) in runs.items():
                rule.step(states[key], thetas[key], g.clone(), hp)
    return states
