"""Figures of the training experiment: accuracy curves with 95% bands, the tail index over
training, sharpness against the generalization gap, and escape survival curves (one PNG per case)."""
from __future__ import annotations

from pathlib import Path

from simulations.records import save_figure_atomic, write_json_atomic


def write_outputs(record: dict, out: Path) -> list[Path]:
    out = Path(out)
    paths = [write_json_atomic(out / "train.json", record)]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for case in record["results"]["cases"]:
        fig, axes = plt.subplots(1, 4, figsize=(18, 4))
        _curves(axes[0], case)
        _alpha(axes[1], case)
        _scatter(axes[2], case)
        _survival(axes[3], case)
        fig.suptitle(f"{case['dataset']} {case['model']}")
        fig.tight_layout()
        paths.append(save_figure_atomic(fig, out / f"train_{case['dataset']}_{case['model']}.png"))
        plt.close(fig)
    return paths


def _band(ax, x, band, label):
    mean = [m if m is not None else float("nan") for m in band["mean"]]
    ax.plot(x, mean, label=label)
    if all(v is not None for v in band["low"]):
        ax.fill_between(x, band["low"], band["high"], alpha=0.25)


def _curves(ax, case):
    held_out = "val_acc"
    for opt, res in case["per_optimizer"].items():
        held_out = res["curves"].get("held_out", "val_acc")
        _band(ax, res["curves"]["step"], res["curves"][held_out], f"{opt} (lr {res['selection']['lr']:g})")
    label = "test accuracy (refit on train + validation)" if held_out == "test_acc" else "validation accuracy"
    ax.set(xlabel="step", ylabel=label, title="accuracy (95% band over seeds)")
    ax.legend(fontsize=7)


def _alpha(ax, case):
    for opt in (case["baseline"], case["subject"]):
        noise = case["per_optimizer"][opt]["noise"]
        for key, style in (("alpha_pooled", "-o"), ("alpha_standardized", "--s")):
            steps = [p["step"] for p in noise]
            cis = [p["parts"]["overall"][key] for p in noise]
            est = [c["estimate"] if c["estimate"] is not None else float("nan") for c in cis]
            err = [[(e - c["low"]) if c["low"] is not None else 0 for e, c in zip(est, cis)],
                   [(c["high"] - e) if c["high"] is not None else 0 for e, c in zip(est, cis)]]
            ax.errorbar(steps, est, yerr=err, fmt=style, capsize=3, label=f"{opt} {key.split('_')[1]}")
    ax.axhline(2.0, color="k", lw=0.8)
    ax.set(xlabel="step", ylabel="tail index alpha", title="gradient noise tail index (overall)")
    ax.legend(fontsize=7)


def _scatter(ax, case):
    for opt, res in case["per_optimizer"].items():
        rows = [r for r in res["per_seed"] if r.get("lambda_max") is not None]
        ax.scatter([r["lambda_max"] for r in rows], [r["loss_gap"] for r in rows], label=opt)
    rho = case["comparison"]["spearman_lambda_gap"]
    title = "sharpness vs gap" + (f" (rho {rho['rho']:.2f})" if rho["rho"] is not None else "")
    ax.set(xlabel="lambda_max", ylabel="test loss - train loss", title=title)
    ax.legend(fontsize=7)


def _survival(ax, case):
    esc = case["escape"]
    for opt, run in esc.get("runs", {}).items():
        ax.step(run["checks"], run["survival"], where="post", label=opt)
    ax.set(xlabel="steps after warm-up", ylabel="fraction inside", ylim=(-0.05, 1.05),
           title="escape from " + esc.get("start", "-"))
    ax.legend(fontsize=7)
