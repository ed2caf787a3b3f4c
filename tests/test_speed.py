"""course_utils.speed: FLOP counts, the bf16 decision, and the arithmetic of a measured step."""

import pytest
import torch
from torch import nn

from course_utils import speed


def test_count_flops_of_a_linear_layer_forward_and_backward():
    layer = nn.Linear(100, 30)
    x = torch.randn(8, 100)

    def forward():
        layer(x)

    def step():
        layer(x).sum().backward()

    assert speed.count_flops(forward) == 2 * 8 * 100 * 30
    # backward: the gradient of the weight (2*8*100*30); x needs no gradient
    assert speed.count_flops(step) == 2 * (2 * 8 * 100 * 30)


def test_step_speed_arithmetic():
    s = speed.StepSpeed(batch=100, seconds_per_step=0.5, flops_per_step=4e9)
    assert s.images_per_s == 200
    assert s.flops_per_image == 4e7
    assert s.gflops == 8
    assert s.fraction_of(16) == 0.5
    assert s.limit_images_per_s(16) == pytest.approx(400)
    d = s.to_dict()
    assert d["images_per_s"] == 200 and d["batch"] == 100


def test_measure_step_times_and_counts():
    layer = nn.Linear(64, 64)
    x = torch.randn(32, 64)
    m = speed.measure_step(lambda: layer(x).sum().backward(), batch=32, min_seconds=0.05)
    assert m.seconds_per_step > 0
    assert m.flops_per_step == 2 * (2 * 32 * 64 * 64)


def test_machine_peak_is_positive_and_names_its_threads():
    peak = speed.machine_peak(min_seconds=0.05)
    assert peak["matmul"] > 0 and peak["conv"] > 0
    assert peak["threads"] == torch.get_num_threads()


@pytest.mark.parametrize("value, expected", [("0", False), ("off", False), ("1", True), ("yes", True)])
def test_course_bf16_overrides_the_decision(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_BF16", value)
    assert speed.native_bf16("cpu") is expected
    assert speed.autocast_dtype("cpu") == (torch.bfloat16 if expected else None)


def test_bf16_is_off_where_onednn_has_no_bf16(monkeypatch):
    monkeypatch.delenv("COURSE_BF16", raising=False)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False, raising=False)
    assert speed.native_bf16("cpu") is False
    assert speed.native_bf16("meta") is False


def test_the_machine_is_described_by_its_cpu_cores_and_versions():
    text = speed.machine()
    assert f"{torch.get_num_threads()} torch threads" in text and torch.__version__ in text
    assert torch.backends.cpu.get_cpu_capability() in text


# ----------------------------------------------------------------------------- bf16 on GPUs and Macs
def _pretend_gpu(monkeypatch, capability):
    """Make torch answer as a machine with one CUDA GPU of ``capability``; ``is_bf16_supported`` says True as it
    does on every CUDA GPU (it counts emulated bf16 by default, a T4 included)."""
    monkeypatch.delenv("COURSE_BF16", raising=False)
    asked = []

    def get_device_capability(device=None):
        asked.append(device)
        return capability

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", get_device_capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    return asked


@pytest.mark.parametrize("gpu, capability, native", [
    ("V100", (7, 0), False),
    ("T4 (Colab's free GPU)", (7, 5), False),
    ("A100", (8, 0), True),
    ("RTX 4090", (8, 9), True),
    ("H100", (9, 0), True),
])
def test_bf16_on_cuda_only_from_compute_capability_8(monkeypatch, gpu, capability, native):
    asked = _pretend_gpu(monkeypatch, capability)
    assert speed.native_bf16("cuda") is native, gpu
    assert speed.native_bf16(torch.device("cuda:0")) is native, gpu
    assert speed.autocast_dtype("cuda") == (torch.bfloat16 if native else None), gpu
    assert asked and all(torch.device(d).type == "cuda" for d in asked)  # it asks about the device it was given


def test_a_t4_trains_in_float32_although_torch_calls_its_bf16_supported(monkeypatch):
    _pretend_gpu(monkeypatch, (7, 5))
    assert torch.cuda.is_bf16_supported() is True  # what the old decision asked
    assert speed.autocast_dtype("cuda") is None


@pytest.mark.parametrize("capability", [(7, 5), (9, 0)])
@pytest.mark.parametrize("value, expected", [("0", False), ("1", True)])
def test_course_bf16_overrides_the_gpu_decision(monkeypatch, capability, value, expected):
    _pretend_gpu(monkeypatch, capability)
    monkeypatch.setenv("COURSE_BF16", value)
    assert speed.native_bf16("cuda") is expected
    assert speed.autocast_dtype("cuda") == (torch.bfloat16 if expected else None)


def test_no_bf16_on_cuda_when_no_gpu_is_there(monkeypatch):
    monkeypatch.delenv("COURSE_BF16", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    assert speed.native_bf16("cuda") is False
    assert speed.autocast_dtype("cuda") is None


def test_apple_mps_trains_in_float32(monkeypatch):
    monkeypatch.delenv("COURSE_BF16", raising=False)
    assert speed.native_bf16("mps") is False
    assert speed.autocast_dtype(torch.device("mps")) is None
