"""One settings object: every environment variable read in course_utils/settings.py alone, typed, no aliases."""

import ast

import pytest

from course_utils import settings
from helpers import ROOT

_NAMES = ("environ", "environb", "getenv", "getenvb")
_WRITES = ("update", "setdefault", "pop", "clear")  # a write, as a statement of its own (its value unused)


def _reads(tree) -> list[int]:
    """Lines that read the environment: every use of ``os.environ`` (or ``os.getenv``, ``os.environb``, or one of
    them imported from os) except a write. A lookup, ``in``, ``.get``, ``.items()``, a copy (``dict(os.environ)``,
    ``{**os.environ}``) or passing it on are reads; ``os.environ[k] = v``, ``del os.environ[k]`` and the statements
    ``os.environ.update(...)``, ``.setdefault(...)``, ``.pop(...)``, ``.clear()`` are not. A child process's
    environment is built from ``settings.child_environment()``, the one copy of the environment outside settings."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os" and any(a.name in _NAMES for a in node.names):
            out.append(node.lineno)
        if not (isinstance(node, ast.Attribute) and node.attr in _NAMES and isinstance(node.value, ast.Name)
                and node.value.id == "os"):
            continue
        up = parents.get(node)
        if isinstance(up, ast.Subscript) and isinstance(up.ctx, (ast.Store, ast.Del)):
            continue
        call = parents.get(up)
        if isinstance(up, ast.Attribute) and up.attr in _WRITES and isinstance(call, ast.Call) \
                and call.func is up and isinstance(parents.get(call), ast.Expr):
            continue
        out.append(node.lineno)
    return sorted(set(out))


def test_the_finder_finds_reads():
    code = ('import os\na = os.environ.get("X")\nb = os.getenv("Y")\nc = os.environ["Z"]\nd = "W" in os.environ\n'
            'e = {**os.environ}\nf = dict(os.environ)\ng = {k: v for k, v in os.environ.items()}\n'
            'h = os.environ.pop("X", None)\nsubprocess.run(["ls"], env=os.environ)\nfrom os import environ\n')
    assert _reads(ast.parse(code)) == list(range(2, 12))
    writes = ('import os\nos.environ["X"] = "1"\ndel os.environ["X"]\nos.environ.update(X="1")\n'
              'os.environ.setdefault("X", "1")\nos.environ.pop("X", None)\nos.environ.clear()\n')
    assert _reads(ast.parse(writes)) == []


def test_no_module_reads_the_environment_but_settings():
    offenders = []
    for path in [*(ROOT / "course_utils").rglob("*.py"), *(ROOT / "tools").glob("*.py"),
                 *(ROOT / "benchmarks").glob("*.py")]:
        rel = path.relative_to(ROOT).as_posix()
        if rel == "course_utils/settings.py":
            continue
        offenders += [f"{rel}:{line}" for line in _reads(ast.parse(path.read_text()))]
    assert not offenders, (f"read the environment through course_utils.settings.current(), and hand a child process "
                           f"settings.child_environment(): {offenders}")


def test_a_child_gets_the_environment_or_an_allowlist(monkeypatch):
    monkeypatch.setenv("COURSE_TEST_A", "1")
    monkeypatch.setenv("COURSE_TEST_B", "")
    monkeypatch.delenv("COURSE_TEST_C", raising=False)
    whole = settings.child_environment()
    assert whole["COURSE_TEST_A"] == "1" and whole["COURSE_TEST_B"] == "" and "COURSE_TEST_C" not in whole
    whole["COURSE_TEST_A"] = "changed"  # a copy
    assert settings.child_environment()["COURSE_TEST_A"] == "1"
    kept = settings.child_environment(["COURSE_TEST_C", "COURSE_TEST_B", "COURSE_TEST_A"])
    assert list(kept.items()) == [("COURSE_TEST_B", ""), ("COURSE_TEST_A", "1")]


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
    assert "COURSE_GRADE_PROFILE" not in settings.BY_NAME, "the grader's profile is its --profile option"


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
