"""The known subtle mistakes, written once: each is an exercise's answer cell with one typical slip.

Used by ``tests/test_grade.py`` (our grader marks each down on its own exercise only), ``tests/test_nbgrader.py``
(the real nbgrader does too) and ``benchmarks/grade_throughput.py`` (the "subtly wrong" third of the
submissions). A mistake is (notebook, exercise, the answer cell's new source); ``SUBTLE`` names the one per
assignment that the nbgrader test and the benchmark use.
"""

from __future__ import annotations

from typing import NamedTuple


class Mistake(NamedTuple):
    notebook: str  # the solution notebook's stem
    exercise: str  # the graded function (the answer cell's grade_id)
    source: str  # the answer cell's source, with the mistake


_NT_XENT = (
    "def nt_xent_loss(z1, z2, temperature):\n"
    "    n = z1.shape[0]\n"
    "    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)\n"
    "    logits = z @ z.T / temperature\n"
    "    {mask}\n"
    "    pair = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])\n"
    "    losses = torch.logsumexp(logits, dim=1) - logits[torch.arange(2 * n), pair]\n"
    "    return {reduce}\n"
)

MISTAKES = {
    "ELBO without the entropy H(q)": Mistake("01_jensen_elbo", "elbo", (
        "def elbo(log_joint, q):\n    return (q * log_joint).sum(dim=1)\n")),
    "log p(x) with a mean over z instead of the sum": Mistake("01_jensen_elbo", "log_marginal", (
        "def log_marginal(log_joint):\n"
        "    return torch.logsumexp(log_joint, dim=1) - math.log(log_joint.shape[1])\n")),
    "posterior normalised over the data points instead of over z": Mistake("01_jensen_elbo", "posterior", (
        "def posterior(log_joint):\n    return torch.softmax(log_joint, dim=0)\n")),
    "AE loss averaged per pixel, not summed per image": Mistake("02_autoencoders", "ae_loss", (
        "def ae_loss(x, x_hat):\n    return (x - x_hat).pow(2).mean()\n")),
    "KL with the wrong sign": Mistake("03_vae", "kl_standard_normal", (
        "def kl_standard_normal(mu, logvar):\n"
        "    return -0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)\n")),
    "nt_xent averaged over N, not 2N": Mistake("04_simclr", "nt_xent_loss", _NT_XENT.format(
        mask="logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), float('-inf'))",
        reduce="losses.sum() / n")),
    "nt_xent with the self-similarity in the denominator": Mistake("04_simclr", "nt_xent_loss", _NT_XENT.format(
        mask="pass", reduce="losses.mean()")),
    "MAE loss over all patches": Mistake("05_mae", "masked_mse_loss", (
        "def masked_mse_loss(pred, target, mask):\n    return ((pred - target) ** 2).mean()\n")),
}  # fmt: skip

# One mistake per assignment, for the tests and benchmarks that grade each assignment once.
SUBTLE = {
    "01_jensen_elbo": MISTAKES["ELBO without the entropy H(q)"],
    "02_autoencoders": MISTAKES["AE loss averaged per pixel, not summed per image"],
    "03_vae": MISTAKES["KL with the wrong sign"],
    "04_simclr": MISTAKES["nt_xent with the self-similarity in the denominator"],
    "05_mae": MISTAKES["MAE loss over all patches"],
}


def in_notebook(notebook: str) -> dict[str, Mistake]:
    """The mistakes of one notebook, by name."""
    return {name: m for name, m in MISTAKES.items() if m.notebook == notebook}
