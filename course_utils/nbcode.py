"""Reading a notebook's code: the one place that knows the markers, the blocks they make, IPython syntax, which
statements of a notebook are its *definitions*, and the namespace that notebook code runs in.

Everyone who reads notebook code goes through here: the student generator (:mod:`course_utils.assign`), the
grader (:mod:`course_utils.grade`: a test cell's hidden statements, a submission's definitions), notebook 06
(:mod:`course_utils.capstone`: your code from notebooks 02-05), the bundles' leak check and the website.

**Markers** are nbgrader's: ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` and ``### BEGIN HIDDEN TESTS`` ...
``### END HIDDEN TESTS``, each alone on its line (any indentation). A block is opened by its begin marker and
closed by its end marker; blocks of one kind never nest (:class:`MarkerError`).

**Definitions.** From every code cell, in notebook order, only the top-level statements that *define* something
cheaply are kept: imports, ``def``, ``class``, and assignments of constants (``EPS = 1e-8``,
``Tensor = torch.Tensor``). Later definitions replace earlier ones, as when the notebook runs top to bottom. Cell
ids, cell order among other cells, metadata, deleted or duplicated cells do not matter: only the names do.
Statements that compute (training, plotting, monkeypatching ``torch.allclose = ...``) never run.

**The base namespace** (:func:`base_namespace`): ``torch``, ``math``, ``nn``, ``F`` and ``np``, what solution
cells and graded definitions may use without importing it.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
INSTRUCTOR_TAG = "instructor"  # a cell with this tag is an instructor note (course_utils.instructor)

BASE_NAMES = ("torch", "math", "nn", "F", "np")


class MarkerError(ValueError):
    """Unbalanced or nested solution / hidden-test markers."""


# ----------------------------------------------------------------------------- markers and blocks
def blocks(source: str, begin: str, end: str, where: str = "cell") -> list[tuple[int, int]]:
    """The ``begin`` ... ``end`` blocks of ``source``: ``(line of begin, line of end)`` each, numbered from 1.
    Raises :class:`MarkerError` for a block inside another, an end without a begin, or a begin never closed."""
    found: list[tuple[int, int]] = []
    opened = None
    for lineno, line in enumerate(source.split("\n"), 1):
        stripped = line.strip()
        if stripped == begin:
            if opened is not None:
                raise MarkerError(
                    f"{where}, line {lineno}: {begin!r} inside another block; close the first with {end!r}."
                )
            opened = lineno
        elif stripped == end:
            if opened is None:
                raise MarkerError(f"{where}, line {lineno}: {end!r} without a {begin!r} before it.")
            found.append((opened, lineno))
            opened = None
    if opened is not None:
        raise MarkerError(f"{where}: {begin!r} is never closed with {end!r}.")
    return found


def replace_blocks(source: str, begin: str, end: str, replacement: list[str] | None, where: str = "cell") -> str:
    """``source`` with each block (markers included) replaced by the lines ``replacement``, at the begin marker's
    indentation; ``None`` removes the blocks."""
    lines = source.split("\n")
    spans = blocks(source, begin, end, where)
    out: list[str] = []
    at = 0  # index of the first line not yet copied
    for b, e in spans:
        out += lines[at : b - 1]
        if replacement is not None:
            line = lines[b - 1]
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + r for r in replacement)
        at = e
    out += lines[at:]
    return "\n".join(out)


def block_lines(source: str, begin: str, end: str, where: str = "cell") -> list[str]:
    """The lines inside the blocks of ``source`` (without the markers), in order."""
    lines = source.split("\n")
    return [line for b, e in blocks(source, begin, end, where) for line in lines[b : e - 1]]


def is_instructor_note(cell) -> bool:
    """Whether ``cell`` is an instructor note: tagged :data:`INSTRUCTOR_TAG`, never in the student version."""
    return INSTRUCTOR_TAG in (cell.get("metadata", {}).get("tags") or [])


def is_generated_note(cell) -> bool:
    """Whether ``cell`` is an instructor note that :mod:`course_utils.instructor` generated (the usual mistakes)."""
    return is_instructor_note(cell) and cell.get("metadata", {}).get("course", {}).get("generated") == "mistakes"


# ----------------------------------------------------------------------------- IPython syntax
def strip_magics(source: str) -> str:
    """``source`` with its magic and shell lines (``%matplotlib inline``, ``!pip ...``) turned into ``pass`` (at
    their indentation, so that an ``if`` whose body is a shell line stays valid Python)."""
    return "\n".join(line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
                     else line for line in source.split("\n"))


def to_python(source: str) -> str:
    """IPython syntax (``%magic``, ``!cmd``, ``x?``) to plain Python (without IPython: :func:`strip_magics`)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - fall back to dropping magic lines
        return strip_magics(source)


# ----------------------------------------------------------------------------- definitions
_CHEAP_CALLS = {"dict", "list", "tuple", "set", "frozenset", "float", "int", "str", "bool", "range", "slice"}
_CHEAP_ATTR_CALLS = {"tensor", "as_tensor", "device", "dtype", "sqrt", "log", "exp", "pi"}


@dataclass
class Definitions:
    cells: list  # [label, source, [indices of the top-level statements to run]]
    notes: list[str]  # what could not be read, in words (shown to the student)

    @property
    def n_statements(self) -> int:
        return sum(len(c[2]) for c in self.cells)

    def names(self) -> set[str]:
        """The names the kept statements bind (without running them)."""
        return set(defined_names(node for _, _, node in statements(self.cells)))


def _cheap(node: ast.AST, depth: int = 0) -> bool:
    """An expression that costs nothing to evaluate: constants, names, attributes, small literals."""
    if depth > 12:
        return False
    if isinstance(node, (ast.Constant, ast.Name)):
        return True
    if isinstance(node, ast.Attribute):
        return _cheap(node.value, depth + 1)
    if isinstance(node, ast.UnaryOp):
        return _cheap(node.operand, depth + 1)
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow):  # 10 ** 10 ** 10 is not cheap
            return (
                isinstance(node.left, ast.Constant)
                and isinstance(node.right, ast.Constant)
                and isinstance(node.right.value, (int, float))
                and abs(node.right.value) <= 64
            )
        return _cheap(node.left, depth + 1) and _cheap(node.right, depth + 1)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return len(node.elts) <= 1000 and all(_cheap(e, depth + 1) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is None or _cheap(k, depth + 1) for k in node.keys) and all(
            _cheap(v, depth + 1) for v in node.values
        )
    if isinstance(node, ast.Lambda):
        return True
    if isinstance(node, ast.Call):
        f = node.func
        ok = (isinstance(f, ast.Name) and f.id in _CHEAP_CALLS) or (
            isinstance(f, ast.Attribute) and f.attr in _CHEAP_ATTR_CALLS
        )
        return (
            ok
            and all(_cheap(a, depth + 1) for a in node.args)
            and all(_cheap(k.value, depth + 1) for k in node.keywords)
        )
    return False


def _keep(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, ast.Assign):
        return all(isinstance(t, (ast.Name, ast.Tuple)) for t in node.targets) and _cheap(node.value)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.value is not None and _cheap(node.value)
    return False


def definitions(nb) -> Definitions:
    """The definitions of every code cell of a notebook (an ``nbformat`` node), in order."""
    cells, notes = [], []
    code_cells = [c for c in nb.cells if c.get("cell_type") == "code"]
    for i, cell in enumerate(code_cells, 1):
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        source = to_python(str(source))
        label = f"code cell {i}"
        try:
            tree = ast.parse(source)
        except SyntaxError as e:
            notes.append(f"{label} has a syntax error (line {e.lineno}: {e.msg}); nothing in it could be graded.")
            continue
        keep = [j for j, node in enumerate(tree.body) if _keep(node)]
        if keep:
            cells.append([label, source, keep])
    return Definitions(cells, notes)


def statements(cells: list):
    """``(label, source, statement)`` for each kept statement of :attr:`Definitions.cells`, in order."""
    for label, source, keep in cells:
        tree = ast.parse(source)
        for j in keep:
            yield label, source, tree.body[j]


def defined_names(code: str | Iterable[ast.stmt], strict: bool = False) -> list[str]:
    """The names top-level statements bind, in order, without running them: ``def`` and ``class`` names,
    assignment targets (the names inside tuple targets too), annotated assignments, imports. ``code``: the
    statements, or a cell's source (magics blanked; nothing for a syntax error).

    ``strict``: only ``def``, ``class`` and plain ``name = ...`` targets, what a solution cell hands to its
    tests (never an import, so a submission's ``import x as F`` cannot stand in for a name the tests use)."""
    if isinstance(code, str):
        try:
            code = ast.parse(strip_magics(code)).body
        except SyntaxError:
            return []
    names: list[str] = []
    for node in code:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if strict:
                    names += [t.id] if isinstance(t, ast.Name) else []
                else:
                    names += [n.id for n in ast.walk(t) if isinstance(n, ast.Name)]
        elif strict:
            continue
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [(a.asname or a.name).split(".")[0] for a in node.names]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return list(dict.fromkeys(names))


def definitions_digest(cells: list) -> str:
    """A short hash of the kept statements' source: a changed definition changes it."""
    h = hashlib.sha256()
    for _, _, node in statements(cells):
        h.update(ast.unparse(ast.Module(body=[node], type_ignores=[])).encode())
    return h.hexdigest()[:12]


def run_definitions(cells: list, ns: dict, filename: str | None = None,
                    on_error: Callable[[str, str, ast.stmt, BaseException], None] | None = None) -> None:
    """Run the kept statements of :attr:`Definitions.cells` in ``ns``, each on its own, so that one that fails (it
    reads what only the running notebook has, or is broken) leaves just its own names undefined.

    ``filename`` names the code in tracebacks (default ``<submission, code cell N>``). ``on_error(label, source,
    statement, exception)`` hears of every failure, ``SystemExit`` and ``KeyboardInterrupt`` included; without
    it, an ``Exception`` is skipped and anything else propagates."""
    _exec, _compile = exec, compile  # taken before the definitions run: they may replace the builtins
    for label, source, node in statements(cells):
        code = ast.Module(body=[node], type_ignores=[])
        try:
            _exec(_compile(code, filename or f"<submission, {label}>", "exec"), ns)  # noqa: S102
        except BaseException as e:  # noqa: BLE001
            if on_error is not None:
                on_error(label, source, node, e)
            elif not isinstance(e, Exception):
                raise


# ----------------------------------------------------------------------------- the base namespace
def base_namespace(name: str, names: tuple[str, ...] = BASE_NAMES) -> dict:
    """A fresh namespace called ``name`` holding the base modules ``names`` (default: all of :data:`BASE_NAMES`)."""
    import math

    import numpy as np
    import torch
    import torch.nn.functional as F  # noqa: N812
    from torch import nn

    modules = {"torch": torch, "math": math, "nn": nn, "F": F, "np": np}
    return {**{n: modules[n] for n in names}, "__name__": name}


__all__ = ["BEGIN_SOLUTION", "END_SOLUTION", "BEGIN_HIDDEN", "END_HIDDEN", "MARKERS", "BASE_NAMES", "MarkerError",
           "blocks", "replace_blocks", "block_lines", "strip_magics", "to_python", "Definitions", "definitions",
           "statements", "defined_names", "definitions_digest", "run_definitions", "base_namespace"]
