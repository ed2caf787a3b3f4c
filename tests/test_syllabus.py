"""The notebook registry: every notebook of the course is listed once, and the rest of the course asks it."""

import importlib

import pytest

from conftest import ROOT
from course_utils import syllabus


def test_the_registry_is_the_notebooks_on_disk():
    on_disk = sorted(p.stem for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    assert syllabus.names() == on_disk
    for nb in syllabus.NOTEBOOKS:
        assert nb.solution(ROOT).exists() and nb.student(ROOT).exists(), nb.name
        assert nb.name.startswith(nb.number + "_")
        if nb.checks:
            importlib.import_module(nb.checks_module)
            assert (ROOT / "course_utils" / "stored_values" / f"{nb.name}.cases.json").exists(), nb.name


def test_lookups():
    assert syllabus.get("2").name == syllabus.get("02").name == syllabus.get(2).name == "02_autoencoders"
    assert syllabus.get("02_autoencoders").number == "02"
    with pytest.raises(syllabus.UnknownNotebook, match="no notebook '99'"):
        syllabus.get("99")
    assert [nb.number for nb in syllabus.training()] == ["02", "03", "04", "05"]
    assert [nb.number for nb in syllabus.assignments()] == ["01", "02", "03", "04", "05"]


def test_no_other_list_of_notebooks():
    """Which notebooks train or have checks is not written again outside the registry."""
    for path in [*(ROOT / "course_utils").rglob("*.py"), *(ROOT / "tools").glob("*.py"), ROOT / "conftest.py",
                 *(ROOT / "benchmarks").glob("*.py")]:
        if path.name == "syllabus.py":
            continue
        text = path.read_text()
        assert '"02_autoencoders", "03_vae", "04_simclr", "05_mae"' not in text, path
        assert '"nb02", "03_vae": "nb03"' not in text, path
