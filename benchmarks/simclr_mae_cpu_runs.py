"""Time-bounded SimCLR and MAE runs on all 60,000 training images: what a CPU reaches in a given wall time.
Maintainers only; uses the solution notebooks' functions and the notebooks' models and settings.

    flock /tmp/course-cpu.lock .venv/bin/python benchmarks/simclr_mae_cpu_runs.py simclr --minutes 15
    flock /tmp/course-cpu.lock .venv/bin/python benchmarks/simclr_mae_cpu_runs.py mae --minutes 12

The learning-rate schedule (warm-up, cosine) is stretched over the number of steps that fit in the budget,
estimated from the first steps. After training: a linear probe (200 L-BFGS iterations) and 20-NN on the
frozen features, for the trained encoder, the same encoder with random weights and raw pixels; for MAE also
fine-tuning vs from scratch on 1% and 10% of the labels (a fixed number of steps each, batches of 64 in shuffled
passes over the labelled images). Every run is ``course_utils.train.fit`` (a ``step_end`` hook plans the schedule
and stops at the budget).
Results go to benchmarks/results/<which>_cpu_run.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from course_utils.assign import SOLUTIONS_DIR, solution_namespace
from course_utils.data import load_data
from course_utils.evaluate import extract_features, knn_accuracy, linear_probe, per_class_subset
from course_utils.mae import ADAMW as MAE_ADAMW
from course_utils.mae import MAE, Features, ViTClassifier
from course_utils.profiles import BUDGETS
from course_utils.simclr import ADAMW as SIMCLR_ADAMW
from course_utils.simclr import Encoder, SimCLRModel, warmup_cosine
from course_utils.train import fit

ROOT = Path(__file__).resolve().parents[1]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {msg}", flush=True)


def train_for(model, loss_fn, X, batch_size, budget_s, lr, weight_decay, betas=(0.9, 0.999), seed=0):
    """Train with ``fit`` until the time budget is spent: after 5 steps, the number of steps that fit is estimated
    and the schedule (warm-up, cosine) spans it; every 50 steps a line."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=betas)
    plan, losses = {"total": None, "sched": None}, []

    def step_end(step, loss, model):
        if plan["sched"] is not None:
            plan["sched"].step()
        losses.append(loss.item())
        elapsed = time.perf_counter() - t0
        if step == 5 and plan["total"] is None:
            total = plan["total"] = max(10, int(budget_s / (elapsed / 5)))
            plan["sched"] = warmup_cosine(opt, total - 5, warmup_steps=min(200, total // 10))
            log(f"{elapsed / 5:.2f} s/step -> planning {total} steps ({total * batch_size / len(X):.2f} epochs)")
        if step % 50 == 0:
            log(f"step {step}/{plan['total']}: loss {sum(losses[-50:]) / 50:.4f}")
        return plan["total"] is not None and step >= plan["total"]

    t0 = time.perf_counter()
    fit(model, loss_fn, X, epochs=None, batch_size=batch_size, optimizer=opt, drop_last=True, seed=seed,
        progress=False, step_end=step_end)
    seconds = time.perf_counter() - t0
    seen = len(losses) * min(batch_size, len(X))
    return {
        "steps": len(losses),
        "images": seen,
        "epochs": seen / len(X),
        "seconds": seconds,
        "images_per_s": seen / seconds,
        "loss_first50": sum(losses[:50]) / len(losses[:50]),
        "loss_last50": sum(losses[-50:]) / len(losses[-50:]),
    }


def probe_all(encoders, Xtr, ytr, Xte, yte):
    out = {}
    for name, enc in encoders.items():
        t = time.perf_counter()
        ftr, fte = extract_features(enc, Xtr), extract_features(enc, Xte)
        out[name] = {
            "linear_probe": linear_probe(ftr, ytr, fte, yte, max_iter=200).accuracy,
            "knn20": knn_accuracy(ftr, ytr, fte, yte, k=20),
            "seconds": time.perf_counter() - t,
        }
        log(f"{name}: probe {out[name]['linear_probe']:.4f}, 20-NN {out[name]['knn20']:.4f}")
    return out


def run_simclr(budget_s, X, y, Xte, yte):
    sol = solution_namespace(SOLUTIONS_DIR / "04_simclr.ipynb")
    augment, nt_xent_loss = sol["augment"], sol["nt_xent_loss"]
    B = BUDGETS["full"]
    width, bs = B["simclr_width"], B["simclr_batch_size"]
    torch.manual_seed(0)
    model = SimCLRModel(width)
    aug_gen = torch.Generator().manual_seed(1)

    def loss_fn(model, xb, yb):
        return nt_xent_loss(model(augment(xb, generator=aug_gen)), model(augment(xb, generator=aug_gen)), 0.5)

    res = {"config": {"width": width, "batch_size": bs, "tau": 0.5, **SIMCLR_ADAMW}}
    res["train"] = train_for(model, loss_fn, X, bs, budget_s, SIMCLR_ADAMW["lr"], SIMCLR_ADAMW["weight_decay"])
    torch.manual_seed(0)
    res["eval"] = probe_all(
        {"SimCLR f (h)": model.f, "SimCLR g(f) (z)": model, "random f (h)": Encoder(width), "raw pixels": None},
        X,
        y,
        Xte,
        yte,
    )
    return res


def run_mae(budget_s, X, y, Xte, yte, finetune_steps):
    sol = solution_namespace(SOLUTIONS_DIR / "05_mae.ipynb")

    def build(seed):
        torch.manual_seed(seed)
        return MAE(sol["patchify"], sol["random_masking"], sol["masked_mse_loss"])

    bs = BUDGETS["full"]["mae_batch_size"]
    mae = build(0)
    gen = torch.Generator().manual_seed(1)

    def loss_fn(model, xb, yb):
        loss, _, _ = model(xb, 0.75, gen)
        return loss

    res = {"config": {"batch_size": bs, "mask_ratio": 0.75, "lr": MAE_ADAMW["lr"],
                      "weight_decay": MAE_ADAMW["weight_decay"]}}
    res["train"] = train_for(mae, loss_fn, X, bs, budget_s, MAE_ADAMW["lr"], MAE_ADAMW["weight_decay"],
                             betas=MAE_ADAMW["betas"])
    res["eval"] = probe_all(
        {"MAE encoder": Features(mae), "random ViT": Features(build(1)), "raw pixels": None}, X, y, Xte, yte
    )
    res["finetune"] = {}
    for frac in (0.01, 0.1):
        idx = per_class_subset(y, round(frac * len(y) / 10))
        row = {"labels": len(idx), "steps": finetune_steps}
        for init in ("mae", "scratch"):
            torch.manual_seed(1)
            clf = ViTClassifier(copy.deepcopy(mae) if init == "mae" else build(1))
            opt = torch.optim.AdamW(clf.parameters(), lr=1e-3, weight_decay=0.05)
            t = time.perf_counter()
            fit(clf, lambda m, xb, yb: F.cross_entropy(m(xb), yb), X[idx], y[idx], epochs=None, batch_size=64,
                optimizer=opt, scheduler=warmup_cosine(opt, finetune_steps, finetune_steps // 10), seed=2,
                progress=False, step_end=lambda step, loss, m: step >= finetune_steps)
            with torch.no_grad():
                acc = (extract_features(clf, Xte).argmax(1) == yte).double().mean().item()
            row[init] = acc
            row[f"{init}_seconds"] = time.perf_counter() - t
            log(f"fine-tune {frac:.0%} ({len(idx)} labels), {init}: {acc:.4f} in {row[f'{init}_seconds']:.0f} s")
        res["finetune"][f"{frac:.0%}"] = row
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("which", choices=["simclr", "mae"])
    ap.add_argument("--minutes", type=float, default=15)
    ap.add_argument("--finetune-steps", type=int, default=150)
    ap.add_argument("--subset", type=int, default=None, help="smoke test: only this many train and test images")
    args = ap.parse_args()
    X, y = load_data(True)
    Xte, yte = load_data(False)
    if args.subset:
        X, y, Xte, yte = X[: args.subset], y[: args.subset], Xte[: args.subset], yte[: args.subset]
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    if args.which == "simclr":
        res = run_simclr(args.minutes * 60, X, y, Xte, yte)
    else:
        res = run_mae(args.minutes * 60, X, y, Xte, yte, args.finetune_steps)
    res["machine"] = {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_before": load0,
        "load_average_after": os.getloadavg(),
        "total_seconds": time.perf_counter() - t0,
        "finished_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }
    out = ROOT / "benchmarks" / "results" / f"{args.which}_cpu_run{'_smoke' if args.subset else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
