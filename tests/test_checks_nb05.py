"""The notebook-05 checks: pass the solution, name typical mistakes, never raise."""

import sys

import pytest
import torch
import torch.nn.functional as F

from course_utils.assign import SOLUTIONS_DIR, solution_namespace
from course_utils.checks import nb05
from helpers import checks_run as _run

SOL = solution_namespace(SOLUTIONS_DIR / "05_mae.ipynb")
NAMES = ["patchify", "unpatchify", "random_masking", "masked_mse_loss"]


@pytest.mark.parametrize("name", NAMES)
def test_solution_passes(name, capsys):
    ok, out = _run(getattr(nb05, f"check_{name}"), SOL[name], capsys)
    assert ok and out.startswith(f"[PASS] {name}"), out


@pytest.mark.parametrize("name", NAMES)
def test_untouched_exercise_is_todo(name, capsys):
    def untouched(*args, **kwargs):
        raise NotImplementedError()

    ok, out = _run(getattr(nb05, f"check_{name}"), untouched, capsys)
    assert not ok and out.startswith(f"[TODO] {name}: not done yet")


def _grid(imgs, p, order):
    n, c, h, w = imgs.shape
    return torch.einsum(f"nchpwq->{order}", imgs.reshape(n, c, h // p, p, w // p, p)).reshape(
        n, (h // p) * (w // p), p * p * c
    )


PATCH_MISTAKES = [
    (lambda imgs, p: _grid(imgs, p, "nwhpqc"), "column by column"),
    (lambda imgs, p: _grid(imgs, p, "nhwqpc"), "transposed"),
    (lambda imgs, p: _grid(imgs, p, "nhwcpq"), "channel comes first"),
    (lambda imgs, p: F.unfold(imgs, p, stride=p), "F.unfold"),
    (lambda imgs, p: _grid(imgs, p, "nhwpqc").reshape(len(imgs), imgs.shape[2] // p, imgs.shape[3] // p, -1), "Merge"),
    (lambda imgs, p: _grid(imgs.float(), p, "nhwpqc"), "dtype"),
]


@pytest.mark.parametrize("wrong,hint", PATCH_MISTAKES)
def test_patchify_mistakes_are_named(wrong, hint, capsys):
    ok, out = _run(nb05.check_patchify, lambda imgs, patch_size: wrong(imgs, patch_size), capsys)
    assert not ok and out.startswith("[FAIL] patchify") and hint in out, out


def test_patchify_via_unfold_with_transpose_passes_for_one_channel_only(capsys):
    # F.unfold orders (channel, row, column): right for C = 1, wrong for the 3-channel case
    ok, out = _run(
        nb05.check_patchify,
        lambda imgs, patch_size: F.unfold(imgs, patch_size, stride=patch_size).transpose(1, 2),
        capsys,
    )
    assert not ok and "channel comes first" in out, out


def _ungrid(x, p, c, order):
    n, L, _ = x.shape
    s = int(L**0.5)
    return torch.einsum(order, x.reshape(n, s, s, p, p, c)).reshape(n, c, s * p, s * p)


@pytest.mark.parametrize(
    "order,hint", [("nhwpqc->ncwphq", "transposed: rows of patches"), ("nhwpqc->nchqwp", "inside each patch")]
)
def test_unpatchify_mistakes_are_named(order, hint, capsys):
    ok, out = _run(
        nb05.check_unpatchify, lambda x, patch_size, channels=1: _ungrid(x, patch_size, channels, order), capsys
    )
    assert not ok and out.startswith("[FAIL] unpatchify") and hint in out, out


def test_unpatchify_naive_reshape_fails(capsys):
    ok, out = _run(
        nb05.check_unpatchify,
        lambda x, patch_size, channels=1: x.reshape(len(x), channels, int((x.numel() / len(x) / channels) ** 0.5), -1),
        capsys,
    )
    assert not ok and out.startswith("[FAIL] unpatchify"), out


# ----------------------------------------------------------------------------- random masking
good_masking = SOL["random_masking"]


def _masking(
    inverted=False, restore_is_shuffle=False, rounded=False, same_noise=False, return_masked=False, ignore_gen=False
):
    def fn(x, mask_ratio, generator=None):
        n, L, d = x.shape
        keep = round(L * (1 - mask_ratio)) if rounded else int(L * (1 - mask_ratio))
        gen = None if ignore_gen else generator
        noise = torch.rand(1 if same_noise else n, L, generator=gen).expand(n, L)
        ids_shuffle = noise.argsort(1)
        ids_restore = ids_shuffle.argsort(1)
        ids = ids_shuffle[:, keep:] if return_masked else ids_shuffle[:, :keep]
        x_vis = torch.gather(x, 1, ids.unsqueeze(-1).expand(-1, -1, d))
        mask = torch.ones(n, L, dtype=x.dtype)
        mask[:, :keep] = 0
        mask = torch.gather(mask, 1, ids_restore)
        if inverted:
            mask = 1 - mask
        return x_vis, mask, ids_shuffle if restore_is_shuffle else ids_restore

    return fn


MASK_MISTAKES = [
    (dict(inverted=True), "inverted"),
    (dict(restore_is_shuffle=True), "ids_restore looks like the shuffle itself"),
    (dict(rounded=True), "floor"),
    (dict(same_noise=True), "every image got the same mask"),
    (dict(return_masked=True), "KEPT"),
    (dict(ignore_gen=True), "generator"),
]


@pytest.mark.parametrize("kw,hint", MASK_MISTAKES)
def test_random_masking_mistakes_are_named(kw, hint, capsys):
    ok, out = _run(nb05.check_random_masking, _masking(**kw), capsys)
    assert not ok and out.startswith("[FAIL] random_masking") and hint in out, out


def test_random_masking_correct_variant_passes(capsys):
    ok, out = _run(nb05.check_random_masking, _masking(), capsys)
    assert ok, out


# ----------------------------------------------------------------------------- loss
LOSS_MISTAKES = [
    (lambda p, t, m: ((p - t) ** 2).mean(), "ALL patches"),
    (lambda p, t, m: (((p - t) ** 2).mean(-1) * (1 - m)).sum() / (1 - m).sum(), "VISIBLE"),
    (lambda p, t, m: (((p - t) ** 2).sum(-1) * m).sum() / m.sum(), "summed over the pixels"),
    (lambda p, t, m: (((p - t) ** 2).mean(-1) * m).sum() / m.numel(), "number of all patches"),
    (lambda p, t, m: ((((p - t) ** 2).mean(-1) * m).sum(1) / m.sum(1)).mean(), "per image"),
    (lambda p, t, m: (((p - t).abs()).mean(-1) * m).sum() / m.sum(), "absolute"),
    (lambda p, t, m: ((p - t) ** 2).mean(-1) * m, "scalar"),
]


@pytest.mark.parametrize("wrong,hint", LOSS_MISTAKES)
def test_loss_mistakes_are_named(wrong, hint, capsys):
    ok, out = _run(nb05.check_masked_mse_loss, lambda pred, target, mask: wrong(pred, target, mask), capsys)
    assert not ok and out.startswith("[FAIL] masked_mse_loss") and hint in out, out


@pytest.mark.parametrize("bad", [lambda *a, **k: "a string", lambda *a, **k: sys.exit(3), 42])
@pytest.mark.parametrize("name", NAMES)
def test_checks_never_raise(bad, name, capsys):
    ok, out = _run(getattr(nb05, f"check_{name}"), bad, capsys)
    assert not ok and out.startswith(f"[FAIL] {name}")
