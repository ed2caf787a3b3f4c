"""The training loops of notebooks 02-05 as the notebooks run them, one optimizer step each, for the maintainers'
benchmarks (``benchmarks/training_loops.py``, ``attention.py``, ``compile.py``): each loop's model, loss, batch size
and optimizer, and the number of images it sees in a profile (``course_utils.profiles``). The models and losses are
the solution notebooks' own (``solutions/``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .assign import SOLUTIONS_DIR
from .capstone import load_your_code
from .mae import ADAMW as MAE_ADAMW
from .profiles import BUDGETS
from .simclr import ADAMW as SIMCLR_ADAMW
from .speed import measure_step


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
        c02 = load_your_code("02_autoencoders", SOLUTIONS_DIR).namespace
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
        c03 = load_your_code("03_vae", SOLUTIONS_DIR).namespace
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
        c04 = load_your_code("04_simclr", SOLUTIONS_DIR).namespace
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
        c05 = load_your_code("05_mae", SOLUTIONS_DIR).namespace
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


def make_step(loop: Loop, X: torch.Tensor, y: torch.Tensor, autocast: torch.dtype | None, fused: bool,
              compiled: bool = False) -> Callable[[], None]:
    """One optimizer step of ``loop`` on the first ``loop.batch`` images, as a function (a fresh model, seed 0);
    ``compiled``: its model wrapped in ``torch.compile`` (the first call compiles)."""
    torch.manual_seed(0)
    model = loop.build().train()
    opt = loop.optimizer(model.parameters(), fused)
    forward = torch.compile(model) if compiled else model
    xb, yb = X[: loop.batch], (y[: loop.batch] if loop.labels else None)

    def step():
        with torch.autocast("cpu", dtype=autocast or torch.bfloat16, enabled=autocast is not None):
            loss = loop.loss(forward, xb, yb)
        loss = loss["loss"] if isinstance(loss, dict) else loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def measure(loop: Loop, X: torch.Tensor, y: torch.Tensor, autocast: torch.dtype | None, fused: bool, seconds: float):
    return measure_step(make_step(loop, X, y, autocast, fused), loop.batch, min_seconds=seconds)


__all__ = ["Loop", "loops", "make_step", "measure"]
