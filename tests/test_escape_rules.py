"""Any update rule through the escape experiment (issue 10): a torch optimizer the toolkit has never
seen (torch.optim:NAdam) and a class written outside the package (plugin_optim:PlainAdam) run through
``amlab escape --dynamics discrete`` and through ``simulate``, and give the numbers of the same
optimizer stepped by hand (one optimizer per path on a (dim,) parameter, the same gradients and
noise) to 1e-12 relative in float64. The family-only parts (the eq. (3) sde) refuse other rules
early; monitors that need a read-out a rule lacks report ``unchecked``; a rule without ``select``
runs uncompacted."""
import json

import numpy as np
import pytest
import torch

import plugin_optim
from simulations.escape.estimate import mean_escape_time
from simulations.escape.experiment import EscapeConfig, preset_configs, run_config, skipped_runs
from simulations.escape.problems import Basin
from simulations.escape.simulate import TableNoise, simulate
from simulations.levy import symmetric_stable
from simulations.runtime import generator
from theory.names import resolve
from theory.rule import FamilyRule

RTOL = 1e-12
PLUGINS = {"torch.optim:NAdam": torch.optim.NAdam, "plugin_optim:PlainAdam": plugin_optim.PlainAdam}
ASYM = Basin("asymmetric", (4.0,), (0.25, 1.0))
QUAD2 = Basin("quadratic", (4.0, 1.0), (0.25, 0.25))


def _by_hand(config: EscapeConfig, optimizer_class, noise_block):
    """Exit steps and the monitor's mean |m|^p of ``config.paths`` paths, each its own optimizer on a
    (dim,) float64 parameter, g = grad f(theta) + sigma xi. ``noise_block(alive_ids, block_start)``
    gives the noise of the alive paths for the next ``compact_every`` steps, shape (alive, block, dim)
    (the simulator draws per block for the rows alive at its start and compacts at block ends)."""
    n, block = config.paths, config.compact_every
    cl, cr = config.basin.tensors("cpu", torch.float64)
    right, left = config.basin.right, config.basin.left
    params = [torch.tensor(config.start_point, dtype=torch.float64) for _ in range(n)]
    opts = [optimizer_class([p], lr=config.lr, betas=(config.beta1, config.beta2), eps=config.eps,
                            weight_decay=0.0) for p in params]
    p_order = config.tail_index / 3.0
    exit_step, alive, moments, steps = [0] * n, list(range(n)), [], []
    for start in range(0, config.max_steps, block):
        xi = noise_block(alive, start)
        for j in range(min(block, config.max_steps - start)):
            k = start + j + 1
            for row, i in enumerate(alive):
                if exit_step[i]:
                    continue  # escaped inside this block: the simulator ignores its further values
                p = params[i]
                p.grad = torch.where(p > 0, cr, cl) * p + config.noise_scale * xi[row, j]
                opts[i].step()
                if not bool(((p < right) & (p > -left)).all()):
                    exit_step[i] = k
            if k % config.monitor_every == 0:
                live = [i for i in alive if not exit_step[i]]
                if live:
                    ms = torch.stack([opts[i].state[params[i]]["exp_avg"] for i in live])
                    moments.append((ms.abs() ** p_order).mean(0))
                    steps.append(k)
        alive = [i for i in alive if not exit_step[i]]
        if not alive:
            break
    return np.array(exit_step), steps, (torch.stack(moments).numpy() if moments else None)


def _fresh_blocks(config):
    """The simulator's FreshNoise sequence: one draw per block for the paths alive at its start."""
    gen = generator(config.seed, torch.device("cpu"))

    def block(alive, start):
        return symmetric_stable(config.tail_index, (len(alive), config.compact_every, config.basin.dim),
                                generator=gen, dtype=torch.float64)

    return block


def _table_blocks(config, table):
    def block(alive, start):
        return table[alive, start:start + config.compact_every]

    return block


@pytest.mark.parametrize("spec", list(PLUGINS))
def test_simulate_equals_the_optimizer_stepped_by_hand(spec):
    config = EscapeConfig(dynamics="discrete", optimizers=(spec,), basin=QUAD2, noise_scale=1.0, lr=0.01,
                          paths=12, max_steps=240, dtype="float64", compact_every=20, monitor_every=5)
    table = symmetric_stable(1.5, (12, 240, 2), generator=generator(3, torch.device("cpu")), dtype=torch.float64)
    sim = simulate(config, resolve(spec), noise=TableNoise(table))
    exits, steps, moments = _by_hand(config, PLUGINS[spec], _table_blocks(config, table))
    assert sim["label"] == spec
    assert sim["exit_step"].tolist() == exits.tolist()
    assert 0 < (exits > 0).sum() < len(exits)  # escapes and censored paths both exercised
    mon = sim["monitor"]
    assert mon["steps"].tolist() == steps
    np.testing.assert_allclose(mon["m_moment"], moments, rtol=RTOL, atol=0)
    # no effective_stepsize read-out: R and the direction term are missing, and said to be
    assert mon["negative"] is None and mon["r_mean"] is None and "effective_stepsize" in mon["missing"]


def test_cli_runs_unseen_optimizers_and_matches_the_hand_loop(tmp_path):
    from simulations.cli import main

    out = tmp_path / "esc"
    specs = list(PLUGINS)
    argv = ["escape", "--dynamics", "discrete", "--basin", "quadratic", "--width", "0.25", "--curvature", "4,1",
            "--noise-scale", "1", "--lr", "0.03", "--optimizers", ",".join(specs), "--subject", specs[0],
            "--baseline", specs[1], "--paths", "16", "--max-steps", "200", "--dtype", "float64",
            "--seed", "5", "--device", "cpu", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    record = json.loads((out / "escape.json").read_text())
    assert record["config"]["optimizers"] == specs and record["config"]["subject"] == specs[0]
    res = record["results"]
    assert "rule_notes" in res
    config = EscapeConfig(dynamics="discrete", optimizers=tuple(specs), basin=QUAD2, noise_scale=1.0, lr=0.03,
                          paths=16, max_steps=200, dtype="float64", seed=5)
    for spec in specs:
        exits, _, _ = _by_hand(config, PLUGINS[spec], _fresh_blocks(config))
        escaped = exits > 0
        if spec == "torch.optim:NAdam":
            assert 0 < escaped.sum() < len(exits)  # escapes over several blocks, and censored paths
        expected = mean_escape_time(np.where(escaped, exits * config.lr, config.horizon), escaped, config.horizon)
        got = res["results"][spec]["mean_escape_time"]
        assert got["escaped"] == expected["escaped"] and got["method"] == expected["method"]
        for key in ("estimate", "low", "high"):
            if expected[key] is None:
                assert got[key] is None
            else:
                assert got[key] == pytest.approx(expected[key], rel=RTOL, abs=0), (spec, key)
        for key in ("estimate", "low", "high"):
            assert got["restricted_mean"][key] == pytest.approx(expected["restricted_mean"][key], rel=RTOL, abs=0)
        checks = res["results"][spec]["assumptions"]
        assert checks["assumption-3-direction"]["verdict"] == "unchecked"
        assert "effective_stepsize" in checks["assumption-3-direction"]["reason"]
        assert checks["assumption-5"]["holds"] in (True, False)  # exp_avg is read out: A5 is checked
    ratio = res[f"ratio_{specs[0]}_over_{specs[1]}"]
    assert ratio is None or set(ratio) >= {"low", "high"}
    assert (out / "escape.png").stat().st_size > 0


def test_sde_needs_a_registry_member():
    with pytest.raises(ValueError, match="needs a registry member.*torch.optim:NAdam"):
        EscapeConfig(dynamics="sde", optimizers=("adam", "torch.optim:NAdam"))
    for name, field in (("yogi", "v_update"), ("adabound", "eps_mode|stepsize_clip"), ("radam", "eps_mode|rectify")):
        with pytest.raises(ValueError, match=f"{name}: ({field})=.*eq. \\(3\\)"):  # structure the sde lacks
            EscapeConfig(dynamics="sde", optimizers=(name,))
    EscapeConfig(dynamics="discrete", optimizers=("torch.optim:NAdam", "yogi"))  # any rule runs discrete


def test_cli_sde_with_a_torch_optimizer_exits_2(tmp_path, capsys):
    from simulations.cli import main

    with pytest.raises(SystemExit) as err:
        main(["escape", "--dynamics", "sde", "--optimizers", "torch.optim:NAdam", "--paths", "10",
              "--max-steps", "10", "--device", "cpu", "--out", str(tmp_path / "x"), "--no-progress"])
    assert err.value.code == 2
    assert "needs a registry member" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # failed before any work


class _NoSelect:
    """Adam as a user rule without ``select`` (nor effective_stepsize): the simulator cannot drop
    escaped rows, so it steps every row to the end; exits must not change."""

    name = "no-select-adam"

    def __init__(self):
        self._adam = FamilyRule("adam")

    def init(self, params, hyper):
        return self._adam.init(params, hyper)

    def step(self, state, params, grad, hyper):
        self._adam.step(state, params, grad, hyper)

    def first_moment(self, state):
        return state.m


def test_rule_without_select_runs_uncompacted():
    config = EscapeConfig(dynamics="discrete", optimizers=("adam",), basin=QUAD2, noise_scale=1.0, lr=0.05,
                          paths=16, max_steps=120, dtype="float64", compact_every=10, monitor_every=5)
    table = symmetric_stable(1.5, (16, 120, 2), generator=generator(4, torch.device("cpu")), dtype=torch.float64)
    a = simulate(config, "adam", noise=TableNoise(table))
    b = simulate(config, _NoSelect(), noise=TableNoise(table))
    assert np.array_equal(a["exit_step"], b["exit_step"]) and a["exit_step"].any()
    assert b["path_steps"] == 16 * b["steps_run"] > a["path_steps"]
    assert b["monitor"]["negative"] is None and b["monitor"]["m_moment"] is not None


def test_run_config_records_rule_notes_and_ratio_of_the_subject():
    config = EscapeConfig(dynamics="discrete", optimizers=("adam", "torch.optim:NAdam"), basin=ASYM,
                          noise_scale=1.0, lr=0.01, paths=10, max_steps=60, dtype="float64",
                          subject="torch.optim:NAdam", baseline="adam")
    out = run_config(config)
    assert "ratio_torch.optim:NAdam_over_adam" in out and "ratio_adamomentum_over_adam" not in out
    assert out["rule_notes"] == {}
    from theory.family import Hyper
    from theory.rule import notes

    assert notes(resolve("torch.optim:NAdam"), Hyper(bias_correction=False))  # what a note would say


def test_presets_for_a_non_member_subject_skip_the_sde_and_say_why():
    subject = "torch.optim:NAdam"
    assert preset_configs("lemma1", subject=subject) == []
    skipped = skipped_runs("prop1", subject=subject)
    assert sorted(skipped) == sorted(k for k, _ in preset_configs("prop1") if k.startswith("sde:"))
    assert all("needs a registry member" in r for r in skipped.values())
    runs = preset_configs("prop1", subject=subject)
    assert runs and all(c.dynamics == "discrete" and c.optimizers == ("adam", subject) for _, c in runs)


def test_ledger_rows_for_another_subject():
    """lemma-1 without sde runs is unchecked with the reason; rows name the subject; the direction
    condition of Assumption 3 cannot be formed for NAdam (no effective stepsize): unchecked."""
    from simulations.escape import experiment
    from simulations.escape.summary import summarise_preset
    from simulations.records import to_jsonable

    subject, baseline = "torch.optim:NAdam", "adam"
    results = {"lemma1": {"runs": [], "summary": {}, "skipped": skipped_runs("lemma1", subject=subject)}}
    runs = []
    for key, cfg in preset_configs("prop1", "quick", "cpu", subject=subject)[::2]:
        cfg = EscapeConfig(**{**{f: getattr(cfg, f) for f in cfg.__dataclass_fields__},
                              "paths": 20, "max_steps": 60, "warmup": 10})
        run = run_config(cfg)
        run["key"] = key
        runs.append(run)
    results["prop1"] = {"runs": runs, "summary": summarise_preset("prop1", runs, subject, baseline)}
    record = {"config": {"subject": subject, "baseline": baseline}, "results": to_jsonable(results)}
    rows = {r["claim"]: r for r in experiment.ledger_rows(record)}
    assert set(rows) == {"lemma-1", "proposition-1", "assumption-1", "assumption-3", "assumption-5"}
    assert rows["lemma-1"]["verdict"] == "unchecked" and "registry member" in rows["lemma-1"]["evidence"]
    assert rows["assumption-3"]["verdict"] in ("unchecked", "fails")
    if all(r["a3_betas"] for r in results["prop1"]["summary"]["table"]):
        assert "a3_unchecked" in results["prop1"]["summary"]["table"][0]
    for row in rows.values():
        assert row["evidence"].startswith(f"[subject {subject}, baseline {baseline}]")
        assert row["subject"] == subject
    assert rows["proposition-1"]["verdict"] == "unchecked"  # its hypotheses cannot be checked for NAdam
