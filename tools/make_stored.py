"""Write (or check) the stored values of notebooks: the checks' cases and the fallback values (maintainers only).

    python tools/make_stored.py 02                       # both kinds for notebook 02 (fallbacks: fast profile)
    python tools/make_stored.py all --cases              # every notebook's check cases
    python tools/make_stored.py 03 --fallbacks --profile full --checkpoints released
    python tools/make_stored.py all --cases --check      # rebuild the cases and compare with the store

- ``--cases``: ``tools/stored_cases/nbNN.py`` builds the cases from the solution notebook's own functions
  (``course_utils.assign.solution_namespace``); written to ``course_utils/stored_values/NN_*.cases.json``.
- ``--fallbacks``: runs the solution notebook top to bottom in ``--profile`` with ``COURSE_RECORD_STORED=1``; every
  ``computed_or_stored`` value lands in ``NN_*.<profile>.json`` (large tensors in ``.pt`` files).
  ``--checkpoints released`` lets the run load the course's released checkpoints where a cell names one
  (the full profile's long trainings; the closing lines say which were used).
- ``--check``: write nothing; cases are rebuilt and compared at 1e-12, fallbacks are recomputed with
  ``COURSE_VERIFY_STORED=1`` (the comparison of :mod:`course_utils.tolerances`, as in the test command).

Commit what it writes. ``course_utils.stored`` is the store this writes into; this file is only its command line.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from course_utils import stored, syllabus
from course_utils.assign import solution_namespace
from course_utils.notebook import NotebookRunError, execute_notebook

CASES_DIR = Path(__file__).resolve().parent / "stored_cases"


def notebook_names(wanted: list[str]) -> list[str]:
    """The notebooks with stored values (those with checks), by number or name, or 'all'."""
    if wanted == ["all"]:
        return [nb.name for nb in syllabus.with_checks()]
    try:
        return [syllabus.get(w).name for w in wanted]
    except syllabus.UnknownNotebook as e:
        raise SystemExit(f"make_stored: {e} (or 'all')") from None


def cases_module(notebook: str) -> Path:
    """``tools/stored_cases/nbNN.py``, which builds the check cases of ``notebook`` (it may not exist)."""
    return CASES_DIR / f"nb{syllabus.get(notebook).number}.py"


def build_cases(notebook: str) -> dict | None:
    """The cases of ``notebook`` built from its solution, or None when it has no cases module."""
    path = cases_module(notebook)
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"stored_cases_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(solution_namespace(syllabus.get(notebook).solution()))


def cases(notebook: str, check: bool) -> bool:
    table = build_cases(notebook)
    if table is None:
        print(f"{notebook}: no check cases (no {CASES_DIR.name}/{cases_module(notebook).name})")
        return True
    if not check:
        path = stored.write_cases(notebook, table)
        print(f"{notebook}: wrote {path.name} ({path.stat().st_size / 1024:.0f} KiB)")
        return True
    problems = stored.compare(stored.decode(stored.encode(table)), stored.load_cases(notebook),
                              _exact_spec())
    for p in problems:
        print(f"{notebook} cases: {p}")
    print(f"{notebook}: check cases {'match' if not problems else 'DIFFER from'} the store")
    return not problems


def _exact_spec():
    from course_utils.tolerances import deterministic

    return deterministic(atol=1e-12, rtol=1e-12)


def fallbacks(notebook: str, profile: str, check: bool, checkpoints: str | None) -> bool:
    env = {"COURSE_VERIFY_STORED": "1"} if check else {"COURSE_RECORD_STORED": "1"}
    if checkpoints:
        env["COURSE_CHECKPOINTS"] = checkpoints
    try:
        _, seconds = execute_notebook(syllabus.get(notebook).solution(), profile, env, timeout=7200)
    except NotebookRunError as e:
        print(e)
        return False
    keys = stored.stored_keys(notebook, profile)
    what = "checked" if check else "recorded"
    print(f"{notebook}: {what} {len(keys)} {profile}-profile fallback values in {seconds:.0f} s: {', '.join(keys)}")
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="+", help="NN, NN_topic, or 'all'")
    ap.add_argument("--cases", action="store_true", help="the checks' cases (default: both kinds)")
    ap.add_argument("--fallbacks", action="store_true", help="the fallback values (default: both kinds)")
    ap.add_argument("--profile", choices=stored.PROFILES, default="fast", help="for --fallbacks (default fast)")
    ap.add_argument("--checkpoints", choices=("auto", "released", "train"), default=None,
                    help="COURSE_CHECKPOINTS for the --fallbacks run")
    ap.add_argument("--check", action="store_true", help="compare with the store, write nothing")
    args = ap.parse_args(argv)
    both = not (args.cases or args.fallbacks)
    ok = True
    for nb in notebook_names(args.notebooks):
        if args.cases or both:
            ok &= cases(nb, args.check)
        if args.fallbacks or both:
            ok &= fallbacks(nb, args.profile, args.check, args.checkpoints)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
