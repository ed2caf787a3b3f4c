"""course release X.Y.Z (course_utils/cli.py), run in a temporary clone of this repository with --skip-tests: the
version bump, the changelog, the commit and the tag, and the artefacts in build/release-X.Y.Z/; and what it
refuses (a bad version, a dirty tree, an existing tag), with --dry-run changing nothing.

The clone is of the last commit, with this working tree's course_utils/cli.py over it (committed in the clone), so
that the command under test is the one being edited.
"""

import datetime
import os
import shutil
import subprocess
import sys
import zipfile

import pytest
import yaml

from course_utils import syllabus
from helpers import ROOT

if shutil.which("git") is None:
    pytest.skip("needs git", allow_module_level=True)


def _git(repo, *args):
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def clone(tmp_path):
    repo = tmp_path / "ssl-course"
    _git(tmp_path, "clone", "-q", str(ROOT), str(repo))
    _git(repo, "config", "user.name", "Release Test")
    _git(repo, "config", "user.email", "release-test@example.org")
    shutil.copy2(ROOT / "course_utils" / "cli.py", repo / "course_utils" / "cli.py")
    log = repo / "CHANGELOG.md"  # something to release, also right after a release emptied Unreleased
    log.write_text(log.read_text().replace("## [Unreleased]\n", "## [Unreleased]\n\n- A change for the test.\n", 1))
    _git(repo, "commit", "-q", "-m", "the working tree's command line, a change to release", "--",
         "course_utils/cli.py", "CHANGELOG.md")
    return repo


def _release(repo, *args):
    """``python -m course_utils release ARGS`` in the clone, with the clone's own course_utils."""
    env = {**os.environ, "PYTHONPATH": str(repo), "COURSE_PROGRESS": "0", "COURSE_DOWNLOAD": "0"}
    return subprocess.run([sys.executable, "-m", "course_utils", "release", *args], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=600)


def _version(repo):
    import re

    return re.search(r'(?m)^version = "([^"]+)"$', (repo / "pyproject.toml").read_text()).group(1)


def test_a_release_bumps_commits_tags_and_builds(clone):
    start = _git(clone, "rev-parse", "HEAD")
    current = tuple(map(int, _version(clone).split(".")))
    version = f"{current[0]}.{current[1] + 1}.0"
    done = _release(clone, version, "--skip-tests")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    today = datetime.date.today().isoformat()

    # the commit: the three files, on top of the last one, and nothing left over
    assert _git(clone, "rev-parse", "HEAD~1") == start
    assert _git(clone, "log", "-1", "--format=%s") == f"Release {version}"
    assert "Tests: skipped (--skip-tests)" in _git(clone, "log", "-1", "--format=%b")
    changed = _git(clone, "diff", "--name-only", "HEAD~1", "HEAD").split()
    assert sorted(changed) == ["CHANGELOG.md", "CITATION.cff", "pyproject.toml"]
    assert _git(clone, "status", "--porcelain") == ""
    assert _git(clone, "describe", "--exact-match", "HEAD") == f"v{version}"
    assert _git(clone, "cat-file", "-t", f"v{version}") == "tag"  # annotated, with the changelog's section
    message = _git(clone, "tag", "-l", "--format=%(contents)", f"v{version}")
    assert message.startswith(f"ssl-course {version}") and "- A change for the test." in message

    # the version, the citation and the changelog
    assert _version(clone) == version
    cff = yaml.safe_load((clone / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["version"] == version and str(cff["date-released"]) == today
    log = (clone / "CHANGELOG.md").read_text()
    assert f"## [Unreleased]\n\n## [{version}] - {today}\n" in log
    assert log.count("## [Unreleased]") == 1

    # the artefacts
    out = clone / "build" / f"release-{version}"
    stems = sorted(nb.name for nb in syllabus.in_folder(clone / "solutions", syllabus.assignments()))
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"ssl-course-student-{version}.zip", f"ssl_course-{version}-py3-none-any.whl"]
        + [f"gradescope-{s}-{version}.zip" for s in stems])
    with zipfile.ZipFile(out / f"ssl-course-student-{version}.zip") as zf:
        names = zf.namelist()
        assert f'version = "{version}"' in zf.read("ssl-course/pyproject.toml").decode()
    assert "ssl-course/notebooks/01_jensen_elbo.ipynb" in names and not any("solutions/" in n for n in names)
    for s in stems:
        with zipfile.ZipFile(out / f"gradescope-{s}-{version}.zip") as zf:
            assert {"setup.sh", "run_autograder", f"solutions/{s}.ipynb"} <= set(zf.namelist())
    with zipfile.ZipFile(out / f"ssl_course-{version}-py3-none-any.whl") as zf:
        info = f"ssl_course-{version}.dist-info"
        metadata = zf.read(f"{info}/METADATA").decode()
        assert f"Version: {version}" in metadata and "License-Expression: MIT" in metadata
        assert zf.read(f"{info}/licenses/LICENSE").decode().startswith("MIT License")


def test_release_refuses_and_a_dry_run_changes_nothing(clone):
    head = _git(clone, "rev-parse", "HEAD")
    current = _version(clone)
    major, minor, _ = map(int, current.split("."))
    nxt = f"{major}.{minor + 1}.0"
    for bad, why in (("1.2", "not a version"), ("v1.2.3", "not a version"), ("01.2.3", "not a version"),
                     (current, "not above the current version")):
        done = _release(clone, bad, "--skip-tests")
        assert done.returncode == 2 and why in done.stderr, (bad, done.stderr)

    done = _release(clone, nxt, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "dry run" in done.stdout and f"tag v{nxt}" in done.stdout and "run course test" in done.stdout

    (clone / "notes.txt").write_text("not committed\n")
    done = _release(clone, nxt, "--skip-tests")
    assert done.returncode == 2 and "not clean" in done.stderr and "notes.txt" in done.stderr
    (clone / "notes.txt").unlink()

    _git(clone, "tag", f"v{nxt}")
    done = _release(clone, nxt, "--skip-tests")
    assert done.returncode == 2 and "exists already" in done.stderr
    _git(clone, "tag", "-d", f"v{nxt}")

    assert _git(clone, "rev-parse", "HEAD") == head and _git(clone, "status", "--porcelain") == ""
    assert _version(clone) == current and not (clone / "build").exists()


def test_an_empty_unreleased_section_is_refused(tmp_path):
    from course_utils.cli import CourseError, release_edits

    for name in ("pyproject.toml", "CITATION.cff"):
        shutil.copy2(ROOT / name, tmp_path / name)
    (tmp_path / "CHANGELOG.md").write_text("# Changelog\n\n## [Unreleased]\n\n## [0.0.1] - 2026-01-01\n\n- a\n")
    with pytest.raises(CourseError, match="nothing under"):
        release_edits(tmp_path, "99.0.0", "2026-12-07")
    (tmp_path / "CHANGELOG.md").write_text("# Changelog\n\n## [Unreleased]\n\n- b\n\n## [0.0.1] - 2026-01-01\n\n- a\n")
    edits = release_edits(tmp_path, "99.0.0", "2026-12-07")
    assert edits["CHANGELOG.md"] == ("# Changelog\n\n## [Unreleased]\n\n## [99.0.0] - 2026-12-07\n\n- b\n\n"
                                     "## [0.0.1] - 2026-01-01\n\n- a\n")
    assert "version: 99.0.0\ndate-released: '2026-12-07'\n" in edits["CITATION.cff"]
