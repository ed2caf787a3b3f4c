"""How fast a training loop runs, and how fast this machine could run it: images per second against a limit.

The limit of a step is its floating-point work (counted by ``torch.utils.flop_counter.FlopCounterMode``, forward
and backward) divided by what the machine's kernels reach on large, well-shaped problems (a 2048 x 2048 matrix
product, and a convolution of the course's sizes), measured here and now with the same threads::

    peak = machine_peak()                                   # {"matmul": GFLOP/s, "conv": GFLOP/s, ...}
    m = measure_step(step, batch=256)                       # images/s and FLOPs per image of one training step
    m.images_per_s, m.flops_per_image, m.fraction_of(peak["matmul"])

A ratio near 1 says the step is bound by arithmetic that already runs at the kernels' speed: only doing less work
(fewer images, a smaller model, lower precision) makes it faster. A small ratio says the time goes elsewhere
(memory traffic, small kernels, Python).

:func:`native_bf16` says whether bfloat16 autocast is worth it on a device, that is whether the device computes
bf16 natively. On CPUs without bf16 instructions (AVX2 laptops, most ARM) oneDNN emulates it, about 10-20x slower
than float32. NVIDIA GPUs compute bf16 natively from compute capability 8.0 (Ampere: A100, RTX 30xx; Hopper: H100);
older ones (a T4, Colab's free GPU, is 7.5; a V100 is 7.0) emulate it, so there the course trains in float32 (no
float16 and gradient scaler). Apple's MPS trains in float32.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F


def machine() -> str:
    """This machine in words, for benchmark records: the CPU's model, cores, torch threads, GPU, kernels, versions.
    The model name tells CPUs of one architecture apart (``platform.machine()`` says only ``x86_64``)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return (f"{cpu}, {os.cpu_count()} cores ({torch.get_num_threads()} torch threads){gpu}, ATen "
            f"{torch.backends.cpu.get_cpu_capability()} kernels; Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def bf16_forced() -> bool | None:
    """``COURSE_BF16``'s answer: ``True`` or ``False`` when it is set, ``None`` when it is not."""
    from .settings import current

    return current().bf16


def native_bf16(device: torch.device | str = "cpu") -> bool:
    """Whether bfloat16 matmuls and convolutions run natively on ``device``.

    CUDA: the GPU's compute capability is at least 8.0 (Ampere, Ada, Hopper and later). Older GPUs (a T4 is 7.5, a
    V100 7.0) answer False, although ``torch.cuda.is_bf16_supported()`` says True there: by default it counts
    emulated bf16, which is slower than float32. CPU: oneDNN reports bf16 support (it honours
    ``ONEDNN_MAX_CPU_ISA``) and the CPU has AVX512-BF16 or AMX instructions; elsewhere bf16 is emulated and slower
    than float32. Any other device (``mps``, ``meta``) answers False. ``COURSE_BF16=0`` (or ``1``) overrides the
    answer on every device.
    """
    forced = bf16_forced()
    if forced is not None:
        return forced
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and tuple(torch.cuda.get_device_capability(device)) >= (8, 0)
    if device.type != "cpu":
        return False
    try:
        onednn = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
    cpu = torch.cpu
    instructions = any(
        bool(getattr(cpu, name, lambda: False)()) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    )
    return onednn and instructions


def autocast_dtype(device: torch.device | str = "cpu") -> torch.dtype | None:
    """``torch.bfloat16`` where :func:`native_bf16`, else ``None`` (train in float32)."""
    return torch.bfloat16 if native_bf16(device) else None


def timed(fn: Callable[[], object], min_seconds: float = 2.0, min_reps: int = 3, warmup: int = 1) -> float:
    """Median seconds per call of ``fn`` after ``warmup`` calls, over at least ``min_reps`` calls and
    ``min_seconds``."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def count_flops(fn: Callable[[], object]) -> int:
    """Floating-point operations of one call of ``fn`` (matmuls and convolutions, forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def machine_peak(min_seconds: float = 1.5, dtype: torch.dtype = torch.float32) -> dict[str, float]:
    """GFLOP/s that this machine's kernels reach now, with torch's current threads: a 2048^2 matrix product and a
    3x3 convolution (64 -> 64 channels on 14x14 maps, batch 256: the size of the course's CNN blocks)."""
    a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
    mm = timed(lambda: a @ b, min_seconds=min_seconds)
    x = torch.randn(256, 64, 14, 14, dtype=dtype).contiguous(memory_format=torch.channels_last)
    w = torch.randn(64, 64, 3, 3, dtype=dtype).contiguous(memory_format=torch.channels_last)
    conv = timed(lambda: F.conv2d(x, w, padding=1), min_seconds=min_seconds)
    conv_flops = 2 * 256 * 64 * 14 * 14 * 64 * 9
    return {"matmul": 2 * 2048**3 / mm / 1e9, "conv": conv_flops / conv / 1e9, "threads": torch.get_num_threads(),
            "dtype": str(dtype).replace("torch.", "")}


@dataclass
class StepSpeed:
    """One training step, measured: ``batch`` images per step."""

    batch: int
    seconds_per_step: float
    flops_per_step: int

    @property
    def images_per_s(self) -> float:
        return self.batch / self.seconds_per_step

    @property
    def flops_per_image(self) -> float:
        return self.flops_per_step / self.batch

    @property
    def gflops(self) -> float:
        """The arithmetic rate the step reaches, GFLOP/s."""
        return self.flops_per_step / self.seconds_per_step / 1e9

    def fraction_of(self, peak_gflops: float) -> float:
        """The step's GFLOP/s over ``peak_gflops``: 1.0 is the limit."""
        return self.gflops / peak_gflops

    def limit_images_per_s(self, peak_gflops: float) -> float:
        """Images per second if every FLOP ran at ``peak_gflops``."""
        return peak_gflops * 1e9 / self.flops_per_image

    def to_dict(self) -> dict:
        return {**asdict(self), "images_per_s": self.images_per_s, "flops_per_image": self.flops_per_image,
                "gflops": self.gflops}


def measure_step(step: Callable[[], object], batch: int, min_seconds: float = 2.0) -> StepSpeed:
    """Time ``step()`` (one optimizer step on ``batch`` images) and count its FLOPs."""
    seconds = timed(step, min_seconds=min_seconds)
    return StepSpeed(batch, seconds, count_flops(step))


__all__ = [
    "bf16_forced", "native_bf16", "autocast_dtype", "timed", "count_flops", "machine_peak", "StepSpeed", "measure_step",
]
