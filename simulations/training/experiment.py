"""Configs, presets and the run contract of the training experiment (``amlab train``).

``run_case`` trains every (optimizer, lr, seed) unit of a :class:`~simulations.training.train.TrainConfig`
(resumable through a :class:`~simulations.training.units.UnitStore`), picks each optimizer's
learning rate on the validation split, trains the picked rate again on train + validation
(``refit``, the default: the benchmark's published accuracies train on all 4000 MNIST-1D training
examples), and on those final runs measures test accuracy, sharpness, relative flatness, the
generalization gap, and escape from the baseline's minimum. The gradient noise is read on the
tuning runs at the picked rate.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from simulations.records import make_record
from simulations.runtime import resolve_device
from simulations.training import summary as S
from simulations.training.real_escape import run_escape
from simulations.training.reference import check as reference_check
from simulations.training.sharpness import measure
from simulations.training.train import Context, TrainConfig, train_units, unit_key
from simulations.training.units import UnitStore
from simulations.training.verdicts import ledger_rows as _ledger_rows

DEFAULT_SUBJECT, DEFAULT_BASELINE = "adamomentum", "adam"
LR_GRID = (0.1, 0.01, 0.0015, 0.001, 0.0005)  # Appendix D's alpha grid for adaptive methods


@dataclass(frozen=True)
class Analysis:
    """End-of-training measurements; ``hessian_samples`` None: the whole training split."""

    lanczos: int = 20
    probes: int = 10
    hessian_samples: int | None = None
    escape_replicates: int = 8
    escape_warmup: int = 200
    escape_horizon: int = 1000
    escape_check: int = 20
    escape_rise: float = 0.1
    escape_eval_samples: int = 1000

    def __post_init__(self) -> None:
        for label in ("lanczos", "probes", "escape_replicates", "escape_horizon", "escape_check", "escape_eval_samples"):
            value = getattr(self, label)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{label} must be an integer >= 1, got {value!r}")
        if self.escape_replicates < 2:
            raise ValueError(f"escape_replicates must be >= 2, got {self.escape_replicates}")
        if not self.escape_rise > 0:
            raise ValueError(f"escape_rise must be > 0, got {self.escape_rise}")


SCALES = {
    "smoke": (dict(lrs=(0.01,), seeds=2, steps=40, evals=2, noise_points=(0.0, 1.0), noise_draws=4, noise_coords=64),
              Analysis(lanczos=4, probes=2, hessian_samples=200, escape_replicates=2, escape_warmup=5,
                       escape_horizon=20, escape_check=10, escape_eval_samples=200)),
    "quick": (dict(lrs=(0.01, 0.001), seeds=3, steps=1000, evals=10, noise_points=(0.0, 0.5, 1.0), noise_draws=16,
                   noise_coords=512),
              Analysis(lanczos=12, probes=4, hessian_samples=1000, escape_replicates=8, escape_warmup=100,
                       escape_horizon=400, escape_check=20, escape_eval_samples=1000)),
    "full": (dict(lrs=LR_GRID, seeds=5, steps=6000, evals=30, noise_points=(0.0, 0.1, 0.5, 1.0), noise_draws=32,
                  noise_coords=2048),
             Analysis(lanczos=30, probes=10, hessian_samples=None, escape_replicates=16, escape_warmup=300,
                      escape_horizon=2000, escape_check=20, escape_eval_samples=4000)),
}
CASES = {"smoke": (("mnist1d", "mlp"),), "quick": (("mnist1d", "mlp"),),
         "full": (("mnist1d", "mlp"), ("mnist1d", "cnn"), ("digits", "mlp"))}


def preset(scale: str, dataset: str = "mnist1d", model: str = "mlp", **changes) -> tuple[TrainConfig, Analysis]:
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {tuple(SCALES)}, got {scale!r}")
    fields, analysis = SCALES[scale]
    return TrainConfig(dataset=dataset, model=model, **{**fields, **changes}), analysis


def run_case(config: TrainConfig, analysis: Analysis, subject: str = DEFAULT_SUBJECT,
             baseline: str = DEFAULT_BASELINE, progress: bool = False, store: UnitStore | None = None) -> dict:
    """Everything for one dataset / model (see the module docstring); a JSON-safe dict."""
    if subject == baseline:
        raise ValueError(f"subject and baseline must differ, got {subject!r} twice")
    for name in (baseline, subject):
        if name not in config.optimizers:
            raise ValueError(f"optimizers must include the subject and the baseline ({subject}, {baseline}); "
                             f"got {', '.join(config.optimizers)}")
    config = replace(config, noise_optimizers=(baseline, subject))
    store = store or UnitStore(None, config.fingerprint())
    ctx = Context(config)
    for optimizer in config.optimizers:
        pending = [(lr, s) for lr in config.lrs for s in range(config.seeds)
                   if not store.has(unit_key(optimizer, lr, s))]
        if pending:
            for unit, params in train_units(ctx, optimizer, pending, progress):
                store.save(unit, params)
    units = {opt: [store.load(unit_key(opt, lr, s))[0] for lr in config.lrs for s in range(config.seeds)]
             for opt in config.optimizers}
    choices = {opt: S.select_lr(units[opt], opt, config.lrs) for opt in config.optimizers}
    final_ctx = Context(config, refit=True) if config.refit else ctx
    if config.refit:  # the picked lr once more, on train + validation (how the benchmark trains)
        for opt in config.optimizers:
            pending = [(choices[opt]["lr"], s) for s in range(config.seeds)
                       if not store.has(unit_key(opt, choices[opt]["lr"], s, refit=True))]
            if pending:
                for unit, params in train_units(final_ctx, opt, pending, progress):
                    store.save(unit, params)
    per_optimizer, chosen_params = {}, {}
    for opt in config.optimizers:
        choice = choices[opt]
        tuned = [u for u in units[opt] if u["lr"] == choice["lr"]]
        chosen = [store.load(unit_key(opt, choice["lr"], s, refit=True))[0] for s in range(config.seeds)] \
            if config.refit else tuned
        chosen_params[opt] = np.stack([store.load(u["key"])[1] for u in chosen])
        per_optimizer[opt] = {"selection": choice, "accuracy": S.accuracy_summary(chosen),
                              "curves": S.curve_bands(chosen), "noise": S.noise_summary(tuned),
                              "per_seed": [{"seed": u["seed"], **u["final"], "diverged": u["diverged"]} for u in chosen]}
    _flatness(final_ctx, analysis, per_optimizer, chosen_params)
    compare = _comparison(per_optimizer, subject, baseline)
    escape = _escape(final_ctx, analysis, per_optimizer, chosen_params, subject, baseline)
    split = ctx.split.sizes()
    split["final_training"] = split["train"] + split["validation"] if config.refit else split["train"]
    case = {"dataset": config.dataset, "model": config.model, "subject": subject, "baseline": baseline,
            "split": split, "params": ctx.model.dim, "config": config.fingerprint(),
            "optimizers": list(config.optimizers), "analysis": analysis.__dict__, "per_optimizer": per_optimizer,
            "comparison": compare, "escape": escape}
    case["reference"] = reference_check(case)
    return case


def _flatness(ctx: Context, analysis: Analysis, per_optimizer: dict, chosen_params: dict) -> None:
    x, y = ctx.data["train"]
    if analysis.hessian_samples is not None:
        x, y = x[: analysis.hessian_samples], y[: analysis.hessian_samples]
    for opt, params in chosen_params.items():
        p = torch.as_tensor(params, device=ctx.device, dtype=ctx.dtype)
        finite = torch.isfinite(p).all(1)
        found = {"lambda_max": [None] * len(p), "relative_flatness": [None] * len(p)}
        if finite.any():
            got = measure(ctx.model, p[finite], x, y, analysis.lanczos, analysis.probes, seed=ctx.config.seed)
            rows = torch.nonzero(finite).flatten().tolist()
            for key in found:
                for r, v in zip(rows, got[key]):
                    found[key][r] = v
        for r, row in enumerate(per_optimizer[opt]["per_seed"]):
            row["lambda_max"], row["relative_flatness"] = found["lambda_max"][r], found["relative_flatness"][r]
            row["loss_gap"] = S.num(row["test_loss"]) - S.num(row["train_loss"])
            row["acc_gap"] = S.num(row["train_acc"]) - S.num(row["test_acc"])
        per_optimizer[opt]["flatness"] = {k: S.interval([row[k] for row in per_optimizer[opt]["per_seed"]])
                                          for k in ("lambda_max", "relative_flatness", "loss_gap", "acc_gap")}


def _comparison(per_optimizer: dict, subject: str, baseline: str) -> dict:
    s, b = per_optimizer[subject]["per_seed"], per_optimizer[baseline]["per_seed"]
    rows = [row for opt in per_optimizer.values() for row in opt["per_seed"]]
    return {"test_acc_difference": S.paired([r["test_acc"] for r in s], [r["test_acc"] for r in b], log=False),
            "lambda_max_ratio": S.paired([r["lambda_max"] for r in s], [r["lambda_max"] for r in b], log=True),
            "relative_flatness_ratio": S.paired([r["relative_flatness"] for r in s],
                                                [r["relative_flatness"] for r in b], log=True),
            "spearman_lambda_gap": S.spearman([S.num(r["lambda_max"]) for r in rows], [r["loss_gap"] for r in rows]),
            "spearman_flatness_gap": S.spearman([S.num(r["relative_flatness"]) for r in rows],
                                                [r["loss_gap"] for r in rows])}


def _escape(ctx, analysis: Analysis, per_optimizer: dict, chosen_params: dict, subject: str, baseline: str) -> dict:
    lr = per_optimizer[baseline]["selection"]["lr"]
    start = torch.as_tensor(chosen_params[baseline][0], device=ctx.device, dtype=ctx.dtype)
    if not torch.isfinite(start).all():
        return {"skipped": f"the baseline's minimum (seed 0 at lr {lr:g}) is not finite"}
    runs = {opt: run_escape(ctx, start, opt, lr, analysis.escape_replicates, analysis.escape_warmup,
                            analysis.escape_horizon, analysis.escape_check, analysis.escape_rise,
                            analysis.escape_eval_samples, seed=ctx.config.seed)
            for opt in (baseline, subject)}
    return {"start": f"{baseline} seed 0 at lr {lr:g}", "lr": lr, "runs": runs,
            "summary": S.escape_summary(runs, subject, baseline)}


def run_scale(scale: str = "quick", device: str = "auto", progress: bool = False,
              subject: str = DEFAULT_SUBJECT, baseline: str = DEFAULT_BASELINE) -> dict:
    """Every case of ``scale`` (quick: MNIST-1D MLP; full: also the CNN and digits) as one record."""
    dev = str(resolve_device(device))
    cases = []
    for dataset, model in CASES[_scale(scale)]:
        config, analysis = preset(scale, dataset, model, optimizers=(baseline, subject), device=dev)
        cases.append(run_case(config, analysis, subject, baseline, progress))
    return make_record("training", {"scale": scale, "device": dev, "subject": subject, "baseline": baseline},
                       {"cases": cases}, seed=0)


def _scale(scale: str) -> str:
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {tuple(SCALES)}, got {scale!r}")
    return scale


def ledger_rows(record: dict) -> list[dict]:
    return _ledger_rows(record)


def write_outputs(record: dict, out: Path) -> list[Path]:
    from simulations.training.figures import write_outputs as _write

    return _write(record, Path(out))


def headline_table(record: dict) -> tuple[str, list[str], list[list[str]]]:
    """(title, columns, rows): per case and optimizer, the tuned lr, test accuracy and lambda_max."""
    columns = ["case", "optimizer", "tuned lr", "test accuracy (95% CI over seeds)", "lambda_max", "relative flatness"]
    rows = []
    for case in record["results"]["cases"]:
        for opt, res in case["per_optimizer"].items():
            rows.append([f"{case['dataset']} {case['model']}", opt, f"{res['selection']['lr']:g}",
                         _ci_text(res["accuracy"]["test_acc"]), _ci_text(res["flatness"]["lambda_max"]),
                         _ci_text(res["flatness"]["relative_flatness"])])
    return "Real training: tuned test accuracy and sharpness", columns, rows


def _ci_text(ci: dict) -> str:
    if ci.get("estimate") is None:
        return "n/a"
    if ci.get("low") is None:
        return f"{ci['estimate']:.4g}"
    return f"{ci['estimate']:.4g} [{ci['low']:.4g}, {ci['high']:.4g}]"
