"""``amlab search``: worst-case search under each statement's literal hypotheses; ``--replay`` a case."""
from __future__ import annotations

import argparse
from pathlib import Path

from simulations.commands._common import (UsageError, add_progress_argument, add_resume_argument, add_run_arguments,
                                          progress_enabled, read_replay_file, usage_errors)

HELP = "worst-case search under each statement's printed hypotheses (CMA-ES, replayable cases); --replay"
OUT_DEFAULT = "amlab-out/search"


def _ids(text: str) -> list[str]:
    from simulations.search.statements import claims

    ids = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in ids if x not in claims()]
    if bad or not ids:
        raise argparse.ArgumentTypeError(f"unknown statement(s) {', '.join(bad) or text!r}; "
                                         f"valid: {', '.join(claims())}")
    return ids


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from simulations.search.common import PLANTED
    from simulations.search.experiment import SCALES

    parser.add_argument("--statement", type=_ids, default=None, metavar="ID[,ID...]",
                        help="statements to search (default: all registered)")
    parser.add_argument("--reading", default=None,
                        help="only this reading (default: every reading of each statement; 'printed' decides)")
    parser.add_argument("--member", default="adamomentum",
                        help="the method Theorems 1-2 and Corollaries 1-2 are searched for (adaptive registry "
                             "member; default: %(default)s)")
    parser.add_argument("--scale", choices=SCALES, default="quick",
                        help="instance sizes (T_max, seeds) and default budgets (default quick)")
    parser.add_argument("--budget-seconds", type=float, default=None,
                        help="total time budget, split evenly over the searches (default: the scale's)")
    parser.add_argument("--budget-evals", type=int, default=None,
                        help="evaluation budget per search (default: the scale's; with --budget-seconds, 10^6)")
    parser.add_argument("--planted", choices=[p for p in PLANTED if p], default=None,
                        help="weaken the right-hand side on purpose (a test of the search, never a verdict)")
    parser.add_argument("--replay", type=Path, default=None, metavar="FILE", help="re-run and re-verify a saved case")
    add_progress_argument(parser)
    add_resume_argument(parser)
    add_run_arguments(parser, OUT_DEFAULT)


def _searches(args) -> list:
    """(statement, evals, seconds) for every search asked for; every bad input fails here."""
    from simulations.search import experiment
    from simulations.search.engine import validate_budget
    from simulations.search.statements import claims, make, readings

    if args.budget_seconds is not None and not args.budget_seconds > 0:
        raise ValueError(f"--budget-seconds must be > 0, got {args.budget_seconds}")
    if args.budget_evals is not None and args.budget_evals < 1:
        raise ValueError(f"--budget-evals must be >= 1, got {args.budget_evals}")
    ids = args.statement or [c for c in claims() if not c.startswith("control-")]
    todo = []
    for claim in ids:
        chosen = readings(claim) if args.reading is None else (args.reading,)
        evals, seconds, opts = experiment.BUDGETS[args.scale][experiment.KINDS[claim]]
        opts = dict(opts)
        if claim in experiment.METHOD_DEPENDENT:
            opts["member"] = args.member
        if args.planted:
            opts["planted"] = args.planted
        for reading in chosen:
            todo.append([make(claim, reading, **opts), evals, seconds])
    if args.budget_seconds is not None:
        for item in todo:
            item[1] = 10**6 if args.budget_evals is None else args.budget_evals
            item[2] = args.budget_seconds / len(todo)
    elif args.budget_evals is not None:
        for item in todo:
            item[1] = args.budget_evals
    for _, evals, seconds in todo:
        validate_budget(evals, seconds, experiment.POPSIZE)
    return todo


def run(args) -> int:
    out = Path(args.out)
    if args.replay is not None:
        return _run_replay(args, out)
    from simulations.records import make_record
    from simulations.runtime import resolve_device
    from simulations.search import engine, experiment

    with usage_errors():  # a bad statement, reading, member or budget fails here, before any work
        todo = _searches(args)
    from simulations.checkpoints import UnitStore

    dev = resolve_device(args.device).type
    # each finished search is a unit; a search bounded by seconds (not evaluations) may stop elsewhere
    # when rerun, so a resumed run keeps the finished ones rather than redoing them
    store = UnitStore(out / "checkpoints" / "search",
                      {"searches": [(st.claim, st.reading, evals, seconds) for st, evals, seconds in todo],
                       "seed": args.seed, "device": dev, "scale": args.scale, "member": args.member},
                      resume=args.resume)
    searches = [store.unit(f"{k}:{st.claim}:{st.reading}", lambda st=st, evals=evals, seconds=seconds: engine.search(
        st, budget_evals=evals, budget_seconds=seconds, seed=args.seed, popsize=experiment.POPSIZE, device=dev,
        progress=progress_enabled(args))) for k, (st, evals, seconds) in enumerate(todo)]
    recorded = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if not k.startswith("_")}
    record = make_record("search", dict(recorded, subject=args.member, scale=args.scale),
                         {"searches": searches, "skipped": []}, seed=args.seed)
    for path in experiment.write_outputs(record, out):
        print(path)
    decided = {row["claim"]: row["verdict"] for row in experiment.ledger_rows(record)}  # the ledger's own rules
    for s in searches:
        verdict = decided.get(s["claim"], experiment.verdict_of(s)[0]) if s["printed"] else "(evidence)"
        best = "none" if s["best_ratio"] is None else f"{s['best_ratio']:.4g}"
        print(f"{s['claim']} [{s['reading']}]: {verdict}; tried {s['tried']}, hypotheses true "
              f"{s['feasible_fraction']:.0%}, {s['seconds']:.1f} s, best ratio {best}, violations {s['violations']}")
    return 0


def _run_replay(args, out: Path) -> int:
    from simulations.records import write_json_atomic
    from simulations.runtime import resolve_device
    from simulations.search.engine import replay

    case = read_replay_file(args.replay)
    try:
        result = replay(case, device=resolve_device(args.device).type)
    except ValueError as err:
        raise UsageError(f"--replay {args.replay}: {err}") from None
    print(write_json_atomic(out / f"replay-{Path(args.replay).stem}.json", result))
    print(f"{result['claim']} [{result['reading']}]: ratio {result['ratio']:.12g} (expected "
          f"{result['expected_ratio']:.12g}, relative difference {result['relative_difference']:.2g}); hypotheses "
          f"re-verified: {result['all_hypotheses_hold']} (same as saved: {result['hypotheses_match']}); "
          f"conclusion violated: {result['violated']}; reproduced: {result['reproduced']}")
    return 0 if result["reproduced"] else 1
