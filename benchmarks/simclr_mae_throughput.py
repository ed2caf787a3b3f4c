"""Throughput of notebook 04's batched augmentation against a per-sample torchvision/PIL pipeline with the
same augmentations, and SimCLR / MAE training images per second. Maintainers only.

    flock /tmp/course-cpu.lock .venv/bin/python benchmarks/simclr_mae_throughput.py [--threads N]

Writes benchmarks/results/simclr_mae_throughput.json (numbers, machine, load average before and after) and prints
a table.
The goal from issue 4: batched augmentation >= 10x the per-sample pipeline's images/s, in the same run.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from course_utils.assign import SOLUTIONS_DIR, solution_namespace
from course_utils.data import load_data
from course_utils.mae import MAE, ViTClassifier
from course_utils.profiles import BUDGETS
from course_utils.simclr import SimCLRModel
from course_utils.speed import timed

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "simclr_mae_throughput.json"


def per_sample_pipeline():
    from torchvision import transforms as T

    return T.Compose(
        [
            T.RandomResizedCrop(28, scale=(0.25, 1.0), ratio=(3 / 4, 4 / 3)),
            T.RandomHorizontalFlip(),
            T.RandomApply([T.ColorJitter(brightness=0.4, contrast=0.4)], p=0.8),
            T.RandomApply([T.GaussianBlur(7, sigma=(0.1, 1.0))], p=0.5),
            T.ToTensor(),
            T.RandomErasing(p=0.25, scale=(0.01, 0.09), ratio=(0.33, 3.0), value=0),
        ]
    )


def main():
    from PIL import Image

    if "--threads" in sys.argv:
        torch.set_num_threads(int(sys.argv[sys.argv.index("--threads") + 1]))
    load_before = os.getloadavg()
    X, _ = load_data(True)
    s04 = solution_namespace(SOLUTIONS_DIR / "04_simclr.ipynb")
    s05 = solution_namespace(SOLUTIONS_DIR / "05_mae.ipynb")
    augment, nt_xent_loss = s04["augment"], s04["nt_xent_loss"]
    res = {
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "load_average_before": load_before,
        }
    }

    # ---- augmentation: batched tensor ops vs per-sample PIL, same augmentations, same run
    batch = X[:512]
    g = torch.Generator().manual_seed(0)
    t = timed(lambda: augment(batch, generator=g))
    batched = len(batch) / t
    pipeline = per_sample_pipeline()
    pil_images = [Image.fromarray((x[0] * 255).round().byte().numpy(), mode="L") for x in X[:1000]]
    t = timed(lambda: torch.stack([pipeline(im) for im in pil_images]), min_seconds=3.0, min_reps=1)
    per_sample = len(pil_images) / t
    res["augmentation"] = {
        "batched_images_per_s": batched,
        "per_sample_pil_images_per_s": per_sample,
        "speedup": batched / per_sample,
        "batch": len(batch),
        "goal_speedup": 10,
    }

    # ---- SimCLR training: images (pairs of views) per second, one optimizer step per batch
    res["simclr_train"] = {}
    for profile in ("fast", "full"):
        B = BUDGETS[profile]
        width, bs = B["simclr_width"], B["simclr_batch_size"]
        torch.manual_seed(0)
        model = SimCLRModel(width)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        xb = X[:bs]

        def step():
            z1, z2 = model(augment(xb, generator=g)), model(augment(xb, generator=g))
            loss = nt_xent_loss(z1, z2, 0.5)
            opt.zero_grad()
            loss.backward()
            opt.step()

        t = timed(step, min_seconds=8.0)
        res["simclr_train"][profile] = {
            "width": width,
            "batch": bs,
            "images_per_s": bs / t,
            "epoch_seconds_60k": 60000 / (bs / t),
        }

    # ---- MAE pre-training and ViT fine-tuning
    torch.manual_seed(0)
    mae = MAE(s05["patchify"], s05["random_masking"], s05["masked_mse_loss"])
    opt = torch.optim.AdamW(mae.parameters(), lr=1e-3)
    bs = BUDGETS["full"]["mae_batch_size"]
    xb = X[:bs]

    def mae_step():
        loss, _, _ = mae(xb, 0.75, g)
        opt.zero_grad()
        loss.backward()
        opt.step()

    t = timed(mae_step, min_seconds=8.0)
    res["mae_train"] = {"batch": bs, "mask_ratio": 0.75, "images_per_s": bs / t, "epoch_seconds_60k": 60000 / (bs / t)}
    clf = ViTClassifier(mae)
    opt = torch.optim.AdamW(clf.parameters(), lr=1e-3)
    yb = torch.zeros(64, dtype=torch.long)

    def ft_step():
        loss = F.cross_entropy(clf(X[:64]), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()

    t = timed(ft_step, min_seconds=5.0)
    res["vit_finetune"] = {"batch": 64, "images_per_s": 64 / t}
    res["machine"]["load_average_after"] = os.getloadavg()
    OUT.write_text(json.dumps(res, indent=1) + "\n")

    a = res["augmentation"]
    print(
        f"augmentation: batched {a['batched_images_per_s']:,.0f} img/s vs per-sample PIL "
        f"{a['per_sample_pil_images_per_s']:,.0f} img/s "
        f"-> {a['speedup']:.1f}x (goal >= 10x: {'met' if a['speedup'] >= 10 else 'NOT met'})"
    )
    for p, r in res["simclr_train"].items():
        print(
            f"SimCLR train ({p}: width {r['width']}, batch {r['batch']}): {r['images_per_s']:.0f} img/s, "
            f"{r['epoch_seconds_60k']:.0f} s per 60k epoch"
        )
    r = res["mae_train"]
    print(
        f"MAE train (batch {r['batch']}, r = 0.75): {r['images_per_s']:.0f} img/s, "
        f"{r['epoch_seconds_60k']:.0f} s per 60k epoch"
    )
    print(f"ViT fine-tune (batch 64): {res['vit_finetune']['images_per_s']:.0f} img/s")
    print(f"load average before {load_before}, after {res['machine']['load_average_after']}; wrote {OUT}")


if __name__ == "__main__":
    main()
