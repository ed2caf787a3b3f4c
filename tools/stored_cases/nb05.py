"""The check cases of notebook 05 (MAE): inputs, expected outputs, and the outputs of typical mistakes.

Maintainers only (not shipped to students): ``python tools/make_stored.py 05 --cases`` calls ``build`` with
the solution notebook's own functions and writes
``course_utils/stored_values/05_mae.cases.json``, so the checks and the solutions cannot
disagree. ``--check`` rebuilds them and compares with what is stored.
"""

import torch


def build(sol: dict) -> dict:
    """Every exercise's cases: ``{exercise: {"cases": [...]}}``, from the solution's functions ``sol``."""
    patchify, unpatchify, masked_mse_loss = sol["patchify"], sol["unpatchify"], sol["masked_mse_loss"]

    g = torch.Generator().manual_seed(505)
    D = torch.float64

    def grid(imgs, p, order):
        n, c, h, w = imgs.shape
        x = imgs.reshape(n, c, h // p, p, w // p, p)
        return torch.einsum(f"nchpwq->{order}", x).reshape(n, (h // p) * (w // p), p * p * c)

    def patch_mistakes(imgs, p):
        c = imgs.shape[1]
        out = [
            {
                "value": grid(imgs, p, "nwhpqc"),
                "hint": "the patches are numbered column by column; number them row by row "
                "(patch l = i * W/p + j for grid row i, column j).",
            },
            {
                "value": grid(imgs, p, "nhwqpc"),
                "hint": "inside each patch the pixels are transposed (column by column); "
                "keep them row by row: order (row, column, channel).",
            },
            {
                "value": grid(imgs, p, "nwhqpc"),
                "hint": "the whole image is transposed: both the patch order and the pixels "
                "inside a patch run column by column.",
            },
        ]
        if c > 1:
            out.append(
                {
                    "value": grid(imgs, p, "nhwcpq"),
                    "hint": "the channel comes first inside a patch (what F.unfold "
                    "gives); MAE puts it last: (row, column, channel), p*p*C.",
                }
            )
        return out

    def unpatch_mistakes(tokens, p, c):
        n, L, _ = tokens.shape
        s = int(L**0.5)
        x = tokens.reshape(n, s, s, p, p, c)

        def back(order):
            return torch.einsum(order, x).reshape(n, c, s * p, s * p)

        return [
            {
                "value": back("nhwpqc->ncwphq"),
                "hint": "the image comes out transposed: rows of patches became columns. "
                "Undo patchify's permutation exactly (nhwpqc -> nchpwq).",
            },
            {
                "value": back("nhwpqc->nchqwp"),
                "hint": "the pixels inside each patch are transposed: inside a patch the order is (row, column, channel).",
            },
        ]

    def patch_case(label, imgs, p):
        return {
            "label": label,
            "args": {"imgs": imgs, "patch_size": p},
            "expected": patchify(imgs, p),
            "mistakes": patch_mistakes(imgs, p),
            "atol": 1e-9,
        }

    def unpatch_case(label, imgs, p):
        c = imgs.shape[1]
        tokens = patchify(imgs, p)
        expected = unpatchify(tokens, p, c)
        assert torch.equal(expected, imgs), "the solution's round trip must be exact"
        return {
            "label": label,
            "args": {"x": tokens, "patch_size": p, "channels": c},
            "expected": expected,
            "mistakes": unpatch_mistakes(tokens, p, c),
            "atol": 1e-9,
        }

    def loss_mistakes(pred, target, mask):
        sq = (pred - target) ** 2
        per_patch = sq.mean(-1)
        return [
            {
                "value": per_patch.mean(),
                "hint": "that is the mean over ALL patches; only the masked ones (mask == 1) count.",
            },
            {
                "value": (per_patch * (1 - mask)).sum() / (1 - mask).sum(),
                "hint": "that is the loss on the VISIBLE patches: mask has 1 for a removed patch, "
                "and those are the ones to count.",
            },
            {
                "value": (sq.sum(-1) * mask).sum() / mask.sum(),
                "hint": "you summed over the pixels of a patch; take their mean.",
            },
            {
                "value": (per_patch * mask).sum() / mask.numel(),
                "hint": "you divided by the number of all patches; divide by the number of masked ones (mask.sum()).",
            },
            {"value": (per_patch * mask).sum(), "hint": "that is the sum over masked patches; divide by their number."},
            {
                "value": ((per_patch * mask).sum(1) / mask.sum(1)).mean(),
                "hint": "you averaged per image, then over images; average over all masked patches of the batch at once.",
            },
            {
                "value": ((pred - target).abs().mean(-1) * mask).sum() / mask.sum(),
                "hint": "that is an absolute error; square it.",
            },
        ]

    def loss_case(label, n, L, d, ratio):
        pred = torch.randn(n, L, d, generator=g, dtype=D)
        target = torch.randn(n, L, d, generator=g, dtype=D)
        # a different number of masked patches per image, so that the per-image average differs
        mask = (torch.rand(n, L, generator=g, dtype=D) < ratio).to(D)
        mask[:, 0] = 1
        expected = masked_mse_loss(pred, target, mask)
        return {
            "label": label,
            "args": {"pred": pred, "target": target, "mask": mask},
            "expected": expected,
            "mistakes": [m for m in loss_mistakes(pred, target, mask) if (m["value"] - expected).abs() > 1e-6],
            "atol": 1e-9,
        }

    imgs_a = torch.rand(2, 1, 8, 8, generator=g, dtype=D)
    imgs_b = torch.rand(2, 3, 6, 6, generator=g, dtype=D)
    imgs_c = torch.rand(1, 1, 14, 14, generator=g, dtype=D)
    imgs_d = torch.rand(2, 1, 12, 12, generator=g, dtype=D)
    table = {
        "patchify": {
            "cases": [
                patch_case("[2, 1, 8, 8] images, p = 4", imgs_a, 4),
                patch_case("[2, 3, 6, 6] images (3 channels), p = 2", imgs_b, 2),
                patch_case("a 14x14 image, p = 7", imgs_c, 7),
            ]
        },
        "unpatchify": {
            "cases": [
                unpatch_case("patches of [2, 1, 8, 8] images, p = 4", imgs_a, 4),
                unpatch_case("patches of [2, 3, 6, 6] images, p = 2, channels = 3", imgs_b, 2),
                unpatch_case("patches of [2, 1, 12, 12] images, p = 3", imgs_d, 3),
            ]
        },
        "masked_mse_loss": {
            "cases": [
                loss_case("N = 3, L = 9, D = 4, about 75% masked", 3, 9, 4, 0.75),
                loss_case("N = 2, L = 16, D = 2, about half masked", 2, 16, 2, 0.5),
            ]
        },
    }
    return table
