"""Student notebooks from the solution notebooks: one source, two versions.

    python -m course_utils.assign            # clear outputs in solutions/, then write notebooks/ from them
    python -m course_utils.assign --check    # exit 1 if notebooks/ is stale or a notebook holds outputs
    python -m course_utils.assign --strip    # clear outputs in solutions/ (after running one by hand)

The markers are nbgrader's, so an nbgrader course can take the solution notebooks as they are:

- ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` in a code cell becomes
  ``# YOUR CODE HERE`` + ``raise NotImplementedError()`` (at the marker's indentation);
  in a markdown cell it becomes ``YOUR ANSWER HERE``.
- ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` is removed.
- Outputs and execution counts are cleared; cell ids and nbgrader metadata are kept.

Generating also keeps the Colab and Binder badges and the Colab block of every solution notebook in line with the
repository's public address (:mod:`course_utils.colab`): present with an address, left out without one.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import re
import sys
from pathlib import Path

import nbformat

from . import colab
from .nbcode import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    MarkerError,
    base_namespace,
    is_instructor_note,
    replace_blocks,
)
from .paths import REPO_ROOT

SOLUTIONS_DIR = REPO_ROOT / "solutions"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


def student_source(source: str, cell_type: str, where: str = "cell") -> str:
    """The student version of one cell's source."""
    source = replace_blocks(source, BEGIN_HIDDEN, END_HIDDEN, None, where)
    if cell_type == "code":
        solution = ["# YOUR CODE HERE", "raise NotImplementedError()"]
    else:
        solution = ["YOUR ANSWER HERE"]
    return replace_blocks(source, BEGIN_SOLUTION, END_SOLUTION, solution, where)


def _clear_outputs(nb) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)


def _ensure_ids(nb, name: str) -> bool:
    """Give cells without an id a stable one (derived from the notebook name and position)."""
    changed = False
    for i, cell in enumerate(nb.cells):
        if not cell.get("id"):
            cell["id"] = hashlib.sha1(f"{name}:{i}".encode()).hexdigest()[:8]
            changed = True
    return changed


def student_notebook(solution_nb):
    """The student version of a solution notebook (a new object; the input is untouched)."""
    nb = copy.deepcopy(solution_nb)
    nb.cells = [c for c in nb.cells if not is_instructor_note(c)]  # instructor notes never reach students
    for i, cell in enumerate(nb.cells):
        cell.source = student_source(cell.source, cell.cell_type, f"cell {i} ({cell.get('id', '?')})")
        _lock(cell)
    _clear_outputs(nb)
    return nb


def answered(solution_nb, replace: dict | None = None):
    """A student's notebook with the exercises answered: the student version with the solution's code put back,
    except ``replace`` (``{exercise: source}``; ``None`` as a source leaves that exercise as students get it).
    What tests and benchmarks build submissions from."""
    nb = student_notebook(solution_nb)
    replace = replace or {}
    solution_cells_ = [c for c in solution_nb.cells if not is_instructor_note(c)]  # as student_notebook keeps them
    for s_cell, n_cell in zip(solution_cells_, nb.cells):
        meta = s_cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            name = meta["grade_id"]
            if name not in replace:
                n_cell.source = s_cell.source
            elif replace[name] is not None:
                n_cell.source = replace[name]
    return nb


def _lock(cell) -> None:
    """What nbgrader 0.9's LockCells does (checked against the real one by tests/test_nbgrader.py): answer and test
    cells cannot be deleted, locked ones (the check cells) not edited either, so a student cannot lose an exercise
    or a test by accident (JupyterLab honours both)."""
    meta = cell.metadata.get("nbgrader") or {}
    if meta.get("grade") or meta.get("locked") or meta.get("solution"):
        cell.metadata["deletable"] = False
    if meta.get("locked"):
        cell.metadata["editable"] = False


def _read(path: Path):
    return nbformat.read(str(path), as_version=4)


def _text(nb) -> str:
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def solution_paths(solutions_dir: Path = SOLUTIONS_DIR) -> list[Path]:
    return sorted(p for p in Path(solutions_dir).glob("*.ipynb"))


def generate(solutions_dir: Path = SOLUTIONS_DIR, notebooks_dir: Path = NOTEBOOKS_DIR,
             repository: str | None = "auto") -> list[Path]:
    """Write every student notebook; remove student notebooks whose solution is gone. Returns written paths.

    First each solution notebook gets the badges and the Colab block of ``repository`` (its public address; None:
    none, and earlier ones are taken out; ``"auto"``: :func:`course_utils.colab.repository`)."""
    notebooks_dir = Path(notebooks_dir)
    notebooks_dir.mkdir(parents=True, exist_ok=True)
    repo = colab.repository() if repository == "auto" else repository
    written = []
    sources = solution_paths(solutions_dir)
    for sol in sources:
        nb = _read(sol)
        ids = _ensure_ids(nb, sol.stem)
        if colab.apply(nb, sol.stem, repo) or ids:
            sol.write_text(_text(nb))
        target = notebooks_dir / sol.name
        text = _text(student_notebook(nb))
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            written.append(target)
    names = {p.name for p in sources}
    for stale in notebooks_dir.glob("*.ipynb"):
        if stale.name not in names:
            stale.unlink()
            written.append(stale)
    return written


def strip_outputs(paths) -> list[Path]:
    """Clear outputs in place; returns the files that changed."""
    changed = []
    for p in paths:
        nb = _read(p)
        before = _text(nb)
        _clear_outputs(nb)
        after = _text(nb)
        if after != before:
            Path(p).write_text(after)
            changed.append(Path(p))
    return changed


_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # every control character but the newline; tabs too


def _control_characters(path: Path, nb) -> list[str]:
    r"""A control character in a cell's source is nearly always a backslash lost to a Python string escape: "\text"
    written without a raw string becomes a tab and "ext", "\frac" a form feed and "rac", and MathJax shows garbage."""
    found = []
    for i, cell in enumerate(nb.cells):
        for m in _CONTROL.finditer(cell.source):
            around = cell.source[max(0, m.start() - 20) : m.end() + 12]
            found.append(f"{path}, cell {i} ({cell.cell_type}): control character {m.group()!r} in {around!r}; "
                         "a lost backslash? (\\text written as a tab + 'ext'). Write the backslash itself.")
    return found


def _colab_problems(path: Path, nb, repository: str | None, strict: bool) -> list[str]:
    """The badges and the block of one solution notebook against the public address. ``strict``: exactly those of
    ``repository`` (None: none). Otherwise (an address from the ``origin`` remote, or none found) either none or a
    consistent pair for any real address: a CI checkout, a fork or a downloaded copy has another origin or none,
    and the notebooks stay as they were committed."""
    found = colab.placeholders(nbformat.writes(nb))
    if found:
        return [f"{path} holds a placeholder address ({found[0]!r}): run `./course generate` (it writes the address "
                "of [tool.ssl-course] repository in pyproject.toml, or of a GitHub `origin`, or none)."]
    if strict:
        ok = colab.is_current(nb, path.stem, repository)
    else:
        shown = colab.address_in(nb)
        ok = colab.is_current(nb, path.stem, None) or (shown is not None and colab.is_current(nb, path.stem, shown))
    if ok:
        return []
    if not strict:
        what = "a Colab or Binder badge without its Colab block (or the other way round, or an old block)"
    elif repository:
        what = f"no current Colab and Binder badges and Colab block for {repository}"
    else:
        what = "a Colab or Binder badge or a Colab block, but there is no public address"
    return [f"{path} holds {what}: run `./course generate`."]


def problems(solutions_dir: Path = SOLUTIONS_DIR, notebooks_dir: Path = NOTEBOOKS_DIR,
             repository: str | None = "auto") -> list[str]:
    """Everything wrong between solutions/ and notebooks/, in words (empty when all is well).

    ``repository``: the public address the badges must hold (None: no badges); ``"auto"``: the one
    ``[tool.ssl-course] repository`` sets, or, when it sets none, whatever :func:`_colab_problems` accepts."""
    if repository == "auto":
        found = colab.find_repository()
        repository, strict = found.url, found.source == "pyproject.toml"
    else:
        strict = True
    out = []
    sources = solution_paths(solutions_dir)
    names = {p.name for p in sources}
    for sol in sources:
        nb = _read(sol)
        if any(c.cell_type == "code" and (c.outputs or c.execution_count) for c in nb.cells):
            out.append(f"{sol} holds outputs: run `python -m course_utils.assign --strip`.")
        out += _control_characters(sol, nb)
        out += _colab_problems(sol, nb, repository, strict)
        try:
            expected = _text(student_notebook(nb))
        except MarkerError as e:
            out.append(f"{sol}: {e}")
            continue
        target = Path(notebooks_dir) / sol.name
        if not target.exists():
            out.append(f"{target} is missing: run `./course generate`.")
        elif target.read_text() != expected:
            out.append(f"{target} is stale against {sol}: run `./course generate` (never edit notebooks/ by hand).")
    for extra in sorted(Path(notebooks_dir).glob("*.ipynb")):
        if extra.name not in names:
            out.append(f"{extra} has no solution notebook: run `./course generate` to remove it.")
    return out


def solution_cells(path: Path) -> list:
    """The cells of a solution notebook that hold graded solution code (nbgrader ``solution: true``)."""
    nb = _read(path)
    return [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


def solution_namespace(path: Path) -> dict:
    """Execute only the solution cells of a notebook and return the namespace (for maintainers' tools).

    Solution cells are self-contained: they may use ``torch``, ``math``, ``nn``, ``F`` and ``np``
    (:func:`course_utils.nbcode.base_namespace`), and import anything else themselves.
    """
    ns = base_namespace("solution")
    for cell in solution_cells(Path(path)):
        exec(compile(cell.source, f"{Path(path).name}:{cell.get('id')}", "exec"), ns)
    return ns


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="course generate", description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="report stale notebooks or outputs; exit 1 if any")
    mode.add_argument("--strip", action="store_true", help="clear outputs in solutions/ and notebooks/")
    args = ap.parse_args(argv)
    if args.check:
        found = problems()
        for p in found:
            print(p)
        if not found:
            print("notebooks/ is up to date with solutions/, and no notebook holds outputs.")
        return 1 if found else 0
    if args.strip:
        changed = strip_outputs(solution_paths() + sorted(NOTEBOOKS_DIR.glob("*.ipynb")))
        print("\n".join(f"stripped {p}" for p in changed) or "no outputs to strip")
        return 0
    try:
        found = colab.find_repository()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"Colab and Binder badges for {found.url} (from {found.source})" if found.url else colab.NO_ADDRESS)
    try:
        strip_outputs(solution_paths())
        written = generate(repository=found.url)
    except MarkerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("\n".join(f"wrote {p}" for p in written) or "notebooks/ already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
