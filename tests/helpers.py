"""What the test modules share that is not a fixture: the clone's root, a skip mark, the check runner, and the
loader of the scripts in tools/, benchmarks/ and grading/.

    from helpers import ROOT, load_script

``tests/`` is not a package: pytest's default (``prepend``) import mode puts a test module's folder on
``sys.path`` before importing it, so modules here import each other by name (``helpers``, ``test_grade``,
``submissions.mistakes``). Fixtures and hooks live in ``conftest.py``, which pytest loads itself and no test
imports (there are two: the clone's, and ``tests/conftest.py``; ``import conftest`` gets whichever pytest loaded
last). Scripts are not on ``sys.path`` either: :func:`load_script` loads one from its file.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _torch_is_pinned() -> bool:
    import torch

    pin = re.search(r"^torch==(\S+)", (ROOT / "constraints.txt").read_text(), re.M)
    return pin is not None and torch.__version__.split("+")[0] == pin.group(1)


# A test that compares with what constraints.txt's torch computed (random draws, image resizing) runs only there;
# course test-matrix runs the suite under other torches too.
needs_pinned_torch = pytest.mark.skipif(not _torch_is_pinned(), reason="compares with what constraints.txt's torch "
                                        "computed; another torch draws other random inputs")


def checks_run(check, fn, capsys):
    """Run a notebook check on ``fn``; return (passed, what it printed)."""
    ok = check(fn)
    return bool(ok), capsys.readouterr().out


def load_script(path: str, name: str | None = None) -> ModuleType:
    """The script at ``path`` (relative to the clone: ``"tools/build_site.py"``), loaded once as a module named
    ``name`` (default: its file's stem), which stays in ``sys.modules`` (dataclasses look their module up there)."""
    name = name or Path(path).stem
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(ROOT / path):
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
