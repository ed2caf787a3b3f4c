"""The results files as the platforms read them (course_utils.grade.results): Gradescope's fields and formats, the
hidden tests' visibility, PrairieLearn's score in [0, 1], and schemas that reject what the platforms would."""

import json

import jsonschema
import pytest
from test_grade import QUICK, make_submission

from course_utils.grade import Results, grade
from course_utils.grade.cli import main as grade_main
from course_utils.grade.results import plain, validate

INJECT = "def elbo(log_joint, q):\n    raise ValueError('<img src=x onerror=alert(1)> **bold** `tick`')\n"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One submission: posterior missing, elbo raising a message full of markup, log_marginal right."""
    folder = tmp_path_factory.mktemp("results")
    path = make_submission(folder / "01_jensen_elbo.ipynb", replace={"elbo": INJECT, "posterior": "x = 1\n"})
    return grade(path, execute=False, limits=QUICK)


def test_gradescope_results_are_plain_text_with_status_number_and_tags(graded):
    doc = graded.gradescope()
    validate(doc, "gradescope")
    assert doc["output_format"] == doc["test_output_format"] == "text"
    by_name = {t["name"]: t for t in doc["tests"]}
    public = next(t for n, t in by_name.items() if "posterior (public check)" in n)
    assert "`" not in public["output"] and "'posterior' is not defined" in public["output"]
    assert public["status"] == "failed" and public["tags"] == ["posterior", "public"]
    assert public["number"].endswith(".1")
    lm = next(t for n, t in by_name.items() if "log_marginal (hidden tests)" in n)
    assert lm["status"] == "passed" and lm["number"].endswith(".2") and lm["tags"] == ["log_marginal", "hidden"]
    elbo = next(t for n, t in by_name.items() if "elbo (public check)" in n)
    assert "<img src=x onerror=alert(1)>" in elbo["output"]  # shown as typed: format "text" interprets nothing


def test_the_hidden_tests_visibility_is_an_option(graded, tmp_path):
    doc = graded.gradescope(hidden_visibility="after_published")
    for t in doc["tests"]:
        assert t["visibility"] == ("after_published" if "(hidden tests)" in t["name"] else "visible"), t["name"]
    with pytest.raises(ValueError, match="after_due_date"):
        graded.gradescope(hidden_visibility="later")


def test_the_cli_writes_prairielearn_results(tmp_path):
    path = make_submission(tmp_path / "01_jensen_elbo.ipynb")
    out = tmp_path / "results.json"
    assert grade_main([str(path), "--out", str(out), "--no-execute", "--quiet", "--format", "prairielearn"]) == 0
    doc = json.loads(out.read_text())
    validate(doc, "prairielearn")
    assert doc["gradable"] is True and doc["score"] == pytest.approx(1.0)
    assert sum(t["points"] for t in doc["tests"]) == pytest.approx(7.0)


def test_prairielearn_scores_a_fraction_and_a_grading_failure_is_not_gradable(graded):
    doc = graded.prairielearn()
    validate(doc, "prairielearn")
    assert doc["gradable"] and 0 < doc["score"] < 1
    assert doc["score"] == pytest.approx(graded["score"] / sum(o.max_points for o in graded.outcomes() if o.counted),
                                         abs=1e-6)
    failed = Results.error("the test runner could not start", 3.0, 7.0).prairielearn()
    validate(failed, "prairielearn")
    assert failed["gradable"] is False and failed["score"] == 0 and failed["format_errors"]


def test_the_schemas_reject_what_the_platforms_would(graded):
    doc = graded.gradescope()
    for broken in ({**doc, "tests": [{**doc["tests"][0], "visibility": "secret"}]},
                   {**doc, "tests": [{**doc["tests"][0], "score": "7"}]},
                   {k: v for k, v in doc.items() if k != "tests"}):
        with pytest.raises(jsonschema.ValidationError):
            validate(broken, "gradescope")
    with pytest.raises(jsonschema.ValidationError):
        validate({**graded.prairielearn(), "score": 1.5}, "prairielearn")


def test_plain_turns_code_spans_into_quotes_only():
    assert plain("`ae_loss` is not defined; 2 * 3 `x`") == "'ae_loss' is not defined; 2 * 3 'x'"
    assert plain("no code here") == "no code here"
