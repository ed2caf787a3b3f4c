"""The notebooks of the course, written once: number, name, whether they train, their checks, their paths.

Everything that needs to know which notebooks exist asks here: the command line, the capstone, the grader, the
tests and the tools. Adding a notebook is a line in :data:`NOTEBOOKS` (and, if it has exercises, a
``course_utils/checks/nbNN.py``) plus the notebook itself in ``solutions/``.

    from course_utils import syllabus
    syllabus.get("2").name                     # "02_autoencoders"
    [nb.name for nb in syllabus.training()]    # the notebooks whose full profile trains models here
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .paths import REPO_ROOT


@dataclass(frozen=True)
class Notebook:
    number: str  # "01"
    name: str  # "01_jensen_elbo": the file's stem in solutions/ and notebooks/, and setup_notebook's argument
    title: str
    trains: bool  # its full profile trains models on this machine (slow on a CPU); 06 loads the releases
    checks: str | None  # its module in course_utils.checks ("nb02"), None for a notebook without exercises
    assignment: bool  # graded: it has exercises with nbgrader test cells

    def solution(self, root: Path = REPO_ROOT) -> Path:
        return root / "solutions" / f"{self.name}.ipynb"

    def student(self, root: Path = REPO_ROOT) -> Path:
        return root / "notebooks" / f"{self.name}.ipynb"

    @property
    def checks_module(self) -> str | None:
        return f"course_utils.checks.{self.checks}" if self.checks else None


NOTEBOOKS: tuple[Notebook, ...] = (
    Notebook("01", "01_jensen_elbo", "Jensen's inequality and the ELBO", False, "nb01", True),
    Notebook("02", "02_autoencoders", "Autoencoders", True, "nb02", True),
    Notebook("03", "03_vae", "Variational autoencoders", True, "nb03", True),
    Notebook("04", "04_simclr", "SimCLR", True, "nb04", True),
    Notebook("05", "05_mae", "Masked autoencoders", True, "nb05", True),
    Notebook("06", "06_when_does_ssl_work", "When does self-supervised learning work?", False, None, False),
)


class UnknownNotebook(KeyError):
    def __str__(self) -> str:
        return self.args[0]


def get(key: str | int) -> Notebook:
    """A notebook by number (``"2"``, ``"02"``, ``2``), by name (``"02_autoencoders"``) or by a name's number
    prefix (``"02_anything"``)."""
    text = str(key).strip()
    number = text.split("_", 1)[0]
    if number.isdigit():
        number = f"{int(number):02d}"
        for nb in NOTEBOOKS:
            if nb.number == number and (text == number or text.isdigit() or text == nb.name or "_" in text):
                return nb
    known = ", ".join(nb.name for nb in NOTEBOOKS)
    raise UnknownNotebook(f"there is no notebook {key!r} in the course (there are: {known})")


def names() -> list[str]:
    return [nb.name for nb in NOTEBOOKS]


def training() -> list[Notebook]:
    """The notebooks whose full profile trains models here."""
    return [nb for nb in NOTEBOOKS if nb.trains]


def with_checks() -> list[Notebook]:
    """The notebooks with exercises, each with its checks module."""
    return [nb for nb in NOTEBOOKS if nb.checks]


def assignments() -> list[Notebook]:
    return [nb for nb in NOTEBOOKS if nb.assignment]


__all__ = ["Notebook", "NOTEBOOKS", "UnknownNotebook", "get", "names", "training", "with_checks", "assignments"]
