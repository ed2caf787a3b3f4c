"""The gradebook for Canvas and Moodle (course_utils.grade.lms): each file read back the way the LMS's own import
reads it, against a sample of the LMS's own export; the roster; students without an identifier reported and not
dropped; formulas escaped; several assignments; the same bytes twice; bad input refused with nothing written."""

import csv
import io
import re

import pytest

from course_utils.grade import batch, lms

# Canvas's gradebook export, as lib/gradebook_exporter.rb (instructure/canvas-lms) writes it with SIS ids shown: the
# student columns, an assignment per column titled "Title (id)", the totals, then the "Points Possible" row, which
# its importer (app/models/gradebook_importer.rb) reads back
CANVAS_EXPORT = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Essay 1 (101),Quiz 1 (102),Current Score,Final Score\r\n"
    "    Points Possible,,,,,10.00,5.00,(read only),(read only)\r\n"
    '"Quill, Pat",1001,U1,pquill,01,,4.00,80.00,40.00\r\n'
)
# Moodle's CSV grade export (grade/export/txt): the user's profile fields, then "<item> (Real)" per grade item; its
# import's "Map to" list (grade/import/grade_import_form.php) names the identifiers as these profile columns do
MOODLE_EXPORT = ("First name,Last name,ID number,Institution,Department,Email address,Essay 1 (Real),"
                 "Last downloaded from this course\r\n"
                 "Pat,Quill,U1,,,pat@uni.edu,4.00,1767225600\r\n")
MOODLE_MAP_TO = ("User ID", "Username", "ID number", "Email address")  # lang/en: grades userid, moodle username...

# gradebook_importer.rb: NON_ASSIGNMENT_COLUMN_HEADERS, never read as assignments
CANVAS_TOTALS = re.compile("Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|"
                           "Override Score|Override Grade|Override Status")


def canvas_reads(text: str) -> dict:
    """What Canvas's importer (gradebook_importer.rb, header? / update_column_count / process_student) takes from a
    file: the assignments, their points possible, and per student the name, ID, SIS ids and grades."""
    rows = list(csv.reader(io.StringIO(text)))
    head = rows[0]
    assert len(head) > 3 and "Student" in head[0] and "ID" in head[1], "Canvas: Invalid header row"
    n, sis = 3, False
    if re.search(r"SIS\s+Login\s+ID", head[2]):
        n = 4
    elif re.search(r"SIS\s+User\s+ID", head[2]) and re.search(r"SIS\s+Login\s+ID", head[3]):
        n, sis = 5, True
    assert "Section" in head[n - 1], "Canvas: Invalid header row (the last student column must be Section)"
    assignments = [(i, t) for i, t in enumerate(head) if i >= n and not CANVAS_TOTALS.search(t)]
    out = {"assignments": [t for _, t in assignments], "points": {}, "students": []}
    for row in rows[1:]:
        if "Points Possible" in row[0]:
            out["points"] = {t: row[i] for i, t in assignments}
            continue
        out["students"].append({"name": row[0], "id": row[1], "sis_user_id": row[2] if sis else "",
                                "sis_login_id": row[3] if sis else (row[2] if n == 4 else ""),
                                "grades": {t: row[i] for i, t in assignments}})
    return out


def moodle_reads(text: str, map_from: str, ignore=()) -> dict:
    """What Moodle's CSV import (grade/import/csv/classes/load_data.php) does with a file once "Map from" is the
    column ``map_from`` and the columns ``ignore`` are mapped to "Ignore": a row per user, found by that column; the
    other columns are grades."""
    rows = list(csv.reader(io.StringIO(text)))
    head = [h.strip() for h in rows[0]]
    key = head.index(map_from)
    out = {}
    for row in rows[1:]:
        if len(row) <= 1:
            continue
        assert row[key].strip(), "Moodle: an empty identifier keeps the user of the row before (or stops the import)"
        grades = {h: v for i, (h, v) in enumerate(zip(head, row)) if i != key and h not in ignore}
        for v in grades.values():
            assert v in ("", "-") or float(v) >= 0, f"Moodle: {v!r} is not a grade"
        out[row[key]] = grades
    return out


def gradebook(rows, columns=("student", "assignment", "total", "max", "written_awaiting", "written_max", "late",
                             "errors")):
    return [{c: str(r.get(c, "")) for c in columns} for r in rows]


def write_book(folder, rows, columns=None):
    rows = gradebook(rows, columns) if columns else gradebook(rows)
    with open(folder / "gradebook.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return folder


def write_roster(path, text):
    path.write_text(text)
    return path


CLASS = [
    {"student": "ada", "assignment": "01_jensen_elbo", "total": 7, "max": 7},
    {"student": "bo", "assignment": "01_jensen_elbo", "total": 2.5, "max": 7},
    {"student": "ada", "assignment": "02_autoencoders", "total": 12, "max": 20},
    {"student": "cy@uni.edu", "assignment": "02_autoencoders", "total": 0, "max": 20},
]
CANVAS_ROSTER = ("student,name,id,sis_user_id,sis_login_id,section\n"
                 'ada,"Lovelace, Ada",1001,U1,alovelace,01\n'
                 "bo,Bo Li,1002,,,02\n")


# ----------------------------------------------------------------------------- the samples themselves
def test_the_readers_read_each_lms_own_export():
    """The stand-ins for Canvas's and Moodle's import accept their own export: they read the format, not ours."""
    got = canvas_reads(CANVAS_EXPORT)
    assert got["assignments"] == ["Essay 1 (101)", "Quiz 1 (102)"] and got["points"]["Quiz 1 (102)"] == "5.00"
    assert got["students"] == [{"name": "Quill, Pat", "id": "1001", "sis_user_id": "U1", "sis_login_id": "pquill",
                                "grades": {"Essay 1 (101)": "", "Quiz 1 (102)": "4.00"}}]
    profile = ("First name", "Last name", "ID number", "Institution", "Department", "Last downloaded from this course")
    assert moodle_reads(MOODLE_EXPORT, "Email address", profile) == {"pat@uni.edu": {"Essay 1 (Real)": "4.00"}}
    assert set(lms.MOODLE_IDS.values()) <= set(MOODLE_MAP_TO)
    assert all(label in MOODLE_EXPORT.splitlines()[0].split(",") for label in ("Email address", "ID number"))


# ----------------------------------------------------------------------------- Canvas
def test_canvas_file_is_canvas_export_layout_with_roster_ids(tmp_path):
    write_book(tmp_path, CLASS)
    roster = write_roster(tmp_path / "roster.csv", CANVAS_ROSTER)
    path, missing = lms.write_lms(tmp_path, "canvas", roster, {"02": "Autoencoders (4821)"})
    assert path == tmp_path / "gradebook-canvas.csv"
    text = path.read_text()
    assert text.splitlines()[0] == ",".join(CANVAS_EXPORT.splitlines()[0].split(",")[:5]) + \
        ",01_jensen_elbo,Autoencoders (4821)", "Canvas's own student columns, then one column per assignment"
    assert text.splitlines()[1] == "    Points Possible,,,,,7,20"
    got = canvas_reads(text)
    assert got["assignments"] == ["01_jensen_elbo", "Autoencoders (4821)"]
    assert got["points"] == {"01_jensen_elbo": "7", "Autoencoders (4821)": "20"}
    by = {s["name"]: s for s in got["students"]}
    assert by["Lovelace, Ada"] == {"name": "Lovelace, Ada", "id": "1001", "sis_user_id": "U1",
                                   "sis_login_id": "alovelace",
                                   "grades": {"01_jensen_elbo": "7", "Autoencoders (4821)": "12"}}
    assert by["Bo Li"]["id"] == "1002" and by["Bo Li"]["grades"] == {"01_jensen_elbo": "2.5", "Autoencoders (4821)": ""}
    # cy has no roster row: kept under the course's ID, for Canvas to match by name or ask, and reported
    assert missing == ["cy@uni.edu"]
    assert by["cy@uni.edu"]["id"] == "" and by["cy@uni.edu"]["grades"]["Autoencoders (4821)"] == "0"
    assert path.read_bytes().count(b"\r\n") == 5, "header, points, three students"


def test_canvas_without_a_roster_keeps_every_student_and_reports_them(tmp_path, capsys):
    write_book(tmp_path, CLASS)
    assert lms.export(tmp_path, "canvas") == 0
    got = canvas_reads((tmp_path / "gradebook-canvas.csv").read_text())
    assert [s["name"] for s in got["students"]] == ["ada", "bo", "cy@uni.edu"], "nobody dropped"
    out, err = capsys.readouterr()
    assert "wrote" in out and "01_jensen_elbo (7 points)" in out
    assert "3 student(s) have no Canvas ID, SIS User ID or SIS Login ID: ada, bo, cy@uni.edu" in err
    assert "add them to a roster file (--roster FILE) with columns student" in err and "sis_user_id" in err


def test_a_canvas_export_header_works_as_roster_header(tmp_path):
    """Header names ignore case and spaces: Canvas's own column names (copied next to a student column) work."""
    write_book(tmp_path, CLASS[:1])
    roster = write_roster(tmp_path / "r.csv", "student,Student Name,ID,SIS User ID,SIS Login ID,Section\n"
                                               "ada,x,1001,U1,alovelace,01\n")
    _, missing = lms.write_lms(tmp_path, "canvas", roster)
    assert missing == [] and canvas_reads((tmp_path / "gradebook-canvas.csv").read_text())["students"][0][
        "sis_user_id"] == "U1"


@pytest.mark.parametrize("title", ["Current Score", "Quiz (Final Grade)", "Section", "Points Possible"])
def test_a_title_canvas_would_skip_is_refused(tmp_path, title):
    write_book(tmp_path, CLASS)
    with pytest.raises(lms.LmsError, match="Canvas reads that title as one of its own columns"):
        lms.write_lms(tmp_path, "canvas", None, {"01": title})
    assert not (tmp_path / "gradebook-canvas.csv").exists()


# ----------------------------------------------------------------------------- Moodle
def test_moodle_file_maps_by_the_roster_identifier(tmp_path, capsys):
    write_book(tmp_path, CLASS)
    roster = write_roster(tmp_path / "roster.csv", "student,email\nada,ada@uni.edu\nbo,\n")
    assert lms.export(tmp_path, "moodle", roster) == 0
    text = (tmp_path / "gradebook-moodle.csv").read_text()
    assert text.splitlines()[0] == "Email address,01_jensen_elbo,02_autoencoders"
    got = moodle_reads(text, "Email address")
    # cy has no roster row, but its ID is an e-mail address (Gradescope's export without an SID): used as one
    assert got == {"ada@uni.edu": {"01_jensen_elbo": "7", "02_autoencoders": "12"},
                   "cy@uni.edu": {"01_jensen_elbo": "", "02_autoencoders": "0"}}
    err = capsys.readouterr().err
    assert "1 student(s) have no Email address for Moodle: bo. They are NOT in" in err
    assert f"add them to the roster file {roster} with columns student" in err


@pytest.mark.parametrize("column,label", [("idnumber", "ID number"), ("username", "Username")])
def test_moodle_uses_the_identifier_the_roster_has(tmp_path, column, label):
    write_book(tmp_path, CLASS[:2])
    roster = write_roster(tmp_path / "r.csv", f"student,{column}\nada,A1\nbo,B2\n")
    _, missing = lms.write_lms(tmp_path, "moodle", roster)
    got = moodle_reads((tmp_path / "gradebook-moodle.csv").read_text(), label)
    assert missing == [] and got == {"A1": {"01_jensen_elbo": "7"}, "B2": {"01_jensen_elbo": "2.5"}}


# ----------------------------------------------------------------------------- both
def test_the_score_is_grand_total_where_the_gradebook_has_it(tmp_path):
    columns = ("student", "assignment", "total", "max", "written", "grand_total", "grand_max")
    write_book(tmp_path, [
        {"student": "ada", "assignment": "01_jensen_elbo", "total": 7, "max": 7, "written": 4, "grand_total": 11,
         "grand_max": 12},
        {"student": "bo", "assignment": "01_jensen_elbo", "total": 3, "max": 7},  # written not imported yet
    ], columns)
    roster = write_roster(tmp_path / "r.csv", "student,id\nada,1\nbo,2\n")
    lms.write_lms(tmp_path, "canvas", roster)
    got = canvas_reads((tmp_path / "gradebook-canvas.csv").read_text())
    assert got["points"] == {"01_jensen_elbo": "12"}, "the largest maximum of the assignment's rows"
    assert [s["grades"]["01_jensen_elbo"] for s in got["students"]] == ["11", "3"]


def test_formulas_are_escaped_and_numbers_are_not(tmp_path):
    write_book(tmp_path, [{"student": "ada", "assignment": "01_jensen_elbo", "total": -1, "max": 7}])
    roster = write_roster(tmp_path / "r.csv", 'student,name,id,section\nada,"=HYPERLINK(""http://x"")",1,@A\n')
    lms.write_lms(tmp_path, "canvas", roster, {"01": "+Notebook 1"})
    rows = list(csv.reader(io.StringIO((tmp_path / "gradebook-canvas.csv").read_text())))
    assert rows[0][5] == "'+Notebook 1"
    assert rows[2][0] == "'=HYPERLINK(\"http://x\")" and rows[2][4] == "'@A" and rows[2][5] == "-1"
    assert all(c[:1] not in ("=", "+", "@") for row in rows for c in row)


@pytest.mark.parametrize("system", ["canvas", "moodle"])
def test_writing_twice_gives_the_same_bytes(tmp_path, system):
    write_book(tmp_path, CLASS)
    roster = write_roster(tmp_path / "r.csv", "student,id,email\nada,1,ada@uni.edu\nbo,2,bo@uni.edu\n")
    first = lms.write_lms(tmp_path, system, roster)[0].read_bytes()
    assert lms.write_lms(tmp_path, system, roster)[0].read_bytes() == first
    assert not list(tmp_path.glob(".gradebook-*")), "no temporary file left"


@pytest.mark.parametrize("roster,message", [
    ("name,id\nAda,1\n", "has no column 'student'"),
    ("student,name,section\nada,Ada,01\n", "none of the columns Canvas finds students by"),
    ("student,id\nada,1\nada,2\n", "line 3: student ada again \\(also line 2\\)"),
    ("student,id\nada,7\nbo,7\n", "line 3: id '7' is ada's too"),
    ("student,id\nada,U123\n", "is not a Canvas user ID"),
    ("student,id,ID\nada,1,1\n", "the column id twice"),
    ("student,id\nada,1,extra\n", "line 2: 3 cells under 2 columns"),
    ("", "is empty"),
])
def test_a_bad_roster_says_what_to_fix_and_nothing_is_written(tmp_path, roster, message):
    write_book(tmp_path, CLASS)
    (tmp_path / "gradebook-canvas.csv").write_text("the previous file\n")
    path = write_roster(tmp_path / "roster.csv", roster)
    with pytest.raises(lms.LmsError, match=message):
        lms.write_lms(tmp_path, "canvas", path)
    assert (tmp_path / "gradebook-canvas.csv").read_text() == "the previous file\n", "the old file stays whole"


def test_other_bad_input(tmp_path):
    with pytest.raises(lms.LmsError, match="no .*gradebook.csv: grade the class"):
        lms.write_lms(tmp_path, "canvas")
    write_book(tmp_path, CLASS)
    with pytest.raises(lms.LmsError, match="unknown LMS 'blackboard': use one of canvas, moodle"):
        lms.write_lms(tmp_path, "blackboard")
    with pytest.raises(lms.LmsError, match="cannot read the roster"):
        lms.write_lms(tmp_path, "moodle", tmp_path / "nope.csv")
    (tmp_path / "latin1.csv").write_bytes("student,email\nzoë,z@x.org\n".encode("latin-1"))
    with pytest.raises(lms.LmsError, match="not UTF-8"):
        lms.write_lms(tmp_path, "moodle", tmp_path / "latin1.csv")
    with pytest.raises(lms.LmsError, match="gradebook.csv has no assignment 03"):
        lms.write_lms(tmp_path, "canvas", None, {"03": "x"})
    with pytest.raises(lms.LmsError, match="would both be the column 'Same'"):
        lms.write_lms(tmp_path, "canvas", None, {"01": "Same", "02": "Same"})
    with pytest.raises(lms.LmsError, match="write NN=TITLE"):
        lms.parse_titles(["01"])
    roster = write_roster(tmp_path / "r.csv", "student,email\nada,cy@uni.edu\n")
    with pytest.raises(lms.LmsError, match="cy@uni.edu and ada would both be Email address"):
        lms.write_lms(tmp_path, "moodle", roster)
    (tmp_path / "gradebook.csv").write_text("student,score\nada,1\n")
    with pytest.raises(lms.LmsError, match="has no column assignment, max, total"):
        lms.write_lms(tmp_path, "moodle")
    assert not list(tmp_path.glob("gradebook-*.csv"))


# ----------------------------------------------------------------------------- the command line
def test_grade_batch_writes_the_lms_file_after_the_gradebook(tmp_path, monkeypatch, capsys):
    """``grade-batch --lms``: the roster is checked before any grading, the file written after the gradebook. The
    grading itself is replaced by a gradebook (test_grade_batch.py grades for real)."""
    calls = []

    def fake_run_batch(submissions, out, **kw):
        calls.append(out)
        return [], write_book(tmp_path / "out", CLASS) / "gradebook.csv"

    (tmp_path / "out").mkdir()
    monkeypatch.setattr(batch, "run_batch", fake_run_batch)
    roster = write_roster(tmp_path / "roster.csv", CANVAS_ROSTER)
    argv = [str(tmp_path), "--out", str(tmp_path / "out")]
    assert batch.main(argv + ["--lms", "canvas", "--roster", str(roster), "--lms-assignment", "01=ELBO (12)"]) == 0
    got = canvas_reads((tmp_path / "out" / "gradebook-canvas.csv").read_text())
    assert got["assignments"] == ["ELBO (12)", "02_autoencoders"] and len(got["students"]) == 3
    assert "have no Canvas ID, SIS User ID or SIS Login ID: cy@uni.edu" in capsys.readouterr().err
    bad = write_roster(tmp_path / "bad.csv", "name,id\nAda,1\n")
    assert batch.main(argv + ["--lms", "canvas", "--roster", str(bad)]) == 2
    assert batch.main(argv + ["--roster", str(roster)]) == 2
    assert len(calls) == 1, "a bad roster or --roster without --lms stops before any grading"
    err = capsys.readouterr().err
    assert "has no column 'student'" in err and "--roster and --lms-assignment go with --lms" in err
