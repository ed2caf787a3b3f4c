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


# ----------------------------------------------------------------------------- the mutation suite
# Each mutant is the solution's own answer cell with one realistic slip (an edit of its source), so that it never
# drifts from the course; tests/test_mutations.py grades each against the hidden tests: it must lose points on its
# own exercise. CORRECT holds answers written differently that must keep full marks.
_SOLUTIONS = __import__("pathlib").Path(__file__).resolve().parents[2] / "solutions"
_CELLS: dict = {}


def solution_cell(notebook: str, exercise: str) -> str:
    """The answer cell of ``exercise`` in the solution, without the solution markers."""
    if notebook not in _CELLS:
        import nbformat

        nb = nbformat.read(_SOLUTIONS / f"{notebook}.ipynb", as_version=4)
        _CELLS[notebook] = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
                            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}
    src = _CELLS[notebook][exercise]
    return "\n".join(line for line in src.split("\n") if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def edit(notebook: str, exercise: str, *pairs: tuple[str, str]) -> Mistake:
    """The solution's answer cell with each ``(old, new)`` replaced (each ``old`` must be there)."""
    src = solution_cell(notebook, exercise)
    for old, new in pairs:
        if old not in src:
            raise ValueError(f"{notebook} {exercise}: {old!r} is not in the solution")
        src = src.replace(old, new)
    return Mistake(notebook, exercise, src)


def _mutants() -> dict[str, Mistake]:
    n1, n2, n3, n4, n5 = "01_jensen_elbo", "02_autoencoders", "03_vae", "04_simclr", "05_mae"
    return {
        # 01: log p(x), the ELBO, the posterior
        "log p(x) as log(sum(exp)): underflows": edit(n1, "log_marginal", (
            "torch.logsumexp(log_joint, dim=1)", "torch.log(torch.exp(log_joint).sum(dim=1))")),
        "log p(x) with one max for the whole batch": edit(n1, "log_marginal", (
            "return torch.logsumexp(log_joint, dim=1)",
            "top = log_joint.max()\n    return top + torch.log(torch.exp(log_joint - top).sum(dim=1))")),
        "log p(x) over the batch (dim 0)": edit(n1, "log_marginal", ("dim=1)", "dim=0)")),
        "ELBO with the entropy's sign flipped": edit(n1, "elbo", ("entropy = -torch.xlogy", "entropy = torch.xlogy")),
        "ELBO with q log q (NaN at q = 0)": edit(n1, "elbo", ("torch.xlogy(q, q)", "(q * torch.log(q))")),
        "ELBO averaged over z instead of summed": edit(n1, "elbo", (
            "return (q * log_joint).sum(dim=1) + entropy", "return (q * log_joint).mean(dim=1) + entropy")),
        "posterior as exp / sum without the max: overflows": edit(n1, "posterior", (
            "return torch.softmax(log_joint, dim=1)",
            "p = torch.exp(log_joint)\n    return p / p.sum(dim=1, keepdim=True)")),
        "posterior as log-probabilities": edit(n1, "posterior", ("torch.softmax(", "torch.log_softmax(")),
        # 02: the loss, the model, the corruption
        "AE loss summed over the batch too": edit(n2, "ae_loss", ("return squared_error.mean()",
                                                                   "return squared_error.sum()")),
        "AE loss with absolute errors": edit(n2, "ae_loss", ("(x - x_hat).pow(2)", "(x - x_hat).abs()")),
        "AE loss per image, not averaged": edit(n2, "ae_loss", ("return squared_error.mean()",
                                                                 "return squared_error")),
        "Autoencoder: no ReLU in the decoder's hidden layer": edit(n2, "Autoencoder", (
            "nn.Linear(latent_dim, hidden_dim), nn.ReLU(),", "nn.Linear(latent_dim, hidden_dim),")),
        "Autoencoder: no sigmoid on the output": edit(n2, "Autoencoder", ("nn.Sigmoid(),", "")),
        "Autoencoder: a ReLU on the code z": edit(n2, "Autoencoder", (
            "nn.Linear(hidden_dim, latent_dim),         # => [N, latent_dim]",
            "nn.Linear(hidden_dim, latent_dim), nn.ReLU(),")),
        "Autoencoder: hidden_dim ignored": edit(n2, "Autoencoder", (
            "        super().__init__()\n", "        super().__init__()\n        hidden_dim = 256\n")),
        "corrupt: one mask for the whole batch": edit(n2, "corrupt", (
            "dropped = torch.rand(x.shape, generator=generator, device=x.device) < mask_prob",
            "dropped = torch.rand((1, *x.shape[1:]), generator=generator, device=x.device) < mask_prob")),
        "corrupt: mask_prob read as the keep probability": edit(n2, "corrupt", ("< mask_prob", "> mask_prob")),
        "corrupt: noise without the generator": edit(n2, "corrupt", (
            "torch.randn(x.shape, generator=generator,", "torch.randn(x.shape,")),
        "corrupt: clipped to [0, 1]": edit(n2, "corrupt", (
            "return x_tilde.masked_fill(dropped, 0.0)", "return x_tilde.masked_fill(dropped, 0.0).clamp(0, 1)")),
        "corrupt: noise added after masking": edit(n2, "corrupt", (
            "return x_tilde.masked_fill(dropped, 0.0)", "return x.masked_fill(dropped, 0.0) + noise_std * eps")),
        "corrupt: one noise image for the whole batch": edit(n2, "corrupt", (
            "eps = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)",
            "eps = torch.randn((1, *x.shape[1:]), generator=generator, dtype=x.dtype, device=x.device)")),
        # 03: the VAE's pieces
        "reparameterize with exp(logvar) as the std": edit(n3, "reparameterize", ("torch.exp(0.5 * logvar)",
                                                                                  "torch.exp(logvar)")),
        "reparameterize without the generator": edit(n3, "reparameterize", ("generator=generator, ", "")),
        "reparameterize by torch.normal (no gradient)": edit(n3, "reparameterize", (
            "return mu + torch.exp(0.5 * logvar) * eps",
            "return torch.normal(mu.detach(), torch.exp(0.5 * logvar.detach()), generator=generator)")),
        "KL to N(0, I) averaged over the dimensions": edit(n3, "kl_standard_normal", (".sum(dim=1)", ".mean(dim=1)")),
        "KL of two Gaussians with p and q swapped": edit(n3, "kl_diagonal_gaussians", (
            "variance_ratio = torch.exp(logvar_q - logvar_p)", "variance_ratio = torch.exp(logvar_p - logvar_q)")),
        "KL of two Gaussians without the mean term's 1/sigma_p^2": edit(n3, "kl_diagonal_gaussians", (
            "(mu_q - mu_p).pow(2) * torch.exp(-logvar_p)", "(mu_q - mu_p).pow(2)")),
        "negative ELBO as sigmoid then BCE": edit(n3, "negative_elbo", (
            'F.binary_cross_entropy_with_logits(x_logits, x, reduction="none")',
            'F.binary_cross_entropy(torch.sigmoid(x_logits), x, reduction="none")')),
        "negative ELBO summed over the batch": edit(n3, "negative_elbo", ("return (reconstruction + kl).mean()",
                                                                          "return (reconstruction + kl).sum()")),
        "negative ELBO without the KL": edit(n3, "negative_elbo", ("return (reconstruction + kl).mean()",
                                                                   "return reconstruction.mean()")),
        "Gaussian NLL without log 2 pi": edit(n3, "gaussian_nll", ("math.log(2 * math.pi) + x_logvar", "x_logvar")),
        "Gaussian NLL with the std for the variance": edit(n3, "gaussian_nll", (
            "torch.exp(-x_logvar)", "torch.exp(-0.5 * x_logvar)")),
        "importance sampling without log q": edit(n3, "importance_sampled_log_likelihood", (
            "log_w = log_px_z + log_pz - log_qz", "log_w = log_px_z + log_pz")),
        "importance sampling without - log k": edit(n3, "importance_sampled_log_likelihood", (
            " - math.log(k)).to(x.dtype)", ").to(x.dtype)")),
        "importance sampling averaged outside log space": edit(n3, "importance_sampled_log_likelihood", (
            "return (torch.logsumexp(log_w, dim=0) - math.log(k)).to(x.dtype)",
            "return torch.log(torch.exp(log_w).mean(dim=0)).to(x.dtype)")),
        # 04: SimCLR
        "NT-Xent with the temperature multiplied": edit(n4, "nt_xent_loss", ("z @ z.T / temperature",
                                                                              "z @ z.T * temperature")),
        "cosine similarity without normalising": edit(n4, "cosine_similarity_matrix", (
            "z_unit = z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)", "z_unit = z")),
        "cosine similarity normalised over dim 0": edit(n4, "cosine_similarity_matrix", (
            "z.norm(dim=1, keepdim=True)", "z.norm(dim=0, keepdim=True)")),
        "augment without the generator": edit(n4, "augment", ("generator=generator, ", "")),
        "augment: one draw for the whole batch": edit(n4, "augment", (
            "u = torch.rand(n, generator=generator, dtype=x.dtype)",
            "u = torch.rand(1, generator=generator, dtype=x.dtype).expand(n)")),
        # 05: MAE
        "masked MSE summed over the features": edit(n5, "masked_mse_loss", (
            "((pred - target) ** 2).mean(dim=-1)", "((pred - target) ** 2).sum(dim=-1)")),
        "masked MSE on the visible patches": edit(n5, "masked_mse_loss", (
            "return (per_patch * mask).sum() / mask.sum()",
            "return (per_patch * (1 - mask)).sum() / (1 - mask).sum()")),
        "random masking with the mask inverted": edit(n5, "random_masking", (
            "mask = torch.ones(n, L", "mask = torch.zeros(n, L"), ("mask[:, :len_keep] = 0", "mask[:, :len_keep] = 1")),
        "random masking with ids_restore = argsort(noise)": edit(n5, "random_masking", (
            "ids_restore = torch.argsort(ids_shuffle, dim=1)", "ids_restore = torch.argsort(noise, dim=1)")),
        "random masking: one noise row for the batch": edit(n5, "random_masking", (
            "noise = torch.rand(n, L, generator=generator)",
            "noise = torch.rand(1, L, generator=generator).expand(n, L)")),
        "random masking: round instead of floor": edit(n5, "random_masking", (
            "len_keep = int(L * (1 - mask_ratio))", "len_keep = round(L * (1 - mask_ratio))")),
        "patchify in column-major order": edit(n5, "patchify", ('"nchpwq->nhwpqc"', '"nchpwq->nwhqpc"')),
        "unpatchify with rows and columns swapped": edit(n5, "unpatchify", ('"nhwpqc->nchpwq"', '"nwhqpc->nchpwq"')),
    }


def _correct() -> dict[str, Mistake]:
    n1, n2, n3, n4, n5 = "01_jensen_elbo", "02_autoencoders", "03_vae", "04_simclr", "05_mae"
    return {
        "log p(x) with the max subtracted per row": edit(n1, "log_marginal", (
            "return torch.logsumexp(log_joint, dim=1)",
            "top = log_joint.max(dim=1, keepdim=True).values\n"
            "    return (top + torch.log(torch.exp(log_joint - top).sum(dim=1, keepdim=True))).squeeze(1)")),
        "ELBO as E_q[log p(x, z) - log q(z)] with where": edit(n1, "elbo", (
            "entropy = -torch.xlogy(q, q).sum(dim=1)          # H(q_n), with 0 log 0 = 0",
            "entropy = -torch.where(q > 0, q * torch.log(q.clamp_min(1e-300)), torch.zeros_like(q)).sum(dim=1)")),
        "posterior as exp(log p - logsumexp)": edit(n1, "posterior", (
            "return torch.softmax(log_joint, dim=1)",
            "return torch.exp(log_joint - torch.logsumexp(log_joint, dim=1, keepdim=True))")),
        "AE loss by F.mse_loss": edit(n2, "ae_loss", (
            "squared_error = (x - x_hat).pow(2).flatten(start_dim=1).sum(dim=1)   # [n]\n"
            "    return squared_error.mean()",
            "return F.mse_loss(x_hat, x, reduction='sum') / x.shape[0]")),
        "corrupt by torch.where and a keep mask": edit(n2, "corrupt", (
            "return x_tilde.masked_fill(dropped, 0.0)",
            "return torch.where(~dropped, x_tilde, torch.zeros_like(x_tilde))")),
        "KL to N(0, I) with torch.square": edit(n3, "kl_standard_normal", ("mu.pow(2)", "torch.square(mu)")),
        "negative ELBO with softplus": edit(n3, "negative_elbo", (
            'F.binary_cross_entropy_with_logits(x_logits, x, reduction="none")',
            "(F.softplus(x_logits) - x * x_logits)")),
        "Gaussian NLL by torch.distributions": edit(n3, "gaussian_nll", (
            "per_pixel = 0.5 * (math.log(2 * math.pi) + x_logvar + (x - x_mu).pow(2) * torch.exp(-x_logvar))",
            "per_pixel = -torch.distributions.Normal(x_mu, torch.exp(0.5 * x_logvar)).log_prob(x)")),
        "cosine similarity by F.normalize": edit(n4, "cosine_similarity_matrix", (
            "z_unit = z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)", "z_unit = F.normalize(z, dim=1)")),
        "NT-Xent by cross_entropy": edit(n4, "nt_xent_loss", (
            "    log_denominator = torch.logsumexp(logits, dim=1)  # log sum_{k != i} exp(s_ik / tau)\n"
            "    losses = log_denominator - logits[torch.arange(2 * n, device=z.device), partner]"
            "  # l(i, partner of i)\n"
            "    return losses.mean()  # 1/(2N) sum over all 2N anchors",
            "    return F.cross_entropy(logits, partner)")),
        "patchify by unfold and permute": edit(n5, "patchify", (
            'x = imgs.reshape(n, c, h // p, p, w // p, p)  # [N, C, H/p, p, W/p, p]\n'
            '    x = torch.einsum("nchpwq->nhwpqc", x)  # [N, H/p, W/p, p, p, C]',
            "x = imgs.reshape(n, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)")),
        "masked MSE by masked_select": edit(n5, "masked_mse_loss", (
            "return (per_patch * mask).sum() / mask.sum()", "return per_patch[mask.bool()].mean()")),
    }


MUTANTS = {**MISTAKES, **_mutants()}
CORRECT = _correct()
