"""``python -m course_utils.grade SUBMISSION.ipynb [--assignment NN] [--out results.json]``, and
``python -m course_utils.grade batch SUBMISSIONS --out DIR`` for a whole class (:mod:`.batch`), and
``python -m course_utils.grade written NN SUBMISSIONS`` for the written answers, a page per question
(:mod:`.written`)."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from ..options import add_grading
from .core import grade
from .limits import Limits
from .results import Results


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["batch"]:  # python -m course_utils.grade batch SUBMISSIONS --out DIR
        from .batch import main as batch_main

        return batch_main(argv[1:])
    if argv[:1] == ["written"]:  # python -m course_utils.grade written NN SUBMISSIONS: the answers side by side
        from .written import main as written_main

        return written_main(argv[1:])
    ap = argparse.ArgumentParser(
        prog="course grade",
        description="Grade a student notebook against the hidden tests in solutions/; write Gradescope's results.json.",
    )
    ap.add_argument("submission", help="the student's .ipynb (or a folder holding it)")
    add_grading(ap, "NN or NN_topic (default: from the notebook's setup call, else its file name)")
    ap.add_argument("--out", default="results.json", help="where to write results.json (default: ./results.json)")
    ap.add_argument("--run-as", metavar="USER", help="run the submission's code as this user (when the grader is root)")
    ap.add_argument("--format", choices=["gradescope", "prairielearn"], default="gradescope",
                    help="the results file's format (default: Gradescope's results.json)")
    ap.add_argument("--json", action="store_true", help="print results.json instead of the summary")
    ap.add_argument("--quiet", action="store_true", help="print nothing")
    for name, help_ in [
        ("cell-timeout", "seconds for one notebook cell"),
        ("total-timeout", "seconds for the whole notebook"),
        ("test-timeout", "seconds for one test statement"),
        ("load-timeout", "seconds to load the definitions"),
        ("memory-mb", "address-space limit (MiB) of the kernel and of each test process"),
        ("grading-timeout", "seconds for the tests; later tests fail as not run"),
        ("submission-timeout", "seconds for everything of the submission, its run and its tests (its run gets at "
                               "most half)"),
        ("notebook-mb", "the largest notebook (MiB) graded; larger ones are refused before they are parsed"),
    ]:
        ap.add_argument(f"--{name}", type=float, help=help_)
    a = ap.parse_args(argv)
    t0 = time.monotonic()
    try:
        limits = Limits.for_profile(
            a.profile,
            cell_timeout=a.cell_timeout,
            total_timeout=a.total_timeout,
            test_timeout=a.test_timeout,
            load_timeout=a.load_timeout,
            memory_mb=a.memory_mb,
            grading_timeout=a.grading_timeout,
            submission_timeout=a.submission_timeout,
            notebook_mb=a.notebook_mb,
        )
        from .isolation import choose
        from .sandbox import user_ids

        isolation = choose(user_ids(a.run_as) if a.run_as else None)
        if isolation.kind != "namespace":  # loudly, on the terminal (never in the student's results)
            print(isolation.describe(), file=sys.stderr)
        results = grade(a.submission, a.assignment, a.solutions, a.profile, not a.no_execute, a.run_as, limits,
                        isolation=isolation)
    except BaseException as e:  # noqa: BLE001 - whatever happens, a valid results.json
        traceback.print_exc()
        results = Results.error(f"{type(e).__name__}: {e}", time.monotonic() - t0)
    doc = results.write(Path(a.out), a.format, a.hidden_visibility)
    if a.json:
        import json

        print(json.dumps(doc, indent=2))
    elif not a.quiet:
        print(results.summary())
        print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
