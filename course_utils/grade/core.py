"""The grader: one submission in, its :class:`.results.Results` out (see the package docstring).

The rooms it uses: :mod:`.spec` (what to grade), :mod:`course_utils.nbcode` (the submission's definitions),
:mod:`.limits`, :mod:`.sandbox`, :mod:`.execute` (phase 1: the notebook top to bottom), :mod:`.pool` and
:mod:`.judge` (phase 2: the tests, run by the judge in this process against the submission's sandboxed agent) and
:mod:`.results`.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import nbformat

from .. import syllabus
from ..nbcode import definitions
from ..paths import REPO_ROOT
from .execute import run_submission
from .isolation import Isolation
from .limits import Limits
from .pool import Runner, RunnerPool
from .results import Results
from .sandbox import Sandbox, user_ids
from .spec import Assignment, SpecError, find_solution, guess_assignment, load_assignment

SOLUTIONS_DIR = REPO_ROOT / "solutions"
SHARED_MODELS_NOTE = (
    "Trained models: your notebook ran with the models the course's solution trained once for the whole class "
    "(same settings, loaded instead of trained again), so its plots and numbers are those of the reference models. "
    "Your grade does not depend on them: your functions were tested directly."
)


def grade(
    submission,
    assignment: str | None = None,
    solutions_dir=None,
    profile: str = "fast",
    execute: bool = True,
    run_as: str | None = None,
    limits: Limits | None = None,
    pool: RunnerPool | None = None,
    isolation: Isolation | None = None,
    models: Path | None = None,
    exercises: list[str] | None = None,
) -> Results:
    """Grade one submission and return its results, a dict in Gradescope's shape (never raises for a bad submission).

    ``profile``: the budget of the top-to-bottom run and of the limits (``--profile``; the grader's default is
    ``fast``, whatever ``COURSE_PROFILE`` says). ``isolation`` (default: :func:`.isolation.choose`, the strongest
    this machine allows) keeps the submission's code away from the course and from other submissions. ``models``:
    trained checkpoints the top-to-bottom run starts with (a copy), instead of training them itself (batch grading
    shares the reference solution's).
    ``exercises``: grade only these (the tests' mutation suite; a class is always graded whole)."""
    t0 = time.monotonic()
    limits = limits or Limits.for_profile(profile)
    solutions_dir = Path(solutions_dir or SOLUTIONS_DIR)
    submission = Path(submission)
    spec: Assignment | None = None
    try:
        if submission.is_dir():
            submission = _pick_notebook(submission, assignment)
        if submission.is_symlink():  # read here, as the grader's user: it would read what the link names
            return Results.error(f"{submission.name} is a symbolic link: submit the notebook itself",
                                 time.monotonic() - t0, name="Submission error")
        size = submission.stat().st_size if submission.is_file() else None
        if size is not None and size > limits.notebook_mb * 1024 * 1024:
            key = assignment or guess_assignment(submission, None)
            why = (f"your notebook is {size / 2**20:.0f} MB, more than the {limits.notebook_mb} MB the grader reads. "
                   "Clear its outputs (Edit > Clear All Outputs), save, and upload it again.")
            if key is None:
                return Results.error(why, time.monotonic() - t0, name="Submission error")
            return Results.not_graded(load_assignment(find_solution(key, solutions_dir)), why,
                                      time.monotonic() - t0)
        raw = submission.read_bytes() if size is not None else None
        text = raw.decode("utf-8", errors="replace") if raw is not None else None
        key = assignment or guess_assignment(submission, text)
        if key is None:
            return Results.error(
                "cannot tell which assignment this is: pass --assignment NN "
                "(or keep the notebook's name, e.g. 01_jensen_elbo.ipynb)",
                time.monotonic() - t0,
                name="Submission error",
            )
        spec = load_assignment(find_solution(key, solutions_dir))
        if exercises is not None:
            spec = dataclasses.replace(spec, units=[u for u in spec.units if u.exercise in exercises])
    except SpecError as e:
        return Results.error(str(e), time.monotonic() - t0)
    except Exception as e:  # noqa: BLE001
        return Results.error(f"{type(e).__name__}: {e}", time.monotonic() - t0)

    try:
        nb = nbformat.reads(text, as_version=4) if text is not None else None
        if nb is not None:
            nb.cells  # noqa: B018 - raises on a notebook without cells
    except Exception as e:  # noqa: BLE001 - not JSON, not a notebook
        nb = None
        read_error = f"{type(e).__name__}: {str(e)[:200]}"
    else:
        read_error = None if nb is not None else f"{submission} does not exist"
    if nb is None:
        return Results.not_graded(
            spec,
            f"your notebook could not be read ({read_error}). Upload the .ipynb file itself, saved by Jupyter.",
            time.monotonic() - t0,
        )

    uid_gid = user_ids(run_as) if run_as else None
    sandbox = Sandbox(uid_gid, isolation, models, disk_mb=limits.disk_mb)
    runner = None
    budget = min(limits.grading_timeout, limits.submission_timeout)
    try:
        env = sandbox.env(profile, limits.threads)
        defs = definitions(nb)
        runner = Runner(spec, sandbox, env, limits)
        runner.start()  # imports torch while the notebook runs
        report = None
        if execute:
            target = sandbox.seed / "submission.ipynb"
            target.write_bytes(raw)
            os.chmod(target, 0o644)
            run_limits = dataclasses.replace(limits, total_timeout=min(limits.total_timeout,
                                                                       limits.submission_timeout / 2))
            report = run_submission(target, sandbox, env, run_limits)
        err = runner.wait_ready()
        if err:
            raise RuntimeError(f"the test runner could not start: {err}")
        runner.set_definitions(defs)
        state: dict = {"deadline": min(time.monotonic() + limits.grading_timeout, t0 + budget)}
        public = {u.test_id: runner.run(u, False, state) for u in spec.units}  # every public check first,
        hidden = {u.test_id: runner.run(u, True, state) for u in spec.units}  # then the hidden tests
        notes = defs.notes + state.get("notes", [])
        results = Results.graded(spec, public, hidden, report, defs.names(), notes, time.monotonic() - t0, nb)
        if execute and sandbox.models is not None:
            results["output"] += "\n\n" + SHARED_MODELS_NOTE
        return results
    except Exception as e:  # noqa: BLE001 - grading itself failed: still a valid file
        return Results.error(f"{type(e).__name__}: {e}", time.monotonic() - t0, spec.total_points)
    finally:
        if runner is not None:
            runner.close()  # the sandbox and everything in it goes before the next submission
        sandbox.cleanup()


def notebooks_without_links(root: Path) -> tuple[list[Path], list[str]]:
    """Every notebook under ``root`` (not in checkpoints), and a note for each symlink, which is never followed."""
    found, notes = [], []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for d in list(dirnames):
            if (here / d).is_symlink():
                notes.append(f"refused {here / d}: a symbolic link (submissions must be plain files and folders)")
                dirnames.remove(d)
        dirnames[:] = [d for d in dirnames if d != ".ipynb_checkpoints"]
        for f in filenames:
            p = here / f
            if not f.endswith(".ipynb"):
                continue
            if p.is_symlink():
                notes.append(f"refused {p}: a symbolic link (submissions must be plain files and folders)")
            elif p.is_file():
                found.append(p)
    return sorted(found), notes


def _pick_notebook(folder: Path, assignment: str | None) -> Path:
    """The notebook to grade in ``folder``: the first that is a version of ``assignment`` (by its file's name, as
    :func:`course_utils.syllabus.of_file` reads it), else the first of all."""
    found, _ = notebooks_without_links(folder)  # a link is never followed (see grade)
    if assignment:
        try:
            wanted = syllabus.get(assignment)
        except syllabus.UnknownNotebook as e:
            raise SpecError(str(e)) from None
        found = [p for p in found if syllabus.of_file(p) == wanted] or found
    if not found:
        raise SpecError(f"no .ipynb file in {folder}")
    return found[0]


__all__ = ["grade", "SOLUTIONS_DIR"]
