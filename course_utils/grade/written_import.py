"""The written answers' points back into a graded batch: ``./course written-import CSV [CSV ...] --out DIR``.

``./course written NN`` gives a TA one page per written question; its "Download scores (CSV)" writes
``student,question,points,comment``. This reads those files (one TA's or several TAs', one question each or any
mix) and puts each student's points and comment into the batch's output folder ``DIR`` (``./course grade-batch
... --out DIR``):

- ``DIR/<student>/results.json`` (the written question graded: its points, the comment; the score counts it) and
  ``DIR/<student>/feedback.html`` (the points and the comment, for the student);
- ``DIR/gradebook.csv``: each question's column gets its points, ``written`` the sum, ``grand_total`` the
  autograded total plus it (:meth:`.results.Results.gradebook_header`);
- with ``--lms canvas|moodle`` (and ``--roster``, ``--lms-assignment``), the LMS's file as ``grade-batch`` writes
  it, now with the written points in its totals (:mod:`.lms`).

**Merging.** Rows of every file are merged by (student, question). The same points twice is no conflict (their
different comments are kept, one after the other). Two different points for the same student and question are a
conflict: the import lists each, with both values and their files, and stops, unless ``--prefer FILE`` names
whose rows win (given more than once: the first named wins).

**Safe.** Everything is checked before anything is written: an unknown student or question, points that are not a
number or lie outside [0, the question's points], a file that is not the pages' CSV are each a clear error, and
then nothing changes. A row without points (an answer not graded yet) is left as it is and counted. The import is
idempotent: the same files again write the same bytes. Importing a corrected file later changes what it names and
lists each change; rows it does not name keep what an earlier import gave them.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from ..paths import atomic_write_bytes
from .cells import cell_text
from .results import WRITTEN, Results, ResultsError

COLUMNS = ("student", "question", "points", "comment")


class WrittenImportError(ValueError):
    """Bad input (a file that is not the pages' CSV, an unknown student, points out of range, a conflict); the
    message says what to do. Nothing was written."""


@dataclass(frozen=True)
class Mark:
    student: str
    question: str
    points: float | None  # None: no points yet
    comment: str
    source: str  # "file.csv, line 3"


def read_marks(path: Path) -> list[Mark]:
    """The rows of one downloaded CSV."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise WrittenImportError(f"{path}: cannot be read ({e}). Pass the CSV files the written pages' "
                                 "'Download scores (CSV)' button saved.") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(c.strip().lower() for c in rows[0][:4]) != COLUMNS:
        raise WrittenImportError(f"{path}: its first line is not '{','.join(COLUMNS)}': is it a file the written "
                                 "pages' 'Download scores (CSV)' button saved (a spreadsheet may have changed its "
                                 "columns)?")
    marks = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        row = (row + [""] * 4)[:4]
        student, question, points, comment = (cell_text(c) for c in row)
        where = f"{path.name}, line {n}"
        if not student.strip() or not question.strip():
            raise WrittenImportError(f"{where}: a row without a student or a question. Fix the file or download "
                                     "it again from the page.")
        value = None
        if points.strip():
            try:
                value = float(points.strip().replace(",", "."))
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise WrittenImportError(f"{where}: points {points!r} for {student} are not a number. Correct it in "
                                         "the page and download the CSV again.")
        marks.append(Mark(student.strip(), question.strip(), value, comment.strip(), where))
    return marks


def merge(files: list[list[Mark]], prefer: list[int] = ()) -> tuple[dict[tuple[str, str], Mark], list[str]]:
    """One mark per (student, question), and the conflicts (different points, neither file preferred). ``prefer``:
    indices of ``files`` whose rows win, first first."""
    rank = {i: k for k, i in enumerate(prefer)}
    merged: dict[tuple[str, str], tuple[int, Mark]] = {}
    conflicts: list[str] = []
    for i, marks in enumerate(files):
        for m in marks:
            key = (m.student, m.question)
            if key not in merged:
                merged[key] = (i, m)
                continue
            j, old = merged[key]
            if m.points is None or old.points == m.points or old.points is None:  # no conflict: the comments add up
                keep = (j, old) if old.points is not None or m.points is None else (i, m)
                comment = old.comment
                if m.comment and m.comment not in comment:
                    comment = f"{comment}\n{m.comment}" if comment else m.comment
                merged[key] = (keep[0], Mark(m.student, m.question, keep[1].points, comment, keep[1].source))
            elif i in rank or j in rank:
                win = (i, m) if rank.get(i, len(rank)) < rank.get(j, len(rank)) else (j, old)
                merged[key] = win
            else:
                conflicts.append(f"{m.student}, {m.question}: {old.points:g} ({old.source}) and {m.points:g} "
                                 f"({m.source})")
    return {k: m for k, (_, m) in merged.items()}, conflicts


def _students(out: Path) -> dict[str, dict]:
    """The graded students of the batch folder ``out``: their done.json."""
    found = {}
    for done in sorted(out.glob("*/done.json")):
        try:
            found[done.parent.name] = json.loads(done.read_text())
        except (OSError, ValueError):
            continue
    return found


def import_written(csvs: list[Path], out: Path, prefer: list[Path] = (), solutions_dir: Path | None = None,
                   log=print) -> dict:
    """Import the marks of ``csvs`` into the batch folder ``out``; returns what was done (counts, changes). Raises
    :class:`WrittenImportError` (nothing written) on bad input."""
    from .batch import gradebook
    from .core import SOLUTIONS_DIR

    out = Path(out)
    if not (out / "gradebook.csv").is_file():
        raise WrittenImportError(f"{out} is not a graded batch (it has no gradebook.csv): pass the folder that "
                                 "'./course grade-batch SUBMISSIONS --out DIR' wrote.")
    paths = [Path(p) for p in csvs]
    prefer = [Path(p) for p in prefer]
    for p in prefer:
        if p.resolve() not in {q.resolve() for q in paths}:
            raise WrittenImportError(f"--prefer {p}: not one of the files to import ({', '.join(map(str, paths))})")
    order = [next(i for i, q in enumerate(paths) if q.resolve() == p.resolve()) for p in prefer]
    marks, conflicts = merge([read_marks(p) for p in paths], order)
    if conflicts:
        raise WrittenImportError(f"{len(conflicts)} conflicting scores (the same student and question, different "
                                 "points):\n" + "\n".join(f"  {c}" for c in conflicts)
                                 + "\nAgree on them and correct one file, or pass --prefer FILE to say whose scores "
                                 "win.")
    students = _students(out)
    results: dict[str, Results] = {}
    problems, skipped = [], 0
    grades: dict[str, dict[str, tuple[float, str]]] = {}
    for (student, question), m in sorted(marks.items()):
        if m.points is None:  # nothing to import (not graded yet, or a notebook the pages could not show)
            skipped += 1
            continue
        if student not in students:
            problems.append(f"{m.source}: student {student!r} is not in {out} (graded there: "
                            f"{', '.join(list(students)[:8]) or 'nobody'}{' ...' if len(students) > 8 else ''})")
            continue
        if student not in results:
            try:
                results[student] = Results.read(out / student / "results.json")
            except (OSError, ValueError, ResultsError) as e:
                problems.append(f"{student}: {out / student / 'results.json'} cannot be read ({e})")
                continue
        written = {o.exercise: o for o in results[student].outcomes() if o.kind == WRITTEN}
        if question not in written:
            problems.append(f"{m.source}: {question!r} is not a written question of {students[student]['assignment']}"
                            f" (its questions: {', '.join(written) or 'none'})")
            continue
        worth = written[question].max_points
        if not 0 <= m.points <= worth:
            problems.append(f"{m.source}: {m.points:g} points for {student}, {question}: outside 0 to {worth:g}")
            continue
        grades.setdefault(student, {})[question] = (m.points, m.comment)
    if problems:
        raise WrittenImportError(f"{len(problems)} problems, nothing was imported:\n"
                                 + "\n".join(f"  {p}" for p in problems[:30])
                                 + (f"\n  ... and {len(problems) - 30} more" if len(problems) > 30 else ""))
    changes, staged = [], {}
    for student, given in grades.items():
        before = {o.exercise: o for o in results[student].outcomes() if o.kind == WRITTEN}
        for q, (points, _) in given.items():
            if before[q].state == "graded" and before[q].points != points:
                changes.append(f"{student}, {q}: {before[q].points:g} -> {points:g}")
        new = results[student].with_written(given)
        done = students[student]
        staged[student] = (new.gradescope(), new.feedback_html(student, done["assignment"]), done, new["score"])
    for student, (doc, page, done, score) in staged.items():  # everything is checked: now write
        atomic_write_bytes(out / student / "results.json", (json.dumps(doc, indent=2) + "\n").encode())
        atomic_write_bytes(out / student / "feedback.html", page.encode())
        atomic_write_bytes(out / student / "done.json", json.dumps({**done, "score": score}, indent=2).encode())
    book = gradebook(out, list(students.values()), Path(solutions_dir or SOLUTIONS_DIR))
    n = sum(len(g) for g in grades.values())
    log(f"imported {n} written scores for {len(grades)} students from {len(paths)} file(s) into {out}"
        + (f"; {skipped} answers without points yet, left as they were" if skipped else ""))
    for c in changes:
        log(f"  changed: {c}")
    log(f"wrote {book}")
    return {"imported": n, "students": len(grades), "skipped": skipped, "changes": changes, "gradebook": book}


def main(argv=None) -> int:
    from ..options import add_lms, add_solutions
    from . import lms

    ap = argparse.ArgumentParser(prog="course written-import", description=__doc__.split("\n\n")[0])
    ap.add_argument("csv", nargs="+", type=Path, help="the CSV files the written pages' 'Download scores (CSV)' saved")
    ap.add_argument("--out", required=True, type=Path, help="the batch's output folder (grade-batch --out DIR)")
    ap.add_argument("--prefer", action="append", default=[], type=Path, metavar="FILE",
                    help="in a conflict, the scores of FILE win (again for more; the first named wins)")
    add_solutions(ap)
    add_lms(ap)
    a = ap.parse_args(argv)
    try:
        lms.check_options(a.lms, a.roster, a.lms_assignment)  # before anything is imported
        import_written(a.csv, a.out, a.prefer, a.solutions)
    except (WrittenImportError, lms.LmsError) as e:
        print(f"written-import: {e}", file=sys.stderr)
        return 2
    return lms.export(a.out, a.lms, a.roster, a.lms_assignment) if a.lms else 0


__all__ = ["WrittenImportError", "Mark", "read_marks", "merge", "import_written", "main"]
