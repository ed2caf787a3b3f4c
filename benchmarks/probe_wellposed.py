"""Is the few-label linear probe well-posed? Its accuracy under per-feature affine maps, and its convergence (issue 33)

``course_utils.evaluate.linear_probe`` standardises its features, so a per-feature map ``x * a + b`` of the
training, test and pool features should leave its result unchanged, up to float rounding. This fits it on raw
pixels and on the released encoders' features (AE, SimCLR, MAE; the MAE is built with the solution's notebook 05
functions) with 1 and 10 labels per class (seeds 0-2) and all 60,000 labels, each three ways: the features as they
are, standardised first with the training pool's mean and std (issue 33's measurement), and after a random
per-feature affine map (``a`` log-uniform in [0.1, 10], ``b`` normal with standard deviation 3). For each fit it
records the test accuracy and the largest absolute gradient component of the probe's objective where L-BFGS
stopped (computed here from the returned classifier, so the same for every version of the probe).

``--wd-grid`` adds the measurement that sets the probe's weight decay: the probe's objective is mean cross-entropy
+ ``wd``/2 ||W||^2 on standardised features, fitted with ``wd = c / n`` for n labels and several ``c``; the labelled
subsets come from the first 50,000 training images and each fit is scored on the other 10,000 (a validation set:
the test set plays no part in the choice).

    python benchmarks/probe_wellposed.py --label before|after [--sets raw ae simclr mae] [--wd-grid]

Each run is written under its ``--label`` into ``benchmarks/results/probe_wellposed.json``, next to the others.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import time
from pathlib import Path

import torch

from course_utils.assign import SOLUTIONS_DIR
from course_utils.capstone import load_your_code, released_features
from course_utils.data import load_data
from course_utils.evaluate import _ProbeObjective, extract_features, linear_probe, per_class_subset
from course_utils.speed import machine

OUT = Path(__file__).resolve().parent / "results" / "probe_wellposed.json"
TAKES_POOL = "pool" in inspect.signature(linear_probe).parameters


def feature_sets(names: list[str]):
    sets = {}
    if "raw" in names:
        sets["raw pixels"] = None
    code = load_your_code("05_mae", SOLUTIONS_DIR) if "mae" in names else None
    for name in ("ae", "simclr", "mae"):
        if name in names:
            got = released_features(name, code)
            if got is not None:
                sets[f"released {name}"] = got[0]
    return sets


def grad_max(result, ftr, ytr, weight_decay: float) -> float:
    """The largest |gradient component| of mean CE + wd/2 ||W||^2 at the returned classifier, in float64."""
    X = ((ftr.double() - result.mean.double()) / result.std.double()).nan_to_num(0.0, 0.0, 0.0)
    W, b = result.classifier.weight.detach().double(), result.classifier.bias.detach().double()
    _, gW, gb = _ProbeObjective(X, ytr, weight_decay)(W, b)
    return max(gW.abs().max().item(), gb.abs().max().item())


def probe(ftr, ytr, fte, yte, pool, max_iter: int, **kw):
    if TAKES_POOL:
        kw["pool"] = pool
    t0 = time.perf_counter()
    r = linear_probe(ftr, ytr, fte, yte, max_iter=max_iter, num_classes=10, **kw)
    seconds = time.perf_counter() - t0
    wd = getattr(r, "weight_decay", kw.get("weight_decay", 1e-4))
    return r, {"accuracy": round(r.accuracy, 4), "grad_max": float(f"{grad_max(r, ftr, ytr, wd):.3g}"),
               "converged": getattr(r, "converged", None), "iterations": getattr(r, "iterations", None),
               "weight_decay": float(f"{wd:.4g}"), "seconds": round(seconds, 2)}


def affine(D: int, seed: int):
    g = torch.Generator().manual_seed(1000 + seed)
    a = torch.exp(torch.empty(D).uniform_(math.log(0.1), math.log(10.0), generator=g))
    b = 3 * torch.randn(D, generator=g)
    return lambda F: F * a + b


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--label", required=True, help="the name this run is recorded under (before, after)")
    ap.add_argument("--sets", nargs="+", default=["raw", "ae", "simclr", "mae"], choices=["raw", "ae", "simclr", "mae"])
    ap.add_argument("--per-class", type=int, nargs="+", default=[1, 10])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--no-all", action="store_true", help="skip the probes on all 60,000 labels")
    ap.add_argument("--max-iter", type=int, default=200)
    ap.add_argument("--wd-grid", action="store_true", help="also the validation accuracy against c in wd = c / n")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    train, test = load_data(train=True), load_data(train=False)
    ytr_all, yte = train.labels, test.labels
    rows, grid = [], []
    for name, module in feature_sets(args.sets).items():
        t0 = time.perf_counter()
        ftr_all, fte = extract_features(module, train.images), extract_features(module, test.images)
        print(f"{name}: features {tuple(ftr_all.shape)} in {time.perf_counter() - t0:.0f} s", flush=True)
        mean, std = ftr_all.mean(0), ftr_all.std(0)
        keep = std > 0
        transforms = {
            "as is": lambda F: F,
            "pool-standardised": lambda F: torch.where(keep, (F - mean) / std.clamp_min(1e-12), F),
        }
        budgets = [(pc, s) for pc in args.per_class for s in args.seeds] + ([] if args.no_all else [(None, 0)])
        for pc, seed in budgets:
            idx = per_class_subset(ytr_all, pc, seed=seed)
            ts = dict(transforms, **{"affine": affine(ftr_all.shape[1], seed)})
            row = {"features": name, "dim": ftr_all.shape[1], "per_class": pc or "all", "seed": seed}
            for tname, t in ts.items():
                pool = t(ftr_all)
                _, row[tname] = probe(pool[idx], ytr_all[idx], t(fte), yte, pool, args.max_iter)
            row["affine_changes_accuracy_by"] = round(row["affine"]["accuracy"] - row["as is"]["accuracy"], 4)
            rows.append(row)
            print(f"  {pc or 'all'!s:>3}/class seed {seed}: " + ", ".join(
                f"{t} {row[t]['accuracy']:.4f} (|g| {row[t]['grad_max']:.1e})" for t in ts), flush=True)
        if args.wd_grid and TAKES_POOL:
            first = torch.arange(50_000)
            fval, yval = ftr_all[50_000:], ytr_all[50_000:]
            for pc in args.per_class + [100]:
                for seed in args.seeds:
                    idx = first[per_class_subset(ytr_all[first], pc, seed=seed)]
                    for c in (0.06, 0.6, 2.0, 6.0, 20.0, 60.0):
                        r, m = probe(ftr_all[idx], ytr_all[idx], fval, yval, ftr_all[first], args.max_iter,
                                     weight_decay=c / len(idx))
                        grid.append({"features": name, "per_class": pc, "seed": seed, "c": c,
                                     "val_accuracy": m["accuracy"], "converged": m["converged"],
                                     "iterations": m["iterations"]})
                print(f"  wd grid, {pc}/class: " + ", ".join(
                    f"c={c}: {sum(g['val_accuracy'] for g in grid if g['features'] == name and g['per_class'] == pc and g['c'] == c) / len(args.seeds):.4f}"  # noqa: E501
                    for c in (0.06, 0.6, 2.0, 6.0, 20.0, 60.0)), flush=True)
    doc = json.loads(args.out.read_text()) if args.out.exists() else {}
    doc[args.label] = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                       "max_iter": args.max_iter, "n_test": len(yte), "rows": rows}
    if grid:
        doc[args.label]["wd_grid"] = grid
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out} [{args.label}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
