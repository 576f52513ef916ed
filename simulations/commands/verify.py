"""``amlab verify``: every check of the paper's claims, the claims ledger, and a CI gate.

Runs the sympy/numeric checks of :mod:`proofs_check` and every experiment of
:data:`simulations.experiments.EXPERIMENTS` (``--scale``, default quick: the CI scale; ``--full`` is
``--scale full``), builds the ledger, prints it, writes ``<out>/ledger.json`` and ``<out>/ledger.md``
and nothing else unless asked: ``--docs PATH`` writes the Markdown ledger there, ``--write-docs``
rewrites ``docs/ledger.md`` of a source checkout (only when every experiment ran; never inside an
installed package). Exits 1 when a verdict differs from ``proofs_check/recorded_verdicts.json``
(``--update-record`` rewrites the record after review). The verdicts are what must agree across
machines; the Monte Carlo numbers in the evidence may differ in their last digits.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from proofs_check import ledger as ledger_mod
from simulations import experiments
from simulations.checkpoints import UnitStore
from simulations.commands._common import (UsageError, add_device_argument, add_jobs_argument, add_out_argument,
                                          add_progress_argument, add_resume_argument, add_scale_argument,
                                          add_subject_arguments, check_out_dir, progress_enabled, resolve_jobs)
from simulations.records import write_json_atomic, write_text_atomic

HELP = "check every claim of the paper (sympy + simulations), write the claims ledger, compare with the record"

SOURCE_ROOT = Path(ledger_mod.__file__).resolve().parent.parent
DEFAULT_DOCS = SOURCE_ROOT / "docs" / "ledger.md"


def source_checkout_docs() -> Path:
    """docs/ledger.md of the source checkout this code runs from; UsageError in an installed package."""
    root = DEFAULT_DOCS.parent.parent
    installed = any(part in ("site-packages", "dist-packages") for part in root.parts)
    if installed or not (root / "pyproject.toml").exists() or not DEFAULT_DOCS.parent.is_dir():
        raise UsageError(f"--write-docs: {root} is not a source checkout (an installed package is never written "
                         f"into); pass --docs PATH to write the Markdown ledger somewhere")
    return DEFAULT_DOCS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_scale_argument(parser, help="scale of the simulation-backed rows (quick is the CI scale)")
    parser.add_argument("--full", dest="scale", action="store_const", const="full",
                        help="shorthand for --scale full")
    add_out_argument(parser, "amlab-out/verify")
    add_device_argument(parser)
    parser.add_argument("--update-record", action="store_true",
                        help="rewrite proofs_check/recorded_verdicts.json with this run's verdicts (after review)")
    parser.add_argument("--experiments", default=",".join(experiments.EXPERIMENTS),
                        help=f"comma-separated experiments to run (default: all of {', '.join(experiments.EXPERIMENTS)};"
                             f" an empty string runs the symbolic checks only)")
    parser.add_argument("--docs", default=None, metavar="PATH",
                        help="also write the Markdown ledger to PATH (always written when given)")
    parser.add_argument("--write-docs", action="store_true",
                        help="rewrite docs/ledger.md of this source checkout (only when every experiment ran, for "
                             "the paper's comparison; refused in an installed package)")
    add_progress_argument(parser)
    add_resume_argument(parser)
    add_subject_arguments(parser)
    add_jobs_argument(parser)


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
        raise UsageError(f"--experiments: unknown {unknown}; valid: {', '.join(experiments.EXPERIMENTS)}")
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
    scale = args.scale
    for flag, given in (("--update-record", args.update_record), ("--write-docs", args.write_docs)):
        if scale == "smoke" and given:
            raise UsageError(f"{flag}: the smoke scale's verdicts decide nothing, so they are not recorded; use "
                             f"--scale quick or full")
    out = check_out_dir(args.out)
    docs_target = source_checkout_docs() if args.write_docs else None
    if args.docs is not None:
        check_out_dir(Path(args.docs).parent or ".", "--docs")
    progress = progress_enabled(args)
    jobs = resolve_jobs(args, len(names))
    start = time.perf_counter()
    subject, baseline = args.subject, args.baseline
    default = ledger_mod.is_default_comparison(subject, baseline)
    rows: list = []  # the symbolic rows, then each experiment's, in order

    def symbolic() -> None:
        begun = time.perf_counter()
        rows[:0] = ledger_mod.symbolic_rows(subject=subject, baseline=baseline)
        print(f"symbolic and numeric checks: {len(rows)} rows in {time.perf_counter() - begun:.1f} s", file=sys.stderr)

    missing: dict[str, str] = {}
    timings = {}
    label = (lambda x: getattr(x, "name", x))
    store = UnitStore(out / "checkpoints" / "verify", {"scale": scale, "device": args.device, "experiments": names,
                                                       "subject": label(subject), "baseline": label(baseline)},
                      resume=args.resume)
    def done(outcome) -> None:
        name = outcome.name
        timings[name] = outcome.seconds
        if outcome.ok:
            rows.extend(outcome.rows)
            print(f"experiment {name} ({scale}): {len(outcome.rows)} rows in {outcome.seconds:.1f} s", file=sys.stderr)
        else:
            missing[name] = outcome.error
            print(f"experiment {name} ({scale}) unavailable: {outcome.error.strip().splitlines()[0]}", file=sys.stderr)

    experiments.run_experiment_units(store, names, jobs=jobs, on_done=done, meanwhile=symbolic, scale=scale,
                                     device=args.device, progress=progress, subject=subject, baseline=baseline)
    for name in experiments.EXPERIMENTS:
        if name not in names:
            missing.setdefault(name, "not run (excluded with --experiments)")
    ledger = ledger_mod.build_ledger(rows, missing, subject=subject, baseline=baseline)
    print(format_table(ledger))
    json_path = write_ledger(ledger, out)
    written = [json_path, write_markdown(ledger, out / "ledger.md")]
    if args.docs is not None:
        written.append(write_markdown(ledger, Path(args.docs)))
    if docs_target is not None:
        if not default:
            print(f"docs/ledger.md is the paper's ledger (adamomentum vs adam), not rewritten for {subject} vs "
                  f"{baseline} (pass --docs PATH to write one)", file=sys.stderr)
        elif missing:
            print(f"NOT writing {docs_target}: experiments missing or excluded ({', '.join(sorted(missing))}), so the "
                  f"reviewed ledger is kept (pass --docs PATH to write one)", file=sys.stderr)
        else:
            written.append(write_markdown(ledger, docs_target))
    print(f"\nwrote {', '.join(str(p) for p in written)} ({time.perf_counter() - start:.1f} s in total)",
          file=sys.stderr)
    if not default:
        print(f"\nsubject {subject} vs baseline {baseline}: the recorded verdicts are about the paper's comparison "
              f"(adamomentum vs adam), so there is nothing to compare with; exit 0")
        return 0
    if scale == "smoke":
        print("\nsmoke scale: its verdicts decide nothing, so they are not compared with the record; exit 0")
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
