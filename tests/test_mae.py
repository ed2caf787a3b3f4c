"""course_utils.mae: shapes, the mask tokens' placement, and that the model learns, built with the solution's steps."""

import pytest
import torch

from course_utils.assign import SOLUTIONS_DIR, solution_namespace
from course_utils.mae import MAE, Features, ViTClassifier, sincos_pos_embed

SOL = solution_namespace(SOLUTIONS_DIR / "05_mae.ipynb")


def _mae(**kw):
    torch.manual_seed(0)
    return MAE(
        SOL["patchify"],
        SOL["random_masking"],
        SOL["masked_mse_loss"],
        embed_dim=32,
        depth=1,
        num_heads=2,
        decoder_dim=16,
        decoder_depth=1,
        decoder_heads=2,
        **kw,
    )


def test_the_step_functions_are_required():
    with pytest.raises(TypeError):
        MAE(SOL["patchify"], None, SOL["masked_mse_loss"])
    with pytest.raises(TypeError):
        MAE()  # no defaults: the notebook passes the student's functions


def test_sincos_pos_embed():
    pe = sincos_pos_embed(16, 7)
    assert pe.shape == (49, 16)
    assert pe.abs().max() <= 1.0
    assert torch.allclose(pe[0:7, :8], pe[0, :8].expand(7, 8))  # first half: the grid row (patches 0-6 share row 0)
    assert torch.allclose(pe[0:7, 8:], pe[7:14, 8:])  # second half: the grid column (same in every row)
    assert len({tuple(r.tolist()) for r in pe}) == 49  # every position distinct


def test_shapes_through_the_model():
    m = _mae()
    x = torch.rand(5, 1, 28, 28)
    latent, mask, ids_restore = m.forward_encoder(x, 0.75, torch.Generator().manual_seed(0))
    assert latent.shape == (5, 1 + 12, 32)  # class token + floor(49 * 0.25) visible patches
    assert mask.shape == (5, 49) and mask.sum(1).eq(37).all()
    pred = m.forward_decoder(latent, ids_restore)
    assert pred.shape == (5, 49, 16)
    loss, pred2, mask2 = m(x, 0.75, torch.Generator().manual_seed(0))
    assert loss.dim() == 0 and torch.isfinite(loss) and torch.equal(mask2, mask)
    assert m.forward_features(x).shape == (5, 32) and Features(m)(x).shape == (5, 32)
    assert ViTClassifier(m)(x).shape == (5, 10)


def test_encoder_sees_only_visible_patches():
    # changing a masked patch's pixels must not change the encoder's output
    m = _mae().eval()
    x = torch.rand(1, 1, 28, 28)
    latent, mask, _ = m.forward_encoder(x, 0.75, torch.Generator().manual_seed(3))
    removed = int(mask[0].nonzero()[0])
    i, j = divmod(removed, 7)
    y = x.clone()
    y[..., 4 * i : 4 * i + 4, 4 * j : 4 * j + 4] = 1.0 - y[..., 4 * i : 4 * i + 4, 4 * j : 4 * j + 4]
    latent_y, _, _ = m.forward_encoder(y, 0.75, torch.Generator().manual_seed(3))
    assert torch.allclose(latent, latent_y, atol=1e-6)


def test_norm_pix_loss_round_trip():
    m = _mae(norm_pix_loss=True)
    x = torch.rand(2, 1, 28, 28)
    target = m.target(x)
    assert torch.allclose(target.mean(-1), torch.zeros(2, 49), atol=1e-5)
    assert torch.allclose(m.pixels(x, target), SOL["patchify"](x, 4), atol=1e-4)


def test_it_learns():
    m = _mae()
    x = torch.rand(16, 1, 28, 28).round()
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    first = None
    for step in range(60):
        loss, _, _ = m(x, 0.5, torch.Generator().manual_seed(step))
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.8 * first


def _attention_kernels(fn) -> set[str]:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return {e.key for e in prof.key_averages() if "attention" in e.key}


def test_attention_runs_as_matmul_and_softmax_under_cpu_autocast():
    """bf16 autocast on a CPU: the fused flash kernel (2x slower there in bf16) is not used; float32 keeps it. The two
    give the same loss to bf16's precision."""
    m = _mae().train()
    x = torch.rand(8, 1, 28, 28)

    def loss(autocast):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            return m(x, 0.75, torch.Generator().manual_seed(0))[0]

    fp32 = _attention_kernels(lambda: loss(False))
    bf16 = _attention_kernels(lambda: loss(True))
    assert any("flash" in k for k in fp32), fp32
    assert not any("flash" in k for k in bf16), bf16
    assert loss(True).item() == pytest.approx(loss(False).item(), rel=0.05)


def test_features_are_float32_under_autocast():
    """A linear probe on the ViT's bf16 features lost up to 3.5 points in notebook 05: Features computes in float32."""
    m = _mae().eval()
    x = torch.rand(6, 1, 28, 28)
    with torch.no_grad():
        exact = Features(m)(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            inside = Features(m)(x)
            low = m.forward_features(x)  # the model itself still follows autocast (fine-tuning trains in bf16)
    assert inside.dtype == torch.float32 and torch.equal(inside, exact)
    assert low.dtype == torch.bfloat16


def test_features_go_through_the_vit_in_chunks_without_gradients():
    m = _mae().eval()
    x = torch.rand(11, 1, 28, 28)
    whole, chunked = Features(m), Features(m)
    whole.chunk, chunked.chunk = 100, 4
    calls = []
    hook = m.blocks[0].register_forward_hook(lambda mod, inp, out: calls.append(len(inp[0])))
    with torch.no_grad():
        want, got = whole(x), chunked(x)
    assert calls == [11, 4, 4, 3]
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-6)
    calls.clear()
    chunked(x).sum().backward()  # with gradients (training): one pass, as before
    hook.remove()
    assert calls == [11]
