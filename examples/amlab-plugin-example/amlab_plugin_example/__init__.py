"""A method written outside adamomentum-lab, in the two forms the toolkit accepts.

* :class:`LionRule`: Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms") as an
  update rule (:class:`theory.rule.Rule`): batched on (runs, dim) tensors, per-run
  hyperparameters for free, read-outs for the invariant suite and the monitors.
      c = b1 m + (1 - b1) g ;  theta -= lr * sign(c) ;  m = b2 m + (1 - b2) g
  Hyperparameters come from the experiment's :class:`theory.family.Hyper` (lr with its schedule,
  beta1_t, beta2); eps and bias correction do not exist in Lion (its notes say so).
* :class:`MomentumSignSGD`: a plain ``torch.optim.Optimizer`` (signSGD with momentum), the form
  most user code already has; the toolkit adapts it (:class:`theory.rule.TorchOptimizerRule`).

Use without installing: put this folder on PYTHONPATH and name ``amlab_plugin_example:LionRule``.
Installed (``pip install examples/amlab-plugin-example``), the entry points ``lion-rule`` and
``momentum-sign-sgd`` name them. See docs/extending.md.
"""
from __future__ import annotations

import torch

from theory.rule import Rule


class LionRule(Rule):
    """Lion as an update rule (see the module docstring)."""

    name = "lion"

    def init(self, params, hyper):
        return {"m": torch.zeros_like(params), "c": torch.zeros_like(params), "step": 0}

    def step(self, state, params, grad, hyper):
        state["step"] += 1
        t = state["step"]
        b1, b2 = hyper.beta1_at(t), hyper.beta2
        state["c"] = state["m"] * b1 + grad * (1 - b1)  # the interpolation the sign is taken of
        if hyper.weight_decay is not None and torch.any(torch.as_tensor(hyper.weight_decay) != 0):
            params.mul_(1 - hyper.lr_at(t) * hyper.weight_decay)  # Lion's weight decay is decoupled
        params.sub_(hyper.lr_at(t) * torch.sign(state["c"]))
        state["m"].mul_(b2).add_(grad * (1 - b2))

    def first_moment(self, state):
        return state["m"]

    def select(self, state, index):
        return {"m": state["m"][index], "c": state["c"][index], "step": state["step"]}

    def notes(self, hyper):
        out = ["eps not applied: Lion has none"]
        if not hyper.bias_correction:
            out.append("bias_correction=False: Lion has no bias correction either way")
        return out


class MomentumSignSGD(torch.optim.Optimizer):
    """signSGD with momentum: m = b m + (1 - b) g ; p -= lr sign(m)."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.9):
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"Invalid momentum: {momentum}; valid range: 0 <= momentum < 1")
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                buf = state["momentum_buffer"]
                buf.mul_(group["momentum"]).add_(p.grad, alpha=1 - group["momentum"])
                p.sub_(group["lr"] * torch.sign(buf))
