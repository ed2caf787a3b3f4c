"""The real nbgrader takes the course's notebooks as they are (slow: ``./course test-nbgrader``, not in CI).

nbgrader is not a course dependency: this test makes its own environment (``course_utils/grade/nbgrader_env.py``:
``.cache/nbgrader-venv``, nbgrader 0.9.6 from PyPI), and is skipped, saying why, when nbgrader cannot be
installed. Then, in a scratch nbgrader
course folder:

- ``nbgrader generate_assignment`` on ``solutions/NN_*.ipynb`` gives cell for cell the sources of
  ``notebooks/NN_*.ipynb`` (``./course generate``);
- with nbgrader's defaults and nothing but the ``nbgrader_config.py`` the course ships at its root (nbgrader run in
  a course folder that holds it, as in the clone), ``generate_assignment`` and ``generate_solution`` leave out every
  instructor note; with nbgrader's defaults alone they keep them (what that file is for);
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

from course_utils import syllabus
from helpers import ROOT

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


# ------------------------------------------------------------------------------ instructor notes, nbgrader's defaults
ALL = syllabus.names()


def _defaults_only(env, tmp_path):
    """nbgrader's environment without any user or system configuration: no ~/.jupyter, no JUPYTER_CONFIG_PATH."""
    env_dir, environ = env
    home = tmp_path / "home"
    home.mkdir()
    environ = {k: v for k, v in environ.items() if k not in ("JUPYTER_CONFIG_PATH", "JUPYTER_CONFIG_DIR")}
    return env_dir, {**environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / ".jupyter")}


def _tutorial_course(tmp_path, assignments, shipped: bool):
    """A course folder as nbgrader's tutorial makes one, with the solutions as its source notebooks; ``shipped``:
    with the course's own ``nbgrader_config.py`` (a byte copy), as when nbgrader runs in the clone."""
    root = tmp_path / "course"
    for a in assignments:
        (root / "source" / a).mkdir(parents=True)
        (root / "source" / a / f"{a}.ipynb").write_bytes((ROOT / "solutions" / f"{a}.ipynb").read_bytes())
    if shipped:
        (root / "nbgrader_config.py").write_bytes((ROOT / "nbgrader_config.py").read_bytes())
    return root


def _instructor_lines(assignment):
    from course_utils.nbcode import is_instructor_note

    nb = nbformat.read(ROOT / "solutions" / f"{assignment}.ipynb", as_version=4)
    return {s.strip() for c in nb.cells if is_instructor_note(c) for s in c.source.split("\n") if len(s.strip()) >= 12}


def _notes_in(path, assignment):
    from course_utils.nbcode import is_instructor_note

    nb = nbformat.read(path, as_version=4)
    text = {s.strip() for c in nb.cells for s in c.source.split("\n")}
    return [c for c in nb.cells if is_instructor_note(c)], sorted(_instructor_lines(assignment) & text)


def test_the_shipped_config_keeps_the_instructor_notes_from_generate_assignment(nbgrader_env, tmp_path):
    env = _defaults_only(nbgrader_env, tmp_path)
    root = _tutorial_course(tmp_path, ALL, shipped=True)
    _nbgrader(env, root, "generate_assignment", "*", "--force", "--no-db")
    for a in ALL:
        assert _instructor_lines(a), f"{a} has instructor notes for this test to look for"
        tagged, lines = _notes_in(root / "release" / a / f"{a}.ipynb", a)
        assert not tagged and not lines, f"{a}: nbgrader's student version holds instructor notes: {lines[:3]}"


def test_without_the_shipped_config_nbgrader_copies_the_instructor_notes(nbgrader_env, tmp_path):
    """What the shipped file is for: nbgrader's defaults alone put every instructor note into the student version."""
    env = _defaults_only(nbgrader_env, tmp_path)
    root = _tutorial_course(tmp_path, ["01_jensen_elbo"], shipped=False)
    _nbgrader(env, root, "generate_assignment", "01_jensen_elbo", "--force", "--no-db")
    tagged, lines = _notes_in(root / "release" / "01_jensen_elbo" / "01_jensen_elbo.ipynb", "01_jensen_elbo")
    assert len(tagged) == 4 and lines


def test_the_shipped_config_keeps_the_instructor_notes_from_generate_solution(nbgrader_env, tmp_path):
    """nbgrader's own release of solutions (it executes the notebook, and keeps hidden tests and rubrics: released
    solutions are ./course site --release-solutions' job) leaves the instructor notes out too."""
    env = _defaults_only(nbgrader_env, tmp_path)
    root = _tutorial_course(tmp_path, ["01_jensen_elbo"], shipped=True)
    _nbgrader(env, root, "generate_assignment", "01_jensen_elbo", "--force")  # generate_solution needs the database
    _nbgrader(env, root, "generate_solution", "01_jensen_elbo", "--force")
    tagged, lines = _notes_in(root / "solution" / "01_jensen_elbo" / "01_jensen_elbo.ipynb", "01_jensen_elbo")
    assert not tagged and not lines, lines[:3]
