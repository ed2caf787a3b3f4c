"""The maintainers' scripts (tools/, benchmarks/, grading/bundles.py) import the course as an installed package
(``./course setup`` installs it, editable, into .venv): none edits ``sys.path``, and none imports another script
or the tests; what two of them share lives in ``course_utils`` (see CONTRIBUTING.md, "Tools and benchmarks").
The tests neither edit ``sys.path`` nor import ``conftest``: they load a script with ``helpers.load_script``."""

import ast

import pytest

from helpers import ROOT

FILES = sorted(p for d in ("tools", "benchmarks") for p in (ROOT / d).rglob("*.py")) + [ROOT / "grading" / "bundles.py"]
SCRIPTS = {p.stem for p in FILES if '__name__ == "__main__"' in p.read_text()}
NOT_IMPORTABLE = SCRIPTS | {"tools", "benchmarks", "tests", "submissions", "grading"}


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield node, [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node, [node.module]


def _sys_path(tree) -> list[int]:
    """Lines that use ``sys.path``: code, not text (a file may mention sys.path in a string)."""
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "path"
            and isinstance(n.value, ast.Name) and n.value.id == "sys"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_script_neither_edits_sys_path_nor_imports_another_script(path):
    tree = ast.parse(path.read_text())
    edits = _sys_path(tree)
    assert not edits, f"{path.name} uses sys.path (lines {edits}): import course_utils, which .venv has installed"
    wrong = [(node.lineno, name) for node, names in _imports(tree) for name in names
             if name.split(".")[0] in NOT_IMPORTABLE]
    assert not wrong, f"{path.name} imports another script or the tests {wrong}: move what they share to course_utils"


def test_the_check_sees_the_scripts():
    assert {"release_checkpoints", "release_capstone", "train_released_simclr", "simclr_mae_cpu_runs",
            "grade_throughput", "vae_reference", "bundles"} <= SCRIPTS
    assert "pytorch_examples" not in SCRIPTS  # the benchmarks' shared module (pytorch/examples' VAE) is no script


TESTS = sorted((ROOT / "tests").rglob("*.py"))


@pytest.mark.parametrize("path", TESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_test_neither_edits_sys_path_nor_imports_conftest(path):
    """pytest loads conftest.py (fixtures, hooks) itself; what tests share otherwise is in tests/helpers.py."""
    tree = ast.parse(path.read_text())
    edits = _sys_path(tree)
    assert not edits, f"{path.name} uses sys.path (lines {edits}): load a script with helpers.load_script"
    wrong = [node.lineno for node, names in _imports(tree) if "conftest" in names]
    assert not wrong, f"{path.name} imports conftest (lines {wrong}): import what it needs from helpers"
