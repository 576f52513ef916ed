"""Plain float64 reference loops, one per family member. Only the tests use them.

Written longhand from the papers and the torch.optim source, independently of the batched
implementation in :mod:`theory.family`, so that the two can be compared. Each function takes
a start point ``theta0`` (a list of floats), a list of gradient callables or vectors and the
hyperparameters as plain floats, and returns the list of iterates theta_0..theta_T plus the
final state as a dict of lists.

A gradient item may be a list of floats (a fixed sequence) or a callable ``g(theta, t)``.
The loops of Yogi, AdaBound and RAdam take their own hyperparameters as keyword arguments named
as in :class:`theory.family.Hyper` (listed in ``EXTRA_HYPERS``).
"""
from __future__ import annotations

import math


def _schedule(lr, beta1, t, lr_decay, beta1_decay):
    a_t = lr / math.sqrt(t) if lr_decay == "inverse-sqrt" else lr
    b1_t = beta1 if beta1_decay is None else beta1 * beta1_decay**t
    return a_t, b1_t


def _grad(item, theta, t):
    return list(item(theta, t)) if callable(item) else [float(x) for x in item]


def _weight_decay(theta, g, a_t, wd, decoupled):
    if wd == 0.0:
        return theta, g
    if decoupled:
        return [x * (1 - a_t * wd) for x in theta], g
    return theta, [gi + wd * x for gi, x in zip(g, theta)]


def sgdm(theta0, grads, lr, beta1, beta2=None, eps=None, weight_decay=0.0, decoupled=False,
         lr_decay="constant", beta1_decay=None, bias_correction=True):
    """Heavy ball: buf = b1 buf + g; theta -= a_t buf (torch.optim.SGD, dampening 0)."""
    theta = [float(x) for x in theta0]
    buf = [0.0] * len(theta)
    path = [list(theta)]
    for t, item in enumerate(grads, start=1):
        a_t, b1_t = _schedule(lr, beta1, t, lr_decay, beta1_decay)
        g = _grad(item, theta, t)
        theta, g = _weight_decay(theta, g, a_t, weight_decay, decoupled)
        for i in range(len(theta)):
            buf[i] = b1_t * buf[i] + g[i]
            theta[i] -= a_t * buf[i]
        path.append(list(theta))
    return path, {"m": buf}


def rmsprop(theta0, grads, lr, beta1=None, beta2=0.99, eps=1e-8, weight_decay=0.0, decoupled=False,
            lr_decay="constant", beta1_decay=None, bias_correction=True):
    """v = b2 v + (1 - b2) g^2; theta -= a_t g / (sqrt(v) + eps) (torch.optim.RMSprop)."""
    theta = [float(x) for x in theta0]
    v = [0.0] * len(theta)
    g = [0.0] * len(theta)
    path = [list(theta)]
    for t, item in enumerate(grads, start=1):
        a_t, _ = _schedule(lr, 0.0, t, lr_decay, None)
        g = _grad(item, theta, t)
        theta, g = _weight_decay(theta, g, a_t, weight_decay, decoupled)
        for i in range(len(theta)):
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            theta[i] -= a_t * g[i] / (math.sqrt(v[i]) + eps)
        path.append(list(theta))
    return path, {"m": list(g), "v": v}  # m: the last (decayed) gradient, no momentum


def _adam_like(theta0, grads, lr, beta1, beta2, eps, weight_decay, decoupled, lr_decay, beta1_decay,
               bias_correction, k_of, eps_inside, eps_outside, use_max):
    theta = [float(x) for x in theta0]
    n = len(theta)
    m, v, vmax = [0.0] * n, [0.0] * n, [0.0] * n
    path = [list(theta)]
    for t, item in enumerate(grads, start=1):
        a_t, b1_t = _schedule(lr, beta1, t, lr_decay, beta1_decay)
        g = _grad(item, theta, t)
        theta, g = _weight_decay(theta, g, a_t, weight_decay, decoupled)
        bc1 = 1 - beta1**t if bias_correction else 1.0
        bc2 = 1 - beta2**t if bias_correction else 1.0
        for i in range(n):
            m[i] = b1_t * m[i] + (1 - b1_t) * g[i]
            k = k_of(g[i], m[i])
            v[i] = beta2 * v[i] + (1 - beta2) * k * k + (eps if eps_inside else 0.0)
            vmax[i] = max(vmax[i], v[i])
            v_used = vmax[i] if use_max else v[i]
            denom = math.sqrt(v_used / bc2) + (eps if eps_outside else 0.0)
            theta[i] -= a_t * (m[i] / bc1) / denom
        path.append(list(theta))
    state = {"m": m, "v": v}
    if use_max:
        state["v_max"] = vmax
    return path, state


def adam(theta0, grads, lr, beta1, beta2, eps, weight_decay=0.0, decoupled=False,
         lr_decay="constant", beta1_decay=None, bias_correction=True):
    """Kingma & Ba with torch's eps outside the square root."""
    return _adam_like(theta0, grads, lr, beta1, beta2, eps, weight_decay, decoupled, lr_decay, beta1_decay,
                      bias_correction, lambda g, m: g, False, True, False)


def adamw(theta0, grads, lr, beta1, beta2, eps, weight_decay=0.0, decoupled=True,
          lr_decay="constant", beta1_decay=None, bias_correction=True):
    return adam(theta0, grads, lr, beta1, beta2, eps, weight_decay, decoupled, lr_decay, beta1_decay,
                bias_correction)


def amsgrad(theta0, grads, lr, beta1, beta2, eps, weight_decay=0.0, decoupled=False,
            lr_decay="constant", beta1_decay=None, bias_correction=True):
    return _adam_like(theta0, grads, lr, beta1, beta2, eps, weight_decay, decoupled, lr_decay, beta1_decay,
                      bias_correction, lambda g, m: g, False, True, True)


def adabelief(theta0, grads, lr, beta1, beta2, eps, weight_decay=0.0, decoupled=False,
              lr_decay="constant", beta1_decay=None, bias_correction=True):
    """s = b2 s + (1 - b2)(g - m)^2 + eps; denom = sqrt(s / bc2) + eps (released code)."""
    return _adam_like(theta0, grads, lr, beta1, beta2, eps, weight_decay, decoupled, lr_decay, beta1_decay,
                      bias_correction, lambda g, m: g - m, True, True, False)


def adamomentum(theta0, grads, lr, beta1, beta2, eps, weight_decay=0.0, decoupled=False,
                lr_decay="constant", beta1_decay=None, bias_correction=True):
    """Algorithm 1: v = b2 v + (1 - b2) m^2 + eps; theta -= a (m / bc1) / sqrt(v / bc2)."""
    return _adam_like(theta0, grads, lr, beta1, beta2, eps, weight_decay, decoupled, lr_decay, beta1_decay,
                      bias_correction, lambda g, m: m, True, False, False)


def adamomentum_max(theta0, grads, lr, beta1, beta2, eps, weight_decay=0.0, decoupled=False,
                    lr_decay="constant", beta1_decay=None, bias_correction=True):
    return _adam_like(theta0, grads, lr, beta1, beta2, eps, weight_decay, decoupled, lr_decay, beta1_decay,
                      bias_correction, lambda g, m: m, True, False, True)


def _sign(x):
    return (x > 0) - (x < 0)


def yogi(theta0, grads, lr, beta1, beta2, eps, weight_decay=0.0, decoupled=False,
         lr_decay="constant", beta1_decay=None, bias_correction=True, initial_accumulator=1e-6):
    """Yogi (Zaheer et al. 2018, Algorithm 2) as jettify/pytorch-optimizer's code runs it:
    m = b1 m + (1 - b1) g; v = v - (1 - b2) sign(v - g^2) g^2;
    theta -= (a_t / bc1) m / (sqrt(v) / sqrt(bc2) + eps). Starts at m = 0 (Algorithm 2,
    tensorflow-addons), v = initial_accumulator (tensorflow-addons' initial_accumulator_value)."""
    theta = [float(x) for x in theta0]
    n = len(theta)
    m, v = [0.0] * n, [float(initial_accumulator)] * n
    path = [list(theta)]
    for t, item in enumerate(grads, start=1):
        a_t, b1_t = _schedule(lr, beta1, t, lr_decay, beta1_decay)
        g = _grad(item, theta, t)
        theta, g = _weight_decay(theta, g, a_t, weight_decay, decoupled)
        bc1 = 1 - beta1**t if bias_correction else 1.0
        bc2 = 1 - beta2**t if bias_correction else 1.0
        for i in range(n):
            m[i] = b1_t * m[i] + (1 - b1_t) * g[i]
            g2 = g[i] * g[i]
            v[i] = v[i] - (1 - beta2) * _sign(v[i] - g2) * g2
            denom = math.sqrt(v[i]) / math.sqrt(bc2) + eps
            theta[i] -= (a_t / bc1) * m[i] / denom
        path.append(list(theta))
    return path, {"m": m, "v": v}


def adabound(theta0, grads, lr, beta1, beta2, eps, weight_decay=0.0, decoupled=False,
             lr_decay="constant", beta1_decay=None, bias_correction=True, final_lr=0.1, gamma=1e-3):
    """AdaBound as the ``adabound`` package (Luo et al. 2019) writes it, a_t the group lr:
    step = a_t sqrt(bc2) / bc1; final = final_lr * a_t / base_lr; eta = clip(step / (sqrt(v) + eps),
    final (1 - 1/(gamma t + 1)), final (1 + 1/(gamma t))); theta -= eta m (m, not m / bc1).
    final = 0 where lr = 0 (pytorch-optimizer's guard; the package divides by zero)."""
    theta = [float(x) for x in theta0]
    n = len(theta)
    m, v = [0.0] * n, [0.0] * n
    path = [list(theta)]
    for t, item in enumerate(grads, start=1):
        a_t, b1_t = _schedule(lr, beta1, t, lr_decay, beta1_decay)
        g = _grad(item, theta, t)
        theta, g = _weight_decay(theta, g, a_t, weight_decay, decoupled)
        bc1 = 1 - beta1**t if bias_correction else 1.0
        bc2 = 1 - beta2**t if bias_correction else 1.0
        step_size = a_t * math.sqrt(bc2) / bc1
        final = final_lr * a_t / lr if lr > 0 else 0.0
        lower = final * (1 - 1 / (gamma * t + 1))
        upper = final * (1 + 1 / (gamma * t))
        for i in range(n):
            m[i] = b1_t * m[i] + (1 - b1_t) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            eta = min(max(step_size / (math.sqrt(v[i]) + eps), lower), upper)
            theta[i] -= eta * m[i]
        path.append(list(theta))
    return path, {"m": m, "v": v}


def radam(theta0, grads, lr, beta1, beta2, eps, weight_decay=0.0, decoupled=True,
          lr_decay="constant", beta1_decay=None, bias_correction=True, rectify_threshold=5.0):
    """RAdam as Liu et al.'s released code writes it (the SGD phase of its first radam.py and
    of Algorithm 2; later versions' degenerated_to_sgd=True):
    N_max = 2/(1 - b2) - 1, N_t = N_max - 2 t b2^t / (1 - b2^t); when N_t > threshold,
    theta -= a_t (rt / bc1) m / (sqrt(v) + eps) with
    rt = sqrt(bc2 (N_t - 4)/(N_max - 4) (N_t - 2)/N_t N_max/(N_max - 2)); else theta -= (a_t / bc1) m.
    The code tests N_t >= 5; torch.optim.RAdam N_t > 5 (the same except at equality). Decoupled
    weight decay by default, in both phases. Without bias correction bc1 = bc2 = 1."""
    theta = [float(x) for x in theta0]
    n = len(theta)
    m, v = [0.0] * n, [0.0] * n
    path = [list(theta)]
    n_max = 2 / (1 - beta2) - 1
    for t, item in enumerate(grads, start=1):
        a_t, b1_t = _schedule(lr, beta1, t, lr_decay, beta1_decay)
        g = _grad(item, theta, t)
        theta, g = _weight_decay(theta, g, a_t, weight_decay, decoupled)
        bc1 = 1 - beta1**t if bias_correction else 1.0
        bc2 = 1 - beta2**t if bias_correction else 1.0
        beta2_t = beta2**t
        n_t = n_max - 2 * t * beta2_t / (1 - beta2_t)
        rectified = n_t > rectify_threshold
        if rectified:
            rt = math.sqrt(bc2 * (n_t - 4) / (n_max - 4) * (n_t - 2) / n_t * n_max / (n_max - 2))
        for i in range(n):
            m[i] = b1_t * m[i] + (1 - b1_t) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            if rectified:
                theta[i] -= a_t * (rt / bc1) * m[i] / (math.sqrt(v[i]) + eps)
            else:
                theta[i] -= (a_t / bc1) * m[i]
        path.append(list(theta))
    return path, {"m": m, "v": v}


REFERENCE = {
    "sgdm": sgdm,
    "rmsprop": rmsprop,
    "adam": adam,
    "adamw": adamw,
    "amsgrad": amsgrad,
    "adabelief": adabelief,
    "adamomentum": adamomentum,
    "adamomentum-max": adamomentum_max,
    "yogi": yogi,
    "adabound": adabound,
    "radam": radam,
}

# The member-specific Hyper fields each loop takes as keyword arguments (same names as in Hyper).
EXTRA_HYPERS = {
    "yogi": ("initial_accumulator",),
    "adabound": ("final_lr", "gamma"),
    "radam": ("rectify_threshold",),
}
