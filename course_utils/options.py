"""The command-line options that several ``course`` commands share, each written once."""

from __future__ import annotations

import argparse

PROFILES = ("fast", "full")
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")


def add_profile(ap: argparse.ArgumentParser, default: str | None, what: str = "the run",
                shown: str | None = None) -> None:
    """``--profile fast|full``: the one budget switch (``COURSE_PROFILE``)."""
    shown = shown or (f"default: {default}" if default else "default: $COURSE_PROFILE, else fast")
    ap.add_argument("--profile", choices=PROFILES, default=default, help=f"the profile of {what} ({shown})")


def add_notebooks(ap: argparse.ArgumentParser, what: str) -> None:
    """``NN ...``: notebooks by number."""
    ap.add_argument("numbers", nargs="*", metavar="NN", help=f"notebook numbers, e.g. 02 05 ({what})")


def add_workers(ap: argparse.ArgumentParser, what: str) -> None:
    """``--workers N``: how many at a time."""
    ap.add_argument("--workers", type=int, default=None, help=what)


def add_solutions(ap: argparse.ArgumentParser) -> None:
    """``--solutions DIR``: where the solution notebooks (and their hidden tests) are."""
    ap.add_argument("--solutions", help="the folder with the solution notebooks and their hidden tests (default: the "
                                        "clone's solutions/)")


def add_grading(ap: argparse.ArgumentParser, assignment_help: str, profile: str | None = "fast") -> None:
    """What ``course grade`` and ``course grade-batch`` share: the assignment, the solutions, the profile, whether
    the notebook runs top to bottom, and Gradescope's visibility of the hidden tests."""
    ap.add_argument("--assignment", help=assignment_help)
    add_solutions(ap)
    add_profile(ap, profile, "the graded runs")
    ap.add_argument("--no-execute", action="store_true", help="skip running the notebook top to bottom (tests only)")
    ap.add_argument("--hidden-visibility", choices=VISIBILITIES, default="visible",
                    help="Gradescope's visibility of the hidden tests' results (default: visible)")


LMS_SYSTEMS = ("canvas", "moodle")


def add_lms(ap: argparse.ArgumentParser) -> None:
    """``--lms canvas|moodle``, ``--roster FILE`` and ``--lms-assignment NN=TITLE``: also write
    ``DIR/gradebook-<lms>.csv`` in that system's import format (``course_utils.grade.lms``)."""
    ap.add_argument("--lms", choices=LMS_SYSTEMS,
                    help="also write DIR/gradebook-LMS.csv for that system's grade import (docs/tas.md)")
    ap.add_argument("--roster", metavar="FILE",
                    help="CSV: student (as in gradebook.csv) and the LMS's identifiers: Canvas: id, sis_user_id, "
                         "sis_login_id, name, section; Moodle: email, idnumber or username")
    ap.add_argument("--lms-assignment", action="append", default=[], metavar="NN=TITLE",
                    help="the LMS column of assignment NN (again for each; default: its name, e.g. 01_jensen_elbo); "
                         "for Canvas its title and id as Canvas's export writes it, e.g. 'Notebook 1 (4821)'")
