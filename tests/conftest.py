"""Shared test configuration: float64 by default, a deterministic hypothesis profile for CI."""
import os
import sys
from pathlib import Path

import torch
from hypothesis import HealthCheck, settings

torch.set_default_dtype(torch.float64)
# One intra-op thread on the CPU, as the CLI does: two lose to one on these small tensors.
from simulations.threads import apply_thread_policy  # noqa: E402

apply_thread_policy("cpu")
# Experiments in this process (the default of --jobs): the tests' monkeypatches and caches apply, and
# pytest-xdist already spreads the tests over the cores. tests/test_report.py runs the pool itself.
os.environ["AMLAB_JOBS"] = "1"

# "ci" is derandomized so a CI failure reproduces exactly; "dev" explores more.
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# tests/plugins holds code written outside the package (a user's own optimizer file): importable
# by name, as `plugin_optim:PlainAdam`, without being part of any installed package.
sys.path.insert(0, str(Path(__file__).parent / "plugins"))
