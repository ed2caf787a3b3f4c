"""Lint: ruff (rules in pyproject.toml's [tool.ruff]) passes on the package, the tests, the tools and the notebooks."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT

PATHS = ["conftest.py", "course_utils", "tests", "tools", "benchmarks", "solutions", "notebooks"]


def _ruff() -> str:
    exe = Path(sys.executable).with_name("ruff")
    found = str(exe) if exe.exists() else shutil.which("ruff")
    if found is None:
        pytest.fail("ruff is not installed: it is in pyproject.toml's dependencies, so run ./course setup")
    return found


def test_ruff_passes():
    done = subprocess.run([_ruff(), "check", "--output-format", "concise", *PATHS], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, (
        "ruff found problems (./course lint shows them, ./course lint --fix repairs the simple ones):\n"
        + done.stdout[-6000:] + done.stderr[-2000:]
    )


def test_ruff_catches_a_problem(tmp_path):
    """The configuration is live: an unused import and a long line are reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\nx = '" + "a" * 130 + "'\n")
    done = subprocess.run([_ruff(), "check", "--output-format", "concise", "--config", str(ROOT / "pyproject.toml"),
                           str(bad)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "F401" in done.stdout and "E501" in done.stdout
