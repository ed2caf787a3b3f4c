"""SimCLR's pieces that are not exercises: the encoder f, the projection head g, and batched
augmentation primitives.

Each primitive applies one image operation to a whole batch at once, with one parameter per image
(a tensor of length N), as tensor operations on whatever device the batch lives on: no per-image
Python loop and no PIL. Notebook 04's exercise ``augment(x, generator)`` draws the random parameters
and composes these primitives::

    x = resized_crop(x, boxes)                       # boxes [N, 4]: centre x, centre y, width, height
    x = hflip(x, flip)                               # flip [N] bool
    x = brightness_contrast(x, brightness, contrast) # [N] factors, 1 = unchanged
    x = gaussian_blur(x, sigma)                      # [N] standard deviations in pixels, 0 = unchanged
    x = erase(x, boxes)                              # boxes [N, 4] set to 0, width 0 = unchanged

Box coordinates are fractions of the image: the centre in [-1, 1] (as ``F.affine_grid`` measures it)
and the width and height in (0, 1].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


# ----------------------------------------------------------------------------- augmentation primitives
def _per_image(v, x: torch.Tensor, name: str) -> torch.Tensor:
    v = torch.as_tensor(v, dtype=x.dtype if x.is_floating_point() else torch.float32, device=x.device)
    if v.dim() == 0:
        v = v.expand(x.shape[0])
    if v.shape != (x.shape[0],):
        raise ValueError(f"{name} needs one value per image: shape [{x.shape[0]}], got {list(v.shape)}")
    return v


def _boxes(boxes, x: torch.Tensor) -> torch.Tensor:
    b = torch.as_tensor(boxes, dtype=x.dtype, device=x.device)
    if b.shape != (x.shape[0], 4):
        raise ValueError(
            f"boxes must be [N, 4] (centre x, centre y, width, height), got {list(b.shape)} for N = {x.shape[0]}"
        )
    return b


def resized_crop(x: torch.Tensor, boxes: torch.Tensor, size: int | None = None) -> torch.Tensor:
    """Crop one box per image and resize it back to ``size`` (default: the input size), bilinearly.

    Args:
        x: ``[N, C, H, W]``.
        boxes: ``[N, 4]``: centre x, centre y in [-1, 1]; width, height as fractions of the image in (0, 1].
    Returns:
        ``[N, C, size, size]``.
    """
    n, c, h, w = x.shape
    b = _boxes(boxes, x)
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = b[:, 2]
    theta[:, 0, 2] = b[:, 0]
    theta[:, 1, 1] = b[:, 3]
    theta[:, 1, 2] = b[:, 1]
    out_h = out_w = size if size is not None else None
    grid = F.affine_grid(theta, [n, c, out_h or h, out_w or w], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def hflip(x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the images where ``flip`` ([N] bool) is True."""
    f = torch.as_tensor(flip, device=x.device).bool()
    if f.shape != (x.shape[0],):
        raise ValueError(f"flip needs one value per image: shape [{x.shape[0]}], got {list(f.shape)}")
    return torch.where(f[:, None, None, None], x.flip(-1), x)


def brightness_contrast(x: torch.Tensor, brightness: torch.Tensor, contrast: torch.Tensor) -> torch.Tensor:
    """Scale the brightness, then stretch the contrast around each image's mean; clamp to [0, 1].

    ``brightness`` and ``contrast`` are ``[N]`` factors (1 leaves an image unchanged).
    """
    b = _per_image(brightness, x, "brightness")[:, None, None, None]
    c = _per_image(contrast, x, "contrast")[:, None, None, None]
    x = x * b
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * c + mean).clamp(0, 1)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, radius: int = 3) -> torch.Tensor:
    """Blur each image with its own Gaussian (``sigma`` [N] in pixels; 0 leaves it unchanged).

    Separable, one grouped convolution per direction, reflection at the border.
    """
    n, c, h, w = x.shape
    s = _per_image(sigma, x, "sigma")
    offsets = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    logits = -0.5 * (offsets[None, :] / s.clamp_min(1e-6)[:, None]) ** 2  # [N, 2r+1]
    kernel = torch.softmax(logits, dim=1)  # normalised; sigma -> 0 gives a delta
    kernel = kernel.repeat_interleave(c, dim=0)  # [N*C, 2r+1]
    y = x.reshape(1, n * c, h, w)
    y = F.pad(y, (radius, radius, radius, radius), mode="reflect")
    y = F.conv2d(y, kernel[:, None, None, :], groups=n * c)  # along the width
    y = F.conv2d(y, kernel[:, None, :, None], groups=n * c)  # along the height
    return y.reshape(n, c, h, w)


def erase(x: torch.Tensor, boxes: torch.Tensor, value: float = 0.0) -> torch.Tensor:
    """Set one box per image to ``value`` (random erasing). Boxes as in :func:`resized_crop`; width 0 erases nothing."""
    n, c, h, w = x.shape
    b = _boxes(boxes, x)
    ys = (torch.arange(h, device=x.device, dtype=x.dtype) + 0.5) / h * 2 - 1  # pixel centres in [-1, 1]
    xs = (torch.arange(w, device=x.device, dtype=x.dtype) + 0.5) / w * 2 - 1
    inside_x = (xs[None, :] - b[:, 0:1]).abs() <= b[:, 2:3]  # [N, W]
    inside_y = (ys[None, :] - b[:, 1:2]).abs() <= b[:, 3:4]  # [N, H]
    box = inside_y[:, None, :, None] & inside_x[:, None, None, :]  # [N, 1, H, W]
    return torch.where(box, torch.as_tensor(value, dtype=x.dtype, device=x.device), x)


# ----------------------------------------------------------------------------- the networks
class Encoder(nn.Module):
    """f: a small CNN sized for 28x28 grey images; ``x`` ``[N, 1, 28, 28]`` -> ``h`` ``[N, width*4]``."""

    def __init__(self, width: int = 32, in_channels: int = 1):
        super().__init__()

        def block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
            )

        w = width
        self.net = nn.Sequential(
            block(in_channels, w),  # 28x28
            block(w, 2 * w, 2),  # 28x28 => 14x14
            block(2 * w, 2 * w),  # 14x14
            block(2 * w, 4 * w, 2),  # 14x14 => 7x7
            block(4 * w, 4 * w),  # 7x7
            nn.AdaptiveAvgPool2d(1),  # 7x7 => 1x1
            nn.Flatten(),
        )
        self.out_dim = 4 * w
        # oneDNN's convolutions run 1.5-1.7x faster on a CPU in the channels-last layout (measured: width 24, batch
        # 256, a training step); loading a state dict keeps the layout, and the function computed is the same
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.contiguous(memory_format=torch.channels_last))


class ProjectionHead(nn.Module):
    """g: an MLP with one hidden layer, ``h`` ``[N, in_dim]`` -> ``z`` ``[N, out_dim]``."""

    def __init__(self, in_dim: int, hidden_dim: int = 256, out_dim: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden_dim, bias=False),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, out_dim),
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


class SimCLRModel(nn.Module):
    """f followed by g. ``model(x)`` returns ``z``; ``model.f`` is the encoder kept after training."""

    def __init__(self, width: int = 32, proj_dim: int = 64):
        super().__init__()
        self.f = Encoder(width)
        self.g = ProjectionHead(self.f.out_dim, 4 * self.f.out_dim // 2, proj_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.g(self.f(x))


# notebook 04's optimizer (AdamW; a linear warm-up, then cosine decay): what every SimCLR run of the course uses
ADAMW = {"lr": 2e-3, "weight_decay": 1e-4}


def warmup_cosine(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int = 0
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step schedule: linear warm-up, then cosine decay to zero."""
    total_steps = max(1, total_steps)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


__all__ = [
    "resized_crop",
    "hflip",
    "brightness_contrast",
    "gaussian_blur",
    "erase",
    "Encoder",
    "ProjectionHead",
    "SimCLRModel",
    "warmup_cosine",
    "ADAMW",
]
