"""What an assignment grades, read from its solution notebook (the single source of the hidden tests).

A solution notebook ``solutions/NN_topic.ipynb`` marks each exercise with nbgrader metadata:

- the exercise cell: ``solution: true``, ``grade_id`` = the graded function's (or class's) name;
- the test cell: ``grade: true``, ``points``, ``grade_id`` = ``<name>_test``, holding the public check the student
  sees, then the hidden tests between the hidden-test markers.

Each test cell becomes one :class:`Unit`: its top-level statements, each marked public or hidden. Statements
that test something (an ``assert``; a loop or other block with asserts inside, as one test; a call of a check such
as ``checks.check_elbo(elbo)``) are the *checks* that share the cell's points; other statements
(``_lj = torch.tensor(...)``, ``torch.manual_seed(3)``, ``loss.backward()``) only prepare inputs.

A **written question** (a derivation or a short answer) is nbgrader's "manually graded answer": a markdown cell with
``solution: true, grade: true, points``, its ``grade_id`` the question's name, holding the model answer and the
rubric between the solution markers (students get ``YOUR ANSWER HERE``). The markdown cell just above it states the
question. Each becomes one :class:`Written`: the grader never scores it, it says whether the student answered
(an unchanged or empty cell is 0 points, as nbgrader's autograde gives it) and that the rest awaits a person.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .. import syllabus
from ..nbcode import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    MarkerError,
    block_lines,
    blocks,
    defined_names,
    is_instructor_note,
    strip_magics,
)

CHECK, ASSERT, SETUP = "check", "assert", "setup"


class SpecError(ValueError):
    """A solution notebook that cannot be graded (missing tests, unparsable test cell)."""


@dataclass
class Statement:
    source: str
    kind: str  # CHECK, ASSERT or SETUP
    hidden: bool
    line: int

    @property
    def counts(self) -> bool:
        return self.kind in (CHECK, ASSERT)


@dataclass
class Unit:
    """One graded test cell: the checks of one exercise, worth ``points``."""

    exercise: str  # the graded name, e.g. "elbo"
    test_id: str  # the test cell's grade_id, e.g. "elbo_test"
    points: float
    number: int  # 1, 2, ... in notebook order
    statements: list[Statement] = field(default_factory=list)
    optional: bool = False  # an optional exercise (metadata.course.optional): graded, reported, not in the score

    @property
    def public(self) -> list[Statement]:
        return [s for s in self.statements if not s.hidden]

    @property
    def hidden(self) -> list[Statement]:
        return [s for s in self.statements if s.hidden]

    @property
    def n_checks(self) -> int:
        return sum(s.counts for s in self.statements)


@dataclass
class Written:
    """One written question (a manually graded markdown answer), worth ``points``, graded by a person."""

    question: str  # its grade_id, e.g. "jensen_step"
    points: float
    number: int  # 1, 2, ... in notebook order ("Written 1")
    prompt: str  # the markdown cell above the answer cell: the question as students read it
    solution: str  # the model answer and the rubric (the solution block of the answer cell)
    stub: str  # the answer cell as students get it ("YOUR ANSWER HERE")
    optional: bool = False  # an optional question (metadata.course.optional)

    def answer(self, nb) -> str | None:
        """The student's answer in the notebook ``nb`` (the markdown cell with this question's grade_id), or None
        when the notebook has no such cell."""
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader") or {}
            if meta.get("grade_id") == self.question and cell.get("cell_type") in ("markdown", "raw"):
                return cell.get("source", "")
        return None

    def answered(self, text: str | None) -> bool:
        """Whether ``text`` answers the question: neither missing, empty, nor the cell as students got it."""
        return bool(text and text.strip() and text.strip() != self.stub.strip())


@dataclass
class Assignment:
    notebook: str  # "01_jensen_elbo"
    path: Path
    setup_source: str  # the solution's setup cell, magics removed
    units: list[Unit]
    graded_names: list[str]  # every top-level name the solution cells define
    written: list[Written] = field(default_factory=list)  # the questions a person grades

    @property
    def number(self) -> str:
        """``"01"``: the number its name starts with (:func:`course_utils.syllabus.number_in`)."""
        return syllabus.number_in(self.notebook) or self.notebook

    @property
    def total_points(self) -> float:
        """Every exercise's points, optional ones included (what nbgrader's autograde totals)."""
        return float(sum(u.points for u in self.units))

    @property
    def core_points(self) -> float:
        """The points of the core exercises: the autograded score's maximum."""
        return float(sum(u.points for u in self.units if not u.optional))

    @property
    def written_points(self) -> float:
        """The points of the written questions (graded by a person, not in :attr:`total_points`)."""
        return float(sum(w.points for w in self.written))

    @property
    def n_hidden(self) -> int:
        return sum(1 for u in self.units for s in u.hidden if s.counts)

    @property
    def checks_module(self) -> str:
        return f"course_utils.checks.nb{self.number}"


def _is_check_call(node: ast.AST) -> bool:
    """``checks.check_<name>(...)``: a call of one of the course's checks."""
    f = node.func if isinstance(node, ast.Call) else None
    return (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "checks"
            and f.attr.startswith("check_"))


def _kind(node: ast.stmt) -> str:
    """ASSERT for an ``assert``, and for a compound statement (a loop, ``with``, ``if``) with an assert or a check
    inside, which counts as one test; CHECK for a call of a check; SETUP for everything else (``x = ...``, and bare
    calls such as ``torch.manual_seed(3)`` or ``loss.backward()``, which test nothing)."""
    if isinstance(node, ast.Assert):
        return ASSERT
    if isinstance(node, ast.Expr) and _is_check_call(node.value):
        return CHECK
    if isinstance(node, (ast.For, ast.While, ast.With, ast.If, ast.Try)) and any(
            isinstance(n, ast.Assert) or (isinstance(n, ast.Expr) and _is_check_call(n.value)) for n in ast.walk(node)):
        return ASSERT
    return SETUP


def split_test_cell(source: str, where: str = "test cell") -> list[Statement]:
    """The top-level statements of a test cell, each marked hidden or public."""
    try:
        hidden_blocks = blocks(source, BEGIN_HIDDEN, END_HIDDEN, where)
    except MarkerError:
        raise SpecError(f"{where}: unbalanced hidden-test markers") from None
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise SpecError(f"{where}: cannot parse ({e})") from None
    out = []
    for node in tree.body:
        hidden = any(b < node.lineno and node.end_lineno < e for b, e in hidden_blocks)
        out.append(Statement(ast.get_source_segment(source, node), _kind(node), hidden, node.lineno))
    return out


def is_optional(cell) -> bool:
    """Whether ``cell`` belongs to an optional section (``metadata.course.optional``): graded and reported, but not
    in the score."""
    return bool((cell.get("metadata", {}).get("course") or {}).get("optional"))


def is_written(cell) -> bool:
    """Whether ``cell`` is a written question's answer cell (nbgrader's manually graded answer)."""
    meta = cell.get("metadata", {}).get("nbgrader") or {}
    return (cell.get("cell_type") == "markdown" and bool(meta.get("solution")) and bool(meta.get("grade"))
            and float(meta.get("points", 0) or 0) > 0)


def _written(path: Path, nb) -> list[Written]:
    from ..assign import student_source  # (assign imports nothing from the grader)

    out = []
    for k, cell in enumerate(nb.cells):
        if not is_written(cell):
            continue
        meta = cell.metadata["nbgrader"]
        name = meta.get("grade_id")
        where = f"{path.name}, written question {name!r}"
        if not name:
            raise SpecError(f"{path.name}, cell {k}: a manually graded answer cell without a grade_id")
        try:
            solution = "\n".join(block_lines(cell.source, BEGIN_SOLUTION, END_SOLUTION, where)).strip()
        except MarkerError as e:
            raise SpecError(str(e)) from None
        if not solution:
            raise SpecError(f"{where}: the answer cell holds no model answer between {BEGIN_SOLUTION!r} and "
                            f"{END_SOLUTION!r}")
        prompt = next((c.source for c in reversed(nb.cells[:k]) if c.cell_type == "markdown"
                       and not is_instructor_note(c)), "")
        out.append(Written(name, float(meta["points"]), len(out) + 1, prompt, solution,
                           student_source(cell.source, "markdown", where), is_optional(cell)))
    return out


def is_assignment(path: Path) -> bool:
    """Whether a solution notebook has graded test cells (notebook 06, a capstone without exercises, has none)."""
    nb = nbformat.read(str(path), as_version=4)
    return any(
        c.cell_type == "code"
        and c.metadata.get("nbgrader", {}).get("grade")
        and float(c.metadata["nbgrader"].get("points", 0) or 0) > 0
        for c in nb.cells
    )


def assignment_paths(solutions_dir: Path) -> list[Path]:
    """The solution notebooks in ``solutions_dir`` that are graded assignments (the registry's
    :func:`course_utils.syllabus.assignments`, with graded test cells), in the course's order."""
    listed = syllabus.in_folder(solutions_dir, syllabus.assignments())
    return [p for p in (nb.solution_in(solutions_dir) for nb in listed) if is_assignment(p)]


def load_assignment(path: Path) -> Assignment:
    """Read the units (exercises and their tests) of one solution notebook."""
    path = Path(path)
    nb = nbformat.read(str(path), as_version=4)
    setup = next((c.source for c in nb.cells if c.cell_type == "code" and "setup_notebook(" in c.source), None)
    if setup is None:
        raise SpecError(f"{path.name}: no setup cell (a code cell calling setup_notebook)")
    exercises, graded, units = [], [], []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {}) if cell.cell_type == "code" else {}
        if meta.get("solution"):
            exercises.append(meta.get("grade_id"))
            for name in [meta.get("grade_id")] + defined_names(cell.source, strict=True):
                if name and name not in graded:
                    graded.append(name)
        if meta.get("grade") and float(meta.get("points", 0) or 0) > 0:
            test_id = meta.get("grade_id") or f"test_{len(units) + 1}"
            exercise = test_id[: -len("_test")] if test_id.endswith("_test") else test_id
            unit = Unit(
                exercise,
                test_id,
                float(meta["points"]),
                len(units) + 1,
                split_test_cell(cell.source, f"{path.name}: {test_id}"),
                is_optional(cell),
            )
            if unit.n_checks == 0:
                raise SpecError(f"{path.name}: {test_id} holds no check and no assert")
            units.append(unit)
    if not units:
        graded_ones = ", ".join(p.stem for p in assignment_paths(path.parent))
        raise SpecError(f"{path.name} is not a graded assignment: it has no graded test cells (nbgrader grade: true "
                        f"with points). Graded assignments: {graded_ones}.")
    return Assignment(path.stem, path, strip_magics(setup), units, graded, _written(path, nb))


def find_solution(number_or_name: str, solutions_dir: Path) -> Path:
    """The solution notebook of an assignment (``"01"``, ``"1"``, ``"01_jensen_elbo"``, ``"01_jensen_elbo.ipynb"``:
    the course's registry, :func:`course_utils.syllabus.get`, names it) in ``solutions_dir``: the clone's
    ``solutions/``, or ``--solutions DIR``."""
    if not Path(solutions_dir).is_dir():
        raise SpecError(
            f"the solution notebooks (with the hidden tests) are not at {solutions_dir}: they are never installed "
            "with the package. Grade from a clone of the course repository, or pass --solutions DIR"
        )
    try:
        path = syllabus.get(number_or_name).solution_in(solutions_dir)
    except syllabus.UnknownNotebook as e:
        raise SpecError(f"no solution notebook for assignment {number_or_name!r}: {e}") from None
    if not path.is_file():
        have = ", ".join(p.name for p in sorted(Path(solutions_dir).glob("*.ipynb"))) or "none"
        raise SpecError(f"no solution notebook for assignment {number_or_name!r}: {solutions_dir} has no {path.name} "
                        f"(it has: {have})")
    return path


def guess_assignment(submission: Path, text: str | None) -> str | None:
    """The assignment a submission belongs to: its setup call, else its file name (``01_...``)."""
    if text:
        m = re.search(r"setup_notebook\(\s*\\?[\"'](\d{2})_", text)
        if m:
            return m.group(1)
    notebook = syllabus.of_file(submission)
    return notebook.number if notebook else None
