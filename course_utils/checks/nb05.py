"""Checks for notebook 05 (masked autoencoders).

``patchify``, ``unpatchify`` and ``masked_mse_loss`` are compared with stored outputs
(``data/05_mae.json``), naming the mistake when the output matches a known wrong answer.
``random_masking`` is random, so its check tests what must hold for any noise: how many patches are
kept, which ones, in which order, and that ``ids_restore`` undoes the shuffle.
"""

from __future__ import annotations

import torch

from . import Mistake, call_unchanged, expect_tensor, missing, passed, run_cases, run_check, stored_cases

NOTEBOOK = "05_mae"


def check_patchify(patchify, verbose: bool = True) -> bool:
    """``patchify(imgs, patch_size)``: ``[N, C, H, W]`` -> ``[N, L, p*p*C]``, patches row by row."""

    def grid(case):
        n, c, h, w = case["args"]["imgs"].shape
        p = case["args"]["patch_size"]
        return n, c, h, w, p, (h // p) * (w // p), p * p * c

    def shape(case):
        n, c, h, w, p, L, d = grid(case)
        return (n, L, d)

    def hints(case):
        n, c, h, w, p, L, d = grid(case)
        return {
            (n, d, L): "That is [N, p*p*C, L] (what F.unfold returns): transpose the last two dimensions.",
            (n, h // p, w // p, d): "Merge the two grid dimensions into one: L = (H/p)(W/p) patches.",
        }

    def test(fn):
        return run_cases(NOTEBOOK, "patchify", fn, shape, hints=hints)

    return run_check("patchify", patchify, test, verbose)


def check_unpatchify(unpatchify, verbose: bool = True) -> bool:
    """``unpatchify(x, patch_size, channels=1)``: ``[N, L, p*p*C]`` -> ``[N, C, H, W]``, the inverse of patchify."""

    def test(fn):
        shape = lambda case: tuple(case["expected"].shape)  # noqa: E731
        return run_cases(NOTEBOOK, "unpatchify", fn, shape) + "; unpatchify(patchify(x)) == x"

    return run_check("unpatchify", unpatchify, test, verbose)


def check_random_masking(random_masking, verbose: bool = True) -> bool:
    """``random_masking(x, mask_ratio, generator=None)`` -> ``(x_visible, mask, ids_restore)``."""

    def test(fn):
        g = torch.Generator().manual_seed(5)
        n, L, d = 6, 49, 5
        # every token carries its own position in feature 0, so we can see which were kept
        x = torch.randn(n, L, d, generator=g, dtype=torch.float64)
        x[:, :, 0] = torch.arange(L, dtype=torch.float64)
        for ratio in (0.75, 0.9, 0.5, 0.0):
            out = call_unchanged(fn, x=x, mask_ratio=ratio, generator=torch.Generator().manual_seed(11))
            if not isinstance(out, (tuple, list)) or len(out) != 3:
                raise Mistake("return three things: (x_visible, mask, ids_restore).")
            x_vis, mask, ids_restore = out
            keep = int(L * (1 - ratio))
            shape_hint = {(n, L - keep, d): "you returned the masked tokens; x_visible is the tokens that are KEPT."}
            if round(L * (1 - ratio)) != keep:
                shape_hint[(n, round(L * (1 - ratio)), d)] = (
                    f"L(1 - r) = {L * (1 - ratio):.2f}: keep the floor, "
                    f"int(L * (1 - mask_ratio)) = {keep}, not the rounded value."
                )
            x_vis = expect_tensor(x_vis, x, (n, keep, d), shape_hint)
            if not torch.is_tensor(mask) or tuple(mask.shape) != (n, L):
                raise Mistake(
                    f"mask must be a [N, L] = [{n}, {L}] tensor, got {getattr(mask, 'shape', type(mask).__name__)}."
                )
            if (
                not torch.is_tensor(ids_restore)
                or tuple(ids_restore.shape) != (n, L)
                or ids_restore.dtype != torch.int64
            ):
                raise Mistake("ids_restore must be an int64 [N, L] tensor (the argsort of the shuffle).")
            m = mask.cpu().double()  # no float64 on Apple's MPS: the mask's checks run on the CPU
            if not ((m == 0) | (m == 1)).all():
                raise Mistake("mask must hold only 0 (kept) and 1 (removed).")
            removed = m.sum(1)
            if (removed == keep).all() and keep != L - keep:
                raise Mistake(
                    "the mask is inverted: it has 1 for the KEPT patches. "
                    "The mask has 1 for a removed patch, 0 for a kept one."
                )
            if not (removed == L - keep).all():
                raise Mistake(
                    f"with mask_ratio {ratio} each row of mask must have {L - keep} ones (removed patches), "
                    f"got {removed[:3].tolist()}."
                )
            if not (ids_restore.sort(1).values == torch.arange(L)).all():
                raise Mistake("each row of ids_restore must be a permutation of 0..L-1.")
            kept_pos = x_vis[:, :, 0].round().long()  # which patches x_visible holds, in its order
            if not torch.equal(torch.gather(x, 1, kept_pos.unsqueeze(-1).expand(-1, -1, d)), x_vis):
                raise Mistake(
                    "x_visible must be rows of x, unchanged (gather the kept tokens with all their features)."
                )
            # ids_restore undoes the shuffle: the shuffled order is visible first, then the removed ones
            ids_shuffle = torch.argsort(ids_restore, dim=1)
            if not torch.equal(ids_shuffle[:, :keep], kept_pos):
                if torch.equal(ids_restore[:, :keep], kept_pos):
                    raise Mistake(
                        "ids_restore looks like the shuffle itself (ids_shuffle). It must be its inverse: "
                        "ids_restore = argsort(ids_shuffle)."
                    )
                raise Mistake(
                    "ids_restore does not undo the shuffle: argsort(ids_restore) should list the kept "
                    "patches first, in the order x_visible holds them."
                )
            restored_mask = (
                torch.cat([torch.zeros(n, keep), torch.ones(n, L - keep)], 1).double().gather(1, ids_restore.cpu())
            )
            if not torch.equal(restored_mask, m):
                raise Mistake("mask must be [0]*keep + [1]*(L - keep) put back into patch order with ids_restore.")
            # after ids_restore and the mask on their own: a wrong one of those is named, not this consequence
            if not (torch.gather(m, 1, kept_pos) == 0).all():
                raise Mistake("x_visible holds patches that the mask marks as removed: mask has 1 for a removed patch.")
        # per-sample noise and the generator
        a = fn(x, 0.75, torch.Generator().manual_seed(3))
        b = fn(x, 0.75, torch.Generator().manual_seed(3))
        if not torch.equal(a[1], b[1]):
            raise Mistake("the same generator seed gave different masks: draw the noise with generator=generator.")
        if torch.equal(a[1], fn(x, 0.75, torch.Generator().manual_seed(4))[1]):
            raise Mistake("two different generator seeds gave the same mask: use the generator you are given.")
        if all(torch.equal(a[1][0], a[1][i]) for i in range(1, n)):
            raise Mistake("every image got the same mask: draw noise of shape [N, L], one row per image.")
        rand_hint = "noise = torch.rand(N, L, generator=generator)"
        return (f"kept ⌊L(1-r)⌋ patches, mask 1 = removed, ids_restore inverts the shuffle, "
                f"one mask per image ({rand_hint})")

    return run_check("random_masking", random_masking, test, verbose)


def check_masked_mse_loss(masked_mse_loss, verbose: bool = True) -> bool:
    """``masked_mse_loss(pred, target, mask)``: the mean over masked patches of each patch's mean squared error."""

    def scalar(out, case):
        if not torch.is_tensor(out) or out.dim() != 0:
            raise Mistake(f"return a scalar tensor; got {getattr(out, 'shape', type(out).__name__)}.")
        return expect_tensor(out, case["args"]["pred"], ())

    def test(fn):
        summary = run_cases(NOTEBOOK, "masked_mse_loss", fn, validate=scalar)
        cases = stored_cases(NOTEBOOK, "masked_mse_loss")
        a = cases[0]["args"]
        grad_pred = a["pred"].clone().requires_grad_(True)
        fn(grad_pred, a["target"], a["mask"]).backward()
        if grad_pred.grad is None or (grad_pred.grad[a["mask"] == 0] != 0).any():
            raise Mistake("the loss depends on the visible patches; only the masked ones (mask == 1) may count.")
        return summary

    return run_check("masked_mse_loss", masked_mse_loss, test, verbose)


__all__ = ["check_patchify", "check_unpatchify", "check_random_masking", "check_masked_mse_loss", "passed", "missing"]
