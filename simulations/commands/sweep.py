"""``amlab sweep SPEC --out DIR``: a grid over any command's options, one task per point, one Parquet table."""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from simulations.commands._common import UsageError, add_progress_argument, progress_enabled, usage_errors

HELP = "run a TOML/YAML grid over a command's options as parallel tasks (process pool or Dask) into one Parquet table"
OUT_DEFAULT = "amlab-out/sweep"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", type=Path, metavar="SPEC",
                        help="a .toml or .yaml file: command = NAME, [fixed] options, [grid] option = [values]")
    parser.add_argument("--out", default=OUT_DEFAULT,
                        help=f"sweep folder: results.parquet, points/<id>/, the manifest (default: {OUT_DEFAULT})")
    parser.add_argument("--workers", type=int, default=None,
                        help="parallel worker processes (default: one per available CPU); with --cluster local, "
                             "the LocalCluster's workers")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--cluster", choices=("local",), default=None,
                       help="local: run on a dask.distributed LocalCluster of --workers processes "
                            "(default: a local process pool)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run on the Dask scheduler at ADDRESS (e.g. tcp://host:8786, or a dask-jobqueue "
                            "cluster's scheduler address)")
    parser.add_argument("--dry-run", action="store_true", help="check the spec, list the points, run nothing")
    add_progress_argument(parser)


class _Terminated(Exception):
    pass


def _on_sigterm(signum, frame):
    raise _Terminated()


def run(args) -> int:
    from simulations.sweep import Engine, load_spec, run_sweep
    from simulations.sweep.engine import TABLE, SchedulerUnreachable, check_out, done_points

    with usage_errors():  # everything checked here is the user's input, before any work
        if args.workers is not None and args.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {args.workers}")
        if args.scheduler is not None and args.workers is not None:
            raise ValueError("--workers: the scheduler at --scheduler decides its workers; drop --workers")
        spec = load_spec(args.spec)
        out = Path(args.out)
        check_out(out, spec, create=not args.dry_run)
    done = done_points(out) & {p.point_id for p in spec.points}
    print(f"amlab sweep: {len(spec.points)} points of `amlab {spec.command}`, {len(done)} already in "
          f"{out / TABLE}, {len(spec.points) - len(done)} to run")
    if args.dry_run:
        for p in spec.points:
            print(f"{p.point_id} {'done' if p.point_id in done else 'todo'}  amlab {' '.join(p.argv)}")
        return 0
    kind = "scheduler" if args.scheduler else ("local-cluster" if args.cluster == "local" else "pool")
    engine = Engine(kind, args.workers or 0, args.scheduler)
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: no handler
        previous = None
    try:
        summary = run_sweep(spec, out, engine, progress=progress_enabled(args))
    except SchedulerUnreachable as err:
        raise UsageError(str(err)) from None
    except (KeyboardInterrupt, _Terminated) as stop:
        finished = len(done_points(out) & {p.point_id for p in spec.points})
        print(f"amlab sweep: stopped; {finished} of {len(spec.points)} points are in {out / TABLE}; "
              f"rerun the same command to run the rest", file=sys.stderr)
        return 143 if isinstance(stop, _Terminated) else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print(f"ran {len(summary['ran'])} points ({len(summary['failed'])} failed), skipped {len(summary['skipped'])}, "
          f"in {summary['seconds']:.1f} s on {engine.describe()['kind']}; table: {summary['table']}")
    return 1 if summary["failed"] else 0
