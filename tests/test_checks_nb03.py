"""The notebook-03 checks: pass the solution, name typical mistakes, never raise."""

import math
import sys

import pytest
import torch
import torch.nn.functional as F

from course_utils import checks
from course_utils.assign import SOLUTIONS_DIR, solution_cells, solution_namespace
from course_utils.checks import nb03
from helpers import checks_run as _run

PATH = SOLUTIONS_DIR / "03_vae.ipynb"
SOL = solution_namespace(PATH)
NAMES = ["reparameterize", "kl_standard_normal", "kl_diagonal_gaussians", "negative_elbo", "gaussian_nll",
         "importance_sampled_log_likelihood"]


@pytest.mark.parametrize("name", NAMES)
def test_solution_passes(name, capsys):
    ok, out = _run(getattr(nb03, f"check_{name}"), SOL[name], capsys)
    assert ok and out.startswith(f"[PASS] {name}"), out
    assert checks.passed(name)


@pytest.mark.parametrize("name", NAMES)
def test_untouched_exercise_is_todo(name, capsys):
    def untouched(*args, **kwargs):
        raise NotImplementedError()

    ok, out = _run(getattr(nb03, f"check_{name}"), untouched, capsys)
    assert not ok and out.startswith(f"[TODO] {name}: not done yet")


def _eps(mu, generator):
    return torch.randn(mu.shape, generator=generator, dtype=mu.dtype)


REPARAM_MISTAKES = [
    (lambda mu, logvar, generator=None: mu + logvar * _eps(mu, generator), "logvar itself as the standard deviation"),
    (lambda mu, logvar, generator=None: mu + logvar.exp() * _eps(mu, generator), "exp(logvar) is the variance"),
    (lambda mu, logvar, generator=None: mu + (-0.5 * logvar).exp() * _eps(mu, generator), "sign is flipped"),
    (lambda mu, logvar, generator=None: mu + (0.5 * logvar).exp() * torch.randn_like(mu), "generator"),
    (lambda mu, logvar, generator=None: mu + (0.5 * logvar).exp() * torch.rand(mu.shape, generator=generator,
                                                                                 dtype=mu.dtype), "torch.randn"),
    (lambda mu, logvar, generator=None: mu.clone(), "no noise"),
    (lambda mu, logvar, generator=None: (mu + (0.5 * logvar).exp() * _eps(mu, generator)).detach(), "no gradient"),
    (lambda mu, logvar, generator=None: mu + (0.5 * logvar).exp().detach() * _eps(mu, generator), "dz/dlogvar"),
]


@pytest.mark.parametrize("wrong,hint", REPARAM_MISTAKES)
def test_reparameterize_mistakes_are_named(wrong, hint, capsys):
    ok, out = _run(nb03.check_reparameterize, wrong, capsys)
    assert not ok and out.startswith("[FAIL] reparameterize"), out
    assert hint in out, out


def _kl(mu, logvar):
    return 0.5 * (mu**2 + logvar.exp() - 1 - logvar)


KL_MISTAKES = [
    (lambda mu, logvar: -_kl(mu, logvar).sum(1), "sign is flipped"),
    (lambda mu, logvar: _kl(mu, logvar).mean(1), "averaged over the latent dimensions"),
    (lambda mu, logvar: 2 * _kl(mu, logvar).sum(1), "factor 1/2"),
    (lambda mu, logvar: _kl(mu, logvar).sum(), "one value per data point"),
    (lambda mu, logvar: _kl(mu, logvar).sum(0), "expected [4]"),
    (lambda mu, logvar: 0.5 * (mu**2 + logvar.exp() + 1 - logvar).sum(1), "+1 where"),
]


@pytest.mark.parametrize("wrong,hint", KL_MISTAKES)
def test_kl_mistakes_are_named(wrong, hint, capsys):
    ok, out = _run(nb03.check_kl_standard_normal, wrong, capsys)
    assert not ok and out.startswith("[FAIL] kl_standard_normal"), out
    assert hint in out, out


def _kld(mu_q, logvar_q, mu_p, logvar_p, log_ratio=None, mean_term=None, minus_one=1.0, half=0.5):
    var_q, var_p, sq = logvar_q.exp(), logvar_p.exp(), (mu_q - mu_p) ** 2
    log_ratio = logvar_p - logvar_q if log_ratio is None else log_ratio
    mean_term = sq / var_p if mean_term is None else mean_term
    return half * (log_ratio + var_q / var_p + mean_term - minus_one)


KLD_MISTAKES = [
    (lambda mu_q, logvar_q, mu_p, logvar_p: _kld(mu_p, logvar_p, mu_q, logvar_q).sum(-1), "q and p are swapped"),
    (lambda mu_q, logvar_q, mu_p, logvar_p: _kld(mu_q, logvar_q, mu_p, logvar_p).mean(-1), "averaged over the latent"),
    (lambda mu_q, logvar_q, mu_p, logvar_p: _kld(mu_q, logvar_q, mu_p, logvar_p, half=1.0).sum(-1), "factor 1/2"),
    (lambda mu_q, logvar_q, mu_p, logvar_p: _kld(mu_q, logvar_q, mu_p, logvar_p, minus_one=0.0).sum(-1),
     "the -1 is missing"),
    (lambda mu_q, logvar_q, mu_p, logvar_p: _kld(mu_q, logvar_q, mu_p, logvar_p, log_ratio=logvar_q - logvar_p)
     .sum(-1), "log term is flipped"),
    (lambda mu_q, logvar_q, mu_p, logvar_p: _kld(mu_q, logvar_q, mu_p, logvar_p, mean_term=(mu_q - mu_p) ** 2)
     .sum(-1), "is not divided by sigma_p^2"),
    (lambda mu_q, logvar_q, mu_p, logvar_p: _kld(mu_q, logvar_q, mu_p, logvar_p,
                                                 mean_term=(mu_q - mu_p) ** 2 / logvar_q.exp()).sum(-1),
     "is divided by sigma_q^2"),
    (lambda mu_q, logvar_q, mu_p, logvar_p: 0.5 * (torch.log(logvar_p**2 / logvar_q**2) + (logvar_q**2 + (
        mu_q - mu_p) ** 2) / logvar_p**2 - 1).sum(-1), "logvar used as the standard deviation"),
    (lambda mu_q, logvar_q, mu_p, logvar_p: _kld(mu_q, logvar_q, mu_p, logvar_p), "Sum over the last dimension"),
    (lambda mu_q, logvar_q, mu_p, logvar_p: _kld(mu_q, logvar_q, mu_p, logvar_p).sum(), "one value per row"),
    (lambda mu_q, logvar_q, mu_p, logvar_p: _kld(mu_q, logvar_q, mu_p, logvar_p).sum(-1).float(), "dtype"),
    (lambda mu_q, logvar_q, mu_p, logvar_p: _kld(mu_q, logvar_q, mu_p, logvar_p, half=-0.5).sum(-1), "sign is flipped"),
]


@pytest.mark.parametrize("wrong,hint", KLD_MISTAKES)
def test_kl_diagonal_gaussians_mistakes_are_named(wrong, hint, capsys):
    ok, out = _run(nb03.check_kl_diagonal_gaussians, wrong, capsys)
    assert not ok and out.startswith("[FAIL] kl_diagonal_gaussians"), out
    assert hint in out, out


def test_kl_diagonal_gaussians_with_torch_distributions_passes(capsys):
    def with_distributions(mu_q, logvar_q, mu_p, logvar_p):
        q = torch.distributions.Normal(mu_q, (0.5 * logvar_q).exp())
        p = torch.distributions.Normal(mu_p, (0.5 * logvar_p).exp())
        return torch.distributions.kl_divergence(q, p).sum(dim=1)

    ok, out = _run(nb03.check_kl_diagonal_gaussians, with_distributions, capsys)
    assert ok, out


def test_kl_diagonal_gaussians_with_p_standard_normal_is_exercise_2():
    g = torch.Generator().manual_seed(0)
    mu, logvar = (torch.randn(5, 3, generator=g, dtype=torch.float64) for _ in range(2))
    zeros = torch.zeros_like(mu)
    assert torch.allclose(SOL["kl_diagonal_gaussians"](mu, logvar, zeros, zeros), SOL["kl_standard_normal"](mu, logvar))


def _bce(x, lg):
    return F.binary_cross_entropy_with_logits(lg, x, reduction="none").flatten(1).sum(1)


NELBO_MISTAKES = [
    (lambda x, x_logits, mu, logvar: F.binary_cross_entropy_with_logits(x_logits, x) + _kl(mu, logvar).sum(1).mean(),
     "averaged over pixels"),
    (lambda x, x_logits, mu, logvar: (_bce(x, x_logits) - _kl(mu, logvar).sum(1)).mean(), "wrong sign"),
    (lambda x, x_logits, mu, logvar: _bce(x, x_logits).mean(), "KL term is missing"),
    (lambda x, x_logits, mu, logvar: (_bce(x, x_logits) + _kl(mu, logvar).sum(1)).sum(), "batch MEAN"),
    (lambda x, x_logits, mu, logvar: (_bce(x, x_logits) + _kl(mu, logvar).mean(1)).mean(), "latent dimensions"),
    (lambda x, x_logits, mu, logvar: -(_bce(x, x_logits) + _kl(mu, logvar).sum(1)).mean(), "that is the ELBO"),
    (lambda x, x_logits, mu, logvar: (_bce(x, x_logits) + _kl(mu, logvar).sum(1)), "Average the per-image"),
]


@pytest.mark.parametrize("wrong,hint", NELBO_MISTAKES)
def test_negative_elbo_mistakes_are_named(wrong, hint, capsys):
    ok, out = _run(nb03.check_negative_elbo, wrong, capsys)
    assert not ok and out.startswith("[FAIL] negative_elbo"), out
    assert hint in out, out


def _gn(x, x_mu, x_logvar, const=True, logvar_term=True):
    per = (x - x_mu) ** 2 / x_logvar.exp()
    if const:
        per = per + math.log(2 * math.pi)
    if logvar_term:
        per = per + x_logvar
    return 0.5 * per


GNLL_MISTAKES = [
    (lambda x, x_mu, x_logvar: _gn(x, x_mu, x_logvar, const=False).flatten(1).sum(1), "0.5 * log(2 pi)"),
    (lambda x, x_mu, x_logvar: _gn(x, x_mu, x_logvar, logvar_term=False).flatten(1).sum(1), "log-variance term"),
    (lambda x, x_mu, x_logvar: _gn(x, x_mu, x_logvar).flatten(1).mean(1), "averaged over the pixels"),
    (lambda x, x_mu, x_logvar: 2 * _gn(x, x_mu, x_logvar).flatten(1).sum(1), "factor 1/2"),
    (lambda x, x_mu, x_logvar: _gn(x, x_mu, x_logvar).flatten(1).sum(), "one value per data point"),
]


@pytest.mark.parametrize("wrong,hint", GNLL_MISTAKES)
def test_gaussian_nll_mistakes_are_named(wrong, hint, capsys):
    ok, out = _run(nb03.check_gaussian_nll, wrong, capsys)
    assert not ok and out.startswith("[FAIL] gaussian_nll"), out
    assert hint in out, out


IS_SOURCE = next(c.source for c in solution_cells(PATH) if "def importance_sampled_log_likelihood" in c.source)


def _is_variant(old, new):
    assert old in IS_SOURCE, old
    ns = {"torch": torch, "math": math, "F": F}
    exec(IS_SOURCE.replace(old, new), ns)
    return ns["importance_sampled_log_likelihood"]


LSE = "(torch.logsumexp(log_w, dim=0) - math.log(k))"
IS_MISTAKES = [
    (LSE, "torch.logsumexp(log_w, dim=0)", "subtract log k"),
    (LSE, "torch.log(torch.exp(log_w).mean(0))", "underflows"),
    (LSE, "log_w.mean(0)", "that is the ELBO"),
    ("log_w = log_px_z + log_pz - log_qz", "log_w = log_px_z + log_pz", "off by"),
    ("log_w = log_px_z + log_pz - log_qz", "log_w = log_px_z - log_qz", "off by"),
    ("log_w = log_px_z + log_pz - log_qz", "log_w = log_px_z + log_pz + log_qz", "off by"),
    (LSE, "(torch.logsumexp(log_w, dim=1) - math.log(k))", "shape"),
    ("std = torch.exp(0.5 * logvar)", "std = logvar", "NaN"),
]


@pytest.mark.parametrize("old,new,hint", IS_MISTAKES)
def test_importance_sampling_mistakes_are_caught(old, new, hint, capsys):
    ok, out = _run(nb03.check_importance_sampled_log_likelihood, _is_variant(old, new), capsys)
    assert not ok and out.startswith("[FAIL] importance_sampled_log_likelihood"), out
    assert hint in out, out


def test_importance_sampling_with_a_loop_over_k_passes(capsys):
    def looped(model, x, k):
        mu, logvar = model.encode(x)
        std = torch.exp(0.5 * logvar)
        log_ws = []
        for _ in range(k):
            z = mu + std * torch.randn_like(mu)
            logits = model.decode(z).reshape(len(x), -1)
            ll = -F.binary_cross_entropy_with_logits(logits, x.reshape(len(x), -1), reduction="none").sum(1)
            lp = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1)
            lq = torch.distributions.Normal(mu, std).log_prob(z).sum(1)
            log_ws.append(ll + lp - lq)
        return torch.logsumexp(torch.stack(log_ws), 0) - math.log(k)

    ok, out = _run(nb03.check_importance_sampled_log_likelihood, looped, capsys)
    assert ok, out


def test_tiny_model_matches_its_definition():
    m = nb03.TinyLatentModel(a=[1.0, -2.0], b=[0.5, 0.0], w_mu=[1.0, 1.0], c_mu=0.5, w_lv=[0.0, 0.0], c_lv=-1.0)
    mu, logvar = m.encode(torch.tensor([[1.0, 0.0]]))
    assert mu.shape == (1, 1) and mu.item() == 1.5 and logvar.item() == -1.0
    assert torch.allclose(m.decode(torch.tensor([[2.0]])), torch.tensor([[2.5, -4.0]], dtype=torch.float64))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [lambda *a, **k: "a string", lambda *a, **k: sys.exit(3), lambda *a, **k: 1 / 0,
                                 lambda: None, 42])
def test_checks_never_raise(name, bad, capsys):
    ok, out = _run(getattr(nb03, f"check_{name}"), bad, capsys)
    assert not ok and out.startswith(f"[FAIL] {name}")
