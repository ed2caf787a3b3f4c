"""pytorch/examples' VAE (``vae/main.py``), its loss and its data pipeline, as they are: what
``vae_reference.py`` and ``vae_throughput.py`` compare the course's pipeline with. A module of those two benchmarks,
not a script; it stays out of ``course_utils`` because its reparameterization is notebook 03's answer.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.data import find_fashion_mnist


class ReferenceVAE(nn.Module):
    """pytorch/examples/vae/main.py, as it is (forward samples z with randn_like)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def reference_loss(recon_x, x, mu, logvar):
    """pytorch/examples' loss_function: BCE summed over pixels and batch, plus KL summed."""
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def batch_sum_loss(model, xb, yb):
    recon, mu, logvar = model(xb)
    return reference_loss(recon, xb, mu, logvar)  # summed over the batch, as pytorch/examples backpropagates it


def torchvision_dataset(tmp: Path, train: bool):
    """torchvision's FashionMNIST over the course's .gz files (decompressed into tmp; no download)."""
    from torchvision import datasets, transforms

    source = find_fashion_mnist()
    raw = tmp / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for gz in Path(source.root).glob("*-ubyte.gz"):
        target = raw / gz.name[:-3]
        if not target.exists():
            with gzip.open(gz, "rb") as f, open(target, "wb") as g:
                shutil.copyfileobj(f, g)
    return datasets.FashionMNIST(str(tmp), train=train, download=False, transform=transforms.ToTensor())
