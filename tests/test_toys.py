"""Toy problems of Section 5.1.1 / Appendix A: functions, batched runs vs float64 loops, statistics."""
import math

import numpy as np
import pytest
import torch

from simulations import stepsize, toys
from simulations.cli import main
from theory import reference

REFERENCE = {"sgdm": reference.sgdm, "rmsprop": reference.rmsprop, "adam": reference.adam,
             "adabelief": reference.adabelief, "adamomentum": reference.adamomentum}


@pytest.mark.parametrize("name", list(toys.FUNCTIONS))
def test_gradient_matches_autograd(name):
    function = toys.FUNCTIONS[name]
    gen = torch.Generator().manual_seed(3)
    x = (torch.rand(50, 2, generator=gen) * 6 - 3).requires_grad_(True)
    (auto,) = torch.autograd.grad(function.value(x).sum(), x)
    torch.testing.assert_close(function.gradient(x.detach()), auto, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(toys.FUNCTIONS))
def test_optimum_is_a_zero_minimum(name):
    function = toys.FUNCTIONS[name]
    opt = torch.tensor([function.optimum])
    assert abs(float(function.value(opt))) < 1e-12
    assert float(torch.linalg.vector_norm(function.gradient(opt))) < 1e-12
    gen = torch.Generator().manual_seed(1)
    around = opt + 0.01 * torch.randn(200, 2, generator=gen)
    assert bool((function.value(around) > 0).all())


def test_start_points_stratified_and_reproducible():
    config = toys.ToyConfig(starts=4, seeds=3, seed=7)
    function = toys.FUNCTIONS["beale"]
    a = toys.start_points(function, config, "cpu", torch.float64)
    b = toys.start_points(function, config, "cpu", torch.float64)
    assert a.shape == (48, 2) and torch.equal(a, b)
    x_lo, x_hi, y_lo, y_hi = function.box
    cell = np.floor((a[:, 0].numpy() - x_lo) / (x_hi - x_lo) * 4) * 4 + np.floor((a[:, 1].numpy() - y_lo) / (y_hi - y_lo) * 4)
    counts = np.bincount(cell.astype(int), minlength=16)
    assert np.all(counts == 3)  # one start per cell per seed


@pytest.mark.parametrize("optimizer", toys.TOY_OPTIMIZERS)
@pytest.mark.parametrize("name", list(toys.FUNCTIONS))
def test_batched_runs_match_float64_loops(optimizer, name):
    # short runs: on Ackley the big early adaptive steps are chaotic and amplify round-off (1e-16 -> 1e-9
    # within 10 steps), so a longer comparison would test chaos, not the implementation
    function = toys.FUNCTIONS[name]
    config = toys.ToyConfig()
    starts = torch.tensor([[0.7, -1.1], [-1.9, 1.3], [0.2, 0.05]])
    hyper = config.hyper_for(function, optimizer)
    steps, radius = (6 if name == "ackley" else 12), 0.3
    sim = toys.simulate(function, optimizer, starts, hyper, steps, radius, keep=torch.arange(3))
    grad = (lambda theta, t: function.gradient(torch.tensor([theta])).squeeze(0).tolist())
    for i in range(3):
        path, _ = REFERENCE[optimizer](starts[i].tolist(), [grad] * steps, hyper.lr, hyper.beta1, hyper.beta2,
                                       hyper.eps)
        path = np.array(path)
        np.testing.assert_allclose(sim["paths"][i], path, rtol=1e-10, atol=1e-12)
        if not np.all(np.isfinite(path)):
            continue
        dist = np.linalg.norm(path - np.array(function.optimum), axis=1)
        inside = np.nonzero(dist <= radius)[0]
        assert sim["hit"][i] == (inside[0] if inside.size else -1)


def test_divergence_is_never_a_hit():
    function = toys.FUNCTIONS["beale"]
    hyper = toys.ToyConfig().hyper_for(function, "sgdm")  # lr 0.1 heavy ball blows up on Beale
    sim = toys.simulate(function, "sgdm", torch.tensor([[4.0, 4.0]]), hyper, 50, 0.05)
    assert sim["diverged"][0] and sim["hit"][0] == -1 and math.isinf(sim["final_distance"][0])


def test_compare_outcomes():
    steps = 100
    fast = np.array([5, 6, 7, 8, 9, 10])
    slow = fast + 20
    assert toys.compare(fast, slow, steps, 0.95)["outcome"] == "faster"
    assert toys.compare(slow, fast, steps, 0.95)["outcome"] == "slower"
    never = np.full(6, -1)
    tie = toys.compare(never, never, steps, 0.95)
    assert tie["outcome"] == "inconclusive" and tie["ties"] == 6 and tie["neither_reached"] == 6
    # a run that never reaches counts as the budget, so reaching beats not reaching
    assert toys.compare(fast, never, steps, 0.95)["outcome"] == "faster"
    assert toys.compare(never, fast, steps, 0.95)["outcome"] == "slower"


def test_claim_verdict_rules():
    res = lambda *v: {"functions": {str(i): {"verdict": x} for i, x in enumerate(v)}}
    assert toys.claim_verdict(res("fastest", "fastest")) == "holds"
    assert toys.claim_verdict(res("fastest", "not fastest")) == "fails"
    assert toys.claim_verdict(res("fastest", "inconclusive")) == "unchecked"
    assert toys.claim_verdict(res("no subject")) == "unchecked"
    assert toys.claim_verdict(res("fastest", "no competitor")) == "unchecked"


def test_subject_alone_is_no_competitor_and_duplicates_are_rejected():
    alone = toys.run_toys(toys.ToyConfig(functions=("sphere",), optimizers=("adamomentum",), steps=20, starts=2),
                          device="cpu")
    assert alone["functions"]["sphere"]["verdict"] == "no competitor"
    assert toys.claim_verdict(alone) == "unchecked"
    without = toys.run_toys(toys.ToyConfig(functions=("sphere",), optimizers=("adam",), steps=20, starts=2),
                            device="cpu")
    assert without["functions"]["sphere"]["verdict"] == "no subject"
    # with a competitor the same run gets a real verdict
    pair = toys.run_toys(toys.ToyConfig(functions=("sphere",), optimizers=("adam", "adamomentum"), steps=20,
                                        starts=2), device="cpu")
    assert pair["functions"]["sphere"]["verdict"] in {"fastest", "not fastest", "inconclusive"}
    with pytest.raises(ValueError, match="duplicate optimizer name"):
        toys.ToyConfig(optimizers=("adam", "adamomentum", "adam"))
    with pytest.raises(ValueError, match="duplicate function name"):
        toys.ToyConfig(functions=("sphere", "sphere"))


def test_noise_depends_on_seed_function_and_start_only():
    function = toys.FUNCTIONS["camel"]
    starts = torch.tensor([[0.7, -1.1], [-1.9, 1.3], [0.2, 0.05]], dtype=torch.float64)
    hyper = toys.ToyConfig().hyper_for(function, "adam")
    run = (lambda s, idx, seed=0: toys.simulate(function, "adam", s, hyper, 300, 0.05, grad_noise=0.5, seed=seed,
                                                keep=torch.arange(s.shape[0]), start_indices=idx)["paths"])
    base = run(starts, [0, 1, 2])
    # the same start index gets the same noise wherever it sits in the batch (chunk boundary crossed)
    np.testing.assert_array_equal(run(starts[[2, 0]], [2, 0]), base[[2, 0]])
    # another start index, seed or function: other noise (a wrong variant that reused one stream fails)
    assert not np.allclose(run(starts[[0]], [1]), base[[0]])
    assert not np.allclose(run(starts, [0, 1, 2], seed=1), base)
    s1, s2 = (toys.noise_seed(0, name, 3) for name in ("camel", "sphere"))
    assert not np.array_equal(np.random.default_rng(s1).standard_normal(4), np.random.default_rng(s2).standard_normal(4))


def test_noisy_runs_are_paired_across_optimizers_and_orders():
    kw = dict(steps=40, starts=2, seeds=1, grad_noise=0.3)
    a = toys.run_toys(toys.ToyConfig(functions=("sphere", "beale"), optimizers=("adam", "adamomentum"), **kw), "cpu")
    b = toys.run_toys(toys.ToyConfig(functions=("beale", "sphere"), optimizers=("adamomentum", "rmsprop", "adam"),
                                     **kw), "cpu")
    for name in ("sphere", "beale"):
        for opt in ("adam", "adamomentum"):
            pa, pb = a["functions"][name]["optimizers"][opt], b["functions"][name]["optimizers"][opt]
            np.testing.assert_array_equal(pa["hit"], pb["hit"])
            np.testing.assert_array_equal(pa["showcase_path"], pb["showcase_path"])
    # paired: with noise, adam and adamw without weight decay are the same method, so they take identical
    # paths from every start only if they see the same noise there
    c = toys.run_toys(toys.ToyConfig(functions=("sphere",), optimizers=("adam", "adamw"), **kw), "cpu")
    res = c["functions"]["sphere"]["optimizers"]
    np.testing.assert_array_equal(res["adam"]["showcase_path"], res["adamw"]["showcase_path"])


def test_config_validation_names_the_parameter():
    with pytest.raises(ValueError, match="steps"):
        toys.ToyConfig(steps=0)
    with pytest.raises(ValueError, match="toy function"):
        toys.ToyConfig(functions=("rosenbrock",))
    with pytest.raises(ValueError, match="lr"):
        toys.ToyConfig(lr=-1.0)


def test_experiment_rows_and_outputs(tmp_path):
    config = toys.ToyConfig(steps=60, starts=2, seeds=2)
    small = stepsize.StepsizeConfig(peak_slopes=(1.0,), lrs=(0.03,), beta2s=(0.999,), plateau_steps=(100,),
                                    steps=800, showcase=(0.03, 0.999, 100))
    record = toys.run_experiment(config, small, device="cpu")
    rows = toys.ledger_rows(record)
    assert [r["claim"] for r in rows] == [toys.CLAIM, "sec3.1-area-A", "sec3.1-area-B", "sec3.1-area-C"]
    verdicts = {"proved", "holds", "fails", "assumption-violated", "unsatisfiable", "unchecked"}
    assert all(r["verdict"] in verdicts and r["evidence"] and r["method"] == "simulation" for r in rows)
    from simulations.commands import toys as command
    paths = command.write_outputs(record, tmp_path)
    assert (tmp_path / "toys.json").exists()
    assert {p.name for p in paths} >= {"toys.json", "toys_steps.png", "stepsize_figure1.png", "toys_sphere.png"}
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)


def test_cli_runs_and_rejects_bad_input(tmp_path, capsys):
    out = tmp_path / "toys"
    assert main(["toys", "--functions", "sphere", "--optimizers", "adam,adamomentum", "--steps", "30",
                 "--starts", "2", "--skip-stepsize", "--out", str(out)]) == 0
    assert (out / "toys.json").exists() and (out / "toys_sphere.png").exists()
    with pytest.raises(SystemExit) as err:
        main(["toys", "--functions", "rosenbrock"])
    assert err.value.code == 2
    with pytest.raises(SystemExit) as err:
        main(["toys", "--steps", "0", "--out", str(out)])
    assert err.value.code == 2
    assert "steps" in capsys.readouterr().err
    with pytest.raises(SystemExit) as err:
        main(["toys", "--optimizers", "adam,adamomentum,adam", "--skip-stepsize", "--out", str(out)])
    assert err.value.code == 2
    assert "duplicate optimizer" in capsys.readouterr().err
    with pytest.raises(SystemExit) as err:
        main(["toys", "--functions", "sphere,sphere", "--out", str(out)])
    assert err.value.code == 2
    assert "duplicate toy function" in capsys.readouterr().err
    assert main(["toys", "--functions", "sphere", "--optimizers", "adamomentum", "--steps", "10", "--starts", "2",
                 "--skip-stepsize", "--out", str(out)]) == 0
    assert "sec5.1.1-toy-fastest: unchecked" in capsys.readouterr().out
    import json
    assert json.loads((out / "toys.json").read_text())["results"]["toys"]["functions"]["sphere"]["verdict"] == \
        "no competitor"
