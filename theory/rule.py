"""The update-rule contract every experiment drives, and its adapters.

An experiment never sees an optimizer's name: it holds an :class:`UpdateRule` and calls

    state = rule.init(params, hyper)            # params: (runs, dim), any device/dtype
    rule.step(state, params, grad, hyper)       # in place on params and state, once per step

with ``hyper`` a :class:`theory.family.Hyper` whose scalars may be per-run tensors of shape
``(runs, 1)``. Read-outs are optional and return ``None`` where a rule has no such quantity;
a monitor that needs a missing read-out reports ``unchecked`` with the reason:

* ``first_moment(state)``: the m the update multiplies, (runs, dim);
* ``second_moment(state)``: the v the update divides by (stored form: the running max for
  max members), (runs, dim);
* ``effective_stepsize(state, hyper)``: the per-coordinate a_t / denom_t such that the last
  update was ``-effective_stepsize * first_moment`` (Section 3.1's "actual stepsize");
* ``select(state, index)``: the state of a subset of runs (paths still alive), same order;
* ``notes(hyper)``: the settings of ``hyper`` this rule cannot honour (a torch optimizer cannot
  switch its bias correction off), written into every record so nothing differs silently;
* ``member``: the :class:`theory.family.Member` for registry members, else ``None``
  (experiments that need the family's structure, e.g. the eq. (3) SDE, require it).

Adapters: :class:`FamilyRule` (a registry member; exactly :func:`theory.family.step_`),
:class:`TorchOptimizerRule` (any ``torch.optim.Optimizer`` subclass with its keyword arguments;
each run is its own parameter, runs with equal hyperparameters share a param group) and
:class:`Rule`, the base class for a rule written in a user's own file (``docs/extending.md``).
:mod:`theory.names` turns command-line names into rules.
"""
from __future__ import annotations

import math
from typing import Any, Protocol, runtime_checkable

import torch

from theory import family
from theory.family import Hyper, Member


@runtime_checkable
class UpdateRule(Protocol):
    """What an experiment needs from an optimizer (see the module docstring)."""

    name: str

    def init(self, params: torch.Tensor, hyper: Hyper) -> Any: ...

    def step(self, state: Any, params: torch.Tensor, grad: torch.Tensor, hyper: Hyper) -> None: ...


class Rule:
    """Base class for a user's rule: implement ``init`` and ``step``; read-outs default to None.

    The state may be any object; with a dict of tensors whose first dimension is the runs,
    ``select`` works unchanged. Set ``name`` (the label records and plots use).
    """

    name = "rule"
    member: Member | None = None

    def init(self, params: torch.Tensor, hyper: Hyper) -> Any:
        raise NotImplementedError

    def step(self, state: Any, params: torch.Tensor, grad: torch.Tensor, hyper: Hyper) -> None:
        raise NotImplementedError

    def first_moment(self, state: Any) -> torch.Tensor | None:
        return None

    def second_moment(self, state: Any) -> torch.Tensor | None:
        return None

    def effective_stepsize(self, state: Any, hyper: Hyper) -> torch.Tensor | None:
        return None

    def select(self, state: Any, index: torch.Tensor) -> Any:
        if isinstance(state, dict):
            return {k: (v[index] if isinstance(v, torch.Tensor) and v.dim() > 0 else v) for k, v in state.items()}
        raise NotImplementedError(f"{self.name}: select() needs a dict state or an override")

    def notes(self, hyper: Hyper) -> list[str]:
        return []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def _read(rule: Any, method: str, *args):
    """A read-out of any rule object: None where the rule does not define it."""
    fn = getattr(rule, method, None)
    return None if fn is None else fn(*args)


def first_moment(rule: Any, state: Any) -> torch.Tensor | None:
    return _read(rule, "first_moment", state)


def second_moment(rule: Any, state: Any) -> torch.Tensor | None:
    return _read(rule, "second_moment", state)


def effective_stepsize(rule: Any, state: Any, hyper: Hyper):
    return _read(rule, "effective_stepsize", state, hyper)


def notes(rule: Any, hyper: Hyper) -> list[str]:
    return list(_read(rule, "notes", hyper) or [])


def member_of(rule: Any) -> Member | None:
    return getattr(rule, "member", None)


def select(rule: Any, state: Any, index: torch.Tensor) -> Any:
    fn = getattr(rule, "select", None)
    if fn is None:
        raise NotImplementedError(f"{getattr(rule, 'name', rule)!r} has no select(state, index)")
    return fn(state, index)


class FamilyRule(Rule):
    """A registry member of eq. (2): :func:`theory.family.step_` and its read-outs, unchanged."""

    def __init__(self, member: str | Member):
        self.member = family.get_member(member)
        self.name = self.member.name

    def init(self, params, hyper=None):
        return family.init_state(self.member, params, hyper)

    def step(self, state, params, grad, hyper):
        family.step_(self.member, state, params, grad, hyper)

    def first_moment(self, state):
        return state.m

    def second_moment(self, state):
        return state.second_moment()

    def effective_stepsize(self, state, hyper):
        return family.effective_stepsize(self.member, state, hyper)

    def select(self, state, index):
        return state.select(index)

    def __eq__(self, other):
        return isinstance(other, FamilyRule) and other.member == self.member

    def __hash__(self):
        return hash(self.member)


# Where torch optimizers keep their moments, tried in order (first and second moment): Adam's
# convention only. SGD's momentum_buffer is a heavy-ball sum (1/(1-b) times an EMA), RMSprop's is
# already divided by sqrt(v), and square_avg is not what centered RMSprop or Adadelta divide by, so
# reading any of them as "m" or "v" would compare quantities of another scale: they give None.
FIRST_MOMENT_KEYS = ("exp_avg",)
SECOND_MOMENT_KEYS = ("max_exp_avg_sq", "exp_avg_sq")


def _per_run(value, runs: int) -> list[float]:
    """A hyperparameter (float or tensor broadcasting against (runs, ...)) as one float per run."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().reshape(value.shape[0], -1)[:, 0] if value.dim() else value.reshape(1)
        values = [float(x) for x in flat.cpu()]
        if len(values) == 1:
            return values * runs
        if len(values) != runs:
            raise ValueError(f"a per-run hyperparameter has {len(values)} rows for {runs} runs")
        return values
    return [float(value)] * runs


def _rows(value) -> int:
    """How many per-run values a hyperparameter holds (1 for a float)."""
    return int(value.shape[0]) if isinstance(value, torch.Tensor) and value.dim() else 1


class TorchState:
    """A torch optimizer over one parameter per run, and the step counter."""

    def __init__(self, optimizer: torch.optim.Optimizer, params: list[torch.Tensor], group_of: list[int]):
        self.optimizer = optimizer
        self.params = params  # one leaf tensor per run, in run order
        self.group_of = group_of  # param-group index of each run
        self.step = 0

    def moment(self, keys: tuple[str, ...]) -> torch.Tensor | None:
        states = [self.optimizer.state.get(p, {}) for p in self.params]
        for key in keys:
            if states and all(key in s and isinstance(s[key], torch.Tensor) for s in states):
                return torch.stack([s[key] for s in states])
        return None


class TorchOptimizerRule(Rule):
    """Any ``torch.optim.Optimizer`` subclass as an update rule.

    Each run is its own parameter tensor (so a method that takes norms per parameter, LAMB-like,
    still sees one run at a time) and runs with equal hyperparameters share a param group.
    From ``hyper`` the adapter sets, every step and in every group, ``lr`` (with the schedule
    ``lr_decay``), ``betas = (beta1_t, beta2)`` (``alpha = beta2`` for ``torch.optim.RMSprop``,
    whose alpha is that EMA's decay), ``eps``, and ``weight_decay`` when the experiment asks for a
    non-zero one, where the optimizer has that option, unless the user fixed it in ``kwargs``
    (explicit keyword arguments win). Every option it leaves at the optimizer's own value, or sets
    to a value other than the optimizer's default, is listed by :meth:`notes`. Read-outs:
    ``exp_avg`` / ``exp_avg_sq`` (``max_exp_avg_sq`` with amsgrad) where the optimizer keeps them;
    no effective stepsize. An optimizer that cannot be stepped without a closure or with a dense
    gradient (LBFGS, SparseAdam) is refused when the rule is made.
    """

    def __init__(self, optimizer_class: type, kwargs: dict | None = None, name: str | None = None):
        if not (isinstance(optimizer_class, type) and issubclass(optimizer_class, torch.optim.Optimizer)):
            raise TypeError(f"{optimizer_class!r} is not a torch.optim.Optimizer subclass")
        self.optimizer_class = optimizer_class
        self.kwargs = dict(kwargs or {})
        self.name = name or f"{optimizer_class.__module__}:{optimizer_class.__qualname__}"
        weight = torch.zeros(1, requires_grad=True)
        probe = optimizer_class([weight], **self.kwargs)  # bad keywords fail here
        self.defaults = dict(probe.defaults)
        weight.grad = torch.ones(1)
        try:  # the experiments call step() without a closure, on dense gradients
            probe.step()
        except Exception as err:
            raise ValueError(f"{self.name} cannot be driven one dense-gradient step at a time without a closure "
                             f"({type(err).__name__}: {err})") from None

    def _settable(self, key: str) -> bool:
        return key in self.defaults and key not in self.kwargs

    def _rmsprop_alpha(self) -> bool:
        return issubclass(self.optimizer_class, torch.optim.RMSprop) and self._settable("alpha")

    @staticmethod
    def _asks_weight_decay(hyper: Hyper) -> bool:
        wd = hyper.weight_decay
        return bool(torch.any(torch.as_tensor(wd) != 0))

    def _run_settings(self, hyper: Hyper, t: int, runs: int) -> list[dict]:
        """The options at step ``t``, one dict per run."""
        columns = {}
        if self._settable("lr"):
            lr = _per_run(hyper.lr, runs)
            columns["lr"] = [x / math.sqrt(t) for x in lr] if hyper.lr_decay == "inverse-sqrt" else lr
        if self._settable("betas"):
            b1, b2 = _per_run(hyper.beta1_at(t), runs), _per_run(hyper.beta2, runs)
            columns["betas"] = list(zip(b1, b2))
        elif self._rmsprop_alpha():
            columns["alpha"] = _per_run(hyper.beta2, runs)
        if self._settable("eps"):
            columns["eps"] = _per_run(hyper.eps, runs)
        if self._settable("weight_decay") and self._asks_weight_decay(hyper):
            columns["weight_decay"] = _per_run(hyper.weight_decay, runs)
        if self._settable("decoupled_weight_decay") and hyper.decoupled_weight_decay is not None:
            columns["decoupled_weight_decay"] = [bool(hyper.decoupled_weight_decay)] * runs
        return [{k: col[i] for k, col in columns.items()} for i in range(runs)]

    def init(self, params, hyper):
        runs = params.shape[0]
        settings = self._run_settings(hyper, 1, runs)
        keys: dict[tuple, int] = {}
        group_of = [keys.setdefault(tuple(sorted(s.items())), len(keys)) for s in settings]
        leaves = [params[i].detach().clone() for i in range(runs)]
        for leaf in leaves:
            leaf.grad = torch.zeros_like(leaf)  # filled in place every step
        groups = [{"params": [], **dict(key)} for key in keys]
        for leaf, g in zip(leaves, group_of):
            groups[g]["params"].append(leaf)
        optimizer = self.optimizer_class(groups, **self.kwargs)
        return TorchState(optimizer, leaves, group_of)

    def step(self, state, params, grad, hyper):
        state.step += 1
        # Runs of one group share their values at every step (same hyperparameters, same schedule),
        # so each group takes the settings of its first run.
        settings = self._run_settings(hyper, state.step, len(state.params))
        first_run = {}
        for run, group_index in enumerate(state.group_of):
            first_run.setdefault(group_index, run)
        for group_index, run in first_run.items():
            state.optimizer.param_groups[group_index].update(settings[run])
        with torch.no_grad():
            rows = list(params.unbind(0))
            torch._foreach_copy_(state.params, rows)  # the experiment may have moved params (projection)
            # a fresh copy of the gradient each step: some optimizers add weight decay into p.grad
            torch._foreach_copy_([p.grad for p in state.params], list(grad.unbind(0)))
            state.optimizer.step()
            torch.stack(state.params, out=params)

    def first_moment(self, state):
        return state.moment(FIRST_MOMENT_KEYS)

    def second_moment(self, state):
        return state.moment(SECOND_MOMENT_KEYS)

    def select(self, state, index):
        keep = torch.arange(len(state.params))[index.cpu()].tolist()
        kept = [state.params[i] for i in keep]
        kept_ids = {id(p) for p in kept}
        for group in state.optimizer.param_groups:
            group["params"] = [p for p in group["params"] if id(p) in kept_ids]
        for p in state.params:
            if id(p) not in kept_ids:
                state.optimizer.state.pop(p, None)
        new = TorchState(state.optimizer, kept, [state.group_of[i] for i in keep])
        new.step = state.step
        return new

    def notes(self, hyper):
        out = []
        if not hyper.bias_correction:
            out.append(f"bias_correction=False not applied: {self.name} keeps its own update")
        if hyper.beta1_decay is not None and not self._settable("betas"):
            out.append(f"beta1_decay not applied: {self.name} has no settable betas")
        if hyper.beta1_decay is not None and self._settable("betas"):
            out.append("beta1_t = beta1 lam^t is set as the optimizer's beta1 each step; its own bias "
                       "correction then uses beta1_t")
        for key, label in (("betas", "beta1/beta2"), ("eps", "eps"), ("lr", "lr")):
            if key in self.kwargs:
                out.append(f"{label} fixed by the spec ({key}={self.kwargs[key]!r}); the experiment's value not applied")
            elif key == "betas" and self._rmsprop_alpha():
                out.append("beta1 not applied (RMSprop has no first-moment EMA); beta2 set as RMSprop's alpha")
            elif key not in self.defaults:
                out.append(f"{label} not applied: {self.name} has no '{key}' option")
        eps_default = self.defaults.get("eps")
        eps_values = sorted(set(_per_run(hyper.eps, _rows(hyper.eps))))
        if self._settable("eps") and isinstance(eps_default, float) and eps_values != [eps_default]:
            shown = ", ".join(f"{x:g}" for x in eps_values)
            out.append(f"eps set to the experiment's {shown} (the optimizer's default is {eps_default:g})")
        wd_default = self.defaults.get("weight_decay")
        if "weight_decay" in self.defaults and not self._asks_weight_decay(hyper) and wd_default:
            out.append(f"weight_decay left at the optimizer's own {wd_default!r} (the experiment asks for none)")
        elif self._asks_weight_decay(hyper) and "weight_decay" not in self.defaults:
            out.append(f"weight_decay not applied: {self.name} has no 'weight_decay' option")
        if hyper.decoupled_weight_decay is not None and not self._settable("decoupled_weight_decay"):
            out.append(f"decoupled_weight_decay={hyper.decoupled_weight_decay} not applied: the optimizer's own mode")
        return out
