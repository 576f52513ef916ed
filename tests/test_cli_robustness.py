"""The command line fails before working, tells input errors from bugs, stops cleanly and resumes (issue 14).

Each test reproduces a failure seen on the code before the fix: a toys figure that raised on an
interval bound one ulp below its estimate, internal errors reported as usage errors, an unwritable
``--out`` found only after the run, runs that could not fit in memory, a 100-hour run started
without a word, tracebacks on Ctrl-C and silence on SIGTERM, nothing resumable, ``--lr 0``
accepted, ``escape --preset all --paths N`` silently ignoring ``--paths``, result files 0600.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from simulations import checkpoints
from simulations.cli import build_parser, main
from simulations.commands import _common
from simulations.records import write_json_atomic, write_text_atomic

TIMING_KEYS = {"seconds", "wall_s", "timings_s", "path_steps_per_second"}
REPO = Path(__file__).resolve().parent.parent
OWN_COMMANDS = ("audit", "escape", "nonconvex", "regret", "report", "toys", "verify")


def _without_timing(obj):
    if isinstance(obj, dict):
        return {k: _without_timing(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [_without_timing(v) for v in obj]
    return obj


def _record(out: Path, name: str) -> dict:
    record = json.loads((out / name).read_text())
    record["config"].pop("out", None) if isinstance(record["config"], dict) else None
    return _without_timing(record)


def _exit_code(argv) -> int:
    with pytest.raises(SystemExit) as err:
        main(argv)
    return err.value.code


# ---- the README's toys example: an interval bound one ulp below the estimate ---------------------

def test_toys_figure_accepts_an_upper_bound_one_ulp_below_the_estimate(tmp_path):
    # 10 starts that all reach the optimum: the Wilson upper bound is 0.9999999999999999 < 1.0
    out = tmp_path / "toys"
    assert main(["toys", "--functions", "sphere", "--optimizers", "adam,adamomentum", "--starts", "1", "--seeds",
                 "10", "--steps", "300", "--skip-stepsize", "--device", "cpu", "--no-progress", "--out",
                 str(out)]) == 0
    reach = json.loads((out / "toys.json").read_text())["results"]["toys"]["functions"]["sphere"]["optimizers"]
    assert any(r["reach_proportion"]["high"] < r["reach_proportion"]["estimate"] for r in reach.values())
    assert (out / "toys_steps.png").stat().st_size > 0


# ---- usage errors vs internal errors -------------------------------------------------------------

def test_an_internal_value_error_is_not_reported_as_a_usage_error(tmp_path, monkeypatch, capsys):
    from simulations.regret import experiment

    def broken(*args, **kwargs):
        raise ValueError("an internal inconsistency")

    monkeypatch.setattr(experiment, "run", broken)
    code = main(["regret", "--steps", "100", "--device", "cpu", "--no-progress", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "internal error: ValueError: an internal inconsistency" in err and "Traceback" in err
    assert "error: an internal inconsistency" not in err.replace("internal error: ValueError: ", "")


def test_a_config_validation_error_is_a_usage_error(tmp_path, capsys):
    code = _exit_code(["escape", "--basin", "asymmetric", "--width", "0.25", "--paths", "10", "--max-steps", "10",
                       "--device", "cpu", "--no-progress", "--out", str(tmp_path / "e")])
    assert code == 2 and "width" in capsys.readouterr().err


# ---- --out is checked before any work ------------------------------------------------------------

@pytest.fixture
def no_work(monkeypatch):
    """Every experiment entry point the commands call fails the test if reached."""
    from simulations.escape import experiment as escape
    from simulations.nonconvex import experiment as nonconvex
    from simulations.regret import experiment as regret
    from simulations.toys import experiment as toys

    def reached(*args, **kwargs):
        raise AssertionError("work started before --out was checked")

    for module, name in ((regret, "run"), (regret, "run_search"), (escape, "run_single"), (escape, "run_named"),
                         (nonconvex, "run_config"), (nonconvex, "run_scale"), (toys, "run_experiment")):
        monkeypatch.setattr(module, name, reached)


@pytest.mark.parametrize("command", [["regret", "--steps", "100"], ["regret", "--search"],
                                     ["escape", "--paths", "10", "--max-steps", "10"],
                                     ["nonconvex", "--steps", "20", "--seeds", "2"],
                                     ["toys", "--functions", "sphere", "--starts", "1"],
                                     ["verify", "--experiments", ""], ["report", "--only", "toys"],
                                     ["audit", "--optimizer", "adam", "--only", "toys"]])
@pytest.mark.parametrize("where", ["file", "proc"])
def test_an_unwritable_out_is_refused_before_any_work(command, where, tmp_path, no_work, capsys):
    if where == "file":
        out = tmp_path / "a-file"
        out.write_text("keep me")
    else:
        out = Path("/proc/amlab-cannot-write-here")
    assert _exit_code(command + ["--device", "cpu", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "Traceback" not in err
    if where == "file":
        assert out.read_text() == "keep me"


def test_the_out_check_leaves_no_folder_behind_on_a_later_input_error(tmp_path):
    out = tmp_path / "a" / "b"
    assert _exit_code(["regret", "--steps", "5", "--out", str(out)]) == 2
    assert not (tmp_path / "a").exists()


# ---- memory and time estimated before the run ----------------------------------------------------

@pytest.mark.parametrize("command,option", [
    (["regret", "--seeds", "1e8"], "--seeds"),
    (["escape", "--paths", "1e9"], "--paths"),
    (["toys", "--starts", "100000"], "--starts"),
    (["nonconvex", "--problem", "mlp", "--seeds", "1e8"], "--seeds"),
])
def test_a_run_that_cannot_fit_in_memory_is_refused_with_the_estimate(command, option, tmp_path, monkeypatch,
                                                                       no_work, capsys):
    monkeypatch.setattr(_common, "available_memory_bytes", lambda: 16 * 2**30)  # a 16 GiB machine
    assert _exit_code(command + ["--device", "cpu", "--no-progress", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert option in err and "of memory" in err and "16 GiB is available" in err


def test_a_run_that_fits_is_not_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(_common, "available_memory_bytes", lambda: 16 * 2**30)
    _common.check_budget("regret", 2**30, "--seeds", 1.0, device="cpu")  # 1 GiB of 16: no error


def test_available_memory_is_read_or_unknown():
    value = _common.available_memory_bytes()
    assert value is None or value > 0


def test_a_long_run_says_its_time_estimate_before_it_starts(tmp_path, monkeypatch, capsys):
    from simulations.regret import experiment

    def stop(*args, **kwargs):
        raise KeyboardInterrupt  # the run would take days: stop it where it would start

    monkeypatch.setattr(experiment, "run", stop)
    assert main(["regret", "--steps", "1e9", "--seeds", "1000", "--device", "cpu", "--no-progress",
                 "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert "estimated run time about" in err and " h " in err  # tens of hours, said up front


# ---- options validated and named ----------------------------------------------------------------

@pytest.mark.parametrize("argv,option", [
    (["regret", "--lr", "0"], "--lr"), (["regret", "--lr", "-1"], "--lr"), (["regret", "--beta1", "1"], "--beta1"),
    (["regret", "--beta2", "1.5"], "--beta2"), (["escape", "--lr", "0"], "--lr"),
    (["nonconvex", "--lr", "0"], "--lr"), (["toys", "--lr", "0"], "--lr"),
    (["escape", "--preset", "all", "--paths", "0"], "--paths"),
    (["escape", "--preset", "all", "--paths", "100"], "--paths"),
    (["nonconvex", "--scale", "smoke", "--steps", "100"], "--steps"),
    (["regret", "--seeds", "0"], "--seeds"), (["regret", "--steps", "1.5"], "--steps"),
])
def test_bad_values_are_refused_naming_the_option(argv, option, tmp_path, no_work, capsys):
    assert _exit_code(argv + ["--device", "cpu", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    message = err.strip().splitlines()[-1]  # the "error:" line, after argparse's usage
    assert option in message and "Traceback" not in err
    assert "beta1" not in message or option == "--beta1"  # --lr 0 used to be blamed on beta1


def test_sizes_accept_scientific_notation():
    args = build_parser().parse_args(["regret", "--steps", "1e5", "--seeds", "2_000"])
    assert args.steps == 100_000 and args.seeds == 2000


# ---- one flag vocabulary ------------------------------------------------------------------------

def test_version(capsys):
    with pytest.raises(SystemExit) as err:
        main(["--version"])
    assert err.value.code == 0 and capsys.readouterr().out.startswith("amlab ")


def _sub_parsers():
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


@pytest.mark.parametrize("command", OWN_COMMANDS)
def test_every_command_has_progress_flags_and_help_on_every_option(command):
    sub = _sub_parsers()[command]
    flags = {s for a in sub._actions for s in a.option_strings}
    assert {"--progress", "--no-progress", "--out"} <= flags
    missing = [a.option_strings for a in sub._actions if a.option_strings and not a.help]
    assert not missing, f"options without help: {missing}"


@pytest.mark.parametrize("command", ["escape", "regret", "nonconvex", "toys", "audit", "report", "verify"])
def test_every_sized_command_takes_the_three_scales(command):
    args = build_parser().parse_args([command, "--scale", "smoke"] + (["--optimizer", "adam"] if command == "audit"
                                                                        else []))
    assert args.scale == "smoke"


def test_scale_shorthands_are_kept():
    parser = build_parser()
    assert parser.parse_args(["report", "--quick"]).scale == "quick"
    assert parser.parse_args(["report", "--full"]).scale == "full"
    assert parser.parse_args(["verify", "--full"]).scale == "full"
    assert parser.parse_args(["verify"]).scale == "quick"  # the CI scale ("ci" in issue 14)


def test_progress_defaults_to_whether_stderr_is_a_terminal(monkeypatch):
    args = build_parser().parse_args(["toys"])
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert _common.progress_enabled(args)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert not _common.progress_enabled(args)
    assert _common.progress_enabled(build_parser().parse_args(["toys", "--progress"]))


# ---- files are readable by others (umask honoured) ----------------------------------------------

@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600)])
def test_records_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        a = write_json_atomic(tmp_path / "a.json", {"x": 1})
        b = write_text_atomic(tmp_path / "b.md", "x")
    finally:
        os.umask(previous)
    assert a.stat().st_mode & 0o777 == mode and b.stat().st_mode & 0o777 == mode


# ---- verify writes only under --out --------------------------------------------------------------

def test_verify_writes_only_under_out_and_never_into_an_installed_package(tmp_path, monkeypatch, capsys):
    from proofs_check import ledger as L
    from simulations.commands import verify

    monkeypatch.setattr(L, "symbolic_rows", lambda **kw: [])
    monkeypatch.setattr(L, "RECORD_PATH", tmp_path / "recorded.json")
    docs = tmp_path / "docs" / "ledger.md"
    monkeypatch.setattr(verify, "DEFAULT_DOCS", docs)
    main(["verify", "--experiments", "", "--out", str(tmp_path / "out")])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["checkpoints", "ledger.json", "ledger.md"]
    assert not docs.exists()
    site = tmp_path / "lib" / "site-packages" / "docs" / "ledger.md"
    site.parent.mkdir(parents=True)
    (site.parent.parent / "pyproject.toml").write_text("")
    monkeypatch.setattr(verify, "DEFAULT_DOCS", site)
    assert _exit_code(["verify", "--experiments", "", "--write-docs", "--out", str(tmp_path / "o2")]) == 2
    assert "--write-docs" in capsys.readouterr().err and not site.exists()


# ---- checkpointed units: --resume gives the uninterrupted record ---------------------------------

def _drop_last_unit(folder: Path) -> None:
    units = sorted((p for p in folder.glob("*.json") if p.name != "manifest.json"), key=lambda p: p.stat().st_mtime)
    assert len(units) >= 2
    units[-1].unlink()


@pytest.mark.parametrize("name,argv,record,folder", [
    pytest.param("escape", ["escape", "--preset", "all", "--scale", "smoke"], "escape.json", "escape",
                 marks=pytest.mark.slow),
    ("escape-single", ["escape", "--optimizers", "adam,adamomentum", "--paths", "20", "--max-steps", "50",
                       "--dtype", "float64"], "escape.json", "escape"),
    ("toys", ["toys", "--functions", "sphere,beale", "--optimizers", "adam,adamomentum", "--starts", "2",
              "--steps", "40", "--skip-stepsize"], "toys.json", "toys"),
    pytest.param("toys-stepsize", ["toys", "--scale", "smoke", "--functions", "sphere"], "toys.json", "toys",
                 marks=pytest.mark.slow),
    pytest.param("nonconvex", ["nonconvex", "--scale", "smoke"], "nonconvex.json", "nonconvex",
                 marks=pytest.mark.slow),  # ~70 s: three smoke runs of every preset
    ("regret", ["regret", "--steps", "200", "--seeds", "2", "--optimizers", "adam,amsgrad"], "regret.json",
     "regret"),
])
def test_resume_from_checkpointed_units_gives_the_same_record(name, argv, record, folder, tmp_path):
    common = ["--device", "cpu", "--no-progress", "--seed", "3"]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert main(argv + common + ["--out", str(whole)]) == 0
    assert main(argv + common + ["--out", str(parts)]) == 0
    _drop_last_unit(parts / "checkpoints" / folder)  # as if stopped before the last unit finished
    (parts / record).unlink()
    assert main(argv + common + ["--out", str(parts), "--resume"]) == 0
    store = checkpoints.last_store()
    assert store.resumed >= 1 and store.saved == 1
    assert _record(parts, record) == _record(whole, record)


@pytest.mark.parametrize("argv,summary,folder", [
    (["report", "--scale", "smoke", "--only", "toys,escape"], "report.json", "report"),
    (["verify", "--scale", "smoke", "--experiments", "toys,escape"], "ledger.json", "verify"),
])
def test_report_and_verify_resume_from_finished_experiments(argv, summary, folder, tmp_path, monkeypatch):
    from proofs_check import ledger

    monkeypatch.setattr(ledger, "symbolic_rows", lambda **kw: [])  # the experiments are the units here
    common = ["--device", "cpu", "--no-progress"]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    main(argv + common + ["--out", str(whole)])
    main(argv + common + ["--out", str(parts)])
    _drop_last_unit(parts / "checkpoints" / folder)  # as if stopped before the last experiment finished
    main(argv + common + ["--out", str(parts), "--resume"])
    store = checkpoints.last_store()
    assert store.resumed == 1 and store.saved == 1

    def content(out):
        data = json.loads((out / summary).read_text())
        if isinstance(data, dict):  # report.json: the ledger and the rows; meta and timings differ by design
            data = {"ledger": data["ledger"], "rows": {k: v["rows"] for k, v in data["experiments"].items()}}
        return json.loads(json.dumps(_without_timing(data)).replace(str(whole), "OUT").replace(str(parts), "OUT"))
    assert content(parts) == content(whole)


def test_resume_refuses_checkpoints_of_another_configuration(tmp_path, capsys):
    base = ["regret", "--steps", "200", "--optimizers", "adam,amsgrad", "--device", "cpu", "--no-progress",
            "--out", str(tmp_path)]
    assert main(base) == 0
    assert _exit_code(base[:2] + ["300"] + base[3:] + ["--resume"]) == 2
    assert "different configuration" in capsys.readouterr().err


# ---- signals: one line, what was saved, how to resume, 130 / 143 ---------------------------------

# The child runs the command line with one change: the second unit's computation waits (up to two
# minutes) before it starts. The test signals once the first unit is on disk, so the signal always lands
# inside a unit that is not finished, however fast the units are; without the gate a quiet machine
# sometimes finished the whole run within the polling interval (exit 0 instead of 130).
_GATED_CLI = """
import sys, time
from simulations import checkpoints
from simulations.cli import main

_unit = checkpoints.UnitStore.unit

def gated_unit(self, key, compute):
    if self.folder is not None and self.saved == 1:
        def compute_after_the_signal(compute=compute):
            deadline = time.monotonic() + 120.0
            while time.monotonic() < deadline:
                time.sleep(0.01)
            return compute()
        return _unit(self, key, compute_after_the_signal)
    return _unit(self, key, compute)

checkpoints.UnitStore.unit = gated_unit
sys.exit(main(sys.argv[1:]))
"""


def _start(argv, out: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-c", _GATED_CLI, *argv, "--out", str(out)], cwd=str(REPO),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_unit(proc: subprocess.Popen, folder: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.name != "manifest.json" for p in folder.glob("*.json")):
            return
        if proc.poll() is not None:
            raise AssertionError(f"finished before a unit was seen: {proc.communicate()}")
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("no unit checkpointed in time")


def _interrupted_then_resumed(tmp_path, argv, sig, code):
    # Interrupted in a real process; resumed and rerun in-process under the command line's default dtype.
    out, whole = tmp_path / "run", tmp_path / "whole"
    proc = _start(argv, out)
    _wait_for_unit(proc, out / "checkpoints" / "regret")
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert "--resume" in last and "saved in" in last and str(out / "checkpoints" / "regret") in last
    assert not (out / "regret.json").exists()
    units_before = {p.name: p.stat().st_mtime_ns for p in (out / "checkpoints" / "regret").glob("*.json")
                    if p.name != "manifest.json"}
    assert len(units_before) == 1  # the gate held the second unit: the signal landed inside it
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)  # the command line's default (conftest makes it float64)
    try:
        assert main(argv + ["--out", str(out), "--resume"]) == 0
        assert main(argv + ["--out", str(whole)]) == 0
    finally:
        torch.set_default_dtype(previous)
    for name, mtime in units_before.items():  # the finished units were read back, not recomputed
        assert (out / "checkpoints" / "regret" / name).stat().st_mtime_ns == mtime
    assert _record(out, "regret.json") == _record(whole, "regret.json")


# The gate above makes the timing irrelevant, so the units can be short.
SIGNALLED_STEPS = "20000"


def test_sigint_stops_cleanly_and_resume_completes_the_same_record(tmp_path):
    _interrupted_then_resumed(tmp_path, ["regret", "--seeds", "2", "--steps", SIGNALLED_STEPS, "--optimizers",
                                         "adam,amsgrad,adamomentum", "--device", "cpu", "--no-progress"],
                              signal.SIGINT, 130)


def test_sigterm_stops_cleanly_with_exit_143(tmp_path):
    out = tmp_path / "run"
    proc = _start(["regret", "--steps", SIGNALLED_STEPS, "--device", "cpu", "--no-progress"], out)
    _wait_for_unit(proc, out / "checkpoints" / "regret")
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "Traceback" not in stderr
    assert "stopped by SIGTERM" in stderr and "--resume" in stderr


@pytest.mark.slow
def test_issue_14_regret_20_seeds_200000_steps_interrupted_and_resumed(tmp_path):
    _interrupted_then_resumed(tmp_path, ["regret", "--seeds", "20", "--steps", "200000", "--device", "cpu",
                                         "--no-progress"], signal.SIGINT, 130)


def test_every_option_of_every_command_has_help_that_states_its_default():
    import argparse

    from simulations.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    missing = []
    for name, sub in commands.items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not action.help:
                missing.append(f"{name} {action.option_strings or action.dest}: no help")
            elif (action.default not in (None, False, argparse.SUPPRESS) and not action.required
                  and "default" not in action.help.lower()):
                missing.append(f"{name} {action.option_strings}: default {action.default!r} not stated")
    assert not missing, missing
