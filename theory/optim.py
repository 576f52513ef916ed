"""AdaMomentum as a ``torch.optim.Optimizer`` (Algorithm 1 of the paper).

    m_t = b1 m_{t-1} + (1 - b1) g_t
    v_t = b2 v_{t-1} + (1 - b2) m_t^2 + eps        (eps accumulates in the stored v)
    theta_t = theta_{t-1} - lr * (m_t / (1 - b1^t)) / sqrt(v_t / (1 - b2^t))

The eps default is 1e-16, the released code's default (``wyzjack/AdaM3``). Because eps is
accumulated inside the EMA, the denominator never drops below sqrt(eps / (1 - b2)) =
sqrt(1e-13) ~ 3.2e-7 for b2 = 0.999: the same order as Adam's eps = 1e-8 floor, whereas
the paper's CIFAR setting eps = 1e-8 floors it at ~3.2e-3 (pass ``eps=1e-8`` to match those runs).

``amsgrad=True`` keeps the running max of the stored v (the ``adamomentum-max`` member).
Weight decay is coupled (L2: g += wd * theta) unless ``decoupled_weight_decay=True``
(theta *= 1 - lr * wd), as in ``torch.optim.Adam``.

NaN or inf in a gradient is not absorbed: it propagates into m, v and the parameter (an inf
gradient gives inf / inf = NaN in the update), exactly as ``torch.optim.Adam`` behaves, so a
diverged run is visible instead of silently continuing.
"""
from __future__ import annotations

import math
from collections import defaultdict

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.optimizer import _get_scalar_dtype

from theory.family import validate_hyper

__all__ = ["AdaMomentum", "adamomentum"]

DEFAULT_EPS = 1e-16


class AdaMomentum(Optimizer):
    """AdaMomentum (Algorithm 1). See the module docstring for the update and conventions."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = DEFAULT_EPS,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        amsgrad: bool = False,
        maximize: bool = False,
        foreach: bool | None = None,
    ):
        if isinstance(lr, Tensor):
            raise ValueError("Invalid learning rate (lr): tensor lr is not supported; pass a float")
        validate_hyper(lr, betas, eps, weight_decay)
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
        )
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("decoupled_weight_decay", False)

    def _init_group(self, group, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps):
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError("AdaMomentum does not support sparse gradients")
            params.append(p)
            grads.append(p.grad)
            state = self.state[p]
            if len(state) == 0:
                state["step"] = torch.tensor(0.0, dtype=_get_scalar_dtype())  # as torch.optim.Adam
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                if group["amsgrad"]:
                    state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            if group["amsgrad"]:
                max_exp_avg_sqs.append(state["max_exp_avg_sq"])
            steps.append(state["step"])

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one optimisation step; ``closure`` re-evaluates the loss under grad mode."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps = [], [], [], [], [], []
            self._init_group(group, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps)
            beta1, beta2 = group["betas"]
            adamomentum(
                params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps,
                foreach=group["foreach"],
                amsgrad=group["amsgrad"],
                beta1=beta1,
                beta2=beta2,
                lr=group["lr"],
                weight_decay=group["weight_decay"],
                decoupled_weight_decay=group["decoupled_weight_decay"],
                eps=group["eps"],
                maximize=group["maximize"],
            )
        return loss


def adamomentum(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    max_exp_avg_sqs: list[Tensor],
    state_steps: list[Tensor],
    *,
    foreach: bool | None = None,
    amsgrad: bool,
    beta1: float,
    beta2: float,
    lr: float,
    weight_decay: float,
    decoupled_weight_decay: bool,
    eps: float,
    maximize: bool,
) -> None:
    """Functional AdaMomentum: one signature, a single-tensor and a foreach path."""
    if foreach is None:
        # Same default as torch.optim: foreach on CUDA, single-tensor elsewhere (faster on the CPU).
        foreach = bool(params) and all(p.is_cuda for p in params)
    impl = _multi_tensor if foreach else _single_tensor
    impl(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, amsgrad=amsgrad,
         beta1=beta1, beta2=beta2, lr=lr, weight_decay=weight_decay,
         decoupled_weight_decay=decoupled_weight_decay, eps=eps, maximize=maximize)


def _step_size(step: int, lr: float, beta1: float, beta2: float) -> float:
    # With eps inside v there is no outer eps, so sqrt(1 - b2^t) folds into the scalar:
    # lr * mhat / sqrt(v / bc2) = (lr * sqrt(bc2) / bc1) * m / sqrt(v): one pass fewer than Adam.
    return lr * math.sqrt(1 - beta2**step) / (1 - beta1**step)


def _single_tensor(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, *, amsgrad,
                   beta1, beta2, lr, weight_decay, decoupled_weight_decay, eps, maximize):
    for i, param in enumerate(params):
        grad = -grads[i] if maximize else grads[i]
        exp_avg, exp_avg_sq, step_t = exp_avgs[i], exp_avg_sqs[i], state_steps[i]
        step_t += 1
        step = int(step_t.item())
        if weight_decay != 0:
            if decoupled_weight_decay:
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(exp_avg, exp_avg, value=1 - beta2).add_(eps)
        if amsgrad:
            torch.maximum(max_exp_avg_sqs[i], exp_avg_sq, out=max_exp_avg_sqs[i])
            denom = max_exp_avg_sqs[i].sqrt()
        else:
            denom = exp_avg_sq.sqrt()
        param.addcdiv_(exp_avg, denom, value=-_step_size(step, lr, beta1, beta2))


def _multi_tensor(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, *, amsgrad,
                  beta1, beta2, lr, weight_decay, decoupled_weight_decay, eps, maximize):
    if not params:
        return
    groups = defaultdict(list)
    for i, p in enumerate(params):
        groups[(p.device, p.dtype)].append(i)
    for indices in groups.values():
        pick = (lambda xs: [xs[i] for i in indices])
        d_params, d_avgs, d_sqs, d_steps = pick(params), pick(exp_avgs), pick(exp_avg_sqs), pick(state_steps)
        d_grads = pick(grads)
        if maximize:
            d_grads = torch._foreach_neg(d_grads)
        torch._foreach_add_(d_steps, 1)
        if weight_decay != 0:
            if decoupled_weight_decay:
                torch._foreach_mul_(d_params, 1 - lr * weight_decay)
            else:
                d_grads = torch._foreach_add(d_grads, d_params, alpha=weight_decay)
        torch._foreach_lerp_(d_avgs, d_grads, 1 - beta1)
        torch._foreach_mul_(d_sqs, beta2)
        torch._foreach_addcmul_(d_sqs, d_avgs, d_avgs, 1 - beta2)
        torch._foreach_add_(d_sqs, eps)
        if amsgrad:
            d_max = pick(max_exp_avg_sqs)
            torch._foreach_maximum_(d_max, d_sqs)
            denom = torch._foreach_sqrt(d_max)
        else:
            denom = torch._foreach_sqrt(d_sqs)
        step_sizes = [-_step_size(int(s.item()), lr, beta1, beta2) for s in d_steps]
        torch._foreach_addcdiv_(d_params, d_avgs, denom, step_sizes)
