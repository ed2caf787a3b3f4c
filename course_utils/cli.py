"""The course's one command line: ``course COMMAND [options]``, also ``python -m course_utils COMMAND``.

Installed as a console script with the package (``pip install -e ".[lab]"`` puts ``course`` next to the
environment's ``python``), so it runs the same on Linux, macOS and Windows. ``./course`` in the repository only
bootstraps ``.venv`` (and, where apt is usable, the Debian packages) and then runs this.

Every command has ``--help``. The student's commands (``lab``, ``setup``) work from an installed wheel alone; the
instructor's and maintainer's commands need a clone of the repository (the hidden tests, the test suite and the
tools are not installed with the package) and say so when there is none.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import paths, syllabus
from .options import add_notebooks, add_profile, add_workers
from .settings import child_environment, current, set_variables
from .testing import TEST_ENV, cpu_flags, second_kernel_set, side_by_side, testing_env

# What the grading and building commands set: no progress bars, no downloads.
QUIET_ENV = {"COURSE_PROGRESS": "0", "COURSE_DOWNLOAD": "0"}


class CourseError(Exception):
    """A command cannot go on: the message says what to do."""


@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    run: Callable[[list[str]], int]
    checkout: bool  # needs a clone of the repository


COMMANDS: dict[str, Command] = {}


def command(name: str, summary: str, checkout: bool = True):
    def register(fn: Callable[[list[str]], int]) -> Callable[[list[str]], int]:
        COMMANDS[name] = Command(name, summary, fn, checkout)
        return fn

    return register


# ---------------------------------------------------------------------------------------------------------------
# The options several commands share, written once


def parser(name: str, description: str | None = None) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=f"course {name}", description=description or COMMANDS[name].summary)


def add_test_workers(ap: argparse.ArgumentParser) -> None:
    add_workers(ap, "test files side by side, one per worker (default: $COURSE_TEST_WORKERS, else one per core, at "
                    "most 4; 1: one after the other)")


# ---------------------------------------------------------------------------------------------------------------
# Where things are


def checkout(required: bool = True) -> Path | None:
    """The clone of the course repository this package runs from, else one around the working directory."""
    for base in (paths.REPO_ROOT, *[p for p in (Path.cwd(), *Path.cwd().parents)]):
        if (base / "solutions").is_dir() and (base / "pyproject.toml").is_file() and (base / "course_utils").is_dir():
            return base
    if required:
        raise CourseError("this command needs a clone of the course repository (its tests, hidden tests and tools "
                          "are not installed with the package). Clone it, then run the command inside the clone.")
    return None


def notebook_paths(root: Path, folder: str, numbers: list[str]) -> list[Path]:
    """``root/folder``'s notebook of each number, as the registry names it (every notebook there when none is
    given)."""
    for n in numbers:
        if not (len(n) == 2 and n.isdigit()):
            raise CourseError(f"{n!r} is not a notebook number: give two digits, e.g. 02")
    try:
        chosen = syllabus.select(numbers)
    except syllabus.UnknownNotebook as e:
        raise CourseError(str(e)) from None
    if not numbers:
        return [nb.path_in(root / folder) for nb in syllabus.in_folder(root / folder)]
    missing = [nb.number for nb in chosen if not nb.path_in(root / folder).is_file()]
    if missing:
        raise CourseError(f"there is no notebook {', '.join(missing)} in {folder}/")
    return [nb.path_in(root / folder) for nb in chosen]


# ---------------------------------------------------------------------------------------------------------------
# Running other programs


def run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
    """Run ``cmd`` with ``os.environ`` plus ``env``; its exit status. Ctrl-C reaches it (same process group), and
    we wait for it to finish."""
    full = {**child_environment(), **(env or {})}
    proc = subprocess.Popen(cmd, env=full, cwd=cwd)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue


def run_main(main: Callable[[list[str]], int], argv: list[str], env: dict[str, str] | None = None) -> int:
    """Call a module's ``main(argv)`` in this process, with ``env`` set for it."""
    os.environ.update(env or {})
    return int(main(argv) or 0)


def pytest_cmd(python: str | Path = sys.executable) -> list[str]:
    return [str(python), "-m", "pytest"]


# ---------------------------------------------------------------------------------------------------------------
# Students


@command("lab", "open the course in JupyterLab (notebook 01 in a clone; the working folder otherwise)", checkout=False)
def cmd_lab(argv: list[str]) -> int:
    ap = parser("lab", "Open the course in JupyterLab. Options after these go to JupyterLab, e.g. --no-browser "
                       "--port 8890.")
    add_profile(ap, None, "the notebooks", "default: $COURSE_PROFILE, else full")
    a, rest = ap.parse_known_args(argv)
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        raise CourseError('JupyterLab is not installed here: pip install "ssl-course[lab]" (or jupyterlab), then '
                          "run course lab again") from None
    root = checkout(required=False)
    env = {"COURSE_PROFILE": a.profile} if a.profile else {}
    cmd = [sys.executable, "-m", "jupyter", "lab"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # Jupyter refuses root (containers, CI) without it
    if root is not None:
        cmd += [f"--notebook-dir={root}", str(root / "notebooks" / "01_jensen_elbo.ipynb")]
    profile = a.profile or current().profile
    print(f"[course] opening JupyterLab (COURSE_PROFILE={profile}); stop it with Ctrl-C", file=sys.stderr)
    return run(cmd + rest, env)


@command("setup", "say what this environment has: Python, torch, the device, the data, the clone", checkout=False)
def cmd_setup(argv: list[str]) -> int:
    parser("setup", "Say what the course finds in this environment. (./course setup also creates .venv.)").parse_args(
        argv)
    import platform

    import torch

    from .data import find_data_source
    from .profiles import get_device
    from .speed import autocast_dtype

    device = get_device()
    root = checkout(required=False)
    print(f"Python  : {platform.python_version()} ({sys.executable})")
    print(f"torch   : {torch.__version__}")
    print(f"device  : {device} ({'mixed precision' if autocast_dtype(device) else 'float32'})")
    print(f"data    : {find_data_source().describe()}")
    print(f"cache   : {paths.cache_dir()}")
    print(f"course  : {Path(__file__).resolve().parent}" + (f" (clone {root})" if root else " (installed)"))
    print("ready. Open the course with: course lab")
    return 0


# ---------------------------------------------------------------------------------------------------------------
# Tests


@command("test", "every test: unit tests and every notebook in both folders, fast profile")
def cmd_test(argv: list[str]) -> int:
    ap = parser("test", "Run every test (unit tests, and every notebook in both folders in the fast profile). "
                        "Other options and paths go to pytest, e.g. course test tests/test_data.py -x.")
    add_test_workers(ap)
    a, rest = ap.parse_known_args(argv)
    root = checkout()
    xdist, threads = side_by_side(a.workers, rest)
    return run(pytest_cmd() + xdist + rest, {**testing_env(), **threads}, cwd=root)


@command("test-kernels", "the training notebooks (02-05) again under a second set of CPU kernels, empty cache")
def cmd_test_kernels(argv: list[str]) -> int:
    ap = parser("test-kernels", "The solution notebooks that train (02-05) under a second set of CPU kernels (AVX2 "
                                "on x86 with AVX-512, the generic kernels elsewhere; one thread unless "
                                "OMP_NUM_THREADS says otherwise) from an empty cache: what another CPU trains must "
                                "still pass the stored values' tolerances. Other options go to pytest.")
    ap.add_argument("--cache", type=Path, default=current().kernels_cache,
                    help="train into this cache and keep it (it must hold no checkpoints yet; CI passes its own, "
                         "so that course test then evaluates the models trained here). Default: a temporary one")
    a, rest = ap.parse_known_args(argv)
    import platform

    root = checkout()
    env = {**testing_env(), **second_kernel_set(platform.machine(), cpu_flags())}
    env["OMP_NUM_THREADS"] = str(current().omp_threads or 1)
    env["MKL_NUM_THREADS"] = str(current().mkl_threads or env["OMP_NUM_THREADS"])
    if a.cache is not None:
        cache, keep = a.cache.resolve(), True
        if (cache / "checkpoints").is_dir() and any((cache / "checkpoints").iterdir()):
            raise CourseError(f"{cache} already holds checkpoints: this pass must train from scratch. Empty "
                              f"{cache / 'checkpoints'}, or leave out --cache.")
        cache.mkdir(parents=True, exist_ok=True)
    else:
        cache, keep = Path(tempfile.mkdtemp(prefix="course-kernels-")), False
        decoded = paths.cache_dir() / "data"
        if decoded.is_dir():
            _link_or_copy(decoded, cache / "data")  # decoded images: kept
    env["COURSE_CACHE"] = str(cache)
    print(f"[course] second kernel set: ATen {env['ATEN_CPU_CAPABILITY']}, oneDNN ISA "
          f"{env.get('ONEDNN_MAX_CPU_ISA', 'default')}, MKL {env.get('MKL_ENABLE_INSTRUCTIONS', 'default')}, "
          f"{env['OMP_NUM_THREADS']} thread(s), empty cache {cache}", file=sys.stderr)
    targets = [str(nb.solution(root)) for nb in syllabus.training()]
    try:
        return run(pytest_cmd() + targets + rest, env, cwd=root)
    finally:
        if not keep:
            shutil.rmtree(cache, ignore_errors=True)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        dst.symlink_to(src.resolve(), target_is_directory=True)
    except OSError:  # Windows without the right to make links
        shutil.copytree(src, dst)


@command("test-full", "every untouched student notebook (or those named) in the full profile (slow)")
def cmd_test_full(argv: list[str]) -> int:
    ap = parser("test-full", "Every untouched student notebook (or those named) in the full profile with the "
                             "released checkpoints. Slow: not part of course test. Other options go to pytest.")
    add_notebooks(ap, "default: all")
    a, rest = ap.parse_known_args(argv)
    root = checkout()
    env = {**TEST_ENV, "COURSE_PROFILE": "full", "COURSE_CHECKPOINTS": set_variables().get("COURSE_CHECKPOINTS",
                                                                                       "released")}
    env.pop("COURSE_VERIFY_STORED")
    targets = [str(p) for p in notebook_paths(root, "notebooks", a.numbers)]
    return run(pytest_cmd() + targets + ["--nbval-cell-timeout=3600", "--durations=0"] + rest, env, cwd=root)


@command("test-nbgrader", "the real nbgrader (its own environment, from PyPI) generates and autogrades the notebooks")
def cmd_test_nbgrader(argv: list[str]) -> int:
    ap = parser("test-nbgrader", "The real nbgrader 0.9.6, in an environment of its own, generates and autogrades "
                                 "the course's notebooks as course generate and course grade do. Slow: not part of "
                                 "course test. Other options go to pytest.")
    _, rest = ap.parse_known_args(argv)
    root = checkout()
    env = {**QUIET_ENV, "COURSE_NBGRADER": "1", "MPLBACKEND": "Agg"}
    return run(pytest_cmd() + ["tests/test_nbgrader.py", "-v"] + rest, env, cwd=root)


@command("e2e", "the browser test on every student notebook (course test runs it on 01); screenshots in artifacts/")
def cmd_e2e(argv: list[str]) -> int:
    ap = parser("e2e", "The browser test (JupyterLab in Debian's chromium) on every student notebook; screenshots "
                       "in artifacts/e2e/. Other options go to pytest.")
    _, rest = ap.parse_known_args(argv)
    root = checkout()
    env = {**testing_env(), "COURSE_E2E": set_variables().get("COURSE_E2E", "all")}
    return run(pytest_cmd() + ["tests/e2e", "-s"] + rest, env, cwd=root)


@command("test-matrix", "unit tests and the fast notebooks 01-05 under other Pythons and the oldest allowed torch")
def cmd_test_matrix(argv: list[str]) -> int:
    from . import matrix

    return matrix.main(argv, checkout())


@command("lint", "ruff on the code and the notebooks (--fix to repair what it can)")
def cmd_lint(argv: list[str]) -> int:
    ap = parser("lint", "ruff on conftest.py, course_utils, tests, tools, benchmarks and the notebooks. Other options "
                        "go to ruff, e.g. --fix.")
    _, rest = ap.parse_known_args(argv)
    root = checkout()
    targets = ["conftest.py", "course_utils", "tests", "tools", "benchmarks", "solutions", "notebooks"]
    return run([sys.executable, "-m", "ruff", "check", *targets, *rest], cwd=root)


@command("settings", "the environment variables the course reads: their values now, or the table (--markdown)",
         checkout=False)
def cmd_settings(argv: list[str]) -> int:
    ap = parser("settings", "The environment variables the course reads (course_utils/settings.py) and their values "
                            "now; --markdown prints the table that docs/settings.md holds.")
    ap.add_argument("--markdown", action="store_true", help="print docs/settings.md's table")
    a = ap.parse_args(argv)
    from . import settings

    if a.markdown:
        print(settings.table())
        return 0
    now, chosen = settings.current(), settings.set_variables()
    for v in settings.VARIABLES:
        mark = "set" if v.name in chosen else "default"
        print(f"{v.name:<26} {str(getattr(now, v.field)):<24} ({mark}) {v.help}")
    return 0


@command("lock", "write constraints.txt: the exact versions of this environment, which course test runs with")
def cmd_lock(argv: list[str]) -> int:
    parser("lock", "Write constraints.txt from this environment (pip freeze, without the course itself). Run it in a "
                   "fresh .venv after changing pyproject.toml's dependencies, then run course test.").parse_args(argv)
    root = checkout()
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], check=True,
                            capture_output=True, text=True).stdout.splitlines()
    target = root / "constraints.txt"
    header = [ln for ln in target.read_text().splitlines() if ln.startswith("#")] if target.exists() else []
    pins = sorted((ln for ln in frozen if ln and not ln.lower().startswith("ssl-course")), key=str.lower)
    paths.atomic_write_bytes(target, ("\n".join(header + pins) + "\n").encode())
    print(f"[course] wrote {len(pins)} pins to {target}")
    return 0


# ---------------------------------------------------------------------------------------------------------------
# Instructors and TAs: the package's own command lines


@command("generate", "write notebooks/ from solutions/ (after editing a solution; --check, --strip)")
def cmd_generate(argv: list[str]) -> int:
    checkout()
    from .assign import main

    return run_main(main, argv)


@command("instructor", "add the generated instructor notes (the usual mistakes) to the solutions")
def cmd_instructor(argv: list[str]) -> int:
    checkout()
    from .instructor import main

    return run_main(main, argv)


@command("grade", "grade one student notebook against the hidden tests; writes results.json")
def cmd_grade(argv: list[str]) -> int:
    from .grade.cli import main

    return run_main(main, argv, QUIET_ENV)


@command("grade-batch", "grade a whole class: results, feedback and gradebook.csv")
def cmd_grade_batch(argv: list[str]) -> int:
    from .grade.batch import main

    return run_main(main, argv, QUIET_ENV)


@command("written", "every student's answer to each written question, a page per question for a TA")
def cmd_written(argv: list[str]) -> int:
    from .grade.written import main

    return run_main(main, argv)


@command("written-import", "the written answers' points (the pages' CSVs) into a graded batch's results and gradebook")
def cmd_written_import(argv: list[str]) -> int:
    from .grade.written_import import main

    return run_main(main, argv)


@command("slides", "reveal.js decks into build/slides/ (full profile, released checkpoints)")
def cmd_slides(argv: list[str]) -> int:
    checkout()
    from .slides import main

    return run_main(main, argv, QUIET_ENV)


def _script(relative: str, argv: list[str], env: dict[str, str] | None = None) -> int:
    root = checkout()
    return run([sys.executable, str(root / relative), *argv], env)


@command("site", "the course website into build/site/ (executes the solutions; --no-solutions: the student site)")
def cmd_site(argv: list[str]) -> int:
    return _script("tools/build_site.py", argv, QUIET_ENV)


@command("student-bundle", "build/ssl-course-student.zip: what students get (no solutions, no hidden tests)")
def cmd_student_bundle(argv: list[str]) -> int:
    return _script("grading/bundles.py", ["student", *argv])


@command("gradescope", "build/gradescope-NN_*.zip: Gradescope's autograder for each assignment (or those named)")
def cmd_gradescope(argv: list[str]) -> int:
    return _script("grading/bundles.py", ["gradescope", *argv])


# ---------------------------------------------------------------------------------------------------------------
# Releases


RELEASE_FILES = ("pyproject.toml", "CITATION.cff", "CHANGELOG.md")  # what a release changes (and commits)


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise CourseError(f"git {' '.join(args)} failed: {(done.stderr or done.stdout).strip()[-500:]}")
    return done.stdout


def release_edits(root: Path, version: str, today: str) -> dict[str, str]:
    """The new text of each of :data:`RELEASE_FILES` for release ``version`` on ``today`` (YYYY-MM-DD): the version
    in pyproject.toml and CITATION.cff (with its date-released), and CHANGELOG.md's Unreleased section under the
    version's heading, below a new, empty Unreleased one. Raises :class:`CourseError` for what a release cannot
    follow: a version that is not X.Y.Z or not above the current one, or nothing under Unreleased."""
    import re

    def parse(v: str) -> tuple[int, ...]:
        if not re.fullmatch(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)", v):
            raise CourseError(f"{v!r} is not a version: give X.Y.Z, three numbers, e.g. 0.2.0")
        return tuple(map(int, v.split(".")))

    texts = {name: (root / name).read_text(encoding="utf-8") for name in RELEASE_FILES}
    project = re.compile(r'(?m)^version = "([^"]+)"$')
    found = project.findall(texts["pyproject.toml"])
    if len(found) != 1:
        raise CourseError('pyproject.toml: expected one line version = "X.Y.Z"')
    if parse(version) <= parse(found[0]):
        raise CourseError(f"{version} is not above the current version {found[0]} (pyproject.toml)")
    edits = {"pyproject.toml": project.sub(f'version = "{version}"', texts["pyproject.toml"])}
    cff = texts["CITATION.cff"]
    if not re.search(r"(?m)^version: .*$", cff):
        raise CourseError("CITATION.cff has no version: line")
    cff = re.sub(r"(?m)^date-released: .*\n", "", cff)
    edits["CITATION.cff"] = re.sub(r"(?m)^version: .*$", f"version: {version}\ndate-released: '{today}'", cff)
    log = texts["CHANGELOG.md"]
    heading = re.search(r"(?m)^## \[Unreleased\][ \t]*$", log)
    if not heading:
        raise CourseError("CHANGELOG.md has no '## [Unreleased]' section to release")
    rest = log[heading.end():]
    following = re.search(r"(?m)^## ", rest)
    if not rest[: following.start() if following else len(rest)].strip():
        raise CourseError("CHANGELOG.md: nothing under '## [Unreleased]': say what this release changes first")
    edits["CHANGELOG.md"] = log[: heading.start()] + f"## [Unreleased]\n\n## [{version}] - {today}" + rest
    return edits


def release_notes(changelog: str, version: str) -> str:
    """The section of ``version`` in a changelog, without its heading (the tag's message)."""
    import re

    m = re.search(rf"(?ms)^## \[{re.escape(version)}\][^\n]*\n(.*?)(?=^## |\Z)", changelog)
    return m.group(1).strip() if m else ""


def build_release(root: Path, out: Path) -> list[Path]:
    """The release's artefacts in ``out``: the students' bundle (refused if it would give answers away), the
    Gradescope autograder of each assignment, and the wheel, built from a copy of the tracked files (as from a
    clean clone: an in-tree build would reuse a stale build/)."""
    from .grade.spec import assignment_paths

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    version = release_version(root)
    bundles = [sys.executable, str(root / "grading" / "bundles.py")]
    student = out / f"ssl-course-student-{version}.zip"
    if run([*bundles, "student", "--out", str(student)], cwd=root) != 0:
        raise CourseError("the students' bundle was not built (see above)")
    stems = [p.stem for p in assignment_paths(root / "solutions")]
    if run([*bundles, "gradescope", *stems], cwd=root) != 0:
        raise CourseError("the Gradescope zips were not built (see above)")
    made = [student]
    for stem in stems:
        made.append(out / f"gradescope-{stem}-{version}.zip")
        shutil.move(root / "build" / f"gradescope-{stem}.zip", made[-1])
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        source = Path(tmp) / "ssl-course"
        for name in _git(root, "ls-files", "-z").split("\0"):
            if name and (root / name).is_file():
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / name, source / name)
        before = set(out.glob("*.whl"))
        status = run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                      str(source), "-w", str(out)])
        wheels = sorted(set(out.glob("*.whl")) - before)
        if status != 0 or len(wheels) != 1:
            raise CourseError("the wheel was not built (see above)")
    return made + wheels


def release_version(root: Path) -> str:
    import re

    return re.search(r'(?m)^version = "([^"]+)"$', (root / "pyproject.toml").read_text(encoding="utf-8")).group(1)


@command("release", "bump the version, check, build the bundles and the wheel into build/release-X.Y.Z/, tag vX.Y.Z")
def cmd_release(argv: list[str]) -> int:
    ap = parser("release", "Make release X.Y.Z: check that the working tree is clean (nothing uncommitted, no "
                           "untracked file) and run course test (CI's status is not visible from here: "
                           "--skip-tests when CI has passed on this commit); set the version in pyproject.toml and "
                           "CITATION.cff and move CHANGELOG.md's Unreleased section under it; build the students' "
                           "bundle, the Gradescope zips and the wheel into build/release-X.Y.Z/; commit those "
                           "three files and tag vX.Y.Z. Nothing is pushed. On a failure after the version is set, "
                           "the three files are put back as they were.")
    ap.add_argument("version", help="the new version, X.Y.Z, above the current one")
    ap.add_argument("--skip-tests", action="store_true",
                    help="do not run course test (say so only when CI has passed on this very commit)")
    ap.add_argument("--dry-run", action="store_true", help="check, then print the steps; change nothing")
    a = ap.parse_args(argv)
    import datetime

    root = checkout()
    today = datetime.date.today().isoformat()
    tag = f"v{a.version}"
    out = root / "build" / f"release-{a.version}"
    edits = release_edits(root, a.version, today)  # checks the version and the changelog
    if _git(root, "tag", "--list", tag).strip():
        raise CourseError(f"the tag {tag} exists already")
    dirty = _git(root, "status", "--porcelain").splitlines()
    if dirty:
        raise CourseError("the working tree is not clean; commit or remove these first:\n  " + "\n  ".join(dirty[:20]))
    _git(root, "var", "GIT_COMMITTER_IDENT")  # fails now, not at the commit, without a git identity
    steps = [f"{'skip' if a.skip_tests else 'run'} course test",
             f"set version {a.version} in pyproject.toml and CITATION.cff (date-released {today}); CHANGELOG.md: "
             f"'## [Unreleased]' becomes '## [{a.version}] - {today}'",
             f"build into {out.relative_to(root)}/: the students' bundle, the Gradescope zips, the wheel",
             f"commit {', '.join(RELEASE_FILES)} as 'Release {a.version}' and tag {tag}"]
    if a.dry_run:
        print("\n".join([f"[release] dry run for {a.version}: the checks passed; the steps:"]
                        + [f"  {i}. {s}" for i, s in enumerate(steps, 1)]))
        return 0
    print(f"[release] 1. {steps[0]}", flush=True)
    if not a.skip_tests and cmd_test([]) != 0:
        raise CourseError("course test failed: no release")
    originals = {name: (root / name).read_text(encoding="utf-8") for name in RELEASE_FILES}
    try:
        print(f"[release] 2. {steps[1]}", flush=True)
        for name, text in edits.items():
            paths.atomic_write_bytes(root / name, text.encode())
        print(f"[release] 3. {steps[2]}", flush=True)
        made = build_release(root, out)
        print(f"[release] 4. {steps[3]}", flush=True)
        tests = "skipped (--skip-tests)" if a.skip_tests else "course test passed"
        _git(root, "commit", "-q", "-m", f"Release {a.version}\n\nTests: {tests}.", "--", *RELEASE_FILES)
    except BaseException:
        for name, text in originals.items():
            paths.atomic_write_bytes(root / name, text.encode())
        raise
    notes = release_notes(edits["CHANGELOG.md"], a.version)
    _git(root, "tag", "-a", tag, "-m", f"ssl-course {a.version}\n\n{notes}")
    print("\n".join([f"[release] {a.version}: commit and tag {tag}; the artefacts:"]
                    + [f"  {p.relative_to(root)} ({p.stat().st_size / 1e6:.1f} MB)" for p in made]
                    + [f"Publish with: git push origin HEAD {tag}, and attach the artefacts to the release."]))
    return 0


# ---------------------------------------------------------------------------------------------------------------


GROUPS = {
    "students": ["lab", "setup", "settings"],
    "instructors and TAs": ["generate", "instructor", "grade", "grade-batch", "written", "written-import", "slides",
                            "site", "student-bundle", "gradescope"],
    "tests and maintenance": ["test", "test-kernels", "test-full", "test-nbgrader", "test-matrix", "e2e", "lint",
                              "lock", "release"],
}


def usage() -> str:
    width = max(map(len, COMMANDS)) + 2
    lines = ["usage: course COMMAND [options]   (also: python -m course_utils COMMAND)", "",
             "The course's command line. Every command has --help.", ""]
    for group, names in GROUPS.items():
        lines.append(f"{group}:")
        lines += [f"  {n:<{width}}{COMMANDS[n].summary}" for n in names]
        lines.append("")
    lines.append("Settings are environment variables (COURSE_PROFILE=fast|full, ...): course settings lists them.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        print(f"course: unknown command '{name}'.{hint} Run 'course --help' for the list.", file=sys.stderr)
        return 2
    try:
        return COMMANDS[name].run(rest)
    except CourseError as e:
        print(f"course {name}: {e}", file=sys.stderr)
        return 2

