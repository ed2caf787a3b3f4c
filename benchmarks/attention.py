"""The ViT's attention on a CPU: ``mae.Block`` as the course runs it (torch's fused ``scaled_dot_product_attention``,
in float32) against the same attention written out (two batched matrix products and a softmax, in float32), in
notebook 05's loops. Maintainers only: a measurement of a rejected variant, kept so that it can be rerun.

Each variant is timed in turn, ``--rounds`` times interleaved (this machine's load drifts between runs, so only
side-by-side figures compare), and the median images/s is recorded: a training step of the MAE (mask 0.75, batch
256) and of the fine-tuned ViT (batch 64), in bf16 autocast where this CPU has native bf16 and in float32, and
``extract_features`` of ``Features`` (float32) and of the ViT classifier (autocast). The loops and their steps are
``course_utils.training_loops``'. The written-out variant stands in for ``scaled_dot_product_attention`` for the
duration of its rounds (the two agree to float32 rounding; checked here before timing). Run it without
``torch.set_num_threads``: after that call the fused kernel runs 20-25 % slower on 2 cores (``mae.Block`` says more).

    .venv/bin/python -m benchmarks.attention [--rounds 4] [--seconds 1.5] [--out FILE]

Writes ``benchmarks/results/attention.json``. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from course_utils import mae
from course_utils.assign import SOLUTIONS_DIR
from course_utils.capstone import build_mae, load_your_code
from course_utils.data import load_data
from course_utils.evaluate import extract_features
from course_utils.speed import machine, native_bf16
from course_utils.training_loops import loops, measure

OUT = Path(__file__).resolve().parent / "results" / "attention.json"
FUSED = F.scaled_dot_product_attention


def written_out(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    """``softmax(q k^T / sqrt(d)) v`` for ``[N, heads, L, d]``, as two batched products and a softmax (no mask)."""
    if args or kwargs:
        return FUSED(q, k, v, *args, **kwargs)
    n, heads, length, d = q.shape
    q, k, v = (t.reshape(n * heads, length, d) for t in (q, k, v))
    return torch.bmm(torch.bmm(q * d**-0.5, k.transpose(1, 2)).softmax(-1), v).view(n, heads, length, d)


VARIANTS = {"fused kernel": FUSED, "written out": written_out}
STEPS = ("MAE, mask 0.75", "ViT fine-tuning, 1% and 10% (4 runs)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=1.5, help="timing window of a training step")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    train = load_data(train=True)
    X, y = train.images[:512], train.labels[:512]
    images = load_data(train=False).images[:3072]
    steps = {loop.name: loop for loop in loops("full", {"05"}) if loop.name in STEPS}
    dtypes = ([torch.bfloat16] if native_bf16("cpu") else []) + [None]
    vit = build_mae(load_your_code("05_mae", SOLUTIONS_DIR), seed=1)
    inference = {"Features (float32)": mae.Features(vit), "ViT classifier (autocast)": mae.ViTClassifier(vit)}
    q, k, v = torch.randn(3, 8, 4, 50, 24).unbind(0)
    torch.testing.assert_close(written_out(q, k, v), FUSED(q, k, v), rtol=1e-5, atol=1e-6)
    seen: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(args.rounds):
            for variant, fn in VARIANTS.items():
                F.scaled_dot_product_attention = fn  # what mae.Block calls
                for name, loop in steps.items():
                    for dtype in dtypes:
                        label = f"{name.split(',')[0]} step, {'bf16 autocast' if dtype else 'float32'}"
                        speed = measure(loop, X, y, dtype, True, args.seconds).images_per_s
                        seen.setdefault((label, variant), []).append(speed)
                for label, module in inference.items():
                    t0 = time.perf_counter()
                    extract_features(module, images)
                    seen.setdefault((label, variant), []).append(len(images) / (time.perf_counter() - t0))
    finally:
        F.scaled_dot_product_attention = FUSED
    rows = []
    for label in dict.fromkeys(k[0] for k in seen):
        row = {"loop": label, **{v: round(statistics.median(seen[label, v])) for v in VARIANTS},
               "rounds": {v: [round(s) for s in seen[label, v]] for v in VARIANTS}}
        row["written_out_over_fused"] = round(row["written out"] / row["fused kernel"], 2)
        rows.append(row)
        print(f"{label:42s} fused kernel {row['fused kernel']:7,} img/s | written out {row['written out']:7,} | "
              f"{row['written_out_over_fused']:.2f}x", flush=True)
    doc = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "rounds": args.rounds, "unit": "images/s, median of the rounds", "rows": rows}
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
