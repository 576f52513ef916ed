"""Plain float64 reference loops, one per family member. Only the tests use them.

Written longhand from the papers and the torch.optim source, independently of the batched
implementation in :mod:`theory.family`, so that the two can be compared. Each function takes
a start point ``theta0`` (a list of floats), a list of gradient callables or vectors and the
hyperparameters as plain floats, and returns the list of iterates theta_0..theta_T plus the
final state as a dict of lists.

A gradient item may be a list of floats (a fixed sequence) or a callable ``g(theta, t)``.
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


REFERENCE = {
    "sgdm": sgdm,
    "rmsprop": rmsprop,
    "adam": adam,
    "adamw": adamw,
    "amsgrad": amsgrad,
    "adabelief": adabelief,
    "adamomentum": adamomentum,
    "adamomentum-max": adamomentum_max,
}
