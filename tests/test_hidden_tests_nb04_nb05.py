"""The hidden tests of notebooks 04 and 05 (what an autograder runs) pass the solutions and fail subtly wrong
submissions: each typical mistake loses the points of its own exercise."""

import math

import nbformat
import pytest
import torch
import torch.nn.functional as F

from course_utils import checks as _checks
from course_utils.assign import SOLUTIONS_DIR, solution_namespace
from course_utils.checks import nb04, nb05
from course_utils.nbcode import BEGIN_HIDDEN, END_HIDDEN, block_lines

SOL04 = solution_namespace(SOLUTIONS_DIR / "04_simclr.ipynb")
SOL05 = solution_namespace(SOLUTIONS_DIR / "05_mae.ipynb")


def _hidden_block(notebook: str, grade_id: str) -> str:
    nb = nbformat.read(SOLUTIONS_DIR / f"{notebook}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return "\n".join(block_lines(cell.source, BEGIN_HIDDEN, END_HIDDEN))


def _passes(notebook, name, fn, module) -> bool:
    ns = {"torch": torch, "math": math, "checks": module, name: fn}
    try:
        exec(compile(_hidden_block(notebook, f"{name}_test"), f"{notebook}:{name}_test", "exec"), ns)
        return True
    except Exception:
        return False
    finally:
        _checks.reset()


@pytest.mark.parametrize("name", ["augment", "cosine_similarity_matrix", "nt_xent_loss"])
def test_hidden_tests_pass_the_solution_04(name):
    assert _passes("04_simclr", name, SOL04[name], nb04)


@pytest.mark.parametrize("name", ["patchify", "unpatchify", "random_masking", "masked_mse_loss"])
def test_hidden_tests_pass_the_solution_05(name):
    assert _passes("05_mae", name, SOL05[name], nb05)


def _nt(z1, z2, t, *, over=None, keep_self=False, scale=None, normalise=True):
    n = len(z1)
    z = torch.cat([z1, z2])
    if normalise:
        z = F.normalize(z, dim=1)
    logits = z @ z.T * (scale if scale is not None else 1 / t)
    if not keep_self:
        logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    losses = torch.logsumexp(logits, 1) - logits[torch.arange(2 * n), partner]
    return losses.sum() / (over if over is not None else 2 * n)


WRONG_04 = {
    "NT-Xent averaged over N": ("nt_xent_loss", lambda z1, z2, temperature: _nt(z1, z2, temperature, over=len(z1))),
    "self-similarity in the denominator": (
        "nt_xent_loss",
        lambda z1, z2, temperature: _nt(z1, z2, temperature, keep_self=True),
    ),
    "temperature missing": ("nt_xent_loss", lambda z1, z2, temperature: _nt(z1, z2, temperature, scale=1.0)),
    "temperature applied twice": (
        "nt_xent_loss",
        lambda z1, z2, temperature: _nt(z1, z2, temperature, scale=1 / temperature**2),
    ),
    "NT-Xent without normalisation": (
        "nt_xent_loss",
        lambda z1, z2, temperature: _nt(z1, z2, temperature, normalise=False),
    ),
    "cosine without normalisation": ("cosine_similarity_matrix", lambda z: z @ z.T),
    "cosine normalised over dim 0": (
        "cosine_similarity_matrix",
        lambda z: F.normalize(z, dim=0) @ F.normalize(z, dim=0).T,
    ),
    "augment: one draw per batch": (
        "augment",
        lambda x, generator=None, ops=nb04.ALL_OPS: torch.cat(
            [SOL04["augment"](x[i : i + 1], torch.Generator().manual_seed(0), ops) for i in range(len(x))]
        ),
    ),
    "augment: ignores ops": ("augment", lambda x, generator=None, ops=nb04.ALL_OPS: SOL04["augment"](x, generator)),
}


@pytest.mark.parametrize("mistake", list(WRONG_04))
def test_hidden_tests_fail_typical_mistakes_04(mistake):
    name, fn = WRONG_04[mistake]
    assert not _passes("04_simclr", name, fn, nb04), mistake


def _masking(inverted=False, restore_is_shuffle=False):
    def fn(x, mask_ratio, generator=None):
        x_vis, mask, ids_restore = SOL05["random_masking"](x, mask_ratio, generator)
        if inverted:
            mask = 1 - mask
        if restore_is_shuffle:
            ids_restore = torch.argsort(ids_restore, dim=1)
        return x_vis, mask, ids_restore

    return fn


def _unpatchify_transposed(x, patch_size, channels=1):
    return SOL05["unpatchify"](x, patch_size, channels).transpose(-1, -2)


def _unpatchify_inner_transposed(x, patch_size, channels=1):
    n, L, d = x.shape
    p = patch_size
    inner = x.reshape(n, L, p, p, channels).transpose(2, 3).reshape(n, L, d)
    return SOL05["unpatchify"](inner, patch_size, channels)


WRONG_05 = {
    "loss over all patches": ("masked_mse_loss", lambda pred, target, mask: ((pred - target) ** 2).mean()),
    "loss on the visible patches": (
        "masked_mse_loss",
        lambda pred, target, mask: (((pred - target) ** 2).mean(-1) * (1 - mask)).sum() / (1 - mask).sum(),
    ),
    "mask inverted": ("random_masking", _masking(inverted=True)),
    "ids_restore is the shuffle": ("random_masking", _masking(restore_is_shuffle=True)),
    "unpatchify transposed": ("unpatchify", _unpatchify_transposed),
    "unpatchify inner order transposed": ("unpatchify", _unpatchify_inner_transposed),
    "patchify column-major": (
        "patchify",
        lambda imgs, patch_size: SOL05["patchify"](imgs.transpose(-1, -2), patch_size),
    ),
    "patchify channel first (F.unfold)": (
        "patchify",
        lambda imgs, patch_size: F.unfold(imgs, patch_size, stride=patch_size).transpose(1, 2),
    ),
}


@pytest.mark.parametrize("mistake", list(WRONG_05))
def test_hidden_tests_fail_typical_mistakes_05(mistake):
    name, fn = WRONG_05[mistake]
    assert not _passes("05_mae", name, fn, nb05), mistake
