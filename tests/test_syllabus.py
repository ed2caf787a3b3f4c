"""The notebook registry: every notebook of the course is listed once, and the rest of the course asks it."""

import importlib
from pathlib import Path

import pytest

from course_utils import syllabus
from helpers import ROOT


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
    for key in ("02_autoencoders.ipynb", ROOT / "solutions" / "02_autoencoders.ipynb", " 02 "):
        assert syllabus.get(key).name == "02_autoencoders", key
    with pytest.raises(syllabus.UnknownNotebook, match=r"no notebook '99' in the course \(there are: 01_jensen_elbo, "
                                                       r"02_autoencoders, .*06_when_does_ssl_work\)"):
        syllabus.get("99")
    for key in ("", "abc", "autoencoders", "99_x"):
        with pytest.raises(syllabus.UnknownNotebook):
            syllabus.get(key)
        assert syllabus.get(key, None) is None
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


def test_files_and_folders():
    nb = syllabus.get("02")
    assert nb.filename == "02_autoencoders.ipynb" and nb.solution(ROOT) == ROOT / "solutions" / nb.filename
    assert nb.solution_in(ROOT / "elsewhere") == ROOT / "elsewhere" / "02_autoencoders.ipynb"
    assert nb.student(ROOT) == ROOT / "notebooks" / nb.filename
    for name in ("02_autoencoders.ipynb", "02_autoencoders-Copy1.ipynb", "02_mine.ipynb", "uploads/02_x.ipynb"):
        assert syllabus.of_file(name) is nb, name
    for name in ("autoencoders.ipynb", "02.ipynb", "99_x.ipynb", "homework_02.ipynb"):
        assert syllabus.of_file(name) is None, name


def test_numbers_listed_or_not():
    for key, number in (("7", "07"), (7, "07"), ("07_x", "07"), ("02_autoencoders.ipynb", "02"), ("99_x", "99"),
                        ("002", "02"), ("homework", None), ("", None), (None, None), ("123_x", None), ("02-x", None)):
        assert syllabus.number_in(key) == number, key


def test_selections_and_folders(tmp_path):
    assert syllabus.select() == list(syllabus.NOTEBOOKS) == syllabus.select([])
    assert [nb.number for nb in syllabus.select(["5", "02", "02_autoencoders"])] == ["02", "05"]
    with pytest.raises(syllabus.UnknownNotebook, match=r"no notebook '42' in the course \(there are: 01_jensen"):
        syllabus.select(["02", "42"])
    assert syllabus.in_folder(ROOT / "solutions") == list(syllabus.NOTEBOOKS)
    (tmp_path / "03_vae.ipynb").write_text("{}")
    (tmp_path / "99_other.ipynb").write_text("{}")
    (tmp_path / "01_jensen_elbo-Copy1.ipynb").write_text("{}")
    assert [nb.name for nb in syllabus.in_folder(tmp_path)] == ["03_vae"]
    assert syllabus.in_folder(tmp_path, syllabus.training()[:1]) == []
    assert syllabus.get("03").path_in(tmp_path) == tmp_path / "03_vae.ipynb" == syllabus.get("3").solution_in(tmp_path)
    order = [nb.number for nb in syllabus.in_lecture_order()]
    assert order[:3] == ["02", "03", "01"] and sorted(order) == [nb.number for nb in syllabus.NOTEBOOKS]


def test_the_grader_asks_the_registry(tmp_path):
    """The grader finds a solution notebook through the registry, in the clone's solutions/ or in --solutions DIR."""
    from course_utils.grade.spec import SpecError, find_solution, guess_assignment

    solutions = ROOT / "solutions"
    for key in ("2", "02", "02_autoencoders", "02_autoencoders.ipynb"):
        assert find_solution(key, solutions) == solutions / "02_autoencoders.ipynb", key
    elsewhere = tmp_path / "hidden-tests"
    elsewhere.mkdir()
    (elsewhere / "01_jensen_elbo.ipynb").write_text("{}")
    assert find_solution("1", elsewhere) == elsewhere / "01_jensen_elbo.ipynb"
    with pytest.raises(SpecError, match="has no 02_autoencoders.ipynb .it has: 01_jensen_elbo.ipynb."):
        find_solution("02", elsewhere)
    with pytest.raises(SpecError, match="no notebook '99' in the course .there are: 01_jensen_elbo"):
        find_solution("99", solutions)
    with pytest.raises(SpecError, match="never installed with the package"):
        find_solution("01", tmp_path / "nowhere")
    assert guess_assignment(Path("02_autoencoders-Copy1.ipynb"), None) == "02"
    assert guess_assignment(Path("homework.ipynb"), None) is None


# How code finds notebooks by itself: a number formatted into a name, a glob of numbered files, a name's first two
# characters, a prefix split off a name. Outside syllabus.py, code asks the registry instead.
RESOLVING_NAMES = (":02d}_", "[0-9][0-9]_", "name[:2]", "stem[:2]", 'split("_", 1)[0]', '_*.ipynb")')


def offenders(root: Path) -> list[str]:
    """``path: pattern`` for each place under ``root``'s course_utils/, tools/, benchmarks/, tests/ and conftest.py
    that resolves a notebook's name or number itself (:data:`RESOLVING_NAMES`)."""
    found = []
    paths = [root / "conftest.py", *(p for d in ("course_utils", "tools", "benchmarks", "tests") for p in
                                     sorted((root / d).rglob("*.py")))]
    for path in paths:
        if path.name == "syllabus.py" and path.parent.name == "course_utils" or path == Path(__file__):
            continue
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        found += [f"{path.relative_to(root).as_posix()}: {p}" for p in RESOLVING_NAMES if p in text]
    return found


def test_nothing_resolves_notebook_names_itself():
    """No f"{int(n):02d}_", no glob of numbered files, no name[:2]: the package, the grader, the tools, the
    benchmarks and the tests ask syllabus (get, of_file, number_in, select, in_folder, Notebook.path_in)."""
    found = offenders(ROOT)
    assert not found, f"ask course_utils.syllabus: {found}"


def test_the_guard_finds_a_planted_offender(tmp_path):
    for folder in ("course_utils/grade", "tools", "tests"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "course_utils" / "syllabus.py").write_text('f"{int(n):02d}_"')  # the registry may
    (tmp_path / "tools" / "ok.py").write_text("from course_utils import syllabus\n")
    assert offenders(tmp_path) == []
    (tmp_path / "course_utils" / "grade" / "x.py").write_text('number = path.name[:2]\n')
    (tmp_path / "tests" / "test_x.py").write_text('NOTEBOOKS = sorted(ROOT.glob("[0-9][0-9]_*.ipynb"))\n')
    assert offenders(tmp_path) == ["course_utils/grade/x.py: name[:2]", "tests/test_x.py: [0-9][0-9]_",
                                   'tests/test_x.py: _*.ipynb")']
