"""Model architectures used by the notebooks that are *not* exercises: the VAEs of notebook 03, and the modules
notebook 06 (:mod:`course_utils.capstone`) puts around the methods' encoders.

They only map tensors to tensors: ``encode`` gives the parameters of q(z|x), ``decode`` the parameters of p(x|z).
Sampling z, the KL term, the ELBO and the likelihood estimates are the notebook's exercises, so they are not here.

- :class:`MLPVAE`: the pytorch/examples VAE (784-400-20 / 20-400-784, ReLU), Bernoulli decoder (logits);
- :class:`GaussianMLPVAE`: the same body with the slide's Gaussian decoder (a mean and a diagonal log-variance);
- :class:`ConvVAE`: a small convolutional VAE with a Bernoulli decoder;
- :class:`Encode`: ``model.encode`` as a module (features of an autoencoder or a VAE);
- :func:`mlp_encoder`, :func:`as_mlp_encoder`, :func:`autoencoder_encoder_state`: notebook 02's encoder in the
  fixed layout that released AE encoders are stored in;
- :class:`Classifier`: an encoder and a linear head (06's supervised baseline and fine-tuning).
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


# ------------------------------------------------------------------------------------- notebook 06's modules
class Encode(nn.Module):
    """``model.encode(x)`` (an autoencoder's g_phi) as a module for :func:`extract_features`."""

    def __init__(self, model: nn.Module, mean_only: bool = False):
        super().__init__()
        self.model = model
        self.mean_only = mean_only  # a VAE's encode returns (mu, logvar): keep mu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model.encode(x)
        return out[0] if self.mean_only else out


def mlp_encoder(latent_dim: int = 32, hidden_dim: int = 256) -> nn.Sequential:
    """The encoder half of notebook 02's ``Autoencoder`` in a fixed layout (how released AE encoders are stored)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, latent_dim))


def as_mlp_encoder(model: nn.Module, latent_dim: int = 32, hidden_dim: int = 256) -> nn.Sequential:
    """An autoencoder's encoder in the fixed layout of :func:`mlp_encoder` (see
    :func:`autoencoder_encoder_state`), verified to compute ``model.encode`` exactly."""
    enc = mlp_encoder(latent_dim, hidden_dim)
    enc.load_state_dict(autoencoder_encoder_state(model.state_dict(), latent_dim, hidden_dim))
    x = torch.rand(16, 1, 28, 28)
    with torch.no_grad():
        if not torch.allclose(enc(x), model.encode(x), atol=1e-5):
            raise ValueError("the autoencoder's encode is not Flatten-Linear-ReLU-Linear; it cannot be released")
    return enc.eval()


class Classifier(nn.Module):
    """An encoder followed by a linear head (the supervised baseline, and fine-tuning)."""

    def __init__(self, encoder: nn.Module, feature_dim: int, num_classes: int = 10):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(feature_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def autoencoder_encoder_state(state: dict, latent_dim: int = 32, hidden_dim: int = 256) -> dict:
    """The :func:`mlp_encoder` state inside a whole autoencoder's state: the ``[hidden, 784]`` and
    ``[latent, hidden]`` weights (and their biases), whatever the layers are called."""
    keys = list(state)

    def layer(shape):
        found = [k for k in keys if k.endswith("weight") and tuple(state[k].shape) == shape]
        if len(found) != 1:
            raise ValueError(f"expected one weight of shape {list(shape)} in the released autoencoder, "
                             f"found {len(found)}")
        return found[0]

    w1, w2 = layer((hidden_dim, 784)), layer((latent_dim, hidden_dim))
    return {"1.weight": state[w1], "1.bias": state[w1[: -len("weight")] + "bias"],
            "3.weight": state[w2], "3.bias": state[w2[: -len("weight")] + "bias"]}


__all__ = ["MLPVAE", "GaussianMLPVAE", "ConvVAE", "Encode", "mlp_encoder", "as_mlp_encoder",
           "autoencoder_encoder_state", "Classifier"]
