"""The real nbgrader takes the course's notebooks as they are (slow: ``./course test-nbgrader``, not in CI).

nbgrader is not a course dependency: this test makes its own environment (``course_utils/grade/nbgrader_env.py``:
``.cache/nbgrader-venv``, nbgrader 0.9.6 from PyPI), and is skipped, saying why, when nbgrader cannot be
installed. Then, in a scratch nbgrader
course folder:

- ``nbgrader generate_assignment`` on ``solutions/NN_*.ipynb`` gives cell for cell the sources of
  ``notebooks/NN_*.ipynb`` (``./course generate``);
- ``nbgrader autograde`` gives the solution full marks, the untouched notebook 0, and a subtly wrong answer loses
  points on its own exercise, as our grader marks it down (our checks raise under ``NBGRADER_EXECUTION``); the
  written questions (manually graded answers) need a manual grade where answered and are 0 where unchanged, as our
  grader lists them.
"""

import json
import os
import subprocess
from pathlib import Path

import nbformat
import pytest
from submissions.mistakes import SUBTLE  # a subtle mistake per assignment, on one exercise

from conftest import ROOT

pytestmark = pytest.mark.skipif(os.environ.get("COURSE_NBGRADER") != "1",
                                reason="runs the real nbgrader (minutes): ./course test-nbgrader")
ASSIGNMENTS = ["01_jensen_elbo", "02_autoencoders", "03_vae", "04_simclr", "05_mae"]


@pytest.fixture(scope="module")
def nbgrader_env():
    from course_utils.grade.nbgrader_env import NbgraderUnavailable, nbgrader_env

    try:
        env_dir, env = nbgrader_env()
    except NbgraderUnavailable as e:
        pytest.skip(str(e))
    return env_dir, {**env, "COURSE_PROFILE": "fast"}


def _course(tmp_path, assignment):
    root = tmp_path / "course"
    (root / "source" / assignment).mkdir(parents=True)
    (root / "source" / assignment / f"{assignment}.ipynb").write_bytes((ROOT / "solutions" / f"{assignment}.ipynb")
                                                                        .read_bytes())
    from course_utils.grade.nbgrader_env import course_config

    (root / "nbgrader_config.py").write_text(course_config(root, timeout=600))
    return root


def _nbgrader(env, root, *args):
    env_dir, environ = env
    run = subprocess.run([str(env_dir / "bin" / "nbgrader"), *args], cwd=root, env=environ, capture_output=True,
                         text=True, timeout=1800)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return run


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_generate_assignment_gives_the_student_notebook(nbgrader_env, tmp_path, assignment):
    root = _course(tmp_path, assignment)
    _nbgrader(nbgrader_env, root, "generate_assignment", assignment, "--force", "--no-db")
    theirs = nbformat.read(root / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    ours = nbformat.read(ROOT / "notebooks" / f"{assignment}.ipynb", as_version=4)
    assert [c.cell_type for c in theirs.cells] == [c.cell_type for c in ours.cells]
    for k, (a, b) in enumerate(zip(theirs.cells, ours.cells)):
        assert a.source.strip() == b.source.strip(), f"cell {k} differs"
        for key in ("editable", "deletable"):  # nbgrader's LockCells and ours agree
            assert a.metadata.get(key, True) == b.metadata.get(key, True), (k, key)


def _scores(env, root, assignment):
    env_dir, environ = env
    script = (
        "import json, sys\nfrom nbgrader.api import Gradebook\n"
        f"gb = Gradebook('sqlite:///{root}/gradebook.db')\nout = {{}}\n"
        f"for s in gb.assignment_submissions({assignment!r}):\n"
        "    nb = s.notebooks[0]\n"
        "    out[s.student_id] = {g.name: [g.score, bool(g.needs_manual_grade)] for g in nb.grades if g.max_score}\n"
        "print(json.dumps(out))\n"
    )
    run = subprocess.run([str(env_dir / "bin" / "python"), "-c", script], cwd=root, env=environ,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_autograde_marks_the_solution_the_untouched_and_a_subtle_mistake(nbgrader_env, tmp_path, assignment):
    from course_utils.assign import answered
    from course_utils.grade.spec import load_assignment

    spec = load_assignment(ROOT / "solutions" / f"{assignment}.ipynb")
    root = _course(tmp_path, assignment)
    _nbgrader(nbgrader_env, root, "generate_assignment", assignment, "--force")
    sol = nbformat.read(ROOT / "solutions" / f"{assignment}.ipynb", as_version=4)
    students = {"ada": answered(sol), "bo": nbformat.read(ROOT / "notebooks" / f"{assignment}.ipynb", as_version=4)}
    if assignment in SUBTLE:
        exercise, source = SUBTLE[assignment].exercise, SUBTLE[assignment].source
        students["cy"] = answered(sol, {exercise: source})
    for student, nb in students.items():
        folder = root / "submitted" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / f"{assignment}.ipynb"))
        (folder / "timestamp.txt").write_text("2026-12-01 12:00:00.000000 UTC")
    _nbgrader(nbgrader_env, root, "autograde", assignment, "--create", "--force")
    graded = _scores(nbgrader_env, root, assignment)
    written = {w.question for w in spec.written}
    auto = {s: {k: v[0] for k, v in g.items() if k not in written} for s, g in graded.items()}
    assert sum(auto["ada"].values()) == pytest.approx(spec.total_points), auto["ada"]
    assert sum(auto["bo"].values()) == 0, auto["bo"]
    # the written questions, as our grader lists them: answered ones await a person (nbgrader: no points yet, and
    # "needs manual grade"), an unchanged answer cell is 0 without one
    assert {k: (v[0] or 0, v[1]) for k, v in graded["ada"].items() if k in written} == {q: (0, True) for q in written}
    assert {k: v for k, v in graded["bo"].items() if k in written} == {q: [0, False] for q in written}
    if "cy" in auto:
        exercise = SUBTLE[assignment].exercise
        unit = next(u for u in spec.units if u.exercise == exercise)
        lost = {k: v for k, v in auto["cy"].items() if v < auto["ada"][k]}
        assert list(lost) == [unit.test_id], lost  # only that exercise's test cell loses its points
        Path(root / "scores.json").write_text(json.dumps(graded))
