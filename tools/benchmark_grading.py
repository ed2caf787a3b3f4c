"""Time the autograder on every solution notebook and every untouched student notebook (fast profile).

    flock /tmp/course-cpu.lock .venv/bin/python tools/benchmark_grading.py [--no-execute] [--out FILE] [STEM ...]

For each notebook: the score it gets, the seconds the whole grading takes (a cold start: a fresh test runner, the
notebook run top to bottom in its own kernel unless --no-execute), and the machine's load average before and after,
so that numbers taken while other jobs ran can be told apart.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from course_utils.grade import grade
from course_utils.grade.spec import assignment_paths, load_assignment

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-execute", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "build" / "grading_benchmark.json"))
    ap.add_argument("notebooks", nargs="*", help="stems to time (default: all)")
    ap.add_argument("--folder", action="append", choices=["solutions", "notebooks"], help="only this folder")
    a = ap.parse_args(argv)
    rows = []
    for folder in a.folder or ["solutions", "notebooks"]:
        for path in [ROOT / folder / p.name for p in assignment_paths(ROOT / "solutions")]:
            if a.notebooks and path.stem not in a.notebooks:
                continue
            load0 = os.getloadavg()[0]
            t0 = time.monotonic()
            r = grade(path, execute=not a.no_execute)
            seconds = time.monotonic() - t0
            row = {
                "notebook": f"{folder}/{path.name}",
                "execute": not a.no_execute,
                "score": r["score"],
                "max": load_assignment(ROOT / "solutions" / path.name).total_points,
                "seconds": round(seconds, 1),
                "load_before": round(load0, 2),
                "load_after": round(os.getloadavg()[0], 2),
                "ran": r["output"].splitlines()[3] if len(r["output"].splitlines()) > 3 else r["output"],
            }
            rows.append(row)
            print(
                f"{row['notebook']:38s} {row['score']:7.3f} / {row['max']:<4g} {seconds:6.1f} s   "
                f"load {row['load_before']:.1f} -> {row['load_after']:.1f}   {row['ran'][:90]}",
                flush=True,
            )
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cpus": os.cpu_count(), "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
