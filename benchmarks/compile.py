"""``torch.compile`` on a CPU: the training steps of notebooks 04 and 05 eager (as the notebooks run them) and with
their model compiled by torch's default backend (inductor, which needs a C++ compiler), and what the compilation
costs before the first step, with an empty compilation cache. Maintainers only: a measurement of a rejected variant,
kept so that it can be rerun.

A compiled step pays off in a loop of ``images`` images only if ``compile seconds`` is smaller than the time it
saves, ``images / eager - images / compiled``; the table prints both (``net saving``; negative: a loss). The
notebooks train each model once per run, with an empty compilation cache on a student's first run, so the
compilation is paid in full there. The steps are ``course_utils.training_loops``' (bf16 autocast where
this CPU has native bf16, fused optimizers), eager and compiled in turn, ``--rounds`` times interleaved, the median
recorded.

    .venv/bin/python -m benchmarks.compile [--notebooks 04 05] [--rounds 4] [--seconds 1.5]

Writes ``benchmarks/results/compile.json``. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from course_utils.data import load_data
from course_utils.speed import machine, native_bf16, timed
from course_utils.training_loops import loops, make_step

OUT = Path(__file__).resolve().parent / "results" / "compile.json"
STEPS = ("SimCLR, width", "MAE, mask 0.75", "ViT fine-tuning")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notebooks", nargs="*", default=["04", "05"])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=1.5, help="timing window of a training step")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    # an empty compilation cache, as on a student's first run (inductor reads this when it first compiles)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")
    data = load_data(train=True)
    X, y = data.images[:4096], data.labels[:4096]
    dtype = torch.bfloat16 if native_bf16("cpu") else None
    rows = []
    for loop in loops("full", set(args.notebooks)):
        if not loop.name.startswith(STEPS):
            continue
        row = {"loop": loop.name, "images": loop.images, "batch": loop.batch}
        steps, speeds = {}, {}
        for label, compiled in (("eager", False), ("compiled", True)):
            steps[label] = make_step(loop, X, y, dtype if loop.autocast else None, True, compiled=compiled)
            t0 = time.perf_counter()
            steps[label]()  # compiles, when compiled
            row[label] = {"first_step_seconds": round(time.perf_counter() - t0, 2)}
        for _ in range(args.rounds):  # interleaved: the load of a shared machine drifts
            for label, step in steps.items():
                speeds.setdefault(label, []).append(loop.batch / timed(step, min_seconds=args.seconds))
        for label in steps:
            row[label] |= {"images_per_s": round(statistics.median(speeds[label])),
                           "rounds": [round(v) for v in speeds[label]]}
        eager, comp = row["eager"], row["compiled"]
        saved = loop.images / eager["images_per_s"] - loop.images / comp["images_per_s"]
        row["compile_seconds"] = round(comp["first_step_seconds"] - eager["first_step_seconds"], 1)
        row["net_saving_seconds"] = round(saved - row["compile_seconds"], 1)
        rows.append(row)
        print(f"{loop.name:40s} eager {eager['images_per_s']:6,} img/s | compiled {comp['images_per_s']:6,} "
              f"({comp['images_per_s'] / eager['images_per_s']:.2f}x) | compiling {row['compile_seconds']:5.1f} s | "
              f"net saving over {loop.images:,} images {row['net_saving_seconds']:+.1f} s", flush=True)
    doc = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "torch": torch.__version__, "autocast": str(dtype), "rounds": args.rounds,
           "unit": "images/s, median of the rounds", "rows": rows}
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
