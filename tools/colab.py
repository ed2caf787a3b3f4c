"""Make every solution notebook open and run on Google Colab: a badge in the title, a Colab block in the setup cell.

    python tools/colab.py                 # every solutions/NN_*.ipynb (then run ./course generate)
    python tools/colab.py solutions/01_jensen_elbo.ipynb
    python tools/colab.py --check         # exit 1 if a notebook lacks the badge or the block, or has an old one

Idempotent: it inserts the badge and the block once and afterwards only updates them, so running it again changes
nothing. What it writes:

- the first line of the title cell (the first cell) becomes an "Open in Colab" badge that opens the *student*
  notebook (``notebooks/NN_topic.ipynb``) from the public repository, ``REPO_URL`` below, and next to it a
  "launch Binder" badge that opens the same notebook on mybinder.org (built from ``binder/``);
- the setup cell (the code cell that calls ``setup_notebook``) starts with a short block that, on Colab only,
  clones the repository and installs the course package without its pinned dependencies (Colab's own torch is
  fine); ``setup_notebook`` then turns on Colab's widget manager (for ipywidgets 8), and Fashion-MNIST is
  downloaded with torchvision when first loaded. Everywhere else the block does nothing. It lives in the setup
  cell, not in a cell of its own, because the course's tools and tests rely on the first code cell being the
  setup cell.

The repository's public address is not known yet: it is the one constant ``REPO_URL``. Change it, run this tool and
``./course generate``, and commit.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

# The one place that names the public repository (unknown while the course is being written).
REPO_URL = "https://github.com/YOUR-ORG/ssl-course"
BRANCH = "main"
CLONE_DIR = "/content/ssl-course"  # where the Colab block clones the repository

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_IMAGE = "https://mybinder.org/badge_logo.svg"
BEGIN, END = "# >>> Colab", "# <<< Colab"


def colab_url(notebook: str) -> str:
    """The Colab address that opens ``notebooks/<notebook>.ipynb`` from the public repository."""
    path = re.sub(r"^https://github\.com/", "", REPO_URL.rstrip("/"))
    return f"https://colab.research.google.com/github/{path}/blob/{BRANCH}/notebooks/{notebook}.ipynb"


def binder_url(notebook: str) -> str:
    """The Binder address that builds the repository (``binder/``) and opens ``notebooks/<notebook>.ipynb`` in
    JupyterLab."""
    path = re.sub(r"^https://github\.com/", "", REPO_URL.rstrip("/"))
    return f"https://mybinder.org/v2/gh/{path}/{BRANCH}?urlpath=lab/tree/notebooks/{notebook}.ipynb"


def badge(notebook: str) -> str:
    """The title's first line: "Open in Colab" and, next to it, "launch Binder"."""
    return (f'<a href="{colab_url(notebook)}" target="_parent"><img src="{BADGE_IMAGE}" alt="Open In Colab"/></a> '
            f'<a href="{binder_url(notebook)}" target="_parent"><img src="{BINDER_IMAGE}" alt="Launch Binder"/></a>')


def colab_block() -> str:
    """The lines at the top of every setup cell: on Colab, clone the repository and install the course package
    (``setup_notebook`` then turns on Colab's widget manager, and the data are downloaded when first loaded).
    Outside Colab, the ``if`` is false: nothing runs."""
    return "\n".join(
        [
            f"{BEGIN}: on Google Colab only, get the course package (setup_notebook below does the rest)",
            "import sys",
            "",
            'if "google.colab" in sys.modules:',
            f"    !git clone -q --depth 1 {REPO_URL} {CLONE_DIR} 2> /dev/null",
            f"    !{{sys.executable}} -m pip install -q --no-deps -e {CLONE_DIR}",
            f'    sys.path.insert(0, "{CLONE_DIR}")',
            END,
        ]
    )


def _title_with_badge(source: str, notebook: str) -> str:
    lines = source.split("\n")
    if lines and BADGE_IMAGE in lines[0]:
        lines = lines[1:]
    return "\n".join([badge(notebook)] + lines)


def _setup_with_block(source: str) -> str:
    if BEGIN in source:
        start = source.index(BEGIN)
        end = source.index(END, start) + len(END)
        rest = source[end:].lstrip("\n")
        source = source[:start] + rest
    return colab_block() + "\n" + source


def setup_cell(nb) -> nbformat.NotebookNode:
    cell = next((c for c in nb.cells if c.cell_type == "code" and "setup_notebook(" in c.source), None)
    if cell is None:
        raise SystemExit("no setup cell (a code cell that calls setup_notebook) in this notebook")
    return cell


def add_colab(nb, notebook: str) -> bool:
    """Insert or update the badge and the Colab block in place; True when something changed."""
    title = nb.cells[0]
    setup = setup_cell(nb)
    new_title, new_setup = _title_with_badge(title.source, notebook), _setup_with_block(setup.source)
    changed = (new_title, new_setup) != (title.source, setup.source)
    title.source, setup.source = new_title, new_setup
    return changed


def is_current(nb, notebook: str) -> bool:
    title, setup = nb.cells[0], setup_cell(nb)
    return title.source.split("\n")[0] == badge(notebook) and setup.source.startswith(colab_block() + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="*", type=Path, help="solution notebooks (default: every solutions/NN_*.ipynb)")
    ap.add_argument("--check", action="store_true", help="only report notebooks without a current badge and block")
    args = ap.parse_args(argv)
    paths = args.paths or sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    stale = []
    for path in paths:
        nb = nbformat.read(str(path), as_version=4)
        if args.check:
            if not is_current(nb, path.stem):
                stale.append(path.name)
            continue
        if add_colab(nb, path.stem):
            text = nbformat.writes(nb)
            path.write_text(text if text.endswith("\n") else text + "\n")
            print(f"colab: updated {path}")
    if stale:
        print("colab: no current badge / Colab block in " + ", ".join(stale) + ": run python tools/colab.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
