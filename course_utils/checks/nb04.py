"""Checks for notebook 04 (SimCLR).

``cosine_similarity_matrix`` and ``nt_xent_loss`` are compared with stored outputs
(``data/04_simclr.json``), naming the mistake when the output matches a known wrong answer.
``augment`` is random, so its check tests properties instead: shapes and range, reproducibility
from the generator, one random draw per image (not one per batch), and the ``ops`` switch.
"""

from __future__ import annotations

import torch

from . import Mistake, call_unchanged, expect_tensor, missing, passed, run_cases, run_check, stored_cases

NOTEBOOK = "04_simclr"

ALL_OPS = ("crop", "flip", "color", "blur", "erase")


def _scalar(out, like: torch.Tensor) -> torch.Tensor:
    if not torch.is_tensor(out):
        raise Mistake(f"it returned {type(out).__name__}; return a scalar torch tensor (so that .backward() works).")
    if out.dim() != 0:
        hint = ""
        if out.dim() == 1:
            hint = " Average the per-anchor losses into one number (the mean over the 2N anchors)."
        raise Mistake(f"it returned shape {list(out.shape)}, expected a scalar [].{hint}")
    if out.dtype != like.dtype:
        raise Mistake(f"it returned dtype {out.dtype} for {like.dtype} input. Keep the input's dtype.")
    return out


def check_cosine_similarity_matrix(cosine_similarity_matrix, verbose: bool = True) -> bool:
    """``cosine_similarity_matrix(z)``: ``[M, D]`` -> ``[M, M]``, s_ij = z_i.z_j / (|z_i| |z_j|)."""

    def shape(case):
        m, d = case["args"]["z"].shape
        return (m, m)

    def hints(case):
        m, d = case["args"]["z"].shape
        return {(d, d): "That is [D, D]: you computed z.T @ z; use z @ z.T (rows are the vectors)."}

    def unit_diagonal(out, case):
        z = case["args"]["z"]
        if (out.diagonal() - 1).abs().max() > 1e-6 and (z.norm(dim=1) > 0).all():
            raise Mistake("the diagonal must be 1: every vector has cosine similarity 1 with itself.")

    def test(fn):
        return run_cases(NOTEBOOK, "cosine_similarity_matrix", fn, shape, hints=hints, extra=unit_diagonal,
                         nonfinite_hint="Guard the norm against zero (clamp it from below).")

    return run_check("cosine_similarity_matrix", cosine_similarity_matrix, test, verbose)


def check_nt_xent_loss(nt_xent_loss, verbose: bool = True) -> bool:
    """``nt_xent_loss(z1, z2, temperature)``: two ``[N, D]`` -> scalar, the mean of l(i, j) over the 2N anchors."""

    def test(fn):
        summary = run_cases(NOTEBOOK, "nt_xent_loss", fn, validate=lambda out, case: _scalar(out, case["args"]["z1"]),
                            nonfinite_hint="Use a log-sum-exp (or F.cross_entropy) rather than exp then log.")
        cases = stored_cases(NOTEBOOK, "nt_xent_loss")
        # invariances of the loss: rescaling z changes nothing (cosine similarity)
        a = cases[0]["args"]
        scaled = fn(z1=a["z1"] * 3.0, z2=a["z2"] * 0.5, temperature=a["temperature"])
        if abs(float(scaled) - float(cases[0]["expected"])) > 1e-6:
            raise Mistake(
                "multiplying z1 by 3 and z2 by 0.5 changed the loss. s_ij is a COSINE similarity: "
                "normalise each z to unit length first."
            )
        return summary

    return run_check("nt_xent_loss", nt_xent_loss, test, verbose)


def _blobs(n: int, seed: int) -> torch.Tensor:
    """``n`` distinct test images in [0, 1]: smooth random shapes on a dark background."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 1, 7, 7, generator=g)
    imgs = torch.nn.functional.interpolate(coarse, size=(28, 28), mode="bilinear", align_corners=False)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, 28), torch.linspace(-1, 1, 28), indexing="ij")
    window = ((xs.abs() < 0.7) & (ys.abs() < 0.8)).float()
    return (imgs * window).clamp(0, 1)


def check_augment(augment, verbose: bool = True) -> bool:
    """``augment(x, generator=None, ops=...)``: ``[N, 1, 28, 28]`` -> ``[N, 1, 28, 28]``, a random view of each."""

    def gen(seed):
        return torch.Generator().manual_seed(seed)

    def test(fn):
        x = _blobs(64, 4)
        out = call_unchanged(fn, x=x, generator=gen(0))
        out = expect_tensor(out, x, tuple(x.shape))
        if not torch.isfinite(out).all():
            raise Mistake("it returned NaN or inf.")
        if out.min() < -1e-6 or out.max() > 1 + 1e-6:
            raise Mistake(
                f"values must stay in [0, 1]; got [{out.min():.3f}, {out.max():.3f}]. Clamp after the colour jitter."
            )
        if torch.allclose(out, x):
            raise Mistake("it returned the images unchanged.")
        again = fn(x, generator=gen(0))
        if not torch.allclose(again, out, atol=1e-6):
            raise Mistake(
                "the same generator seed gave different views. Draw every random number with "
                "`generator=generator` (torch.rand(..., generator=generator))."
            )
        other = fn(x, generator=gen(1))
        if torch.allclose(other, out, atol=1e-6):
            raise Mistake("two different generator seeds gave the same views: use the generator you are given.")
        same = x[:1].expand(32, -1, -1, -1).clone()
        views = fn(same, generator=gen(2))
        distinct = (views - views[:1]).flatten(1).abs().amax(1).gt(1e-4).sum().item()
        if distinct < 24:
            raise Mistake(
                f"32 copies of one image gave only {distinct + 1} different views: it looks like one random "
                "parameter for the whole batch. Draw one per image (torch.rand(N, ...))."
            )
        # the ops switch
        none = fn(x, generator=gen(3), ops=())
        if not torch.allclose(none, x, atol=1e-6):
            raise Mistake("with ops=() it must return the images unchanged: apply only the operations named in `ops`.")
        flips = fn(x, generator=gen(4), ops=("flip",))
        is_same = (flips - x).flatten(1).abs().amax(1) < 1e-6
        is_flip = (flips - x.flip(-1)).flatten(1).abs().amax(1) < 1e-6
        if not (is_same | is_flip).all():
            raise Mistake("with ops=('flip',) every output must be the image or its mirror image, nothing else.")
        frac = is_flip.float().mean().item()
        if not 0.2 <= frac <= 0.8:
            raise Mistake(f"with ops=('flip',) {frac:.0%} of the images were flipped; flip each with probability 1/2.")
        for op in ("crop", "color"):
            one = fn(x, generator=gen(5), ops=(op,))
            changed = (one - x).flatten(1).abs().amax(1).gt(1e-4).float().mean().item()
            if changed < 0.5:
                raise Mistake(
                    f"with ops=('{op}',) only {changed:.0%} of the images changed; '{op}' should change most of them."
                )
        return "shapes, range, reproducibility, one draw per image and the ops switch are all right"

    return run_check("augment", augment, test, verbose)


__all__ = ["check_cosine_similarity_matrix", "check_nt_xent_loss", "check_augment", "passed", "missing", "ALL_OPS"]
