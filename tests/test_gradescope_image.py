"""Gradescope, simulated as far as this machine allows: the zip unpacked into an ``/autograder``-like root,
``setup.sh`` run as root against this machine's wheels, a real unprivileged ``student`` user, then
``run_autograder`` as root, so that ``--run-as student`` runs for real, with a hostile submission.

Gradescope builds the image from ``setup.sh`` and runs ``run_autograder`` as root in a container of its own per
submission, usually without the rights that bubblewrap needs: what keeps the submission away from the hidden
tests and the results is the ``user`` level (``course_utils/grade/isolation.py``), the one this test asks for.

Needs root (it creates the user ``student`` if there is none, as ``setup.sh`` does on Gradescope) and Debian's
``/usr/bin/python3.11`` as the image's Python (root's own Python may sit where ``student`` cannot read it).
Instead of unpacking torch's 6 GB build a second time, the image's venv sees the course venv's installed
packages through a ``.pth`` file (not the course package itself, which ``setup.sh`` installs from the zip);
``pip`` then finds torch already there. Everything else in ``setup.sh`` runs as on Gradescope except ``apt-get``
(``AUTOGRADER_APT=0``; the course's own set-up installed the same packages).
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from helpers import ROOT, load_script

bundles = load_script("grading/bundles.py")

IMAGE_PYTHON = Path("/usr/bin/python3.11")
pytestmark = [
    pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0,
                       reason="simulates Gradescope's image as root: creates the user `student` (CI runs as root)"),
    pytest.mark.skipif(not IMAGE_PYTHON.exists(), reason=f"the image's Python {IMAGE_PYTHON} is not installed"),
    pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the image's Python 3.11 is seeded with this "
                       "environment's packages, which must be built for the same Python (course test-matrix)"),
    pytest.mark.skipif(shutil.which("useradd") is None, reason="no useradd to create the user `student`"),
]  # fmt: skip


def _tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def _seed(venv: Path, seed: Path) -> None:
    """The image's venv sees the course venv's packages, except the course package itself and .pth hooks."""
    site = Path(sysconfig.get_paths()["purelib"])
    seed.mkdir()
    for entry in site.iterdir():
        if entry.name.startswith(("__editable__", "ssl_course")) or entry.suffix == ".pth":
            continue
        (seed / entry.name).symlink_to(entry)
    subprocess.run([str(IMAGE_PYTHON), "-m", "venv", str(venv)], check=True, timeout=120)
    (next((venv / "lib").glob("python3.*")) / "site-packages" / "course-seed.pth").write_text(f"{seed}\n")


def _attack_cells(leak: Path, source: Path) -> str:
    """What a hostile student tries, at the top level (phase 1, the kernel) and inside a graded function (phase 2,
    the test runner's child): each attempt's outcome and the uid it ran as land in ``leak``."""
    return (
        "import json, os, pathlib, subprocess, sys\n"
        "BEAT = ('import pathlib, sys, time\\nwhile True:\\n'\n"
        "        '    pathlib.Path(sys.argv[1]).write_text(str(time.time()))\\n    time.sleep(0.2)')\n"
        f"LEAK = {str(leak)!r}\n"
        f"SOURCE = {str(source)!r}\n"
        "def _attack(where):\n"
        "    leak, source = pathlib.Path(LEAK), pathlib.Path(SOURCE)\n"
        "    beat = str(leak / f'beat-{where}')\n"
        "    attempts = {\n"
        "        'read solutions': lambda: (leak / f'solution-{where}.txt').write_text(\n"
        "            (source / 'solutions' / '01_jensen_elbo.ipynb').read_text()),\n"
        "        'write results': lambda: (source.parent / 'results' / 'results.json')\n"
        "            .write_text('{\"score\": 1000}'),\n"
        "        'rewrite course_utils': lambda: (source / 'course_utils' / 'checks' / 'nb01.py')\n"
        "            .write_text('x = 1\\n'),\n"
        "        'write the venv': lambda: (source.parent / 'venv' / 'pwned.pth').write_text('import os\\n'),\n"
        "        'leave a process': lambda: subprocess.Popen([sys.executable, '-c', BEAT, beat],\n"
        "                                                    start_new_session=True),\n"
        "    }\n"
        "    tried = {}\n"
        "    for name, attempt in attempts.items():\n"
        "        try:\n"
        "            attempt()\n"
        "            tried[name] = 'done'\n"
        "        except Exception as e:\n"
        "            tried[name] = type(e).__name__\n"
        "    (leak / f'tried-{where}.json').write_text(json.dumps({'uid': os.getuid(), 'tried': tried}))\n"
        "    print(where, tried)\n"
    )


@pytest.fixture(scope="module")
def image():
    """The simulated image: /autograder-like root with source/ (the zip), venv/, submission/, results/."""

    base = Path(tempfile.mkdtemp(prefix="gradescope-image-"))
    os.chmod(base, 0o755)
    root = base / "autograder"
    root.mkdir(mode=0o755)
    try:
        zipfile.ZipFile(bundles.gradescope_bundle("01", base / "gradescope-01.zip")).extractall(root / "source")
        os.chmod(root / "source" / "run_autograder", 0o755)
        _seed(root / "venv", base / "seed")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "AUTOGRADER_"))}
        env.update(AUTOGRADER_ROOT=str(root), AUTOGRADER_APT="0", AUTOGRADER_TORCH_INDEX="", PYTHONPATH="")
        t0 = time.monotonic()
        setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, capture_output=True, text=True,
                               timeout=900)  # fmt: skip
        assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-3000:]
        print(f"setup.sh: {time.monotonic() - t0:.0f} s")
        yield root
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_setup_makes_the_student_user_and_hides_the_hidden_tests(image):
    student = pwd.getpwnam("student")
    assert student.pw_uid != 0
    solutions = image / "source" / "solutions"
    assert all(not (p.stat().st_mode & 0o077) for p in [solutions, *solutions.iterdir()]), "solutions/ is readable"
    assert list((image / "source" / ".cache" / "data").glob("*.pt")), "the images were not decoded at set-up"
    python = str(image / "venv" / "bin" / "python")
    run = subprocess.run([python, "-c", "import course_utils; print(course_utils.__file__)"], cwd="/",
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0 and run.stdout.strip().startswith(str(image / "source")), run.stdout + run.stderr


def test_a_hostile_submission_run_as_student_reaches_nothing_and_leaves_nothing(image):
    from course_utils.assign import answered
    from course_utils.grade.results import validate

    leak = image.parent / "leak"  # world-writable, outside the image: where the attempts report
    leak.mkdir(mode=0o777)
    os.chmod(leak, 0o777)
    sol = nbformat.read(ROOT / "solutions" / "01_jensen_elbo.ipynb", as_version=4)
    nb = answered(sol, {"posterior": "def posterior(log_joint):\n    _attack('phase2')\n"
                                     "    return torch.softmax(log_joint, dim=1)\n"})
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells[setup + 1:setup + 1] = [nbformat.v4.new_code_cell(_attack_cells(leak, image / "source")),
                                     nbformat.v4.new_code_cell("_attack('phase1')")]
    submission = image / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    submission.mkdir()
    nbformat.write(nb, str(submission / "01_jensen_elbo.ipynb"))

    course_before = _tree_digest(image / "source" / "course_utils")
    venv_before = sorted(p.name for p in (image / "venv").iterdir())
    solution_text = (image / "source" / "solutions" / "01_jensen_elbo.ipynb").read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "AUTOGRADER_"))}
    env.update(AUTOGRADER_ROOT=str(image), COURSE_GRADE_ISOLATION="user", PYTHONPATH="")
    proc = subprocess.run([str(image / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    text = (image / "results" / "results.json").read_text()
    results = json.loads(text)
    validate(results, "gradescope")
    assert results["score"] == pytest.approx(7.0), results["output"]  # the answers are right: full marks
    assert "unprivileged user" in proc.stdout + proc.stderr + text  # the grader said which isolation it used

    uid = pwd.getpwnam("student").pw_uid
    for where in ("phase1", "phase2"):
        report = json.loads((leak / f"tried-{where}.json").read_text())
        assert report["uid"] == uid, f"{where} ran as uid {report['uid']}, not as student"
        assert report["tried"] == {"read solutions": "PermissionError", "write results": "PermissionError",
                                   "rewrite course_utils": "PermissionError", "write the venv": "PermissionError",
                                   "leave a process": "done"}, where  # fmt: skip
        assert not (leak / f"solution-{where}.txt").exists() or not (leak / f"solution-{where}.txt").read_text()
    assert _tree_digest(image / "source" / "course_utils") == course_before
    assert sorted(p.name for p in (image / "venv").iterdir()) == venv_before
    assert (image / "source" / "solutions" / "01_jensen_elbo.ipynb").read_text() == solution_text
    shown = "\n".join([results["output"]] + [t["output"] for t in results["tests"]])
    secret = bundles.solution_lines(image / "source" / "solutions")  # solution and hidden-test lines of 01
    assert secret and not [ln for ln in secret if ln in shown], "a solution or hidden-test line reached the results"

    left = _processes_of(uid)
    assert not left, f"processes of student still running after run_autograder: {left}"
    beats = sorted(leak.glob("beat-*"))
    assert beats, "the background processes never started"
    before = {p: p.read_text() for p in beats}
    time.sleep(1.0)
    assert {p: p.read_text() for p in beats} == before, "a background process is still writing"


def _processes_of(uid: int) -> list[str]:
    """Live processes of ``uid`` (a killed one may stay a zombie until its parent reaps it: not counted)."""
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid != uid:
                continue
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
        except OSError:
            continue
        if state != "Z":
            left.append(f"{pid} {state} {cmd}")
    return left
