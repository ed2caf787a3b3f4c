"""Run solution notebooks and store the values their fallback cells need (maintainers only).

    python tools/record_stored.py                      # every solution notebook
    python tools/record_stored.py 01_jensen_elbo       # one

Writes ``course_utils/stored_values/<notebook>.json``. Commit the result. The test command later runs
the solutions with COURSE_VERIFY_STORED=1, which fails if the computed values drift from the stored ones.
"""

import os
import sys
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[1]


def main(names):
    paths = [ROOT / "solutions" / f"{n}.ipynb" for n in names] or sorted((ROOT / "solutions").glob("*.ipynb"))
    os.environ["COURSE_RECORD_STORED"] = "1"
    os.environ.setdefault("COURSE_PROFILE", "fast")
    os.environ["COURSE_PROGRESS"] = "0"
    for path in paths:
        nb = nbformat.read(str(path), as_version=4)
        resources = {"metadata": {"path": str(path.parent)}}
        nbclient.NotebookClient(nb, timeout=1800, kernel_name="python3", resources=resources).execute()
        print(f"recorded stored values of {path.stem}")


if __name__ == "__main__":
    main(sys.argv[1:])
