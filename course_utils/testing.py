"""How the course runs its own tests: the environment every test run sets, workers side by side, a second set of
CPU kernels. Used by ``course test`` and its relatives (:mod:`.cli`) and by ``course test-matrix`` (:mod:`.matrix`).
"""

from __future__ import annotations

import os
from pathlib import Path

from .settings import current

# What every test run sets: the fast profile, the stored values verified, no progress bars, no downloads, no windows,
# and float32 training. The stored values are float32 runs; bf16 training moves trained values by more than the
# tolerances allow on some CPUs (AMX and AVX512-BF16 differ; CONTRIBUTING.md), so a test run on a CPU with native
# bf16 trains in float32 unless COURSE_BF16 says otherwise.
TEST_ENV = {"COURSE_PROFILE": "fast", "COURSE_VERIFY_STORED": "1", "COURSE_PROGRESS": "0", "COURSE_DOWNLOAD": "0",
            "MPLBACKEND": "Agg"}


def testing_env() -> dict[str, str]:
    bf16 = current().bf16
    return {**TEST_ENV, "COURSE_BF16": "1" if bf16 else "0"}


def side_by_side(workers: int | None, extra: list[str]) -> tuple[list[str], dict[str, str]]:
    """pytest-xdist's arguments and the threads per worker: one worker per core (at most 4), each notebook's
    training with cores / workers threads (more OpenMP threads than cores make training several times slower)."""
    if any(a in ("-n", "-pno:xdist", "no:xdist") or a.startswith(("-n", "--numprocesses")) for a in extra):
        return [], {}
    cores = os.cpu_count() or 1
    if workers is None:
        workers = current().test_workers or min(cores, 4)
    if workers <= 1:
        return [], {}
    s = current()
    threads = str(s.omp_threads or max(cores // workers, 1))
    env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": str(s.mkl_threads or threads)}
    # one test file (or notebook) per worker at a time; the units and their order: conftest.py
    return ["-n", str(workers), "--dist", "loadscope", "--no-loadscope-reorder"], env


def second_kernel_set(machine: str, cpu_flags: str) -> dict[str, str]:
    """A set of CPU kernels other than this CPU's own: AVX2 on x86 with AVX-512, the generic kernels elsewhere."""
    if machine in ("x86_64", "AMD64") and "avx512f" in cpu_flags.split():
        wanted = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
    elif machine in ("x86_64", "AMD64"):  # AVX2 is this CPU's own set already: the generic kernels differ
        wanted = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"}
    else:
        wanted = {"ATEN_CPU_CAPABILITY": "default"}
    s = current()
    chosen = {"ATEN_CPU_CAPABILITY": s.aten_cpu_capability, "ONEDNN_MAX_CPU_ISA": s.onednn_max_cpu_isa,
              "MKL_ENABLE_INSTRUCTIONS": s.mkl_enable_instructions}
    return {k: chosen[k] or v for k, v in wanted.items()}


def cpu_flags() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def bootstrap_stamp(root: Path, extras: str) -> str:
    """What ``./course`` writes to ``.venv/.course-installed`` after installing the course with ``extras``: it
    reinstalls whenever pyproject.toml, constraints.txt or the extras change."""
    import hashlib

    blob = (root / "pyproject.toml").read_bytes() + (root / "constraints.txt").read_bytes() + f"{extras}\n".encode()
    return hashlib.sha256(blob).hexdigest()[:16]
