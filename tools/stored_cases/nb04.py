"""The check cases of notebook 04 (SimCLR): inputs, expected outputs, and the outputs of typical mistakes.

Maintainers only (not shipped to students): ``python tools/make_stored.py 04 --cases`` calls ``build`` with
the solution notebook's own functions and writes
``course_utils/stored_values/04_simclr.cases.json``, so the checks and the solutions cannot
disagree. ``--check`` rebuilds them and compares with what is stored.
"""

import torch
import torch.nn.functional as F


def build(sol: dict) -> dict:
    """Every exercise's cases: ``{exercise: {"cases": [...]}}``, from the solution's functions ``sol``."""
    cosine_similarity_matrix, nt_xent_loss = sol["cosine_similarity_matrix"], sol["nt_xent_loss"]

    g = torch.Generator().manual_seed(404)
    D = torch.float64

    def cos_mistakes(z):
        zc = z / z.norm(dim=0, keepdim=True)
        return [
            {
                "value": z @ z.T,
                "hint": "that is the plain dot product z_i.z_j: divide by |z_i| |z_j| (normalise the rows first).",
            },
            {"value": zc @ zc.T, "hint": "you normalised the columns (dim=0); normalise each row z_i (dim=1)."},
            {
                "value": (z @ z.T) / (z.norm(dim=1) ** 2)[:, None],
                "hint": "you divided by |z_i|^2; the denominator is |z_i| |z_j|.",
            },
            {"value": torch.cdist(z, z), "hint": "that is a Euclidean distance, not a cosine similarity."},
        ]

    def variants(z1, z2, tau):
        """The NT-Xent loss and its typical mistakes, written out in full."""
        n = len(z1)
        z = torch.cat([z1, z2])
        zn = F.normalize(z, dim=1)
        partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
        rows = torch.arange(2 * n)
        eye = torch.eye(2 * n, dtype=torch.bool)

        def per_anchor(sim, scale, keep_self=False):
            logits = sim * scale
            mask = torch.zeros_like(eye) if keep_self else eye
            return torch.logsumexp(logits.masked_fill(mask, float("-inf")), dim=1) - logits[rows, partner]

        s = zn @ zn.T
        losses = per_anchor(s, 1 / tau)
        raw = per_anchor(z @ z.T, 1 / tau)
        return losses, {
            "mean over N": losses.sum() / n,
            "self in denominator": per_anchor(s, 1 / tau, keep_self=True).mean(),
            "no temperature": per_anchor(s, 1.0).mean(),
            "temperature twice": per_anchor(s, 1 / tau**2).mean(),
            "times temperature": per_anchor(s, tau).mean(),
            "no normalisation": raw.mean(),
            "one direction": losses[:n].mean(),
            "sum": losses.sum(),
            "positive excluded": _decoupled(s, tau, n),
        }

    def _decoupled(s, tau, n):
        # the denominator without the positive (DCL), a plausible misreading of the indicator
        rows = torch.arange(2 * n)
        partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
        logits = s / tau
        mask = torch.eye(2 * n, dtype=torch.bool)
        mask[rows, partner] = True
        return (torch.logsumexp(logits.masked_fill(mask, float("-inf")), 1) - logits[rows, partner]).mean()

    HINTS = {
        "mean over N": "it is twice the right value: you averaged over the N pairs; "
        "L averages over all 2N anchors (1/(2N)).",
        "self in denominator": "the self-similarity s_ii is still in the denominator. The indicator 1[k != i] removes it: "
        "set the diagonal to -inf before the log-sum-exp.",
        "no temperature": "that is the loss with tau = 1: divide the similarities by the temperature.",
        "temperature twice": "the similarities were divided by tau twice (s / tau**2); divide once.",
        "times temperature": "the similarities were multiplied by tau; divide them by tau.",
        "no normalisation": "that uses raw dot products z_i.z_j; s_ij is the cosine similarity (normalise each z first).",
        "one direction": "only l(2k-1, 2k) is counted; L also needs l(2k, 2k-1): every view is an anchor.",
        "sum": "that is the sum over the 2N anchors; L is their mean.",
        "positive excluded": "the positive pair is missing from the denominator; "
        "it sums over every k != i, the positive included.",
    }

    def nt_case(label, z1, z2, tau, atol=1e-6):
        expected = nt_xent_loss(z1, z2, tau)
        losses, wrong = variants(z1, z2, tau)
        assert torch.allclose(losses.mean(), expected), "the written-out loss must agree with the solution"
        mistakes = []
        for k, v in wrong.items():
            if (v - expected).abs() > 1e-3:  # only mistakes this case can tell apart
                mistakes.append({"value": v.reshape(()), "hint": HINTS[k]})
        return {
            "label": label,
            "args": {"z1": z1, "z2": z2, "temperature": tau},
            "expected": expected,
            "mistakes": mistakes,
            "atol": atol,
        }

    def cos_case(label, z, atol=1e-6):
        return {
            "label": label,
            "args": {"z": z},
            "expected": cosine_similarity_matrix(z),
            "mistakes": cos_mistakes(z),
            "atol": atol,
        }

    table = {
        "cosine_similarity_matrix": {
            "cases": [
                cos_case("a random [6, 4] z", torch.randn(6, 4, generator=g, dtype=D) * 3),
                cos_case("a [5, 8] z (D > M)", torch.randn(5, 8, generator=g, dtype=D) + 1),
                cos_case(
                    "a [3, 2] z with rows of very different lengths",
                    torch.tensor([[100.0, 1.0], [0.01, 0.02], [-3.0, 4.0]], dtype=D),
                ),
            ]
        },
        "nt_xent_loss": {
            "cases": [
                nt_case(
                    "N = 4 random pairs, D = 8, tau = 0.5",
                    torch.randn(4, 8, generator=g, dtype=D) * 2,
                    torch.randn(4, 8, generator=g, dtype=D) * 2,
                    0.5,
                ),
                nt_case(
                    "N = 6 pairs of nearby vectors, D = 3, tau = 0.1",
                    *(lambda a: (a, a + 0.3 * torch.randn(6, 3, generator=g, dtype=D)))(
                        torch.randn(6, 3, generator=g, dtype=D)
                    ),
                    0.1,
                ),
                nt_case(
                    "N = 3 random pairs, D = 5, tau = 0.2",
                    torch.randn(3, 5, generator=g, dtype=D) * 5,
                    torch.randn(3, 5, generator=g, dtype=D),
                    0.2,
                ),
            ]
        },
    }
    return table
