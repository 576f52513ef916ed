"""The examples/ plug-in (a method written outside the package) through the toolkit.

CI installs it (``pip install ./examples/amlab-plugin-example``, in the README's test command), so
its entry points are real; elsewhere the folder is put on sys.path and the entry-point test skips.
"""
from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
import torch

from simulations.cli import main
from theory.family import Hyper
from theory.names import resolve
from theory.testing import assert_invariants, check_invariants

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "amlab-plugin-example"
sys.path.insert(0, str(EXAMPLE))

from amlab_plugin_example import LionRule, MomentumSignSGD  # noqa: E402


def _installed() -> bool:
    try:
        version("amlab-plugin-example")
        return True
    except PackageNotFoundError:
        return False


def test_lion_rule_equals_pytorch_optimizer_lion_step_for_step():
    """Independent code: pytorch-optimizer's Lion on one (dim,) parameter per run."""
    from pytorch_optimizer import Lion

    gen = torch.Generator().manual_seed(7)
    grads = torch.randn(25, 3, 4, generator=gen)
    theta0 = torch.randn(3, 4, generator=gen)
    hyper = Hyper(lr=0.01, beta1=0.9, beta2=0.99, weight_decay=0.1)
    rule, theta = LionRule(), theta0.clone()
    state = rule.init(theta, hyper)
    for g in grads:
        rule.step(state, theta, g, hyper)
    for run in range(3):
        p = theta0[run].clone().requires_grad_(True)
        opt = Lion([p], lr=0.01, betas=(0.9, 0.99), weight_decay=0.1, weight_decouple=True, foreach=False)
        for g in grads[:, run]:
            p.grad = g.clone()
            opt.step()
        torch.testing.assert_close(theta[run], p.detach(), rtol=1e-12, atol=1e-15)


def test_the_example_methods_pass_the_shipped_invariants():
    statuses = {r.name: r.status for r in assert_invariants(LionRule(), scale_invariant=True)}
    assert statuses["scale-invariant"] == "holds"  # sign updates ignore the gradient's scale
    assert statuses["coordinate-wise"] == statuses["odd-symmetry"] == "holds"
    statuses = {r.name: r.status for r in check_invariants(resolve("amlab_plugin_example:MomentumSignSGD"))}
    assert "fails" not in statuses.values()


def test_entry_points_name_the_installed_example():
    if not _installed():
        if os.environ.get("CI"):
            pytest.fail("CI installs examples/amlab-plugin-example (README test command); it is missing")
        pytest.skip("examples/amlab-plugin-example is not installed here")
    assert isinstance(resolve("lion-rule"), LionRule)
    assert resolve("momentum-sign-sgd").optimizer_class is MomentumSignSGD


def test_the_example_runs_through_regret_and_toys(tmp_path):
    names = "amlab_plugin_example:LionRule,amlab_plugin_example:MomentumSignSGD:momentum=0.5,adam"
    assert main(["regret", "--optimizers", names, "--steps", "300", "--device", "cpu", "--no-progress",
                 "--out", str(tmp_path / "regret")]) == 0
    assert (tmp_path / "regret" / "regret.json").exists()
    assert main(["toys", "--functions", "sphere", "--optimizers", names, "--starts", "2", "--seeds", "1",
                 "--steps", "50", "--skip-stepsize", "--device", "cpu", "--out", str(tmp_path / "toys")]) == 0
