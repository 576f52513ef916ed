"""`python -m benchmarks --quick` runs every benchmark and writes benchmarks.json with its keys (no speed asserted)."""
import json
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks.__main__ import main as benchmarks_main

ROOT = Path(__file__).resolve().parents[1]


def test_quick_run_writes_the_table(tmp_path):
    out = tmp_path / "benchmarks.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(out.read_text())
    assert set(record) == {"meta", "rows"}
    assert record["meta"]["quick"] is True and record["meta"]["threads"] == 1
    assert {r["benchmark"] for r in record["rows"]} == {"regret", "nonconvex", "escape", "sampler", "optimizer"}
    keys = {"benchmark", "case", "measure", "value", "reference_name", "reference", "ratio", "target", "met"}
    for row in record["rows"]:
        assert keys <= set(row)
        assert row["value"] > 0 and row["reference"] > 0
        assert abs(row["ratio"] - row["value"] / row["reference"]) <= 1e-9 * row["ratio"] \
            or row["benchmark"] == "escape"  # escape's ratio is of rates, value / reference too
        assert (row["met"] is None) == (row["target"] is None)
    assert "ratio" in proc.stdout and "benchmark" in proc.stdout


def _sampler_process(torch_rate: float, scipy_rate: float, numpy_rate: float) -> dict:
    row = {"torch_Msps": torch_rate, "scipy_Msps": scipy_rate, "numpy_Msps": numpy_rate,
           "vs_scipy": torch_rate / scipy_rate, "vs_numpy": torch_rate / numpy_rate}
    return {"threads": 1, "samples": 20_000, "rounds": 1, "alpha=1.5,float64": row}


def test_the_sampler_rows_are_medians_over_fresh_processes(monkeypatch):
    # bench_sampler away from --quick: one `python -m benchmarks.sampler --json` per process, told the
    # thread count and scipy's 10000 samples per call; rates and ratios are medians over processes
    import benchmarks.__main__ as entry

    canned = iter([_sampler_process(100.0, 4.0, 50.0), _sampler_process(120.0, 8.0, 40.0),
                   _sampler_process(90.0, 4.5, 60.0)])
    commands = []

    def fake_run(command, **kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(command, 0, stdout=json.dumps(next(canned)), stderr="")

    monkeypatch.setattr(entry.subprocess, "run", fake_run)
    rows = entry.bench_sampler(False, "cpu", processes=3, sizes=(20_000, 1))
    assert len(commands) == 3 and all(c[1:3] == ["-m", "benchmarks.sampler"] for c in commands)
    argv = commands[0]
    assert argv[argv.index("--threads") + 1] == str(torch.get_num_threads())
    assert argv[argv.index("--scipy-samples") + 1] == "10000" and "--json" in argv
    scipy_row, numpy_row = rows
    assert scipy_row["value"] == numpy_row["value"] == 100.0  # median torch rate
    assert scipy_row["reference"] == 4.5 and numpy_row["reference"] == 50.0  # median reference rates
    assert scipy_row["ratio"] == 20.0 and scipy_row["ratio_range"] == [15.0, 25.0]  # 25, 15, 20: median 20
    assert scipy_row["met"] and not scipy_row["met_every_process"] and scipy_row["processes"] == 3
    assert numpy_row["ratio"] == 2.0 and numpy_row["ratio_range"] == [1.5, 3.0] and numpy_row["met_every_process"]


def test_a_failing_sampler_process_says_why(monkeypatch):
    import benchmarks.__main__ as entry

    monkeypatch.setattr(entry.subprocess, "run", lambda command, **kwargs: subprocess.CompletedProcess(
        command, 1, stdout="", stderr="Traceback ...\nValueError: boom"))
    with pytest.raises(RuntimeError, match="boom"):
        entry.bench_sampler(False, "cpu", processes=2, sizes=(20_000, 1))


def test_the_sampler_script_prints_json():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "benchmarks.sampler", "--samples", "20000", "--rounds", "1",
                           "--scipy-samples", "10000", "--json"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert {"alpha=1.0,float32", "alpha=1.5,float64"} <= set(result) and result["samples"] == 20_000
    assert all(r["vs_scipy"] > 0 for k, r in result.items() if isinstance(r, dict))


def _optimizer_process(ms: dict) -> dict:
    # optimizer_step.run()'s shape, the fields bench_optimizer reads
    return {"1000000x1000": {"ms_per_step": ms}}


def test_the_optimizer_rows_are_medians_over_fresh_processes(monkeypatch):
    # bench_optimizer on the CPU away from --quick: one `python -m benchmarks.optimizer_step --json` per
    # process; ms/step and ratios are medians over processes, the target row the lowest median ratio
    import benchmarks.__main__ as entry

    canned = iter([_optimizer_process({"adam fused=True": 4.0, "adamomentum foreach=True": 8.0,
                                       "adamomentum fused=True": 4.0}),
                   _optimizer_process({"adam fused=True": 5.0, "adamomentum foreach=True": 9.0,
                                       "adamomentum fused=True": 6.0}),
                   _optimizer_process({"adam fused=True": 4.0, "adamomentum foreach=True": 12.0,
                                       "adamomentum fused=True": 4.2})])
    commands = []

    def fake_run(command, **kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(command, 0, stdout=json.dumps(next(canned)), stderr="")

    monkeypatch.setattr(entry.subprocess, "run", fake_run)
    foreach, fused = entry.bench_optimizer(False, "cpu", processes=3)
    assert len(commands) == 3 and all(c[1:3] == ["-m", "benchmarks.optimizer_step"] for c in commands)
    argv = commands[0]
    assert argv[argv.index("--threads") + 1] == str(torch.get_num_threads()) and "--json" in argv
    assert argv[argv.index("--layouts") + 1] == "10000000x10,1000000x1000"
    assert fused["value"] == 4.2 and fused["reference"] == 4.0  # medians of ms/step
    assert fused["ratio"] == 1.05 and fused["ratio_range"] == [1.0, 1.2]  # 1.0, 1.2, 1.05
    assert fused["target"] == "<= 1.10" and fused["met"] and fused["met_every_process"] is False
    assert foreach["target"] is None and foreach["met"] is None and foreach["ratio"] == 2.0  # 2, 1.8, 3
    assert fused["processes"] == foreach["processes"] == 3


def test_the_optimizer_script_prints_json_and_refuses_bad_layouts():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "benchmarks.optimizer_step", "--rounds", "1", "--steps-per-round", "1", "--json"]
    proc = subprocess.run([*command, "--layouts", "2000x10"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)["2000x10"]
    assert {"adam fused=True", "adamomentum fused=True"} <= set(result["ms_per_step"])
    assert all(ms > 0 for ms in result["ms_per_step"].values())
    for bad in ("10x100", "ax10"):
        proc = subprocess.run([*command, "--layouts", bad], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 2 and "layout" in proc.stderr, proc.stderr


def test_bad_options_fail_early(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        benchmarks_main(["--only", "nope", "--out", str(tmp_path / "x.json")])
    assert stop.value.code == 2 and "--only" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        benchmarks_main(["--threads", "-1", "--out", str(tmp_path / "x.json")])
    assert "--threads" in capsys.readouterr().err


def test_cuda_absent_is_a_clear_failure(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert benchmarks_main(["--device", "cuda", "--out", str(tmp_path / "x.json")]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


DOCUMENTED_SCRIPT = re.compile(r"python (benchmarks/[A-Za-z_]+\.py)")


def test_every_documented_benchmark_script_exists():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    named = {m for page in pages for m in DOCUMENTED_SCRIPT.findall(page.read_text())}
    assert "benchmarks/floor.py" in named and "benchmarks/sampler.py" in named
    assert all((ROOT / script).is_file() for script in named), sorted(named)


def test_floor_runs_as_documented(tmp_path):
    # `python benchmarks/floor.py` (docs/performance.md), at one round; every figure it prints is positive
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "benchmarks/floor.py", "--rounds", "1"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "floor of the CMS operation count" in proc.stdout and proc.stdout.count("ns") >= 3
    for fn in ("Sin", "Tan", "Ln", "Exp"):
        assert f"float32  {fn}" in proc.stdout and f"float64  {fn}" in proc.stdout
