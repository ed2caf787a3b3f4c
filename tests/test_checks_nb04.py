"""The notebook-04 checks: pass the solution, name typical mistakes, never raise."""

import sys

import pytest
import torch
import torch.nn.functional as F

from course_utils import checks
from course_utils.assign import SOLUTIONS_DIR, solution_namespace
from course_utils.checks import nb04
from helpers import checks_run as _run

SOL = solution_namespace(SOLUTIONS_DIR / "04_simclr.ipynb")


@pytest.mark.parametrize("name", ["augment", "cosine_similarity_matrix", "nt_xent_loss"])
def test_solution_passes(name, capsys):
    ok, out = _run(getattr(nb04, f"check_{name}"), SOL[name], capsys)
    assert ok and out.startswith(f"[PASS] {name}"), out
    assert checks.passed(name)


@pytest.mark.parametrize("name", ["augment", "cosine_similarity_matrix", "nt_xent_loss"])
def test_untouched_exercise_is_todo(name, capsys):
    def untouched(*args, **kwargs):
        raise NotImplementedError()

    ok, out = _run(getattr(nb04, f"check_{name}"), untouched, capsys)
    assert not ok and out.startswith(f"[TODO] {name}: not done yet")


# ----------------------------------------------------------------------------- cosine similarity
COS_MISTAKES = [
    (lambda z: z @ z.T, "plain dot product"),
    (lambda z: (z / z.norm(dim=0, keepdim=True)) @ (z / z.norm(dim=0, keepdim=True)).T, "normalised the columns"),
    (lambda z: z.T @ z, "z.T @ z"),
    (lambda z: torch.cdist(z, z), "Euclidean distance"),
    (lambda z: F.cosine_similarity(z, z, dim=1), "shape"),
    (lambda z: F.normalize(z.float(), dim=1) @ F.normalize(z.float(), dim=1).T, "dtype"),
]


@pytest.mark.parametrize("wrong,hint", COS_MISTAKES)
def test_cosine_mistakes_are_named(wrong, hint, capsys):
    ok, out = _run(nb04.check_cosine_similarity_matrix, lambda z: wrong(z), capsys)
    assert not ok and out.startswith("[FAIL] cosine_similarity_matrix")
    assert hint in out, out


def test_cosine_via_torch_builtin_passes(capsys):
    ok, out = _run(
        nb04.check_cosine_similarity_matrix, lambda z: F.cosine_similarity(z[:, None], z[None], dim=2), capsys
    )
    assert ok, out


# ----------------------------------------------------------------------------- NT-Xent
def _nt(z1, z2, temperature, *, over=None, keep_self=False, scale=None, normalise=True, directions=2, drop_pos=False):
    n = len(z1)
    z = torch.cat([z1, z2])
    if normalise:
        z = F.normalize(z, dim=1)
    logits = z @ z.T * (scale if scale is not None else 1 / temperature)
    rows = torch.arange(2 * n)
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    mask = torch.eye(2 * n, dtype=torch.bool) if not keep_self else torch.zeros(2 * n, 2 * n, dtype=torch.bool)
    if drop_pos:
        mask = mask.clone()
        mask[rows, partner] = True
    losses = torch.logsumexp(logits.masked_fill(mask, float("-inf")), 1) - logits[rows, partner]
    if directions == 1:
        return losses[:n].mean()
    return losses.sum() / (over if over is not None else 2 * n)


NT_MISTAKES = [
    (lambda z1, z2, t: _nt(z1, z2, t, over=len(z1)), "averaged over the N pairs"),
    (lambda z1, z2, t: _nt(z1, z2, t, keep_self=True), "self-similarity"),
    (lambda z1, z2, t: _nt(z1, z2, t, scale=1.0), "tau = 1"),
    (lambda z1, z2, t: _nt(z1, z2, t, scale=1 / t**2), "divided by tau twice"),
    (lambda z1, z2, t: _nt(z1, z2, t, scale=t), "multiplied by tau"),
    (lambda z1, z2, t: _nt(z1, z2, t, normalise=False), "raw dot products"),
    (lambda z1, z2, t: _nt(z1, z2, t, directions=1), "only l(2k-1, 2k)"),
    (lambda z1, z2, t: _nt(z1, z2, t, over=1), "sum over the 2N anchors"),
    (lambda z1, z2, t: _nt(z1, z2, t, drop_pos=True), "positive pair is missing"),
    (lambda z1, z2, t: torch.stack([_nt(z1, z2, t)] * 3), "scalar"),
    (lambda z1, z2, t: _nt(z1.float(), z2.float(), t), "dtype"),
]


@pytest.mark.parametrize("wrong,hint", NT_MISTAKES)
def test_nt_xent_mistakes_are_named(wrong, hint, capsys):
    ok, out = _run(nb04.check_nt_xent_loss, lambda z1, z2, temperature: wrong(z1, z2, temperature), capsys)
    assert not ok and out.startswith("[FAIL] nt_xent_loss"), out
    assert hint in out, out


def test_nt_xent_cross_entropy_form_passes(capsys):
    def via_ce(z1, z2, temperature):
        n = len(z1)
        z = F.normalize(torch.cat([z1, z2]), dim=1)
        logits = (z @ z.T / temperature).fill_diagonal_(float("-inf"))
        return F.cross_entropy(logits, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]))

    ok, out = _run(nb04.check_nt_xent_loss, via_ce, capsys)
    assert ok, out


def test_nt_xent_interleaved_order_passes(capsys):
    # stacking the views as 1, 2, ..., 2N (the slide's order) gives the same loss
    def interleaved(z1, z2, temperature):
        n = len(z1)
        z = F.normalize(torch.stack([z1, z2], 1).flatten(0, 1), dim=1)
        logits = (z @ z.T / temperature).fill_diagonal_(float("-inf"))
        partner = torch.arange(2 * n) ^ 1
        return F.cross_entropy(logits, partner)

    ok, out = _run(nb04.check_nt_xent_loss, interleaved, capsys)
    assert ok, out


# ----------------------------------------------------------------------------- augment
def _good_augment():
    return SOL["augment"]


def test_augment_one_draw_per_batch_is_named(capsys):
    aug = _good_augment()

    def batch_wide(x, generator=None, ops=nb04.ALL_OPS):
        # the same random parameters for every image: augment one, reuse its draw
        g_seed = int(torch.randint(0, 10**6, (1,), generator=generator))
        return torch.cat(
            [aug(x[i : i + 1], generator=torch.Generator().manual_seed(g_seed), ops=ops) for i in range(len(x))]
        )

    ok, out = _run(nb04.check_augment, batch_wide, capsys)
    assert not ok and "one random parameter for the whole batch" in out, out


def test_augment_ignoring_generator_is_named(capsys):
    aug = _good_augment()
    ok, out = _run(nb04.check_augment, lambda x, generator=None, ops=nb04.ALL_OPS: aug(x, None, ops), capsys)
    assert not ok and "generator" in out, out


def test_augment_ignoring_ops_is_named(capsys):
    aug = _good_augment()
    ok, out = _run(nb04.check_augment, lambda x, generator=None, ops=nb04.ALL_OPS: aug(x, generator), capsys)
    assert not ok and "ops" in out, out


def test_augment_without_clamp_is_named(capsys):
    aug = _good_augment()
    ok, out = _run(nb04.check_augment, lambda x, generator=None, ops=nb04.ALL_OPS: aug(x, generator, ops) * 1.5, capsys)
    assert not ok and "[0, 1]" in out, out


def test_augment_identity_is_named(capsys):
    ok, out = _run(nb04.check_augment, lambda x, generator=None, ops=nb04.ALL_OPS: x.clone(), capsys)
    assert not ok and "unchanged" in out, out


def test_augment_in_place_is_caught(capsys):
    aug = _good_augment()

    def in_place(x, generator=None, ops=nb04.ALL_OPS):
        y = aug(x, generator, ops)
        x.mul_(1.0).add_(0.01)
        return y

    ok, out = _run(nb04.check_augment, in_place, capsys)
    assert not ok and "in place" in out, out


@pytest.mark.parametrize(
    "bad", [lambda x, generator=None, ops=(): "a string", lambda x, generator=None, ops=(): sys.exit(3), 42]
)
def test_checks_never_raise(bad, capsys):
    ok, out = _run(nb04.check_augment, bad, capsys)
    assert not ok and out.startswith("[FAIL] augment")
    ok, out = _run(nb04.check_nt_xent_loss, bad, capsys)
    assert not ok and out.startswith("[FAIL] nt_xent_loss")
