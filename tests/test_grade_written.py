"""Written questions (derivations, short answers): nbgrader's manually graded answers. The grader never scores
them; it says which are answered and await a person (with their points) and which are not (0 points, as nbgrader's
autograde gives an unchanged cell), in every format it writes."""

import nbformat
import pytest
from test_grade import NB01, QUICK, assert_valid, make_submission

from course_utils.assign import answered, student_notebook
from course_utils.grade import grade
from course_utils.grade.results import WRITTEN, Results, written_outcomes
from course_utils.grade.spec import SpecError, assignment_paths, load_assignment
from helpers import ROOT

SPEC01 = load_assignment(NB01)


def _written(results):
    return {o.exercise: t for o, t in zip(results.outcomes(), results["tests"]) if o.kind == WRITTEN}


def test_every_assignment_has_at_least_two_written_questions_with_a_rubric():
    for path in assignment_paths(ROOT / "solutions"):
        spec = load_assignment(path)
        assert len(spec.written) >= 2, f"{path.name}: {len(spec.written)} written questions"
        for w in spec.written:
            assert w.points > 0 and w.stub == "YOUR ANSWER HERE", (path.name, w.question)
            assert "**Model answer.**" in w.solution and "**Rubric (" in w.solution, (path.name, w.question)
            assert f"Written {w.number} (" in w.prompt, f"{path.name}: the cell above {w.question} does not state it"
        nb = nbformat.read(path, as_version=4)
        assert not any(w.answered(w.answer(student_notebook(nb))) for w in spec.written)  # students get the stub


def test_answered_questions_await_manual_grading_and_never_change_the_score(tmp_path):
    sub = make_submission(tmp_path / "01_jensen_elbo.ipynb", replace={"gap_is_kl": None})  # answers W1 only
    results = assert_valid(grade(sub, execute=False, limits=QUICK))
    assert results["score"] == pytest.approx(SPEC01.total_points)  # 7: the exercises only
    w = _written(results)
    assert list(w) == ["jensen_step", "gap_is_kl"]
    assert w["jensen_step"]["name"] == "Written 1: jensen_step (awaiting manual grading)"
    assert "Worth 2 points" in w["jensen_step"]["output"] and "not in the score above" in w["jensen_step"]["output"]
    assert w["gap_is_kl"]["name"].endswith("(not answered)") and "YOUR ANSWER HERE" in w["gap_is_kl"]["output"]
    assert "1 answered, awaiting manual grading (2 points); 1 not answered" in results["output"]
    doc = results.gradescope()
    gs = {t["tags"][0]: t for t in doc["tests"] if "written" in t.get("tags", [])}
    assert "status" not in gs["jensen_step"] and gs["gap_is_kl"]["status"] == "failed"  # no verdict yet / a 0
    assert gs["jensen_step"]["number"] == "W1" and gs["jensen_step"]["max_score"] == 0
    assert results.prairielearn()["score"] == pytest.approx(1.0)  # PrairieLearn's manual points are its own


def test_a_deleted_answer_cell_is_not_answered_and_says_how_to_fix_it(tmp_path):
    def drop(nb):
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "jensen_step"]

    sub = make_submission(tmp_path / "01_jensen_elbo.ipynb", mutate=drop)
    out = _written(assert_valid(grade(sub, execute=False, limits=QUICK)))["jensen_step"]
    assert out["name"].endswith("(not answered)")
    assert "no answer cell" in out["output"] and "'jensen_step'" in out["output"]


def test_an_empty_answer_counts_as_not_answered(tmp_path):
    sub = make_submission(tmp_path / "01_jensen_elbo.ipynb", replace={"jensen_step": "  \n"})
    assert _written(grade(sub, execute=False, limits=QUICK))["jensen_step"]["name"].endswith("(not answered)")


def test_an_unreadable_notebook_lists_the_written_questions_as_not_answered(tmp_path):
    bad = tmp_path / "01_jensen_elbo.ipynb"
    bad.write_text("{ not json")
    results = assert_valid(grade(bad, execute=False, limits=QUICK))
    assert [t["name"].endswith("(not answered)") for t in _written(results).values()] == [True, True]


def test_the_gradebook_row_has_a_column_per_written_question():
    sol = nbformat.read(NB01, as_version=4)
    nb = answered(sol, {"gap_is_kl": None})
    results = Results.of(written_outcomes(SPEC01, nb), "", 1.0)
    header = Results.gradebook_header(["elbo"], ["jensen_step", "gap_is_kl"])
    row = dict(zip(header, results.gradebook_row(["elbo"], "ada", "01", None, [], ["jensen_step", "gap_is_kl"])))
    assert (row["jensen_step"], row["gap_is_kl"], row["written_awaiting"], row["written_max"]) == ("awaiting", "0",
                                                                                                  "2", "5")


def test_a_written_cell_without_a_model_answer_is_refused(tmp_path):
    nb = nbformat.read(NB01, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "jensen_step")
    cell.source = "just a note, no markers"
    nbformat.write(nb, str(tmp_path / "01_jensen_elbo.ipynb"))
    with pytest.raises(SpecError, match="jensen_step.*no model answer"):
        load_assignment(tmp_path / "01_jensen_elbo.ipynb")
