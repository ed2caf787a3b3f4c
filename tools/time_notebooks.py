"""Run notebooks top to bottom in one profile and record each one's wall time (a measurement, not a test).

    python tools/time_notebooks.py --profile full solutions/03_vae.ipynb solutions/02_autoencoders.ipynb

Each notebook runs in its own kernel (cwd: the notebook's folder), with ``COURSE_PROFILE`` set. The executed
copy goes to ``--executed`` (default ``build/executed/<profile>/``; never committed: notebooks are committed
without outputs), and the times are merged into ``benchmarks/results/notebook_times.json`` under
``<profile>/<folder>/<notebook>``, with the machine, the cache state (an empty cache trains everything; a warm
one loads checkpoints), the load average and the host's float32 matmul speed before and after (so a contended
run can be told apart: on a shared host the same notebook's time moves by a fifth or more) and each code cell's
seconds.

``--outputs FOLDER`` also keeps what each code cell printed, under the heading of its section, in
``FOLDER/<profile>/<notebook>.json`` (``benchmarks/results/reference_outputs`` holds the reference runs that
instructor notes quote): a reference run's figures stay checkable without committing an executed notebook.

``--empty-cache`` runs each notebook with a cache of its own that holds no checkpoints (the decoded data are
shared): what a student's first run costs. At the end a table puts each notebook's time next to the one recorded
before, the one issue 16 measured before its work, and the goal (issue 16: ``full`` at most 5 minutes for 02-05
and 2 for 06 on 2 CPU cores), with the host's matmul speed and the slowest cells under each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import torch

from course_utils import syllabus
from course_utils.notebook import cell_seconds, execute_notebook  # the one place that executes a notebook
from course_utils.speed import machine, machine_peak, native_bf16

ROOT = Path(__file__).resolve().parents[1]


def cache_state() -> str:
    from course_utils.paths import cache_dir

    ckpts = list((cache_dir() / "checkpoints").glob("*.pt")) if (cache_dir() / "checkpoints").exists() else []
    return f"{len(ckpts)} checkpoints in {cache_dir()}"


GOALS = {"full": {"02": 300, "03": 300, "04": 300, "05": 300, "06": 120}}  # seconds on 2 CPU cores
# what issue 16 measured before any of its work, seconds on 2 CPU cores (benchmarks/results/notebook_times.json then)
ISSUE_16 = {"full": {"02": 14.0 * 60, "03": 32.6 * 60, "04": 20.3 * 60, "05": 21.6 * 60, "06": 9.6 * 60}}


def host_matmul() -> float:
    """GFLOP/s of a float32 matrix product on this machine right now (``speed.machine_peak``, one second): on a
    shared host it moves by a fifth or more from hour to hour, and a notebook's time moves with it."""
    return round(machine_peak(min_seconds=1.0)["matmul"], 1)


def summary(profile: str, rows: list[tuple[str, float | None, dict]]) -> list[str]:
    """The closing table: each notebook's time next to the one recorded before, issue 16's and the goal, the host's
    matmul speed before and after it, and its slowest cells."""
    lines = [f"{'notebook':<42} {'before':>9} {'now':>9} {'issue 16':>9} {'goal':>7} {'host GFLOP/s':>14}  "
             f"({profile}; seconds)"]
    for key, before, entry in rows:
        nb = getattr(syllabus.of_file(key), "number", None)
        goal, issue = GOALS.get(profile, {}).get(nb), ISSUE_16.get(profile, {}).get(nb)
        host = f"{entry['host_matmul_before']:.0f} / {entry['host_matmul_after']:.0f}" if "host_matmul_after" in entry \
            else "-"
        lines.append(f"{key:<42} {before if before is not None else '-':>9} {entry['wall_seconds']:>9} "
                     f"{round(issue) if issue else '-':>9} {goal if goal else '-':>7} {host:>14}"
                     + ("  FAILED" if not entry["ok"] else ""))
        for i, sec, first in sorted(entry.get("cells", []), key=lambda c: -c[1])[:5]:
            lines.append(f"    cell {i:>3}: {sec:8.1f} s  {first}")
    return lines


def printed_outputs(nb) -> list[dict]:
    """What each code cell of an executed notebook printed (its stream and text/plain results), with the last
    markdown heading above it: the section the figures belong to."""
    rows, heading = [], ""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            heads = [ln.lstrip("#").strip() for ln in cell.source.splitlines() if ln.startswith("#")]
            heading = heads[-1] if heads else heading
            continue
        if cell.cell_type != "code":
            continue
        text = "".join(o.get("text", "") if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
                       for o in cell.get("outputs", []) if o.output_type in ("stream", "execute_result"))
        if text.strip():
            rows.append({"cell": i, "section": heading, "printed": text.rstrip("\n")})
    return rows


def empty_cache() -> Path:
    """A cache folder without checkpoints, sharing the decoded data of the usual cache (as ./course test-kernels)."""
    from course_utils.paths import cache_dir

    folder = Path(tempfile.mkdtemp(prefix="course-times-"))
    if (cache_dir() / "data").is_dir():
        (folder / "data").symlink_to((cache_dir() / "data").resolve())
    return folder


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--profile", choices=("fast", "full"), required=True)
    ap.add_argument("--executed", type=Path, help="folder for the executed copies")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "notebook_times.json")
    ap.add_argument("--outputs", type=Path, help="also keep each code cell's printed text in FOLDER/<profile>/")
    ap.add_argument("--empty-cache", action="store_true", help="each notebook with a cache holding no checkpoints")
    args = ap.parse_args(argv)
    rows = []
    executed = args.executed or ROOT / "build" / "executed" / args.profile
    executed.mkdir(parents=True, exist_ok=True)
    table = json.loads(args.out.read_text()) if args.out.exists() else {}
    failed = 0
    for path in args.notebooks:
        path = path.resolve()
        key = f"{path.parent.name}/{path.name}"
        before = table.get(args.profile, {}).get(key, {}).get("wall_seconds")
        cache = empty_cache() if args.empty_cache else None
        env = {"COURSE_CACHE": str(cache)} if cache else {}
        entry = {
            "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "cache_before": "empty (--empty-cache)" if cache else cache_state(),
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
            "machine": machine(),
            "cpu_kernels": torch.backends.cpu.get_cpu_capability(),  # AVX512, AVX2, ...: what ATen dispatches to
            "native_bf16": native_bf16(),  # whether the notebooks train in bf16 autocast here (course.autocast)
            "host_matmul_before": host_matmul(),  # float32 matmul GFLOP/s: tells a contended host apart
        }
        try:
            nb, seconds = execute_notebook(path, args.profile, env)  # a fresh kernel, as the website build runs it
            entry["ok"] = True
            entry["cells"] = [[i, sec, first] for i, sec, first in cell_seconds(nb)]
        except Exception as e:  # noqa: BLE001 - a failing cell (SiteError), a dead kernel, a timeout: record it, go on
            nb, seconds = nbformat.read(path, as_version=4), float("nan")
            entry["ok"] = False
            entry["error"] = f"{type(e).__name__}: {e}"[-500:]
            failed += 1
        finally:
            if cache:
                shutil.rmtree(cache, ignore_errors=True)
        entry["wall_seconds"] = round(seconds, 1)
        entry["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        entry["host_matmul_after"] = host_matmul()
        nbformat.write(nb, executed / path.name)
        if args.outputs and entry["ok"]:
            record = {"notebook": key, "profile": args.profile, "started": entry["started"],
                      "machine": entry["machine"], "cache_before": entry["cache_before"],
                      "wall_seconds": entry["wall_seconds"], "cells": printed_outputs(nb)}
            (args.outputs / args.profile).mkdir(parents=True, exist_ok=True)
            (args.outputs / args.profile / f"{path.stem}.json").write_text(json.dumps(record, indent=1) + "\n")
        table.setdefault(args.profile, {})[key] = entry
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
        print(f"{args.profile} {key}: {'ok' if entry['ok'] else 'FAILED'} in {entry['wall_seconds']} s", flush=True)
        rows.append((key, before, entry))
    print("\n" + "\n".join(summary(args.profile, rows)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
