"""The linear probe in float32 against float64: the same test accuracy, in how much time (issue 16).

``course_utils.evaluate.linear_probe`` is the course's one probe (notebooks 02, 04, 05 and about 150 probes in
06). This fits it on all 60,000 Fashion-MNIST training images with both precisions, alternating, on two feature
sets: the raw pixels (784) and the course's CNN encoder f with random weights (width 24: 96 features), and
records seconds, L-BFGS iterations and test accuracy.

    python benchmarks/probe_precision.py --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from course_utils.data import load_data
from course_utils.evaluate import extract_features, linear_probe
from course_utils.simclr import Encoder

OUT = Path(__file__).resolve().parent / "results" / "probe_precision.json"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    train, test = load_data(train=True), load_data(train=False)
    torch.manual_seed(0)
    f = Encoder(24)
    sets = {"raw pixels (784)": (train.images.flatten(1), test.images.flatten(1)),
            "random CNN f, width 24 (96)": (extract_features(f, train.images), extract_features(f, test.images))}
    rows = []
    for _ in range(args.rounds):
        for name, (ftr, fte) in sets.items():
            for dtype in (torch.float64, torch.float32):
                t0 = time.perf_counter()
                r = linear_probe(ftr, train.labels, fte, test.labels, max_iter=200, dtype=dtype)
                rows.append({"features": name, "dtype": str(dtype).replace("torch.", ""),
                             "seconds": round(time.perf_counter() - t0, 2), "test_accuracy": round(r.accuracy, 4),
                             "train_accuracy": round(r.train_accuracy, 4)})
                print(json.dumps(rows[-1]), flush=True)
    summary = {}
    for name in sets:
        by = {d: [r for r in rows if r["features"] == name and r["dtype"] == d] for d in ("float64", "float32")}
        best = {d: min(r["seconds"] for r in v) for d, v in by.items()}
        summary[name] = {"float64_s": best["float64"], "float32_s": best["float32"],
                         "speedup": round(best["float64"] / best["float32"], 2),
                         "accuracy_float64": by["float64"][0]["test_accuracy"],
                         "accuracy_float32": by["float32"][0]["test_accuracy"]}
    doc = {"machine": f"{os.cpu_count()} cores", "threads": torch.get_num_threads(),
           "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "n_train": len(train.images),
           "rows": rows, "summary": summary}
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    for name, s in summary.items():
        print(f"{name}: float64 {s['float64_s']} s, float32 {s['float32_s']} s ({s['speedup']}x); "
              f"test accuracy {s['accuracy_float64']} vs {s['accuracy_float32']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
