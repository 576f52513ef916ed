"""The intra-op thread policy: one thread on the CPU unless the user chose a count.

The simulations step small tensors (tens to thousands of elements), where a second intra-op thread
costs more in synchronisation than it gains (issue 13: ``OMP_NUM_THREADS=1`` made ``amlab verify``
1.15x and the test suite 1.11x faster on a quiet 2-core machine). A user's choice wins: the
``AMLAB_THREADS`` environment variable (a count >= 1), else ``OMP_NUM_THREADS`` (torch already
follows it; the policy then leaves torch alone). On a GPU the host threads matter little and the
policy changes nothing.
"""
from __future__ import annotations

import os

import torch

ENV = "AMLAB_THREADS"


def env_count(name: str) -> int | None:
    """The integer >= 1 in environment variable ``name`` (None when unset; ValueError when invalid)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"Invalid {name}={raw!r}; valid range: an integer >= 1") from None
    if value < 1:
        raise ValueError(f"Invalid {name}={raw!r}; valid range: an integer >= 1")
    return value


def thread_count(device: torch.device | str = "cpu") -> int | None:
    """The intra-op thread count the policy sets (None: leave torch's as it is)."""
    chosen = env_count(ENV)
    if chosen is not None:
        return chosen
    if env_count("OMP_NUM_THREADS") is not None:
        return None  # torch read it at start-up
    return 1 if torch.device(device).type == "cpu" else None


def apply_thread_policy(device: torch.device | str = "cpu") -> int:
    """Set torch's intra-op threads by the policy; returns the count in force afterwards."""
    count = thread_count(device)
    if count is not None and torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return torch.get_num_threads()
