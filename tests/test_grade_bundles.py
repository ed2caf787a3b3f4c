"""What leaves the repository: the students' zip holds no answer and no hidden test; Gradescope's zip grades."""

import json
import os
import stat
import subprocess
import sys
import zipfile

import pytest

from course_utils.grade.results import validate
from helpers import ROOT, load_script

bundles = load_script("grading/bundles.py")

NB01 = ROOT / "solutions" / "01_jensen_elbo.ipynb"


@pytest.fixture(scope="module")
def student_zip(tmp_path_factory):
    # require_current=False: the freshness of notebooks/ has its own test (test_assign.py); here, only leaks
    return bundles.student_bundle(tmp_path_factory.mktemp("bundle") / "student.zip", require_current=False)


def test_student_bundle_holds_what_students_need(student_zip):
    names = set(zipfile.ZipFile(student_zip).namelist())
    for needed in ["README.md", "environment.yml", "pyproject.toml", "data/README.md", "course_utils/__init__.py"]:
        assert f"ssl-course/{needed}" in names
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        assert f"ssl-course/notebooks/{nb.name}" in names
    assert not [n for n in names if n.startswith(("ssl-course/solutions/", "ssl-course/tests/", "ssl-course/grading/"))]
    assert not [n for n in names if "__pycache__" in n]


def test_student_bundle_holds_no_solution_line_no_hidden_test_and_no_marker(student_zip):
    assert bundles.solution_lines(), "expected solution lines to search for"
    assert bundles.leaks(student_zip) == []


def test_the_leak_search_finds_a_planted_answer_and_a_planted_hidden_test(tmp_path, student_zip):
    answer = sorted(bundles.solution_lines())[0]
    planted = tmp_path / "planted.zip"
    with zipfile.ZipFile(student_zip) as src, zipfile.ZipFile(planted, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("ssl-course/course_utils/helpers.py", f"def f(x):\n    {answer}\n")
        dst.writestr("ssl-course/notebooks/99_x.ipynb", json.dumps({
            "cells": [{"cell_type": "code", "id": "planted1", "metadata": {}, "outputs": [], "execution_count": None,
                       "source": "### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS"}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))  # fmt: skip
    found = bundles.leaks(planted)
    assert any("helpers.py" in f for f in found) and any("99_x.ipynb" in f and "marker" in f for f in found)


def test_gradescope_zip_has_its_scripts_at_the_root_and_only_its_own_hidden_tests(tmp_path):
    out = bundles.gradescope_bundle("01", tmp_path / "gs.zip")
    zf = zipfile.ZipFile(out)
    names = set(zf.namelist())
    assert {"setup.sh", "run_autograder", "pyproject.toml", "course_utils/grade/core.py"} <= names
    assert [n for n in names if n.startswith("solutions/")] == ["solutions/01_jensen_elbo.ipynb"]
    for script in ("setup.sh", "run_autograder"):
        assert (zf.getinfo(script).external_attr >> 16) & stat.S_IXUSR, f"{script} must be executable"
        subprocess.run(["bash", "-n", "-c", zf.read(script).decode()], check=True)
    assert '--assignment "$ASSIGNMENT"' in zf.read("run_autograder").decode()
    assert 'ASSIGNMENT="01"' in zf.read("run_autograder").decode()


def test_gradescope_run_autograder_grades_a_submission_end_to_end(tmp_path):
    """Gradescope's layout in a temporary folder: source/ from the zip, submission/, results/."""
    zipfile.ZipFile(bundles.gradescope_bundle("01", tmp_path / "gs.zip")).extractall(tmp_path / "source")
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "my homework.ipynb").write_bytes(NB01.read_bytes())
    env = dict(os.environ, AUTOGRADER_ROOT=str(tmp_path), AUTOGRADER_PYTHON=sys.executable, AUTOGRADER_RUN_AS="",
               AUTOGRADER_ARGS="--no-execute --test-timeout 60", PYTHONPATH="")  # fmt: skip
    script = tmp_path / "source" / "run_autograder"
    os.chmod(script, 0o755)
    proc = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["score"] == pytest.approx(7.0), results["output"]
    assert "hidden tests" in results["output"]
    validate(results, "gradescope")
    hidden = {t["visibility"] for t in results["tests"] if "(hidden tests)" in t["name"]}
    assert hidden == {"after_published"}, "no '100%' from the public checks before the hidden tests count"
    assert "7 / 7" in proc.stdout  # the terminal summary
