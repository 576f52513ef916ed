"""Counterexample search: online problems on which a method's average regret does not vanish.

Methods are any names :func:`theory.names.resolve` accepts (registry members, plugins,
``module.path:Attribute[:key=value...]``) or update rules; the replay file stores the name. For
every method, configs are drawn at random (fixed numpy seed) over Reddi et al.'s 1-D families
(``periodic``, ``stochastic-periodic``, with mean gradient r > 0 so that x* = -1) and over lr,
beta1, beta2; all configs of one member run as one batch (same configs for every member). A
config is a *candidate* when, at horizon T, (a) the iterates stay on average in the far half of F
(x averaged over the last 10% of steps >= 0), (b) the lower bound of R(T)/T is >= r / 2, with a
Bonferroni correction over the configs tried (level 1 - 0.05 / configs; deterministic ``periodic``
configs run with one seed and use the exact value), and (c) the regret has a linear part: in a
least-squares fit R(t) = a t + b sqrt(t) + c over the checkpoints in [T/100, T]
(:func:`simulations.regret.summary.linear_rate`), the lower bound on a at the same Bonferroni
level is >= r / 2 (per-seed fits for stochastic configs, fit residuals for deterministic ones);
(b) alone is met by any algorithm on configs with a small drift r. The local growth exponent of
R over the last two decades is recorded but not tested (a fading oscillation biases it to 0.5).
Slow transients can look like that, so each candidate is re-run to ``confirm_factor`` * T and kept
only if the test passes there again and x_tail has not fallen by more than :data:`X_DRIFT_MAX` (iterates not drifting towards x*). R(T)/T's ratio
over the last decade and the slope of log R are recorded too. Each confirmed counterexample is a
self-contained JSON config (``kind: regret-counterexample``) with the numbers it produced;
:func:`replay` re-runs it and checks them.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from simulations.regret.problems import ProblemConfig
from simulations.regret.simulate import OptimizerConfig, log_checkpoints, simulate
from simulations.regret.summary import increment_rates, linear_rate, summarise
from simulations.runtime import resolve_device, resolve_dtype
from theory.family import REGISTRY
from theory.names import resolve, resolve_all
from theory.stats import mean_ci

KIND = "regret-counterexample"
X_DRIFT_MAX = 0.05  # confirmation: x_tail may fall by at most this between the two horizons
RATE_FRACTION = 0.5  # (c): lower bound on the linear part a of R(t) = a t + b sqrt(t) + c >= RATE_FRACTION * drift
ALPHA = 0.05  # family-wise error of the lower bounds on R(T)/T (Bonferroni over the configs)

# The search's sizes per scale; which methods it tries is the experiment's choice
# (:func:`simulations.regret.experiment.search_members`).
SEARCH_SIZES = {
    "smoke": {"configs_per_member": 4, "steps": 300, "confirm_factor": 2, "seeds": 2},
    "quick": {"configs_per_member": 32, "steps": 3_000, "confirm_factor": 4, "seeds": 8},
    "full": {"configs_per_member": 256, "steps": 50_000, "confirm_factor": 10, "seeds": 16},
}


def sample_configs(n: int, rng: np.random.Generator) -> list[tuple[ProblemConfig, OptimizerConfig]]:
    """n random (problem, optimizer) pairs; the best point in hindsight is x* = -1 in expectation."""
    out = []
    for _ in range(n):
        stochastic = bool(rng.random() < 0.5)
        period = int(round(math.exp(rng.uniform(math.log(2), math.log(200)))))
        small = float(rng.uniform(1.0, 20.0))
        drift = float(math.exp(rng.uniform(math.log(0.005), math.log(0.5))))
        if stochastic:
            prob = float(math.exp(rng.uniform(math.log(0.005), math.log(0.3))))
            big = (1 - prob) * small * (1 + drift) / prob
            problem = ProblemConfig("stochastic-periodic", prob=prob, big=big, small=small)
        else:
            big = (period - 1) * small * (1 + drift)
            problem = ProblemConfig("periodic", period=period, big=big, small=small)
        opt = OptimizerConfig(lr=float(math.exp(rng.uniform(math.log(0.01), math.log(1.0)))),
                              beta1=float(rng.choice([0.0, 0.5, 0.9, 0.99])),
                              beta2=float(1 - 10 ** rng.uniform(-4, -0.3)), eps=1e-8)
        out.append((problem, opt))
    return out


def _tests(summary: dict, configs: int = 1) -> dict:
    """The non-vanishing-regret test on one config's summary (see the module docstring).

    On these 1-D linear problems with drift r = E g_t > 0 (so x* = -1), iterates that stay on
    average in the far half of F (x >= 0) pay at least about r per step: R(T)/T >= r (1 + x_bar).
    The test asks for x_tail_mean >= 0, the Bonferroni lower bound (level 1 - ALPHA / ``configs``)
    of R(T)/T >= r / 2, and the lower bound (same level) on the linear part a of R(t) = a t + b sqrt(t) + c
    >= RATE_FRACTION * r.
    """
    drift = ProblemConfig(**summary["problem"]).drift_rate
    avg = summary["avg_regret"]
    per_seed = np.asarray(summary.get("avg_regret_per_seed") or [avg["estimate"]], dtype=np.float64)
    level = 1 - ALPHA / max(1, int(configs))
    if per_seed.size >= 2 and np.all(np.isfinite(per_seed)) and per_seed.max() > per_seed.min():
        low = mean_ci(per_seed, level=level).low
    else:  # one seed or identical seeds (deterministic problem): the exact value
        low = float(per_seed.mean())
    x_tail = (summary["x_tail_mean"] or {}).get("estimate")
    slope = summary["slope_log_regret"]
    inc = increment_rates(summary)
    fit = linear_rate(summary, level)
    passed = (drift is not None and drift > 0 and x_tail is not None and x_tail >= 0
              and math.isfinite(low) and low >= drift / 2
              and fit is not None and fit["a_low"] >= RATE_FRACTION * drift)
    return {"linear_rate": None if fit is None else fit["a"], "linear_rate_low": None if fit is None else fit["a_low"],
            "avg_regret_ratio": summary["avg_regret_ratio"], "slope": None if slope is None else slope["slope"],
            "avg_regret": avg, "avg_regret_low_bonferroni": low, "level": level, "configs": int(configs),
            "local_growth_exponent": inc["exponent"], "x_tail_mean": x_tail, "drift_rate": drift,
            "passed": bool(passed)}


def _run_group(rule, pairs, steps, seeds, seed, bias_correction, device, dtype, progress):
    by_kind: dict[str, list[int]] = {}
    for i, (problem, _) in enumerate(pairs):
        by_kind.setdefault(problem.name, []).append(i)
    summaries: list[dict | None] = [None] * len(pairs)
    cps = log_checkpoints(steps, count=16)
    for kind, idx in by_kind.items():
        # a deterministic problem gives identical copies for every seed: run it once
        result = simulate(rule, [pairs[i][0] for i in idx], [pairs[i][1] for i in idx], steps,
                          seeds=1 if kind == "periodic" else seeds, seed=seed, bias_correction=bias_correction,
                          device=device, dtype=dtype, checkpoints=cps, progress=progress)
        for i, s in zip(idx, summarise(result, slope_ci=False)):
            summaries[i] = s
    return summaries


def _confirm(rule, pairs, first, cand, steps, seeds, seed, bias_correction, device, dtype, progress):
    """Re-run the candidates at the longer horizon; (indices confirmed, their counterexample configs)."""
    n = len(pairs)
    confirmed, found = [], []
    long = _run_group(rule, [pairs[i] for i in cand], steps, seeds, seed, bias_correction, device, dtype, progress)
    for i, s in zip(cand, long):
        test = _tests(s, n)
        # and the iterates must not be drifting towards x* (a slow transient would)
        test["x_tail_mean_first_horizon"] = _tests(first[i], n)["x_tail_mean"]
        test["passed"] = bool(test["passed"] and test["x_tail_mean"] >= test["x_tail_mean_first_horizon"] - X_DRIFT_MAX)
        if test["passed"]:
            confirmed.append(i)
            found.append(counterexample_config(s, device, dtype, test))
    return confirmed, found


def search(members=tuple(REGISTRY), configs_per_member: int = 16, steps: int = 5_000, confirm_factor: int = 5,
           seeds: int = 2, seed: int = 0, bias_correction: bool = False, device: str = "auto",
           dtype: str = "float64", progress: bool = False) -> dict:
    """Search every method of ``members`` (names or rules); the tallies and the confirmed counterexamples."""
    if configs_per_member < 1 or steps < 100 or confirm_factor < 2 or seeds < 2:
        raise ValueError("search needs configs_per_member >= 1, steps >= 100, confirm_factor >= 2, seeds >= 2 "
                         f"(got {configs_per_member}, {steps}, {confirm_factor}, {seeds})")
    rules = resolve_all(list(members))  # a bad name fails before any run
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    rng = np.random.default_rng(seed)
    pairs = sample_configs(configs_per_member, rng)  # the same configs for every method
    per_member, found, notes = {}, [], {}
    for rule in rules:
        first = _run_group(rule, pairs, steps, seeds, seed, bias_correction, dev, dt, progress)
        cand = [i for i, s in enumerate(first) if _tests(s, len(pairs))["passed"]]
        confirmed = []
        if cand:
            confirmed, more = _confirm(rule, pairs, first, cand, steps * confirm_factor, seeds, seed,
                                       bias_correction, dev, dt, progress)
            found.extend(more)
        per_member[rule.name] = {"tried": len(pairs), "candidates": len(cand), "confirmed": len(confirmed),
                                 "confirmed_configs": confirmed}
        said = list(dict.fromkeys(note for s in first for note in s.get("rule_notes", [])))
        if said:
            notes[rule.name] = said
    return {"settings": {"configs_per_member": configs_per_member, "steps": steps, "confirm_factor": confirm_factor,
                         "seeds": seeds, "seed": seed, "bias_correction": bias_correction,
                         "test": f"x_tail_mean >= 0, Bonferroni lower bound (level 1 - {ALPHA}/configs) of R(T)/T "
                                 f">= drift/2 and lower bound (same level) on a in R(t) = a t + b sqrt(t) + c over [T/100, T] "
                                 f">= {RATE_FRACTION} drift, at T and "
                                 f"confirm_factor*T; x_tail_mean falls by <= {X_DRIFT_MAX} between them; "
                                 "periodic (deterministic) configs run with one seed"},
            "configs": [{"problem": p.as_dict(), "optimizer": o.__dict__} for p, o in pairs],
            "per_member": per_member, "counterexamples": found, "rule_notes": notes}


def counterexample_config(summary: dict, device: torch.device, dtype: torch.dtype, test: dict) -> dict:
    """A self-contained, replayable description of one counterexample and what it produced."""
    opt = summary["optimizer"]
    theorem = summary.get("theorem1", {})
    return {
        "kind": KIND,
        "member": summary["member"],
        "problem": summary["problem"],
        "optimizer": {k: opt[k] for k in ("lr", "beta1", "beta2", "eps")},
        "beta1_decay": opt["beta1_decay"],
        "bias_correction": summary["bias_correction"],
        "steps": summary["steps"],
        "seeds": summary["seeds"],
        "bonferroni_configs": test.get("configs", 1),
        "seed": summary["seed"],
        "device_type": device.type,
        "dtype": str(dtype).replace("torch.", ""),
        "expected": {"avg_regret_mean": test["avg_regret"]["estimate"], "avg_regret_ratio": test["avg_regret_ratio"],
                     "slope": test["slope"], "x_tail_mean": (summary["x_tail_mean"] or {}).get("estimate"),
                     "x_tail_mean_first_horizon": test.get("x_tail_mean_first_horizon"),
                     "local_growth_exponent": test.get("local_growth_exponent"),
                     "linear_rate": test.get("linear_rate"), "linear_rate_low": test.get("linear_rate_low"),
                     "drift_rate": test["drift_rate"]},
        "theorem1_hypotheses_hold_runs": theorem.get("runs_hypotheses_hold"),
        "v_nondecreasing": summary.get("monitors", {}).get("v_nondecreasing", {}).get("holds"),
        "monitors_hold": {k: m["holds"] for k, m in summary.get("monitors", {}).items()},
        **({"rule_notes": summary["rule_notes"]} if summary.get("rule_notes") else {}),
    }


REQUIRED_KEYS = ("member", "problem", "optimizer", "steps", "seeds", "seed", "bias_correction", "expected")


def replay(config: dict, device: str = "auto", progress: bool = False, rtol: float = 1e-9) -> dict:
    """Re-run a saved counterexample; ``reproduced`` says whether its numbers came back.

    Exact agreement (``rtol``) is expected on the same device type and dtype; elsewhere the
    numbers are compared at 1e-3 and the tests (ratio, slope) are re-applied.
    """
    if not isinstance(config, dict) or config.get("kind") != KIND:
        kind = config.get("kind") if isinstance(config, dict) else None
        raise ValueError(f"replay: not a {KIND} file (kind={kind!r})")
    missing = [k for k in REQUIRED_KEYS if k not in config]
    if missing:
        raise ValueError(f"replay: the counterexample lacks key(s) {', '.join(map(repr, missing))}")
    if not isinstance(config["expected"], dict) or "avg_regret_mean" not in config["expected"]:
        raise ValueError("replay: the counterexample lacks key 'expected.avg_regret_mean'")
    dev = resolve_device(device)
    dt = resolve_dtype(config.get("dtype", "float64"))
    try:
        problem = ProblemConfig(**config["problem"])
        opt = OptimizerConfig(**config["optimizer"])
    except TypeError as err:
        raise ValueError(f"replay: bad 'problem' or 'optimizer' entry ({err})") from None
    try:
        rule = resolve(config["member"])  # the name the search recorded: registry, plugin or module:Attribute
    except ValueError as err:
        raise ValueError(f"replay: bad 'member' entry ({err})") from None
    result = simulate(rule, [problem], [opt], int(config["steps"]), seeds=int(config["seeds"]),
                      seed=int(config["seed"]), beta1_decay=config.get("beta1_decay"),
                      bias_correction=bool(config["bias_correction"]), device=dev, dtype=dt,
                      checkpoints=log_checkpoints(int(config["steps"]), count=16), progress=progress)
    summary = summarise(result, slope_ci=False)[0]
    test = _tests(summary, int(config.get("bonferroni_configs", 1)))
    same_place = dev.type == config.get("device_type")
    tol = rtol if same_place else 1e-3
    got = test["avg_regret"]["estimate"]
    want = config["expected"]["avg_regret_mean"]
    match = abs(got - want) <= tol * max(abs(want), 1e-300)
    return {"summary": summary, "test": test, "expected": config["expected"], "numbers_match": bool(match),
            "reproduced": bool(match and test["passed"]), "tolerance": tol}
