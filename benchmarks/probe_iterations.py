"""The linear probe's L-BFGS iterations against its test accuracy: may the profile's ``probe_iters`` go down? (issue 16)

``course_utils.evaluate.linear_probe`` stops after ``max_iter`` iterations (the ``full`` profile: 200). This fits it
on all 60,000 Fashion-MNIST training images at several iteration counts on the feature sets the notebooks probe: raw
pixels, the CNN encoder f with random weights (width 24), and the course's released encoders (AE, DAE, VAE, SimCLR,
MAE; the MAE is built with the solution's notebook 05 functions). It records each probe's test accuracy and seconds.

    python benchmarks/probe_iterations.py [--iters 50 100 150 200 300]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from course_utils.assign import SOLUTIONS_DIR
from course_utils.capstone import load_your_code, released_features
from course_utils.data import load_data
from course_utils.evaluate import extract_features, linear_probe
from course_utils.simclr import Encoder
from course_utils.speed import machine

OUT = Path(__file__).resolve().parent / "results" / "probe_iterations.json"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iters", type=int, nargs="+", default=[50, 100, 150, 200, 300])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    train, test = load_data(train=True), load_data(train=False)
    sets = {"raw pixels": lambda X: X.flatten(1)}
    torch.manual_seed(0)
    random_f = Encoder(24)
    sets["random CNN f, width 24"] = lambda X: extract_features(random_f, X)
    code = load_your_code("05_mae", SOLUTIONS_DIR)
    for name in ("ae", "dae", "vae", "simclr", "mae"):
        got = released_features(name, code)
        if got is not None:
            sets[f"released {name}"] = lambda X, m=got[0]: extract_features(m, X)
    rows = []
    for name, features in sets.items():
        ftr, fte = features(train.images), features(test.images)
        for it in args.iters:
            t0 = time.perf_counter()
            acc = linear_probe(ftr, train.labels, fte, test.labels, max_iter=it).accuracy
            rows.append(
                {
                    "features": name,
                    "dim": ftr.shape[1],
                    "max_iter": it,
                    "test_accuracy": round(acc, 4),
                    "seconds": round(time.perf_counter() - t0, 2),
                }
            )
        print(
            f"{name:24s} {ftr.shape[1]:4d}  "
            + "  ".join(
                f"{r['max_iter']}: {r['test_accuracy']:.4f} ({r['seconds']} s)" for r in rows if r["features"] == name
            ),
            flush=True,
        )
    doc = {
        "machine": machine(),
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "n_train": len(train.images),
        "n_test": len(test.images),
        "rows": rows,
    }
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
