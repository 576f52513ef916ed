""""No additional memory cost" (Section 1): the subject's optimizer state against the baseline's.

Measured, not argued: both methods take one step on the same small model and we count the
tensors they keep in their state and their bytes, with and without amsgrad where the method has
that variant. How a method is measured (``details["measured_as"]``):

* a name in the ``factories`` table (by default :data:`FACTORIES`, the torch implementations of the
  paper's two methods: ``torch.optim.Adam`` and ``theory.optim.AdaMomentum``) or a
  ``torch.optim.Optimizer`` rule (e.g. ``torch.optim:NAdam``): the optimizer on the model's
  parameters, its ``optimizer.state`` (the amsgrad variant where the class has an ``amsgrad``
  option the spec leaves free);
* any other update rule (a registry member without a torch implementation here, a user's rule):
  through the contract of :mod:`theory.rule`, one run per parameter tensor (its elements as the
  run's coordinates), the tensors its state holds after one step (the amsgrad variant of a
  registry member is the same member with the running max of v).

Per-parameter buffers and their bytes decide; step counters (0-d tensors) are reported separately.
Transient memory inside ``step()`` is not measured (the methods here are element-wise; the CPU
allocator is not instrumented).
"""
from __future__ import annotations

import dataclasses

import torch

from proofs_check import subjects
from proofs_check.result import CheckResult
from theory.family import Hyper
from theory.optim import AdaMomentum
from theory.rule import FamilyRule, TorchOptimizerRule, member_of

MODEL = "64-128-10 float32 MLP"


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.Tanh(), torch.nn.Linear(128, 10)).float()


def _model_with_grads(seed: int) -> torch.nn.Module:
    model = _model(seed)
    loss = model(torch.randn(8, 64, dtype=torch.float32)).square().mean()
    loss.backward()
    return model


def tensor_footprint(tensors) -> dict:
    """Number of tensors and their total bytes, split into buffers (dim >= 1) and scalars (0-d)."""
    buffers = scalars = buffer_bytes = scalar_bytes = 0
    for value in tensors:
        size = value.numel() * value.element_size()
        if value.dim() == 0:
            scalars, scalar_bytes = scalars + 1, scalar_bytes + size
        else:
            buffers, buffer_bytes = buffers + 1, buffer_bytes + size
    return {"buffers": buffers, "scalars": scalars, "bytes": buffer_bytes, "scalar_bytes": scalar_bytes}


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [value for state in optimizer.state.values() for value in state.values()
            if isinstance(value, torch.Tensor)]


def state_footprint(optimizer: torch.optim.Optimizer) -> dict:
    """Number of state tensors and their total bytes, split into per-parameter buffers and scalars."""
    return tensor_footprint(_optimizer_tensors(optimizer))


def _param_bytes(model: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def measure(factory, amsgrad: bool, seed: int = 0) -> dict:
    """A torch optimizer ``factory(params, amsgrad)`` after one step on the model."""
    model = _model(seed)
    optimizer = factory(model.parameters(), amsgrad)
    loss = model(torch.randn(8, 64, dtype=torch.float32)).square().mean()
    loss.backward()
    optimizer.step()
    return {**state_footprint(optimizer), "param_bytes": _param_bytes(model)}


def state_tensors(state, exclude=()) -> list[torch.Tensor]:
    """The tensors an update rule's state holds: a torch optimizer's ``optimizer.state`` (the adapter's
    TorchState), else every tensor reachable through dicts, lists, tuples, dataclasses and object
    attributes, each once, except those sharing storage with ``exclude`` (the parameters, the gradient)."""
    optimizer = getattr(state, "optimizer", None)
    if isinstance(optimizer, torch.optim.Optimizer):
        return _optimizer_tensors(optimizer)
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    found, seen = [], set()

    def walk(obj, depth):
        if id(obj) in seen or depth > 8:
            return
        seen.add(id(obj))
        if isinstance(obj, torch.Tensor):
            if obj.untyped_storage().data_ptr() not in skip:
                found.append(obj)
        elif isinstance(obj, dict):
            for value in obj.values():
                walk(value, depth + 1)
        elif isinstance(obj, (list, tuple)):
            for value in obj:
                walk(value, depth + 1)
        elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            for f in dataclasses.fields(obj):
                walk(getattr(obj, f.name), depth + 1)
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            for value in vars(obj).values():
                walk(value, depth + 1)

    walk(state, 0)
    return found


def measure_rule(rule, seed: int = 0, hyper: Hyper | None = None) -> dict:
    """An update rule after one step through the contract, one run per parameter tensor of the model
    (shape (1, numel), the model's float32 gradient), counting the tensors each state holds."""
    hyper = Hyper(lr=1e-3) if hyper is None else hyper
    model = _model_with_grads(seed)
    tensors = []
    for p in model.parameters():
        params = p.detach().reshape(1, -1).clone()
        grad = p.grad.detach().reshape(1, -1).clone()
        state = rule.init(params, hyper)
        rule.step(state, params, grad, hyper)
        tensors += state_tensors(state, exclude=(params, grad))
    return {**tensor_footprint(tensors), "param_bytes": _param_bytes(model)}


def _torch_factory(rule: TorchOptimizerRule):
    """factory(params, amsgrad) for a torch-optimizer rule (its keyword arguments, amsgrad when asked)."""
    def factory(params, amsgrad):
        return rule.optimizer_class(params, **rule.kwargs, **({"amsgrad": True} if amsgrad else {}))
    return factory


def _amsgrad_member(rule):
    """The registry member with the running max of v, for the amsgrad variant (None where there is none)."""
    member = member_of(rule)
    if member is None or member.max_v or not member.adaptive:
        return None
    try:
        return FamilyRule(dataclasses.replace(member, max_v=True))
    except ValueError:  # a member whose structure has no max variant
        return None


def variants(spec, factories: dict) -> dict:
    """One method measured: {"name", "table": {suffix: footprint}, "how", "notes"}; suffix "" or "+amsgrad"."""
    name = spec if isinstance(spec, str) else subjects.spec_name(spec)
    if name in factories:
        table = {s: measure(factories[name], ams) for s, ams in (("", False), ("+amsgrad", True))}
        return {"name": name, "label": _paper_label(name), "table": table,
                "how": "torch optimizer on the model (factories table)", "notes": []}
    rule = subjects.resolve(spec)
    out = {"name": subjects.spec_name(rule), "label": subjects.label(rule), "notes": []}
    if isinstance(rule, TorchOptimizerRule):
        factory = _torch_factory(rule)
        out["table"] = {"": measure(factory, False)}
        if "amsgrad" in rule.defaults and "amsgrad" not in rule.kwargs:
            out["table"]["+amsgrad"] = measure(factory, True)
        return {**out, "how": "torch optimizer on the model"}
    hyper = Hyper(lr=1e-3)
    out["table"] = {"": measure_rule(rule, hyper=hyper)}
    heavy = _amsgrad_member(rule)
    if heavy is not None:
        out["table"]["+amsgrad"] = measure_rule(heavy, hyper=hyper)
    return {**out, "how": "update rule (theory.rule), one run per parameter tensor",
            "notes": subjects.rule_notes({"rule": rule}, hyper).get(out["name"], [])}


FACTORIES = {
    "adam": lambda params, amsgrad: torch.optim.Adam(params, lr=1e-3, amsgrad=amsgrad),
    "adamomentum": lambda params, amsgrad: AdaMomentum(params, lr=1e-3, amsgrad=amsgrad),
}


def _state_description(table: dict, name: str) -> str:
    """What the compared state is, from its size relative to the parameters."""
    plain = table[f"{name}"]["bytes"] / table[f"{name}"]["param_bytes"]
    heavy = table.get(f"{name}+amsgrad")
    heavy_ratio = None if heavy is None else heavy["bytes"] / heavy["param_bytes"]
    if plain == 2 and heavy_ratio in (None, 3):
        return "m and v per parameter" + ("; v_max with amsgrad" if heavy is not None else "")
    return f"{plain:.2f}x the parameter bytes" + ("" if heavy is None else f", {heavy_ratio:.2f}x with amsgrad")


def check_memory_cost(factories: dict | None = None, subject=subjects.DEFAULT_SUBJECT,
                      baseline=subjects.DEFAULT_BASELINE) -> CheckResult:
    """Per-parameter state bytes of the subject (default AdaMomentum) are at most the baseline's (default
    Adam), on every variant both have (with and without amsgrad); the step counters are scalars whose
    dtype follows each optimizer's convention (reported separately)."""
    factories = FACTORIES if factories is None else factories
    b, s = variants(baseline, factories), variants(subject, factories)
    table = {f"{m['name']}{suffix}": fp for m in (b, s) for suffix, fp in m["table"].items()}
    common = [x for x in s["table"] if x in b["table"]]
    more = [x for x in common if s["table"][x]["bytes"] > b["table"][x]["bytes"]]
    same = all(s["table"][x]["bytes"] == b["table"][x]["bytes"] and s["table"][x]["buffers"] == b["table"][x]["buffers"]
               for x in common)
    text = "; ".join(f"{k}: {v['buffers']} buffers, {v['bytes']} B ({v['bytes'] / v['param_bytes']:.2f}x params)"
                     f" + {v['scalars']} step scalars ({v['scalar_bytes']} B)" for k, v in table.items())
    if more:
        verdict, tail = "fails", (f"{s['label']} keeps more state than {b['label']} ("
                                  + ", ".join(f"{s['name']}{x}: {s['table'][x]['bytes']} B vs "
                                              f"{b['table'][x]['bytes']} B" for x in more) + ").")
    elif same:
        verdict, tail = "holds", f"Identical state to {b['label']} ({_state_description(table, s['name'])})."
    else:
        verdict, tail = "holds", (f"{s['label']} keeps no more state than {b['label']} on every variant compared "
                                  f"({', '.join(s['name'] + x for x in common)}).")
    details = {"footprint": table, "measured_as": {b["name"]: b["how"], s["name"]: s["how"]}, "compared": common,
               "subject": s["name"], "baseline": b["name"]}
    notes = {m["name"]: m["notes"] for m in (b, s) if m["notes"]}
    if notes:
        details["rule_notes"] = notes
    return CheckResult("memory-cost", "memory-cost", verdict, "numeric",
                       f"Optimizer state after one step on a {MODEL}: {text}. " + tail, details=details)


def _paper_label(name: str) -> str:
    """A factories-table name as evidence prints it (a registry member by its printed name)."""
    try:
        return subjects.label(subjects.resolve(name))
    except ValueError:  # a name only the factories table knows
        return name
