"""Plot helpers: image grids and training curves."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch

from .train import History


def show_images(
    images: torch.Tensor,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    title: str | None = None,
    scale: float = 1.1,
    cmap: str = "gray",
):
    """Show ``[N, 1, H, W]`` (or ``[N, H, W]``) images in a grid, optionally with a title each.

    Values are shown on a fixed [0, 1] scale, so a dark reconstruction looks dark.
    Returns the matplotlib figure.
    """
    imgs = images.detach().float().cpu()
    if imgs.dim() == 4:
        if imgs.shape[1] != 1:
            raise ValueError(f"show_images expects one channel, got shape {tuple(imgs.shape)}")
        imgs = imgs[:, 0]
    if imgs.dim() != 3:
        raise ValueError(f"show_images expects [N, 1, H, W] or [N, H, W], got shape {tuple(images.shape)}")
    n = len(imgs)
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    height = scale * nrows + (0.3 if title else 0) + (0.25 * nrows if titles else 0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, height), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(imgs[i].clamp(0, 1), cmap=cmap, vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_history(
    history: History | dict,
    keys: Sequence[str] | None = None,
    ax=None,
    title: str | None = None,
    logy: bool = False,
):
    """Plot per-epoch curves from a :class:`History` (or a ``{name: [values]}`` dict)."""
    metrics = history.metrics if isinstance(history, History) else history
    keys = list(keys) if keys is not None else list(metrics)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for k in keys:
        vals = metrics[k]
        ax.plot(range(1, len(vals) + 1), vals, marker="o" if len(vals) < 30 else None, label=k)
    ax.set_xlabel("epoch")
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if len(keys) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    return ax
