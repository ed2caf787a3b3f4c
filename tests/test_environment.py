"""pyproject.toml and environment.yml install the same list of dependencies."""

import re
import tomllib

from conftest import ROOT


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


def test_same_dependencies_in_pyproject_and_environment_yml():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = [d for d in _env_pip_list() if d != "-e ."]
    assert sorted(env) == sorted(deps), "environment.yml's pip list drifted from pyproject.toml's dependencies"
    assert "-e ." in _env_pip_list(), "environment.yml must install the course package itself"


def test_torch_pins():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch==2.14.1" in deps and "torchvision==0.29.1" in deps


def test_readme_names_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "./course lab" in readme and "./course test" in readme
