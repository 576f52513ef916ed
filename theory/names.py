"""Optimizer names, as the command line and the Python API accept them, turned into update rules.

A name is one of

* a registry member of :mod:`theory.family` (``adam``, ``adamomentum``, ...);
* a name registered by an installed package under the entry-point group ``amlab.optimizers``
  (the entry point names a torch optimizer class, a rule class or a rule object);
* ``module.path:Attribute`` with optional keyword arguments ``:key=value`` (values are Python
  literals: ``torch.optim:NAdam:momentum_decay=0.004:betas=(0.9,0.99)``). The attribute is a
  ``torch.optim.Optimizer`` subclass, a :class:`theory.rule.Rule` subclass or any class with
  ``init``/``step`` (called with the keyword arguments), or a rule object.

Every error names the spec and what is wrong (module that does not import, missing attribute,
an attribute that is not an optimizer, a bad keyword) and is raised before any work starts.
"""
from __future__ import annotations

import ast
import importlib
import inspect
from importlib.metadata import entry_points

import torch

from theory.family import REGISTRY, Member
from theory.rule import FamilyRule, TorchOptimizerRule, UpdateRule

ENTRY_POINT_GROUP = "amlab.optimizers"


def _split_outside_brackets(text: str, separator: str) -> list[str]:
    """Split on ``separator`` where it is not inside brackets (a keyword value's own)."""
    names, depth, current = [], 0, []
    for char in text:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == separator and depth == 0:
            names.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    names.append("".join(current).strip())
    return names


def split_names(text: str) -> list[str]:
    """Split a comma-separated list of names; commas inside brackets belong to a keyword value."""
    return [n for n in _split_outside_brackets(text, ",") if n]


def _parse_kwargs(spec: str, items: list[str]) -> dict:
    kwargs = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"optimizer {spec!r}: expected key=value after ':', got {item!r}")
        try:
            kwargs[key] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            raise ValueError(f"optimizer {spec!r}: the value of {key!r} is not a Python literal: {value!r}") from None
    return kwargs


def _entry_point(name: str):
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            try:
                return ep.load()
            except Exception as err:
                raise ValueError(f"optimizer {name!r}: entry point {ep.value!r} does not load: "
                                 f"{type(err).__name__}: {err}") from None
    return None


def entry_point_names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def _load_attribute(spec: str, module_name: str, attribute: str):
    try:
        module = importlib.import_module(module_name)
    except Exception as err:
        raise ValueError(f"optimizer {spec!r}: module {module_name!r} does not import "
                         f"({type(err).__name__}: {err})") from None
    obj = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"optimizer {spec!r}: module {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    return obj


def _is_rule(obj) -> bool:
    return all(callable(getattr(obj, m, None)) for m in ("init", "step"))


def rule_from_object(obj, kwargs: dict | None = None, name: str | None = None) -> UpdateRule:
    """An update rule from a loaded object (see the module docstring for what it may be)."""
    kwargs = dict(kwargs or {})
    label = name or getattr(obj, "__name__", repr(obj))
    if isinstance(obj, Member):
        if kwargs:
            raise ValueError(f"optimizer {label!r}: a family member takes no keyword arguments")
        return FamilyRule(obj)
    if isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer):
        try:
            return TorchOptimizerRule(obj, kwargs, name=name)
        except ValueError as err:
            if "cannot be driven" in str(err):
                raise
            raise ValueError(f"optimizer {label!r}: {obj.__name__} rejects the keyword arguments {kwargs}: {err}") from None
        except Exception as err:  # optimizers validate with anything (KeyError on a bad betas literal, ...)
            raise ValueError(f"optimizer {label!r}: {obj.__name__} rejects the keyword arguments {kwargs}: "
                             f"{type(err).__name__}: {err}") from None
    if isinstance(obj, type) and _is_rule(obj):
        try:
            inspect.signature(obj).bind(**kwargs)
        except TypeError as err:
            raise ValueError(f"optimizer {label!r}: bad keyword arguments for {obj.__name__}: {err}") from None
        try:
            rule = obj(**kwargs)
        except Exception as err:
            raise ValueError(f"optimizer {label!r}: {obj.__name__}({kwargs}) failed: {type(err).__name__}: {err}") from None
        if name or not isinstance(getattr(rule, "name", None), str):
            rule.name = name or label
        return rule
    if not isinstance(obj, type) and _is_rule(obj):
        if kwargs:
            raise ValueError(f"optimizer {label!r}: a rule object takes no keyword arguments (give its class)")
        if not isinstance(getattr(obj, "name", None), str):
            obj.name = name or label  # records and plots label a rule by its name
        return obj
    raise ValueError(f"optimizer {label!r} is not an optimizer: expected a torch.optim.Optimizer subclass, "
                     f"an update rule (a class or object with init and step, see theory.rule) or a family "
                     f"Member; got {type(obj).__name__}")


def resolve(spec) -> UpdateRule:
    """The update rule a name denotes (a rule object passes through unchanged)."""
    if not isinstance(spec, str):
        return rule_from_object(spec)
    spec = spec.strip()
    if spec in REGISTRY:
        return FamilyRule(spec)
    if ":" not in spec:
        loaded = _entry_point(spec)
        if loaded is not None:
            return rule_from_object(loaded, name=spec)
        extra = entry_point_names()
        raise ValueError(f"unknown optimizer {spec!r}; registry names: {', '.join(REGISTRY)}"
                         + (f"; installed plugins: {', '.join(extra)}" if extra else "")
                         + "; or give module.path:Attribute (e.g. torch.optim:NAdam)")
    module_name, _, rest = spec.partition(":")
    if module_name in REGISTRY:
        raise ValueError(f"optimizer {spec!r}: registry members take no keyword arguments; the experiment's "
                         f"options (--lr, --beta1, ...) set {module_name}'s hyperparameters")
    attribute, *items = _split_outside_brackets(rest, ":")
    if not module_name or not attribute:
        raise ValueError(f"optimizer {spec!r}: expected module.path:Attribute[:key=value...]")
    kwargs = _parse_kwargs(spec, items)
    return rule_from_object(_load_attribute(spec, module_name, attribute), kwargs, name=spec)


def resolve_all(names) -> list[UpdateRule]:
    """Rules for a comma-separated string or a sequence of names/rules; names must be distinct."""
    items = split_names(names) if isinstance(names, str) else list(names)
    if not items:
        raise ValueError("expected at least one optimizer name")
    rules = [resolve(item) for item in items]
    labels = [r.name for r in rules]
    duplicates = sorted({n for n in labels if labels.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate optimizer name(s): {', '.join(duplicates)}; optimizer names must be distinct")
    return rules
