"""Throughput of the reference VAE's training, robust to a busy machine: the two pipelines alternate epoch by epoch.

``benchmarks/vae_reference.py`` times ten course epochs and then one per-sample epoch; when other jobs share the
CPUs, single epochs can be slowed several-fold. Here each round trains one epoch with the course's in-memory pipeline
(``course_utils.train.fit``) and one with the per-sample ``DataLoader`` + ``ToTensor`` pipeline (pytorch/examples),
on the same model and loss, so both see the same conditions; the speedup is reported per round, as the median and
from the fastest epochs.

    flock /tmp/course-cpu.lock python benchmarks/vae_throughput.py --rounds 3
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
from pytorch_examples import ReferenceVAE, batch_sum_loss, reference_loss, torchvision_dataset  # this folder's

from course_utils.data import load_fashion_mnist
from course_utils.train import fit

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "vae_throughput.json"))
    args = ap.parse_args()
    X = load_fashion_mnist(train=True).images
    torch.manual_seed(1)
    course_model, sample_model = ReferenceVAE(), ReferenceVAE()
    course_opt = torch.optim.Adam(course_model.parameters(), lr=1e-3)
    sample_opt = torch.optim.Adam(sample_model.parameters(), lr=1e-3)
    course_s, sample_s = [], []
    with tempfile.TemporaryDirectory() as tmp:
        loader = torch.utils.data.DataLoader(torchvision_dataset(Path(tmp), True), batch_size=128, shuffle=True)
        for r in range(args.rounds):
            h = fit(course_model, batch_sum_loss, X, epochs=1, batch_size=128, optimizer=course_opt, seed=r,
                    device="cpu", progress=False)
            course_s.append(h.seconds[0])
            sample_model.train()
            t0 = time.perf_counter()
            for data, _ in loader:
                sample_opt.zero_grad()
                recon, mu, logvar = sample_model(data)
                reference_loss(recon, data, mu, logvar).backward()
                sample_opt.step()
            sample_s.append(time.perf_counter() - t0)
            print(f"round {r + 1}: course {course_s[-1]:.2f} s, per-sample {sample_s[-1]:.2f} s, "
                  f"load {os.getloadavg()[0]:.2f}")
    ratios = [s / c for c, s in zip(course_s, sample_s)]
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "course_epoch_seconds": [round(v, 2) for v in course_s],
        "per_sample_epoch_seconds": [round(v, 2) for v in sample_s],
        "speedup_per_round": [round(v, 2) for v in ratios],
        "speedup_median": round(statistics.median(ratios), 2),
        "speedup_fastest_epochs": round(min(sample_s) / min(course_s), 2),
        "goal": 2.0,
        "load_average_at_end": os.getloadavg(),
    }
    result["met"] = result["speedup_median"] >= 2.0 and result["speedup_fastest_epochs"] >= 2.0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
