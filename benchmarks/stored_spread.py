"""How much do the stored fallback values move between CPUs and seeds? (a measurement, not a test)

    python benchmarks/stored_spread.py                       # fast profile, solutions 01-05, every config below
    python benchmarks/stored_spread.py --configs avx2-1t seed1 --notebooks 02_autoencoders

Each config runs the solution notebooks top to bottom in the fast profile, with an empty cache of its own, and
records every ``computed_or_stored`` value into a scratch folder (``COURSE_RECORD_STORED=<folder>``). Each value
is then compared, part by part, with the committed fast-profile store: the largest and mean absolute difference.
"kernels" configs imitate other CPUs (ATen's dispatch, oneDNN's ISA, MKL's instructions, the thread count);
"seeds" configs change ``COURSE_SEED``. ``course_utils/tolerances.py`` sets each trained value's tolerance from
these numbers. Results: ``benchmarks/results/stored_spread.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from course_utils import stored, syllabus
from course_utils.notebook import NotebookRunError, execute_notebook
from course_utils.speed import machine

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "stored_spread.json"

AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
GENERIC = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"}
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
CONFIGS = {
    "native": ("kernels", {}),  # this machine's own kernels, 2 threads: the run the store was recorded with
    "avx2-1t": ("kernels", {**AVX2, **ONE_THREAD}),  # the second kernel set of CI
    "generic-2t": ("kernels", GENERIC),  # no SIMD dispatch in ATen, SSE4.1 in oneDNN
    "generic-1t": ("kernels", {**GENERIC, **ONE_THREAD}),
    "native-1t": ("kernels", ONE_THREAD),  # `./course test` on 2 cores: two workers of one thread each
    # on a CPU with native bf16 the notebooks train under bf16 autocast (course.autocast), elsewhere in float32
    "float32": ("kernels", {"COURSE_BF16": "0"}),
    "seed1": ("seeds", {"COURSE_SEED": "1"}),
    "seed2": ("seeds", {"COURSE_SEED": "2"}),
}
NOTEBOOKS = tuple(nb.name for nb in syllabus.with_checks())


def run_config(name: str, env: dict, notebooks, scratch: Path) -> dict:
    folder = scratch / name
    runs = {}
    for nb in notebooks:
        cache = scratch / f"cache-{name}"
        start = time.monotonic()
        try:
            execute_notebook(ROOT / "solutions" / f"{nb}.ipynb", "fast",
                             {**env, "COURSE_RECORD_STORED": str(folder), "COURSE_CACHE": str(cache)})
            ok, error = True, ""
        except NotebookRunError as e:
            ok, error = False, str(e)[-600:]
        runs[nb] = {"ok": ok, "seconds": round(time.monotonic() - start, 1), "error": error, "keys": {}}
        for key in stored.stored_keys(nb, "fast", folder):
            if stored.has_stored(nb, key, "fast"):
                runs[nb]["keys"][key] = stored.differences(stored.load_stored(nb, key, "fast", folder),
                                                           stored.load_stored(nb, key, "fast"))
        print(f"{name:>11} {nb:<16} {runs[nb]['seconds']:6.1f} s  {'ok' if ok else 'FAILED'}", flush=True)
    return runs


def summary(results: dict) -> dict:
    """Per notebook, key and part: the largest difference over the kernel configs and over the seed configs."""
    table: dict = {}
    for config, (group, _) in ((c, CONFIGS[c]) for c in results["configs"]):
        for nb, run in results["configs"][config].items():
            for key, parts in run["keys"].items():
                for part, d in parts.items():
                    row = table.setdefault(f"{nb}/{key}", {}).setdefault(part or "(value)", {})
                    for stat in ("max", "mean", "max_rel"):
                        if stat in d:
                            slot = f"{group}_{stat}"
                            row[slot] = max(row.get(slot, 0.0), d[stat])
                    if d.get("equal") is False:
                        row[f"{group}_unequal"] = True
    return table


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--notebooks", nargs="+", default=list(NOTEBOOKS))
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    results = {"machine": machine(), "profile": "fast",
               "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "config_env": {c: CONFIGS[c][1] for c in args.configs}, "configs": {}}
    with tempfile.TemporaryDirectory(prefix="stored-spread-") as tmp:
        for config in args.configs:
            results["configs"][config] = run_config(config, CONFIGS[config][1], args.notebooks, Path(tmp))
    results["summary"] = summary(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    for value, parts in results["summary"].items():
        for part, row in parts.items():
            print(f"{value:<36} {part:<40} " + "  ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                                          for k, v in sorted(row.items())))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
