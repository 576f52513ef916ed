"""How ``--jobs`` workers start (:func:`simulations.experiments.worker_context`): forked from a
single-threaded CPU parent, spawned otherwise, and the same records either way."""
import json
import os
import subprocess
import sys
import textwrap
import threading

import torch

from simulations import experiments

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_thread_or_a_second_intra_op_thread_in_the_parent_means_spawn(monkeypatch):
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # as in the amlab command
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert experiments.worker_context("cpu").get_start_method() == "fork"
        torch.set_num_threads(2)  # an OpenMP pool may exist: it would not survive a fork
        assert experiments.worker_context("cpu").get_start_method() == "spawn"
    finally:
        torch.set_num_threads(previous)
    monkeypatch.setattr(threading, "active_count", lambda: 2)  # e.g. tqdm's monitor, pytest-xdist's
    assert experiments.worker_context("cpu").get_start_method() == "spawn"


FORKED_RUN = textwrap.dedent("""
    import json, os, sys
    from simulations import experiments, report
    from simulations.cli import main
    from proofs_check import ledger

    methods, workers = [], set()

    class Recorded(experiments.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            methods.append(kwargs["mp_context"].get_start_method())
            super().__init__(*args, **kwargs)

    experiments.ProcessPoolExecutor = Recorded
    # the sympy checks are the same in both runs and not what this test is about
    report.load_ledger_api = lambda: ((lambda subject, baseline: []), ledger.build_ledger)
    run_in_parent = experiments.run_experiment

    def tagged(name, **kwargs):  # a forked worker runs the parent's code as it was at the fork
        outcome = run_in_parent(name, **kwargs)
        (kwargs["out"] / "ran_in").write_text(str(os.getpid()))
        return outcome

    experiments.run_experiment = tagged
    out = sys.argv[1]
    for jobs in ("1", "2"):
        argv = ["report", "--only", "toys,escape", "--scale", "smoke", "--jobs", jobs, "--no-progress"]
        assert main([*argv, "--out", os.path.join(out, jobs)]) == 0
    print(json.dumps({"methods": methods, "parent": os.getpid()}))
""")


def _strip(value):  # wall-clock figures differ run to run; everything else must not
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in ("seconds", "path_steps_per_second")}
    return [_strip(v) for v in value] if isinstance(value, list) else value


def test_forked_workers_give_the_serial_records(tmp_path):
    """In a fresh single-threaded interpreter (as ``amlab`` runs) ``--jobs 2`` forks its workers;
    the experiments run there, and every ledger row and record equals the in-process run's."""
    env = {**os.environ, "AMLAB_JOBS": "", "PYTHONPATH": ROOT}
    done = subprocess.run([sys.executable, "-c", FORKED_RUN, str(tmp_path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["methods"] == ["fork"]  # only the --jobs 2 run made a pool
    serial, parallel = (json.loads((tmp_path / j / "report.json").read_text()) for j in "12")
    assert _strip(serial["ledger"]) == _strip(parallel["ledger"])
    for name in ("toys", "escape"):
        one, two = serial["experiments"][name], parallel["experiments"][name]
        assert one["ok"] and two["ok"], (one["error"], two["error"])
        assert _strip(one["rows"]) == _strip(two["rows"])
        record_one, record_two = (json.loads((tmp_path / j / name / f"{name}.json").read_text()) for j in "12")
        assert _strip(record_one) == _strip(record_two)
        ran_in = {j: int((tmp_path / j / name / "ran_in").read_text()) for j in "12"}
        assert ran_in["1"] == seen["parent"] != ran_in["2"]  # --jobs 2 ran it in a worker
