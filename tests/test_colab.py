"""Colab: the public address in one place, badges and the Colab block only with a real address, a block that IPython,
ruff and the grader all read, and a simulated Colab run of notebook 01 (course_utils.colab)."""

import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import nbformat
import pytest

from course_utils import assign, colab, syllabus
from course_utils.nbcode import strip_magics
from helpers import ROOT

REPO = "https://github.com/some-university/ssl-course"  # an address of the right shape, for the tests
SOLUTIONS = [nb.solution(ROOT) for nb in syllabus.NOTEBOOKS]
NOTEBOOKS = SOLUTIONS + [nb.student(ROOT) for nb in syllabus.NOTEBOOKS]
OLD_BLOCK = """# >>> Colab: on Google Colab only, get the course package (setup_notebook below does the rest)
import sys

if "google.colab" in sys.modules:
    !git clone -q --depth 1 https://github.com/old-owner/ssl-course /content/ssl-course 2> /dev/null
    !{sys.executable} -m pip install -q --no-deps -e /content/ssl-course
    sys.path.insert(0, "/content/ssl-course")
# <<< Colab
"""


def _solution(name="01_jensen_elbo"):
    return nbformat.read(ROOT / "solutions" / f"{name}.ipynb", as_version=4)


# ------------------------------------------------------------------------------------------------ the address


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_no_notebook_holds_a_placeholder_address(path):
    found = colab.placeholders(path.read_text())
    assert not found, f"{path.relative_to(ROOT)} links a placeholder {found}: run `./course generate`"


def test_the_placeholder_search_finds_placeholders():
    for text in ("https://github.com/YOUR-ORG/ssl-course", "git@github.com:your_org/r.git", "https://example.com/x",
                 'href="https://colab.research.google.com/github/ORG/REPO/blob/main/x"', "https://github.com/<org>/r"):
        assert colab.placeholders(text), text
    assert not colab.placeholders(f"{REPO}, https://github.com/pytorch/examples, your name, an example.com in prose")


@pytest.mark.parametrize("address, url", [
    ("https://github.com/o/r", "https://github.com/o/r"),
    ("https://github.com/o/r.git\n", "https://github.com/o/r"),
    ("git@github.com:o/r.git", "https://github.com/o/r"),
    ("ssh://git@github.com/o/r.git", "https://github.com/o/r"),
    ("https://x-access-token:secret@github.com/o/r.git", "https://github.com/o/r"),
    ("https://gitlab.com/o/r", None),
    ("/srv/git/ssl-course", None),
    ("https://github.com/YOUR-ORG/ssl-course", None),
])
def test_git_addresses_are_normalised_to_the_github_page(address, url):
    assert colab.normalise(address) == url


def _project(tmp_path, repository=None):
    table = "" if repository is None else f'\n[tool.ssl-course]\nrepository = "{repository}"\n'
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "ssl-course"\n{table}')
    return tmp_path


def test_the_address_comes_from_pyproject_else_a_github_origin_else_nowhere(tmp_path):
    root = _project(tmp_path, "")
    assert colab.find_repository(root) == (None, ""), "no git, no address"
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    assert colab.find_repository(root) == (None, ""), "no origin"
    subprocess.run(["git", "-C", str(root), "remote", "add", "origin", "git@github.com:uni/ssl-course.git"], check=True)
    assert colab.find_repository(root) == ("https://github.com/uni/ssl-course", "git remote origin")
    subprocess.run(["git", "-C", str(root), "remote", "set-url", "origin", "/srv/git/ssl-course"], check=True)
    assert colab.repository(root) is None, "an origin that is not on GitHub has no Colab address"
    _project(tmp_path, "https://github.com/course/ssl")
    assert colab.find_repository(root) == ("https://github.com/course/ssl", "pyproject.toml"), "pyproject first"
    _project(tmp_path)
    assert colab.repository(root) is None, "no [tool.ssl-course] table"


@pytest.mark.parametrize("bad", ["https://gitlab.com/o/r", "https://github.com/YOUR-ORG/ssl-course"])
def test_an_unusable_address_in_pyproject_is_an_error(tmp_path, bad):
    with pytest.raises(ValueError, match="not a GitHub address"):
        colab.find_repository(_project(tmp_path, bad))


def test_the_block_installs_the_package_pyproject_names():
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"] == colab.PACKAGE


# ---------------------------------------------------------------------------------------------- badge and block


def test_the_simulated_colab_run_finds_its_notebook_through_the_registry(tmp_path):
    assert colab._notebook_path(ROOT, "1") == colab._notebook_path(ROOT, "01_jensen_elbo") == ROOT / "notebooks" / (
        "01_jensen_elbo.ipynb")
    for missing in ("42", "jensen"):
        with pytest.raises(FileNotFoundError, match=r"no student notebook .* \(the course's: 01_jensen_elbo, "):
            colab._notebook_path(ROOT, missing)
    with pytest.raises(FileNotFoundError, match="no student notebook '01'"):
        colab._notebook_path(tmp_path, "01")


def test_the_badges_open_the_student_notebook_on_colab_and_binder():
    first = colab.badge(REPO, "01_jensen_elbo")
    assert colab.colab_url(REPO, "01_jensen_elbo") == (
        "https://colab.research.google.com/github/some-university/ssl-course/blob/main/notebooks/01_jensen_elbo.ipynb")
    assert colab.binder_url(REPO, "01_jensen_elbo") == (
        "https://mybinder.org/v2/gh/some-university/ssl-course/main?urlpath=lab/tree/notebooks/01_jensen_elbo.ipynb")
    assert f'href="{colab.colab_url(REPO, "01_jensen_elbo")}"' in first and colab.BADGE_IMAGE in first
    assert f'href="{colab.binder_url(REPO, "01_jensen_elbo")}"' in first and colab.BINDER_IMAGE in first


def test_apply_is_idempotent_and_none_takes_everything_out_again():
    nb = _solution()
    title, setup = nb.cells[0].source, colab.setup_cell(nb).source
    assert colab.is_current(nb, "01_jensen_elbo", None), "the committed solution: no address, no badge, no block"
    assert colab.apply(nb, "01_jensen_elbo", REPO) is True
    once = nbformat.writes(nb)
    assert colab.apply(nb, "01_jensen_elbo", REPO) is False and nbformat.writes(nb) == once
    assert nb.cells[0].source == colab.badge(REPO, "01_jensen_elbo") + "\n" + title
    assert colab.setup_cell(nb).source == colab.colab_block(REPO) + "\n" + setup, "the rest of the setup cell is kept"
    sources = "\n".join(c.source for c in nb.cells)
    assert sources.count(colab.BADGE_IMAGE) == 1 and sources.count('"google.colab" in') == 1
    assert colab.address_in(nb) == REPO
    assert colab.apply(nb, "01_jensen_elbo", "https://github.com/moved/elsewhere") is True, "a new address replaces"
    assert REPO not in nbformat.writes(nb) and nbformat.writes(nb).count(colab.BADGE_IMAGE) == 1
    assert colab.apply(nb, "01_jensen_elbo", None) is True
    assert (nb.cells[0].source, colab.setup_cell(nb).source) == (title, setup)


def test_an_old_block_and_badge_are_replaced_not_repeated():
    nb = _solution()
    setup = colab.setup_cell(nb)
    rest = setup.source
    setup.source = OLD_BLOCK + rest
    nb.cells[0].source = colab.badge("https://github.com/old-owner/ssl-course", "01_jensen_elbo") + "\n" + \
        nb.cells[0].source
    assert colab.apply(nb, "01_jensen_elbo", REPO) is True
    assert setup.source == colab.colab_block(REPO) + "\n" + rest
    assert "old-owner" not in nbformat.writes(nb)
    setup.source = OLD_BLOCK + rest
    colab.apply(nb, "01_jensen_elbo", None)
    assert setup.source == rest, "without an address the old block goes too"


def test_the_block_is_two_lines_at_the_top_of_the_setup_cell():
    lines = colab.colab_block(REPO).split("\n")
    assert len(lines) == 2 and len(lines[0]) <= 120
    assert lines[1].strip() == f'%pip install -q "ssl-course @ git+{REPO}@main"'
    assert "--no-deps" not in lines[1] and " -e " not in lines[1], "a plain install: Colab's packages that fit stay"


def _run_block(monkeypatch, on_colab: bool):
    """Run the block as IPython runs it; returns the magics it ran."""
    from IPython.core.inputtransformer2 import TransformerManager

    calls = []
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    shell = types.SimpleNamespace(run_line_magic=lambda name, line: calls.append((name, line)))
    code = TransformerManager().transform_cell(colab.colab_block(REPO) + "\nx = 1\n")
    exec(compile(code, "<colab block>", "exec"), {"get_ipython": lambda: shell})
    return calls


def test_the_block_does_nothing_outside_colab(monkeypatch):
    assert _run_block(monkeypatch, on_colab=False) == []


def test_on_colab_the_block_pip_installs_the_course_from_github(monkeypatch):
    assert _run_block(monkeypatch, on_colab=True) == [("pip", f'install -q "ssl-course @ git+{REPO}@main"')]


def test_without_ipython_the_block_is_still_python():
    """The grader and the tools run the setup cell as Python with its magics blanked out."""
    source = colab.colab_block(REPO) + "\nx = 1\n"
    namespace = {}
    exec(compile(strip_magics(source), "<setup cell>", "exec"), namespace)
    assert namespace["x"] == 1


def test_notebooks_with_the_block_pass_ruff(tmp_path):
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed here (tests/test_lint.py says how)")
    shutil.copy(ROOT / "pyproject.toml", tmp_path)  # its per-file ignores name notebooks/ relative to it
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    long = "https://github.com/a-rather-long-university-department-name/self-supervised-learning-course-materials"
    assign.generate(tmp_path / "solutions", tmp_path / "notebooks", long)
    done = subprocess.run([str(ruff), "check", "--output-format", "concise", "solutions", "notebooks"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


# -------------------------------------------------------------------------------------------------- generation


def test_generation_applies_the_address_to_both_versions(tmp_path):
    sols, nbs = tmp_path / "solutions", tmp_path / "notebooks"
    shutil.copytree(ROOT / "solutions", sols)
    assign.generate(sols, nbs, REPO)
    for path in sorted(sols.glob("*.ipynb")) + sorted(nbs.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert nb.cells[0].source.split("\n")[0] == colab.badge(REPO, path.stem), path
        assert colab.setup_cell(nb).source.startswith(colab.colab_block(REPO) + "\n"), path
    assert assign.problems(sols, nbs, REPO) == []
    without = assign.problems(sols, nbs, None)
    assert len(without) == len(SOLUTIONS) and all("no public address" in p for p in without)
    assign.generate(sols, nbs, None)
    assert assign.problems(sols, nbs, None) == []
    for path in sorted(sols.glob("*.ipynb")) + sorted(nbs.glob("*.ipynb")):
        text = path.read_text()
        assert colab.BADGE_IMAGE not in text and colab.BINDER_IMAGE not in text and "google.colab" not in text


def test_the_staleness_check_finds_a_badge_without_its_block(tmp_path):
    sols, nbs = tmp_path / "solutions", tmp_path / "notebooks"
    shutil.copytree(ROOT / "solutions", sols)
    assign.generate(sols, nbs, REPO)
    nb = nbformat.read(sols / "01_jensen_elbo.ipynb", as_version=4)
    colab.setup_cell(nb).source = colab._without_block(colab.setup_cell(nb).source)
    nbformat.write(nb, sols / "01_jensen_elbo.ipynb")
    for strict in (True, False):  # an address in pyproject.toml, or only an origin or nothing
        found = assign._colab_problems(sols / "01_jensen_elbo.ipynb", nb, REPO, strict)
        assert len(found) == 1 and "./course generate" in found[0], found


def test_generating_without_an_address_says_why_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(colab, "find_repository", lambda root=None: colab.Repository(None, ""))
    monkeypatch.setattr(assign, "strip_outputs", lambda paths: [])
    seen = {}
    monkeypatch.setattr(assign, "generate", lambda **kw: seen.update(kw) or [])
    assert assign.main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == colab.NO_ADDRESS and seen == {"repository": None}


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


# -------------------------------------------------------------------------------------------- a simulated Colab


def test_notebook_01_runs_as_on_a_fresh_colab_runtime(tmp_path):
    """The block installs the course (from a copy of this checkout instead of GitHub) into an environment that
    has Colab's packages (this one's, seen through a throwaway venv); then the untouched student notebook runs to
    the end, with course_utils imported from the installed copy and setup_notebook on its Colab path."""
    missing = [m for m in ("ipykernel", "nbclient") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"the simulated Colab kernel needs {' and '.join(missing)}, which this environment lacks")
    run = colab.simulate(Path(sys.executable), ROOT, "01_jensen_elbo", tmp_path / "content", profile="fast")
    assert run.ok, run.log[-6000:]
    installed = re.search(r"^\[simulate\] course_utils: (.+)$", run.log, re.M).group(1)
    assert "/site-packages/course_utils/" in installed and not Path(installed).is_relative_to(ROOT), installed
    assert "[colab stub] enable_custom_widget_manager()" in run.log, "setup_notebook took its Colab path"
    executed = nbformat.read(tmp_path / "content" / "01_jensen_elbo.ipynb", as_version=4)
    assert colab.setup_cell(executed).source.startswith(colab._BLOCK_IF + '\n    %pip install -q "ssl-course @ file:')
    assert not [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    here = subprocess.run([sys.executable, "-c", "import course_utils; print(course_utils.__file__)"],
                          capture_output=True, text=True, cwd=tmp_path).stdout.strip()
    assert Path(here).is_relative_to(ROOT / "course_utils"), f"this environment's course is untouched: {here}"


def test_the_check_holds_committed_notebooks_to_pyproject_but_not_to_an_origin(monkeypatch, tmp_path):
    """A CI checkout, a fork or a copy has another `origin` (or none) than the one the notebooks were generated
    with: the check accepts any consistent badge and block then. An address in pyproject.toml is binding."""
    sols, nbs = tmp_path / "solutions", tmp_path / "notebooks"
    shutil.copytree(ROOT / "solutions", sols)
    assign.generate(sols, nbs, None)
    monkeypatch.setattr(colab, "find_repository", lambda root=None: colab.Repository(REPO, "git remote origin"))
    assert assign.problems(sols, nbs) == []
    assign.generate(sols, nbs, "https://github.com/a-fork/ssl-course")
    assert assign.problems(sols, nbs) == []
    monkeypatch.setattr(colab, "find_repository", lambda root=None: colab.Repository(REPO, "pyproject.toml"))
    found = assign.problems(sols, nbs)
    assert len(found) == len(SOLUTIONS) and all(REPO in p for p in found), found
