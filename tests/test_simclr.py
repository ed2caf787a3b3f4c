"""course_utils.simclr: the batched augmentation primitives and the networks, on fixed inputs."""

import torch

from course_utils import simclr as S


def _imgs(n=6, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_full_box_crop_is_the_identity():
    x = _imgs()
    out = S.resized_crop(x, torch.tensor([[0.0, 0.0, 1.0, 1.0]]).repeat(6, 1))
    assert torch.allclose(out, x, atol=1e-5)


def test_half_crop_zooms_into_the_right_quadrant():
    x = torch.zeros(1, 1, 28, 28)
    x[..., :14, 14:] = 1.0  # top-right quadrant white
    out = S.resized_crop(x, torch.tensor([[0.5, -0.5, 0.5, 0.5]]))  # that quadrant, blown up
    assert out[..., 2:-2, 2:-2].min() > 0.99
    out2 = S.resized_crop(x, torch.tensor([[-0.5, 0.5, 0.5, 0.5]]))  # the bottom-left one: black
    assert out2[..., 2:-2, 2:-2].max() < 1e-6


def test_crop_is_per_image():
    x = _imgs(2)
    boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.5, 0.5]])
    out = S.resized_crop(x, boxes)
    assert torch.allclose(out[0], x[0], atol=1e-5) and not torch.allclose(out[1], x[1], atol=1e-2)


def test_hflip_only_where_asked():
    x = _imgs(3)
    out = S.hflip(x, torch.tensor([True, False, True]))
    assert torch.equal(out[0], x[0].flip(-1)) and torch.equal(out[1], x[1]) and torch.equal(out[2], x[2].flip(-1))


def test_brightness_contrast():
    x = _imgs(2) * 0.5
    assert torch.allclose(S.brightness_contrast(x, torch.ones(2), torch.ones(2)), x)
    out = S.brightness_contrast(x, torch.tensor([2.0, 1.0]), torch.tensor([1.0, 0.0]))
    assert torch.allclose(out[0], (x[0] * 2).clamp(0, 1))
    assert torch.allclose(out[1], x[1].mean().expand_as(x[1]))  # contrast 0: a flat image at the mean
    assert S.brightness_contrast(x * 4, torch.full((2,), 3.0), torch.full((2,), 3.0)).max() <= 1.0


def test_blur():
    x = _imgs(3)
    assert torch.allclose(S.gaussian_blur(x, torch.zeros(3)), x, atol=1e-6)
    const = torch.full((2, 1, 28, 28), 0.3)
    assert torch.allclose(S.gaussian_blur(const, torch.tensor([0.5, 2.0])), const, atol=1e-6)
    blurred = S.gaussian_blur(x, torch.tensor([0.0, 1.0, 2.0]))
    tv = blurred.diff(dim=-1).abs().mean((1, 2, 3))
    assert tv[0] > tv[1] > tv[2]  # more blur, smoother


def test_erase():
    x = torch.ones(2, 1, 28, 28)
    out = S.erase(x, torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.0, 0.0]]))
    assert out[0, 0, 14, 14] == 0 and out[0, 0, 0, 0] == 1
    assert abs((out[0] == 0).float().mean().item() - 0.25) < 0.05
    assert torch.equal(out[1], x[1])


def test_primitives_keep_dtype_and_shape():
    x = _imgs(4).double()
    n = 4
    for out in [
        S.resized_crop(x, torch.tensor([[0.1, 0.0, 0.7, 0.8]]).repeat(n, 1)),
        S.hflip(x, torch.ones(n, dtype=torch.bool)),
        S.brightness_contrast(x, torch.ones(n), torch.ones(n)),
        S.gaussian_blur(x, torch.ones(n)),
        S.erase(x, torch.zeros(n, 4)),
    ]:
        assert out.shape == x.shape and out.dtype == torch.float64


def test_networks_shapes():
    m = S.SimCLRModel(width=8, proj_dim=16)
    x = _imgs(5)
    assert m.f(x).shape == (5, 32) and m(x).shape == (5, 16)


def test_warmup_cosine_schedule():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = S.warmup_cosine(opt, total_steps=20, warmup_steps=5)
    lrs = []
    for _ in range(20):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert abs(lrs[0] - 0.2) < 1e-9 and abs(lrs[4] - 1.0) < 1e-9 and lrs[-1] < 0.05


def test_encoder_runs_channels_last_and_computes_the_same_function():
    torch.manual_seed(0)
    f = S.Encoder(width=8).eval()
    convs = [m for m in f.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        h = f(x)
        # the same layers in the usual layout: the same features (to float rounding)
        plain = S.Encoder(width=8).eval()
        plain.load_state_dict(f.state_dict())
        assert all(c.weight.is_contiguous(memory_format=torch.channels_last)
                   for c in plain.modules() if isinstance(c, torch.nn.Conv2d))  # loading keeps the layout
        ref = plain.net.to(memory_format=torch.contiguous_format)(x)
    assert torch.allclose(h, ref, atol=1e-5)
