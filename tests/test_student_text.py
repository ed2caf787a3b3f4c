"""What students read speaks about the lecture, not about hardware or benchmarks.

The student notebooks (every cell of ``notebooks/*.ipynb``, markdown and code, comments and printed strings alike)
and the header that every notebook's setup cell prints (``course_utils.notebook``) name no GPU model, instruction
set, CPU family, core count, GFLOP figure, kernel set or bfloat16: a student needs how long a notebook takes on a
laptop and on a GPU, one line in its title cell, and where the figures come from lives in ``benchmarks/``.
Instructor notes are not in the student notebooks, so they are not held to this.
"""

from __future__ import annotations

import re

import nbformat
import pytest
import torch

from course_utils import syllabus
from helpers import ROOT

NOTEBOOKS = [nb.student(ROOT) for nb in syllabus.NOTEBOOKS]

# The maintained list: what each pattern stands for -> (regular expression, flags). Add a word here when a new one
# slips into a notebook; the self-test below says which innocent words must stay allowed.
FORBIDDEN = {
    "a GPU model or vendor": (r"\b(?:[HA]100|H200|H800|A10G?|A40|A6000|L40S?|L4|V100|P100|K80|T4|RTX|GeForce|Tesla|"
                              r"Quadro|Radeon|MI[23]\d0X?|NVIDIA)\b", 0),
    "an instruction set": (r"\b(?:AVX(?:-?512|2)?(?:[-_]?BF16)?|AMX|SSE\d(?:\.\d)?|NEON|VNNI)\b", re.I),
    "a math library's build": (r"\b(?:oneDNN|MKL|OpenBLAS)\b", re.I),
    "a CPU family": (r"\b(?:Zen\s?\d?|EPYC|Xeon|Ryzen|Threadripper|Core\s+i[3579]|Graviton|Skylake|Ice\s+Lake|"
                     r"Cascade\s+Lake|Sapphire\s+Rapids|Apple\s+M[1-4])\b", 0),
    "a core count": (r"\bcores\b", re.I),
    "a GFLOP figure": (r"\b[GT]?FLOP(?:S|/s)?\b", re.I),
    "a kernel set": (r"\bkernel\s+sets?\b", re.I),
    "bfloat16": (r"(?<![A-Za-z0-9_])(?:bfloat16|bf16)\b", re.I),
    "CPU kinds": (r"\bkinds?\s+of\s+CPUs?\b", re.I),
    "a speed-up": (r"\b\d+(?:\.\d+)?\s?x\s+(?:faster|slower)\b", re.I),
    "a throughput": (r"\bimages(?:/s| per second)\b", re.I),
    "a machine's cache": (r"\b(?:CPU's|L[123])\s+cache\b", re.I),
    "a shared machine": (r"\bshared with another job\b", re.I),
}
PATTERNS = {what: re.compile(rx, flags) for what, (rx, flags) in FORBIDDEN.items()}


def hardware_words(text: str) -> list[str]:
    """Every forbidden word in ``text``, as ``'word' (what it is): ...context...``."""
    found = []
    for what, rx in PATTERNS.items():
        for m in rx.finditer(text):
            context = text[max(0, m.start() - 40) : m.end() + 40].replace("\n", " ")
            found.append(f"{m.group(0)!r} ({what}): ...{context}...")
    return found


def test_the_list_catches_hardware_and_spares_the_lecture():
    caught = ["one NVIDIA H200, shared with another job", "2 AVX2 cores", "AVX-512 and AMX", "native bfloat16",
              "bf16 where the CPU has it", "137 GFLOP/s", "under the AVX2 kernel set", "an AMD EPYC (Zen 5)",
              "Intel Xeon", "three kinds of CPU", "1.6x faster", "2,887 images/s", "fit a CPU's cache", "a T4",
              "on a V100 or an A100", "on 2 CPU cores"]
    for text in caught:
        assert hardware_words(text), f"not caught: {text!r}"
    spared = ["the core path", "core minutes", "scores", "an L2 loss", "$L_2$ inpainting", "COURSE_BF16=0",
              "a GPU", "Colab's GPU", "a laptop CPU", "the Jupyter kernel", "a Gaussian blur kernel", "float32",
              "Trained models are cached", "the t-SNE of z", "T-shirt/top", "mixed precision"]
    for text in spared:
        assert not hardware_words(text), f"flagged by mistake: {text!r}: {hardware_words(text)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_hardware_words_in_a_student_notebook(path):
    nb = nbformat.read(str(path), as_version=4)
    found = [f"cell {i} ({cell.cell_type}): {w}"
             for i, cell in enumerate(nb.cells) for w in hardware_words(cell.source)]
    assert not found, f"{path.name} speaks of hardware or benchmarks where a student reads it:\n" + "\n".join(found)


def _headers(monkeypatch) -> list[str]:
    """The setup header in each case it distinguishes: mixed precision, full precision on a CPU that trains slowly,
    plain full precision, the fast profile, and the data fallback's banner."""
    from course_utils import data, speed
    from course_utils.notebook import Course
    from course_utils.profiles import get_profile

    monkeypatch.delenv("COURSE_CHECKPOINTS", raising=False)
    monkeypatch.delenv("COURSE_BF16", raising=False)
    source = data.find_data_source()
    out = [data.FALLBACK_BANNER]
    for dtype in (torch.bfloat16, None):
        monkeypatch.setattr(speed, "autocast_dtype", lambda device, dtype=dtype: dtype)
        for notebook in ("02_autoencoders", "01_jensen_elbo"):
            for profile in ("full", "fast"):
                course = Course(notebook, get_profile(profile), torch.device("cpu"), 0, source)
                out.append(course.header())
    return out


def test_no_hardware_words_in_the_setup_header(monkeypatch):
    headers = _headers(monkeypatch)
    assert any("training in" in h for h in headers), "the header says how it trains"
    found = [w for h in headers for w in hardware_words(h)]
    assert not found, "the setup header speaks of hardware:\n" + "\n".join(found)
