"""A small masked autoencoder (MAE, He et al. 2022) for 28x28 images, after facebookresearch/mae's
``models_mae.py``: one short method per step, each with its shapes.

Notebook 05 asks for the tensor steps as exercises, so the model does not contain them: it is built
**with** the three step functions and has no defaults for them::

    mae = MAE(patchify=patchify, random_masking=random_masking, loss_fn=masked_mse_loss)
    loss, pred, mask = mae(imgs, mask_ratio=0.75)

- ``patchify(imgs, patch_size)``: ``[N, C, H, W]`` -> ``[N, L, p*p*C]``;
- ``random_masking(x, mask_ratio, generator)``: ``[N, L, D]`` -> ``(x_visible, mask, ids_restore)``;
- ``loss_fn(pred, target, mask)``: the mean squared error on the masked patches.

The encoder is a ViT that sees only the visible patches (plus a class token); the light decoder gets the
encoded visible tokens and a shared, learned mask token for every removed patch, puts them back in their
original order with ``ids_restore``, adds position embeddings, and predicts every patch's pixels.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F


def sincos_pos_embed(dim: int, grid_size: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine position embeddings, ``[grid_size**2, dim]`` (row-major over the patch grid)."""
    if dim % 4:
        raise ValueError(f"dim must be a multiple of 4, got {dim}")
    # computed in float64 on the CPU (also under a default device: Apple's MPS has no float64), returned in float32
    coords = torch.arange(grid_size, dtype=torch.float64, device="cpu")
    gy, gx = torch.meshgrid(coords, coords, indexing="ij")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64, device="cpu") / (dim // 4))

    def one_axis(pos):
        out = pos.reshape(-1, 1) * omega[None]  # [L, dim/4]
        return torch.cat([out.sin(), out.cos()], dim=1)  # [L, dim/2]

    return torch.cat([one_axis(gy), one_axis(gx)], dim=1).to(torch.get_default_device(), torch.float32)  # [L, dim]


# notebook 05's optimizer (He et al.'s AdamW betas; a linear warm-up, then cosine decay): every MAE run of the course
ADAMW = {"lr": 1.5e-3, "betas": (0.9, 0.95), "weight_decay": 0.05}


class Block(nn.TransformerEncoderLayer):
    """A pre-norm transformer block: ``nn.TransformerEncoderLayer`` (GELU, no dropout, its parameters and their names,
    so its state dicts load) whose attention calls ``scaled_dot_product_attention`` on the projected queries, keys and
    values directly, and in float32 under bfloat16 autocast on a CPU (everything else follows autocast).

    Why: at the course's lengths (13 tokens in the encoder, 50 in the decoder, 4 heads) the layer's own attention is
    slow on a CPU under bf16 autocast, where the fused kernel runs 1.7-5x slower in bf16 than in float32, and an
    unfused one spends its time on the bf16 softmax. Without gradients the layer's fast path runs attention unfused,
    in float32. With a mask, or ``is_causal``, it is the layer. The speeds of these variants are in
    ``benchmarks/RESULTS.md`` (``benchmarks/attention.py``, ``benchmarks/training_loops.py``); time them without
    calling ``torch.set_num_threads``, which slows the fused kernel on 2 cores even at an unchanged count."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__(
            dim, heads, int(dim * mlp_ratio), dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        if src_mask is not None or src_key_padding_mask is not None or is_causal:
            return super().forward(src, src_mask, src_key_padding_mask, is_causal)
        x = src + self._attention(self.norm1(src))
        return x + self._ff_block(self.norm2(x))

    def _attention(self, x: torch.Tensor) -> torch.Tensor:
        attn = self.self_attn
        n, length, dim = x.shape
        qkv = F.linear(x, attn.in_proj_weight, attn.in_proj_bias)  # [N, L, 3D], in bf16 under autocast
        qkv = qkv.view(n, length, 3, attn.num_heads, dim // attn.num_heads).permute(2, 0, 3, 1, 4)
        if x.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            with torch.autocast("cpu", enabled=False):
                out = F.scaled_dot_product_attention(*qkv.float())  # [N, heads, L, D/heads], float32
        else:
            out = F.scaled_dot_product_attention(*qkv)
        return self.dropout1(attn.out_proj(out.transpose(1, 2).reshape(n, length, dim)))


def _blocks(dim: int, depth: int, heads: int, mlp_ratio: float) -> nn.ModuleList:
    return nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(depth))


class MAE(nn.Module):
    """A masked autoencoder with a ViT encoder and a light transformer decoder.

    Args:
        patchify, random_masking, loss_fn: the three tensor steps (notebook 05's exercises); required.
        img_size, patch_size, in_chans: 28, 4 and 1 give L = 49 patches of 16 pixels.
        embed_dim, depth, num_heads: the encoder.
        decoder_dim, decoder_depth, decoder_heads: the decoder (lighter than the encoder).
        norm_pix_loss: predict each patch's pixels normalised by that patch's mean and variance. He et al. use it
            for representation learning and plain pixels for the reconstructions they show; the course trains on
            plain pixels (off), so that notebook 05's reconstructions are grey levels the model itself predicted
            (with it on, a masked patch's mean and variance are not known to the model: see :meth:`pixels`).
    """

    def __init__(
        self,
        patchify: Callable,
        random_masking: Callable,
        loss_fn: Callable,
        *,
        img_size: int = 28,
        patch_size: int = 4,
        in_chans: int = 1,
        embed_dim: int = 96,
        depth: int = 4,
        num_heads: int = 4,
        decoder_dim: int = 64,
        decoder_depth: int = 2,
        decoder_heads: int = 4,
        mlp_ratio: float = 2.0,
        norm_pix_loss: bool = False,
    ):
        super().__init__()
        if img_size % patch_size:
            raise ValueError(f"patch_size {patch_size} must divide img_size {img_size}")
        for name, fn in (("patchify", patchify), ("random_masking", random_masking), ("loss_fn", loss_fn)):
            if not callable(fn):
                raise TypeError(f"MAE needs the function {name} (notebook 05's exercise), got {type(fn).__name__}")
        self.patchify, self.random_masking, self.loss_fn = patchify, random_masking, loss_fn
        self.patch_size, self.in_chans = patch_size, in_chans
        self.grid = img_size // patch_size
        self.num_patches = self.grid**2
        patch_dim = patch_size * patch_size * in_chans
        self.norm_pix_loss = norm_pix_loss
        self.embed_dim = embed_dim

        # encoder: patch embedding, class token, fixed position embeddings, transformer blocks
        self.patch_embed = nn.Linear(patch_dim, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.register_buffer("pos_embed", sincos_pos_embed(embed_dim, self.grid)[None], persistent=False)  # [1, L, D]
        self.blocks = _blocks(embed_dim, depth, num_heads, mlp_ratio)
        self.norm = nn.LayerNorm(embed_dim)

        # decoder: mask token, its own position embeddings, blocks, a linear prediction of the pixels
        self.decoder_embed = nn.Linear(embed_dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.register_buffer("decoder_pos_embed", sincos_pos_embed(decoder_dim, self.grid)[None], persistent=False)
        self.decoder_blocks = _blocks(decoder_dim, decoder_depth, decoder_heads, mlp_ratio)
        self.decoder_norm = nn.LayerNorm(decoder_dim)
        self.decoder_pred = nn.Linear(decoder_dim, patch_dim)
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    # ------------------------------------------------------------------ encoder
    def embed(self, imgs: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W]`` -> patch tokens with position embeddings ``[N, L, D]``."""
        return self.patch_embed(self.patchify(imgs, self.patch_size)) + self.pos_embed

    def _encode_tokens(self, x: torch.Tensor) -> torch.Tensor:
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)  # [N, 1 + L_visible, D]
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def forward_encoder(self, imgs: torch.Tensor, mask_ratio: float, generator: torch.Generator | None = None):
        """Encode only the visible patches.

        Returns ``latent`` ``[N, 1 + L_visible, D]`` (the class token first), ``mask`` ``[N, L]`` (1 = removed)
        and ``ids_restore`` ``[N, L]``.
        """
        x = self.embed(imgs)  # [N, L, D]
        x, mask, ids_restore = self.random_masking(x, mask_ratio, generator)  # [N, L_visible, D]
        return self._encode_tokens(x), mask, ids_restore

    def forward_features(self, imgs: torch.Tensor, pool: str = "mean") -> torch.Tensor:
        """Features of whole (unmasked) images for probing and fine-tuning: ``[N, D]``.

        ``pool="mean"`` averages the patch tokens; ``"cls"`` takes the class token.
        """
        x = self._encode_tokens(self.embed(imgs))
        return x[:, 0] if pool == "cls" else x[:, 1:].mean(dim=1)

    # ------------------------------------------------------------------ decoder
    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """``latent`` ``[N, 1 + L_visible, D]`` -> predicted pixels of every patch ``[N, L, p*p*C]``."""
        x = self.decoder_embed(latent)  # [N, 1 + L_visible, D_dec]
        n, num_visible = x.shape[0], x.shape[1] - 1
        mask_tokens = self.mask_token.expand(n, self.num_patches - num_visible, -1)
        x_ = torch.cat([x[:, 1:], mask_tokens], dim=1)  # [N, L, D_dec], visible first
        x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[2]))  # back to the patch order
        x_ = x_ + self.decoder_pos_embed
        x = torch.cat([x[:, :1], x_], dim=1)
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]  # drop the class token

    # ------------------------------------------------------------------ loss
    def target(self, imgs: torch.Tensor) -> torch.Tensor:
        """The pixels to predict, ``[N, L, p*p*C]``; normalised per patch when ``norm_pix_loss``."""
        target = self.patchify(imgs, self.patch_size)
        if self.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1e-6) ** 0.5
        return target

    def forward_loss(self, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(pred, self.target(imgs), mask)

    def forward(self, imgs: torch.Tensor, mask_ratio: float = 0.75, generator: torch.Generator | None = None):
        """Returns ``(loss, pred, mask)``: the scalar loss, ``[N, L, p*p*C]`` predictions and the ``[N, L]`` mask."""
        latent, mask, ids_restore = self.forward_encoder(imgs, mask_ratio, generator)
        pred = self.forward_decoder(latent, ids_restore)
        return self.forward_loss(imgs, pred, mask), pred, mask

    def pixels(self, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Predictions back in pixel space ``[N, L, p*p*C]``, using only what the model may know.

        Without ``norm_pix_loss`` the predictions are pixels already. With it, the model predicts each patch normalised
        by that patch's own mean and variance, and for a masked patch those are part of the answer. So a visible patch
        (``mask`` 0: the encoder saw it) is un-normalised with its own mean and variance, and a masked one (``mask`` 1)
        with the average mean and variance of the same image's visible patches: its grey levels are a guess from what
        was visible, never taken from the hidden pixels. ``mask`` ``[N, L]`` is the one ``forward`` returns.
        """
        if not self.norm_pix_loss:
            return pred
        patches = self.patchify(imgs, self.patch_size)  # [N, L, p*p*C]
        mean = patches.mean(dim=-1, keepdim=True)  # [N, L, 1]
        var = patches.var(dim=-1, keepdim=True)
        visible = (1 - mask).to(patches.dtype)[..., None]  # [N, L, 1], 1 where the encoder saw the patch
        n_visible = visible.sum(dim=1, keepdim=True).clamp_min(1)
        guess_mean = (mean * visible).sum(dim=1, keepdim=True) / n_visible  # [N, 1, 1]
        guess_var = (var * visible).sum(dim=1, keepdim=True) / n_visible
        mean = visible * mean + (1 - visible) * guess_mean
        var = visible * var + (1 - visible) * guess_var
        return pred * (var + 1e-6) ** 0.5 + mean


class ViTClassifier(nn.Module):
    """The MAE's encoder (no masking, no decoder) with a linear head: for fine-tuning, or training from scratch."""

    def __init__(self, mae: MAE, num_classes: int = 10, pool: str = "mean"):
        super().__init__()
        self.mae = mae
        self.pool = pool
        self.head = nn.Sequential(nn.LayerNorm(mae.embed_dim), nn.Linear(mae.embed_dim, num_classes))

    def forward(self, imgs: torch.Tensor) -> torch.Tensor:
        return self.head(self.mae.forward_features(imgs, self.pool))


class Features(nn.Module):
    """``mae.forward_features`` as a module, for ``course_utils.evaluate.extract_features``.

    Always in float32, also under autocast: a weakly trained ViT's features vary from image to image by about 2 %
    of their size, and bf16 rounds the residual stream to about 0.4 % of its size, a large part of what tells the
    images apart. In bf16 such features cost a linear probe up to 3.5 points (notebook 05's mask-ratio ablation),
    where the CNNs' features lose nothing; bf16 products with a float32 residual stream are not enough either.
    The measurements: ``benchmarks/README.md``."""

    # without gradients, images go through the ViT this many at a time, so that on a CPU its [n, 50, 384] MLP
    # activations stay in cache (benchmarks/inference_batch.py; the features do not depend on it)
    chunk = 128

    def __init__(self, mae: MAE, pool: str = "mean"):
        super().__init__()
        self.mae = mae
        self.pool = pool

    def forward(self, imgs: torch.Tensor) -> torch.Tensor:
        with torch.autocast(imgs.device.type, enabled=False):
            x = imgs.float()
            if torch.is_grad_enabled() or len(x) <= self.chunk:
                return self.mae.forward_features(x, self.pool)
            return torch.cat([self.mae.forward_features(part, self.pool) for part in x.split(self.chunk)])


def num_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["MAE", "Block", "ViTClassifier", "Features", "sincos_pos_embed", "num_parameters", "ADAMW"]
