"""Sharpness and flatness at the end of training, from Hessian-vector products (``torch.func``).

* ``lambda_max``: the largest eigenvalue of the full-batch training-loss Hessian, by Lanczos with
  full re-orthogonalisation (batched over runs) on HVPs ``jvp(grad(loss))``; :func:`power_top` is
  plain power iteration, for comparison.
* ``relative_flatness``: Petzka et al. (2021)'s trace form, sum over layers l of
  ||W_l||_F^2 Tr(d^2 L / dW_l^2), weights only (biases excluded), the traces by Hutchinson's
  estimator with Rademacher probes. Chosen because it is invariant to the layer-wise rescaling
  W_l -> c W_l, (b_l -> c b_l), W_{l+1} -> W_{l+1} / c that leaves a ReLU network's function
  unchanged and changes lambda_max arbitrarily (Dinh et al. 2017's objection to sharpness):
  ||c W||^2 scales by c^2 and the Hessian block by 1 / c^2.
"""
from __future__ import annotations

import torch
from torch.func import grad, jvp, vmap


def hvp_function(flat_model, x: torch.Tensor, y: torch.Tensor):
    """(params (runs, dim), v (runs, dim)) -> H(params) v per run, H of the loss on (x, y)."""
    g = grad(flat_model.loss)

    def one(p, v):
        return jvp(lambda q: g(q, x, y), (p,), (v,))[1]

    return vmap(one)


def lanczos_top(hvp, params: torch.Tensor, iterations: int = 20, seed: int = 0) -> torch.Tensor:
    """Largest Ritz value of each run's Hessian after ``iterations`` Lanczos steps ((runs,) tensor).

    A run whose Krylov space closes early (beta ~ 0: the space is invariant) stops there; its
    Ritz values are then exact eigenvalues."""
    runs, dim = params.shape
    k = min(int(iterations), dim)
    gen = torch.Generator(device=params.device).manual_seed(int(seed))
    q = torch.randn(runs, dim, generator=gen, device=params.device, dtype=params.dtype)
    q = q / q.norm(dim=1, keepdim=True)
    basis = torch.zeros(k, runs, dim, device=params.device, dtype=params.dtype)
    alphas = torch.zeros(runs, k, dtype=torch.float64, device=params.device)
    betas = torch.zeros(runs, k, dtype=torch.float64, device=params.device)
    length = torch.full((runs,), k, dtype=torch.int64)
    alive = torch.ones(runs, dtype=torch.bool, device=params.device)
    for j in range(k):
        basis[j] = q
        w = hvp(params, q)
        a = (w * q).sum(1)
        alphas[:, j] = a.double()
        for _ in range(2):  # full re-orthogonalisation, twice (Kahan's "twice is enough")
            w = w - torch.einsum("jr,jrd->rd", torch.einsum("rd,jrd->jr", w, basis[: j + 1]), basis[: j + 1])
        b = w.norm(dim=1)
        scale = alphas[:, : j + 1].abs().amax(1).clamp(min=1e-30).to(b.dtype)
        closing = alive & (b <= 1e-10 * scale)
        for r in torch.nonzero(closing).flatten().tolist():
            length[r] = j + 1
        alive &= ~closing
        betas[:, j] = b.double()
        q = torch.where(alive[:, None], w / b.clamp(min=1e-300)[:, None], torch.zeros_like(w))
    tops = []
    for r in range(runs):
        n = int(length[r])
        t = torch.diag(alphas[r, :n])
        if n > 1:
            off = betas[r, : n - 1]
            t = t + torch.diag(off, 1) + torch.diag(off, -1)
        tops.append(torch.linalg.eigvalsh(t)[-1])
    return torch.stack(tops)


def power_top(hvp, params: torch.Tensor, iterations: int = 100, seed: int = 0) -> torch.Tensor:
    """Power iteration: the Rayleigh quotient of the dominant (largest |eigenvalue|) direction."""
    gen = torch.Generator(device=params.device).manual_seed(int(seed))
    q = torch.randn(params.shape, generator=gen, device=params.device, dtype=params.dtype)
    q = q / q.norm(dim=1, keepdim=True)
    for _ in range(int(iterations)):
        w = hvp(params, q)
        q = w / w.norm(dim=1, keepdim=True).clamp(min=1e-300)
    return (hvp(params, q) * q).sum(1)


def layer_traces(hvp, params: torch.Tensor, slices: dict, probes: int = 10, seed: int = 0) -> dict:
    """Hutchinson estimates of Tr(H_ll) for each slice l (Rademacher probes; {name: (runs,)})."""
    gen = torch.Generator(device=params.device).manual_seed(int(seed))
    sums = {name: torch.zeros(params.shape[0], dtype=torch.float64, device=params.device) for name in slices}
    for _ in range(int(probes)):
        v = torch.randint(0, 2, params.shape, generator=gen, device=params.device).to(params.dtype) * 2 - 1
        hv = hvp(params, v)
        for name, sl in slices.items():
            sums[name] += (v[:, sl] * hv[:, sl]).sum(1).double()
    return {name: s / probes for name, s in sums.items()}


def relative_flatness_from_traces(params: torch.Tensor, slices: dict, traces: dict) -> torch.Tensor:
    """sum_l ||W_l||^2 Tr(H_ll) per run."""
    return sum(params[:, sl].double().pow(2).sum(1) * traces[name] for name, sl in slices.items())


def relative_flatness(hvp, params: torch.Tensor, weights: dict, probes: int = 10, seed: int = 0) -> torch.Tensor:
    return relative_flatness_from_traces(params, weights, layer_traces(hvp, params, weights, probes, seed))


def exact_relative_flatness(hessian: torch.Tensor, params: torch.Tensor, weights: dict) -> float:
    """The same measure from a full (dim, dim) Hessian of one run (for tests)."""
    return float(sum(params[sl].double().pow(2).sum() * torch.diagonal(hessian[sl, sl]).sum()
                     for sl in weights.values()))


def measure(flat_model, params: torch.Tensor, x: torch.Tensor, y: torch.Tensor, iterations: int,
            probes: int, seed: int = 0) -> dict:
    """{"lambda_max", "relative_flatness"} per run (lists) at ``params``, on the loss over (x, y)."""
    hvp = hvp_function(flat_model, x, y)
    top = lanczos_top(hvp, params, iterations, seed)
    flat = relative_flatness(hvp, params, flat_model.weights, probes, seed + 1)
    return {"lambda_max": top.cpu().tolist(), "relative_flatness": flat.cpu().tolist()}
