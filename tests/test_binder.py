"""Binder: the repository follows repo2docker's conventions (checked offline; nothing is built here).

repo2docker reads only ``binder/`` when that folder exists (so the root's ``environment.yml``, whose ``- -e .``
cannot work there, is ignored); ``runtime.txt`` ``python-X.Y`` selects its Python build pack, and ``postBuild``,
an executable script, runs from the repository root once the repository is in the image."""

import os
import re
import shutil
import subprocess
import tomllib

import nbformat

from course_utils import syllabus
from course_utils.assign import generate
from helpers import ROOT

BINDER = ROOT / "binder"


def test_binder_folder_is_what_repo2docker_reads():
    assert BINDER.is_dir()
    configs = {p.name for p in BINDER.iterdir()} - {"README.md"}
    assert configs == {"runtime.txt", "postBuild", "start"}, f"unexpected repo2docker configuration: {configs}"
    runtime = (BINDER / "runtime.txt").read_text().strip()
    wanted = re.search(r">=\s*(3\.\d+)", tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
                       ["requires-python"]).group(1)  # fmt: skip
    assert runtime == f"python-{wanted}", f"runtime.txt says {runtime!r}; pyproject.toml requires Python {wanted}"


def test_postbuild_is_an_executable_script_that_installs_the_package_with_cpu_torch():
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK) and post.stat().st_mode & 0o111, "postBuild must be executable (chmod +x)"
    text = post.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    subprocess.run(["bash", "-n", str(post)], check=True)  # it parses
    commands = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    install = [ln for ln in commands if "pip install" in ln]
    assert len(install) == 1, install
    assert re.search(r"(^|\s)-e \.(\s|$)", install[0]), "postBuild must install this repository's package (-e .)"
    assert "download.pytorch.org/whl/cpu" in install[0], "Binder has no GPU: CPU torch wheels"


def test_every_notebook_links_binder_next_to_colab(tmp_path):
    """Generated with a public address, every student notebook's first line opens it on Colab and on Binder."""
    repo = "https://github.com/some-university/ssl-course"
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    generate(tmp_path / "solutions", tmp_path / "notebooks", repo)
    paths = sorted((tmp_path / "notebooks").glob("*.ipynb"))
    assert paths == [nb.student(tmp_path) for nb in syllabus.NOTEBOOKS]
    for path in paths:
        first = nbformat.read(path, as_version=4).cells[0].source.split("\n", 1)[0]
        assert "colab.research.google.com/github/some-university/ssl-course/" in first, path.name
        assert "mybinder.org/v2/gh/some-university/ssl-course/main?" in first, path.name
        assert f"urlpath=lab/tree/notebooks/{path.name}" in first, path.name


def test_the_committed_notebooks_link_binder_only_with_colab():
    """Without a public address the committed notebooks have neither badge (no dead links); with one, both."""
    for path in [nb.student(ROOT) for nb in syllabus.NOTEBOOKS] + [nb.solution(ROOT) for nb in syllabus.NOTEBOOKS]:
        first = nbformat.read(path, as_version=4).cells[0].source.split("\n", 1)[0]
        assert ("colab.research.google.com" in first) == ("mybinder.org/v2/gh/" in first), path.name


def test_start_defaults_binder_to_the_fast_profile_and_runs_the_server():
    start = BINDER / "start"
    assert os.access(start, os.X_OK), "start must be executable (chmod +x)"
    subprocess.run(["bash", "-n", str(start)], check=True)
    env = {k: v for k, v in os.environ.items() if k != "COURSE_PROFILE"}
    run = subprocess.run([str(start), "bash", "-c", "echo $COURSE_PROFILE"], env=env, capture_output=True, text=True)
    assert run.stdout.strip() == "fast", run.stdout + run.stderr  # and it runs the command it is given
    env["COURSE_PROFILE"] = "full"
    run = subprocess.run([str(start), "bash", "-c", "echo $COURSE_PROFILE"], env=env, capture_output=True, text=True)
    assert run.stdout.strip() == "full"  # a profile the user chose stays
