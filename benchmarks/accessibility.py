"""axe-core over every kind of page the course writes: counts by rule and impact (WCAG 2.1 AA).

    .venv/bin/python benchmarks/accessibility.py                      # build everything into build/a11y, audit
    .venv/bin/python benchmarks/accessibility.py --reuse              # audit the pages built last time
    .venv/bin/python benchmarks/accessibility.py --execute 01,02      # execute only these on the instructor site
    .venv/bin/python benchmarks/accessibility.py --record after       # and store the counts under "after"
    .venv/bin/python benchmarks/accessibility.py --code /tmp/old      # build with another checkout's code (before)

The pages: the instructor site (``tools/build_site.py``, every notebook executed, fast profile), the student site
(``--no-solutions``), notebook 01's slide deck (executed, fast profile), the written-answer pages of notebook 01
(``course written``) and a student's feedback page (``course grade-batch``, without executing), for a class of two:
the solution's answers and the notebook as handed out. Each is built by the course's own command, in a
subprocess (``--code`` runs them from another checkout, with its ``course_utils`` first on ``PYTHONPATH``); the
audit is :func:`course_utils.a11y.audit`. ``--record KEY`` writes the summary into
``benchmarks/results/accessibility.json`` under ``KEY``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from course_utils import a11y, assign
from course_utils.paths import REPO_ROOT, cache_dir
from course_utils.settings import child_environment

OUT = REPO_ROOT / "build" / "a11y"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "accessibility.json"


def _run(cmd: list[str], code: Path, log: Path) -> None:
    env = dict(child_environment(), COURSE_PROFILE="fast", COURSE_PROGRESS="0", COURSE_DOWNLOAD="0",
               COURSE_CACHE=str(cache_dir()))
    if code != REPO_ROOT:
        env["PYTHONPATH"] = os.pathsep.join([str(code), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    t0 = time.monotonic()
    with log.open("a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        done = subprocess.run(cmd, cwd=code, env=env, stdout=f, stderr=subprocess.STDOUT)
    print(f"  {' '.join(cmd[1:4])} ...: {time.monotonic() - t0:.0f} s", flush=True)
    if done.returncode != 0:
        sys.exit(f"failed (exit {done.returncode}): {' '.join(cmd)}; see {log}")


def build(out: Path, code: Path, execute: str | None) -> None:
    """Every kind of page into ``out``, with the code of the checkout ``code``."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    log = out / "build.log"
    py = sys.executable
    site = [py, "tools/build_site.py", "--out", str(out / "site"), "--profile", "fast"]
    _run(site + (["--execute", execute] if execute else []), code, log)
    _run([py, "tools/build_site.py", "--out", str(out / "student"), "--no-solutions"], code, log)
    _run([py, "-m", "course_utils.slides", "01", "--out", str(out / "slides"), "--profile", "fast",
          "--checkpoints", "cache"], code, log)
    klass = out / "class"
    klass.mkdir()
    solution = nbformat.read(str(code / "solutions" / "01_jensen_elbo.ipynb"), as_version=4)
    nbformat.write(assign.answered(solution), str(klass / "alice.ipynb"))
    shutil.copy(code / "notebooks" / "01_jensen_elbo.ipynb", klass / "bob.ipynb")
    _run([py, "-m", "course_utils.grade", "written", "01", str(klass), "--out", str(out / "written")], code, log)
    _run([py, "-m", "course_utils.grade", "batch", str(klass), "--out", str(out / "batch"), "--no-execute",
          "--workers", "1"], code, log)


def pages(out: Path) -> dict[str, Path]:
    """The course's pages in a build: not the registry packages' own (``_static/``)."""
    found = [p for p in sorted(out.rglob("*.html")) if "_static" not in p.relative_to(out).parts]
    return {str(p.relative_to(out)): p for p in found}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=OUT, help=f"the build folder (default {OUT.relative_to(REPO_ROOT)})")
    ap.add_argument("--reuse", action="store_true", help="audit the pages already in --out; build nothing")
    ap.add_argument("--execute", help="the instructor site executes only these notebooks (default: all)")
    ap.add_argument("--code", type=Path, default=REPO_ROOT, help="build with this checkout's code (default: this)")
    ap.add_argument("--record", help=f"store the summary under this key in {RESULTS.relative_to(REPO_ROOT)}")
    ap.add_argument("--note", default="", help="a line stored with the record (which code, which commit)")
    args = ap.parse_args(argv)
    if not args.reuse:
        t0 = time.monotonic()
        print(f"building into {args.out} with the code of {args.code} ...", flush=True)
        build(args.out, args.code.resolve(), args.execute)
        print(f"built in {time.monotonic() - t0:.0f} s", flush=True)
    found = pages(args.out)
    t0 = time.monotonic()
    audits = a11y.audit(found)
    seconds = time.monotonic() - t0
    summ = a11y.summary(audits)
    print(a11y.table(summ))
    print(f"axe-core over {len(found)} pages in {seconds:.0f} s")
    for line in a11y.blocking(audits)[:40]:
        print("  " + line)
    if args.record:
        record = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        record[args.record] = {
            "code": "this checkout" if args.code.resolve() == REPO_ROOT else str(args.code), "note": args.note,
            "executed": args.execute or "all", "axe_core": a11y.webassets.NPM_PACKAGES["axe-core"][0],
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **summ,
        }
        RESULTS.write_text(json.dumps(record, indent=1) + "\n")
        print(f"recorded under '{args.record}' in {RESULTS.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
