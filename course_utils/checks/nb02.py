"""Checks for notebook 02 (autoencoders).

``ae_loss`` is compared with stored outputs (``data/02_autoencoders.json``), naming the mistake when the output
matches a known wrong answer. ``corrupt`` draws random numbers and ``Autoencoder`` is a model, so their checks test
properties: the statistics of the corruption, the shapes and range of the model, and that it can learn.
"""

from __future__ import annotations

import torch

from . import Mistake, call_unchanged, expect_tensor, missing, passed, run_cases, run_check, stored_cases

NOTEBOOK = "02_autoencoders"


# ----------------------------------------------------------------------------- ae_loss
def check_ae_loss(ae_loss, verbose: bool = True) -> bool:
    """``ae_loss(x, x_hat)``: ``[N, ...]`` twice -> scalar, squared error summed over pixels, averaged over N."""

    def hints(case):
        n = case["args"]["x"].shape[0]
        per_image = "One loss per image: average them over the batch (the 1/n in the formula)."
        return {(n,): per_image, (n, 1): per_image}

    def test(fn):
        summary = run_cases(NOTEBOOK, "ae_loss", fn, lambda c: (), hints=hints)
        grad_case = stored_cases(NOTEBOOK, "ae_loss")[0]["args"]
        x_hat = grad_case["x_hat"].clone().requires_grad_(True)
        out = fn(x=grad_case["x"], x_hat=x_hat)
        if not out.requires_grad:
            raise Mistake("the result carries no gradient to x_hat (did you use .item(), .detach() or numpy?).")
        return summary

    return run_check("ae_loss", ae_loss, test, verbose)


# ----------------------------------------------------------------------------- corrupt
def _sample_input(shape, lo=0.25, hi=0.75, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (lo + (hi - lo) * torch.rand(shape, generator=g)).to(dtype)


def _call_corrupt(fn, x, noise_std, mask_prob, seed):
    g = torch.Generator().manual_seed(seed)
    out = call_unchanged(fn, x=x, noise_std=noise_std, mask_prob=mask_prob, generator=g)
    return expect_tensor(out, x, tuple(x.shape))


def check_corrupt(corrupt, verbose: bool = True) -> bool:
    """``corrupt(x, noise_std, mask_prob, generator)``: Gaussian noise, then masking noise (pixels set to 0)."""

    def test(fn):
        x = _sample_input((64, 1, 28, 28))
        # 1. nothing to do: x comes back unchanged
        out = _call_corrupt(fn, x, 0.0, 0.0, 1)
        if (out == 0).cpu().double().mean() > 0.9:
            raise Mistake("with mask_prob=0 (almost) every pixel was set to 0: mask_prob is the probability that a "
                          "pixel is DROPPED (set to 0), not kept.")
        if not torch.allclose(out, x):
            raise Mistake("with noise_std=0 and mask_prob=0 the output must equal the input.")
        # 2. Gaussian noise only
        std = 0.2
        out = _call_corrupt(fn, x, std, 0.0, 2)
        if torch.allclose(out, x):
            raise Mistake("noise_std=0.2 left the input unchanged: add noise_std * eps with eps ~ N(0, 1).")
        diff = out - x
        s, m = diff.std().item(), diff.mean().item()
        if abs(s - std**2) < 0.01:
            raise Mistake(f"the noise has std {s:.3f} = noise_std**2: noise_std is the standard deviation, "
                          "multiply eps by noise_std itself.")
        if abs(s - std**0.5) < 0.02:
            raise Mistake(f"the noise has std {s:.3f} = sqrt(noise_std): noise_std is the standard deviation, "
                          "multiply eps by noise_std itself.")
        if abs(s - std) > 0.01 or abs(m) > 0.01:
            raise Mistake(f"x + noise should differ from x by noise with mean 0 and std {std}; found mean {m:.3f}, "
                          f"std {s:.3f}. Use torch.randn (a Gaussian), not torch.rand (uniform).")
        if (diff.flatten(1).std(1) < 1e-8).any():
            raise Mistake("some images got no noise at all (or the same number on every pixel): "
                          "draw one eps per pixel.")
        # 3. do not clip
        half = torch.full((32, 1, 28, 28), 0.5)
        out = _call_corrupt(fn, half, 1.0, 0.0, 3)
        if out.min() >= 0 and out.max() <= 1:
            raise Mistake("the output stays inside [0, 1] even for noise_std=1: do not clip (clamp) the result.")
        # 4. the generator makes it reproducible
        a = _call_corrupt(fn, x, std, 0.3, 4)
        b = _call_corrupt(fn, x, std, 0.3, 4)
        c = _call_corrupt(fn, x, std, 0.3, 5)
        if not torch.equal(a, b) or torch.equal(a, c):
            raise Mistake("two calls with generators seeded alike must give the same output, and differently seeded "
                          "ones different outputs: pass generator=generator to every random draw "
                          "(torch.randn(..., generator=generator), torch.rand(..., generator=generator)).")
        # 5. masking noise only
        p = 0.3
        out = _call_corrupt(fn, x, 0.0, p, 6)
        zero = out == 0
        kept_same = torch.isclose(out, x) | zero
        if not kept_same.all():
            raise Mistake("with noise_std=0 every output pixel must be either the input pixel or exactly 0.")
        frac = zero.cpu().double().mean().item()
        if abs(frac - (1 - p)) < 0.03:
            raise Mistake(f"{frac:.2f} of the pixels were set to 0 for mask_prob={p}: mask_prob is the probability "
                          "that a pixel is DROPPED (set to 0), not kept.")
        per_image = zero.flatten(1).cpu().double().mean(1)
        if ((per_image == 0) | (per_image == 1)).all():
            raise Mistake("whole images are dropped or kept: masking noise drops each PIXEL independently.")
        if abs(frac - p) > 0.03:
            raise Mistake(f"{frac:.2f} of the pixels were set to 0, expected about mask_prob = {p}.")
        if per_image.std() > 0.1:
            raise Mistake("the fraction of dropped pixels varies far too much between images: draw one "
                          "independent uniform number per pixel.")
        # 6. both: noise first, then the mask sets pixels to exactly 0
        out = _call_corrupt(fn, x, std, 0.5, 7)
        frac = (out == 0).cpu().double().mean().item()
        if frac < 0.45:
            raise Mistake(f"with noise and mask_prob=0.5 only {frac:.2f} of the pixels are exactly 0: add the noise "
                          "first, then set the masked pixels to 0 (a dropped pixel is 0, not 0 + noise).")
        s = (out - x)[out != 0].std().item()
        if abs(s - std) > 0.015:
            raise Mistake(f"the pixels that were kept should carry noise of std {std}; found {s:.3f}.")
        # 7. other shapes and dtypes
        flat = _sample_input((200, 784), dtype=torch.float64, seed=8)
        out = _call_corrupt(fn, flat, 0.1, 0.2, 9)
        if not (0.17 < (out == 0).cpu().double().mean().item() < 0.23):
            raise Mistake("on a flat [200, 784] float64 input the masked fraction is off: "
                          "do not assume the image shape.")
        return "7 property tests passed (no-op, noise statistics, no clipping, generator, mask rate, both, shapes)"

    return run_check("corrupt", corrupt, test, verbose)


# ----------------------------------------------------------------------------- Autoencoder
def _blobs(n: int, seed: int = 0) -> torch.Tensor:
    """``n`` 28x28 images of 1-3 soft Gaussian blobs: easy structure for a small model to learn."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    imgs = torch.zeros(n, 1, 28, 28)
    for _ in range(2):
        cy, cx = 6 + 16 * torch.rand(n, 1, 1, generator=g), 6 + 16 * torch.rand(n, 1, 1, generator=g)
        r = 2 + 3 * torch.rand(n, 1, 1, generator=g)
        imgs[:, 0] += torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r**2))
    return imgs.clamp(0, 1)


def check_Autoencoder(Autoencoder, verbose: bool = True) -> bool:  # noqa: N802 (named after the class)
    """``Autoencoder(latent_dim)``: ``encode`` [N, 1, 28, 28] -> [N, latent_dim], ``decode`` back, in [0, 1]."""

    def test(cls):
        torch.manual_seed(0)
        x = _blobs(16, seed=1)
        for d in (2, 8):
            try:
                model = cls(latent_dim=d)
            except TypeError as e:
                raise Mistake(f"Autoencoder(latent_dim={d}) failed ({e}); keep the signature "
                              "Autoencoder(latent_dim, hidden_dim=256).") from None
            if not isinstance(model, torch.nn.Module):
                raise Mistake("Autoencoder must subclass nn.Module (and call super().__init__()).")
            n_params = sum(p.numel() for p in model.parameters())
            if n_params == 0:
                raise Mistake("the model has no parameters: build its layers in __init__ (as attributes).")
            model.eval()
            with torch.no_grad():
                z = model.encode(x)
                if not torch.is_tensor(z) or tuple(z.shape) != (16, d):
                    got = list(z.shape) if torch.is_tensor(z) else type(z).__name__
                    raise Mistake(f"encode(x) for x of shape [16, 1, 28, 28] returned {got}; expected [16, {d}] "
                                  "(flatten the image first; the last layer has latent_dim outputs).")
                x_hat = model.decode(z)
                if not torch.is_tensor(x_hat) or tuple(x_hat.shape) != (16, 1, 28, 28):
                    got = list(x_hat.shape) if torch.is_tensor(x_hat) else type(x_hat).__name__
                    raise Mistake(f"decode(z) returned {got}; expected [16, 1, 28, 28] (reshape the 784 outputs "
                                  "back into images).")
                if x_hat.min() < 0 or x_hat.max() > 1:
                    raise Mistake("decode must give pixel values in [0, 1] (end the decoder with a sigmoid).")
                full = model(x)
                if not torch.allclose(full, x_hat, atol=1e-6):
                    raise Mistake("model(x) must equal decode(encode(x)).")
                z_new = model.decode(torch.randn(5, d))
                if tuple(z_new.shape) != (5, 1, 28, 28):
                    raise Mistake("decode must work on any [N, latent_dim] batch, not only on encode's output.")
        # it learns: 300 steps on 64 blob images should cut the squared error at least in half
        torch.manual_seed(0)
        model = cls(latent_dim=8)
        model.train()
        data = _blobs(64, seed=2)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def loss_now():
            return ((model(data) - data) ** 2).flatten(1).sum(1).mean()

        with torch.no_grad():
            start = loss_now().item()
        for _ in range(300):
            loss = loss_now()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            end = loss_now().item()
        if not end < 0.5 * start:
            raise Mistake(f"300 Adam steps on 64 simple images only took the loss from {start:.1f} to {end:.1f}. "
                          "Does the encoder have a nonlinearity (ReLU) and the decoder a sigmoid output? Are all "
                          "layers registered as attributes (so that .parameters() finds them)?")
        return (f"shapes, [0, 1] outputs, model(x) = decode(encode(x)); "
                f"it learns ({start:.1f} -> {end:.1f} in 300 steps)")

    return run_check("Autoencoder", Autoencoder, test, verbose)


__all__ = ["check_ae_loss", "check_corrupt", "check_Autoencoder", "passed", "missing", "NOTEBOOK"]
