"""Run a sweep's points as tasks: a local process pool, a Dask LocalCluster or any Dask scheduler.

Each task runs ``simulations.cli.main`` in-process in a worker with ``--out DIR/points/<id>/``,
reads the record it wrote and returns table rows; the driver appends each finished point to
``DIR/results.parquet`` as it arrives, so a rerun skips the points already there.
"""
from __future__ import annotations

import contextlib
import datetime
import io
import os
import socket
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from simulations.records import make_record, read_json, write_json_atomic, write_text_atomic
from simulations.runtime import available_cpus
from simulations.sweep.extract import EXTRACTORS
from simulations.sweep.spec import Point, SweepSpec
from simulations.sweep.table import append_rows, read_table

TABLE = "results.parquet"
SPEC_FILE = "sweep-spec.json"
MANIFEST = "sweep-manifest.json"
TIMING_COLUMNS = ("seconds", "finished_at", "host", "pid")


# pool: local spawned processes; local-cluster: a Dask LocalCluster; scheduler: any Dask scheduler;
# inline: one after another in this process (debugging, tests: a debugger or a traceback reaches the point).
ENGINE_KINDS = ("pool", "local-cluster", "scheduler", "inline")


@dataclass(frozen=True)
class Engine:
    """Where the points run (one of :data:`ENGINE_KINDS`) and on how many workers."""

    kind: str = "pool"
    workers: int = 0  # 0: one per available CPU
    scheduler: str | None = None
    connect_timeout: float = 10.0  # seconds to reach a --scheduler before giving up

    def __post_init__(self):
        if self.kind not in ENGINE_KINDS:
            raise ValueError(f"engine kind must be one of {', '.join(ENGINE_KINDS)}, got {self.kind!r}")
        if self.workers < 0:
            raise ValueError(f"--workers must be >= 1, got {self.workers}")
        if (self.kind == "scheduler") != (self.scheduler is not None):
            raise ValueError("--scheduler: an address goes with the scheduler engine only")

    def worker_count(self) -> int:
        return self.workers or available_cpus()

    def describe(self) -> dict:
        workers = {"scheduler": None, "inline": 1}.get(self.kind, self.worker_count())
        return {"kind": self.kind, "workers": workers,
                "scheduler": self.scheduler}


class SchedulerUnreachable(ValueError):
    """--scheduler names no reachable Dask scheduler (the user's input, found when connecting)."""


@dataclass(frozen=True)
class Task:
    """What a worker needs: plain data only (it is pickled to another process or machine)."""

    command: str
    point_id: str
    argv: tuple
    out: str


def run_point(task: Task, single_thread: bool = True) -> dict:
    """Run one point in this process; never raises for a failing point (its status says why)."""
    if single_thread:
        import torch

        torch.set_num_threads(1)  # one task per worker process: threads would only contend
    from simulations.cli import main

    start = time.perf_counter()
    out = Path(task.out)
    captured = io.StringIO()
    status, error, rows = "ok", None, []
    code = 0
    try:
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            code = main(list(task.argv))
    except SystemExit as stop:  # a usage error exits 2 with its message on stderr
        code = stop.code if isinstance(stop.code, int) else 1
    except Exception as err:  # a failing point is recorded; the others go on
        status, error = "failed", f"{type(err).__name__}: {err}"
        captured.write(traceback.format_exc())
    if code and status == "ok":  # the command's last line says why (usage error or internal error)
        lines = [line for line in captured.getvalue().splitlines() if line.strip()]
        status, error = "failed", f"exit status {code}: {lines[-1] if lines else 'no message'}"
    if status == "ok":
        record_name, extract = EXTRACTORS[task.command]
        try:
            rows = extract(read_json(out / record_name))
        except Exception as err:
            status, error = "failed", f"reading {record_name}: {type(err).__name__}: {err}"
    try:
        write_text_atomic(out / "amlab.log", captured.getvalue())
    except OSError:
        pass  # the log is a convenience; the status row is what counts
    return {"point_id": task.point_id, "status": status, "error": error, "rows": rows,
            "seconds": time.perf_counter() - start, "host": socket.gethostname(), "pid": os.getpid()}


def table_rows(point: Point, result: dict) -> list[dict]:
    """The point's rows: config columns, then the extractor's numbers, then status and timing."""
    config = {k: (",".join(map(str, v)) if isinstance(v, list) else v) for k, v in point.options.items()}
    finished = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    meta = {"status": result["status"], "error": result["error"], "seconds": result["seconds"],
            "finished_at": finished, "host": result["host"], "pid": result["pid"]}
    rows = result["rows"] or [{}]
    out = []
    for row in rows:
        clash = set(row) & (set(config) | set(meta) | {"point_id"})
        if clash:
            raise RuntimeError(f"extractor column(s) {sorted(clash)} clash with the config columns")
        out.append({"point_id": point.point_id, **config, **row, **meta})
    return out


def done_points(out: Path) -> set[str]:
    """Points whose rows are in the table with status ok (failed points are run again)."""
    table = read_table(out / TABLE)
    if table is None or not len(table):
        return set()
    return set(table.loc[table["status"] == "ok", "point_id"])


def run_sweep(spec: SweepSpec, out: str | os.PathLike, engine: Engine = Engine(), progress: bool = False) -> dict:
    """Run the points of ``spec`` not yet in ``out/results.parquet``; returns this invocation's summary."""
    out = Path(out)
    check_out(out, spec)
    write_json_atomic(out / SPEC_FILE, spec.resolved())
    previous = read_table(out / TABLE)
    in_table = set() if previous is None else set(previous["point_id"])
    done = done_points(out)
    todo = [p for p in spec.points if p.point_id not in done]
    summary = {"points": len(spec.points), "skipped": [p.point_id for p in spec.points if p.point_id in done],
               "ran": [], "failed": [], "engine": engine.describe(), "table": str(out / TABLE)}
    manifest = _manifest(spec, out, engine, summary, started=_now())
    write_json_atomic(out / MANIFEST, manifest)
    by_id = {p.point_id: p for p in todo}
    tasks = [Task(spec.command, p.point_id, tuple(p.argv_with_out(out / "points" / p.point_id, spec.quiet_flags)),
                  str(out / "points" / p.point_id)) for p in todo]
    bar = _bar(len(spec.points), len(summary["skipped"]), progress, spec.command)
    start = time.perf_counter()
    try:
        for result in _execute(tasks, engine):
            point = by_id[result["point_id"]]
            retried = {point.point_id} if point.point_id in in_table else set()
            append_rows(out / TABLE, table_rows(point, result), replace_points=retried)
            summary["ran"].append(point.point_id)
            if result["status"] != "ok":
                summary["failed"].append(point.point_id)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        summary["seconds"] = time.perf_counter() - start
        manifest.update(summary=summary, finished=_now(), complete=len(done_points(out)) == len(spec.points))
        write_json_atomic(out / MANIFEST, manifest)
    return summary


def _execute(tasks: list[Task], engine: Engine) -> Iterator[dict]:
    if not tasks:
        return
    if engine.kind == "inline":
        for task in tasks:
            yield run_point(task, single_thread=False)
    elif engine.kind == "pool":
        yield from _execute_pool(tasks, min(engine.worker_count(), len(tasks)))
    else:
        yield from _execute_dask(tasks, engine)


def _execute_pool(tasks: list[Task], workers: int) -> Iterator[dict]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: torch and fork do not mix (a forked child inherits the parent's thread pools and locks).
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = [pool.submit(run_point, task) for task in tasks]
        for future in as_completed(futures):
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _execute_dask(tasks: list[Task], engine: Engine) -> Iterator[dict]:
    import logging

    from distributed import Client, LocalCluster, as_completed

    with contextlib.ExitStack() as stack:
        if engine.kind == "local-cluster":
            cluster = stack.enter_context(LocalCluster(
                n_workers=min(engine.worker_count(), len(tasks)), threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=logging.CRITICAL))  # a closing worker logs a lost heartbeat
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(engine.scheduler, timeout=engine.connect_timeout))
            except OSError as err:
                raise SchedulerUnreachable(f"--scheduler {engine.scheduler}: cannot reach a Dask scheduler within "
                                 f"{engine.connect_timeout:g} s ({err})") from None
        # A unique key per submission: two sweeps sharing a scheduler (and a point id) never share a task.
        run = uuid.uuid4().hex[:8]
        futures = [client.submit(run_point, task, pure=False, key=f"amlab-sweep-{task.point_id}-{run}")
                   for task in tasks]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            client.cancel(futures)


def check_out(out: Path, spec: SweepSpec, create: bool = True) -> None:
    """--out must be a folder this process can write, holding no sweep of another command.

    ``create=False`` (a dry run) checks the nearest existing parent instead of creating the folder."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder")
    if create:
        try:
            out.mkdir(parents=True, exist_ok=True)
            probe = out / f".amlab-write-test-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as err:
            raise ValueError(f"--out {out}: cannot write there ({err.strerror or err})") from None
    else:
        parent = next(p for p in (out, *out.absolute().parents) if p.exists())
        if not (parent.is_dir() and os.access(parent, os.W_OK | os.X_OK)):
            raise ValueError(f"--out {out}: cannot write under {parent}")
    path = out / SPEC_FILE
    if path.exists():
        try:
            previous = read_json(path)["command"]
        except (OSError, ValueError, KeyError, TypeError):
            return
        if previous != spec.command:
            raise ValueError(f"--out {out}: holds a sweep of `amlab {previous}`, not `amlab {spec.command}`; "
                             "use another folder")


def _manifest(spec: SweepSpec, out: Path, engine: Engine, summary: dict, started: str) -> dict:
    points = [{"point_id": p.point_id, "options": p.options,
               "argv": list(p.argv_with_out(out / "points" / p.point_id, spec.quiet_flags))} for p in spec.points]
    record = make_record("sweep", spec.resolved(), {"points": points})
    record.update(engine=engine.describe(), started=started, summary=summary, complete=False)
    return record


def _bar(total: int, initial: int, progress: bool, command: str):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=f"amlab sweep {command}", unit="point")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
