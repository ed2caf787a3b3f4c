"""Instructor notes: cells of the solution notebooks that students never get.

A cell tagged ``instructor`` (:data:`course_utils.nbcode.INSTRUCTOR_TAG`; JupyterLab: the property inspector's
tags) is an instructor note. ``./course generate`` leaves it out of ``notebooks/``, and so out of the student
bundle and the student site; the leak tests look for its lines there (``grading/bundles.py``). nbgrader users
remove them in ``generate_assignment`` with nbconvert's ``TagRemovePreprocessor`` (docs/tas.md, "nbgrader"). The
instructor site shows them, and a deck shows them as speaker notes.

Two kinds:

- **written by hand**, at the end of each notebook: the answers to the open questions, and where the slides are
  loose;
- **generated**, after each exercise's test cell: the usual mistakes, read from the check cases' table of typical
  mistakes (``course_utils/stored_values/NN_*.cases.json``, written by ``tools/make_stored.py``), which the check
  recognises and answers with a hint. ``python -m course_utils.instructor`` writes them, ``--check`` says where
  they are stale (a test runs it), so they cannot drift from the checks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .assign import solution_paths
from .nbcode import INSTRUCTOR_TAG, is_generated_note
from .stored import cases_path, load_cases

GENERATED = "mistakes"  # metadata course.generated of a generated note (nbcode.is_generated_note)


def mistakes(notebook: str) -> dict[str, list[str]]:
    """``{exercise: [hint, ...]}``: the distinct hints of every stored case's typical mistakes, in order."""
    table = load_cases(notebook)
    out: dict[str, list[str]] = {}
    for exercise, entry in table.items():
        hints: list[str] = []
        for case in entry.get("cases", []):
            for m in case.get("mistakes", []):
                if m.get("hint") and m["hint"] not in hints:
                    hints.append(m["hint"])
        if hints:
            out[exercise] = hints
    return out


def mistakes_text(notebook: str, exercise: str, hints: list[str]) -> str:
    lines = [f"**Instructor note: the usual mistakes in `{exercise}`.** The check recognises each of these (its",
             "stored cases hold their outputs) and prints the hint below; the first ones are the most common.",
             "",
             *[f"- {h}" for h in hints],
             "",
             f"*Generated from `course_utils/stored_values/{notebook}.cases.json` by "
             "`python -m course_utils.instructor`; do not edit.*"]
    return "\n".join(lines)


def _anchor(nb, exercise: str) -> int | None:
    """The index of the exercise's test cell (``grade_id`` ``<exercise>_test``), else of its solution cell."""
    found = None
    for i, cell in enumerate(nb.cells):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id == f"{exercise}_test":
            return i
        if grade_id == exercise:
            found = i
    return found


def with_mistakes(nb, notebook: str):
    """``nb`` with one generated note after each exercise that has stored mistakes (earlier ones replaced)."""
    import nbformat

    nb = nbformat.from_dict(nb)
    nb.cells = [c for c in nb.cells if not is_generated_note(c)]
    for exercise, hints in mistakes(notebook).items():
        at = _anchor(nb, exercise)
        if at is None:
            raise ValueError(f"{notebook}: the stored cases name an exercise {exercise!r} that no cell grades")
        cell = nbformat.v4.new_markdown_cell(mistakes_text(notebook, exercise, hints))
        cell.id = f"instructor-{exercise}".replace("_", "-")[:64]
        cell.metadata = {"tags": [INSTRUCTOR_TAG], "course": {"generated": GENERATED, "exercise": exercise},
                         "slideshow": {"slide_type": "skip"}}
        nb.cells.insert(at + 1, cell)
    return nb


def refresh(path: Path, write: bool = True) -> bool:
    """Bring the generated notes of solution notebook ``path`` up to date; True when they were stale."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    new = with_mistakes(nb, path.stem)
    stale = new.cells != nb.cells
    if stale and write:
        nbformat.write(new, str(path))
    return stale


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m course_utils.instructor", description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="only say which notebooks are stale (exit status 1)")
    args = ap.parse_args(argv)
    stale = []
    for path in solution_paths():
        if not cases_path(path.stem).exists():  # 06 has no exercises of its own
            continue
        if refresh(path, write=not args.check):
            stale.append(path.name)
    if args.check and stale:
        print("instructor notes stale in " + ", ".join(stale) + ": run python -m course_utils.instructor, then "
              "./course generate")
        return 1
    print(f"instructor notes: {'stale' if args.check else 'updated'}: {', '.join(stale) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
