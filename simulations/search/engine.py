"""The search engine: CMA-ES with random restarts over a statement's instance space.

A *statement* (see :mod:`simulations.search.statements`) exposes ``claim``, ``reading``,
``printed``, ``options`` (what rebuilds it), ``variants()`` (regions of its instance space) and
``evaluate(configs, device, dtype) -> list[dict]``, one dict per config with ``ratio`` (measured /
right-hand side; the conclusion is violated when > 1), ``hypotheses`` (name -> bool, each
literal hypothesis verified on the run), ``margin`` (fraction of hypotheses that held, which guides
the search towards feasible instances), ``confirmed`` (a violation that survives the statement's
statistical test; = ratio > 1 for deterministic runs) and ``measured`` (the numbers behind it).
``conclusion_only`` in the summary counts the confirmed violations of the conclusion on every
evaluated instance, hypotheses aside: evidence of what the conclusion does where the statement
does not apply, never a verdict.

The optimiser maximises log10(ratio) on instances whose hypotheses all hold; an instance breaking
one gets a score below every feasible one (ordered by its margin), so it is excluded from the
verdict and only steers the search. Restarts cycle over the variants with fresh random starts,
each with an equal share of the evaluation budget (at least two generations).
The search stops at its evaluation budget or its time budget, whichever comes first (the time
budget makes a run machine-dependent; the evaluation budget alone makes it reproducible). The clock
is read before each generation, so a search overruns its seconds by at most one generation.
"""
from __future__ import annotations

import math
import time

import numpy as np

KIND = "search-case"
VIOLATION_RTOL = 1e-9  # a ratio counts as > 1 only beyond rounding
MAX_CASES = 5  # confirmed violations kept per search (the worst first)
_INFEASIBLE = -1000.0  # score of an instance breaking a hypothesis (minus its unmet fraction)


def _score(ev: dict) -> float:
    if not all(ev["hypotheses"].values()):
        return _INFEASIBLE - 100.0 * (1.0 - float(ev.get("margin", 0.0)))
    r = ev["ratio"]
    if not math.isfinite(r):
        return _INFEASIBLE + 1.0 if math.isnan(r) else 1e6
    return math.log10(max(r, 1e-300))


def is_violation(ev: dict) -> bool:
    """Every hypothesis held, the ratio exceeds 1 beyond rounding and the statement confirmed it."""
    return (all(ev["hypotheses"].values()) and ev["ratio"] > 1.0 + VIOLATION_RTOL
            and bool(ev.get("confirmed", True)))


def validate_budget(budget_evals: int, budget_seconds: float, popsize: int) -> None:
    if not (isinstance(budget_evals, int) and budget_evals >= 1):
        raise ValueError(f"budget_evals must be an integer >= 1, got {budget_evals!r}")
    if not (budget_seconds > 0 and math.isfinite(budget_seconds)):
        raise ValueError(f"budget_seconds must be finite and > 0, got {budget_seconds!r}")
    if not (isinstance(popsize, int) and 4 <= popsize <= 4096):
        raise ValueError(f"popsize must be an integer in [4, 4096], got {popsize!r}")


def make_case(statement, ev: dict, device: str, dtype: str, seed: int) -> dict:
    """A self-contained replayable case: what to rebuild, the instance, and what it produced."""
    return {"kind": KIND, "claim": statement.claim, "reading": statement.reading,
            "printed": statement.printed, "options": dict(statement.options), "config": dict(ev["config"]),
            "device_type": device, "dtype": dtype, "search_seed": seed,
            "expected": {"ratio": ev["ratio"], "hypotheses": dict(ev["hypotheses"]),
                         "confirmed": bool(ev.get("confirmed", True))},
            "measured": ev.get("measured", {})}


def search(statement, budget_evals: int = 256, budget_seconds: float = 10.0, seed: int = 0, popsize: int = 16,
           device: str = "cpu", dtype: str = "float64", progress: bool = False) -> dict:
    """Maximise the violation ratio of ``statement`` within the budgets; a JSON-ready summary."""
    import cma

    validate_budget(budget_evals, budget_seconds, popsize)
    variants = list(statement.variants())
    if not variants:
        raise ValueError(f"statement {statement.claim} ({statement.reading}) has no instance space")
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    tried = feasible = 0
    best, cases = None, []
    per_variant = {v.name: {"tried": 0, "feasible": 0, "best_ratio": None} for v in variants}
    broken: dict[str, int] = {}
    loose = {"evaluated": 0, "violated": 0, "max_ratio": None}
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=budget_evals, desc=f"search {statement.claim} [{statement.reading}]", leave=False)
    stopped_by, restart = "evaluations", 0
    # each restart gets a share of the budget, so that every variant is visited at least twice
    per_restart = max(2 * popsize, budget_evals // (2 * len(variants)))
    while tried < budget_evals:
        if time.perf_counter() - start >= budget_seconds:
            stopped_by = "seconds"
            break
        variant = variants[restart % len(variants)]
        x0 = rng.uniform(0.05, 0.95, size=variant.dim)
        es = cma.CMAEvolutionStrategy(x0, 0.3, {"bounds": [0.0, 1.0], "popsize": popsize, "verbose": -9,
                                                "seed": int(rng.integers(1, 2**31 - 1)), "tolfun": 1e-11,
                                                "maxfevals": per_restart})
        restart += 1
        while not es.stop() and tried < budget_evals:
            if time.perf_counter() - start >= budget_seconds:
                break
            xs = es.ask()
            xs = xs[: budget_evals - tried] if len(xs) > budget_evals - tried else xs
            configs = [variant.decode(x) for x in xs]
            evals = statement.evaluate(configs, device=device, dtype=dtype)
            scores = []
            for cfg, ev in zip(configs, evals):
                ev["config"] = cfg
                tried += 1
                pv = per_variant[variant.name]
                pv["tried"] += 1
                ok = all(ev["hypotheses"].values())
                if ok:
                    feasible += 1
                    pv["feasible"] += 1
                    if math.isfinite(ev["ratio"]) and (pv["best_ratio"] is None or ev["ratio"] > pv["best_ratio"]):
                        pv["best_ratio"] = ev["ratio"]
                    if best is None or _score(ev) > _score(best):
                        best = ev
                    if is_violation(ev):
                        cases.append(ev)
                else:
                    for name, held in ev["hypotheses"].items():
                        if not held:
                            broken[name] = broken.get(name, 0) + 1
                if math.isfinite(ev["ratio"]):  # the conclusion alone, hypotheses aside (evidence)
                    loose["evaluated"] += 1
                    loose["max_ratio"] = ev["ratio"] if loose["max_ratio"] is None else max(loose["max_ratio"], ev["ratio"])
                    loose["violated"] += int(ev["ratio"] > 1.0 + VIOLATION_RTOL and bool(ev.get("confirmed", True)))
                scores.append(-_score(ev))
            if bar is not None:
                bar.update(len(xs))
            if len(xs) == popsize:
                es.tell(xs, scores)
            else:
                break
    if bar is not None:
        bar.close()
    cases.sort(key=lambda ev: -ev["ratio"])
    kept = [make_case(statement, ev, device, dtype, seed) for ev in cases[:MAX_CASES]]
    return {"claim": statement.claim, "reading": statement.reading, "printed": statement.printed,
            "options": dict(statement.options), "description": statement.description,
            "budget": {"evaluations": budget_evals, "seconds": budget_seconds, "popsize": popsize},
            "seed": seed, "tried": tried, "feasible": feasible,
            "feasible_fraction": feasible / tried if tried else 0.0,
            "seconds": time.perf_counter() - start, "stopped_by": stopped_by, "restarts": restart,
            "best_ratio": None if best is None else best["ratio"],
            "best": None if best is None else {k: best[k] for k in ("ratio", "config", "hypotheses", "measured")},
            "violations": len(cases), "cases": kept, "per_variant": per_variant,
            "hypotheses_broken": broken, "conclusion_only": loose}


def replay(case: dict, device: str = "cpu", rtol: float = 1e-9) -> dict:
    """Re-run a saved case: same ratio (``rtol`` relative on the same device type and dtype, 1e-3
    elsewhere), every hypothesis re-verified, and the conclusion violated again."""
    from simulations.search.statements import make

    if not isinstance(case, dict) or case.get("kind") != KIND:
        raise ValueError(f"replay: not a {KIND} file (kind={case.get('kind') if isinstance(case, dict) else None!r})")
    missing = [k for k in ("claim", "reading", "options", "config", "expected", "dtype") if k not in case]
    if missing:
        raise ValueError(f"replay: the case lacks key(s) {', '.join(map(repr, missing))}")
    statement = make(case["claim"], case["reading"], **case["options"])
    ev = statement.evaluate([dict(case["config"])], device=device, dtype=case["dtype"])[0]
    want = float(case["expected"]["ratio"])
    tol = rtol if device == case.get("device_type", "cpu") else 1e-3
    rel = abs(ev["ratio"] - want) / max(abs(want), 1e-300)
    hyp_match = ev["hypotheses"] == case["expected"]["hypotheses"]
    return {"claim": case["claim"], "reading": case["reading"], "ratio": ev["ratio"], "expected_ratio": want,
            "relative_difference": rel, "tolerance": tol, "numbers_match": bool(rel <= tol),
            "hypotheses": ev["hypotheses"], "hypotheses_match": bool(hyp_match),
            "all_hypotheses_hold": bool(all(ev["hypotheses"].values())), "violated": bool(is_violation(ev)),
            "reproduced": bool(rel <= tol and hyp_match and is_violation(ev)), "measured": ev.get("measured", {})}
