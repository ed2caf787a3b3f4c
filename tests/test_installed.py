"""The course as a student installs it: a wheel built from the clone (``pip install .``, not editable) carries
everything a student notebook needs, and an untouched student notebook copied to an empty folder outside the
repository runs to the end with it.

The environment under test is a fresh virtual environment holding only the wheel; the course's dependencies
(torch and the rest) come from this test's own environment through a ``.pth`` file, so nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest

from helpers import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # built from a copy, as from a clean clone: an in-tree build leaves build/ behind, which the next build reuses
    source = tmp_path_factory.mktemp("source") / "ssl-course"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", ".cache", "build", "artifacts",
                                                                 "node_modules", "__pycache__", "*.egg-info"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           str(source), "-w", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    (found,) = out.glob("ssl_course-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh environment with the wheel installed (and the test environment's packages visible); its python."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "course-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                           "--ignore-installed", str(wheel)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return python


def test_the_wheel_carries_what_a_student_needs(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.relative_to(ROOT).as_posix() for folder in ("stored_values", "released", "templates")
               for p in (ROOT / "course_utils" / folder).rglob("*") if p.is_file()}
    assert shipped, "nothing to ship?"
    missing = sorted(shipped - names)
    assert not missing, f"the wheel lacks {missing[:5]} ({len(missing)} files): see [tool.setuptools.package-data]"
    manifest = json.loads((ROOT / "course_utils" / "released" / "manifest.json").read_text())
    assert manifest, "the released checkpoints' manifest lists them"
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "course = course_utils.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
    assert not any(n.startswith(("solutions/", "tests/", "notebooks/")) for n in names), "no solutions, no tests"


def test_an_untouched_student_notebook_runs_outside_the_repository(installed, tmp_path):
    work, home = tmp_path / "homework", tmp_path / "home"
    work.mkdir(), home.mkdir()
    nb = nbformat.read(ROOT / "notebooks" / "01_jensen_elbo.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import course_utils; print('COURSE_UTILS_AT', course_utils.__file__)"))
    nbformat.write(nb, work / "01_jensen_elbo.ipynb")
    script = ("import nbformat, nbclient\n"
              "nb = nbformat.read('01_jensen_elbo.ipynb', as_version=4)\n"
              "nbclient.NotebookClient(nb, kernel_name='python3', timeout=600,\n"
              "                        resources={'metadata': {'path': '.'}}).execute()\n"
              "nbformat.write(nb, 'executed.ipynb')\n")
    env = {**os.environ, "HOME": str(home), "USERPROFILE": str(home), "COURSE_PROFILE": "fast",
           "COURSE_DOWNLOAD": "0", "MPLBACKEND": "Agg", "PYTHONPATH": ""}
    for var in ("COURSE_CACHE", "COURSE_DATA"):  # the defaults of an installed package are under test
        env.pop(var, None)
    done = subprocess.run([str(installed), "-c", script], cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    executed = nbformat.read(work / "executed.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", []))
    where = text.split("COURSE_UTILS_AT", 1)[1].split()[0]
    assert Path(where).is_relative_to(installed.parents[1]), f"the kernel imported course_utils from {where}"
    assert "[PASS]" in text or "[TODO]" in text, "the checks ran"
    assert not list(Path(where).parent.parent.glob(".cache")), "nothing is written into site-packages"


def test_the_command_line_without_a_clone(installed, tmp_path):
    bindir = installed.parent
    course = bindir / ("course.exe" if os.name == "nt" else "course")
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": ""}
    shown = subprocess.run([str(course), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert shown.returncode == 0 and "lab" in shown.stdout and "grade-batch" in shown.stdout
    refused = subprocess.run([str(course), "test"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "clone of the course repository" in refused.stderr
    graded = subprocess.run([str(course), "grade", str(ROOT / "notebooks" / "01_jensen_elbo.ipynb"), "--out",
                             str(tmp_path / "results.json"), "--no-execute", "--quiet"], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    results = json.loads((tmp_path / "results.json").read_text())
    assert "never installed with the package" in json.dumps(results), (graded.stderr[-2000:], results)
