"""``course test-matrix``: the unit tests and the fast notebooks 01-05 under other Pythons and torches.

Each combination gets a virtual environment of its own under ``.cache/matrix/`` (kept, so a second run starts at
once), installed as ``./course`` installs ``.venv``: ``pip install -c constraints.txt -e ".[dev]"``, except that
the oldest combination replaces constraints.txt's torch and torchvision with the oldest ones pyproject.toml allows.
Each run trains in an empty cache of its own. Other Pythons are found as ``python3.X`` on the PATH, with the
``py`` launcher (Windows), or under pyenv; their torch comes from the package index (several GB the first time;
pip caches it).

    course test-matrix                       # 3.12 and 3.13 with the newest torch, 3.12 with the oldest
    course test-matrix --combo 3.13:newest --only tests/test_data.py
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import syllabus
from .settings import child_environment, current
from .testing import bootstrap_stamp

DEFAULT_COMBOS = ("3.12:newest", "3.13:newest", "3.12:oldest")


@dataclass
class Outcome:
    python: str
    torch: str  # the spec asked for: "newest" or "oldest"
    versions: str = ""  # what the environment holds: Python, torch, torchvision
    ok: bool = False
    summary: str = ""  # pytest's closing line, or why it did not run
    install_s: float = 0.0
    test_s: float = 0.0
    colab: dict = field(default_factory=dict)


def pins(root: Path) -> dict[str, str]:
    """constraints.txt as {name: version}."""
    out = {}
    for line in (root / "constraints.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def floors(root: Path) -> dict[str, str]:
    """The lowest version pyproject.toml's dependencies allow, for each ``name>=X`` among them."""
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    out = {}
    for dep in deps:
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][0-9.]*)", dep)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def torch_specs(root: Path, which: str) -> list[str]:
    """pip requirements for torch and torchvision: constraints.txt's (newest) or the oldest minor release that
    pyproject.toml allows (``torch>=2.4`` gives ``torch==2.4.*``)."""
    if which == "newest":
        p = pins(root)
        return [f"torch=={p['torch']}", f"torchvision=={p['torchvision']}"]
    if which == "oldest":
        f = floors(root)
        return [f"torch=={f['torch']}.*", f"torchvision=={f['torchvision']}.*"]
    raise ValueError(f"torch must be 'newest' or 'oldest', not {which!r}")


def find_python(version: str) -> Path | None:
    """An interpreter of Python ``version`` (e.g. "3.12"): python3.12 on the PATH, the py launcher, or pyenv's."""
    candidates = [shutil.which(f"python{version}")]
    if shutil.which("py"):
        candidates.append(_ask(["py", f"-{version}", "-c", "import sys; print(sys.executable)"]))
    pyenv_root = str(current().pyenv_root or Path.home() / ".pyenv")
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"), reverse=True)
    for c in candidates:
        if c and _ask([c, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]) == version:
            return Path(c)
    return None


def _ask(cmd: list[str]) -> str | None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def install(root: Path, python: Path, which: str, venv: Path, log) -> Path:
    """The combination's environment, made or brought up to date: ``.[lab,dev]`` with constraints.txt, and torch as
    ``which`` says. Returns its interpreter. It is stamped as ``./course`` stamps ``.venv``, so that ``./course``
    with ``COURSE_VENV`` set to it (the browser test's ``./course lab``) uses it as it is."""
    specs = torch_specs(root, which)
    # torch's own pins go with it: another torch needs its own triton and CUDA libraries
    own = r"^(torch|torchvision)==" if which == "newest" else r"^(torch|torchvision|triton|nvidia-[\w-]+|cuda-[\w-]+)=="
    kept = [ln for ln in (root / "constraints.txt").read_text().splitlines() if not re.match(own, ln, re.I)]
    want = hashlib.sha256("\n".join([*kept, *specs, (root / "pyproject.toml").read_text()]).encode()).hexdigest()[:16]
    stamp = venv / ".matrix-installed"
    py = venv_python(venv)
    if py.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return py
    if not py.exists():
        subprocess.run([str(python), "-m", "venv", str(venv)], check=True, stdout=log, stderr=log)
    constraints = venv / "constraints.txt"
    constraints.write_text("\n".join(kept) + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "-c", str(constraints), *specs, "-e", f"{root}[lab,dev]"],
                   check=True, stdout=log, stderr=log, cwd=root)
    stamp.write_text(want + "\n")
    (venv / ".course-installed").write_text(bootstrap_stamp(root, "lab,dev") + "\n")
    (venv / ".course-extras").write_text("lab,dev\n")
    return py


def closing_line(output: str) -> str:
    """pytest's closing line (``== 12 passed, 1 skipped in 3.2s ==``), without the rule."""
    for line in reversed(output.splitlines()):
        if re.search(r"\b(passed|failed|error|errors|no tests ran)\b", line) and " in " in line:
            return line.strip("= ").strip()
    return "no summary (see the log)"


def run_combo(root: Path, version: str, which: str, out: Path, only: list[str], workers: int,
              colab: bool) -> Outcome:
    from .testing import side_by_side, testing_env

    outcome = Outcome(version, which)
    python = find_python(version)
    if python is None:
        outcome.summary = f"Python {version} not found (install it, or put python{version} on the PATH)"
        return outcome
    tag = f"py{version}-torch-{which}"
    venv = root / ".cache" / "matrix" / tag
    log_path = out / f"{tag}.log"
    with open(log_path, "w") as log:
        t0 = time.monotonic()
        try:
            py = install(root, python, which, venv, log)
        except subprocess.CalledProcessError as e:
            outcome.summary = f"install failed ({e}); see {log_path}"
            return outcome
        outcome.install_s = round(time.monotonic() - t0, 1)
        outcome.versions = _ask([str(py), "-c", "import platform, torch, torchvision; print(f'Python "
                                 "{platform.python_version()}, torch {torch.__version__}, torchvision "
                                 "{torchvision.__version__}')"]) or "?"
        cache = out / f"{tag}-cache"
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        targets = only or ["tests", *[f"solutions/{nb.name}.ipynb" for nb in syllabus.with_checks()]]
        xdist, threads = side_by_side(workers, [])
        env = {**child_environment(), **testing_env(), **threads, "COURSE_CACHE": str(cache), "COURSE_VENV": str(venv)}
        t0 = time.monotonic()
        done = subprocess.run([str(py), "-m", "pytest", *xdist, *targets, "-q", "-p", "no:cacheprovider"],
                              cwd=root, env=env, capture_output=True, text=True)
        outcome.test_s = round(time.monotonic() - t0, 1)
        log.write(done.stdout + done.stderr)
        outcome.ok = done.returncode == 0
        outcome.summary = closing_line(done.stdout)
        shutil.rmtree(cache, ignore_errors=True)
    if colab:
        outcome.colab = simulate_colab(root, py, out / f"{tag}-colab")
    return outcome


def simulate_colab(root: Path, python: Path, workdir: Path) -> dict:
    """Notebook 01 as on Colab (see :func:`course_utils.colab.simulate`), with this combination's interpreter."""
    from . import colab

    shutil.rmtree(workdir, ignore_errors=True)
    ok, seconds, log = colab.simulate(python, root, "01_jensen_elbo", workdir)
    (workdir.parent / f"{workdir.name}.log").write_text(log)
    return {"ok": ok, "seconds": round(seconds, 1)}


def table(outcomes: list[Outcome]) -> str:
    rows = ["| Python | torch | environment | result | install s | tests s | Colab-like 01 |",
            "|---|---|---|---|---|---|---|"]
    for o in outcomes:
        colab = "-" if not o.colab else f"{'passed' if o.colab['ok'] else 'FAILED'} ({o.colab['seconds']} s)"
        rows.append(f"| {o.python} | {o.torch} | {o.versions or '-'} | {'passed' if o.ok else 'FAILED'}: "
                    f"{o.summary} | {o.install_s} | {o.test_s} | {colab} |")
    return "\n".join(rows)


def main(argv: list[str], root: Path) -> int:
    ap = argparse.ArgumentParser(prog="course test-matrix", description=__doc__.split("\n\n")[0])
    ap.add_argument("--combo", action="append", metavar="PY:TORCH",
                    help="a Python version and 'newest' or 'oldest' torch, e.g. 3.13:newest; repeat it (default: "
                         + ", ".join(DEFAULT_COMBOS) + ")")
    ap.add_argument("--only", nargs="+", default=[], metavar="PATH",
                    help="run these test paths instead of tests/ and the solution notebooks 01-05")
    ap.add_argument("--workers", type=int, default=None, help="pytest-xdist workers (default: one per core, at most 4)")
    ap.add_argument("--no-colab", action="store_true", help="skip the Colab-like run of notebook 01 in the first "
                                                             "combination that uses another torch than CI's")
    ap.add_argument("--out", type=Path, default=root / "artifacts" / "matrix", help="logs (default artifacts/matrix)")
    ap.add_argument("--record", type=Path, help="also write the outcomes as JSON here")
    a = ap.parse_args(argv)
    combos = a.combo or list(DEFAULT_COMBOS)
    a.out.mkdir(parents=True, exist_ok=True)
    outcomes = []
    colab_done = a.no_colab
    for combo in combos:
        version, _, which = combo.partition(":")
        colab = not colab_done and which == "oldest"
        colab_done |= colab
        print(f"[course] test-matrix: Python {version}, {which} torch ...", file=sys.stderr, flush=True)
        outcomes.append(run_combo(root, version, which or "newest", a.out, a.only, a.workers, colab))
        print(table(outcomes[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    print(table(outcomes))
    if a.record:
        a.record.parent.mkdir(parents=True, exist_ok=True)
        a.record.write_text(json.dumps([asdict(o) for o in outcomes], indent=1) + "\n")
    return 0 if all(o.ok and o.colab.get("ok", True) for o in outcomes) else 1
