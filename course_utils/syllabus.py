"""The notebooks of the course, written once: number, name, whether they train, their checks, their paths.

Everything that needs to know which notebooks exist asks here: the command line, the capstone, the grader, the
tests and the tools. Adding a notebook is a line in :data:`NOTEBOOKS` (and, if it has exercises, a
``course_utils/checks/nbNN.py``) plus the notebook itself in ``solutions/``.

    from course_utils import syllabus
    syllabus.get("2").name                     # "02_autoencoders"; also 2, "02", "02_autoencoders.ipynb"
    syllabus.get("02").solution_in(folder)     # folder / "02_autoencoders.ipynb": a solutions folder elsewhere
    syllabus.of_file("02_autoencoders-Copy1.ipynb")   # the notebook a file is a copy of (None: none)
    [nb.name for nb in syllabus.training()]    # the notebooks whose full profile trains models here
    syllabus.select(["3", "02"])               # [02, 03]: the notebooks a command line names, all for none
    syllabus.in_folder(folder)                 # the course's notebooks whose file is in folder

The registry knows the notebooks and their file names; where the files are is the caller's argument (the clone's
``solutions/`` and ``notebooks/`` by default, the grader's ``--solutions DIR``).
"""

from __future__ import annotations

import re
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

    @property
    def filename(self) -> str:
        """``02_autoencoders.ipynb``: its file's name, in ``solutions/`` and in ``notebooks/`` alike."""
        return f"{self.name}.ipynb"

    def solution(self, root: Path = REPO_ROOT) -> Path:
        return self.solution_in(Path(root) / "solutions")

    def solution_in(self, folder: Path) -> Path:
        """Its solution notebook in ``folder``, a folder of solution notebooks (``--solutions DIR``)."""
        return self.path_in(folder)

    def path_in(self, folder: Path) -> Path:
        """Its file in ``folder``, any folder of the course's notebooks (solutions, student notebooks, a copy)."""
        return Path(folder) / self.filename

    def student(self, root: Path = REPO_ROOT) -> Path:
        return Path(root) / "notebooks" / self.filename

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
# The lecture's order (supervised recap -> pretext tasks -> AE -> DAE -> VAE -> ELBO -> reparameterization ->
# contrastive -> SimCLR -> MAE -> Cole et al.): 02 holds the recap, the AE, the DAE and the pretext tasks; 03 the VAE
# and the reparameterization, around 01's ELBO (docs/lecture.md says where to switch). The slides' index follows it.
LECTURE_ORDER: tuple[str, ...] = ("02", "03", "01", "04", "05", "06")


class UnknownNotebook(KeyError):
    def __str__(self) -> str:
        return self.args[0]


_RAISE = object()


def get(key: str | int | Path, default=_RAISE) -> Notebook:
    """A notebook by number (``"2"``, ``"02"``, ``2``), by name (``"02_autoencoders"``), by its file's name or
    path (``"02_autoencoders.ipynb"``, ``solutions/02_autoencoders.ipynb``) or by a name's number prefix
    (``"02_anything"``). Anything else raises :class:`UnknownNotebook`, whose message lists the notebooks, or
    returns ``default`` where one is given (``get(key, None)``)."""
    text = Path(str(key).strip()).name.removesuffix(".ipynb")
    number = text.split("_", 1)[0]
    if number.isdigit():
        number = f"{int(number):02d}"
        for nb in NOTEBOOKS:
            if nb.number == number and (text == number or text.isdigit() or text == nb.name or "_" in text):
                return nb
    if default is not _RAISE:
        return default
    known = ", ".join(nb.name for nb in NOTEBOOKS)
    raise UnknownNotebook(f"there is no notebook {key!r} in the course (there are: {known})")


def number_in(key: str | int | Path | None) -> str | None:
    """The notebook number ``key`` starts with, listed here or not: ``"7"``, ``"07_x"``, ``7`` -> ``"07"``;
    None for a key without one (``"homework"``, ``"123_x"``). For telling another assignment's notebook
    (``"99_x"``, a number the course may not list) from one that names none; :func:`get` finds a listed one."""
    m = re.match(r"0*(\d{1,2})(?:_|$)", Path(str(key if key is not None else "").strip()).name.removesuffix(".ipynb"))
    return f"{int(m.group(1)):02d}" if m else None


def of_file(path: str | Path) -> Notebook | None:
    """The notebook a file is a version of, by its name: ``02_autoencoders.ipynb``, a student's
    ``02_autoencoders-Copy1.ipynb`` or ``02_mine.ipynb`` (a notebook's number, then ``_``); None for any other
    name."""
    m = re.match(r"(\d+)_", Path(path).name)
    return get(m.group(1), None) if m else None


def select(keys=()) -> list[Notebook]:
    """The notebooks ``keys`` name (each as :func:`get` takes it), in the course's order and once each; every
    notebook when ``keys`` is empty. An unknown key raises :class:`UnknownNotebook`, whose message lists them."""
    chosen = {get(key) for key in keys}
    return [nb for nb in NOTEBOOKS if not chosen or nb in chosen]


def in_folder(folder: str | Path, notebooks=None) -> list[Notebook]:
    """The notebooks (of ``notebooks``, default all) whose file is in ``folder``, in the course's order: what a
    ``solutions/``, ``notebooks/`` or ``--solutions DIR`` holds of the course. Other files there are not asked."""
    return [nb for nb in (NOTEBOOKS if notebooks is None else notebooks) if nb.path_in(Path(folder)).is_file()]


def in_lecture_order() -> list[Notebook]:
    """The notebooks in the order the lecture takes them (:data:`LECTURE_ORDER`), then any it does not name."""
    first = [get(number) for number in LECTURE_ORDER]
    return first + [nb for nb in NOTEBOOKS if nb not in first]


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


__all__ = ["Notebook", "NOTEBOOKS", "LECTURE_ORDER", "UnknownNotebook", "get", "number_in", "of_file", "select",
           "in_folder", "in_lecture_order", "names", "training", "with_checks", "assignments"]
