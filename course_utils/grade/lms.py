"""The gradebook in Canvas's or Moodle's import format: ``DIR/gradebook-canvas.csv`` or ``DIR/gradebook-moodle.csv``,
written from ``DIR/gradebook.csv`` by ``--lms canvas|moodle`` (``./course grade-batch``, ``./course written-import``).

**What it reads** of ``DIR/gradebook.csv`` (:class:`csv.DictReader`, a row per student and assignment): only
``student``, ``assignment``, the score and its maximum. The score is ``grand_total`` where the row has that column
and it is not empty (autograded and written points together), else ``total``; the maximum likewise ``grand_max``,
else ``max``. Each assignment is one LMS column; its points possible are the largest maximum among its rows. A
student without a row for an assignment gets an empty cell there (no grade from this batch).

**The roster** (``--roster FILE``) gives each student the identifier the LMS finds users by. A CSV file (UTF-8,
with a header row; header names are matched ignoring case, spaces as underscores): ``student``, the course's ID of
the student exactly as in ``gradebook.csv``, and

- Canvas: any of ``id`` (Canvas's numeric user ID), ``sis_user_id``, ``sis_login_id``, and ``name``, ``section``
  (what Canvas's own gradebook export holds in its columns Student, ID, SIS User ID, SIS Login ID, Section);
- Moodle: ``email``, ``idnumber`` or ``username`` (the file uses the first of these the roster has).

A roster without ``student`` or without an identifier column, with a student twice, or with one identifier for two
students, is refused with what to fix, and nothing is written. Without a roster, Moodle's file uses a student's ID
as the e-mail address where it is one (Gradescope's exports give the e-mail when a submitter has no SID).

**Canvas** (Grades, Import) reads the layout of its own gradebook export: a header ``Student, ID, SIS User ID,
SIS Login ID, Section`` then one column per assignment, a second row ``Points Possible``, then a row per student.
It finds a student by ID, else SIS User ID, else SIS Login ID, else by name. It finds an assignment column by the
id in ``Title (id)``, else by its exact title; the import page lists what it cannot find, and there the instructor
picks an existing student or assignment, makes a new assignment (with the Points Possible row's points) or
ignores it. An assignment's column is its name (``01_jensen_elbo``) unless ``--lms-assignment 01="Notebook 1
(4821)"`` names it as Canvas's export does: export the gradebook from Canvas once and copy the column's title (the
id is also in the assignment's address, ``.../assignments/4821``). Canvas skips columns whose title holds Current
Score, Final Grade and the like, so such a title is refused.

**Moodle** (Grades, Import, CSV file) takes any header: on its preview page the instructor picks the column that
identifies users ("Map from") and what it holds ("Map to": Email address, ID number or Username), and for each
other column a grade item, "New grade item" or "Ignore". The file has that identifier column, headed as Moodle's
export and its "Map to" list name it (``Email address``, ``ID number``, ``Username``), then a column per
assignment. Moodle has no points row: a new grade item's maximum grade is Moodle's (100 unless changed).

**Students without an identifier** are never dropped silently: :func:`write_lms` returns them and the commands
print them with what to do. Canvas's file keeps their row (Student column only), for Canvas to match by name or
ask; Moodle's leaves them out, because Moodle stops the whole import at a row whose user it cannot find (and takes
a row with an empty identifier for the user of the row before it).

Every cell goes through :func:`.cells.csv_cell` (no formulas); the same gradebook gives the same bytes; the file
is replaced atomically.

Sources (formats checked against these, not guessed):

- Canvas's importer and exporter, https://github.com/instructure/canvas-lms: ``app/models/gradebook_importer.rb``
  (the header it accepts: Student, ID, [SIS User ID, SIS Login ID], Section; ``Points Possible``; how students and
  assignments are found; the columns it skips), ``lib/gradebook_exporter.rb`` (the export's columns), and
  ``ui/features/gradebook_uploads/jquery/`` (the import page: unknown students and assignments to resolve, new
  assignments made with the title and points possible);
- https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades
  (a university's guide to Canvas's import: the required columns; new columns make new assignments);
- https://docs.moodle.org/311/en/Grade_import (Moodle's CSV grade import: Map from, Map to, the column mappings);
- Moodle's code, https://github.com/moodle/moodle: ``grade/import/grade_import_form.php`` (the "Map to" choices:
  User ID, Username, ID number, Email address), ``grade/import/csv/classes/load_data.php`` (a row's user must be
  found, else the import stops; a row with an empty identifier keeps the user of the row before it),
  ``lang/en/grades.php`` (the labels).
"""

from __future__ import annotations

import csv
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .. import syllabus
from ..options import LMS_SYSTEMS
from ..paths import atomic_write_bytes
from .cells import csv_cell

SYSTEMS = LMS_SYSTEMS
CANVAS_HEADER = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS = "    Points Possible"  # the second row of Canvas's export; its importer looks for "Points Possible"
CANVAS_IDS = ("id", "sis_user_id", "sis_login_id")  # what Canvas finds a student by, in its order (then the name)
CANVAS_ROSTER = ("name", *CANVAS_IDS, "section")
# Canvas's importer: student columns (GRADEBOOK_IMPORTER_RESERVED_NAMES) and totals it never reads as assignments
# (NON_ASSIGNMENT_COLUMN_HEADERS, matched anywhere in a title, also after "Unposted")
CANVAS_RESERVED = ("Student", "LastName", "FirstName", "ID", "SIS User ID", "SIS Login ID", "Section",
                   "Integration ID", "Root Account")
CANVAS_NOT_ASSIGNMENTS = ("Current Score", "Current Points", "Current Grade", "Final Score", "Final Points",
                          "Final Grade", "Override Score", "Override Grade", "Override Status", "Points Possible")
MOODLE_IDS = {"email": "Email address", "idnumber": "ID number", "username": "Username"}  # Moodle's labels
ROSTER_IDS = {"canvas": CANVAS_IDS, "moodle": tuple(MOODLE_IDS)}
ROSTER_COLUMNS = {"canvas": CANVAS_ROSTER, "moodle": tuple(MOODLE_IDS)}
EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[A-Za-z0-9-]+")


class LmsError(ValueError):
    """The LMS file cannot be written: the message says what to fix."""


@dataclass
class Roster:
    """Each student's identifiers, by the course's ID: ``records[student][column]``."""

    path: str
    system: str
    records: dict[str, dict[str, str]] = field(default_factory=dict)
    columns: tuple[str, ...] = ()  # the identifier columns the file has, in the order the LMS prefers them


def lms_path(out_dir, system: str) -> Path:
    return Path(out_dir) / f"gradebook-{system}.csv"


def _system(system: str) -> str:
    if system not in SYSTEMS:
        raise LmsError(f"unknown LMS {system!r}: use one of {', '.join(SYSTEMS)}")
    return system


def roster_help(system: str) -> str:
    """The roster's columns, for messages."""
    if system == "canvas":
        return ("columns student (as in gradebook.csv) and any of id, sis_user_id, sis_login_id, with name and section "
                "(copy them from Canvas's gradebook export: ID, SIS User ID, SIS Login ID, Student, Section)")
    return "columns student (as in gradebook.csv) and email (or idnumber, or username: Moodle's ID number, Username)"


def _key(header: str) -> str:
    return re.sub(r"[\s-]+", "_", str(header).strip().lower())


def read_roster(path, system: str) -> Roster:
    """The roster at ``path`` for ``system``; :class:`LmsError` where it cannot be used as it is."""
    _system(system)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError:
        raise LmsError(f"the roster {path} is not UTF-8 text: save it as CSV (UTF-8)") from None
    except OSError as e:
        raise LmsError(f"cannot read the roster {path}: {e.strerror or e}") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise LmsError(f"the roster {path} is empty: it needs a header row and a row per student, with "
                       f"{roster_help(system)}")
    keys = [_key(h) for h in header]
    twice = sorted({k for k in keys if k and keys.count(k) > 1})
    if twice:
        raise LmsError(f"the roster {path} has the column {', '.join(twice)} twice: keep one")
    if "student" not in keys:
        raise LmsError(f"the roster {path} has no column 'student' (its columns: {', '.join(header)}); it needs "
                       f"{roster_help(system)}")
    columns = tuple(k for k in ROSTER_IDS[system] if k in keys)
    if not columns:
        raise LmsError(f"the roster {path} has none of the columns {system.capitalize()} finds students by "
                       f"({', '.join(ROSTER_IDS[system])}); it needs {roster_help(system)}")
    wanted = ("student", *ROSTER_COLUMNS[system])
    roster = Roster(str(path), system, {}, columns)
    first: dict[str, int] = {}
    owner: dict[tuple[str, str], tuple[str, int]] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(keys):
            raise LmsError(f"the roster {path}, line {line}: {len(cells)} cells under {len(keys)} columns (a comma "
                           "inside a name needs quotes)")
        record = {k: cells[i].strip() if i < len(cells) else "" for i, k in enumerate(keys) if k in wanted}
        student = record["student"]
        if not student:
            raise LmsError(f"the roster {path}, line {line}: no student (the course's ID, as in gradebook.csv)")
        if student in first:
            raise LmsError(f"the roster {path}, line {line}: student {student} again (also line {first[student]}): "
                           "one row per student")
        if system == "canvas" and record.get("id") and not record["id"].isdigit():
            raise LmsError(f"the roster {path}, line {line}: id {record['id']!r} is not a Canvas user ID (a number, "
                           "the ID column of Canvas's export); an ID of your school goes in sis_user_id")
        for column in columns:
            value = record.get(column, "")
            if value and (column, value.lower()) in owner:
                other, at = owner[(column, value.lower())]
                raise LmsError(f"the roster {path}, line {line}: {column} {value!r} is {other}'s too (line {at}): "
                               "two students cannot share it")
            if value:
                owner[(column, value.lower())] = (student, line)
        first[student] = line
        roster.records[student] = record
    return roster


def read_gradebook(out_dir) -> list[dict]:
    """The rows of ``out_dir/gradebook.csv``, as :class:`csv.DictReader` gives them."""
    path = Path(out_dir) / "gradebook.csv"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LmsError(f"no {path}: grade the class into {out_dir} first (./course grade-batch SUBMISSIONS --out "
                       f"{out_dir})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise LmsError(f"cannot read {path}: {e}") from None
    reader = csv.DictReader(io.StringIO(text))
    lacking = sorted({"student", "assignment", "total", "max"} - set(reader.fieldnames or ()))
    if lacking:
        raise LmsError(f"{path} has no column {', '.join(lacking)}: not a gradebook.csv of ./course grade-batch")
    return list(reader)


def _value(row: dict, preferred: str, fallback: str) -> str:
    value = (row.get(preferred) or "").strip()
    return value if value else (row.get(fallback) or "").strip()


def _number(text: str, where: str) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise LmsError(f"{where}: {text!r} is not a number") from None


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def _grades(rows: list[dict]) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    """(student, assignment) -> (score, maximum), by the rule of the module's docstring."""
    out: dict[tuple[str, str], tuple[float | None, float | None]] = {}
    for line, row in enumerate(rows, start=2):
        student, assignment = (row.get("student") or "").strip(), (row.get("assignment") or "").strip()
        where = f"gradebook.csv, line {line}"
        if not student or not assignment:
            raise LmsError(f"{where}: no student or no assignment")
        if (student, assignment) in out:
            raise LmsError(f"{where}: {student} has a second row for {assignment}")
        out[(student, assignment)] = (_number(_value(row, "grand_total", "total"), where),
                                      _number(_value(row, "grand_max", "max"), where))
    return out


def parse_titles(items) -> dict[str, str]:
    """``["01=Notebook 1 (4821)", ...]`` (``--lms-assignment``) to ``{"01": "Notebook 1 (4821)"}``."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, title = str(item).partition("=")
        key, title = key.strip(), title.strip()
        if not sep or not key or not title:
            raise LmsError(f"--lms-assignment {item!r}: write NN=TITLE, e.g. 01='Notebook 1 (4821)'")
        if key in out:
            raise LmsError(f"--lms-assignment {key}=... is given twice")
        out[key] = title
    return out


def _titles(system: str, assignments: list[str], given: dict[str, str] | None) -> dict[str, str]:
    """Each assignment's column title: its name, or what ``given`` says for it (``01`` or ``01_jensen_elbo``)."""
    out = {a: a for a in assignments}
    for key, title in (given or {}).items():
        notebook = syllabus.get(key, None)
        found = [a for a in assignments if a == key or (notebook and a == notebook.name)]
        if len(found) != 1:
            raise LmsError(f"--lms-assignment {key}={title}: gradebook.csv has {'no' if not found else 'more than one'}"
                           f" assignment {key} (it has: {', '.join(assignments) or 'none'})")
        out[found[0]] = title
    used: dict[str, str] = {}
    for a, title in out.items():
        if title in used:
            raise LmsError(f"{a} and {used[title]} would both be the column {title!r}: give them different titles "
                           "(--lms-assignment)")
        used[title] = a
        if system == "canvas" and (title in CANVAS_RESERVED or any(n in title for n in CANVAS_NOT_ASSIGNMENTS)):
            raise LmsError(f"the column {title!r} of {a}: Canvas reads that title as one of its own columns, not as "
                           "an assignment; choose another (--lms-assignment)")
    return out


@dataclass
class LmsFile:
    text: str
    missing: list[str]  # students without the identifier the LMS needs
    students: int
    points: dict[str, float | None]  # column title -> points possible
    identifier: str = ""  # Moodle: the identifier column's label


def _build(system: str, rows: list[dict], roster: Roster | None, titles: dict[str, str] | None) -> LmsFile:
    _system(system)
    if roster is not None and roster.system != system:
        raise LmsError(f"the roster {roster.path} was read for {roster.system}, not {system}")
    grades = _grades(rows)
    assignments = sorted({a for _, a in grades})
    students = sorted({s for s, _ in grades})
    columns = _titles(system, assignments, titles)
    points = {columns[a]: max((m for (_, b), (_, m) in grades.items() if b == a and m is not None), default=None)
              for a in assignments}
    records = roster.records if roster else {}
    missing: list[str] = []
    table: list[list[str]] = []
    if system == "canvas":
        table.append([*CANVAS_HEADER, *(columns[a] for a in assignments)])
        table.append([CANVAS_POINTS, "", "", "", "", *(_fmt(points[columns[a]]) for a in assignments)])
        for s in students:
            rec = records.get(s, {})
            ids = [rec.get(k, "") for k in CANVAS_IDS]
            if not any(ids):
                missing.append(s)  # kept: Canvas matches the name, else asks on its import page
            table.append([rec.get("name") or s, *ids, rec.get("section", ""),
                          *(_fmt(grades.get((s, a), (None, None))[0]) for a in assignments)])
    else:
        column = roster.columns[0] if roster else "email"
        table.append([MOODLE_IDS[column], *(columns[a] for a in assignments)])
        seen: dict[str, str] = {}
        for s in students:
            value = records.get(s, {}).get(column, "")
            if not value and column == "email" and EMAIL.fullmatch(s):
                value = s
            if not value:
                missing.append(s)  # left out: Moodle stops the import at a row it cannot match
                continue
            if value.lower() in seen:
                raise LmsError(f"{s} and {seen[value.lower()]} would both be {MOODLE_IDS[column]} {value!r} in "
                               "Moodle's file: fix the roster")
            seen[value.lower()] = s
            table.append([value, *(_fmt(grades.get((s, a), (None, None))[0]) for a in assignments)])
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in table:
        writer.writerow([csv_cell(c) for c in row])
    return LmsFile(buf.getvalue(), missing, len(students), points,
                   MOODLE_IDS[roster.columns[0] if roster else "email"] if system == "moodle" else "")


def canvas_csv(rows: list[dict], roster: Roster | None = None, titles: dict[str, str] | None = None
               ) -> tuple[str, list[str]]:
    """Canvas's gradebook import file of these gradebook rows, and the students without a Canvas ID, SIS User ID
    or SIS Login ID (their row is in the file, under their name)."""
    built = _build("canvas", rows, roster, titles)
    return built.text, built.missing


def moodle_csv(rows: list[dict], roster: Roster | None = None, titles: dict[str, str] | None = None
               ) -> tuple[str, list[str]]:
    """Moodle's CSV grade import file of these gradebook rows, and the students without the roster's identifier
    (not in the file: Moodle cannot import their row)."""
    built = _build("moodle", rows, roster, titles)
    return built.text, built.missing


def _write(out_dir, system: str, roster=None, titles: dict[str, str] | None = None) -> tuple[Path, LmsFile]:
    _system(system)
    if roster is not None and not isinstance(roster, Roster):
        roster = read_roster(roster, system)
    built = _build(system, read_gradebook(out_dir), roster, titles)
    path = lms_path(out_dir, system)
    atomic_write_bytes(path, built.text.encode("utf-8"))
    return path, built


def write_lms(out_dir, system: str, roster=None, titles: dict[str, str] | None = None) -> tuple[Path, list[str]]:
    """Write ``out_dir/gradebook-<system>.csv`` from ``out_dir/gradebook.csv`` and the roster (a path or a
    :class:`Roster`, optional); ``titles``: the LMS column of an assignment (``{"01": "Notebook 1 (4821)"}``).
    Returns the file and the students without the identifier the LMS needs, for the caller to report. Raises
    :class:`LmsError` (and writes nothing) where the input cannot be used."""
    path, built = _write(out_dir, system, roster, titles)
    return path, built.missing


def missing_message(system: str, missing: list[str], path, roster=None, identifier: str = "Email address") -> str:
    """What to tell the instructor about students without an identifier, and what to do (``identifier``: the
    Moodle file's identifier column)."""
    if not missing:
        return ""
    names = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
    where = f"the roster file {roster}" if roster else "a roster file (--roster FILE)"
    if system == "canvas":
        return (f"{len(missing)} student(s) have no Canvas ID, SIS User ID or SIS Login ID: {names}. Their rows in "
                f"{path} have their name only: Canvas matches them by name if it can, else its import page asks you "
                f"to pick each one. To match them by ID, add them to {where} with {roster_help(system)}, and run "
                "the command again.")
    return (f"{len(missing)} student(s) have no {identifier} for Moodle: {names}. They are NOT in {path} (Moodle "
            f"stops an import at a row it cannot match): add them to {where} with {roster_help(system)}, and run "
            "the command again.")


def check_options(system: str | None, roster=None, assignment_titles=()) -> None:
    """Refuse ``--roster`` or ``--lms-assignment`` without ``--lms``, and a roster that cannot be used, before any
    grading starts."""
    if not system:
        if roster or assignment_titles:
            raise LmsError("--roster and --lms-assignment go with --lms canvas|moodle")
        return
    _system(system)
    parse_titles(assignment_titles)
    if roster:
        read_roster(roster, system)


def export(out_dir, system: str, roster=None, assignment_titles=(), log=print, err=None) -> int:
    """What ``--lms`` does after a command has written ``out_dir/gradebook.csv``: write the LMS file, say where it
    is, and report the students without an identifier. Returns the exit status (2: nothing written)."""
    err = err or sys.stderr
    try:
        path, built = _write(out_dir, system, roster, parse_titles(assignment_titles))
    except LmsError as e:
        print(f"--lms {system}: {e}", file=err)
        return 2
    points = ", ".join(f"{t} ({_fmt(p) or '?'} points)" for t, p in built.points.items())
    log(f"wrote {path}: {built.students - (len(built.missing) if system == 'moodle' else 0)} of {built.students} "
        f"students; columns {points or 'none'} (docs/tas.md, 'Uploading to Canvas or Moodle')")
    if built.missing:
        print(missing_message(system, built.missing, path, roster, built.identifier), file=err)
    return 0


__all__ = ["SYSTEMS", "LmsError", "Roster", "read_roster", "read_gradebook", "parse_titles", "canvas_csv",
           "moodle_csv", "write_lms", "missing_message", "check_options", "export", "lms_path"]
