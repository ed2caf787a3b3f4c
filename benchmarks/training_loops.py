"""Images per second of every training loop of notebooks 02-05, against this machine's limit. Maintainers only.

For each loop the notebook runs in a profile (default ``full``), one optimizer step of the notebook's model and
loss (from ``solutions/``) is timed at the notebook's batch size twice: *before* (float32, torch's default per-tensor
Adam/AdamW) and *now*, as the notebook runs it (a fused optimizer; bf16 autocast where the CPU has native bfloat16
and the notebook passes ``autocast=course.autocast``). Its FLOPs per image (forward and backward,
``FlopCounterMode``) against the measured matrix product and convolution throughput give the limit, as a ratio;
images per loop over images per second give the loop's share of the notebook's time.

    .venv/bin/python -m benchmarks.training_loops [--profile full] [--notebooks 02 04] [--seconds 1.5]

Writes ``benchmarks/results/training_loops.json`` and prints one table per notebook. A measurement, not a test:
the figures depend on the machine and its load (recorded with them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from course_utils import syllabus
from course_utils.data import load_data
from course_utils.profiles import BUDGETS
from course_utils.speed import machine_peak, native_bf16
from course_utils.training_loops import loops, measure

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "training_loops.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", choices=sorted(BUDGETS), default="full")
    ap.add_argument("--notebooks", nargs="*", default=[nb.number for nb in syllabus.training()])
    ap.add_argument("--seconds", type=float, default=1.5, help="timing window per variant")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    load_before = os.getloadavg()
    data = load_data(train=True)
    X, y = data.images[:4096], data.labels[:4096]
    peak = machine_peak()
    bf16 = native_bf16("cpu")
    peak_bf16 = machine_peak(dtype=torch.bfloat16) if bf16 else None
    rows = []
    for loop in loops(args.profile, {nb.number for nb in syllabus.select(args.notebooks)} if args.notebooks else set()):
        row = {"notebook": loop.notebook, "loop": loop.name, "batch": loop.batch, "images": loop.images}
        # before: float32 and torch's default (per-tensor) optimizer; now: as the notebook runs it (fused optimizer,
        # bf16 autocast where native and where the notebook asks for it); bf16 also where the notebook does not use it
        variants = {"before": (None, False), "now": (torch.bfloat16 if bf16 and loop.autocast else None, True)}
        if bf16 and not loop.autocast:
            variants["bf16"] = (torch.bfloat16, True)
        for label, (dtype, fused) in variants.items():
            m = measure(loop, X, y, dtype, fused, args.seconds)
            p = peak if dtype is None else peak_bf16
            row[label] = {**m.to_dict(), "autocast": str(dtype).replace("torch.", "") if dtype else None,
                          "fused_optimizer": fused, "fraction_of_matmul": m.fraction_of(p["matmul"]),
                          "fraction_of_conv": m.fraction_of(p["conv"]),
                          "projected_seconds": loop.images / m.images_per_s}
        rows.append(row)
        b, n = row["before"], row["now"]
        line = (f"{loop.notebook} {loop.name:44s} {b['flops_per_image'] / 1e6:6.1f} MFLOP/img | before "
                f"{b['images_per_s']:7,.0f} img/s ({b['fraction_of_matmul']:.2f} of fp32 matmul) "
                f"{b['projected_seconds']:5.0f} s | now {n['images_per_s']:7,.0f} img/s "
                f"({n['fraction_of_matmul']:.2f} of {n['autocast'] or 'fp32'} matmul) {n['projected_seconds']:5.0f} s  "
                f"{b['projected_seconds'] / n['projected_seconds']:.2f}x")
        if "bf16" in row:
            line += f" | bf16 would be {row['bf16']['images_per_s']:,.0f} img/s"
        print(line, flush=True)
    result = {
        "profile": args.profile,
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": {"platform": platform.machine(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "torch": torch.__version__, "native_bf16": bf16, "load_average_before": load_before,
                    "load_average_after": os.getloadavg()},
        "peak_gflops": {"float32": peak, "bf16": peak_bf16},
        "loops": rows,
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"peak: matmul {peak['matmul']:.0f} GFLOP/s, conv {peak['conv']:.0f} GFLOP/s (float32)"
          + (f"; bf16 matmul {peak_bf16['matmul']:.0f}, conv {peak_bf16['conv']:.0f}" if peak_bf16 else "")
          + f"; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
