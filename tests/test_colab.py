"""Every notebook opens on Colab (badge) and sets itself up there (the Colab block of tools/colab.py)."""

import importlib.util
import sys
import types

import nbformat
import pytest

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("colab_tool", ROOT / "tools" / "colab.py")
colab = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(colab)

SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_every_notebook_has_the_badge_and_the_colab_block(path):
    for version in (path, ROOT / "notebooks" / path.name):
        nb = nbformat.read(version, as_version=4)
        assert colab.is_current(nb, path.stem), (
            f"{version.relative_to(ROOT)} lacks the Colab badge or setup block (or has an old one): "
            "run `.venv/bin/python tools/colab.py` and `./course generate`"
        )
    assert colab.colab_url(path.stem).endswith(f"/notebooks/{path.name}"), "the badge opens the student notebook"


def test_the_tool_is_idempotent(tmp_path):
    nb = nbformat.read(ROOT / "solutions" / "01_jensen_elbo.ipynb", as_version=4)
    setup = colab.setup_cell(nb)
    setup.source = setup.source.replace(colab.colab_block() + "\n", "")  # as before the tool ran
    nb.cells[0].source = "\n".join(nb.cells[0].source.split("\n")[1:])
    assert not colab.is_current(nb, "01_jensen_elbo")
    assert colab.add_colab(nb, "01_jensen_elbo") is True
    once = nbformat.writes(nb)
    assert colab.add_colab(nb, "01_jensen_elbo") is False
    assert nbformat.writes(nb) == once
    assert colab.is_current(nb, "01_jensen_elbo")
    assert once.count("colab-badge.svg") == 1 and once.count(colab.BEGIN) == 1


def test_an_old_block_is_replaced_not_repeated():
    nb = nbformat.read(ROOT / "solutions" / "01_jensen_elbo.ipynb", as_version=4)
    setup = colab.setup_cell(nb)
    setup.source = setup.source.replace("sys.path.insert(0,", "an_old_version(0,")
    assert colab.add_colab(nb, "01_jensen_elbo") is True
    assert setup.source.count(colab.BEGIN) == 1 and "an_old_version" not in setup.source
    assert 'setup_notebook("01_jensen_elbo")' in setup.source, "the rest of the setup cell is kept"


def _run_block(monkeypatch, on_colab: bool):
    """Run the block as IPython runs it (its ``!`` lines are shell commands); returns what it ran."""
    from IPython.core.inputtransformer2 import TransformerManager

    calls = []
    if on_colab:
        google = types.ModuleType("google")
        google.colab = types.ModuleType("google.colab")
        monkeypatch.setitem(sys.modules, "google", google)
        monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    shell = types.SimpleNamespace(system=lambda cmd: calls.append(("shell", cmd)))
    path_before = list(sys.path)
    code = TransformerManager().transform_cell(colab.colab_block())
    exec(compile(code, "<colab block>", "exec"), {"get_ipython": lambda: shell})
    added = [p for p in sys.path if p not in path_before]
    sys.path[:] = path_before
    return calls + [("path", p) for p in added]


def test_the_block_is_short():
    lines = colab.colab_block().split("\n")
    assert len(lines) <= 8 and max(map(len, lines)) <= 120, "the first code a student reads"


def test_the_block_does_nothing_outside_colab(monkeypatch):
    assert _run_block(monkeypatch, on_colab=False) == []


def test_on_colab_the_block_clones_and_installs_the_course(monkeypatch):
    calls = _run_block(monkeypatch, on_colab=True)
    shell = [c[1] for c in calls if c[0] == "shell"]
    assert shell[0].startswith("git clone") and colab.REPO_URL in shell[0], "clones the public repository"
    assert "-m pip install" in shell[1] and "--no-deps" in shell[1] and shell[1].endswith(f"-e {colab.CLONE_DIR}"), (
        "installs the course package, keeping Colab's own torch"
    )
    assert ("path", colab.CLONE_DIR) in calls, "the running kernel imports the clone's course_utils"


def test_on_colab_setup_notebook_turns_on_the_widget_manager(monkeypatch):
    from course_utils import notebook

    calls = []
    google = types.ModuleType("google")
    google.colab = types.ModuleType("google.colab")
    google.colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append("widgets"))
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    notebook.on_colab_setup()
    assert calls == ["widgets"], "ipywidgets 8 need Colab's custom widget manager"
    monkeypatch.delitem(sys.modules, "google.colab")
    notebook.on_colab_setup()
    assert calls == ["widgets"], "nothing happens outside Colab"
