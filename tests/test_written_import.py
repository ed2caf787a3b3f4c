"""The written answers' points back into a graded batch (course_utils.grade.written_import): two TAs' CSVs merged,
a conflict reported with both values, --prefer, the gradebook's written and grand totals, results.json and the
feedback page, idempotence, and bad input that changes nothing."""

import csv
import json

import pytest
from test_grade import QUICK, make_submission

from course_utils.grade.batch import run_batch
from course_utils.grade.results import GRADED, WRITTEN, Results, validate
from course_utils.grade.written_import import WrittenImportError, import_written, main, read_marks

HEADER = "student,question,points,comment\n"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A class of three graded in a batch: ada answered both written questions of 01, bo only the first (and got
    elbo wrong), cy handed in the notebook as given."""
    root = tmp_path_factory.mktemp("class")
    subs = root / "subs"
    subs.mkdir()
    make_submission(subs / "ada.ipynb")
    make_submission(subs / "bo.ipynb", replace={"gap_is_kl": None, "elbo": "def elbo(log_joint, q):\n    return 0\n"})
    make_submission(subs / "cy.ipynb", replace={"jensen_step": None, "gap_is_kl": None, "elbo": None,
                                                 "log_marginal": None, "posterior": None})
    out = root / "out"
    run_batch(subs, out, workers=1, assignment="01", execute=False, limits=QUICK, trust=True,
              log=lambda *a, **k: None)
    return out


@pytest.fixture
def batch(graded, tmp_path):
    """A fresh copy of the graded batch for each test."""
    import shutil

    out = tmp_path / "out"
    shutil.copytree(graded, out)
    return out


def _csv(path, rows):
    path.write_text(HEADER + "".join(",".join(r) + "\n" for r in rows))
    return path


def _book(out):
    return {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open())}


def _snapshot(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_two_tas_files_fill_the_written_columns_and_the_totals(batch, tmp_path):
    before = _book(batch)
    assert before["ada"]["jensen_step"] == "awaiting" and before["cy"]["jensen_step"] == "0"
    assert before["ada"]["written"] == "0" and before["ada"]["written_awaiting"] == "5"
    assert before["ada"]["grand_total"] == before["ada"]["total"] == "7"
    ta1 = _csv(tmp_path / "01_jensen_elbo_jensen_step_scores.csv",
               [("ada", "jensen_step", "2", "clear"), ("bo", "jensen_step", "1.5", "'=the sign is off"),
                ("cy", "jensen_step", "0", "not answered")])
    ta2 = _csv(tmp_path / "01_jensen_elbo_gap_is_kl_scores.csv",
               [("ada", "gap_is_kl", "2.5", "good, \"one step\" skipped"), ("bo", "gap_is_kl", "0", "not answered"),
                ("cy", "gap_is_kl", "0", "not answered")])
    done = import_written([ta1, ta2], batch, log=lambda *a: None)
    assert done["imported"] == 6 and done["students"] == 3
    book = _book(batch)
    assert (book["ada"]["jensen_step"], book["ada"]["gap_is_kl"]) == ("2", "2.5")
    assert book["ada"]["written"] == "4.5" and book["ada"]["written_awaiting"] == "0"
    assert book["ada"]["grand_total"] == "11.5" and book["ada"]["grand_max"] == "12"
    bo_total = float(book["bo"]["total"])
    assert bo_total < 7 and float(book["bo"]["grand_total"]) == pytest.approx(bo_total + 1.5)
    assert book["cy"]["grand_total"] == "0"
    results = Results.read(batch / "bo" / "results.json")
    validate(dict(results), "gradescope")
    w = {o.exercise: o for o in results.outcomes() if o.kind == WRITTEN}
    assert w["jensen_step"].state == GRADED and w["jensen_step"].points == 1.5
    assert w["jensen_step"].comment == "=the sign is off"  # the download's formula escape taken off again
    assert results["score"] == pytest.approx(bo_total + 1.5)
    assert json.loads((batch / "bo" / "done.json").read_text())["score"] == pytest.approx(bo_total + 1.5)
    page = (batch / "bo" / "feedback.html").read_text()
    assert "1.5 of 2 points" in page and "=the sign is off" in page
    assert "(hidden tests)" not in page


def test_a_conflict_stops_with_both_values_unless_a_file_is_preferred(batch, tmp_path):
    a = _csv(tmp_path / "a.csv", [("ada", "jensen_step", "2", "")])
    b = _csv(tmp_path / "b.csv", [("ada", "jensen_step", "1", "")])
    same = _snapshot(batch)
    with pytest.raises(WrittenImportError, match=r"ada, jensen_step: 2 \(a.csv, line 2\) and 1 \(b.csv, line 2\)"):
        import_written([a, b], batch, log=lambda *x: None)
    assert _snapshot(batch) == same, "a conflict writes nothing"
    import_written([a, b], batch, prefer=[b], log=lambda *x: None)
    assert _book(batch)["ada"]["jensen_step"] == "1"


def test_the_same_points_twice_merge_and_a_row_without_points_is_left_alone(batch, tmp_path):
    a = _csv(tmp_path / "a.csv", [("ada", "jensen_step", "2", "clear"), ("bo", "jensen_step", "", "")])
    b = _csv(tmp_path / "b.csv", [("ada", "jensen_step", "2", "well argued")])
    done = import_written([a, b], batch, log=lambda *x: None)
    assert done["imported"] == 1 and done["skipped"] == 1
    book = _book(batch)
    assert book["ada"]["jensen_step"] == "2" and book["bo"]["jensen_step"] == "awaiting"
    w = {o.exercise: o for o in Results.read(batch / "ada" / "results.json").outcomes() if o.kind == WRITTEN}
    assert w["jensen_step"].comment == "clear\nwell argued"


def test_the_import_is_idempotent(batch, tmp_path):
    a = _csv(tmp_path / "a.csv", [("ada", "jensen_step", "2", "clear"), ("bo", "gap_is_kl", "0", "")])
    import_written([a], batch, log=lambda *x: None)
    once = _snapshot(batch)
    import_written([a], batch, log=lambda *x: None)
    assert _snapshot(batch) == once


@pytest.mark.parametrize("row, message", [
    (("zed", "jensen_step", "1", ""), "student 'zed' is not in"),
    (("ada", "no_such_question", "1", ""), "'no_such_question' is not a written question of 01_jensen_elbo"),
    (("ada", "jensen_step", "2.5", ""), "2.5 points for ada, jensen_step: outside 0 to 2"),
    (("ada", "jensen_step", "-1", ""), "outside 0 to 2"),
    (("ada", "jensen_step", "two", ""), "points 'two' for ada are not a number"),
])
def test_bad_rows_are_clear_errors_and_nothing_is_written(batch, tmp_path, row, message):
    good = _csv(tmp_path / "good.csv", [("bo", "jensen_step", "1", "")])
    bad = _csv(tmp_path / "bad.csv", [row])
    same = _snapshot(batch)
    with pytest.raises(WrittenImportError, match=message):
        import_written([good, bad], batch, log=lambda *x: None)
    assert _snapshot(batch) == same


def test_a_file_that_is_not_the_pages_csv_and_a_folder_that_is_not_a_batch(batch, tmp_path, capsys):
    other = tmp_path / "grades.csv"
    other.write_text("name,score\nada,3\n")
    with pytest.raises(WrittenImportError, match="first line is not 'student,question,points,comment'"):
        read_marks(other)
    assert main([str(other), "--out", str(batch)]) == 2
    assert "written-import:" in capsys.readouterr().err
    a = _csv(tmp_path / "a.csv", [("ada", "jensen_step", "2", "")])
    assert main([str(a), "--out", str(tmp_path / "nowhere")]) == 2
    assert "is not a graded batch" in capsys.readouterr().err


def test_lms_export_after_the_import_carries_the_grand_total(batch, tmp_path):
    a = _csv(tmp_path / "a.csv", [("ada", "jensen_step", "2", ""), ("ada", "gap_is_kl", "3", "")])
    roster = tmp_path / "roster.csv"
    roster.write_text("student,email\nada,ada@uni.example\nbo,bo@uni.example\ncy,cy@uni.example\n")
    assert main([str(a), "--out", str(batch), "--lms", "moodle", "--roster", str(roster)]) == 0
    rows = {r[0]: r for r in csv.reader((batch / "gradebook-moodle.csv").open())}
    assert rows["ada@uni.example"][1] == "12"  # 7 autograded + 5 written


def test_rows_without_points_are_skipped_even_for_students_the_batch_does_not_know(batch, tmp_path):
    """The pages' CSV lists notebooks they could not show (another assignment, unreadable) without points."""
    a = _csv(tmp_path / "a.csv", [("ada", "jensen_step", "2", ""), ("zed", "jensen_step", "", "handed in 02")])
    done = import_written([a], batch, log=lambda *x: None)
    assert done["imported"] == 1 and done["skipped"] == 1


def test_the_import_keeps_the_hidden_tests_visibility():
    """A batch graded with --hidden-visibility after_published keeps it when written points are added."""
    from course_utils.grade.results import AWAITING, HIDDEN, Outcome

    graded = Results.of([Outcome(HIDDEN, "elbo", 2, 1.0, 2.0, "1 of 2 hidden tests passed."),
                         Outcome(WRITTEN, "jensen_step", 1, 0.0, 2.0, "...", state=AWAITING)], "01: 1 / 2", 1.0)
    written = Results(graded.gradescope("after_published")).with_written({"jensen_step": (2.0, "")})
    assert [t["visibility"] for t in written.gradescope()["tests"]] == ["after_published", "visible"]
    assert written["score"] == 3.0
