"""The notebook-02 checks: pass the solution, name typical mistakes, never raise."""

import sys

import pytest
import torch
from torch import nn

from course_utils import checks
from course_utils.assign import SOLUTIONS_DIR, solution_namespace
from course_utils.checks import nb02
from helpers import checks_run as _run

SOL = solution_namespace(SOLUTIONS_DIR / "02_autoencoders.ipynb")


@pytest.mark.parametrize("name", ["ae_loss", "corrupt", "Autoencoder"])
def test_solution_passes(name, capsys):
    ok, out = _run(getattr(nb02, f"check_{name}"), SOL[name], capsys)
    assert ok and out.startswith(f"[PASS] {name}"), out
    assert checks.passed(name)


@pytest.mark.parametrize("name", ["ae_loss", "corrupt"])
def test_untouched_exercise_is_todo(name, capsys):
    def untouched(*args, **kwargs):
        raise NotImplementedError()

    ok, out = _run(getattr(nb02, f"check_{name}"), untouched, capsys)
    assert not ok and out.startswith(f"[TODO] {name}: not done yet")


def test_untouched_autoencoder_is_todo(capsys):
    class Autoencoder(nn.Module):
        def __init__(self, latent_dim, hidden_dim=256):
            super().__init__()
            raise NotImplementedError()

    ok, out = _run(nb02.check_Autoencoder, Autoencoder, capsys)
    assert not ok and out.startswith("[TODO] Autoencoder")


AE_LOSS_MISTAKES = [
    (lambda x, x_hat: ((x - x_hat) ** 2).mean(), "averaging over pixels"),
    (lambda x, x_hat: torch.nn.functional.mse_loss(x_hat, x), "averaging over pixels"),
    (lambda x, x_hat: ((x - x_hat) ** 2).sum(), "summed over the batch"),
    (lambda x, x_hat: (x - x_hat).flatten(1).norm(dim=1).mean(), "L2 norm"),
    (lambda x, x_hat: (x - x_hat).abs().flatten(1).sum(1).mean(), "L1"),
    (lambda x, x_hat: ((x - x_hat) ** 2).flatten(1).sum(1), "average them over the batch"),
    (lambda x, x_hat: ((x - x_hat) ** 2).flatten(1).sum(1).mean().float(), "dtype"),
    (lambda x, x_hat: torch.tensor(((x - x_hat) ** 2).flatten(1).sum(1).mean().item(), dtype=x.dtype), "gradient"),
]


@pytest.mark.parametrize("wrong,hint", AE_LOSS_MISTAKES)
def test_ae_loss_mistakes_are_named(wrong, hint, capsys):
    ok, out = _run(nb02.check_ae_loss, lambda x, x_hat: wrong(x, x_hat), capsys)
    assert not ok and out.startswith("[FAIL] ae_loss")
    assert hint in out, out


def _corrupt_variant(kind):
    def fn(x, noise_std=0.0, mask_prob=0.0, generator=None):
        n = noise_std
        if kind == "variance":
            n = noise_std**2
        if kind == "sqrt":
            n = noise_std**0.5
        if kind == "uniform":
            eps = torch.rand(x.shape, generator=generator, dtype=x.dtype) - 0.5
        else:
            eps = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        out = x + n * eps
        if kind == "clip":
            out = out.clamp(0, 1)
        u = torch.rand(x.shape, generator=generator) if kind != "no_generator" else torch.rand(x.shape)
        if kind == "keep_prob":
            drop = u > mask_prob
        elif kind == "whole_image":
            drop = (u.flatten(1)[:, :1] < mask_prob).reshape(-1, *[1] * (x.dim() - 1)).expand(x.shape)
        else:
            drop = u < mask_prob
        if kind == "mask_then_noise":
            return x.masked_fill(drop, 0.0) + n * eps
        if kind == "in_place":
            x += n * eps
            return x
        return out.masked_fill(drop, 0.0)

    return fn


CORRUPT_MISTAKES = [
    ("variance", "noise_std**2"),
    ("sqrt", "sqrt(noise_std)"),
    ("uniform", "torch.randn"),
    ("clip", "do not clip"),
    ("no_generator", "generator"),
    ("keep_prob", "DROPPED"),
    ("whole_image", "each PIXEL"),
    ("mask_then_noise", "add the noise first"),
    ("in_place", "in place"),
]


@pytest.mark.parametrize("kind,hint", CORRUPT_MISTAKES)
def test_corrupt_mistakes_are_named(kind, hint, capsys):
    ok, out = _run(nb02.check_corrupt, _corrupt_variant(kind), capsys)
    assert not ok and out.startswith("[FAIL] corrupt"), out
    assert hint in out, out


def test_correct_corrupt_variant_passes(capsys):
    ok, out = _run(nb02.check_corrupt, _corrupt_variant("right"), capsys)
    assert ok, out


def _ae_variant(kind):
    class AE(nn.Module):
        def __init__(self, latent_dim, hidden_dim=256):
            super().__init__()
            self.enc = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden_dim), nn.ReLU(),
                                     nn.Linear(hidden_dim, latent_dim))
            act = nn.Identity() if kind == "no_sigmoid" else nn.Sigmoid()
            self.dec = nn.Sequential(nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, 784), act)
            if kind == "not_registered":
                self.enc, self.dec = None, None
                self._layers = [nn.Sequential(nn.Flatten(), nn.Linear(784, latent_dim)),
                                nn.Sequential(nn.Linear(latent_dim, 784), nn.Sigmoid())]
                self.dummy = nn.Parameter(torch.zeros(1))

        def encode(self, x):
            if kind == "not_registered":
                return self._layers[0](x)
            return self.enc(x)

        def decode(self, z):
            if kind == "not_registered":
                out = self._layers[1](z)
            else:
                out = self.dec(z)
            return out if kind == "flat_output" else out.view(-1, 1, 28, 28)

        def forward(self, x):
            return self.decode(self.encode(x))

    return AE


@pytest.mark.parametrize("kind,hint", [("no_sigmoid", "sigmoid"), ("flat_output", "reshape"),
                                       ("not_registered", "registered")])
def test_autoencoder_mistakes_are_named(kind, hint, capsys):
    ok, out = _run(nb02.check_Autoencoder, _ae_variant(kind), capsys)
    assert not ok and out.startswith("[FAIL] Autoencoder"), out
    assert hint in out, out


def test_autoencoder_variant_passes(capsys):
    ok, out = _run(nb02.check_Autoencoder, _ae_variant("right"), capsys)
    assert ok, out


@pytest.mark.parametrize("bad", [lambda x, x_hat: "a string", lambda x, x_hat: sys.exit(3),
                                 lambda x, x_hat: 1 / 0, lambda: None, 42])
def test_checks_never_raise(bad, capsys):
    ok, out = _run(nb02.check_ae_loss, bad, capsys)
    assert not ok and out.startswith("[FAIL] ae_loss")
    ok, out = _run(nb02.check_corrupt, bad, capsys)
    assert not ok and out.startswith("[FAIL] corrupt")
