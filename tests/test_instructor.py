"""Instructor notes (course_utils.instructor): in every solution notebook, current, and never in student material."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from course_utils import instructor, syllabus
from course_utils.assign import answered, student_notebook
from course_utils.nbcode import INSTRUCTOR_TAG, is_instructor_note
from course_utils.stored import cases_path
from helpers import ROOT

SOLUTIONS = [nb.solution(ROOT) for nb in syllabus.NOTEBOOKS]


def _open_questions(nb) -> int:
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and "## Open questions" in c.source)
    return len(re.findall(r"^\d+\. ", cell.source.split("## Open questions", 1)[1], re.M))


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_every_open_question_has_an_answer_in_the_instructor_notes(path):
    nb = nbformat.read(str(path), as_version=4)
    notes = [c for c in nb.cells if is_instructor_note(c) and not c.metadata.get("course", {}).get("generated")]
    assert len(notes) == 1, f"{path.name}: one hand-written instructor note (tag {INSTRUCTOR_TAG!r}) at the end"
    answers = notes[0].source.split("**Answers to the open questions.**", 1)
    assert len(answers) == 2, f"{path.name}: the note has an 'Answers to the open questions.' part"
    numbered = re.findall(r"^(\d+)\. ", answers[1].split("\n**", 1)[0], re.M)
    assert numbered == [str(i) for i in range(1, _open_questions(nb) + 1)], (
        f"{path.name}: answers {numbered} for {_open_questions(nb)} open questions")
    assert not re.search(r"\{[A-Z_]+\}", notes[0].source)


@pytest.mark.parametrize("path", [p for p in SOLUTIONS if cases_path(p.stem).exists()], ids=lambda p: p.stem)
def test_the_usual_mistakes_notes_are_current_with_the_checks(path):
    assert not instructor.refresh(path, write=False), (
        f"{path.name}: the generated mistakes notes are stale: run python -m course_utils.instructor, then "
        "./course generate")
    nb = nbformat.read(str(path), as_version=4)
    generated = [c for c in nb.cells if is_instructor_note(c) and c.metadata.get("course", {}).get("generated")]
    assert {c.metadata["course"]["exercise"] for c in generated} == set(instructor.mistakes(path.stem))
    for cell in generated:
        exercise = cell.metadata["course"]["exercise"]
        before = nb.cells[nb.cells.index(cell) - 1].metadata.get("nbgrader", {}).get("grade_id")
        assert before in (exercise, f"{exercise}_test"), f"{path.name}: the {exercise} note follows its test cell"


def test_a_changed_hint_makes_the_notes_stale(tmp_path, monkeypatch):
    path = ROOT / "solutions" / "02_autoencoders.ipynb"
    real = instructor.mistakes("02_autoencoders")
    monkeypatch.setattr(instructor, "mistakes", lambda nb: {k: v[:-1] + ["a new hint"] for k, v in real.items()})
    assert instructor.refresh(path, write=False) is True


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_no_instructor_note_reaches_the_student_notebook(path):
    solution = nbformat.read(str(path), as_version=4)
    lines = {line.strip() for c in solution.cells if is_instructor_note(c)
             and not c.metadata.get("course", {}).get("generated") for line in c.source.split("\n")
             if len(line.strip()) >= 12}
    for nb in (student_notebook(solution), nbformat.read(str(ROOT / "notebooks" / path.name), as_version=4)):
        assert not any(is_instructor_note(c) for c in nb.cells)
        text = {line.strip() for c in nb.cells for line in c.source.split("\n")}
        assert not lines & text, f"{path.name}: instructor lines in the student version: {sorted(lines & text)[:2]}"
    # a submission built from the solution lines up with the student version, notes or not
    full = answered(solution)
    assert len(full.cells) == len(student_notebook(solution).cells)


def test_a_tagged_cell_is_removed_whatever_it_says(tmp_path: Path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# title"),
                                         nbformat.v4.new_markdown_cell("Secret: the answer is 42, for instructors")])
    nb.cells[1].metadata["tags"] = [INSTRUCTOR_TAG]
    out = student_notebook(nb)
    assert [c.source for c in out.cells] == ["# title"]
