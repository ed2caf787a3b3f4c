"""A submission's definitions, by name: what the grader loads instead of running the whole notebook.

From every code cell, in notebook order, the grader keeps only the top-level statements that *define*
something cheaply: imports, ``def``, ``class``, and assignments of constants (``EPS = 1e-8``,
``Tensor = torch.Tensor``). Later definitions replace earlier ones, as when the notebook runs top to
bottom. Cell ids, cell order among other cells, metadata, deleted or duplicated cells do not matter:
only the names do. Statements that compute (training, plotting, monkeypatching ``torch.allclose = ...``)
are never run by the grader.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

_CHEAP_CALLS = {"dict", "list", "tuple", "set", "frozenset", "float", "int", "str", "bool", "range", "slice"}
_CHEAP_ATTR_CALLS = {"tensor", "as_tensor", "device", "dtype", "sqrt", "log", "exp", "pi"}


@dataclass
class Definitions:
    cells: list  # [label, source, [indices of the top-level statements to run]]
    notes: list[str]  # what could not be read, in words (shown to the student)

    @property
    def n_statements(self) -> int:
        return sum(len(c[2]) for c in self.cells)


def _transform(source: str) -> str:
    """IPython syntax (``%magic``, ``!cmd``, ``x?``) to plain Python."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - fall back to dropping magic lines
        return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))


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
        source = _transform(str(source))
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


def defined_names(defs: Definitions) -> set[str]:
    """The names the kept statements bind (without running them)."""
    names = set()
    for _, source, keep in defs.cells:
        tree = ast.parse(source)
        for j in keep:
            node = tree.body[j]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
            elif isinstance(node, ast.AnnAssign):
                names.add(node.target.id)
    return names
