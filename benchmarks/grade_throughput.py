"""How many submissions per hour does batch grading take, next to nbgrader's autograde on the same ones?
(a measurement, not a test)

    python benchmarks/grade_throughput.py                         # 20 copies of each of 01-05, ours then nbgrader
    python benchmarks/grade_throughput.py --copies 4 --assignments 01 03 --no-nbgrader

The submissions mix correct, untouched and subtly wrong notebooks (a third each, built with
``course_utils.assign.answered``). Ours: ``course_utils.grade.batch.run_batch`` (``./course grade-batch``), each
submission run top to bottom and tested, in the namespace sandbox. nbgrader: ``nbgrader autograde`` on the same
notebooks in its ``submitted/`` layout (``course_utils.grade.nbgrader_env``), one assignment after the other. Both
in the ``fast`` profile, one after the other on this machine (never side by side). Results:
``benchmarks/results/grade_throughput.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from course_utils import syllabus
from course_utils.speed import machine

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "grade_throughput.json"
MISTAKES = ROOT / "tests" / "submissions" / "mistakes.py"


def subtle_mistakes() -> dict:
    """``SUBTLE`` of the tests' known mistakes (one per assignment). They are test data, kept with the tests and
    never in ``course_utils`` (they hold solution lines, which the students' package must not), so they are read
    from their file rather than imported."""
    spec = importlib.util.spec_from_file_location("known_mistakes", MISTAKES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SUBTLE


def build(folder: Path, assignments: list[str], copies: int) -> list[tuple[str, str, Path]]:
    """``copies`` notebooks per assignment: (student, assignment, path), kinds in turn correct/untouched/wrong."""
    from course_utils.assign import answered

    SUBTLE = subtle_mistakes()  # noqa: N806

    made = []
    for notebook in syllabus.select(assignments):
        nn, sol_path = notebook.number, notebook.solution(ROOT)
        sol = nbformat.read(sol_path, as_version=4)
        for i in range(copies):
            kind = ("correct", "untouched", "wrong")[i % 3]
            if kind == "correct":
                nb = answered(sol)
            elif kind == "untouched":
                nb = nbformat.read(ROOT / "notebooks" / sol_path.name, as_version=4)
            else:
                mistake = SUBTLE[sol_path.stem]
                nb = answered(sol, {mistake.exercise: mistake.source})
            student = f"{nn}-{kind}-{i:02d}"
            path = folder / f"{student}.ipynb"
            nbformat.write(nb, str(path))
            made.append((student, sol_path.stem, path))
    return made


def ours(made, workers: int, out: Path) -> dict:
    from course_utils.grade.batch import run_batch

    folder = made[0][2].parent
    t0 = time.monotonic()
    done, _ = run_batch(folder, out, workers=workers, profile="fast", log=lambda *a, **k: None)
    seconds = time.monotonic() - t0
    by_assignment: dict[str, list[float]] = {}
    for d in done:
        by_assignment.setdefault(d["assignment"], []).append(d["seconds"])
    shared = {p.parent.name: p.read_text().strip() for p in (out / ".models").glob("*/complete")}
    return {"submissions": len(done), "seconds": round(seconds, 1),
            "per_hour": round(len(done) / seconds * 3600, 1),
            "mean_seconds_per_submission": {a: round(sum(v) / len(v), 1) for a, v in sorted(by_assignment.items())},
            "shared_models": shared,  # the solution's one run per assignment (included in "seconds")
            "scores": {d["student"]: d["score"] for d in done}}


def nbgrader(made, work: Path) -> dict:
    from course_utils.grade.nbgrader_env import course_config, nbgrader_env

    env_dir, env = nbgrader_env()
    env = {**env, "COURSE_PROFILE": "fast", "COURSE_PROGRESS": "0", "MPLBACKEND": "Agg"}
    root = work / "nbgrader-course"
    (root / "source").mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(course_config(root, timeout=900))
    assignments = sorted({a for _, a, _ in made})
    for a in assignments:
        (root / "source" / a).mkdir()
        (root / "source" / a / f"{a}.ipynb").write_bytes((ROOT / "solutions" / f"{a}.ipynb").read_bytes())
        subprocess.run([str(env_dir / "bin" / "nbgrader"), "generate_assignment", a, "--force"], cwd=root, env=env,
                       check=True, capture_output=True)
    for student, a, path in made:
        target = root / "submitted" / student / a
        target.mkdir(parents=True)
        (target / f"{a}.ipynb").write_bytes(path.read_bytes())
        (target / "timestamp.txt").write_text("2026-12-01 12:00:00.000000 UTC")
    t0 = time.monotonic()
    for a in assignments:
        run = subprocess.run([str(env_dir / "bin" / "nbgrader"), "autograde", a, "--create", "--force"], cwd=root,
                             env=env, capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"nbgrader autograde {a} failed:\n{run.stderr[-2000:]}")
    seconds = time.monotonic() - t0
    return {"submissions": len(made), "seconds": round(seconds, 1), "per_hour": round(len(made) / seconds * 3600, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=20, help="submissions per assignment")
    ap.add_argument("--assignments", nargs="+", default=[nb.number for nb in syllabus.assignments()])
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--no-nbgrader", action="store_true")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    os.environ.setdefault("COURSE_PROGRESS", "0")
    with tempfile.TemporaryDirectory(prefix="grade-throughput-") as tmp:
        work = Path(tmp)
        (work / "subs").mkdir()
        made = build(work / "subs", a.assignments, a.copies)
        record = {"machine": machine(),
                  "when": time.strftime("%Y-%m-%d %H:%M"), "copies": a.copies, "assignments": a.assignments,
                  "workers": a.workers}
        record["ours"] = ours(made, a.workers, work / "graded")
        print(f"ours: {record['ours']['submissions']} submissions in {record['ours']['seconds']} s "
              f"= {record['ours']['per_hour']} per hour ({a.workers} workers)", flush=True)
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(record, indent=2) + "\n")  # kept if nbgrader's run is stopped
        if not a.no_nbgrader:
            record["nbgrader"] = nbgrader(made, work)
            print(f"nbgrader autograde: {record['nbgrader']['submissions']} submissions in "
                  f"{record['nbgrader']['seconds']} s = {record['nbgrader']['per_hour']} per hour", flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
