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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from course_utils.capstone import load_your_code
from course_utils.data import load_data
from course_utils.mae import ADAMW as MAE_ADAMW
from course_utils.profiles import BUDGETS
from course_utils.simclr import ADAMW as SIMCLR_ADAMW
from course_utils.speed import machine_peak, measure_step, native_bf16

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "training_loops.json"


@dataclass
class Loop:
    """One training loop of a notebook: ``images`` images seen in all (epochs x training images)."""

    notebook: str
    name: str
    build: Callable[[], torch.nn.Module]
    loss: Callable  # loss(model, xb, yb) -> scalar
    batch: int
    images: int
    labels: bool = False
    optimizer: Callable = lambda params, fused: torch.optim.Adam(params, lr=1e-3, fused=fused)
    autocast: bool = True  # the notebook passes autocast=course.autocast to this loop's fit


def loops(profile: str, wanted: set[str]) -> list[Loop]:
    B = BUDGETS[profile]
    n, bs = B["n_train"], B["batch_size"]
    out: list[Loop] = []
    if "02" in wanted:
        c02 = load_your_code("02_autoencoders", ROOT / "solutions").namespace
        ae_loss, corrupt = c02["ae_loss"], c02["corrupt"]
        sup_images = 3 * B["sup_epochs"] * n  # three label budgets, the same number of steps each
        out += [
            Loop("02", "supervised f_V + g_W (3 runs)", c02["SupervisedNet"], c02["classification_loss"], bs,
                 sup_images, labels=True, autocast=False),
            Loop("02", "autoencoder, d = 2, 8, 32 (3 runs)", lambda: c02["Autoencoder"](32),
                 lambda m, xb, yb: ae_loss(xb, m(xb)), bs, 3 * B["ae_epochs"] * n),
            Loop("02", "denoising autoencoders (2 runs)", lambda: c02["Autoencoder"](32),
                 lambda m, xb, yb: ae_loss(xb, m(corrupt(xb, noise_std=0.4))), bs, 2 * B["ae_epochs"] * n),
            Loop("02", "context encoder", c02["ContextEncoder"], c02["inpainting_loss"], bs, B["ae_epochs"] * n),
            Loop("02", "fine-tuning, 100 labels per class (2 runs)",
                 lambda: c02["EncoderWithHead"](c02["Autoencoder"](32)), c02["classification_loss"], bs,
                 2 * B["finetune_epochs"] * 1000, labels=True, autocast=False),
        ]
    if "03" in wanted:
        c03 = load_your_code("03_vae", ROOT / "solutions").namespace
        from course_utils.models import MLPVAE, GaussianMLPVAE

        out += [
            Loop("03", "VAE, Bernoulli decoder, d = 20", MLPVAE, c03["bernoulli_vae_loss"], bs, B["vae_epochs"] * n),
            Loop("03", "VAE, Gaussian decoder, d = 20", GaussianMLPVAE, c03["gaussian_vae_loss"], bs,
                 B["vae_epochs"] * n),
            Loop("03", "VAE, d = 2", lambda: MLPVAE(2), c03["bernoulli_vae_loss"], bs, B["vae_epochs"] * n),
            Loop("03", "plain autoencoder (the VAE's layers)", MLPVAE, c03["plain_ae_loss"], bs,
                 B["plain_ae_epochs"] * n),
        ]
    if "04" in wanted:
        c04 = load_your_code("04_simclr", ROOT / "solutions").namespace
        from course_utils.simclr import SimCLRModel

        augment, nt_xent = c04["augment"], c04["nt_xent_loss"]
        gen = torch.Generator().manual_seed(1)

        def simclr_loss(m, xb, yb):
            return nt_xent(m(augment(xb, generator=gen)), m(augment(xb, generator=gen)), 0.5)

        def adamw(params, fused):
            return torch.optim.AdamW(params, **SIMCLR_ADAMW, fused=fused)

        w, sb = B["simclr_width"], B["simclr_batch_size"]
        ablation = 6 * B["simclr_ablation_epochs"] * B["simclr_ablation_n_train"]  # 7 runs, one shared
        out += [
            Loop("04", f"SimCLR, width {w} (2 views per image)", lambda: SimCLRModel(w), simclr_loss, sb,
                 B["simclr_epochs"] * B["simclr_n_train"], optimizer=adamw),
            Loop("04", "SimCLR ablations (6 runs)", lambda: SimCLRModel(w), simclr_loss, sb, ablation,
                 optimizer=adamw),
        ]
    if "05" in wanted:
        c05 = load_your_code("05_mae", ROOT / "solutions").namespace
        from course_utils.mae import MAE, ViTClassifier

        def build():
            torch.manual_seed(0)
            return MAE(patchify=c05["patchify"], random_masking=c05["random_masking"], loss_fn=c05["masked_mse_loss"])

        gen = torch.Generator().manual_seed(1)

        def adamw(params, fused):
            return torch.optim.AdamW(params, **MAE_ADAMW, fused=fused)

        mb = B["mae_batch_size"]
        abl = B["mae_ablation_epochs"] * B["mae_ablation_n_train"]
        out.append(Loop("05", "MAE, mask 0.75", build, lambda m, xb, yb: m(xb, 0.75, gen)[0], mb,
                        B["mae_epochs"] * B["mae_n_train"], optimizer=adamw))
        for r in (0.25, 0.5, 0.9):  # the ablation's 0.75 run costs as above, per image
            out.append(Loop("05", f"MAE ablation, mask {r}", build, lambda m, xb, yb, r=r: m(xb, r, gen)[0], mb, abl,
                            optimizer=adamw))
        out.append(Loop("05", "MAE ablation, mask 0.75", build, lambda m, xb, yb: m(xb, 0.75, gen)[0], mb, abl,
                        optimizer=adamw))
        ft = 2 * 2 * B["mae_finetune_epochs"] * 6000  # 1% and 10% of the labels, same steps; MAE and scratch
        out.append(Loop("05", "ViT fine-tuning, 1% and 10% (4 runs)", lambda: ViTClassifier(build()),
                        lambda m, xb, yb: F.cross_entropy(m(xb), yb), 64, ft, labels=True, optimizer=adamw))
    return out


def measure(loop: Loop, X: torch.Tensor, y: torch.Tensor, autocast: torch.dtype | None, fused: bool, seconds: float):
    torch.manual_seed(0)
    model = loop.build().train()
    opt = loop.optimizer(model.parameters(), fused)
    xb, yb = X[: loop.batch], (y[: loop.batch] if loop.labels else None)

    def step():
        with torch.autocast("cpu", dtype=autocast or torch.bfloat16, enabled=autocast is not None):
            loss = loop.loss(model, xb, yb)
        loss = loss["loss"] if isinstance(loss, dict) else loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return measure_step(step, loop.batch, min_seconds=seconds)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", choices=sorted(BUDGETS), default="full")
    ap.add_argument("--notebooks", nargs="*", default=["02", "03", "04", "05"])
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
    for loop in loops(args.profile, set(args.notebooks)):
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
