"""Google Colab and Binder: the repository's public address, the badges and the Colab block, and a simulated Colab run.

The address is written once, in ``pyproject.toml``::

    [tool.ssl-course]
    repository = "https://github.com/ORG/REPO"

Without it, a GitHub ``origin`` remote of the checkout serves (``git@github.com:o/r.git`` becomes
``https://github.com/o/r``); without either there is no address, and the notebooks carry neither badge nor block
(a link to a repository that does not exist is worse than none). ``./course generate``
(:func:`course_utils.assign.generate`) applies :func:`apply` to every solution notebook before it writes the student
versions, so the badges and the block follow the address in one step:

- the title cell's first line: an "Open in Colab" badge that opens the *student* notebook
  (``notebooks/NN_topic.ipynb``) from the repository's ``main`` branch, and a "launch Binder" badge that opens the
  same notebook on mybinder.org (built from ``binder/``);
- the setup cell (the code cell that calls ``setup_notebook``) starts with two lines that, on Colab only, install
  the course with pip from GitHub. pip keeps what Colab has installed when it satisfies the package's dependencies
  (torch above all); ``setup_notebook`` then turns on Colab's widget manager. Elsewhere the ``if`` is false. It is
  ``__import__("sys")`` and an indented ``%pip``, not ``import sys`` and a one-line ``if``, because IPython runs a
  magic only on a line of its own and ruff wants a blank line after an import and no statement after a colon.

:func:`simulate` runs a student notebook the way Colab does: a fresh kernel in a ``/content``-like folder, a stub
``google.colab``, the block installing the course (from a local copy of the clone instead of GitHub), then every
cell; :func:`colab_venv` makes the throwaway environment with "Colab's own packages" it runs in.

    python -m course_utils.colab                       # the address and where it comes from
    python -m course_utils.colab --simulate 01 [--python VENV/bin/python] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import NamedTuple

from . import syllabus
from .paths import REPO_ROOT
from .settings import child_environment

PACKAGE = "ssl-course"  # pyproject.toml's [project] name: what the block installs
BRANCH = "main"  # the branch the badges open and the block installs

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_IMAGE = "https://mybinder.org/badge_logo.svg"

NO_ADDRESS = ("no public address: set [tool.ssl-course] repository in pyproject.toml, or a GitHub `origin` remote, "
              "to add the Colab badge and block")

# The block's first line; the second installs the course. _BLOCK_START finds it (and older blocks) again.
_BLOCK_IF = ('if "google.colab" in __import__("sys").modules:  '
             "# on Google Colab only: install the course (Colab's own torch is kept)")
_BLOCK_START = re.compile(r'^if "google\.colab" in .*:')
_OLD_BLOCK = re.compile(r"^# >>> Colab.*?^# <<< Colab[^\n]*\n?", re.S | re.M)  # the seven lines of the first version

# What in an address stands for "not known yet"; tests/test_colab.py fails on an address in a notebook with any.
PLACEHOLDER = re.compile(r"your[-_]?(org|organi[sz]ation|user|username|account|repo)\b|"
                         r"(^|[/.@])example\.(com|org|net)\b|<(org|owner|user|repo)\b|\b(ORG|OWNER|USER)/REPO\b", re.I)
_ADDRESS = re.compile(r"(?:https?|ssh|git)://[^\s\"'>)\]]+|git@[^\s\"'>)\]]+")

_GITHUB = re.compile(r"^(?:(?:git\+)?https?://(?:[^@/]+@)?github\.com/|ssh://git@github\.com/|git@github\.com:|"
                     r"git://github\.com/)([A-Za-z0-9][A-Za-z0-9-]*)/([A-Za-z0-9._-]+?)(?:\.git)?/?$")


class Repository(NamedTuple):
    """The public address (``https://github.com/OWNER/NAME``, or None) and where it was read (``"pyproject.toml"``,
    ``"git remote origin"``, or ``""`` when there is none)."""

    url: str | None
    source: str


def normalise(address: str) -> str | None:
    """``https://github.com/OWNER/NAME`` for a GitHub address in any of git's spellings (https with or without
    ``.git`` or credentials, ``git@github.com:OWNER/NAME.git``, ``ssh://``); None for anything else."""
    m = _GITHUB.match(address.strip())
    if not m or PLACEHOLDER.search(address):
        return None
    return f"https://github.com/{m.group(1)}/{m.group(2)}"


def find_repository(root: Path = REPO_ROOT) -> Repository:
    """The repository's public address: ``[tool.ssl-course] repository`` in ``root/pyproject.toml``, else the
    checkout's ``origin`` remote when it is on GitHub, else none. A set but unusable ``repository`` (not GitHub, a
    placeholder) is an error, not a silent fallback."""
    root = Path(root)
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        project = {}
    configured = str(project.get("tool", {}).get("ssl-course", {}).get("repository") or "").strip()
    if configured:
        url = normalise(configured)
        if url is None:
            raise ValueError(f"pyproject.toml: [tool.ssl-course] repository = {configured!r} is not a GitHub "
                             "address (https://github.com/OWNER/NAME); the badges open notebooks from GitHub")
        return Repository(url, "pyproject.toml")
    if (root / ".git").exists():
        try:
            done = subprocess.run(["git", "-C", str(root), "remote", "get-url", "origin"], capture_output=True,
                                  text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            done = None
        url = normalise(done.stdout) if done is not None and done.returncode == 0 else None
        if url:
            return Repository(url, "git remote origin")
    return Repository(None, "")


def repository(root: Path = REPO_ROOT) -> str | None:
    """The public address alone (see :func:`find_repository`)."""
    return find_repository(root).url


def _path(repo: str) -> str:
    return repo.removeprefix("https://github.com/").rstrip("/")


def colab_url(repo: str, notebook: str) -> str:
    """The Colab address that opens ``notebooks/<notebook>.ipynb`` of ``repo``'s main branch."""
    return f"https://colab.research.google.com/github/{_path(repo)}/blob/{BRANCH}/notebooks/{notebook}.ipynb"


def binder_url(repo: str, notebook: str) -> str:
    """The Binder address that builds ``repo`` (its ``binder/``) and opens ``notebooks/<notebook>.ipynb`` in
    JupyterLab."""
    return f"https://mybinder.org/v2/gh/{_path(repo)}/{BRANCH}?urlpath=lab/tree/notebooks/{notebook}.ipynb"


def badge(repo: str, notebook: str) -> str:
    """The title's first line: "Open in Colab" and, next to it, "launch Binder"."""
    return (f'<a href="{colab_url(repo, notebook)}" target="_parent"><img src="{BADGE_IMAGE}" '
            'alt="Open In Colab"/></a> '
            f'<a href="{binder_url(repo, notebook)}" target="_parent"><img src="{BINDER_IMAGE}" '
            'alt="Launch Binder"/></a>')


def install_target(repo: str) -> str:
    """What the block hands pip: the package from ``repo``'s main branch."""
    return f"{PACKAGE} @ git+{repo}@{BRANCH}"


def colab_block(repo: str) -> str:
    """The two lines at the top of every setup cell. On Colab they install the course from ``repo``; elsewhere the
    ``if`` is false. A plain ``pip install`` keeps every installed package that satisfies the course's
    dependencies, so Colab's own torch stays."""
    return _block(install_target(repo))


def _block(requirement: str) -> str:
    return f'{_BLOCK_IF}\n    %pip install -q "{requirement}"'


def setup_cell(nb):
    """The setup cell: the first code cell that calls ``setup_notebook`` (None if there is none)."""
    return next((c for c in nb.cells if c.cell_type == "code" and "setup_notebook(" in c.source), None)


def _without_block(source: str) -> str:
    source = _OLD_BLOCK.sub("", source, count=1)
    lines = source.split("\n")
    if lines and _BLOCK_START.match(lines[0]):
        end = 1
        while end < len(lines) and lines[end].startswith((" ", "\t")):
            end += 1
        lines = lines[end:]
    return "\n".join(lines)


def _without_badge(source: str) -> str:
    lines = source.split("\n")
    if lines and (BADGE_IMAGE in lines[0] or BINDER_IMAGE in lines[0]):
        lines = lines[1:]
    return "\n".join(lines)


def _set_block(cell, block: str | None) -> None:
    rest = _without_block(cell.source)
    cell.source = f"{block}\n{rest}" if block else rest


def apply(nb, notebook: str, repo: str | None) -> bool:
    """Put ``repo``'s badge and block into ``nb`` (in place), replacing any earlier ones; with ``repo`` None (or a
    notebook without a setup cell) take them out; a notebook whose first cell is not a markdown title is left alone.
    Returns whether anything changed; a second call changes nothing."""
    if not nb.cells or nb.cells[0].cell_type != "markdown":  # no title cell to carry the badge
        return False
    title, setup = nb.cells[0], setup_cell(nb)
    before = (title.source, setup.source if setup is not None else None)
    keep = repo is not None and setup is not None
    title.source = _without_badge(title.source)
    if keep:
        title.source = f"{badge(repo, notebook)}\n{title.source}"
    if setup is not None:
        _set_block(setup, colab_block(repo) if keep else None)
    return (title.source, setup.source if setup is not None else None) != before


def is_current(nb, notebook: str, repo: str | None) -> bool:
    """Whether ``nb`` holds exactly ``repo``'s badge and block (or, for None, neither)."""
    return not apply(copy.deepcopy(nb), notebook, repo)


def address_in(nb) -> str | None:
    """The repository that ``nb``'s Colab badge points at, if it has one."""
    first = nb.cells[0].source.split("\n", 1)[0] if nb.cells else ""
    m = re.search(r"colab\.research\.google\.com/github/([^/\s\"]+)/([^/\s\"]+)/blob/", first)
    return f"https://github.com/{m.group(1)}/{m.group(2)}" if m else None


def placeholders(text: str) -> list[str]:
    """The addresses in ``text`` (``https://...``, ``git@...``) that hold a placeholder (``YOUR-ORG``-like, an
    ``example.com`` host)."""
    return [m.group() for m in _ADDRESS.finditer(text) if PLACEHOLDER.search(m.group())]


# ---------------------------------------------------------------------------------------------------- simulation


class Simulation(NamedTuple):
    """What :func:`simulate` found: whether the notebook ran to the end with the course installed from the copy,
    the wall time (kernel start, install and every cell), and a log (each cell's output, the install, where
    ``course_utils`` came from)."""

    ok: bool
    seconds: float
    log: str


_STUB_OUTPUT = '''"""Stub of google.colab.output (course_utils.colab.simulate)."""


def enable_custom_widget_manager():
    print("[colab stub] enable_custom_widget_manager()")
'''

_PROVENANCE = """import sys, course_utils  # added by course_utils.colab.simulate: where did the course come from?
print("[simulate] course_utils:", course_utils.__file__)
print("[simulate] sys.prefix:", sys.prefix)
"""


def _site_packages(python: Path) -> list[str]:
    code = "import sysconfig; p = sysconfig.get_paths(); print(p['purelib']); print(p['platlib'])"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return list(dict.fromkeys(out))


def colab_venv(packages_from: Path, dest: Path) -> Path:
    """A throwaway virtual environment at ``dest`` that sees every package of the environment of ``packages_from``
    (a venv's python: torch, ipykernel, pip, setuptools, ...) as installed, through a ``.pth`` file, the way a Colab
    runtime has them preinstalled; made in a fraction of a second, with nothing downloaded. Installing into it
    leaves ``packages_from``'s environment alone (pip changes nothing outside its own environment). Returns its
    python."""
    packages_from, dest = Path(packages_from), Path(dest)
    subprocess.run([str(packages_from), "-m", "venv", "--without-pip", str(dest)], check=True, capture_output=True)
    python = dest / "bin" / "python"
    own = _site_packages(python)
    (Path(own[0]) / "colab-preinstalled.pth").write_text("\n".join(_site_packages(packages_from)) + "\n")
    if subprocess.run([str(python), "-m", "pip", "--version"], capture_output=True).returncode != 0:
        subprocess.run([str(python), "-m", "ensurepip", "-q"], check=True, capture_output=True)  # no pip to see
    return python


def _copy_source(clone: Path, dest: Path) -> None:
    """What a fresh clone of ``clone`` would hold, with its uncommitted edits: its tracked and untracked but not
    ignored files (or, outside git, everything but the usual build and cache folders)."""
    done = subprocess.run(["git", "-C", str(clone), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                          capture_output=True)
    if done.returncode != 0:
        shutil.copytree(clone, dest, ignore=shutil.ignore_patterns(".git", ".venv", ".cache", "build", "data",
                                                                   "__pycache__", "*.egg-info", "artifacts"))
        return
    for rel in sorted(set(done.stdout.decode().split("\0")) - {""}):
        src = clone / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _notebook_path(clone: Path, notebook: str) -> Path:
    """``clone``'s student notebook that the registry names ``notebook`` (``"01"``, ``"01_jensen_elbo"``)."""
    nb = syllabus.get(notebook, None)
    if nb is None or not nb.path_in(clone / "notebooks").is_file():
        raise FileNotFoundError(f"no student notebook {notebook!r} in {clone / 'notebooks'} (the course's: "
                                f"{', '.join(syllabus.names())})")
    return nb.path_in(clone / "notebooks")


_BUILD_REQUIRES_MET = """import sys, tomllib
from importlib.metadata import PackageNotFoundError, version
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
for line in tomllib.loads(open(sys.argv[1], "rb").read().decode())["build-system"]["requires"]:
    req = Requirement(line)
    try:
        assert req.specifier.contains(version(req.name), prereleases=True)
    except (PackageNotFoundError, AssertionError):
        sys.exit(1)
"""


def _build_requires_met(python: Path, project: Path) -> bool:
    """Whether ``python``'s environment has what ``project/pyproject.toml``'s ``[build-system]`` requires."""
    done = subprocess.run([str(python), "-c", _BUILD_REQUIRES_MET, str(project / "pyproject.toml")],
                          capture_output=True)
    return done.returncode == 0


def _cell_log(i: int, cell) -> list[str]:
    first = next((ln for ln in cell.source.split("\n") if ln.strip()), "")
    out = [f"--- cell {i}: {first[:100]}"]
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            out.append(o.text.rstrip("\n"))
        elif o.output_type == "error":
            out.append(re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(o.traceback)))
        elif "text/plain" in o.get("data", {}):
            out.append(o.data["text/plain"][:500])
    return out


def simulate(python: Path, clone: Path, notebook: str, workdir: Path, profile: str = "fast",
             timeout: int = 600, fresh_env: bool = True) -> Simulation:
    """Run the student notebook ``clone/notebooks/<notebook>.ipynb`` as on a fresh Google Colab runtime.

    - ``workdir`` stands for ``/content``: the notebook is copied there (and left there, executed, with outputs)
      and the kernel runs in it;
    - ``python``'s environment plays Colab's preinstalled packages (torch, ipykernel, ...). The kernel is
      ``python -m ipykernel_launcher`` of a throwaway venv on top of it (:func:`colab_venv`), into which the block
      installs the course, so ``python``'s own environment is left as it was (an editable install of the course
      in it included). ``fresh_env=False``: the kernel is ``python`` itself and the course goes into its
      environment;
    - ``google.colab`` is a stub (on ``PYTHONPATH``, imported when the kernel starts, as Colab's kernel has it),
      whose ``output.enable_custom_widget_manager()`` only prints that it was called;
    - the setup cell's Colab block is the one :func:`apply` writes, with one change: pip installs from a copy of
      ``clone``'s files (tracked and untracked, uncommitted edits included, as a fresh clone with them would hold)
      instead of from GitHub. pip builds it with the environment's setuptools when that satisfies the copy's
      ``[build-system] requires``, else in its usual isolated build (which fetches setuptools from the index);
    - ``COURSE_PROFILE=profile``, ``COURSE_DOWNLOAD=0`` (Fashion-MNIST where installed, else the digits), a fresh
      ``COURSE_CACHE``; ``timeout`` is per cell.

    ``ok`` means every cell ran and ``course_utils`` was imported from the kernel's environment, not from the
    clone or the copy (a last cell prints its ``__file__`` into the log).
    """
    import nbclient
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient.exceptions import CellExecutionError

    python, clone, workdir = Path(python).absolute(), Path(clone).resolve(), Path(workdir).resolve()
    given = python
    start = time.monotonic()
    log: list[str] = []

    def result(ok: bool, *lines: str) -> Simulation:
        return Simulation(ok, round(time.monotonic() - start, 1), "\n".join(log + list(lines)))

    source = _notebook_path(clone, notebook)
    if subprocess.run([str(python), "-c", "import ipykernel"], capture_output=True).returncode != 0:
        return result(False, f"{python} cannot import ipykernel: the simulated Colab kernel needs it")
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="colab-sim-") as tmp:
        tmp = Path(tmp)
        if fresh_env:
            python = colab_venv(python, tmp / "venv")
        copy_dir, stub, kernels = tmp / "ssl-course", tmp / "stub", tmp / "kernels" / "colab-sim"
        _copy_source(clone, copy_dir)
        (stub / "google" / "colab").mkdir(parents=True)  # google/ is a namespace package, as protobuf's is
        (stub / "google" / "colab" / "__init__.py").write_text('"""Stub of google.colab."""\nfrom . import output\n')
        (stub / "google" / "colab" / "output.py").write_text(_STUB_OUTPUT)
        kernels.mkdir(parents=True)
        argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}",
                "--IPKernelApp.exec_lines=import google.colab", "--IPKernelApp.exec_lines=del google"]
        (kernels / "kernel.json").write_text(json.dumps(
            {"argv": argv, "display_name": "Colab (simulated)", "language": "python"}))

        nb = nbformat.read(str(source), as_version=4)
        setup = setup_cell(nb)
        if setup is None:
            return result(False, f"{source.name} has no setup cell (a code cell calling setup_notebook)")
        _set_block(setup, _block(f"{PACKAGE} @ {copy_dir.as_uri()}"))
        nb.cells.append(nbformat.v4.new_code_cell(_PROVENANCE))
        target = workdir / source.name
        nbformat.write(nb, str(target))

        env = {k: v for k, v in child_environment().items()
               if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "COURSE_CACHE", "COURSE_DATA")
               and not k.startswith(("PIP_", "JPY_", "JUPYTER_"))}
        env.update(PYTHONPATH=str(stub), COURSE_PROFILE=profile, COURSE_DOWNLOAD="0", COURSE_PROGRESS="0",
                   COURSE_CACHE=str(tmp / "cache"), PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1")
        env["PATH"] = os.pathsep.join([str(python.parent), env.get("PATH", "")])
        if _build_requires_met(python, copy_dir):  # else pip's isolated build fetches them from the index
            env["PIP_NO_BUILD_ISOLATION"] = "0"  # pip's inverted switch: "0" turns build isolation off
        log.append(f"[simulate] {source.relative_to(clone)} in {workdir}, profile {profile}, kernel {python}"
                   + (f" (a throwaway venv over the packages of {given})" if fresh_env else ""))
        log.append(f"[simulate] pip installs {PACKAGE} from a copy of {clone}"
                   + (" (build isolation off)" if "PIP_NO_BUILD_ISOLATION" in env else ""))

        km = KernelManager(kernel_name="colab-sim",
                           kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels.parent)]))
        client = nbclient.NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(workdir)}})
        error = ""
        try:
            client.execute(env=env, cwd=str(workdir))
        except CellExecutionError as e:
            error = f"[simulate] a cell failed: {str(e)[-3000:]}"
        except Exception as e:  # noqa: BLE001 - a kernel that dies or times out is a failed run, with its reason
            error = f"[simulate] the run stopped: {type(e).__name__}: {e}"
        finally:
            nbformat.write(nb, str(target))
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                log.extend(_cell_log(i, cell))
        if error:
            return result(False, error)
        text = "\n".join(log)
        found = re.search(r"^\[simulate\] course_utils: (.+)$", text, re.M)
        prefix = re.search(r"^\[simulate\] sys\.prefix: (.+)$", text, re.M)
        if not (found and prefix):
            return result(False, "[simulate] the last cell did not say where course_utils came from")
        where, env_prefix = Path(found.group(1).strip()).resolve(), Path(prefix.group(1).strip()).resolve()
        if where.is_relative_to(clone) or where.is_relative_to(copy_dir.resolve()) \
                or not where.is_relative_to(env_prefix):
            return result(False, f"[simulate] course_utils came from {where}, not from the installed copy in "
                                 f"{env_prefix}")
        return result(True, f"[simulate] ok: course_utils installed in {env_prefix}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m course_utils.colab", description=__doc__.split("\n")[0])
    ap.add_argument("--simulate", metavar="NN", help="run notebooks/NN_*.ipynb as on a fresh Colab runtime")
    ap.add_argument("--python", type=Path, default=Path(sys.executable),
                    help="--simulate: a python whose packages play Colab's (default: this one; left unchanged)")
    ap.add_argument("--workdir", type=Path, help="--simulate: the /content-like folder (default: a temporary one)")
    ap.add_argument("--profile", default="fast", choices=["fast", "full"])
    args = ap.parse_args(argv)
    if not args.simulate:
        found = find_repository()
        print(f"{found.url} (from {found.source})" if found.url else NO_ADDRESS)
        return 0
    with tempfile.TemporaryDirectory(prefix="colab-") as tmp:
        run = simulate(args.python, REPO_ROOT, args.simulate, args.workdir or Path(tmp) / "content", args.profile)
    print(run.log)
    print(f"{'ok' if run.ok else 'FAILED'} in {run.seconds:.0f} s")
    return 0 if run.ok else 1


if __name__ == "__main__":
    sys.exit(main())
