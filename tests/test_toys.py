"""Toy problems of Section 5.1.1 / Appendix A: functions, batched runs vs float64 loops, statistics."""
import math

import numpy as np
import pytest
import torch

from simulations.cli import main
from simulations.toys import experiment, figures, problems, simulate, stepsize, summary, verdicts
from theory import reference
from theory.names import resolve

REFERENCE = {"sgdm": reference.sgdm, "rmsprop": reference.rmsprop, "adam": reference.adam,
             "adabelief": reference.adabelief, "adamomentum": reference.adamomentum}


@pytest.mark.parametrize("name", list(problems.FUNCTIONS))
def test_gradient_matches_autograd(name):
    function = problems.FUNCTIONS[name]
    gen = torch.Generator().manual_seed(3)
    x = (torch.rand(50, 2, generator=gen) * 6 - 3).requires_grad_(True)
    (auto,) = torch.autograd.grad(function.value(x).sum(), x)
    torch.testing.assert_close(function.gradient(x.detach()), auto, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(problems.FUNCTIONS))
def test_optimum_is_a_zero_minimum(name):
    function = problems.FUNCTIONS[name]
    opt = torch.tensor([function.optimum])
    assert abs(float(function.value(opt))) < 1e-12
    assert float(torch.linalg.vector_norm(function.gradient(opt))) < 1e-12
    gen = torch.Generator().manual_seed(1)
    around = opt + 0.01 * torch.randn(200, 2, generator=gen)
    assert bool((function.value(around) > 0).all())


def test_start_points_stratified_and_reproducible():
    config = experiment.ToyConfig(starts=4, seeds=3, seed=7)
    function = problems.FUNCTIONS["beale"]
    a = problems.start_points(function, config, "cpu", torch.float64)
    b = problems.start_points(function, config, "cpu", torch.float64)
    assert a.shape == (48, 2) and torch.equal(a, b)
    x_lo, x_hi, y_lo, y_hi = function.box
    cell = np.floor((a[:, 0].numpy() - x_lo) / (x_hi - x_lo) * 4) * 4 + np.floor((a[:, 1].numpy() - y_lo) / (y_hi - y_lo) * 4)
    counts = np.bincount(cell.astype(int), minlength=16)
    assert np.all(counts == 3)  # one start per cell per seed


@pytest.mark.parametrize("optimizer", experiment.TOY_OPTIMIZERS)
@pytest.mark.parametrize("name", list(problems.FUNCTIONS))
def test_batched_runs_match_float64_loops(optimizer, name):
    # short runs: on Ackley the big early adaptive steps are chaotic and amplify round-off (1e-16 -> 1e-9
    # within 10 steps), so a longer comparison would test chaos, not the implementation
    function = problems.FUNCTIONS[name]
    config = experiment.ToyConfig()
    starts = torch.tensor([[0.7, -1.1], [-1.9, 1.3], [0.2, 0.05]])
    hyper = config.hyper_for(function, optimizer)
    steps, radius = (6 if name == "ackley" else 12), 0.3
    sim = simulate.simulate(function, resolve(optimizer), starts, hyper, steps, radius, keep=torch.arange(3))
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
    function = problems.FUNCTIONS["beale"]
    hyper = experiment.ToyConfig().hyper_for(function, "sgdm")  # lr 0.1 heavy ball blows up on Beale
    sim = simulate.simulate(function, resolve("sgdm"), torch.tensor([[4.0, 4.0]]), hyper, 50, 0.05)
    assert sim["diverged"][0] and sim["hit"][0] == -1 and math.isinf(sim["final_distance"][0])


def test_compare_outcomes():
    steps = 100
    fast = np.array([5, 6, 7, 8, 9, 10])
    slow = fast + 20
    assert summary.compare(fast, slow, steps, 0.95)["outcome"] == "faster"
    assert summary.compare(slow, fast, steps, 0.95)["outcome"] == "slower"
    never = np.full(6, -1)
    tie = summary.compare(never, never, steps, 0.95)
    assert tie["outcome"] == "inconclusive" and tie["ties"] == 6 and tie["neither_reached"] == 6
    # a run that never reaches counts as the budget, so reaching beats not reaching
    assert summary.compare(fast, never, steps, 0.95)["outcome"] == "faster"
    assert summary.compare(never, fast, steps, 0.95)["outcome"] == "slower"


def test_claim_verdict_rules():
    res = lambda *v: {"functions": {str(i): {"verdict": x} for i, x in enumerate(v)}}
    assert verdicts.claim_verdict(res("fastest", "fastest")) == "holds"
    assert verdicts.claim_verdict(res("fastest", "not fastest")) == "fails"
    assert verdicts.claim_verdict(res("fastest", "inconclusive")) == "unchecked"
    assert verdicts.claim_verdict(res("no subject")) == "unchecked"
    assert verdicts.claim_verdict(res("fastest", "no competitor")) == "unchecked"


def test_subject_alone_is_no_competitor_and_duplicates_are_rejected():
    alone = experiment.run_toys(experiment.ToyConfig(functions=("sphere",), optimizers=("adamomentum",), steps=20, starts=2),
                          device="cpu")
    assert alone["functions"]["sphere"]["verdict"] == "no competitor"
    assert verdicts.claim_verdict(alone) == "unchecked"
    without = experiment.run_toys(experiment.ToyConfig(functions=("sphere",), optimizers=("adam",), steps=20, starts=2),
                            device="cpu")
    assert without["functions"]["sphere"]["verdict"] == "no subject"
    # with a competitor the same run gets a real verdict
    pair = experiment.run_toys(experiment.ToyConfig(functions=("sphere",), optimizers=("adam", "adamomentum"), steps=20,
                                        starts=2), device="cpu")
    assert pair["functions"]["sphere"]["verdict"] in {"fastest", "not fastest", "inconclusive"}
    with pytest.raises(ValueError, match="duplicate optimizer name"):
        experiment.ToyConfig(optimizers=("adam", "adamomentum", "adam"))
    with pytest.raises(ValueError, match="duplicate function name"):
        experiment.ToyConfig(functions=("sphere", "sphere"))


def test_noise_depends_on_seed_function_and_start_only():
    function = problems.FUNCTIONS["camel"]
    starts = torch.tensor([[0.7, -1.1], [-1.9, 1.3], [0.2, 0.05]], dtype=torch.float64)
    hyper = experiment.ToyConfig().hyper_for(function, "adam")
    run = (lambda s, idx, seed=0: simulate.simulate(function, resolve("adam"), s, hyper, 300, 0.05, grad_noise=0.5,
                                                    seed=seed, keep=torch.arange(s.shape[0]),
                                                    start_indices=idx)["paths"])
    base = run(starts, [0, 1, 2])
    # the same start index gets the same noise wherever it sits in the batch (chunk boundary crossed)
    np.testing.assert_array_equal(run(starts[[2, 0]], [2, 0]), base[[2, 0]])
    # another start index, seed or function: other noise (a wrong variant that reused one stream fails)
    assert not np.allclose(run(starts[[0]], [1]), base[[0]])
    assert not np.allclose(run(starts, [0, 1, 2], seed=1), base)
    s1, s2 = (simulate.noise_seed(0, name, 3) for name in ("camel", "sphere"))
    assert not np.array_equal(np.random.default_rng(s1).standard_normal(4), np.random.default_rng(s2).standard_normal(4))


def test_noisy_runs_are_paired_across_optimizers_and_orders():
    kw = dict(steps=40, starts=2, seeds=1, grad_noise=0.3)
    a = experiment.run_toys(experiment.ToyConfig(functions=("sphere", "beale"), optimizers=("adam", "adamomentum"), **kw), "cpu")
    b = experiment.run_toys(experiment.ToyConfig(functions=("beale", "sphere"), optimizers=("adamomentum", "rmsprop", "adam"),
                                     **kw), "cpu")
    for name in ("sphere", "beale"):
        for opt in ("adam", "adamomentum"):
            pa, pb = a["functions"][name]["optimizers"][opt], b["functions"][name]["optimizers"][opt]
            np.testing.assert_array_equal(pa["hit"], pb["hit"])
            np.testing.assert_array_equal(pa["showcase_path"], pb["showcase_path"])
    # paired: with noise, adam and adamw without weight decay are the same method, so they take identical
    # paths from every start only if they see the same noise there
    c = experiment.run_toys(experiment.ToyConfig(functions=("sphere",), optimizers=("adam", "adamw"), **kw), "cpu")
    res = c["functions"]["sphere"]["optimizers"]
    np.testing.assert_array_equal(res["adam"]["showcase_path"], res["adamw"]["showcase_path"])


def test_config_validation_names_the_parameter():
    with pytest.raises(ValueError, match="steps"):
        experiment.ToyConfig(steps=0)
    with pytest.raises(ValueError, match="toy function"):
        experiment.ToyConfig(functions=("rosenbrock",))
    with pytest.raises(ValueError, match="lr"):
        experiment.ToyConfig(lr=-1.0)


def test_experiment_rows_and_outputs(tmp_path):
    config = experiment.ToyConfig(steps=60, starts=2, seeds=2)
    small = stepsize.StepsizeConfig(peak_slopes=(1.0,), lrs=(0.03,), beta2s=(0.999,), plateau_steps=(100,),
                                    steps=800, showcase=(0.03, 0.999, 100))
    record = experiment.run_experiment(config, small, device="cpu")
    rows = experiment.ledger_rows(record)
    assert [r["claim"] for r in rows] == [verdicts.CLAIM, "sec3.1-area-A", "sec3.1-area-B", "sec3.1-area-C"]
    valid = {"proved", "holds", "fails", "assumption-violated", "unsatisfiable", "unchecked"}
    assert all(r["verdict"] in valid and r["evidence"] and r["method"] == "simulation" for r in rows)
    paths = figures.write_outputs(record, tmp_path)
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


# --- any Adam-type method: a torch optimizer and a class from a user's file, against a hand loop ---

PLUGINS = {"torch.optim:NAdam": torch.optim.NAdam}


def _plugin_class(name):
    import plugin_optim  # tests/plugins (conftest puts it on sys.path): a file outside the package
    return PLUGINS.get(name) or {"plugin_optim:PlainAdam": plugin_optim.PlainAdam}[name]


def _noise_rows(seed, function_name, start_index, steps):
    """The noise the experiment adds at steps 1..steps for one start (its chunk of 256 draws)."""
    assert steps <= 256
    gen = np.random.Generator(np.random.PCG64(simulate.noise_seed(seed, function_name, start_index)))
    return torch.as_tensor(gen.standard_normal((256, 2)))[:steps]


def _hand_path(name, function, start, lr, steps, sigma=0.0, noise=None):
    """The optimizer stepped by hand on one (2,) parameter: the path theta_0..theta_T."""
    p = torch.tensor(start, dtype=torch.float64)
    opt = _plugin_class(name)([p], lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    path = [p.detach().clone()]
    for t in range(1, steps + 1):
        g = function.gradient(p.detach())
        if noise is not None:
            g = g + sigma * noise[t - 1]
        p.grad = g
        opt.step()
        path.append(p.detach().clone())
    return torch.stack(path).numpy()


def _hand_hit(path, function, radius):
    inside = np.nonzero(np.linalg.norm(path - np.array(function.optimum), axis=1) <= radius)[0]
    return int(inside[0]) if inside.size else -1


@pytest.mark.parametrize("name", ["torch.optim:NAdam", "plugin_optim:PlainAdam"])
def test_plugin_optimizer_simulation_equals_hand_loop(name):
    function = problems.FUNCTIONS["camel"]
    rule = resolve(name)
    hyper = experiment.ToyConfig().hyper_for(function, rule)
    assert hyper.lr == function.adaptive_lr  # it keeps a second moment: Appendix A's adaptive lr
    starts = torch.tensor([[0.7, -1.1], [-1.9, 1.3], [0.2, 0.05]])
    steps, sigma, indices = 60, 0.3, [4, 0, 7]
    sim = simulate.simulate(function, rule, starts, hyper, steps, 0.1, grad_noise=sigma, seed=5,
                            keep=torch.arange(3), start_indices=indices)
    for i, index in enumerate(indices):
        hand = _hand_path(name, function, starts[i].tolist(), hyper.lr, steps, sigma,
                          _noise_rows(5, function.name, index, steps))
        np.testing.assert_allclose(sim["paths"][i], hand, rtol=1e-12, atol=0)
        assert sim["hit"][i] == _hand_hit(hand, function, 0.1)


def test_plugin_optimizers_through_the_command_equal_hand_loops(tmp_path, capsys):
    names = ["torch.optim:NAdam", "plugin_optim:PlainAdam"]
    steps, sigma, seed = 50, 0.2, 3
    assert main(["toys", "--functions", "sphere,camel", "--optimizers", ",".join(["adam", *names]),
                 "--subject", names[0], "--steps", str(steps), "--starts", "2", "--seeds", "1",
                 "--noise", str(sigma), "--seed", str(seed), "--skip-stepsize", "--out", str(tmp_path)]) == 0
    assert "sec5.1.1-toy-fastest:" in capsys.readouterr().out
    import json
    record = json.loads((tmp_path / "toys.json").read_text())
    toys_part = record["results"]["toys"]
    assert toys_part["subject"] == record["results"]["subject"] == names[0]
    assert "rule_notes" in toys_part
    for fname, res in toys_part["functions"].items():
        function = problems.FUNCTIONS[fname]
        assert set(res["comparisons"]) == {"adam", names[1]}  # the subject against every other method
        for name in names:
            out = res["optimizers"][name]
            assert out["lr"] == function.adaptive_lr
            hand = _hand_path(name, function, function.showcase_start, out["lr"], steps, sigma,
                              _noise_rows(seed, fname, simulate.SHOWCASE_INDEX, steps))
            np.testing.assert_allclose(np.array(out["showcase_path"], dtype=float), hand, rtol=1e-12, atol=0)
            hits = []
            for i, start in enumerate(res["starts"]):
                path = _hand_path(name, function, start, out["lr"], steps, sigma, _noise_rows(seed, fname, i, steps))
                hits.append(_hand_hit(path, function, 0.05))
            assert out["hit"] == hits
            capped = np.where(np.array(hits) >= 0, np.minimum(hits, steps), steps)
            assert out["restricted_mean_steps"]["estimate"] == pytest.approx(capped.mean(), rel=1e-12)
    row = experiment.ledger_rows(record)[0]
    assert row["claim"] == verdicts.CLAIM and row["evidence"].startswith(f"Subject {names[0]}: ")


def test_non_adaptive_rules_get_sgdm_lr_and_their_notes_are_recorded():
    camel = problems.FUNCTIONS["camel"]
    config = experiment.ToyConfig(functions=("camel",), optimizers=("adam", "torch.optim:SGD:momentum=0.9"),
                                  steps=5, starts=2, seeds=1)
    assert config.lr_for(camel, "torch.optim:SGD:momentum=0.9") == camel.sgdm_lr  # no second moment
    assert config.lr_for(camel, "sgdm") == camel.sgdm_lr and config.lr_for(camel, "adam") == camel.adaptive_lr
    results = experiment.run_toys(config, device="cpu")
    assert results["functions"]["camel"]["verdict"] == "no subject"
    notes = results["rule_notes"]
    assert set(notes) == {"torch.optim:SGD:momentum=0.9"} and any("betas" in n for n in notes[set(notes).pop()])


def test_subject_and_baseline_are_carried_and_validated():
    record = experiment.run_experiment(
        experiment.ToyConfig(functions=("sphere",), optimizers=("adam", "adamomentum", "rmsprop"), steps=20,
                             starts=2, subject="rmsprop"), None, device="cpu")
    assert record["results"]["subject"] == "rmsprop" and record["config"]["toys"]["subject"] == "rmsprop"
    assert set(record["results"]["toys"]["functions"]["sphere"]["comparisons"]) == {"adam", "adamomentum"}
    assert "rmsprop" in experiment.headline_table(record)[1]
    assert experiment.with_methods(experiment.TOY_OPTIMIZERS, "adamomentum", "adam") == experiment.TOY_OPTIMIZERS
    assert experiment.with_methods(("adam",), "torch.optim:NAdam", "adam") == ("adam", "torch.optim:NAdam")
    with pytest.raises(ValueError, match="subject"):
        experiment.ToyConfig(subject="no-such-method")
    with pytest.raises(ValueError, match="one subject"):
        experiment.run_experiment(experiment.ToyConfig(subject="adam"), stepsize.StepsizeConfig(), device="cpu")
    with pytest.raises(TypeError, match="resolve it first"):
        simulate.simulate(problems.FUNCTIONS["sphere"], "adam", torch.zeros(2, 2), experiment.ToyConfig().hyper_for(
            problems.FUNCTIONS["sphere"], "adam"), 1, 0.1)
