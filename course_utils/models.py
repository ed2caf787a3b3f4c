"""Model architectures used by the notebooks that are *not* exercises (the VAEs of notebook 03).

They only map tensors to tensors: ``encode`` gives the parameters of q(z|x), ``decode`` the parameters of p(x|z).
Sampling z, the KL term, the ELBO and the likelihood estimates are the notebook's exercises, so they are not here.

- :class:`MLPVAE`: the pytorch/examples VAE (784-400-20 / 20-400-784, ReLU), Bernoulli decoder (logits);
- :class:`GaussianMLPVAE`: the same body with the slide's Gaussian decoder (a mean and a diagonal log-variance);
- :class:`ConvVAE`: a small convolutional VAE with a Bernoulli decoder.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MLPVAE(nn.Module):
    """pytorch/examples' VAE. ``encode``: [N, 1, 28, 28] -> (mu, logvar), each [N, latent_dim];
    ``decode``: [N, latent_dim] -> Bernoulli logits [N, 1, 28, 28]."""

    def __init__(self, latent_dim: int = 20, hidden_dim: int = 400):
        super().__init__()
        self.latent_dim = latent_dim
        self.fc1 = nn.Linear(784, hidden_dim)
        self.fc21 = nn.Linear(hidden_dim, latent_dim)  # mu
        self.fc22 = nn.Linear(hidden_dim, latent_dim)  # log sigma^2
        self.fc3 = nn.Linear(latent_dim, hidden_dim)
        self.fc4 = nn.Linear(hidden_dim, 784)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.fc1(x.reshape(len(x), 784)))
        return self.fc21(h), self.fc22(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.fc4(F.relu(self.fc3(z))).view(-1, 1, 28, 28)


class GaussianMLPVAE(MLPVAE):
    """The slide's decoder: *"it inputs z and outputs mu_theta and (diagonal) covariance Sigma_theta"*.

    ``decode``: [N, latent_dim] -> (x_mu, x_logvar), each [N, 1, 28, 28]. The mean lies in (0, 1); the
    log-variance is kept above ``logvar_min`` (a softplus floor), because on images with exactly-black pixels an
    unbounded variance would shrink to 0 and the density would grow without limit.
    """

    def __init__(self, latent_dim: int = 20, hidden_dim: int = 400, logvar_min: float = -6.0):
        super().__init__(latent_dim, hidden_dim)
        self.fc4_logvar = nn.Linear(hidden_dim, 784)
        self.logvar_min = logvar_min

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.fc3(z))
        x_mu = torch.sigmoid(self.fc4(h)).view(-1, 1, 28, 28)
        raw = self.fc4_logvar(h).view(-1, 1, 28, 28)
        return x_mu, self.logvar_min + F.softplus(raw - self.logvar_min)


class ConvVAE(nn.Module):
    """A small convolutional VAE with a Bernoulli decoder (logits).

    encode: [N, 1, 28, 28] -> 32x14x14 -> 64x7x7 -> 256 -> (mu, logvar) [N, latent_dim]
    decode: [N, latent_dim] -> 256 -> 64x7x7 -> 32x14x14 -> logits [N, 1, 28, 28]
    """

    def __init__(self, latent_dim: int = 20, width: int = 32, refine: bool = False):
        super().__init__()
        self.latent_dim = latent_dim
        w = width
        self.encoder_net = nn.Sequential(
            nn.Conv2d(1, w, 4, stride=2, padding=1), nn.ReLU(),  # 28x28 => 14x14
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.ReLU(),  # 14x14 => 7x7
            nn.Flatten(), nn.Linear(2 * w * 7 * 7, 256), nn.ReLU(),
        )
        self.to_mu = nn.Linear(256, latent_dim)
        self.to_logvar = nn.Linear(256, latent_dim)
        if refine:
            # refine=True: a 3x3 convolution at 14x14, and the last upsampling keeps w/2 channels at 28x28 for a
            # 3x3 convolution to the logits, so each output pixel sees its neighbours' features
            tail = [nn.Conv2d(w, w, 3, padding=1), nn.ReLU(),
                    nn.ConvTranspose2d(w, w // 2, 4, stride=2, padding=1), nn.ReLU(),  # 14x14 => 28x28
                    nn.Conv2d(w // 2, 1, 3, padding=1)]  # logits
        else:
            tail = [nn.ConvTranspose2d(w, 1, 4, stride=2, padding=1)]  # 14x14 => 28x28 (logits)
        self.decoder_net = nn.Sequential(
            nn.Linear(latent_dim, 256), nn.ReLU(),
            nn.Linear(256, 2 * w * 7 * 7), nn.ReLU(), nn.Unflatten(1, (2 * w, 7, 7)),
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1), nn.ReLU(),  # 7x7 => 14x14
            *tail,
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder_net(x.reshape(len(x), 1, 28, 28))
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        logits = self.decoder_net(z)  # [N, 1, 28, 28]
        return logits


__all__ = ["MLPVAE", "GaussianMLPVAE", "ConvVAE"]
