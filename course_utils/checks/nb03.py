"""Checks for notebook 03 (variational autoencoders).

``kl_standard_normal``, ``kl_diagonal_gaussians``, ``negative_elbo`` and ``gaussian_nll`` are compared with stored
outputs (``stored_values/03_vae.cases.json``), naming the mistake when the output matches a known wrong answer.
``reparameterize`` and ``importance_sampled_log_likelihood`` draw random numbers, so their checks test statistics:
the distribution of the samples and their gradients, and estimates of log p(x) on small models whose exact log p(x)
is stored (computed by numerical integration over a one-dimensional z).
"""

from __future__ import annotations

import math

import torch

from ..stored import load_cases
from . import (
    Mistake,
    call_unchanged,
    expect_tensor,
    missing,
    passed,
    run_cases,
    run_check,
)

NOTEBOOK = "03_vae"


def _per_row_hints(case):
    n = next(iter(case["args"].values())).shape[0]
    return {
        (): "Return one value per data point ([N]), not a single number for the batch.",
        (n, 1): "Drop the kept dimension: one number per data point, shape [N].",
    }


# ----------------------------------------------------------------------------- reparameterize
def check_reparameterize(reparameterize, verbose: bool = True) -> bool:
    """``reparameterize(mu, logvar, generator)``: z = mu + exp(logvar / 2) * eps, eps ~ N(0, I)."""

    def draw(fn, seed, n=4000):
        mu = torch.tensor([0.0, 2.0, -1.0], dtype=torch.float64).repeat(n, 1)
        logvar = torch.tensor([0.0, math.log(4.0), math.log(0.25)], dtype=torch.float64).repeat(n, 1)
        mu.requires_grad_(True)
        logvar.requires_grad_(True)
        z = fn(mu=mu, logvar=logvar, generator=torch.Generator().manual_seed(seed))
        return mu, logvar, expect_tensor(z, mu, tuple(mu.shape), {
            (n,): "Keep one z per latent coordinate: the output has the shape of mu.",
        })

    def test(fn):
        # no in-place changes
        mu0 = torch.zeros(5, 2, dtype=torch.float64)
        call_unchanged(fn, mu=mu0, logvar=torch.zeros(5, 2, dtype=torch.float64), generator=torch.Generator())
        mu, logvar, z = draw(fn, 0)
        spread = (z - mu).detach().std(0)  # the three columns have std 1, 2, 0.5
        if torch.allclose(spread, torch.zeros(3, dtype=spread.dtype), atol=1e-12):
            raise Mistake("z equals mu: no noise was added. z = mu + sigma * eps with eps ~ N(0, I).")
        expected = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
        if (spread - expected).abs().max() > 0.06:
            known = {
                "logvar itself as the standard deviation; sigma = exp(0.5 * logvar)":
                    [0.0, math.log(4.0), math.log(4.0)],
                "exp(logvar) as the standard deviation, but exp(logvar) is the variance; sigma = exp(0.5 * logvar)":
                    [1.0, 4.0, 0.25],
                "exp(-0.5 * logvar) (the sign is flipped); sigma = exp(+0.5 * logvar)": [1.0, 0.5, 2.0],
            }
            for hint, std in known.items():
                if (spread - torch.tensor(std, dtype=torch.float64)).abs().max() < 0.1:
                    raise Mistake(f"the samples' spread per coordinate is {[round(v, 2) for v in spread.tolist()]}, "
                                  f"which looks like {hint}.")
            raise Mistake(f"for sigma = (1, 2, 0.5) the samples have standard deviations "
                          f"{[round(v, 2) for v in spread.tolist()]}. Use sigma = exp(0.5 * logvar) and eps ~ N(0, I) "
                          "(torch.randn, not torch.rand).")
        centre = (z - mu).detach().mean(0)
        if centre.abs().max() > 0.1:
            raise Mistake(f"z - mu should average to 0; it averages to {[round(v, 2) for v in centre.tolist()]}. "
                          "eps must be standard normal (torch.randn), centred on 0.")
        # the generator makes it reproducible
        z_again = draw(fn, 0)[2]
        z_other = draw(fn, 1)[2]
        if not torch.equal(z.detach(), z_again.detach()) or torch.equal(z.detach(), z_other.detach()):
            raise Mistake("calls with generators seeded alike must give the same z (and different seeds different z): "
                          "draw eps with torch.randn(..., generator=generator).")
        # gradients: dz/dmu = 1, dz/dlogvar = 0.5 * sigma * eps = 0.5 * (z - mu)
        if not z.requires_grad:
            raise Mistake("z carries no gradient: the whole point of the trick is that z = mu + sigma * eps is "
                          "differentiable in mu and logvar (no torch.normal, no .detach()).")
        z.sum().backward()
        if mu.grad is None or not torch.allclose(mu.grad, torch.ones_like(mu)):
            raise Mistake("dz/dmu should be 1 for every coordinate; make z = mu + sigma * eps.")
        want = 0.5 * (z - mu).detach()
        if logvar.grad is None or not torch.allclose(logvar.grad, want, atol=1e-8):
            raise Mistake("dz/dlogvar should be 0.5 * sigma * eps = 0.5 * (z - mu); did the noise get detached, or "
                          "is sigma computed from something other than exp(0.5 * logvar)?")
        # float32 works too, and shapes other than [N, D]
        mu32 = torch.zeros(2, 3, 4)
        z32 = fn(mu=mu32, logvar=torch.zeros(2, 3, 4), generator=torch.Generator().manual_seed(3))
        expect_tensor(z32, mu32, (2, 3, 4))
        return "samples have the right mean and spread, the generator is used, gradients flow to mu and logvar"

    return run_check("reparameterize", reparameterize, test, verbose)


# ----------------------------------------------------------------------------- closed forms
def check_kl_standard_normal(kl_standard_normal, verbose: bool = True) -> bool:
    """``kl_standard_normal(mu, logvar)``: [N, D] twice -> [N], KL(N(mu, diag(exp(logvar))) || N(0, I))."""

    def nonneg(out, case):
        if (out < -1e-9).any():
            raise Mistake("a KL divergence is never negative; check the sign of each term.")

    def test(fn):
        return run_cases(NOTEBOOK, "kl_standard_normal", fn, lambda c: (c["args"]["mu"].shape[0],),
                         hints=_per_row_hints, extra=nonneg,
                         nonfinite_hint="exp(logvar) overflows for large logvar only; check for log(0) or a division.")

    return run_check("kl_standard_normal", kl_standard_normal, test, verbose)


def check_kl_diagonal_gaussians(kl_diagonal_gaussians, verbose: bool = True) -> bool:
    """``kl_diagonal_gaussians(mu_q, logvar_q, mu_p, logvar_p)``: [B, D] (p also [1, D]) -> [B],
    KL(N(mu_q, diag(exp(logvar_q))) || N(mu_p, diag(exp(logvar_p))))."""

    def hints(case):
        n, d = case["args"]["mu_q"].shape
        return {
            (): "Return one value per row ([B]), not a single number for the batch.",
            (n, 1): "Drop the kept dimension: one number per row, shape [B].",
            (n, d): "Sum over the last dimension (the latent coordinates): the KL of independent coordinates adds "
                    "up to one number per row.",
        }

    def nonneg(out, case):
        if (out < -1e-9).any():
            raise Mistake("a KL divergence is never negative; check the sign of each term, and which variance "
                          "divides which.")

    def test(fn):
        return run_cases(NOTEBOOK, "kl_diagonal_gaussians", fn, lambda c: (c["args"]["mu_q"].shape[0],),
                         hints=hints, extra=nonneg,
                         nonfinite_hint="Work with log-variances: sigma^2 = exp(logvar), so no log of 0 and no "
                                        "division by 0 is needed.")

    return run_check("kl_diagonal_gaussians", kl_diagonal_gaussians, test, verbose)


def check_negative_elbo(negative_elbo, verbose: bool = True) -> bool:
    """``negative_elbo(x, x_logits, mu, logvar)``: the batch mean of -ELBO with a Bernoulli decoder (a scalar)."""

    def hints(case):
        n = case["args"]["x"].shape[0]
        return {(n,): "Average the per-image values over the batch: return a scalar."}

    def test(fn):
        return run_cases(NOTEBOOK, "negative_elbo", fn, lambda c: (), hints=hints, nonfinite_hint=
                         "Use F.binary_cross_entropy_with_logits (stable for any logit), not log(sigmoid(...)).")

    return run_check("negative_elbo", negative_elbo, test, verbose)


def check_gaussian_nll(gaussian_nll, verbose: bool = True) -> bool:
    """``gaussian_nll(x, x_mu, x_logvar)``: [N, ...] -> [N], -log N(x; x_mu, diag(exp(x_logvar)))."""

    def test(fn):
        return run_cases(NOTEBOOK, "gaussian_nll", fn, lambda c: (c["args"]["x"].shape[0],), hints=_per_row_hints)

    return run_check("gaussian_nll", gaussian_nll, test, verbose)


# ----------------------------------------------------------------------------- importance sampling
class TinyLatentModel:
    """A VAE-shaped toy with a one-dimensional z, small enough that log p(x) is known exactly.

    p(z) = N(0, 1); p(x|z) = prod_j Bernoulli(x_j; sigmoid(a_j z + b_j));
    q(z|x) = N(x @ w_mu + c_mu, exp(x @ w_lv + c_lv)).  ``encode(x)`` gives ``(mu, logvar)``, each [N, 1];
    ``decode(z)`` gives logits [M, P] for z of shape [M, 1].
    """

    def __init__(self, a, b, w_mu, c_mu, w_lv, c_lv):
        t = lambda v: torch.as_tensor(v, dtype=torch.float64)  # noqa: E731
        self.a, self.b, self.w_mu, self.c_mu, self.w_lv, self.c_lv = map(t, (a, b, w_mu, c_mu, w_lv, c_lv))

    def encode(self, x):
        x = x.reshape(len(x), -1).cpu().to(torch.float64)
        return (x @ self.w_mu + self.c_mu).unsqueeze(1), (x @ self.w_lv + self.c_lv).unsqueeze(1)

    def decode(self, z):
        return z.reshape(-1, 1).cpu().to(torch.float64) * self.a + self.b

    def __call__(self, x):
        raise TypeError("use model.encode(x) and model.decode(z); the model has no forward pass")


def importance_cases() -> list[dict]:
    raw = load_cases(NOTEBOOK)["importance_sampled_log_likelihood"]
    for case in raw["cases"]:
        case["model"] = TinyLatentModel(**case["model"])
    return raw["cases"]


def check_importance_sampled_log_likelihood(importance_sampled_log_likelihood, verbose: bool = True) -> bool:
    """``importance_sampled_log_likelihood(model, x, k)``: [N] estimates of log p(x) from k samples of q(z|x)."""

    def test(fn):
        worst = 0.0
        cases = importance_cases()
        for case in cases:
            x, k, model = case["x"], case["k"], case["model"]
            torch.manual_seed(case.get("seed", 0))
            out = call_unchanged(lambda x: fn(model, x, k), x=x)
            out = expect_tensor(out, x, (len(x),), {
                (): "Return one estimate per data point ([N]), not the sum or mean over the batch.",
                (k, len(x)): "Combine the k samples with logsumexp over dim 0: one estimate per data point.",
                (len(x), 1): "Drop the kept dimension: shape [N].",
            })
            if torch.isnan(out).any():
                raise Mistake(f"it returned NaN on {case['label']}: a 0/0, or the log of 0 or of a negative number. "
                              "Is sigma = exp(0.5 * logvar) (never 0)? Are all three log-densities computed in log "
                              "space?")
            if not torch.isfinite(out).all():
                raise Mistake(f"it returned inf on {case['label']}, where "
                              "log p(x|z) is about -900 nats: exp() of that underflows to 0. Stay in log space: "
                              "torch.logsumexp(log_w, dim=0) - log(k), never log(mean(exp(log_w))).")
            out = out.detach().cpu()  # the exact values are float64 on the CPU (Apple's MPS has no float64)
            err = (out - case["expected"]).abs().max().item()
            if err > case["atol"]:
                for m in case["mistakes"]:
                    if (out - m["value"]).abs().max().item() <= m["atol"]:
                        raise Mistake(f"on {case['label']} the result looks like a known mistake: {m['hint']}")
                got = [round(v, 3) for v in out.flatten()[:3].tolist()]
                want = [round(v, 3) for v in case["expected"].flatten()[:3].tolist()]
                raise Mistake(f"on {case['label']} (k = {k}) the estimates are off by up to {err:.3g} nats "
                              f"(tolerance {case['atol']:g}): got {got}, exact log p(x) = {want}. Check each of "
                              "log p(x|z), log p(z) and log q(z|x), and the - log k.")
            worst = max(worst, err)
        return f"{len(cases)} cases passed (largest error {worst:.2g} nats from the exact log p(x))"

    return run_check("importance_sampled_log_likelihood", importance_sampled_log_likelihood, test, verbose)


__all__ = [
    "check_reparameterize", "check_kl_standard_normal", "check_kl_diagonal_gaussians", "check_negative_elbo",
    "check_gaussian_nll", "check_importance_sampled_log_likelihood", "TinyLatentModel", "passed", "missing",
    "NOTEBOOK",
]
