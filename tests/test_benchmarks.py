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


def test_the_sampler_rows_are_medians_over_fresh_processes():
    # bench_sampler away from --quick: each process runs `python -m benchmarks.sampler --json`; a row's
    # ratio is the median of the processes' ratios, within their range, and value / reference is it
    from benchmarks.__main__ import bench_sampler

    rows = bench_sampler(False, "cpu", processes=3, sizes=(20_000, 1))
    assert len(rows) == 8 and {r["reference_name"] for r in rows} == {"scipy levy_stable.rvs", "plain numpy CMS"}
    for row in rows:
        low, high = row["ratio_range"]
        assert row["processes"] == 3 and low <= row["ratio"] <= high
        assert abs(row["value"] / row["reference"] - row["ratio"]) <= 1e-9 * row["ratio"]
        target = 20.0 if row["reference_name"].startswith("scipy") else 1.0
        assert row["met"] == (row["ratio"] >= target) and row["met_every_process"] == (low >= target)


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
