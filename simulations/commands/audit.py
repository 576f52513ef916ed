"""``amlab audit --optimizer NAME``: every check that applies to one method, against a baseline, on one page."""
from __future__ import annotations

import argparse

from simulations import audit
from simulations.commands._common import (UsageError, add_device_argument, add_out_argument, add_progress_argument,
                                          add_resume_argument, add_scale_argument, check_out_dir, optimizer_name,
                                          progress_enabled)
from simulations.experiments import EXPERIMENTS

HELP = "audit one method (registry name, plugin or module:Attribute): every experiment, the invariants, one page"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--optimizer", type=optimizer_name, required=True,
                        help="the method to audit: a registry name, an installed plugin, or "
                             "module.path:Attribute[:key=value...] (a torch optimizer or a rule)")
    parser.add_argument("--baseline", type=optimizer_name, default="adam", help="compared with (default: %(default)s)")
    add_scale_argument(parser)
    parser.add_argument("--only", default=",".join(EXPERIMENTS),
                        help=f"comma-separated subset of: {', '.join(EXPERIMENTS)} (default: all)")
    add_out_argument(parser, "amlab-out/audit")
    add_device_argument(parser)
    add_progress_argument(parser)
    add_resume_argument(parser)


def run(args: argparse.Namespace) -> int:
    only = tuple(n.strip() for n in args.only.split(",") if n.strip())
    unknown = [n for n in only if n not in EXPERIMENTS]
    if unknown or not only:
        raise UsageError(f"--only: unknown experiment(s) {unknown}; valid: {', '.join(EXPERIMENTS)}")
    check_out_dir(args.out)
    result = audit.run_audit(args.optimizer, args.out, baseline=args.baseline, scale=args.scale,
                             device=args.device, progress=progress_enabled(args), experiments=only,
                             resume=args.resume)
    for label, items in result["digest"].items():
        print(f"{label}: {len(items)}")
        for item in items:
            print(f"  {item}")
    for outcome in result["outcomes"]:
        print(f"{outcome.name:>10}: {'ok' if outcome.ok else 'FAILED'} ({outcome.seconds:.1f} s)")
    print(f"wrote {result['index']}")
    return 1 if any(not o.ok for o in result["outcomes"]) or result["ledger_error"] else 0
