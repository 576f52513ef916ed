"""``amlab verify``: every check of the paper's claims, the claims ledger, and a CI gate.

Runs the sympy/numeric checks of :mod:`proofs_check` and every experiment of
:data:`simulations.experiments.EXPERIMENTS` (quick scale unless ``--full``), builds the ledger,
prints it, writes ``<out>/ledger.json`` and ``docs/ledger.md`` (the latter only when every experiment
ran, or to an explicit ``--docs PATH``), and exits 1 when a verdict differs
from ``proofs_check/recorded_verdicts.json`` (``--update-record`` rewrites the record after review).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from proofs_check import ledger as ledger_mod
from simulations import experiments
from simulations.commands._common import add_device_argument, add_subject_arguments
from simulations.records import write_json_atomic, write_text_atomic

HELP = "check every claim of the paper (sympy + simulations), write the claims ledger, compare with the record"

DEFAULT_DOCS = Path(ledger_mod.__file__).resolve().parent.parent / "docs" / "ledger.md"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--full", action="store_true", help="run the simulation-backed rows at full scale")
    parser.add_argument("--out", default="amlab-out/verify", help="output folder (default: amlab-out/verify)")
    add_device_argument(parser)
    parser.add_argument("--update-record", action="store_true",
                        help="rewrite proofs_check/recorded_verdicts.json with this run's verdicts (after review)")
    parser.add_argument("--experiments", default=",".join(experiments.EXPERIMENTS),
                        help=f"comma-separated experiments to run (default: all of {', '.join(experiments.EXPERIMENTS)};"
                             f" an empty string runs the symbolic checks only)")
    parser.add_argument("--docs", default=None,
                        help="where to regenerate the Markdown ledger (default: docs/ledger.md of this checkout, "
                             "written only when every experiment ran; an explicit path is always written)")
    parser.add_argument("--progress", action="store_true", help="show progress bars of the experiments on stderr")
    add_subject_arguments(parser)


def write_ledger(ledger: list[dict], out_dir) -> Path:
    """``<out_dir>/ledger.json``, atomically."""
    return write_json_atomic(Path(out_dir) / "ledger.json", ledger, default=str)  # details may hold sympy objects


def write_markdown(ledger: list[dict], path) -> Path:
    return write_text_atomic(Path(path), ledger_mod.render_markdown(ledger) + "\n")


def save_recorded(ledger: list[dict], path: Path | None = None) -> Path:
    """Rewrite the record of reviewed verdicts (``--update-record``)."""
    return write_json_atomic(ledger_mod.RECORD_PATH if path is None else Path(path), ledger_mod.recorded_payload(ledger))


def _experiment_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in experiments.EXPERIMENTS]
    if unknown:
        raise ValueError(f"--experiments: unknown {unknown}; valid: {', '.join(experiments.EXPERIMENTS)}")
    return names


def format_table(ledger: list[dict], width: int | None = None) -> str:
    """The ledger as a plain-text table: claim, verdict, methods, first line of evidence."""
    width = width or shutil.get_terminal_size((140, 20)).columns
    head = f"{'claim':<26} {'verdict':<20} {'methods':<28} evidence"
    lines = [head, "-" * min(width, 160)]
    for e in ledger:
        first = ledger_mod.headline(e)
        room = max(20, width - 78)
        text = " ".join(str(first).split())
        text = text if len(text) <= room else text[: room - 1] + "…"
        lines.append(f"{e['claim']:<26} {e['verdict']:<20} {','.join(e['methods']) or '-':<28} {text}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    names = _experiment_names(args.experiments)
    scale = "full" if args.full else "quick"
    start = time.perf_counter()
    subject, baseline = args.subject, args.baseline
    default = ledger_mod.is_default_comparison(subject, baseline)
    rows = ledger_mod.symbolic_rows(subject=subject, baseline=baseline)
    print(f"symbolic and numeric checks: {len(rows)} rows in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    missing: dict[str, str] = {}
    timings = {}
    for name in names:
        outcome = experiments.run_experiment(name, scale=scale, device=args.device, progress=args.progress,
                                             subject=subject, baseline=baseline)
        timings[name] = outcome.seconds
        if outcome.ok:
            rows.extend(outcome.rows)
            print(f"experiment {name} ({scale}): {len(outcome.rows)} rows in {outcome.seconds:.1f} s", file=sys.stderr)
        else:
            missing[name] = outcome.error
            print(f"experiment {name} ({scale}) unavailable: {outcome.error.strip().splitlines()[0]}", file=sys.stderr)
    for name in experiments.EXPERIMENTS:
        if name not in names:
            missing.setdefault(name, "not run (excluded with --experiments)")
    ledger = ledger_mod.build_ledger(rows, missing, subject=subject, baseline=baseline)
    print(format_table(ledger))
    out = Path(args.out)
    json_path = write_ledger(ledger, out)
    if args.docs is not None:
        md_path = write_markdown(ledger, Path(args.docs))
        print(f"\nwrote {json_path} and {md_path} ({time.perf_counter() - start:.1f} s in total)", file=sys.stderr)
    elif not default:
        print(f"\nwrote {json_path}; docs/ledger.md is the paper's ledger (adamomentum vs adam), not rewritten for "
              f"{subject} vs {baseline} (pass --docs PATH to write one)", file=sys.stderr)
    elif missing:
        print(f"\nwrote {json_path}; NOT writing {DEFAULT_DOCS}: experiments missing or excluded "
              f"({', '.join(sorted(missing))}), so the reviewed ledger is kept (pass --docs PATH to write one) "
              f"({time.perf_counter() - start:.1f} s in total)", file=sys.stderr)
    else:
        md_path = write_markdown(ledger, DEFAULT_DOCS)
        print(f"\nwrote {json_path} and {md_path} ({time.perf_counter() - start:.1f} s in total)", file=sys.stderr)
    if not default:
        print(f"\nsubject {subject} vs baseline {baseline}: the recorded verdicts are about the paper's comparison "
              f"(adamomentum vs adam), so there is nothing to compare with; exit 0")
        return 0
    if args.update_record:
        path = save_recorded(ledger)
        print(f"record updated: {path}")
        return 0
    diffs = ledger_mod.compare_with_recorded(ledger)
    if diffs:
        print("\nverdicts differ from proofs_check/recorded_verdicts.json:")
        for line in diffs:
            print(f"  {line}")
        print("review the change; if it is right, rerun with --update-record")
        return 1
    print("\nall verdicts agree with the record")
    return 0
