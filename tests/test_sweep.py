"""``amlab sweep``: spec checks before work, the process pool against a Dask LocalCluster, resume after
a real kill, the Parquet table read by pandas and DuckDB, failing points recorded."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from simulations.cli import main
from simulations.sweep import TABLE, TIMING_COLUMNS, Engine, build_spec, load_spec, point_id, read_table, run_sweep

# one pytest-xdist worker for the whole module: its module-scoped fixture is computed once (--dist loadgroup)
pytestmark = pytest.mark.xdist_group("sweep")

REPO = Path(__file__).resolve().parents[1]

# 2 x 2 x 2 small regret runs (2 seeds each: 16 rows); a few hundred steps keep each point well under a second.
GRID_TOML = """\
command = "regret"
[fixed]
problem = "periodic"
steps = 300
seeds = 2
device = "cpu"
[grid]
lr = [0.1, 0.5]
beta1 = [0.0, 0.9]
optimizers = ["adam", "adamomentum"]
"""

SORT = ["point_id", "member", "seed_index"]


def _spec_file(tmp_path: Path, text: str = GRID_TOML, name: str = "spec.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _comparable(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=list(TIMING_COLUMNS)).sort_values(SORT).reset_index(drop=True)


@pytest.fixture(scope="module")
def pool_table(tmp_path_factory) -> pd.DataFrame:
    """The 2 x 2 x 2 grid on the local process pool (2 spawned workers), run once for the module."""
    folder = tmp_path_factory.mktemp("sweep-pool")
    spec = load_spec(_spec_file(folder))
    summary = run_sweep(spec, folder / "out", Engine("pool", workers=2))
    assert len(summary["ran"]) == 8 and not summary["failed"] and not summary["skipped"]
    return read_table(folder / "out" / TABLE)


# ---------------------------------------------------------------- the spec, checked before any work


def test_spec_expands_the_grid_into_stable_points(tmp_path):
    spec = load_spec(_spec_file(tmp_path))
    assert len(spec.points) == 8
    first = spec.points[0]
    assert first.options == {"problem": "periodic", "steps": 300, "seeds": 2, "device": "cpu", "lr": 0.1,
                             "beta1": 0.0, "optimizers": "adam"}
    assert first.argv == ("regret", "--problem=periodic", "--steps=300", "--seeds=2", "--device=cpu", "--lr=0.1",
                          "--beta1=0.0", "--optimizers=adam")
    # The id hashes the sorted options: key order in the file does not matter, any value does.
    assert first.point_id == point_id("regret", dict(reversed(list(first.options.items()))))
    assert first.point_id != point_id("regret", {**first.options, "lr": 0.1000001})
    assert first.point_id == "b4cd3bd0badf"  # pinned: a changed hash would silently rerun every finished sweep
    assert spec.quiet_flags == ("--no-progress",)


def test_yaml_and_toml_give_the_same_points(tmp_path):
    yaml_text = ("command: regret\nfixed: {problem: periodic, steps: 300, seeds: 2, device: cpu}\n"
                 "grid: {lr: [0.1, 0.5], beta1: [0.0, 0.9], optimizers: [adam, adamomentum]}\n")
    toml = load_spec(_spec_file(tmp_path))
    yaml = load_spec(_spec_file(tmp_path, yaml_text, "spec.yaml"))
    assert [p.point_id for p in yaml.points] == [p.point_id for p in toml.points]


def test_hyphenated_keys_lists_and_switches_become_argv():
    spec = build_spec({"command": "escape", "fixed": {"max-steps": 50, "curvature": [4.0, 1.0]},
                       "grid": {"tail_index": [1.5], "start": [[0.1, -0.1]]}})
    assert spec.points[0].argv == ("escape", "--max-steps=50", "--curvature=4.0,1.0", "--tail-index=1.5",
                                   "--start=0.1,-0.1")
    flags = build_spec({"command": "regret", "grid": {"bias_correction": [True, False]}})
    assert [p.argv for p in flags.points] == [("regret", "--bias-correction"), ("regret",)]


@pytest.mark.parametrize("data, message", [
    ({"command": "regrett", "grid": {"lr": [0.1]}}, "command must be one of"),
    ({"command": "report", "grid": {"scale": ["quick"]}}, "makes no table rows"),
    ({"command": "regret", "grid": {"lr2": [0.1]}}, "grid.lr2: `amlab regret` has no option --lr2; did you mean 'lr'"),
    ({"command": "regret", "fixed": {"stepz": 10}, "grid": {"lr": [0.1]}}, "fixed.stepz"),
    ({"command": "regret", "grid": {"lr": [0.1, "fast"]}}, "argument --lr: "),
    ({"command": "regret", "grid": {"problem": ["periodic", "circle"]}}, "argument --problem: invalid choice"),
    ({"command": "regret", "grid": {"optimizers": ["adam", "adamx"]}}, "argument --optimizers"),
    ({"command": "regret", "grid": {}}, "grid is empty"),
    ({"command": "regret"}, "grid is empty"),
    ({"command": "regret", "grid": {"lr": []}}, "grid.lr must be a non-empty list"),
    ({"command": "regret", "grid": {"lr": 0.1}}, "grid.lr must be a non-empty list"),
    ({"command": "regret", "fixed": {"lr": 0.1}, "grid": {"lr": [0.2]}}, "lr appear in both fixed and grid"),
    ({"command": "regret", "fixed": {"out": "x"}, "grid": {"lr": [0.1]}}, "fixed.out: the sweep sets --out"),
    ({"command": "regret", "fixed": {"no_progress": True}, "grid": {"lr": [0.1]}}, "sets --no-progress"),
    ({"command": "regret", "fixed": {"search": True}, "grid": {"lr": [0.1]}}, "fixed.search"),
    ({"command": "escape", "grid": {"preset": ["quadratic"]}}, "grid.preset"),
    ({"command": "regret", "fixed": {"dense": "yes"}, "grid": {"lr": [0.1]}}, "fixed.dense: --dense is a switch"),
    ({"command": "regret", "fixed": {"lr": {"a": 1}}, "grid": {"beta1": [0.1]}}, "fixed.lr: expected a number"),
    ({"command": "regret", "grid": {"lr": [0.1, 0.1]}}, "repeats a point"),
    ({"command": "regret", "grid": {"lr": [0.1]}, "grids": {}}, "unknown key(s) 'grids'"),
])
def test_bad_specs_fail_up_front_naming_the_key(data, message):
    with pytest.raises(ValueError) as err:
        build_spec(data)
    assert message in str(err.value)


def test_bad_spec_files(tmp_path):
    with pytest.raises(ValueError, match="expected a .toml, .yaml or .yml file"):
        load_spec(_spec_file(tmp_path, GRID_TOML, "spec.json"))
    with pytest.raises(ValueError, match="no such file"):
        load_spec(tmp_path / "missing.toml")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_spec(_spec_file(tmp_path, "command = regret\n"))
    with pytest.raises(ValueError, match="expected a mapping"):
        load_spec(_spec_file(tmp_path, "- regret\n", "spec.yaml"))


def test_cli_reports_a_spec_error_before_any_work(tmp_path, capsys):
    spec = _spec_file(tmp_path, GRID_TOML.replace("beta1 = ", "beta_1 = "))
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stop:
        main(["sweep", str(spec), "--out", str(out), "--workers", "1"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "grid.beta_1: `amlab regret` has no option --beta-1" in err and "did you mean 'beta1'" in err
    assert not out.exists()
    with pytest.raises(SystemExit):
        main(["sweep", str(_spec_file(tmp_path)), "--out", str(out), "--workers", "0"])
    assert "--workers must be >= 1" in capsys.readouterr().err


def test_dry_run_counts_points_and_runs_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(_spec_file(tmp_path)), "--out", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "8 points of `amlab regret`, 0 already in" in text and text.count(" todo ") == 8
    assert not (out / TABLE).exists()


# ---------------------------------------------------------------- running: pool, LocalCluster, resume


def test_pool_table_has_one_row_per_point_optimizer_seed(pool_table):
    table = pool_table
    assert len(table) == 16 and table["point_id"].nunique() == 8 and (table["status"] == "ok").all()
    assert set(table.columns) >= {"lr", "beta1", "optimizers", "steps", "seeds", "member", "seed_index",
                                  "regret_final", "regret_over_sqrt_T", "bound_ratio_max", "avg_regret_final"}
    assert (table["member"] == table["optimizers"]).all()
    # Identities of the row: R_T/sqrt(T) and R_T/T agree with R_T (to rounding).
    assert ((table["regret_over_sqrt_T"] * 300 ** 0.5 - table["regret_final"]).abs()
            <= 1e-12 * table["regret_final"].abs()).all()
    assert ((table["avg_regret_final"] * 300 - table["regret_final"]).abs() <= 1e-9).all()
    # Independent check: with beta1 = 0, AdaMomentum's v is an EMA of m^2 = g^2, i.e. Adam's (eq. (2)),
    # so the two optimizers give the same regret to rounding; with beta1 = 0.9 they differ.
    for beta1, same in ((0.0, True), (0.9, False)):
        rows = table[table["beta1"] == beta1].sort_values(["lr", "seed_index"])
        adam = rows[rows["member"] == "adam"]["regret_final"].to_numpy()
        adamomentum = rows[rows["member"] == "adamomentum"]["regret_final"].to_numpy()
        assert (abs(adam - adamomentum) <= 1e-9 * abs(adam)).all() == same


def test_local_cluster_gives_the_pool_table(tmp_path, pool_table):
    spec = load_spec(_spec_file(tmp_path))
    summary = run_sweep(spec, tmp_path / "out", Engine("local-cluster", workers=2))
    assert len(summary["ran"]) == 8 and not summary["failed"]
    cluster = read_table(tmp_path / "out" / TABLE)
    pd.testing.assert_frame_equal(_comparable(cluster), _comparable(pool_table), check_exact=True)
    assert cluster["pid"].nunique() <= 2


def test_killed_sweep_resumes_only_the_missing_points(tmp_path, pool_table):
    spec_path = _spec_file(tmp_path)
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "simulations.cli", "sweep", str(spec_path), "--out", str(out),
                             "--workers", "1", "--no-progress"], cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            table = read_table(out / TABLE) if (out / TABLE).exists() else None
            if table is not None and table["point_id"].nunique() >= 2:
                break
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker: a real, unannounced kill
        proc.wait()
    before = set(read_table(out / TABLE)["point_id"])
    spec = load_spec(spec_path)
    everything = {p.point_id for p in spec.points}
    assert 2 <= len(before) < 8, "the kill came too late to leave points missing"
    summary = run_sweep(spec, out, Engine("inline"))  # inline: the same task code, without a second spawn
    assert set(summary["ran"]) == everything - before and len(summary["ran"]) == len(set(summary["ran"]))
    assert set(summary["skipped"]) == before
    resumed = read_table(out / TABLE)
    pd.testing.assert_frame_equal(_comparable(resumed), _comparable(pool_table), check_exact=True)
    third = run_sweep(spec, out, Engine("inline"))
    assert third["ran"] == [] and len(third["skipped"]) == 8  # nothing left to do


def test_pandas_and_duckdb_read_the_table(tmp_path, pool_table):
    import duckdb

    path = tmp_path / TABLE
    pool_table.to_parquet(path)  # a copy, so this test reads a file it did not write through our helper
    by_pandas = pd.read_parquet(path)
    con = duckdb.connect()
    rows = con.execute("SELECT member, beta1, avg(regret_final) AS r FROM read_parquet(?) "
                       "GROUP BY member, beta1 ORDER BY member, beta1", [str(path)]).fetchall()
    expected = by_pandas.groupby(["member", "beta1"])["regret_final"].mean()
    assert [(m, b) for m, b, _ in rows] == list(expected.index)
    assert all(abs(r - expected[(m, b)]) <= 1e-9 * abs(r) for m, b, r in rows)
    original = pool_table.sort_values(SORT).reset_index(drop=True)
    assert con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0] == len(original)


def test_the_sweeps_own_table_reads_back_in_duckdb(pool_table, tmp_path):
    import duckdb

    from simulations.sweep import append_rows

    path = tmp_path / TABLE
    half = pool_table.iloc[:8].to_dict("records")
    append_rows(path, half)
    append_rows(path, pool_table.iloc[8:].to_dict("records"))
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    count, points = duckdb.connect().execute("SELECT count(*), count(DISTINCT point_id) FROM read_parquet(?)",
                                             [str(path)]).fetchone()
    assert (count, points) == (16, 8)
    pd.testing.assert_frame_equal(_comparable(pd.read_parquet(path)), _comparable(pool_table))


def test_a_failing_point_is_recorded_and_the_others_run(tmp_path):
    spec = build_spec({"command": "regret", "fixed": {"seeds": 1, "device": "cpu", "optimizers": "adam"},
                       "grid": {"steps": [5, 20]}})  # --steps 5 is refused by amlab regret (needs >= 10)
    out = tmp_path / "out"
    summary = run_sweep(spec, out, Engine("inline"))
    assert len(summary["ran"]) == 2 and len(summary["failed"]) == 1
    table = read_table(out / TABLE)
    bad = table[table["steps"] == 5]
    assert list(bad["status"]) == ["failed"] and "--steps must be >= 10" in bad["error"].iloc[0]
    good = table[table["steps"] == 20]
    assert list(good["status"]) == ["ok"] and good["regret_final"].notna().all()
    # A rerun retries the failed point only (and replaces its row).
    again = run_sweep(spec, out, Engine("inline"))
    assert again["ran"] == summary["failed"] and len(read_table(out / TABLE)) == 2


def test_another_commands_sweep_in_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    run_sweep(build_spec({"command": "regret", "fixed": {"steps": 5}, "grid": {"seeds": [1]}}), out,
              Engine("inline"))
    with pytest.raises(ValueError, match="holds a sweep of `amlab regret`"):
        run_sweep(build_spec({"command": "toys", "grid": {"steps": [5]}}), out, Engine("inline"))


@pytest.mark.parametrize("data, rows, columns", [
    ({"command": "escape", "fixed": {"paths": 40, "max_steps": 100, "device": "cpu"}, "grid": {"tail_index": [1.5]}},
     2, {"member", "exit_time_mean", "exit_time_mean_low", "exit_time_restricted_mean", "fraction_escaped",
         "exit_time_predicted", "assumption_1_holds"}),
    ({"command": "nonconvex", "fixed": {"steps": 40, "seeds": 2, "device": "cpu"},
      "grid": {"optimizers": ["adam,adamomentum"]}},
     2, {"member", "min_grad_sq", "min_grad_sq_low", "rhs_theorem2_final", "bound_ratio", "verdict_theorem2"}),
    ({"command": "toys", "fixed": {"functions": "sphere", "starts": 2, "seeds": 1, "steps": 20, "skip_stepsize": True,
                                   "device": "cpu"}, "grid": {"optimizers": ["adam,adamomentum"]}},
     2, {"function", "member", "reach_proportion", "restricted_mean_steps", "outcome_vs_subject", "claim_verdict"}),
    pytest.param({"command": "train", "fixed": {"scale": "smoke", "steps": 5, "seeds": 1, "lrs": [0.01],
                                                "device": "cpu"}, "grid": {"optimizers": ["adam,adamomentum"]}},
                 2, {"member", "seed_index", "test_acc", "lambda_max", "test_acc_mean", "escape_restricted_mean"},
                 marks=pytest.mark.slow),  # ~5 s of CPU: real training
])
def test_each_commands_record_becomes_rows(tmp_path, data, rows, columns):
    summary = run_sweep(build_spec(data), tmp_path / "out", Engine("inline"))
    table = read_table(tmp_path / "out" / TABLE)
    assert not summary["failed"], table["error"].tolist()
    assert len(table) == rows and columns <= set(table.columns) and (table["status"] == "ok").all()
    assert set(table["member"]) == {"adam", "adamomentum"}


def test_smoke_scale_points_get_their_own_ids(tmp_path, monkeypatch):
    spec_path = _spec_file(tmp_path)
    real = [p.point_id for p in load_spec(spec_path).points]
    monkeypatch.setenv("AMLAB_SCALE", "smoke")
    smoke = [p.point_id for p in load_spec(spec_path).points]
    assert not set(real) & set(smoke)


@pytest.mark.slow
def test_an_existing_scheduler_runs_the_sweep(tmp_path, pool_table):
    import logging

    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster:
        assert main(["sweep", str(_spec_file(tmp_path)), "--out", str(tmp_path / "out"),
                     "--scheduler", cluster.scheduler_address, "--no-progress"]) == 0
    table = read_table(tmp_path / "out" / TABLE)
    pd.testing.assert_frame_equal(_comparable(table), _comparable(pool_table), check_exact=True)


def test_an_unreachable_scheduler_is_named(tmp_path):
    from simulations.sweep.engine import SchedulerUnreachable

    spec = build_spec({"command": "regret", "grid": {"steps": [20]}})
    with pytest.raises(SchedulerUnreachable, match="--scheduler tcp://127.0.0.1:9: cannot reach a Dask scheduler"):
        run_sweep(spec, tmp_path / "out", Engine("scheduler", scheduler="tcp://127.0.0.1:9", connect_timeout=1))


@pytest.mark.parametrize("path", sorted((REPO / "examples" / "sweeps").glob("*.*")), ids=lambda p: p.name)
def test_the_example_specs_are_valid(path):
    spec = load_spec(path)
    assert len(spec.points) == {"regret-lr-beta1.toml": 8, "escape-tail-curvature.yaml": 6}[path.name]
