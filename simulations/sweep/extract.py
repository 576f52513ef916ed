"""Turn one command's JSON record into table rows: one extractor per command, keyed by its name.

Rows hold the headline numbers only (estimates with their interval ends); the record under
DIR/points/<id>/ keeps everything else. A row is per optimizer x seed where the record has
per-seed values (regret, train), else per optimizer (escape, nonconvex) or per test function x optimizer (toys).
"""
from __future__ import annotations

import math
from typing import Any, Callable


def _num(value: Any) -> float | None:
    """A record number as a float: to_jsonable writes non-finite floats as strings."""
    if value is None:
        return None
    if isinstance(value, str):
        return float(value)  # "inf", "-inf", "nan"
    if isinstance(value, bool):
        return float(value)
    return float(value)


def _interval(prefix: str, block: dict | None) -> dict:
    """estimate/low/high of a record interval as three columns."""
    block = block or {}
    return {prefix: _num(block.get("estimate")), f"{prefix}_low": _num(block.get("low")),
            f"{prefix}_high": _num(block.get("high"))}


def _holds(monitor: dict | None) -> bool | None:
    return None if monitor is None else monitor.get("holds")


def regret_rows(record: dict) -> list[dict]:
    rows = []
    for s in record["results"]["summaries"]:
        steps = s["steps"]
        th = s.get("theorem1") or {}
        monitors = s.get("monitors") or {}
        per_member = {
            "member": s["member"], "steps_T": steps, "seeds_run": s["seeds"],
            **_interval("regret_mean", s["regret"]),
            **_interval("avg_regret_mean", s["avg_regret"]),
            "slope_log_regret": _num((s.get("slope_log_regret") or {}).get("slope")),
            "rhs_final_mean": _num((th.get("rhs_final") or {}).get("estimate")),
            "bound_ratio_max": _num(th.get("max_ratio_regret_to_rhs")),
            "rhs_infinite_runs": th.get("rhs_infinite_runs"),
            "runs_hypotheses_hold": th.get("runs_hypotheses_hold"),
            "violations_where_hypotheses_hold": th.get("violations_where_hypotheses_hold"),
            "gamma_below_one": _holds(monitors.get("gamma_below_one")),
        }
        hyp = th.get("hypotheses_hold_per_run")
        v_per_run = ((monitors.get("v_nondecreasing") or {}).get("details") or {}).get("per_run")
        x_final = s.get("x_final")
        for k, avg in enumerate(s["avg_regret_per_seed"]):
            regret = _num(avg) * steps
            rows.append({**per_member, "seed_index": k, "regret_final": regret, "avg_regret_final": _num(avg),
                         "regret_over_sqrt_T": regret / math.sqrt(steps),
                         "x_final": _num(x_final[k]) if x_final is not None else None,
                         "hypotheses_hold": hyp[k] if hyp is not None else None,
                         "v_nondecreasing": v_per_run[k] if v_per_run is not None else None})
    return rows


def escape_rows(record: dict) -> list[dict]:
    res = record["results"]
    if "results" not in res:
        raise ValueError("escape: a preset record (--preset) has no single-run results to tabulate")
    # Point-level ratios (subject over baseline), repeated on each optimizer's row.
    ratios = {}
    for key, value in res.items():
        if key.startswith(("ratio_", "restricted_ratio_")) and isinstance(value, dict):
            ratios.update(_interval(key, value))
    rows = []
    for member, r in res["results"].items():
        met = r["mean_escape_time"]
        assumptions = r.get("assumptions") or {}
        rows.append({
            "member": member, "paths_simulated": met["paths"], "paths_escaped": met["escaped"],
            **_interval("fraction_escaped", met.get("fraction_escaped")),
            "exit_time_mean": _num(met.get("estimate")), "exit_time_mean_low": _num(met.get("low")),
            "exit_time_mean_high": _num(met.get("high")), "exit_time_method": met.get("method"),
            **_interval("exit_time_restricted_mean", met.get("restricted_mean")),
            "horizon": _num(met.get("horizon")),
            "exit_time_predicted": _num((r.get("prediction") or {}).get("value")),
            **{f"{name.replace('-', '_')}_holds": _holds(mon) for name, mon in assumptions.items()
               if isinstance(mon, dict) and "holds" in mon},
            **ratios,
        })
    return rows


def nonconvex_rows(record: dict) -> list[dict]:
    rows = []
    for run in record["results"]["runs"]:
        for member, m in run["members"].items():
            ci = m.get("min_mean_grad_sq_ci") or [[None], [None]]
            rhs = m.get("rhs") or {}
            th2 = (rhs.get("theorem-2") or {}).get("rhs") or [None]
            min_sq = _num(m["min_mean_grad_sq"][-1])
            rhs_final = _num(th2[-1])
            fit = m.get("fit") or {}
            verdict = m.get("verdict") or {}
            rows.append({
                "member": member, "problem_run": run["problem"], "lr_used": _num(run.get("lr")),
                "steps_T": m.get("T_valid"),
                "min_grad_sq": min_sq, "min_grad_sq_low": _num(ci[0][-1]), "min_grad_sq_high": _num(ci[1][-1]),
                "mean_grad_sq_final": _num(m["mean_grad_sq"][-1]), "f_final": _num(m["f_mean"][-1]),
                "slope": _num(fit.get("slope")), "slope_low": _num(fit.get("slope_low")),
                "slope_high": _num(fit.get("slope_high")), "envelope_slope": _num(fit.get("envelope_slope")),
                "rhs_theorem2_final": rhs_final,
                "bound_ratio": (min_sq / rhs_final if min_sq is not None and rhs_final not in (None, 0.0) else None),
                "verdict_theorem2": verdict.get("theorem-2"), "verdict_corollary2": verdict.get("corollary-2"),
                **{f"{name.replace('-', '_')}_holds": _holds(mon) for name, mon in (m.get("monitors") or {}).items()},
            })
    return rows


def toys_rows(record: dict) -> list[dict]:
    toys = record["results"]["toys"]
    rows = []
    for function, f in toys["functions"].items():
        for member, o in f["optimizers"].items():
            comparison = (f.get("comparisons") or {}).get(member) or {}
            rows.append({
                "function": function, "member": member, "runs": o["runs"], "reached": o["reached"],
                **_interval("reach_proportion", o.get("reach_proportion")), "diverged": o.get("diverged"),
                **_interval("restricted_mean_steps", o.get("restricted_mean_steps")),
                "median_final_distance": _num(o.get("median_final_distance")), "lr_used": _num(o.get("lr")),
                **_interval("steps_difference_vs_subject", comparison.get("difference")),
                "outcome_vs_subject": comparison.get("outcome"),
                "function_verdict": f.get("verdict"), "claim_verdict": toys.get("claim_verdict"),
            })
    return rows


def train_rows(record: dict) -> list[dict]:
    rows = []
    for case in record["results"]["cases"]:
        escape = (case.get("escape") or {}).get("summary") or {}
        for member, res in case["per_optimizer"].items():
            acc = res.get("accuracy") or {}
            flat = res.get("flatness") or {}
            esc = escape.get(member) or {}
            per_member = {
                "member": member, "lr_selected": _num((res.get("selection") or {}).get("lr")),
                **_interval("test_acc_mean", acc.get("test_acc")), **_interval("test_loss_mean", acc.get("test_loss")),
                **_interval("lambda_max_mean", flat.get("lambda_max")),
                **_interval("escape_restricted_mean", esc.get("restricted_mean")),
                **_interval("escape_fraction", esc.get("fraction_escaped")),
            }
            for k, run in enumerate(res.get("per_seed") or [{}]):
                rows.append({**per_member, "seed_index": k, "run_seed": run.get("seed"),
                             **{name: (_num(run[name]) if name != "diverged" else run[name])
                                for name in ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc",
                                             "diverged", "lambda_max", "relative_flatness", "loss_gap", "acc_gap")
                                if name in run}})
    return rows


# command -> (record file under the point's --out, extractor)
EXTRACTORS: dict[str, tuple[str, Callable[[dict], list[dict]]]] = {
    "regret": ("regret.json", regret_rows),
    "escape": ("escape.json", escape_rows),
    "nonconvex": ("nonconvex.json", nonconvex_rows),
    "toys": ("toys.json", toys_rows),
    "train": ("train.json", train_rows),
}

# Options that make the command write another kind of record (refused up front).
UNSUPPORTED_OPTIONS = {"regret": ("search", "scale", "replay"), "escape": ("preset",),
                       "nonconvex": ("scale",)}
