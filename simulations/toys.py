"""Section 5.1.1 / Figure 2 / Appendix A: the 2-D toy problems, and the Figure 1 stepsize sweep.

The paper shows one trajectory per optimizer on each of four functions (Sphere, Three-Hump Camel,
Beale, Ackley) and claims "AdaMomentum reaches the optimal point the fastest in all the cases".
The start point is not given, so one hand-picked start says little; here every optimizer is run
from the same set of starts and the claim gets a paired, measured verdict.

Settings (Appendix A): beta1 = 0.9 for every method; lr 0.1 for the adaptive methods on every
function; SGDM (heavy ball, momentum 0.9) lr 0.1 on Sphere, Beale and Ackley and 0.001 on
Three-Hump Camel. The paper says the adaptive methods share their hyperparameters, so RMSprop,
Adam, AdaBelief and AdaMomentum all use beta2 = 0.999 and eps = 1e-8 (each with its own eps
placement, see :mod:`theory.family`). The paper prints Beale's second constant as "2.2"; with
2.2 the stated optimum (3, 0.5) is not a minimum, so the standard 2.25 is used.

Starts: the function's box is cut into a ``starts x starts`` grid of cells and each seed draws one
start uniformly in every cell (stratified sampling; the toys themselves are deterministic, the
seed only moves the start). Optionally ``grad_noise`` adds N(0, sigma^2) noise to every gradient;
the noise of a run is drawn from a stream seeded by (seed, function name, start index) alone, so
every optimizer sees the same noise on the same start (the comparison stays paired) and it does not
depend on the order of the functions or optimizers requested.

Measure: the hitting time tau = first step t >= 0 with ||theta_t - theta*|| <= ``radius``; runs
that never hit within ``steps`` (or diverge) are "never". The comparison statistic is the
restricted mean time E[min(tau, T)] (never counts as T), compared *paired* on the same start:
d = min(tau_AdaMomentum, T) - min(tau_other, T), with a Student-t interval at level
1 - 0.05 / (number of comparisons) (Bonferroni over every function x competitor). Per function,
AdaMomentum is "fastest" when the interval of d lies below 0 for every competitor, "not fastest"
when it lies above 0 for some competitor, otherwise inconclusive. The claim's verdict is "holds"
when AdaMomentum is fastest on every function, "fails" when it is not fastest on some function,
"unchecked" when inconclusive. Reach proportions (Wilson intervals) and the mean hitting time of
the runs that do reach are reported next to it.
"""
from __future__ import annotations

import math
import time
import zlib
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch

from simulations import stepsize
from simulations.records import make_record
from simulations.runtime import generator, resolve_device, resolve_dtype
from theory.stats import mean_ci, proportion_ci
from theory.family import Hyper, get_member, init_state, step_

TOY_OPTIMIZERS = ("sgdm", "rmsprop", "adam", "adabelief", "adamomentum")
CLAIM = "sec5.1.1-toy-fastest"
SUBJECT = "adamomentum"


# --- the four functions of Appendix A (x has shape (..., 2)) -------------------------------------

def _sphere(x):
    return (x * x).sum(-1)


def _sphere_grad(x):
    return 2 * x


def _camel(x):
    a, b = x[..., 0], x[..., 1]
    return 2 * a**2 - 1.05 * a**4 + a**6 / 6 + a * b + b**2


def _camel_grad(x):
    a, b = x[..., 0], x[..., 1]
    return torch.stack((4 * a - 4.2 * a**3 + a**5 + b, a + 2 * b), dim=-1)


def _beale_terms(x):
    a, b = x[..., 0], x[..., 1]
    return a, b, 1.5 - a + a * b, 2.25 - a + a * b**2, 2.625 - a + a * b**3


def _beale(x):
    _, _, t1, t2, t3 = _beale_terms(x)
    return t1**2 + t2**2 + t3**2


def _beale_grad(x):
    a, b, t1, t2, t3 = _beale_terms(x)
    da = 2 * t1 * (b - 1) + 2 * t2 * (b**2 - 1) + 2 * t3 * (b**3 - 1)
    db = 2 * t1 * a + 4 * t2 * a * b + 6 * t3 * a * b**2
    return torch.stack((da, db), dim=-1)


def _ackley(x):
    a, b = x[..., 0], x[..., 1]
    r = torch.sqrt(0.5 * (a * a + b * b))
    cosines = 0.5 * (torch.cos(2 * math.pi * a) + torch.cos(2 * math.pi * b))
    return -20 * torch.exp(-0.2 * r) - torch.exp(cosines) + 20 + math.e


def _ackley_grad(x):
    """Gradient away from the origin; at the origin (a cone tip) the subgradient 0 is used."""
    a, b = x[..., 0], x[..., 1]
    r = torch.sqrt(0.5 * (a * a + b * b))
    safe_r = torch.where(r > 0, r, torch.ones_like(r))
    radial = torch.where(r > 0, 2 * torch.exp(-0.2 * r) / safe_r, torch.zeros_like(r))
    wave = math.pi * torch.exp(0.5 * (torch.cos(2 * math.pi * a) + torch.cos(2 * math.pi * b)))
    return torch.stack((radial * a + wave * torch.sin(2 * math.pi * a),
                        radial * b + wave * torch.sin(2 * math.pi * b)), dim=-1)


@dataclass(frozen=True)
class ToyFunction:
    """One Appendix-A function: value, closed-form gradient, optimum, box and paper lrs."""

    name: str
    label: str
    value: Callable
    gradient: Callable
    optimum: tuple
    box: tuple  # (x1 low, x1 high, x2 low, x2 high): start region and plot window
    sgdm_lr: float
    showcase_start: tuple  # the single start drawn in the trajectory figure (illustration only)
    adaptive_lr: float = 0.1


FUNCTIONS: dict[str, ToyFunction] = {
    f.name: f
    for f in (
        ToyFunction("sphere", "Sphere", _sphere, _sphere_grad, (0.0, 0.0), (-3.0, 3.0, -3.0, 3.0), 0.1,
                    (-2.5, 2.0)),
        ToyFunction("camel", "Three-Hump Camel", _camel, _camel_grad, (0.0, 0.0), (-2.0, 2.0, -2.0, 2.0),
                    0.001, (-1.5, 1.5)),
        ToyFunction("beale", "Beale", _beale, _beale_grad, (3.0, 0.5), (-4.5, 4.5, -4.5, 4.5), 0.1,
                    (1.0, 1.5)),
        ToyFunction("ackley", "Ackley", _ackley, _ackley_grad, (0.0, 0.0), (-3.0, 3.0, -3.0, 3.0), 0.1,
                    (2.2, -1.7)),
    )
}


def get_function(name: str) -> ToyFunction:
    try:
        return FUNCTIONS[name]
    except KeyError:
        raise ValueError(f"unknown toy function {name!r}; valid: {', '.join(FUNCTIONS)}") from None


# --- configuration and simulation ----------------------------------------------------------------

@dataclass(frozen=True)
class ToyConfig:
    functions: tuple = tuple(FUNCTIONS)
    optimizers: tuple = TOY_OPTIMIZERS
    steps: int = 500
    starts: int = 8  # grid cells per side
    seeds: int = 2  # starts per cell
    seed: int = 0
    radius: float = 0.05
    lr: float | None = None  # None: Appendix A's per-function, per-optimizer values
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    grad_noise: float = 0.0
    level: float = 0.95
    dtype: str = "float64"

    def __post_init__(self) -> None:
        for name in self.functions:
            get_function(name)
        for name in self.optimizers:
            try:
                get_member(name)
            except KeyError as err:
                raise ValueError(str(err)) from None
        if not self.functions or not self.optimizers:
            raise ValueError("functions and optimizers must not be empty")
        for kind, names in (("optimizer", self.optimizers), ("function", self.functions)):
            repeated = sorted({n for n in names if list(names).count(n) > 1})
            if repeated:
                raise ValueError(f"duplicate {kind} name(s): {', '.join(repeated)}; list each {kind} once")
        checks = ((self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
                  (self.starts >= 1, f"starts (grid cells per side) must be >= 1, got {self.starts}"),
                  (self.seeds >= 1, f"seeds must be >= 1, got {self.seeds}"),
                  (self.starts**2 * self.seeds >= 2, "need at least 2 starts (starts^2 * seeds >= 2)"),
                  (self.radius > 0, f"radius must be > 0, got {self.radius}"),
                  (self.lr is None or self.lr > 0, f"lr must be > 0, got {self.lr}"),
                  (self.grad_noise >= 0, f"grad_noise must be >= 0, got {self.grad_noise}"),
                  (0 < self.level < 1, f"level must be in (0, 1), got {self.level}"))
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        resolve_dtype(self.dtype)

    def lr_for(self, function: ToyFunction, optimizer: str) -> float:
        if self.lr is not None:
            return self.lr
        return function.sgdm_lr if optimizer == "sgdm" else function.adaptive_lr

    def hyper_for(self, function: ToyFunction, optimizer: str) -> Hyper:
        return Hyper(lr=self.lr_for(function, optimizer), beta1=self.beta1, beta2=self.beta2, eps=self.eps)


def start_points(function: ToyFunction, config: ToyConfig, device, dtype) -> torch.Tensor:
    """(starts^2 * seeds, 2) stratified starts: one uniform draw per grid cell per seed."""
    x_lo, x_hi, y_lo, y_hi = function.box
    k = config.starts
    gen = generator(config.seed, torch.device("cpu"))
    u = torch.rand((config.seeds, k, k, 2), generator=gen, dtype=torch.float64)
    i = torch.arange(k, dtype=torch.float64)
    cell_x = x_lo + (x_hi - x_lo) * (i.view(1, k, 1) + u[..., 0]) / k
    cell_y = y_lo + (y_hi - y_lo) * (i.view(1, 1, k) + u[..., 1]) / k
    return torch.stack((cell_x, cell_y), dim=-1).reshape(-1, 2).to(device=device, dtype=dtype)


SHOWCASE_INDEX = -1  # start index of the illustrative start in the noise seeds


def noise_seed(seed: int, function_name: str, start_index: int) -> np.random.SeedSequence:
    """The seed of one run's gradient-noise stream: a function of (seed, function name, start
    index) only (start index ``SHOWCASE_INDEX`` is the illustrative start)."""
    return np.random.SeedSequence([int(seed) % 2**64, zlib.crc32(function_name.encode()), int(start_index) + 1])


class NoiseStreams:
    """Per-run N(0, 1) streams of shape (dim,) per step, one numpy generator per run, drawn in
    chunks of steps and moved to the device a chunk at a time."""

    def __init__(self, seeds: list, dim: int, device, dtype, chunk: int = 256):
        self.gens = [np.random.Generator(np.random.PCG64(s)) for s in seeds]
        self.dim, self.device, self.dtype, self.chunk = dim, device, dtype, chunk
        self.block, self.first = None, 0

    def at(self, t: int) -> torch.Tensor:
        """Noise of step t (1-based; steps must be requested in order)."""
        if self.block is None or t - self.first >= self.block.shape[1]:
            draws = np.stack([g.standard_normal((self.chunk, self.dim)) for g in self.gens])
            self.block, self.first = torch.as_tensor(draws, device=self.device, dtype=self.dtype), t
        return self.block[:, t - self.first]


def simulate(function: ToyFunction, optimizer: str, starts: torch.Tensor, hyper: Hyper, steps: int,
             radius: float, grad_noise: float = 0.0, seed: int = 0, keep: torch.Tensor | None = None,
             start_indices: list[int] | None = None) -> dict:
    """Run ``optimizer`` from every start at once (``theory.family.step_``).

    With ``grad_noise`` > 0, run i's noise stream is seeded by ``noise_seed(seed, function.name,
    start_indices[i])`` (default start index: i), so runs of different optimizers from the same
    start index see the same noise.

    Returns per-run ``hit`` (first step within ``radius`` of the optimum, -1 if never), ``settle``
    (first step from which it stays within the radius up to ``steps``, -1 if not inside at the end),
    ``diverged`` (non-finite iterate), ``final_distance`` and the paths of the runs in ``keep``.
    """
    theta = starts.clone()
    optimum = torch.tensor(function.optimum, device=theta.device, dtype=theta.dtype)
    state = init_state(optimizer, theta)
    noise = None
    if grad_noise > 0:
        indices = range(theta.shape[0]) if start_indices is None else start_indices
        if len(indices) != theta.shape[0]:
            raise ValueError(f"start_indices has {len(indices)} entries for {theta.shape[0]} starts")
        noise = NoiseStreams([noise_seed(seed, function.name, i) for i in indices], theta.shape[-1],
                             theta.device, theta.dtype)
    distance = torch.linalg.vector_norm(theta - optimum, dim=-1)
    inside = distance <= radius
    hit = torch.where(inside, 0, -1)
    last_outside = torch.where(inside, -1, 0)
    paths = [theta[keep].clone()] if keep is not None else None
    for t in range(1, steps + 1):
        grad = function.gradient(theta)
        if noise is not None:
            grad = grad + grad_noise * noise.at(t)
        step_(optimizer, state, theta, grad, hyper)
        distance = torch.linalg.vector_norm(theta - optimum, dim=-1)
        inside = distance <= radius  # NaN compares False: a diverged run never counts as inside
        hit = torch.where(inside & (hit < 0), t, hit)
        last_outside = torch.where(inside, last_outside, t)
        if paths is not None:
            paths.append(theta[keep].clone())
    settle = torch.where(last_outside < steps, last_outside + 1, -1)
    finite = torch.isfinite(theta).all(dim=-1)
    return {"hit": hit.cpu().numpy(), "settle": settle.cpu().numpy(), "diverged": (~finite).cpu().numpy(),
            "final_distance": torch.where(finite, distance, torch.inf).cpu().numpy(),
            "paths": None if paths is None else torch.stack(paths, dim=1).cpu().numpy()}


def restricted_time(hit: np.ndarray, steps: int) -> np.ndarray:
    """min(tau, T) with never-reaching runs counted as T."""
    return np.where(hit >= 0, np.minimum(hit, steps), steps).astype(np.float64)


def _interval(samples, level) -> dict:
    x = np.asarray(samples, dtype=np.float64)
    if x.size < 2:
        return {"estimate": float(x.mean()) if x.size else math.nan, "low": math.nan, "high": math.nan,
                "level": level, "n": int(x.size)}
    return dict(mean_ci(x, level).as_dict(), n=int(x.size))


def summarize_optimizer(sim: dict, steps: int, level: float) -> dict:
    hit = sim["hit"]
    reached = hit >= 0
    return {
        "runs": int(hit.size),
        "reached": int(reached.sum()),
        "reach_proportion": proportion_ci(int(reached.sum()), int(hit.size), level).as_dict(),
        "diverged": int(sim["diverged"].sum()),
        "settled": int((sim["settle"] >= 0).sum()),
        "restricted_mean_steps": _interval(restricted_time(hit, steps), level),
        "mean_steps_if_reached": _interval(hit[reached], level),
        "median_final_distance": float(np.median(sim["final_distance"])),
    }


def compare(subject: np.ndarray, other: np.ndarray, steps: int, level: float) -> dict:
    """Paired comparison of hitting times on the same starts (subject minus other)."""
    d = restricted_time(subject, steps) - restricted_time(other, steps)
    interval = _interval(d, level)
    if np.all(d == 0):
        interval.update(low=0.0, high=0.0)
    if interval["high"] < 0:
        outcome = "faster"
    elif interval["low"] > 0:
        outcome = "slower"
    else:
        outcome = "inconclusive"
    s_hit, o_hit = subject >= 0, other >= 0
    s_time, o_time = restricted_time(subject, steps), restricted_time(other, steps)
    return {"difference": interval, "outcome": outcome,
            "subject_faster": int(np.sum(s_time < o_time)), "other_faster": int(np.sum(s_time > o_time)),
            "ties": int(np.sum(s_time == o_time)), "only_subject_reached": int(np.sum(s_hit & ~o_hit)),
            "only_other_reached": int(np.sum(~s_hit & o_hit)), "neither_reached": int(np.sum(~s_hit & ~o_hit))}


def function_verdict(comparisons: dict) -> str:
    outcomes = [c["outcome"] for c in comparisons.values()]
    if any(o == "slower" for o in outcomes):
        return "not fastest"
    if outcomes and all(o == "faster" for o in outcomes):
        return "fastest"
    return "inconclusive"


def run_toys(config: ToyConfig = ToyConfig(), device: str = "auto", progress: bool = False) -> dict:
    """Run every (function, optimizer) pair from the shared starts; return results and verdicts."""
    dev = resolve_device(device)
    dtype = resolve_dtype(config.dtype)
    competitors = [o for o in config.optimizers if o != SUBJECT]
    n_comparisons = max(1, len(config.functions) * len(competitors))
    paired_level = 1 - (1 - config.level) / n_comparisons  # Bonferroni
    pairs = [(f, o) for f in config.functions for o in config.optimizers]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(pairs), desc="toys", unit="run", leave=False)
    results = {"functions": {}, "paired_level": paired_level, "subject": SUBJECT}
    for name in config.functions:
        function = FUNCTIONS[name]
        starts = start_points(function, config, dev, dtype)
        showcase = torch.tensor([function.showcase_start], device=dev, dtype=dtype)
        all_starts = torch.cat((showcase, starts))  # run 0 is the illustrative start
        start_indices = [SHOWCASE_INDEX, *range(starts.shape[0])]  # noise: same start, same noise
        per_opt, sims = {}, {}
        for opt in config.optimizers:
            sim = simulate(function, opt, all_starts, config.hyper_for(function, opt), config.steps,
                           config.radius, config.grad_noise, seed=config.seed,
                           keep=torch.tensor([0], device=dev), start_indices=start_indices)
            sims[opt] = {k: (v[1:] if k != "paths" else v) for k, v in sim.items()}
            per_opt[opt] = summarize_optimizer(sims[opt], config.steps, config.level)
            per_opt[opt]["lr"] = config.lr_for(function, opt)
            per_opt[opt]["showcase_path"] = sim["paths"][0]
            per_opt[opt]["showcase_hit"] = int(sim["hit"][0])
            per_opt[opt]["hit"] = sims[opt]["hit"]
            if bar is not None:
                bar.update(1)
        comparisons = {}
        if SUBJECT in config.optimizers:
            comparisons = {opt: compare(sims[SUBJECT]["hit"], sims[opt]["hit"], config.steps, paired_level)
                           for opt in competitors}
        if SUBJECT not in config.optimizers:
            verdict = "no subject"  # AdaMomentum was not run
        elif not competitors:
            verdict = "no competitor"  # AdaMomentum ran alone: nothing to be fastest against
        else:
            verdict = function_verdict(comparisons)
        results["functions"][name] = {
            "label": function.label, "optimum": function.optimum, "box": function.box,
            "showcase_start": function.showcase_start, "starts": starts.cpu().numpy(),
            "optimizers": per_opt, "comparisons": comparisons, "verdict": verdict}
    if bar is not None:
        bar.close()
    return results


def claim_verdict(results: dict) -> str:
    verdicts = [f["verdict"] for f in results["functions"].values()]
    if not verdicts or any(v in ("no subject", "no competitor") for v in verdicts):
        return "unchecked"
    if any(v == "not fastest" for v in verdicts):
        return "fails"
    return "holds" if all(v == "fastest" for v in verdicts) else "unchecked"


# --- the experiment contract -----------------------------------------------------------------------

SCALES = {
    "quick": {"toys": dict(starts=6, seeds=2, steps=400),
              "stepsize": dict(peak_slopes=(0.01, 1.0), steps=3000)},
    "full": {"toys": dict(starts=12, seeds=5, steps=1000),
             "stepsize": dict()},
}


def run_scale(scale: str = "quick", device: str = "auto", progress: bool = False) -> dict:
    """The toy claim (Figure 2) and the Figure 1 area statements at ``scale``."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {tuple(SCALES)}, got {scale!r}")
    return run_experiment(ToyConfig(**SCALES[scale]["toys"]),
                          stepsize.StepsizeConfig(**SCALES[scale]["stepsize"]), device, progress, scale)


def run_experiment(config: ToyConfig, step_config: stepsize.StepsizeConfig | None = None,
                   device: str = "auto", progress: bool = False, scale: str = "custom") -> dict:
    start = time.perf_counter()
    results = {"toys": run_toys(config, device, progress)}
    if step_config is not None:
        results["stepsize"] = stepsize.run_stepsize(step_config, device="cpu")  # tiny: CPU is faster
    results["toys"]["claim_verdict"] = claim_verdict(results["toys"])
    return make_record("toys", {"toys": asdict(config),
                                "stepsize": None if step_config is None else asdict(step_config),
                                "scale": scale, "device": str(resolve_device(device))},
                       results, seed=config.seed, seconds=time.perf_counter() - start)


def _fmt(interval: dict, digits: int = 1) -> str:
    return f"{interval['estimate']:.{digits}f} [{interval['low']:.{digits}f}, {interval['high']:.{digits}f}]"


def toy_row(record: dict) -> dict:
    toys = record["results"]["toys"]
    config = record["config"]["toys"]
    parts = []
    for name, res in toys["functions"].items():
        opts = res["optimizers"]
        means = ", ".join(f"{o} {_fmt(v['restricted_mean_steps'])} (reach {v['reached']}/{v['runs']})"
                          for o, v in opts.items())
        worst = [f"{o}: {c['outcome']} (d {_fmt(c['difference'])})" for o, c in res["comparisons"].items()]
        parts.append(f"{res['label']}: {res['verdict']}; mean min(tau,T) {means}; "
                     f"AdaMomentum minus: {'; '.join(worst)}")
    evidence = (f"steps to within {config['radius']} of the optimum over {config['starts']}x{config['starts']} "
                f"stratified starts x {config['seeds']} seeds, T={config['steps']}, paired intervals at "
                f"{toys['paired_level']:.4f} (Bonferroni). " + " | ".join(parts))
    return {"claim": CLAIM, "verdict": toys["claim_verdict"], "method": "simulation", "evidence": evidence,
            "details": {name: {"verdict": res["verdict"],
                               "comparisons": {o: {"outcome": c["outcome"], "difference": c["difference"]}
                                               for o, c in res["comparisons"].items()}}
                        for name, res in toys["functions"].items()}}


def ledger_rows(record: dict) -> list[dict]:
    rows = [toy_row(record)]
    if record["results"].get("stepsize") is not None:
        rows += stepsize.stepsize_rows(record["results"]["stepsize"])
    return rows


def headline_table(record: dict) -> tuple[str, list[str], list[list[str]]]:
    """For the report: mean steps to the optimum (95% CI) and reach counts per function x optimizer."""
    functions = record["results"]["toys"]["functions"]
    opts = list(next(iter(functions.values()))["optimizers"])
    rows = []
    for res in functions.values():
        cells = [f"{_fmt(res['optimizers'][o]['restricted_mean_steps'])} ({res['optimizers'][o]['reached']}/"
                 f"{res['optimizers'][o]['runs']})" for o in opts]
        rows.append([res["label"], *cells, res["verdict"]])
    steps = record["config"]["toys"]["steps"]
    title = f"Mean min(steps to optimum, T={steps}) [95% CI] (reached/runs); lower is faster"
    return title, ["function", *opts, "AdaMomentum"], rows
