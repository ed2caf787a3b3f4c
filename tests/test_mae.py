"""course_utils.mae: shapes, the mask tokens' placement, and that the model learns, built with the solution's steps."""

import pytest
import torch

from course_utils.assign import SOLUTIONS_DIR, solution_namespace
from course_utils.mae import MAE, Block, Features, ViTClassifier, sincos_pos_embed

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
    nothing_masked = torch.zeros(2, 49)
    assert torch.allclose(m.pixels(x, target, nothing_masked), SOL["patchify"](x, 4), atol=1e-4)


def test_pixels_never_use_the_hidden_patches():
    """Un-normalising a prediction uses only what the model may know: a masked patch gets the mean and variance of
    its image's visible patches, so changing the hidden pixels changes nothing shown."""
    m = _mae(norm_pix_loss=True)
    x = torch.rand(1, 1, 28, 28)
    mask = torch.zeros(1, 49)
    mask[0, :37] = 1.0  # patches 0..36 hidden, 37..48 visible
    pred = torch.randn(1, 49, 16)
    y = x.clone()
    y[..., :20, :] = torch.rand(1, 1, 20, 28) * 0.1  # rows 0..19: only hidden patches (0..34) change
    shown_x, shown_y = m.pixels(x, pred, mask), m.pixels(y, pred, mask)
    assert torch.equal(shown_x, shown_y)
    patches = SOL["patchify"](x, 4)
    visible = patches[0, 37:]
    want = pred[0, 0] * (visible.var(-1).mean() + 1e-6) ** 0.5 + visible.mean(-1).mean()
    assert torch.allclose(shown_x[0, 0], want, atol=1e-5)
    want_visible = pred[0, 40] * (patches[0, 40].var() + 1e-6) ** 0.5 + patches[0, 40].mean()
    assert torch.allclose(shown_x[0, 40], want_visible, atol=1e-5)
    assert torch.equal(_mae().pixels(x, pred, mask), pred), "plain-pixel targets are shown as predicted"


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


def test_attention_is_float32_and_fused_under_cpu_autocast():
    """bf16 autocast on a CPU: the blocks multiply queries and keys in float32 with the fused flash kernel (bf16
    attention is the slow part of a step there), as without autocast. The two give the same loss to bf16's
    precision."""
    m = _mae().train()
    x = torch.rand(8, 1, 28, 28)

    def loss(autocast):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            return m(x, 0.75, torch.Generator().manual_seed(0))[0]

    class AttentionDtypes(torch.overrides.TorchFunctionMode):
        def __init__(self):
            super().__init__()
            self.seen = set()

        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func is torch.nn.functional.scaled_dot_product_attention:
                self.seen.add(args[0].dtype)
            return func(*args, **(kwargs or {}))

    for autocast in (False, True):
        with AttentionDtypes() as mode:
            kernels = _attention_kernels(lambda: loss(autocast).backward())
        if autocast:  # (without it, nn.MultiheadAttention calls the kernel inside its own torch function)
            assert mode.seen == {torch.float32}, mode.seen
        assert any("flash" in k and k.endswith("_backward") for k in kernels), (autocast, kernels)
    assert loss(True).item() == pytest.approx(loss(False).item(), rel=0.02)


def test_a_block_is_a_transformer_encoder_layer_with_its_parameters():
    """mae.Block keeps nn.TransformerEncoderLayer's state dict (the released MAE loads) and, without autocast, its
    output to float32's rounding; under autocast it agrees with the layer's own bf16 attention to bf16's precision,
    and with a mask it is the layer."""
    torch.manual_seed(0)
    block = Block(32, 4, 4.0).train()
    layer = torch.nn.TransformerEncoderLayer(
        32, 4, 128, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
    ).train()
    assert list(block.state_dict()) == list(layer.state_dict())
    layer.load_state_dict(block.state_dict())
    x = torch.randn(5, 13, 32)
    for train in (True, False):  # without gradients the layer takes its own fast path
        block.train(train), layer.train(train)
        with torch.set_grad_enabled(train):
            torch.testing.assert_close(block(x), layer(x), rtol=1e-5, atol=1e-5)
    block.train(), layer.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours, theirs = block(x).float(), layer(x).float()
    assert ours.dtype == theirs.dtype
    assert (ours - theirs).abs().max() <= 0.05 * theirs.abs().max()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pad = torch.zeros(5, 13, dtype=torch.bool)
        pad[:, -2:] = True
        assert torch.equal(block(x, src_key_padding_mask=pad), layer(x, src_key_padding_mask=pad))  # the layer's path


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
    assert not torch.equal(low.float(), exact)  # its matrix products ran in bf16
    torch.testing.assert_close(low.float(), exact, rtol=0.05, atol=0.05)


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
