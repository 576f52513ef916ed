"""The regret experiment drives any update rule: a torch optimizer it has never seen
(``torch.optim:NAdam``) and a class from a file outside the package (``plugin_optim:PlainAdam``)
give the numbers of the same optimizer stepped by hand; subject/baseline and the unchecked bound."""
import json
import math

import pytest
import torch

from simulations import cli
from simulations.records import make_record
from simulations.regret.experiment import (Preset, member_lists, presets, reddi_reproduction, run_preset, run_scale,
                                           search_members)
from simulations.regret.figures import file_stem
from simulations.regret.problems import ProblemConfig
from simulations.regret.search import counterexample_config, replay, search, _tests
from simulations.regret.simulate import OptimizerConfig, log_checkpoints, simulate
from simulations.regret.summary import summarise
from simulations.regret.verdicts import ledger_rows, theorem_members
from theory import family
from theory.names import resolve
from theory.rule import Rule

import plugin_optim  # tests/plugins, put on sys.path by conftest

SPECS = {"torch.optim:NAdam": torch.optim.NAdam, "plugin_optim:PlainAdam": plugin_optim.PlainAdam}


def _by_hand(cls, grads, lr, beta1, beta2, eps, radius=1.0):
    """``cls`` on one (d,) parameter, alpha_t = lr / sqrt(t), clipped to [-radius, radius] after each step.

    ``grads`` is a (steps, d) tensor (the problems here are linear: g_t does not depend on x_t).
    Returns the iterates x_1..x_T (x_1 = 0) and x_{T+1}.
    """
    p = torch.zeros(grads.shape[1], dtype=torch.float64)
    opt = cls([p], lr=lr, betas=(beta1, beta2), eps=eps)
    xs = []
    for t in range(1, grads.shape[0] + 1):
        xs.append(p.clone())
        opt.param_groups[0]["lr"] = lr / math.sqrt(t)
        p.grad = grads[t - 1].clone()
        opt.step()
        with torch.no_grad():
            p.clamp_(-radius, radius)
    return torch.stack(xs), p.clone()


def _close(got, want):
    got, want = torch.as_tensor(got, dtype=torch.float64), torch.as_tensor(want, dtype=torch.float64)
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-300), (got, want)


@pytest.mark.parametrize("spec", list(SPECS))
def test_simulate_with_a_foreign_optimizer_equals_it_stepped_by_hand(spec):
    """Stochastic sparse gradients, two optimizer settings (per-run lr and betas: two param groups),
    two seeds, projection onto [-1, 1]^3: every run equals the optimizer stepped by hand."""
    problem = ProblemConfig("box-linear", dim=3, prob=0.9, power=0.5, drift=0.3)
    opts = [OptimizerConfig(lr=0.3, beta1=0.9, beta2=0.99, eps=1e-8),
            OptimizerConfig(lr=0.8, beta1=0.5, beta2=0.9, eps=1e-6)]
    steps, seeds = 80, 2
    res = simulate(spec, [problem] * 2, opts, steps, seeds=seeds, seed=3, record_grads=True, checkpoints=[9, 80])
    grads = res.values["grads"]  # (steps, runs, d): the experiment's own gradient sequence
    bound_hit = False
    for run in range(res.runs):
        o = opts[run // seeds]
        xs, x_last = _by_hand(SPECS[spec], grads[:, run], o.lr, o.beta1, o.beta2, o.eps)
        bound_hit |= bool((xs.abs() == 1.0).any())
        _close(res.x_final[run], x_last)
        for c, T in enumerate(res.checkpoints):
            cum_loss = (grads[:T, run] * xs[:T]).sum()
            _close(res.values["cum_loss"][c, run], cum_loss)
            _close(res.values["regret"][c, run], cum_loss + grads[:T, run].sum(0).abs().sum())
    assert bound_hit  # the projection did bind somewhere
    assert res.member == spec and res.rule_notes and "bias_correction=False" in res.rule_notes[0]
    assert "rhs_total" not in res.values and spec in res.theorem1_unchecked
    s = summarise(res)[0]
    assert "theorem1" not in s and "without bias correction" in s["theorem1_unchecked"]
    assert s["rule_notes"] == res.rule_notes


def test_cli_runs_foreign_optimizers_and_their_numbers_equal_a_hand_loop(tmp_path, capsys):
    specs = ",".join(SPECS)
    code = cli.main(["regret", "--steps", "300", "--optimizers", specs, "--period", "7", "--big", "8", "--small",
                     "1", "--lr", "0.5", "--device", "cpu", "--no-progress", "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "Theorem 1 unchecked" in out
    record = json.loads((tmp_path / "regret.json").read_text())
    assert record["config"]["optimizers"] == list(SPECS)
    assert set(record["results"]["rule_notes"]) == set(SPECS)
    grads = torch.tensor([[8.0 if (t - 1) % 7 == 0 else -1.0] for t in range(1, 301)], dtype=torch.float64)
    summaries = record["results"]["summaries"]
    assert [s["member"] for s in summaries] == list(SPECS)
    for s in summaries:
        xs, x_last = _by_hand(SPECS[s["member"]], grads, 0.5, 0.9, 0.99, 1e-8)
        _close(s["x_final"], x_last)
        curve = [float((grads[:T] * xs[:T]).sum() + grads[:T].sum().abs()) for T in s["checkpoints"]]
        _close(s["regret_mean_curve"], curve)
        _close(s["regret"]["estimate"], curve[-1])
        assert s["checkpoints"] == log_checkpoints(300)
        assert "theorem1" not in s and s["rule_notes"] and s["theorem1_unchecked"]
    assert (tmp_path / "regret-cli-vs-sqrtT.png").stat().st_size > 0


class _FamilyCopy(Rule):
    """AdaMomentum written as a user's rule (no ``member``): it honours every setting, so the bound applies."""

    name = "my-adamomentum"

    def init(self, params, hyper):
        return family.init_state("adamomentum", params)

    def step(self, state, params, grad, hyper):
        family.step_("adamomentum", state, params, grad, hyper)

    def second_moment(self, state):
        return state.second_moment()


def test_a_users_rule_without_notes_gets_theorem1_checked_like_the_member():
    problem = ProblemConfig("box-linear", dim=2, prob=1.0, power=0.0, drift=0.0)
    opts = [OptimizerConfig(lr=0.3, beta1=0.01, beta2=0.1)]
    mine = simulate(_FamilyCopy(), [problem], opts, 300, seeds=3, beta1_decay=0.5)
    member = simulate("adamomentum", [problem], opts, 300, seeds=3, beta1_decay=0.5)
    assert mine.theorem1_unchecked is None and not mine.rule_notes
    assert set(mine.values) == set(member.values)
    for key, value in member.values.items():
        assert torch.equal(mine.values[key], value), key
    assert summarise(mine)[0]["theorem1"] == summarise(member)[0]["theorem1"]


def test_a_rule_without_second_moment_is_unchecked_not_a_crash():
    problem = ProblemConfig("periodic", period=5, big=5.0, small=1.0)
    res = simulate("torch.optim:SGD:momentum=0.9", [problem], [OptimizerConfig(lr=0.1)], 50)
    assert "second-moment" in res.theorem1_unchecked
    s = summarise(res)[0]
    assert "theorem1" not in s and "monitors" not in s and s["theorem1_unchecked"]


def test_default_member_lists_are_the_presets_of_before():
    reddi, theorem = member_lists()
    assert reddi == ("adam", "amsgrad", "adamomentum", "adamomentum-max")
    assert theorem == ("adamomentum", "adamomentum-max") == theorem_members()
    assert search_members("quick") == reddi
    assert search_members("full") == tuple(family.REGISTRY)
    other = member_lists("torch.optim:NAdam", "rmsprop")
    # another subject's theorem rows rest on its own runs only (not on adamomentum-max's)
    assert other == (("adam", "amsgrad", "rmsprop", "torch.optim:NAdam", "adamomentum-max"),
                     ("torch.optim:NAdam",))
    assert {p.name: p.members for p in presets("quick", "torch.optim:NAdam", "rmsprop")}["logistic"] == other[1]


def test_ledger_rows_for_a_foreign_subject_say_so_and_are_unchecked_with_the_reason():
    subject = "torch.optim:NAdam"
    problem = ProblemConfig("box-linear", dim=2, prob=1.0, power=0.0, drift=0.0)
    preset = Preset("tiny", problem, (subject, "adamomentum-max"), (OptimizerConfig(lr=0.3, beta1=0.01, beta2=0.1),),
                    300, 3, beta1_decay=0.5)
    summaries = run_preset(preset, device="cpu")
    record = make_record("regret", {"subject": subject, "baseline": "adam"},
                         {"summaries": summaries, "reddi": reddi_reproduction(summaries)})
    rows = {(r["claim"], r["details"]["member"]): r for r in ledger_rows(record)}
    assert set(rows) == ({(c, subject) for c in ("theorem-1", "corollary-1")}
                         | {("theorem-1", "statement-literal-diameter")})
    mine = rows[("theorem-1", subject)]
    assert mine["verdict"] == "unchecked"
    assert mine["evidence"].startswith(f"subject {subject}, no bias correction: 0 runs")
    assert "not evaluated" in mine["evidence"] and "bias correction" in mine["details"]["unchecked"][0]
    literal = rows[("theorem-1", "statement-literal-diameter")]
    assert literal["evidence"].startswith(f"subject {subject}: ")
    assert literal["verdict"] == "unchecked"  # no run of the subject met the hypotheses: nothing decided
    # the same record read for the default subject has the default rows (no adamomentum runs: unchecked)
    default = {(r["claim"], r["details"]["member"]) for r in ledger_rows(record, subject="adamomentum")}
    assert ("theorem-1", "adamomentum") in default


def test_run_scale_rejects_a_bad_subject_before_any_run():
    with pytest.raises(ValueError, match="unknown optimizer"):
        run_scale("quick", device="cpu", subject="no-such-method")
    with pytest.raises(ValueError, match="does not import"):
        run_scale("quick", device="cpu", baseline="no_such_module:Thing")


def test_search_and_replay_take_any_rule_name(tmp_path, capsys):
    spec = "torch.optim:NAdam:momentum_decay=0.004"
    result = search((spec,), configs_per_member=2, steps=200, confirm_factor=2, seeds=2, device="cpu")
    assert list(result["per_member"]) == [spec] and result["per_member"][spec]["tried"] == 2
    assert spec in result["rule_notes"]
    # a replayable file that stores the name (Reddi's 3-periodic problem, beta1 = 0)
    problem = ProblemConfig("periodic", period=3, big=3.0, small=1.0)
    opt = OptimizerConfig(lr=0.5, beta1=0.0, beta2=1 / (1 + 3.0**2))
    res = simulate(spec, [problem], [opt], 400, seeds=2, checkpoints=log_checkpoints(400, count=16))
    summary = summarise(res)[0]
    config = counterexample_config(summary, torch.device("cpu"), torch.float64, _tests(summary))
    assert config["member"] == spec and config["rule_notes"]
    assert replay(json.loads(json.dumps(config)), device="cpu")["numbers_match"]
    path = tmp_path / f"{file_stem(spec)}-000.json"
    path.write_text(json.dumps(config))
    cli.main(["regret", "--replay", str(path), "--device", "cpu", "--no-progress", "--out", str(tmp_path)])
    assert "numbers match at rtol 1e-09: True" in capsys.readouterr().out
    assert file_stem(spec) == "torch.optim_NAdam_momentum_decay_0.004"
    assert file_stem("adamomentum-max") == "adamomentum-max"


def test_replay_with_an_unknown_method_names_it(tmp_path, capsys):
    problem = ProblemConfig("periodic", period=3, big=3.0, small=1.0)
    res = simulate("adam", [problem], [OptimizerConfig(lr=0.5, beta1=0.0, beta2=0.1)], 200, seeds=2,
                   checkpoints=log_checkpoints(200, count=16))
    summary = summarise(res)[0]
    config = counterexample_config(summary, torch.device("cpu"), torch.float64, _tests(summary))
    config["member"] = "no_such_module:Opt"
    path = tmp_path / "cex.json"
    path.write_text(json.dumps(config))
    with pytest.raises(SystemExit) as err:
        cli.main(["regret", "--replay", str(path), "--device", "cpu", "--no-progress", "--out", str(tmp_path)])
    assert err.value.code == 2
    assert "'member'" in capsys.readouterr().err


def test_cli_search_takes_optimizers_names(tmp_path, monkeypatch):
    """--search over --optimizers (any names); without --optimizers, the scale's methods (checked cheaply)."""
    from simulations.regret import experiment

    seen = {}

    def fake_search(members, **kwargs):
        seen["members"] = tuple(members)
        return {"per_member": {resolve(m).name: {"tried": 0, "candidates": 0, "confirmed": 0} for m in members},
                "counterexamples": []}

    monkeypatch.setattr(experiment, "counterexample_search", fake_search)
    assert cli.main(["regret", "--search", "--optimizers", "torch.optim:NAdam,adam", "--device", "cpu",
                     "--no-progress", "--out", str(tmp_path)]) == 0
    assert seen["members"] == ("torch.optim:NAdam", "adam")
    assert cli.main(["regret", "--search", "--device", "cpu", "--no-progress", "--out", str(tmp_path)]) == 0
    assert seen["members"] == search_members("quick")
    record = json.loads((tmp_path / "regret-search.json").read_text())
    assert record["config"]["members"] == list(search_members("quick"))
