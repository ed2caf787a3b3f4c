"""Feature extraction: images per second against the number of images per forward pass (issue 16).

``course_utils.evaluate.extract_features`` runs every encoder the notebooks probe: about 20 times over 70,000
images in notebook 06. This feeds the course's released encoders (and a random ViT, as 06 probes one) the same
images at several batch sizes on this machine's CPU and records images/s, and whether the features are the ones
that 512 at a time gives (to the bit, or the largest relative difference). :func:`extract_features`'s default
(:func:`course_utils.evaluate.inference_batch_size`) comes from this table.

    python -m benchmarks.inference_batch --out benchmarks/results/inference_batch.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from course_utils import capstone as cs
from course_utils.evaluate import extract_features, inference_batch_size
from course_utils.mae import Features, ViTClassifier
from course_utils.speed import autocast_dtype, machine, timed

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "inference_batch.json"
BATCHES = (64, 128, 256, 512)


def encoders() -> dict[str, torch.nn.Module]:
    """The released encoders of 06 (the CNNs at two widths, the MLPs), and the MAE's ViT as features and as a
    classifier, built from notebook 05's solution functions."""
    out = {}
    for name in ("simclr", "simclr-n60000", "ae", "vae"):
        module, _ = cs.released_features(name, None)
        out[f"released {name!r} ({type(module).__name__})"] = module
    mae = cs.build_mae(cs.load_your_code("05_mae", ROOT / "solutions"), seed=1).eval()
    out["random ViT (mae.Features)"] = Features(mae)
    out["random ViT classifier (mae.ViTClassifier)"] = ViTClassifier(mae).eval()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=8192)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    X = torch.rand(args.images, 1, 28, 28)
    rows, mods = [], encoders()
    for name, module in mods.items():
        reference = extract_features(module, X, batch_size=512)
        row = {"encoder": name, "default_batch": inference_batch_size(module), "images_per_s": {}, "same_features": {}}
        for batch in BATCHES:
            seconds = timed(lambda b=batch: extract_features(module, X, batch_size=b), min_seconds=2.0, min_reps=2)
            row["images_per_s"][batch] = round(len(X) / seconds)
            f = extract_features(module, X, batch_size=batch)
            diff = ((f - reference).abs().max() / reference.abs().max()).item()
            row["same_features"][batch] = True if diff == 0 else f"max relative difference {diff:.1e}"
        print(f"{name:>42}: " + ", ".join(f"{b}: {v:,}" for b, v in row["images_per_s"].items())
              + f" images/s (default {row['default_batch']})", flush=True)
        rows.append(row)
    chunks, default = {}, Features.chunk
    mae = next(m.mae for m in mods.values() if isinstance(m, Features))
    for chunk in (32, 64, 128):  # Features splits what it is fed into chunks of Features.chunk images
        Features.chunk = chunk
        chunks[chunk] = round(len(X) / timed(lambda: extract_features(Features(mae), X, batch_size=512),
                                             min_seconds=2.0, min_reps=2))
    Features.chunk = default
    print(f"{'mae.Features, by Features.chunk':>42}: " + ", ".join(f"{c}: {v:,}" for c, v in chunks.items()))
    record = {"machine": machine(), "autocast": str(autocast_dtype()), "images": len(X),
              "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "encoders": rows,
              "features_chunk_images_per_s": chunks}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
