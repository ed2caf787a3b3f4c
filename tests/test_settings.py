"""One settings object: every environment variable read in course_utils/settings.py alone, typed, no aliases."""

import ast

import pytest

from conftest import ROOT
from course_utils import settings

# The grader reads its own variables directly until it moves to the settings object as well.
NOT_YET = {"course_utils/grade"}


def _reads(tree) -> list[int]:
    """Lines that read the environment: os.environ.get / os.getenv / os.environ[...] / "X" in os.environ."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            f = node.func
            if f.attr == "getenv" and isinstance(f.value, ast.Name) and f.value.id == "os":
                out.append(node.lineno)
            if f.attr == "get" and isinstance(f.value, ast.Attribute) and f.value.attr == "environ":
                out.append(node.lineno)
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) \
                and isinstance(node.value, ast.Attribute) and node.value.attr == "environ":
            out.append(node.lineno)
        if isinstance(node, ast.Compare) and any(isinstance(c, ast.Attribute) and c.attr == "environ"
                                                 for c in node.comparators):
            out.append(node.lineno)
    return out


def test_the_finder_finds_reads():
    code = 'import os\na = os.environ.get("X")\nb = os.getenv("Y")\nc = os.environ["Z"]\nd = "W" in os.environ\n'
    assert _reads(ast.parse(code)) == [2, 3, 4, 5]
    assert _reads(ast.parse('import os\nos.environ["X"] = "1"\nenv = {**os.environ}\n')) == []


def test_no_module_reads_the_environment_but_settings():
    offenders = []
    for path in [*(ROOT / "course_utils").rglob("*.py"), *(ROOT / "tools").glob("*.py")]:
        rel = path.relative_to(ROOT).as_posix()
        if rel == "course_utils/settings.py" or any(rel.startswith(p) for p in NOT_YET):
            continue
        offenders += [f"{rel}:{line}" for line in _reads(ast.parse(path.read_text()))]
    assert not offenders, f"read the environment through course_utils.settings.current(): {offenders}"


def test_typed_values_and_clear_errors():
    s = settings.current({"COURSE_PROFILE": "Fast", "COURSE_DOWNLOAD": "off", "COURSE_SEED": "3", "COURSE_BF16": "1"})
    assert (s.profile, s.download, s.seed, s.bf16) == ("fast", False, 3, True)
    defaults = settings.current({})
    assert (defaults.profile, defaults.download, defaults.bf16, defaults.checkpoints) == ("full", True, None, "auto")
    with pytest.raises(settings.SettingError, match="COURSE_DOWNLOAD='maybe' is not a yes or a no: write "
                                                   "COURSE_DOWNLOAD=1 or COURSE_DOWNLOAD=0"):
        settings.current({"COURSE_DOWNLOAD": "maybe"})
    with pytest.raises(settings.SettingError, match="COURSE_SEED='x' is not a whole number"):
        settings.current({"COURSE_SEED": "x"})
    with pytest.raises(settings.SettingError, match="COURSE_CHECKPOINTS='fresh' is not a mode"):
        settings.current({"COURSE_CHECKPOINTS": "fresh"})


def test_no_aliases():
    assert len({v.name for v in settings.VARIABLES}) == len(settings.VARIABLES)
    assert "COURSE_RETRAIN" not in settings.BY_NAME, "COURSE_CHECKPOINTS=train says it"
    assert settings.current({"COURSE_RETRAIN": "1"}).checkpoints == "auto"


def test_the_docs_table_is_generated():
    assert (ROOT / "docs" / "settings.md").read_text() == settings.table() + "\n", (
        "docs/settings.md is stale: course settings --markdown > docs/settings.md")


def test_the_setup_cell_prints_the_variables_that_are_set(monkeypatch, capsys):
    from course_utils.notebook import setup_notebook

    for v in settings.VARIABLES:
        monkeypatch.delenv(v.name, raising=False)
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    monkeypatch.setenv("COURSE_SEED", "4")
    monkeypatch.setenv("COURSE_DOWNLOAD", "0")
    setup_notebook("01_jensen_elbo")
    out = capsys.readouterr().out
    assert "settings: COURSE_PROFILE=fast, COURSE_SEED=4, COURSE_DOWNLOAD=0" in out
