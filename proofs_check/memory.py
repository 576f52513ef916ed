""""No additional memory cost" (Section 1): optimizer state of AdaMomentum vs torch's Adam.

Measured, not argued: both optimizers take one step on the same small model and we count the
tensors they keep in ``optimizer.state`` and their bytes, with and without amsgrad. Transient
memory inside ``step()`` is not measured (both are element-wise; the CPU allocator is not
instrumented here).
"""
from __future__ import annotations

import torch

from proofs_check.result import CheckResult
from theory.optim import AdaMomentum


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.Tanh(), torch.nn.Linear(128, 10)).float()


def state_footprint(optimizer: torch.optim.Optimizer) -> dict:
    """Number of state tensors and their total bytes, split into per-parameter buffers and scalars."""
    buffers = scalars = buffer_bytes = scalar_bytes = 0
    for state in optimizer.state.values():
        for value in state.values():
            if isinstance(value, torch.Tensor):
                size = value.numel() * value.element_size()
                if value.dim() == 0:
                    scalars, scalar_bytes = scalars + 1, scalar_bytes + size
                else:
                    buffers, buffer_bytes = buffers + 1, buffer_bytes + size
    return {"buffers": buffers, "scalars": scalars, "bytes": buffer_bytes, "scalar_bytes": scalar_bytes}


def measure(factory, amsgrad: bool, seed: int = 0) -> dict:
    model = _model(seed)
    optimizer = factory(model.parameters(), amsgrad)
    loss = model(torch.randn(8, 64, dtype=torch.float32)).square().mean()
    loss.backward()
    optimizer.step()
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    return {**state_footprint(optimizer), "param_bytes": params}


FACTORIES = {
    "adam": lambda params, amsgrad: torch.optim.Adam(params, lr=1e-3, amsgrad=amsgrad),
    "adamomentum": lambda params, amsgrad: AdaMomentum(params, lr=1e-3, amsgrad=amsgrad),
}


def check_memory_cost(factories: dict | None = None) -> CheckResult:
    """Per-parameter state bytes of AdaMomentum equal Adam's, with and without amsgrad (the step
    counters are scalars whose dtype follows each optimizer's convention; reported separately)."""
    factories = FACTORIES if factories is None else factories
    table = {f"{name}{'+amsgrad' if ams else ''}": measure(f, ams) for name, f in factories.items()
             for ams in (False, True)}
    same = all(table[f"adamomentum{s}"]["bytes"] == table[f"adam{s}"]["bytes"]
               and table[f"adamomentum{s}"]["buffers"] == table[f"adam{s}"]["buffers"] for s in ("", "+amsgrad"))
    text = "; ".join(f"{k}: {v['buffers']} buffers, {v['bytes']} B ({v['bytes'] / v['param_bytes']:.2f}x params)"
                     f" + {v['scalars']} step scalars ({v['scalar_bytes']} B)" for k, v in table.items())
    return CheckResult("memory-cost", "memory-cost", "holds" if same else "fails", "numeric",
                       f"Optimizer state after one step on a 64-128-10 float32 MLP: {text}. "
                       + ("Identical state to Adam (m and v per parameter; v_max with amsgrad)."
                          if same else "AdaMomentum keeps more state than Adam."),
                       details={"footprint": table})
