"""Theorem 2's monitor, fed every step but reduced once per chunk of steps (same counts, same extremes).

:class:`theory.assumptions.Theorem2Monitor` reduces each step's tensors at once: about 25 small
ops a step, up to half of a nonconvex run's time. :class:`ChunkedTheorem2Monitor` keeps each step's
inputs (references to tensors the simulation does not modify afterwards) and reduces a chunk of
steps with the same comparisons on the stacked tensors: minima and maxima are exact, the counts are
integers and the first violating step is the first step of the chunk whose count is positive, so
every accumulator equals the per-step monitor's (``tests/test_fast_paths.py`` compares them).
Anything that reads the accumulators must call :meth:`flush` first (the simulation does, at its
grid points and at the end; :meth:`results`, :meth:`measured` and :meth:`rise_fractions` do too).
"""
from __future__ import annotations

import torch

from theory.assumptions import Theorem2Monitor

CHUNK_ELEMENTS = 2**22  # buffered step_size elements before a reduction (memory stays small)


class ChunkedTheorem2Monitor(Theorem2Monitor):
    def __init__(self, H: float, c, rtol: float = 1e-12, chunk: int = 64) -> None:
        super().__init__(H, c, rtol)
        if chunk < 1:
            raise ValueError(f"Invalid chunk: {chunk}; valid range: chunk >= 1")
        self.chunk = int(chunk)
        self._pending: list[tuple] = []

    def update(self, t: int, step_size, v, grad_norm, true_grad_norm, update_norm, beta1_t,
               H_t=None) -> None:
        step_size, v, grad_norm, true_grad_norm, update_norm, H_t = self._grouped(
            step_size, v, grad_norm, true_grad_norm, update_norm, H_t)
        b1 = torch.as_tensor(beta1_t, dtype=v.dtype, device=v.device).reshape(-1).expand(v.shape[0])
        self._pending.append((t, step_size, v, grad_norm, true_grad_norm, update_norm, b1, H_t))
        if len(self._pending) >= self.chunk or len(self._pending) * step_size.numel() >= CHUNK_ELEMENTS:
            self.flush()

    def _count_steps(self, name: str, ts: torch.Tensor, bad: torch.Tensor) -> torch.Tensor:
        """``bad`` (K, G, ...) for the steps ``ts`` (K,): the per-step monitor's _count, K times over."""
        n_bad = bad.flatten(2).sum(2)  # (K, G)
        self.viol[name] += n_bad.sum(0)
        self.checked[name] += bad[0, 0].numel() * bad.shape[0]
        hit = n_bad > 0
        first_here = torch.where(hit, ts.unsqueeze(1), torch.full_like(n_bad, 2**62)).amin(0)
        self.first[name] = torch.where((self.first[name] < 0) & hit.any(0), first_here, self.first[name])
        return n_bad

    def flush(self) -> None:
        """Reduce the pending steps into the accumulators."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        cols = list(zip(*pending))
        dev = cols[2][0].device
        ts = torch.tensor(cols[0], dtype=torch.int64, device=dev)
        step, v, grad_norm, true_grad_norm, update_norm, b1 = (torch.stack(c) for c in cols[1:7])
        a = self.acc
        a["min_v"] = torch.minimum(a["min_v"], v.flatten(2).amin(2).amin(0))
        a["max_v"] = torch.maximum(a["max_v"], v.flatten(2).amax(2).amax(0))
        a["max_grad"] = torch.maximum(a["max_grad"], grad_norm.amax(2).amax(0))
        a["max_true_grad"] = torch.maximum(a["max_true_grad"], true_grad_norm.amax(2).amax(0))
        a["max_update"] = torch.maximum(a["max_update"], update_norm.amax(2).amax(0))
        if cols[7][0] is None:
            H = H_col = self.H
        else:
            H = torch.stack(cols[7])
            H_col = H.unsqueeze(-1)
        self._count_steps("min-v", ts, v < self.c)
        self._count_steps("sqrt-v-bound", ts, v > H_col**2)
        self._count_steps("grad-bound", ts, grad_norm > H)
        self._count_steps("true-grad-bound", ts, true_grad_norm > H)
        prev = step[:-1] if self.prev_step is None else torch.cat([self.prev_step.unsqueeze(0), step[:-1]])
        cur, cur_ts = (step[1:], ts[1:]) if self.prev_step is None else (step, ts)
        if cur.shape[0]:
            rose = cur > prev * (1 + self.rtol)
            self.rise_count.extend(self._count_steps("stepsize-nonincreasing", cur_ts, rose).unbind(0))
        self.prev_step = step[-1].clone()
        prev_b1 = b1[:-1] if self.prev_beta1 is None else torch.cat([self.prev_beta1.unsqueeze(0), b1[:-1]])
        cur_b1, b1_ts = (b1[1:], ts[1:]) if self.prev_beta1 is None else (b1, ts)
        if cur_b1.shape[0]:
            self._count_steps("beta1-nonincreasing", b1_ts, (cur_b1 > prev_b1).unsqueeze(2))
        self.prev_beta1 = b1[-1].clone()

    def rise_fractions(self, group: int = 0) -> list:
        self.flush()
        return super().rise_fractions(group)

    def measured(self, group: int = 0) -> dict:
        self.flush()
        return super().measured(group)

    def results(self, group: int = 0) -> list:
        self.flush()
        return super().results(group)
