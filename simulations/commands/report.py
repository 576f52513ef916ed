"""``amlab report``: every experiment at one scale, one offline HTML page with figures and the ledger."""
from __future__ import annotations

import argparse

from simulations import report
from simulations.commands._common import (add_device_argument, add_jobs_argument, add_out_argument, add_progress_argument,
                                          add_resume_argument, add_subject_arguments, check_out_dir, progress_enabled,
                                          resolve_jobs)
from simulations.experiments import EXPERIMENTS

HELP = "run every experiment (--quick: < 5 min on 2 cores) and write DIR/index.html with figures and the ledger"


def _experiment_list(text: str) -> list[str]:
    names = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown experiment(s) {unknown}; valid: {', '.join(EXPERIMENTS)}")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--scale", choices=("smoke", "quick", "full"), default="quick",
                       help="experiment scale: smoke runs in seconds and decides nothing, quick is the CI scale "
                            "(each experiment <= 60 s), full the long one (default: %(default)s)")
    scale.add_argument("--quick", dest="scale", action="store_const", const="quick", help="shorthand for --scale quick")
    scale.add_argument("--full", dest="scale", action="store_const", const="full", help="shorthand for --scale full")
    add_out_argument(parser, "amlab-out/report")
    add_device_argument(parser)
    parser.add_argument("--only", type=_experiment_list, default=list(EXPERIMENTS),
                        help=f"comma-separated subset of: {', '.join(EXPERIMENTS)} (default: all)")
    add_progress_argument(parser)
    add_resume_argument(parser)
    add_subject_arguments(parser)
    add_jobs_argument(parser)


def run(args: argparse.Namespace) -> int:
    check_out_dir(args.out)
    jobs = resolve_jobs(args, len(args.only))
    result = report.run_report(args.out, scale=args.scale, device=args.device, progress=progress_enabled(args),
                               experiments=tuple(args.only), subject=args.subject, baseline=args.baseline,
                               resume=args.resume, jobs=jobs)
    failed = [o.name for o in result["outcomes"] if not o.ok]
    for outcome in result["outcomes"]:
        print(f"{outcome.name:>10}: {'ok' if outcome.ok else 'FAILED'} ({outcome.seconds:.1f} s)")
    if result["ledger_error"]:
        print("ledger: FAILED (" + result["ledger_error"].splitlines()[0] + ")")
    print(f"wrote {result['index']}")
    return 1 if failed or result["ledger_error"] else 0
