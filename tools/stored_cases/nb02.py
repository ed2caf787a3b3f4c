"""The check cases of notebook 02: inputs, expected outputs, and the outputs of typical mistakes.

Maintainers only (not shipped to students): ``python tools/make_stored.py 02 --cases`` calls ``build`` with
the solution notebook's own functions and writes
``course_utils/stored_values/02_autoencoders.cases.json``, so the checks and the solutions cannot
disagree. ``--check`` rebuilds them and compares with what is stored.
"""

import torch


def build(sol: dict) -> dict:
    """Every exercise's cases: ``{exercise: {"cases": [...]}}``, from the solution's functions ``sol``."""
    ae_loss = sol["ae_loss"]

    g = torch.Generator().manual_seed(2025)
    D = torch.float64

    def pair(*shape):
        x = torch.rand(*shape, generator=g, dtype=D)
        x_hat = (x + 0.3 * torch.randn(*shape, generator=g, dtype=D)).clamp(0, 1)
        return x, x_hat

    def mistakes(x, x_hat):
        d = (x - x_hat).flatten(1)
        return [
            {"value": (d**2).mean(), "hint": "averaging over pixels too (like F.mse_loss): L_AE SUMS the squared error "
                                              "over the pixels of an image and averages only over the n images."},
            {"value": (d**2).sum(), "hint": "summed over the batch as well: divide by n (average over the images)."},
            {"value": d.norm(dim=1).mean(), "hint": "that is the L2 norm ||x - x_hat||, not its square."},
            {"value": d.abs().sum(1).mean(), "hint": "an absolute (L1) error; the slide's loss squares the difference."},
            {"value": (d**2).sum(1).mean() / 2, "hint": "there is no factor 1/2 in the slide's L_AE."},
        ]

    def case(label, x, x_hat):
        return {"label": label, "args": {"x": x, "x_hat": x_hat}, "expected": ae_loss(x, x_hat),
                "mistakes": mistakes(x, x_hat), "atol": 1e-9}

    cases = [
        case("a batch of 4 random 10x10 images", *pair(4, 1, 10, 10)),
        case("7 flat images [7, 60]", *pair(7, 60)),
        case("a [3, 2, 5, 5] batch (2 channels)", *pair(3, 2, 5, 5)),
    ]
    table = {"ae_loss": {"cases": cases}}
    return table
