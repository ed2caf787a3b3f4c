"""The dependencies: ranges for users (pyproject.toml, environment.yml), exact pins for the tests (constraints.txt)."""

import re
import tomllib

from packaging.requirements import Requirement

from helpers import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DEPS = PROJECT["project"]["dependencies"]
TOOLS = {"pytest", "pytest-xdist", "nbval", "playwright", "ruff", "jupyterlab"}


def _env_pip_list():
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"^\s*-\s*pip:\s*$", line))
    indent = None
    out = []
    for line in lines[start + 1 :]:
        if not line.strip() or line.strip().startswith("#"):
            continue
        m = re.match(r"^(\s*)-\s*(.+?)\s*$", line)
        if not m:
            break
        if indent is None:
            indent = len(m.group(1))
        if len(m.group(1)) != indent:
            break
        out.append(m.group(2))
    return out


def _pins():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_same_dependencies_in_pyproject_and_environment_yml():
    env = [d for d in _env_pip_list() if not d.startswith("-e")]
    assert sorted(env) == sorted(DEPS), "environment.yml's pip list drifted from pyproject.toml's dependencies"
    assert "-e .[lab]" in _env_pip_list(), "environment.yml installs the course itself, with JupyterLab"


def test_users_get_ranges_and_no_test_tools():
    for dep in DEPS:
        req = Requirement(dep)
        assert not any(s.operator in ("==", "===") for s in req.specifier), f"{dep}: a range, not a pin"
        assert req.name not in TOOLS, f"{req.name} is a tool, not something the notebooks import: put it in an extra"
    extras = PROJECT["project"]["optional-dependencies"]
    assert {Requirement(d).name for d in extras["dev"]} >= TOOLS - {"jupyterlab"}
    assert [Requirement(d).name for d in extras["lab"]] == ["jupyterlab"]


def test_the_pins_lie_inside_the_ranges():
    pins = _pins()
    for dep in DEPS + [d for extra in PROJECT["project"]["optional-dependencies"].values() for d in extra]:
        req = Requirement(dep)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"constraints.txt pins no version of {req.name}: run course lock in a fresh .venv"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject.toml's {dep}")
    assert "ssl-course" not in pins, "the course itself is not pinned"


def test_pythons():
    assert PROJECT["project"]["requires-python"] == ">=3.11"
    course = (ROOT / "course").read_text()
    assert "(3, 11) <= sys.version_info[:2] <= (3, 13)" in course, "./course accepts the Pythons pyproject.toml does"
    classifiers = [c for c in PROJECT["project"]["classifiers"] if c.startswith("Programming Language :: Python :: 3.")]
    oldest = min(classifiers, key=lambda c: int(c.rsplit(".", 1)[1])).rsplit(" ", 1)[1]
    assert PROJECT["tool"]["ruff"]["target-version"] == "py" + oldest.replace(".", ""), "ruff targets the oldest"


def test_readme_names_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "./course lab" in readme and "./course test" in readme
