"""Every notebook opens on Colab (badge) and sets itself up there (the Colab block of tools/colab.py)."""

import importlib.util
import subprocess
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
    setup.source = setup.source.replace("enable_custom_widget_manager()", "an_old_version()")
    assert colab.add_colab(nb, "01_jensen_elbo") is True
    assert setup.source.count(colab.BEGIN) == 1 and "an_old_version" not in setup.source
    assert 'setup_notebook("01_jensen_elbo")' in setup.source, "the rest of the setup cell is kept"


def _run_block(monkeypatch, on_colab: bool):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(("run", a[0])))
    import course_utils.data

    monkeypatch.setattr(course_utils.data, "load_fashion_mnist", lambda train=True: calls.append(("load", train)))
    if on_colab:
        google = types.ModuleType("google")
        google.colab = types.ModuleType("google.colab")
        google.colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append(("widgets",)))
        monkeypatch.setitem(sys.modules, "google", google)
        monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    path_before = list(sys.path)
    exec(compile(colab.colab_block(), "<colab block>", "exec"), {})
    sys.path[:] = path_before
    return calls


def test_the_block_does_nothing_outside_colab(monkeypatch):
    assert _run_block(monkeypatch, on_colab=False) == []


def test_on_colab_the_block_clones_installs_and_fetches_the_data(monkeypatch):
    calls = _run_block(monkeypatch, on_colab=True)
    runs = [c[1] for c in calls if c[0] == "run"]
    assert runs[0][:2] == ["git", "clone"] and colab.REPO_URL in runs[0], "clones the public repository"
    pip = runs[1]
    assert pip[1:4] == ["-m", "pip", "install"] and "--no-deps" in pip and pip[-2:] == ["-e", colab.CLONE_DIR], (
        "installs the course package, keeping Colab's own torch"
    )
    assert ("widgets",) in calls, "turns on Colab's widget manager (ipywidgets 8)"
    assert ("load", True) in calls and ("load", False) in calls, "fetches both splits of Fashion-MNIST"
