"""One source, two versions: student notebooks are generated, current, clean, and hold no answers."""

import re
import shutil

import nbformat
import pytest

from course_utils import syllabus
from course_utils.assign import generate, problems, solution_cells, student_source
from course_utils.nbcode import MARKERS, MarkerError
from helpers import ROOT

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
STUDENT = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_solution_block_becomes_a_stub_at_its_indentation():
    src = "def f(x):\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n"
    assert student_source(src, "code") == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"


def test_hidden_tests_are_removed_and_markdown_answers_blanked():
    src = "check(f)\n### BEGIN HIDDEN TESTS\nassert f(1) == 2\n### END HIDDEN TESTS"
    assert student_source(src, "code") == "check(f)"
    markdown = "Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION"
    assert student_source(markdown, "markdown") == "Why?\nYOUR ANSWER HERE"


@pytest.mark.parametrize(
    "src",
    [
        "### BEGIN SOLUTION\nx = 1",
        "x = 1\n### END SOLUTION",
        "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
    ],
)
def test_unbalanced_markers_are_an_error(src):
    with pytest.raises(MarkerError):
        student_source(src, "code")


def test_there_are_notebooks():
    assert SOLUTIONS and [p.name for p in SOLUTIONS] == [p.name for p in STUDENT]


def test_notebooks_are_current_and_hold_no_outputs():
    assert problems() == []


def _copy_of_the_course(tmp_path):
    """solutions/ and notebooks/ copied into tmp_path, and the first solution notebook's path and cells."""
    sols, nbs = tmp_path / "solutions", tmp_path / "notebooks"
    shutil.copytree(ROOT / "solutions", sols)
    shutil.copytree(ROOT / "notebooks", nbs)
    target = sols / SOLUTIONS[0].name
    return sols, nbs, target, nbformat.read(target, as_version=4)


def test_an_edited_solution_without_regenerating_is_caught(tmp_path):
    sols, nbs, target, nb = _copy_of_the_course(tmp_path)
    assert problems(sols, nbs) == []
    nb.cells[0].source += "\n\nA sentence added to the solution."
    nbformat.write(nb, target)
    found = problems(sols, nbs)
    assert len(found) == 1 and "stale" in found[0]
    generate(sols, nbs)
    assert problems(sols, nbs) == []


def test_outputs_in_a_solution_are_caught(tmp_path):
    sols, nbs, target, nb = _copy_of_the_course(tmp_path)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello")]
    nbformat.write(nb, target)
    assert any("holds outputs" in p for p in problems(sols, nbs))


def test_a_backslash_lost_to_a_string_escape_is_caught(tmp_path):
    # LaTeX in a Python string without r"": "\t" of "\text" becomes a tab and "\f" of "\frac" a form feed
    sols, nbs, target, nb = _copy_of_the_course(tmp_path)
    markdown = next(c for c in nb.cells if c.cell_type == "markdown")
    markdown.source += "\n\nThe weight $\\lambda_{\text{adv}}$ and $\frac{1}{2}$."  # the escapes are the point
    nbformat.write(nb, target)
    found = [p for p in problems(sols, nbs) if "control character" in p]
    assert len(found) == 2 and "'\\t'" in found[0] and "'\\x0c'" in found[1], found


def _solution_lines():
    """Every substantial line inside a solution or hidden-test block of any solution notebook."""
    lines = set()
    for path in SOLUTIONS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            inside = False
            for line in cell.source.split("\n"):
                s = line.strip()
                if s in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
                    inside = True
                elif s in ("### END SOLUTION", "### END HIDDEN TESTS"):
                    inside = False
                elif inside and len(s) >= 12 and not s.startswith("#"):
                    lines.add(s)
    return lines


def _student_texts():
    for path in STUDENT:
        nb = nbformat.read(path, as_version=4)
        yield str(path), "\n".join(c.source for c in nb.cells)
    for path in sorted((ROOT / "course_utils").rglob("*")):
        if path.is_file() and path.suffix in (".py", ".json", ".md", ".txt"):
            yield str(path), path.read_text()


def test_student_materials_hold_no_answers_or_hidden_tests():
    answers = _solution_lines()
    assert answers, "expected solution lines to search for"
    for where, text in _student_texts():
        normalized = "\n".join(line.strip() for line in text.split("\n"))
        if where.endswith(".ipynb"):
            for m in MARKERS:
                assert m not in text, f"{where} holds the marker {m!r}"
        for line in answers:
            assert line not in normalized.split("\n"), f"{where} holds a solution line: {line!r}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_exercises_follow_the_pattern(path):
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    setup = next(c for c in cells if c.cell_type == "code")
    assert f'setup_notebook("{path.stem}")' in setup.source, "the first code cell is the setup cell"
    assert re.search(r"\d+\s*min", cells[0].source), "the title cell gives a time estimate"
    sols = solution_cells(path)
    if path.stem == "06_when_does_ssl_work":
        assert not sols, "the capstone has no exercises: it runs your code from notebooks 02-05"
    else:
        assert sols, "every notebook but the capstone has at least one exercise"
    for cell in sols:
        i = cells.index(cell)
        meta = cell.metadata["nbgrader"]
        assert meta["grade_id"] and meta["solution"] is True and meta["grade"] is False
        has_markers_and_docstring = "### BEGIN SOLUTION" in cell.source and '"""' in cell.source
        assert has_markers_and_docstring, f"{meta['grade_id']}: docstring and markers"
        intro = cells[i - 1]
        assert intro.cell_type == "markdown" and "★" in intro.source and re.search(r"\d+\s*min", intro.source), (
            f"{meta['grade_id']}: the markdown cell before an exercise gives its difficulty (★) and minutes"
        )
        test = cells[i + 1]
        tmeta = test.metadata.get("nbgrader", {})
        assert tmeta.get("grade") is True and tmeta.get("points", 0) > 0 and tmeta.get("locked") is True, (
            f"{meta['grade_id']}: a graded check cell follows the exercise"
        )
        assert "check_" in test.source
    ids = [c.metadata["nbgrader"]["grade_id"] for c in cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)), "grade_ids are unique"


def test_check_cells_are_locked_and_answer_cells_are_not():
    """nbgrader's LockCells: a student cannot edit or delete a test cell by accident (JupyterLab honours it)."""
    locked = 0
    for path in STUDENT:
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("locked"):
                assert cell.metadata.get("editable") is False and cell.metadata.get("deletable") is False, path.name
                locked += 1
            elif meta.get("solution"):
                assert cell.metadata.get("editable", True) is not False, f"{path.name}: an answer cell is locked"
    assert locked >= 18


# ----------------------------------------------------------------------------- the core and the optional part
TIME_RE = re.compile(r"\*\*Time:\*\* about (\d+) minutes in all: core (\d+) min, optional (\d+) min\.")
ROW_RE = re.compile(r"^\|\s*([^|]+?)\s*\|.*\|\s*(\d+)\s*\|\s*(core|optional)\s*\|\s*$", re.M)
HEADING_RE = re.compile(r"^###\s+(Exercise|Written)\s+(\d+)\b([^\n]*)$", re.M)
MINUTES_RE = re.compile(r"\(\s*(\d+)\s*min\s*\)|~\s*(\d+)\s*min")
CORE_LIMIT_PER_NOTEBOOK, CORE_LIMIT_01_05 = 75, 300


def time_split(nb) -> dict:
    """The title cell's core and optional minutes and its table's rows: {"total", "core", "optional", "rows"}, each
    row ``(label, minutes, part)`` ("1", "W2", "reading", ...)."""
    title = nb.cells[0].source
    m = TIME_RE.search(title)
    assert m, "the title cell says '**Time:** about T minutes in all: core C min, optional O min.'"
    rows = [(label, int(minutes), part) for label, minutes, part in ROW_RE.findall(title)]
    return {"total": int(m.group(1)), "core": int(m.group(2)), "optional": int(m.group(3)), "rows": rows}


def graded_items(nb) -> dict:
    """Each exercise and written question of a notebook by its table label ("2", "W1"): its heading's minutes and
    whether its graded cells carry ``course.optional``."""
    items, label = {}, None
    for cell in nb.cells:
        heading = HEADING_RE.search(cell.source) if cell.cell_type == "markdown" else None
        if heading:
            label = ("W" if heading.group(1) == "Written" else "") + heading.group(2)
            minutes = MINUTES_RE.search(heading.group(3))
            items[label] = {"minutes": int(minutes.group(1) or minutes.group(2)), "optional": set()}
        nbg = cell.metadata.get("nbgrader", {})
        if label and (nbg.get("solution") or nbg.get("grade")):
            items[label]["optional"].add(bool(cell.metadata.get("course", {}).get("optional")))
    return items


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_the_title_time_is_the_sum_of_the_table(path):
    t = time_split(nbformat.read(str(path), as_version=4))
    assert t["rows"], f"{path.name}: the title cell's table has a minutes and a part column"
    for part in ("core", "optional"):
        assert t[part] == sum(m for _, m, p in t["rows"] if p == part), f"{path.name}: the {part} minutes"
    assert t["total"] == t["core"] + t["optional"]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_each_graded_item_is_marked_core_or_optional_as_its_table_row_says(path):
    nb = nbformat.read(str(path), as_version=4)
    rows = {label: (minutes, part) for label, minutes, part in time_split(nb)["rows"]}
    items = graded_items(nb)
    for label, item in items.items():
        assert label in rows, f"{path.name}: {label} is not in the title's table"
        minutes, part = rows[label]
        assert item["minutes"] == minutes, f"{path.name}: {label}'s heading and table give other minutes"
        assert item["optional"] == {part == "optional"}, (
            f"{path.name}: {label} is {part} in the table, so its graded cells carry course.optional = "
            f"{part == 'optional'} (the grader reads it)")
    numbered = {label for label, _, _ in time_split(nb)["rows"] if re.fullmatch(r"W?\d+", label)}
    assert numbered == set(items), f"{path.name}: the table and the notebook's exercises differ"


def test_the_core_of_01_05_fits_a_course_and_06_is_optional():
    split = {syllabus.of_file(p).number: time_split(nbformat.read(str(p), as_version=4)) for p in SOLUTIONS}
    core = {nb: s["core"] for nb, s in split.items() if nb != "06"}
    assert all(c <= CORE_LIMIT_PER_NOTEBOOK for c in core.values()), core
    assert sum(core.values()) <= CORE_LIMIT_01_05, core
    assert split["06"]["core"] == 0 and split["06"]["optional"] > 0


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.stem)
def test_students_see_the_same_split_and_the_grader_the_same_marks(path):
    student = nbformat.read(str(path), as_version=4)
    solution = nbformat.read(str(ROOT / "solutions" / path.name), as_version=4)
    assert time_split(student) == time_split(solution)
    assert graded_items(student) == graded_items(solution)
