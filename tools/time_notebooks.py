"""Run notebooks top to bottom in one profile and record each one's wall time (a measurement, not a test).

    python tools/time_notebooks.py --profile full solutions/03_vae.ipynb solutions/02_autoencoders.ipynb

Each notebook runs in its own kernel (cwd: the notebook's folder), with ``COURSE_PROFILE`` set. The executed
copy goes to ``--executed`` (default ``build/executed/<profile>/``; never committed: notebooks are committed
without outputs), and the times are merged into ``benchmarks/results/notebook_times.json`` under
``<profile>/<folder>/<notebook>``, with the machine, the cache state (an empty cache trains everything; a warm
one loads checkpoints) and the load average, so a contended run can be told apart.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import nbformat

from course_utils.notebook import execute_notebook  # the one place that executes a notebook

ROOT = Path(__file__).resolve().parents[1]


def cache_state() -> str:
    from course_utils.paths import cache_dir

    ckpts = list((cache_dir() / "checkpoints").glob("*.pt")) if (cache_dir() / "checkpoints").exists() else []
    return f"{len(ckpts)} checkpoints in {cache_dir()}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--profile", choices=("fast", "full"), required=True)
    ap.add_argument("--executed", type=Path, help="folder for the executed copies")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "notebook_times.json")
    args = ap.parse_args(argv)
    executed = args.executed or ROOT / "build" / "executed" / args.profile
    executed.mkdir(parents=True, exist_ok=True)
    table = json.loads(args.out.read_text()) if args.out.exists() else {}
    failed = 0
    for path in args.notebooks:
        path = path.resolve()
        entry = {
            "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "cache_before": cache_state(),
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        }
        try:
            nb, seconds = execute_notebook(path, args.profile)  # a fresh kernel, as the website build runs it
            entry["ok"] = True
        except Exception as e:  # noqa: BLE001 - a failing cell (SiteError), a dead kernel, a timeout: record it, go on
            nb, seconds = nbformat.read(path, as_version=4), float("nan")
            entry["ok"] = False
            entry["error"] = f"{type(e).__name__}: {e}"[-500:]
            failed += 1
        entry["wall_seconds"] = round(seconds, 1)
        entry["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        nbformat.write(nb, executed / path.name)
        key = f"{path.parent.name}/{path.name}"
        table.setdefault(args.profile, {})[key] = entry
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
        print(f"{args.profile} {key}: {'ok' if entry['ok'] else 'FAILED'} in {entry['wall_seconds']} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
