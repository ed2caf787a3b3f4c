"""Benchmark for notebook 03: the pytorch/examples VAE, the course's training pipeline, and a convolutional VAE.

Measures, in one run on this machine (run it alone: ``flock /tmp/course-cpu.lock python benchmarks/vae_reference.py``):

1. **Reference match.** The pytorch/examples MLP VAE (784-400-20-400-784, ReLU, Adam 1e-3, batch 128, 10 epochs,
   seed 1, BCE summed over pixels + KL per image, on [0, 1] grey levels as targets) trained with the course's
   in-memory pipeline (``course_utils.train.fit``); its Fashion-MNIST test loss (pytorch/examples' ``test()``: one
   sample of z per image, summed loss / 10,000) must be within 1% of 244.35, the reference code run on this machine.
2. **Throughput.** Epochs per second of that training against the reference pipeline: a per-sample ``DataLoader``
   over ``torchvision.datasets.FashionMNIST`` with ``transforms.ToTensor()`` (as in pytorch/examples), same model,
   same loss, same batch size; the goal is at least 2x.
3. **A better model.** ``course_utils.models.ConvVAE`` trained the same way for the same epochs; the goal is a test
   negative ELBO at least 5 nats below the reference MLP's.

Numbers are written to ``benchmarks/results/vae_reference.json`` (and printed). These are measurements, not tests:
nothing here asserts, and a goal that is missed is reported as missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
from pytorch_examples import ReferenceVAE, batch_sum_loss, reference_loss, torchvision_dataset  # this folder's
from torch import nn

from course_utils.data import load_fashion_mnist
from course_utils.models import ConvVAE
from course_utils.train import fit

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_TEST_LOSS = 244.35


class ConvAsReference(nn.Module):
    """ConvVAE behind the reference's forward(): (probabilities, mu, logvar), so one loss serves both."""

    def __init__(self, latent_dim: int = 20, refine: bool = False):
        super().__init__()
        self.vae = ConvVAE(latent_dim=latent_dim, refine=refine)

    def forward(self, x):
        mu, logvar = self.vae.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return torch.sigmoid(self.vae.decode(z)).view(-1, 784), mu, logvar


@torch.no_grad()
def test_loss(model, X, batch_size=128):
    """pytorch/examples' test(): eval mode, one z per image, summed loss / number of images."""
    model.eval()
    total = 0.0
    for i in range(0, len(X), batch_size):
        xb = X[i : i + batch_size]
        recon, mu, logvar = model(xb)
        total += reference_loss(recon, xb, mu, logvar).item()
    return total / len(X)


def per_sample_pipeline_epoch(tmp: Path, epochs: int, n_train: int) -> tuple[list[float], float]:
    """Train the reference VAE with a DataLoader + ToTensor (pytorch/examples' pipeline on a CPU: no workers)."""
    torch.manual_seed(1)
    ds = torchvision_dataset(tmp, True)
    if n_train < len(ds):
        ds = torch.utils.data.Subset(ds, range(n_train))
    loader = torch.utils.data.DataLoader(ds, batch_size=128, shuffle=True)
    model = ReferenceVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for _ in range(epochs):
        model.train()
        t0 = time.perf_counter()
        for data, _ in loader:
            opt.zero_grad()
            recon, mu, logvar = model(data)
            loss = reference_loss(recon, data, mu, logvar)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    X_test = load_fashion_mnist(train=False).images
    return times, test_loss(model, X_test)


def course_pipeline(build, X, X_test, epochs: int, desc: str, batch_size: int = 128, lr: float = 1e-3) -> dict:
    torch.manual_seed(1)
    model = build()
    history = fit(model, batch_sum_loss, X, epochs=epochs, batch_size=batch_size, lr=lr, seed=1, device="cpu",
                  desc=desc, progress=False)
    seconds = history.seconds
    return {"epoch_seconds": [round(s, 2) for s in seconds], "test_loss": round(test_loss(model, X_test), 3),
            "train_loss_per_image": [round(v / batch_size, 2) for v in history["loss"]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--baseline-epochs", type=int, default=1, help="epochs timed with the per-sample pipeline")
    ap.add_argument("--skip-conv", action="store_true")
    ap.add_argument("--conv-latent", type=int, default=20)
    ap.add_argument("--conv-refine", action="store_true", help="ConvVAE(refine=True): 3x3 convs at 14x14 and 28x28")
    ap.add_argument("--conv-batch-size", type=int, default=128, help="the conv VAE's batch (the MLP keeps 128)")
    ap.add_argument("--conv-lr", type=float, default=1e-3, help="the conv VAE's Adam learning rate")
    ap.add_argument("--mlp-from", help="a results file of an earlier run: take the MLP numbers from it (no MLP run)")
    ap.add_argument("--n-train", type=int, default=60_000, help="fewer images for a smoke test (not a result)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "vae_reference.json"))
    args = ap.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "python": platform.python_version(), "processor": platform.processor() or platform.machine(),
                    "load_average_at_start": os.getloadavg()},
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "reference_test_loss": REFERENCE_TEST_LOSS,
    }

    def save():
        out.write_text(json.dumps(results, indent=1) + "\n")

    X = load_fashion_mnist(train=True).images[: args.n_train]
    results["n_train"] = len(X)
    X_test = load_fashion_mnist(train=False).images

    # 1. the reference MLP VAE with the course's pipeline (in-memory tensors, course_utils.train.fit)
    if args.mlp_from:
        earlier = json.loads(Path(args.mlp_from).read_text())
        results.update({k: earlier[k] for k in ("mlp_course_pipeline", "per_sample_pipeline", "throughput")})
        results["mlp_from"] = args.mlp_from
        mlp = results["mlp_course_pipeline"]
    else:
        mlp = course_pipeline(ReferenceVAE, X, X_test, args.epochs, "reference MLP VAE")
    if not args.mlp_from:
        mlp["within_1_percent"] = abs(mlp["test_loss"] - REFERENCE_TEST_LOSS) <= 0.01 * REFERENCE_TEST_LOSS
        mlp["relative_difference"] = round((mlp["test_loss"] - REFERENCE_TEST_LOSS) / REFERENCE_TEST_LOSS, 5)
        results["mlp_course_pipeline"] = mlp
        print("MLP VAE, course pipeline:", mlp)
        save()

        # 2. the per-sample DataLoader + ToTensor pipeline, same model and loss
        with tempfile.TemporaryDirectory() as tmp:
            times, loss_after = per_sample_pipeline_epoch(Path(tmp), args.baseline_epochs, len(X))
        course_eps = 1.0 / (sum(mlp["epoch_seconds"]) / len(mlp["epoch_seconds"]))
        base_eps = 1.0 / (sum(times) / len(times))
        results["per_sample_pipeline"] = {"epochs": args.baseline_epochs, "epoch_seconds": [round(t, 2) for t in times],
                                          f"test_loss_after_{args.baseline_epochs}_epochs": round(loss_after, 3)}
        results["throughput"] = {"course_epochs_per_second": round(course_eps, 4),
                                 "per_sample_epochs_per_second": round(base_eps, 4),
                                 "speedup": round(course_eps / base_eps, 2), "goal": 2.0,
                                 "met": course_eps / base_eps >= 2.0}
        print("throughput:", results["throughput"])
        save()

    # 3. the convolutional VAE, same loss, same epochs
    if not args.skip_conv:
        conv = course_pipeline(lambda: ConvAsReference(args.conv_latent, args.conv_refine), X, X_test, args.epochs,
                               "conv VAE", batch_size=args.conv_batch_size, lr=args.conv_lr)
        n_params = sum(p.numel() for p in ConvAsReference(args.conv_latent, args.conv_refine).parameters())
        conv["architecture"] = {"latent_dim": args.conv_latent, "width": 32, "refine": args.conv_refine,
                                "parameters": n_params, "batch_size": args.conv_batch_size, "lr": args.conv_lr}
        conv["improvement_over_reference_mlp_nats"] = round(mlp["test_loss"] - conv["test_loss"], 3)
        conv["improvement_over_244.35_nats"] = round(REFERENCE_TEST_LOSS - conv["test_loss"], 3)
        conv["goal_nats"] = 5.0
        # the reference is the pytorch/examples code's figure on this machine, 244.35; the stricter
        # comparison is with the course's own replication of it in this run (or in --mlp-from)
        conv["met"] = conv["improvement_over_244.35_nats"] >= 5.0
        conv["met_against_course_mlp_run"] = conv["improvement_over_reference_mlp_nats"] >= 5.0
        results["conv_vae"] = conv
        print("conv VAE:", conv)
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    results["load_average_at_end"] = os.getloadavg()
    save()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
