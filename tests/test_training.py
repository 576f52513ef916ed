"""Real training (issue 12): data, flat-parameter training against torch optimizers, the noise tail
index on injected SaS noise, the Hessian eigenvalue routine, flatness invariance, the command."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from simulations.levy import symmetric_stable
from simulations.training import data, models, noise, sharpness, summary
from simulations.training.train import TrainConfig
from simulations.training.verdicts import ledger_rows
from theory.names import resolve
from theory.optim import AdaMomentum


def test_splits_are_deterministic_and_disjoint():
    a, b, c = data.load("digits", 0), data.load("digits", 0), data.load("digits", 1)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.y_train, c.y_train)
    assert a.sizes() == {"train": 1077, "validation": 360, "test": 360}
    rows = {r.tobytes() for r in np.concatenate([a.x_train, a.x_val, a.x_test])}
    assert len(rows) >= 1797 - 20  # digits has a few duplicate images; the splits are a partition of 1797 rows


@pytest.mark.slow  # generating MNIST-1D takes seconds
def test_mnist1d_split_sizes_and_determinism():
    m, n = data.load("mnist1d", 3), data.load("mnist1d", 3)
    assert m.sizes() == {"train": 3500, "validation": 500, "test": 1000} and m.x_train.shape[1] == 40
    assert np.array_equal(m.x_val, n.x_val)
    # what the cache folder hands back is the package's own generation, byte for byte
    for cached, fresh in zip(data._mnist1d_raw(), data._mnist1d_generate()):
        assert cached.dtype == fresh.dtype and cached.tobytes() == fresh.tobytes()


def test_mnist1d_is_generated_once_then_read_back_byte_for_byte(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    made = [rng.standard_normal((40, 5)).astype(np.float32), rng.integers(0, 10, 40),
            rng.standard_normal((10, 5)).astype(np.float32), rng.integers(0, 10, 10)]
    calls = []
    monkeypatch.setattr(data, "_mnist1d_generate", lambda: calls.append(1) or tuple(made))
    monkeypatch.setenv("AMLAB_CACHE", str(tmp_path / "cache"))

    def fresh_process():
        data._mnist1d_raw.cache_clear()
        return data._mnist1d_raw()

    try:
        first, second = fresh_process(), fresh_process()
        assert len(calls) == 1 and data.mnist1d_cache_file().parent == tmp_path / "cache"
        for a, b, c in zip(made, first, second):
            assert a.dtype == b.dtype == c.dtype and a.tobytes() == b.tobytes() == c.tobytes()
        assert [p.name for p in (tmp_path / "cache").iterdir()] == [data.mnist1d_cache_file().name]  # no temporary left
        data.mnist1d_cache_file().write_bytes(b"not an npz")  # a broken file is made again
        assert fresh_process()[0].tobytes() == made[0].tobytes() and len(calls) == 2
        assert fresh_process()[0].tobytes() == made[0].tobytes() and len(calls) == 2
        (tmp_path / "file").write_text("")
        monkeypatch.setenv("AMLAB_CACHE", str(tmp_path / "file"))  # a cache folder that cannot exist
        assert fresh_process()[3].tobytes() == made[3].tobytes() and len(calls) == 3
    finally:
        data._mnist1d_raw.cache_clear()  # the fake arrays must not outlive the test


@pytest.mark.parametrize("kwargs, match", [
    (dict(dataset="cifar"), "dataset must be one of"),
    (dict(model="rnn"), "model 'rnn' is not available"),
    (dict(dataset="digits", model="cnn"), "model 'cnn' is not available for dataset 'digits'"),
    (dict(seeds=0), "seeds must be an integer >= 1"),
    (dict(lrs=()), "lrs must be a non-empty list"),
    (dict(optimizers=("adam", "nosuch")), "unknown optimizer 'nosuch'"),
])
def test_config_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def _torch_vs_rule(rule_name, make_optimizer, steps=15):
    """Train one digits MLP run with the rule on flat params and with a torch optimizer on the module."""
    torch.manual_seed(0)
    fm = models.flat_model("digits", "mlp", torch.float64)
    split = data.load("digits", 0)
    x = torch.as_tensor(split.x_train[:256], dtype=torch.float64)
    y = torch.as_tensor(split.y_train[:256])
    flat = fm.initial(5, torch.float64)
    params = flat.clone()[None]
    rule = resolve(rule_name)
    from theory.family import Hyper

    hyper = Hyper(lr=torch.tensor([[3e-3]], dtype=torch.float64), eps=1e-8)
    state = rule.init(params, hyper)
    module = models.build("digits", "mlp").double()
    with torch.no_grad():
        for p, v in zip(module.parameters(), fm.unflatten(flat).values()):
            p.copy_(v)
    opt = make_optimizer(module.parameters())
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        idx = torch.randperm(256, generator=gen)[:32]
        rule.step(state, params, fm.grads(params, x[idx][None], y[idx][None]), hyper)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(module(x[idx]), y[idx]).backward()
        opt.step()
    torch_flat = torch.cat([p.detach().reshape(-1) for p in module.parameters()])
    return (params[0] - torch_flat).abs().max().item(), (params[0] - flat).abs().max().item()


def test_flat_training_matches_torch_adam_and_theory_adamomentum():
    err, moved = _torch_vs_rule("adam", lambda ps: torch.optim.Adam(ps, lr=3e-3, eps=1e-8))
    assert moved > 1e-3 and err < 1e-12
    err, moved = _torch_vs_rule("adamomentum", lambda ps: AdaMomentum(ps, lr=3e-3, eps=1e-8))
    assert moved > 1e-3 and err < 1e-12


def test_batched_runs_do_not_depend_on_their_neighbours():
    fm = models.flat_model("mnist1d", "mlp")
    gen = torch.Generator().manual_seed(0)
    p = torch.randn(5, fm.dim, generator=gen) * 0.05
    x, y = torch.randn(5, 32, 40, generator=gen), torch.randint(0, 10, (5, 32), generator=gen)
    assert torch.equal(fm.grads(p, x, y)[3], fm.grads(p[3:4], x[3:4], y[3:4])[0])


@pytest.mark.parametrize("alpha", [1.2, 1.5, 1.8])
def test_tail_index_recovers_sas_noise_injected_into_real_gradients(alpha):
    """Draws g + s * SaS(alpha), g a real (digits MLP) full-batch gradient, s per coordinate from |g|
    (so the scales differ); the standardized reading's 95% cluster-bootstrap interval must contain
    alpha (one seeded check per alpha; at 95% a correct interval misses 5% of seeds)."""
    fm = models.flat_model("digits", "mlp", torch.float64)
    split = data.load("digits", 0)
    x = torch.as_tensor(split.x_train[:500], dtype=torch.float64)
    y = torch.as_tensor(split.y_train[:500])
    params = fm.initial(0, torch.float64)[None]
    g = fm.shared_grads(params, x, y)[0]
    gen = torch.Generator().manual_seed(int(alpha * 10))
    coords = torch.randperm(fm.dim, generator=gen)[:1024]
    scale = g[coords].abs() + 1e-3
    draws = g[coords] + scale * symmetric_stable(alpha, (32, 1024), generator=gen, dtype=torch.float64)
    noise_draws = (draws - g[coords]).numpy()
    ci = noise.tail_index_ci(noise.standardize(noise_draws), n_boot=200, seed=0)
    assert ci["low"] <= alpha <= ci["high"], ci
    assert ci["high"] - ci["low"] < 0.6  # informative, not a check that cannot fail


def test_tail_index_reads_gaussian_as_two_and_symmetric():
    gen = np.random.default_rng(0)
    z = gen.standard_normal((32, 1024)) * np.exp(gen.standard_normal(1024))  # Gaussian, mixed scales
    ci = noise.tail_index_ci(noise.standardize(z), n_boot=200, seed=1)
    assert ci["low"] <= 2.0 <= ci["high"], ci
    assert abs(noise.tail_sign_balance(noise.standardize(z)) - 0.5) < 0.03  # 3.3k tail values: sd 0.009


def _tiny(seed=0):
    torch.manual_seed(seed)
    module = models.MLP(3, hidden=4, classes=2).double()
    fm = models.FlatModel(module)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(24, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 2, (24,), generator=gen)
    p = torch.stack([fm.initial(s, torch.float64) * 2 for s in (seed, seed + 1)])
    return fm, x, y, p


def test_lanczos_and_power_match_eigvalsh_of_the_full_hessian():
    fm, x, y, p = _tiny()
    hvp = sharpness.hvp_function(fm, x, y)
    top = sharpness.lanczos_top(hvp, p, iterations=fm.dim)
    pw = sharpness.power_top(hvp, p, iterations=150)
    for r in range(2):
        h = torch.func.hessian(fm.loss)(p[r], x, y)
        eig = torch.linalg.eigvalsh(h)
        assert abs(top[r].item() - eig[-1].item()) < 1e-10 * max(1.0, abs(eig[-1].item()))
        mags = eig.abs().sort().values
        dominant = eig[eig.abs().argmax()].item()
        bound = 2 * (mags[-2] / mags[-1]).item() ** 300  # Rayleigh quotient error after 150 iterations
        assert abs(pw[r].item() - dominant) <= max(bound, 1e-10) * abs(dominant) * 10
    few = sharpness.lanczos_top(hvp, p, iterations=12)  # Ritz values never exceed lambda_max
    assert torch.all(few <= top + 1e-10)


def test_relative_flatness_is_rescaling_invariant_and_lambda_max_is_not():
    fm, x, y, p = _tiny(3)
    p0 = p[0].clone()
    c = 4.0
    scaled = p0.clone()
    # relu(c z) = c relu(z) and the skip connection h + relu(fc2(h)): scaling layer 1 (weight and bias)
    # and layer 2's bias by c scales the features by c, which layer 3's weight / c undoes
    for name, sl in fm.layers.items():
        if name == "fc1":
            scaled[sl] *= c
        if name == "fc2":
            bias = slice(fm.weights[name].stop, sl.stop)
            scaled[bias] *= c
        if name == "fc3":
            scaled[fm.weights[name]] /= c
    assert torch.allclose(fm.logits(p0, x), fm.logits(scaled, x), atol=1e-12)
    h0, h1 = (torch.func.hessian(fm.loss)(q, x, y) for q in (p0, scaled))
    f0, f1 = (sharpness.exact_relative_flatness(h, q, fm.weights) for h, q in ((h0, p0), (h1, scaled)))
    assert abs(f0 - f1) < 1e-9 * abs(f0)
    l0, l1 = torch.linalg.eigvalsh(h0)[-1].item(), torch.linalg.eigvalsh(h1)[-1].item()
    assert abs(l0 - l1) > 0.05 * abs(l0)
    hvp = sharpness.hvp_function(fm, x, y)
    probes = 200
    est = sharpness.relative_flatness(hvp, p0[None], fm.weights, probes=probes, seed=0).item()
    # the estimate is the mean of v'Sv, S = (DH + HD) / 2 with D the weight norms on each layer's
    # weights (0 on biases); Var(v'Sv) = 2 (||S||_F^2 - sum S_ii^2) for Rademacher v
    d = torch.zeros(fm.dim, dtype=torch.float64)
    for sl in fm.weights.values():
        d[sl] = p0[sl].pow(2).sum()
    s_mat = (d[:, None] * h0 + h0 * d[None, :]) / 2
    var = 2 * (s_mat.pow(2).sum() - torch.diagonal(s_mat).pow(2).sum()).item()
    assert abs(est - f0) < 4 * math.sqrt(var / probes)  # 4 standard errors: > 99.99% (normal approximation)


def test_spearman_matches_scipy_and_handles_constant_input():
    from scipy import stats

    x, y = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1.2, 1.9, 3.5, 3.1, 6.0, 5.5]
    out = summary.spearman(x, y)
    assert math.isclose(out["rho"], stats.spearmanr(x, y).statistic, abs_tol=1e-12)
    assert out["low"] <= out["rho"] <= out["high"]
    assert summary.spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])["rho"] is None


# ---- the command ---------------------------------------------------------------------------------

ARGS = ["train", "--dataset", "digits", "--scale", "smoke", "--steps", "12", "--seeds", "2",
        "--lrs", "0.01,0.001", "--no-progress"]


def _main(argv):
    from simulations.cli import main

    return main(argv)


@pytest.mark.parametrize("extra, match", [
    (["--model", "cnn"], "cnn is for --dataset mnist1d only"),
    (["--seeds", "0"], "--seeds must be >= 1"),
])
def test_command_bad_input_fails_before_work(tmp_path, capsys, extra, match):
    with pytest.raises(SystemExit) as err:
        _main(ARGS + extra + ["--out", str(tmp_path / "o")])
    assert err.value.code == 2 and match in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_command_unknown_dataset_and_unwritable_out(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _main(["train", "--dataset", "cifar"])
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SystemExit) as err:
        _main(ARGS + ["--out", str(blocker / "sub")])
    assert err.value.code == 2 and "not writable" in capsys.readouterr().err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    assert _main(ARGS + ["--out", str(out)]) == 0
    return out


def test_command_writes_its_files(trained):
    record = json.loads((trained / "train.json").read_text())
    assert (trained / "train_digits_mlp.png").stat().st_size > 0
    tuning = list((trained / "units").glob("*__seed?.json"))
    refit = list((trained / "units").glob("*__seed?__refit.json"))
    assert len(tuning) == 2 * 2 * 2 and len(refit) == 2 * 2  # (optimizers, lrs, seeds); picked lr per optimizer
    case = record["results"]["cases"][0]
    assert set(case["per_optimizer"]) == {"adam", "adamomentum"}
    from simulations.training.experiment import ledger_rows
    from simulations.training.verdicts import CLAIMS

    claims = {row["claim"] for row in ledger_rows(record)}
    assert claims == {c["id"] for c in CLAIMS}
    from simulations.training.experiment import headline_table

    title, columns, rows = headline_table(record)
    assert len(rows) == 2 and all(len(r) == len(columns) for r in rows)


def _case(alpha_pooled, alpha_std, tail, lam_ratio=(0.5, 0.4, 0.6), rel_ratio=(0.5, 0.4, 0.6)):
    def stat(values):
        return {"per_seed": list(values)}

    noise = [{"step": st, "parts": {"overall": {"alpha_pooled": stat(alpha_pooled), "alpha_standardized": stat(alpha_std),
                                                "tail_positive": stat(tail)}}} for st in (0, 10)]
    ci = lambda e, lo, hi: {"estimate": e, "low": lo, "high": hi}  # noqa: E731
    return {"dataset": "digits", "model": "mlp", "subject": "adamomentum", "baseline": "adam",
            "per_optimizer": {o: {"noise": noise, "accuracy": {"test_acc": ci(0.9, 0.8, 1.0)}} for o in ("adam", "adamomentum")},
            "comparison": {"lambda_max_ratio": ci(*lam_ratio), "relative_flatness_ratio": ci(*rel_ratio),
                           "test_acc_difference": ci(0.0, -0.01, 0.01),
                           "spearman_lambda_gap": {"rho": None}},
            "escape": {"start": "adam seed 0", "lr": 0.01, "summary": {
                o: {"escaped": 0, "replicates": 4, "restricted_mean": ci(10, 10, 10), "threshold": 0.2, "loss0": 1e-4,
                    "horizon": 10} for o in ("adam", "adamomentum")} | {"difference": ci(0, 0, 0),
                                                                     "sign_test": {"positive": 0, "negative": 0,
                                                                                   "ties": 4, "p": 1.0}}}}


def test_verdict_rules_on_synthetic_cases():
    from simulations.training.verdicts import ledger_rows

    def verdicts(case):
        return {r["claim"]: r["verdict"] for r in ledger_rows({"config": {"scale": "quick"}, "results": {"cases": [case]}})}

    heavy = verdicts(_case([1.2, 1.3, 1.25], [1.4, 1.5, 1.45], [0.49, 0.51, 0.5]))
    assert heavy["sec3.2-sas-premise"] == "holds" and heavy["sec3.2-flatter-minima"] == "holds"
    assert heavy["sec3.2-generalize-better"] == "unchecked"  # the difference interval contains 0
    assert heavy["proposition-1-real-loss"] == "unchecked"  # nothing escaped
    gauss = verdicts(_case([1.2, 1.3, 1.25], [2.10, 2.11, 2.12], [0.49, 0.51, 0.5], lam_ratio=(0.5, 0.4, 0.6),
                           rel_ratio=(2.0, 1.5, 2.5)))
    assert gauss["sec3.2-sas-premise"] == "fails"  # standardized reads Gaussian: pooled alpha < 2 is a scale mixture
    assert gauss["sec3.2-flatter-minima"] == "unchecked"  # the two measures disagree
    assert verdicts(_case([1.2], [1.4], [0.5]))["sec3.2-sas-premise"] == "unchecked"  # one seed: no interval
    case = _case([1.2, 1.3, 1.25], [1.4, 1.5, 1.45], [0.49, 0.51, 0.5])
    summ = case["escape"]["summary"]
    summ["adam"]["escaped"] = 4
    from simulations.training.summary import sign_test

    summ["sign_test"] = sign_test([380.0] * 4)  # 4/4 longer: p = 0.125, a zero-width t interval must not decide
    assert summ["sign_test"]["p"] == 0.125 and verdicts(case)["proposition-1-real-loss"] == "unchecked"
    summ["sign_test"] = sign_test([380.0] * 8)
    assert verdicts(case)["proposition-1-real-loss"] == "holds"
    summ["sign_test"] = sign_test([-380.0] * 8)
    assert verdicts(case)["proposition-1-real-loss"] == "fails"
    summ["adam"]["loss0"] = 0.124  # a start that is not a minimum is outside Proposition 1: evidence only
    assert verdicts(case)["proposition-1-real-loss"] == "unchecked"


def test_resume_skips_finished_units_and_gives_the_same_record(trained, monkeypatch, capsys):
    before = json.loads((trained / "train.json").read_text())
    for path in list((trained / "units").glob("adam__lr0.001__seed1.*")):
        path.unlink()  # one unit lost: only it is retrained
    from simulations.training import experiment

    calls = []
    real = experiment.train_units
    monkeypatch.setattr(experiment, "train_units", lambda ctx, opt, units, progress: calls.append((opt, units))
                        or real(ctx, opt, units, progress))
    assert _main(ARGS + ["--out", str(trained), "--resume"]) == 0
    assert calls == [("adam", [(0.001, 1)])]
    after = json.loads((trained / "train.json").read_text())
    assert after["results"] == before["results"]
    assert "resumed 11 saved unit(s)" in capsys.readouterr().out  # 7 tuning + 4 refit units
    with pytest.raises(SystemExit):  # another configuration under the same folder is refused
        _main(ARGS[:-3] + ["--lrs", "0.02", "--no-progress", "--out", str(trained), "--resume"])


def test_noise_statistics_of_a_diverged_run_are_missing_not_an_error():
    stats = noise.noise_stats(np.full((4, 50), np.nan), {"fc1": slice(0, 50)}, np.arange(50), 64,
                              np.random.default_rng(0))
    assert all(v is None for part in stats.values() for v in part.values())
    assert summary.interval([None, "nan", 1.0])["n"] == 1


def test_the_ledger_carries_the_training_claims_verbatim():
    # proofs_check may not import an experiment, so it holds a copy of CLAIMS: the two must agree.
    from proofs_check.ledger import CLAIMS as LEDGER_CLAIMS
    from simulations.training.verdicts import CLAIMS

    by_id = {c["id"]: c for c in LEDGER_CLAIMS}
    assert all(by_id.get(c["id"]) == c for c in CLAIMS)


def test_gaussian_noise_at_few_draws_reads_below_two_and_the_premise_calibrates_for_it():
    # 16 draws: median standardization fattens the tails, so Gaussian noise reads well below 2 on average
    # (8 seeded matrices); the premise's boundary is that reading, so Gaussian noise cannot pass as alpha < 2.
    reference = noise.gaussian_reading((16, 1024), standardized=True)
    assert reference < 1.97, reference
    from simulations.training.verdicts import _gaussian_boundary, ledger_rows

    assert _gaussian_boundary({"gaussian_standardized": {"per_seed": [reference] * 2}}, "standardized") == reference
    assert _gaussian_boundary({}, "standardized") == 2.0
    case = _case([1.86, 1.87, 1.85], [1.86, 1.87, 1.85], [0.49, 0.51, 0.5])  # readings Gaussian noise gives
    rows = lambda c: {r["claim"]: r["verdict"] for r in ledger_rows({"config": {"scale": "quick"},  # noqa: E731
                                                                     "results": {"cases": [c]}})}
    assert rows(case)["sec3.2-sas-premise"] == "holds"  # against 2 itself they would pass as heavy-tailed
    for opt in case["per_optimizer"].values():
        for point in opt["noise"]:
            point["parts"]["overall"] |= {"gaussian_pooled": {"per_seed": [1.86] * 3},
                                          "gaussian_standardized": {"per_seed": [1.86] * 3}}
    assert rows(case)["sec3.2-sas-premise"] != "holds"  # against the Gaussian reading they do not


def test_refit_runs_train_on_train_plus_validation_and_read_test_curves():
    from simulations.training.train import Context, TrainConfig, train_units

    config = TrainConfig(optimizers=("adam",), lrs=(0.01,), seeds=1, steps=3, evals=1, noise_points=())
    tuning, final = Context(config), Context(config, refit=True)
    assert len(tuning.data["train"][1]) == 3500 and len(final.data["train"][1]) == 4000  # the benchmark's 4000
    assert "val" not in final.data
    (unit, _), = train_units(final, "adam", [(0.01, 0)])
    assert unit["key"].endswith("__refit") and set(unit["final"]) == {"train_loss", "train_acc", "test_loss", "test_acc"}
    assert summary.curve_bands([unit])["held_out"] == "test_acc"


def test_prediction_interval_covers_a_new_draw_at_its_level():
    from simulations.training.reference import prediction_interval

    rng = np.random.default_rng(0)
    reps, n = 4000, 5
    hits = 0
    for _ in range(reps):
        x = rng.normal(0.66, 0.015, n + 1)
        low, high = prediction_interval(x[:n])
        hits += low <= x[n] <= high
    # exact coverage 0.95 for normal data; 99.9% binomial bounds for 4000 replicates
    assert abs(hits / reps - 0.95) < 3.3 * math.sqrt(0.95 * 0.05 / reps)
    with pytest.raises(ValueError, match="at least 2"):
        prediction_interval([0.6])


def _reference_case(accs, steps=6000, refit=True, baseline="adam", model="mlp"):
    return {"dataset": "mnist1d", "model": model, "baseline": baseline, "config": {"steps": steps, "refit": refit},
            "per_optimizer": {baseline: {"per_seed": [{"test_acc": a} for a in accs]}}}


def test_the_benchmark_check_compares_one_published_run_with_one_run_here():
    from simulations.training.reference import check

    assert check(_reference_case([0.66, 0.67, 0.655, 0.675, 0.66]))["status"] == "within"
    assert check(_reference_case([0.62, 0.63, 0.625, 0.628, 0.622]))["status"] == "below"
    assert check(_reference_case([0.93, 0.94, 0.935, 0.95, 0.93], model="cnn"))["status"] == "within"
    for changes in ({"steps": 1000}, {"refit": False}, {"baseline": "sgdm"}):
        got = check(_reference_case([0.66, 0.67, 0.655], **changes))
        assert got["status"] == "not-comparable" and got["reason"]


def test_a_failed_benchmark_check_leaves_every_training_verdict_undecided():
    case = _case([1.2, 1.3, 1.25], [1.4, 1.5, 1.45], [0.49, 0.51, 0.5])
    record = {"config": {"scale": "full"}, "results": {"cases": [case]}}
    before = {r["claim"]: r["verdict"] for r in ledger_rows(record)}
    assert "holds" in before.values()
    case["reference"] = {"status": "below", "reason": "published 68% vs 62%"}
    rows = ledger_rows(record)
    assert all(r["verdict"] == "unchecked" and "does not reproduce the benchmark" in r["evidence"] for r in rows)
    assert {r["claim"]: r["details"]["verdict_before_reference_check"] for r in rows} == before
