"""A scratch environment with the real nbgrader, for compatibility tests and benchmarks (not a course dependency).

    python -m course_utils.grade.nbgrader_env   # makes .cache/nbgrader-venv (nbgrader 0.9.6 from PyPI), prints its path

The environment sees the course's ``.venv`` packages through a ``.pth`` file, so the kernels nbgrader starts have
torch and course_utils without a second copy of them. :func:`nbgrader_env` returns its folder and the environment
variables to run ``nbgrader`` with (its ``bin`` first on PATH: nbgrader calls ``alembic``), or raises
:class:`NbgraderUnavailable` saying why.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

from ..paths import REPO_ROOT as ROOT
from ..settings import child_environment

NBGRADER = "nbgrader==0.9.6"
ENV_DIR = ROOT / ".cache" / "nbgrader-venv"


class NbgraderUnavailable(RuntimeError):
    pass


def nbgrader_env(env_dir: Path = ENV_DIR) -> tuple[Path, dict]:
    if not (env_dir / "bin" / "nbgrader").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(env_dir)], check=True)
        pth = next((env_dir / "lib").glob("python3*/site-packages")) / "course-venv.pth"
        pth.write_text("\n".join(site.getsitepackages() + [str(ROOT)]) + "\n")
        run = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", NBGRADER],
                             capture_output=True, text=True, timeout=900)
        if run.returncode != 0:
            raise NbgraderUnavailable(f"{NBGRADER} could not be installed: {run.stderr.strip()[-300:]}")
    env = child_environment()
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}"
    env.pop("COURSE_VERIFY_STORED", None)
    return env_dir, env


def course_config(root: Path, timeout: int = 600) -> str:
    """The ``nbgrader_config.py`` of an nbgrader course on these notebooks: the one the course ships at its root
    (instructor notes, cells tagged ``instructor``, left out by ``generate_assignment`` before nbgrader's own steps,
    as ``./course generate`` removes them; docs/tas.md, "nbgrader"), then the course folder and the timeout."""
    return (
        (ROOT / "nbgrader_config.py").read_text()
        + "\nc.CourseDirectory.course_id = 'ssl'\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.ExecutePreprocessor.timeout = {timeout}\n"
    )


if __name__ == "__main__":
    print(nbgrader_env()[0])
