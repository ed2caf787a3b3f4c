"""A submission's code cannot change the course, the hidden tests or the next submission's grade
(course_utils.grade.isolation). Each attack is made for real, against the real files; were it to succeed, the test
puts the files back and fails."""

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from test_grade import QUICK, assert_valid, by_exercise, make_submission, outputs

from course_utils.grade import RunnerPool, grade
from course_utils.grade.isolation import IsolationError, choose
from course_utils.grade.spec import load_assignment
from helpers import ROOT

CHECKS = ROOT / "course_utils" / "checks" / "nb01.py"
SOLUTION = ROOT / "solutions" / "01_jensen_elbo.ipynb"
NAMESPACE = choose().kind == "namespace"
needs_namespace = pytest.mark.skipif(
    not NAMESPACE and not os.environ.get("COURSE_REQUIRE_SANDBOX"),  # .ci/run sets it: there this fails instead
    reason="no namespace sandbox here: install bubblewrap (sudo apt-get install bubblewrap)",
)
TOKEN = uuid.uuid4().hex[:10]
PLANTED = {  # what the hostile submission tries to create; none may exist afterwards
    "course": ROOT / "course_utils" / "checks" / f"_planted_{TOKEN}.py",
    "host /tmp": Path("/tmp") / f"course-planted-{TOKEN}",
    "home": Path.home() / f".course-planted-{TOKEN}",
}
SLEEP = f"597.{int(TOKEN[:4], 16)}"  # a background process's marker

# the notebook cell: rewrite the checks so that everything passes, break the hidden tests, plant files, leave a
# process running (phase 1, the top-to-bottom run)
ATTACK_CELL = f"""
import subprocess
for path, text in [({str(CHECKS)!r}, "\\ndef check_log_marginal(*a, **k):\\n    return True\\n"),
                   ({str(SOLUTION)!r}, " ")] + [(p, "x") for p in {[str(p) for p in PLANTED.values()]!r}]:
    try:
        with open(path, "a") as f:
            f.write(text)
    except OSError as e:
        print(path, e)
subprocess.Popen(["sleep", {SLEEP!r}])
"""
# the same from a definition (phase 2, the test children): a default argument runs when the def is loaded
ATTACK_DEF = "def _attack():" + ATTACK_CELL.replace("\n", "\n    ")
ATTACK_DEF = ATTACK_DEF.strip() + "\n\n\ndef _planted(done=_attack()):\n    return done\n"
LEAK = "def elbo(log_joint, q):\n    raise ValueError(open(" + repr(str(SOLUTION)) + ").read()[-2000:])\n"


@pytest.fixture
def guarded():
    """The files an attack targets, put back (and the test failed) if an attack changed them."""
    saved = {p: p.read_bytes() for p in (CHECKS, SOLUTION)}
    yield saved
    changed = [p for p, data in saved.items() if p.read_bytes() != data]
    for p, data in saved.items():
        p.write_bytes(data)
    planted = [str(p) for p in PLANTED.values() if p.exists()]
    for p in PLANTED.values():
        p.unlink(missing_ok=True)
    subprocess.run(["pkill", "-f", f"sleep {SLEEP}"], capture_output=True)
    assert not changed, f"a submission changed {changed}"
    assert not planted, f"a submission created {planted}"


def _grade(path, **kw):
    results = grade(path, limits=QUICK, **kw)
    print(results.summary())
    return assert_valid(results)


@needs_namespace
def test_a_submission_cannot_change_the_course_or_the_grades_after_it(tmp_path, guarded):
    hostile = make_submission(tmp_path / "01_jensen_elbo.ipynb", before=[ATTACK_CELL, ATTACK_DEF],
                              replace={"elbo": LEAK})
    results = _grade(hostile, execute=True)
    assert by_exercise(results)["elbo"][0] == 0
    assert "No such file" in outputs(results, "elbo"), "solutions/ must not be visible to a submission"
    assert by_exercise(results)["posterior"] == (2.0, 2.0), "the rest of the submission is still graded"
    assert CHECKS.read_bytes() == guarded[CHECKS] and SOLUTION.read_bytes() == guarded[SOLUTION]
    # graded next, with a fresh runner and with the course as it now is
    untouched = _grade(ROOT / "notebooks" / "01_jensen_elbo.ipynb", execute=False)
    spec = load_assignment(SOLUTION)
    assert untouched["score"] == 0 and f"{spec.n_hidden} hidden tests" in untouched["output"]
    left = subprocess.run(["pgrep", "-f", f"sleep {SLEEP}"], capture_output=True, text=True).stdout.split()
    assert not left, "a process the submission started outlived its grading"


@needs_namespace
def test_a_submission_sees_nothing_the_one_before_wrote(tmp_path):
    """Two submissions in a row: the first writes into every folder it can (working folder, cache, home,
    /tmp, /dev/shm) while its tests run; the second lists them all, and sees none of it."""
    folders = "[os.getcwd(), os.environ['COURSE_CACHE'], os.environ['HOME'], '/tmp', '/dev/shm']"
    writer = (
        "def posterior(log_joint):\n"
        "    import os\n"
        f"    for d in {folders}:\n"
        "        try:\n"
        "            open(os.path.join(d, 'plantedA'), 'w').write('x')\n"
        "        except OSError:\n"
        "            pass\n"
        "    return torch.softmax(log_joint, dim=1)\n"
    )
    reader = (
        "def posterior(log_joint):\n"
        "    import os\n"
        f"    seen = sorted(f for d in {folders} for f in os.listdir(d))\n"
        "    raise ValueError('seen: ' + ' '.join(seen))\n"
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = make_submission(tmp_path / "a" / "01_jensen_elbo.ipynb", replace={"posterior": writer})
    b = make_submission(tmp_path / "b" / "01_jensen_elbo.ipynb", replace={"posterior": reader})
    with RunnerPool() as pool:
        first = _grade(a, execute=False, pool=pool)
        assert by_exercise(first)["posterior"] == (2.0, 2.0)
        second = _grade(b, execute=False, pool=pool)
    seen = outputs(second, "posterior")
    assert "seen:" in seen, seen
    assert "plantedA" not in seen, seen


def test_the_isolation_level_can_be_asked_for_and_is_never_silently_weaker(monkeypatch):
    monkeypatch.setenv("COURSE_GRADE_ISOLATION", "none")
    none = choose()
    assert none.kind == "none" and not none.isolates and "NOT isolated" in none.describe()
    monkeypatch.setenv("COURSE_GRADE_ISOLATION", "sandbox")
    with pytest.raises(IsolationError, match="'sandbox' is not an isolation level. Use COURSE_GRADE_ISOLATION="
                                             "namespace, COURSE_GRADE_ISOLATION=user, COURSE_GRADE_ISOLATION=none"):
        choose()
    with pytest.raises(IsolationError, match="use one of namespace, user, none"):
        choose(want="sandbox")
    monkeypatch.setenv("COURSE_GRADE_ISOLATION", "namespace")
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(IsolationError, match="apt-get install bubblewrap"):
        choose()
    monkeypatch.delenv("COURSE_GRADE_ISOLATION")
    assert choose().kind == "none" and "bubblewrap is not installed" in choose().describe()
