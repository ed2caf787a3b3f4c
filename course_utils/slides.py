"""Slide decks from the solution notebooks: nbconvert's reveal.js exporter, with every script from local files.

    ./course slides            # every deck, executed in the full profile with the released checkpoints
    ./course slides 03 04      # these decks only
    ./course slides --profile fast --no-execute 05     # quick: fast profile, or no outputs at all

Writes ``build/slides/NN_topic.slides.html`` (one deck per notebook) and ``build/slides/index.html`` (the decks in
the lecture's order, with the path of docs/lecture.md). Open them in a browser; no server and no network.

**What a deck holds** is set in the solution notebook's source, cell by cell, by Jupyter's own ``slideshow``
metadata (JupyterLab: the property inspector, "Slide Type"): ``slide``, ``subslide``, ``fragment``, ``-`` (on the
slide before), ``notes`` (speaker notes, the ``s`` key) or ``skip``. :func:`suggested_slide_type` is the rule that
wrote it first, and ``python -m course_utils.slides --annotate`` applies it to cells that have none (it never
changes one that has): a section heading opens a slide, a sub-heading a sub-slide, a formula or a figure is shown,
prose and the instructor notes go to the speaker notes, and the set-up cell, exercises, checks and hidden
tests are skipped. Code is never
shown (a deck shows the formula, the picture, the number); outputs are.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import time
from pathlib import Path

from . import syllabus, webassets
from .assign import SOLUTIONS_DIR
from .nbcode import BEGIN_HIDDEN, BEGIN_SOLUTION, is_instructor_note
from .options import add_notebooks, add_profile
from .paths import REPO_ROOT
from .settings import current

OUT = REPO_ROOT / "build" / "slides"
SLIDE_TYPES = ("slide", "subslide", "fragment", "-", "notes", "skip")
TEMPLATES = webassets.TEMPLATES  # course_reveal: the reveal template, no CDN import, figures' alt text, AA colours


class SlidesError(RuntimeError):
    """A deck could not be built; the message says why."""


def slide_type(cell) -> str | None:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type")


def suggested_slide_type(cell, index: int, first_code: int) -> str:
    """The rule behind a solution cell's first ``slideshow`` metadata (see the module's docstring)."""
    source = cell.source.lstrip()
    graded = bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution")
                  or cell.get("metadata", {}).get("nbgrader", {}).get("grade"))
    if index == 0:
        return "slide"  # the title
    if is_instructor_note(cell):
        return "notes"  # the answers to the open questions: the lecturer's, in the speaker notes
    if cell.cell_type == "code":
        if index == first_code or graded or BEGIN_SOLUTION in source or BEGIN_HIDDEN in source:
            return "skip"  # the set-up cell, the exercises and their checks
        if re.match(r"(checks\.|#\s*>>>)", source):
            return "skip"
        return "-"
    if re.match(r"#{1,4}\s*Exercise\b", source):
        return "skip"
    if re.search(r"^#{1,2} ", source, re.M):  # a section starts in this cell
        return "slide"
    if re.search(r"^### ", source, re.M):
        return "subslide"
    if "$$" in source or "<img" in source:
        return "-"
    return "notes"


def annotate(path: Path) -> int:
    """Write :func:`suggested_slide_type` into the cells of ``path`` that have no slide type; returns how many."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    codes = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    first_code = codes[0] if codes else -1
    changed = 0
    for i, cell in enumerate(nb.cells):
        if slide_type(cell) is None:
            cell.metadata["slideshow"] = {"slide_type": suggested_slide_type(cell, i, first_code)}
            changed += 1
    if changed:
        nbformat.write(nb, str(path))
    return changed


def shown_cells(nb) -> list:
    """The cells a deck shows (everything but ``skip``), in order."""
    return [c for c in nb.cells if slide_type(c) != "skip"]


def deck_html(nb, static: str = "_static") -> str:
    """One reveal.js deck: cells marked ``skip`` removed, code hidden, scripts from ``static``."""
    import nbformat
    from nbconvert import SlidesExporter

    nb = nbformat.from_dict(nb)
    nb.cells = shown_cells(nb)
    if nb.cells and nb.cells[0].cell_type == "markdown":  # the title: not the Colab and Binder badges (web images)
        nb.cells[0].source = "\n".join(line for line in nb.cells[0].source.split("\n")
                                       if not re.search(r'<img[^>]+src="https?:', line)).strip()
    for cell in nb.cells:
        if cell.cell_type == "code" and (BEGIN_HIDDEN in cell.source or BEGIN_SOLUTION in cell.source):
            raise SlidesError("a cell with a solution or hidden tests is not marked skip: it would be on a slide")
    exporter = SlidesExporter(
        **webassets.template_settings("course_reveal"), reveal_theme="white",
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
        reveal_url_prefix=f"{static}/reveal.js", reveal_scroll=True, reveal_transition="none",
        reveal_number="c/t", font_awesome_url="", **webassets.exporter_settings(static),
    )
    body, _ = exporter.from_notebook_node(nb)
    return body


def solutions(numbers: list[str] | None = None) -> list[Path]:
    """The solution notebooks of ``numbers`` (every one when none is given), in the course's order."""
    try:
        chosen = syllabus.select(numbers or [])
    except syllabus.UnknownNotebook as e:
        raise SlidesError(str(e)) from None
    missing = [nb.filename for nb in chosen if not nb.solution_in(SOLUTIONS_DIR).is_file()]
    if numbers and missing:
        raise SlidesError(f"no solution notebook {', '.join(missing)} in {SOLUTIONS_DIR}")
    return [nb.solution_in(SOLUTIONS_DIR) for nb in syllabus.in_folder(SOLUTIONS_DIR, chosen)]


def index_html(decks: list[tuple[Path, str]]) -> str:
    """The index of ``decks`` (each ``NN_topic.slides.html`` and how it was run), in the lecture's order
    (:data:`course_utils.syllabus.LECTURE_ORDER`)."""
    by_notebook = {syllabus.of_file(p): (p, note) for p, note in decks}
    rows = []
    for nb in syllabus.in_lecture_order():
        if nb in by_notebook:
            path, note = by_notebook[nb]
            rows.append(f'<li><a href="{path.name}">{html.escape(path.name.split(".")[0])}</a> '
                        f'<small>({html.escape(note)})</small></li>')
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Slides</title></head><body><main>"
            "<h1>Self-Supervised Learning: the decks, in the lecture's order</h1>"
            f"<ol>{''.join(rows)}</ol><p>The 75-minute path through them: docs/lecture.md. Keys: arrows to move, "
            "<kbd>s</kbd> for the speaker notes, <kbd>esc</kbd> for the overview.</p></main></body></html>")


def build(out: Path = OUT, numbers: list[str] | None = None, profile: str = "full", execute: bool = True,
          checkpoints: str = "released") -> list[Path]:
    """Build the decks into ``out``; returns their paths. Executes each solution first unless ``execute=False``."""
    import nbformat

    from .notebook import NotebookRunError, execute_notebook

    paths = solutions(numbers)
    out.mkdir(parents=True, exist_ok=True)
    webassets.install(out)
    decks = []
    for sol in paths:
        if execute:
            print(f"slides: executing {sol.name} ({profile} profile, COURSE_CHECKPOINTS={checkpoints}) ...", flush=True)
            try:
                env = {} if checkpoints == "cache" else {"COURSE_CHECKPOINTS": checkpoints}  # the cache: default
                nb, seconds = execute_notebook(sol, profile, env=env)
            except NotebookRunError as e:
                raise SlidesError(str(e)) from None
            note = f"{profile} profile, {checkpoints} checkpoints, run in {seconds:.0f} s"
        else:
            nb, note = nbformat.read(str(sol), as_version=4), "not executed: no outputs"
        missing = [i for i, c in enumerate(nb.cells) if slide_type(c) not in SLIDE_TYPES]
        if missing:
            raise SlidesError(f"{sol.name}: cells {missing} have no slide type; run python -m course_utils.slides "
                              "--annotate, then look at what it chose")
        target = out / f"{sol.stem}.slides.html"
        target.write_text(deck_html(nb), encoding="utf-8")
        decks.append((target, note))
        print(f"slides: wrote {target.relative_to(out.parent) if out.parent in target.parents else target}", flush=True)
    # the index lists every deck in the folder, this build's and earlier ones' (what each was run with: decks.json)
    record = out / "decks.json"
    notes = json.loads(record.read_text()) if record.exists() else {}
    notes.update({p.name: n for p, n in decks})
    notes = {name: n for name, n in notes.items() if (out / name).exists()}
    record.write_text(json.dumps(notes, indent=1, sort_keys=True))
    (out / "index.html").write_text(index_html([(out / name, n) for name, n in notes.items()]), encoding="utf-8")
    return [p for p, _ in decks]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="course slides", description=__doc__.split("\n")[0])
    add_notebooks(ap, "default: all")
    ap.add_argument("--out", type=Path, default=OUT)
    add_profile(ap, current().slides_profile, "the decks' runs")
    ap.add_argument("--checkpoints", default="released", choices=["released", "cache", "train"],
                    help="COURSE_CHECKPOINTS for the run (default: the released models, as the handout)")
    ap.add_argument("--no-execute", action="store_true", help="build from the notebooks as they are, no outputs")
    ap.add_argument("--annotate", action="store_true",
                    help="write the suggested slide type into solution cells that have none, then stop")
    args = ap.parse_args(argv)
    numbers = args.numbers or None
    try:
        if args.annotate:
            for sol in solutions(numbers):
                print(f"{sol.name}: {annotate(sol)} cells given a slide type")
            return 0
        start = time.monotonic()
        decks = build(args.out, numbers, args.profile, not args.no_execute, args.checkpoints)
    except (SlidesError, webassets.WebAssetsError) as e:
        print(f"slides: FAILED: {e}", file=sys.stderr)
        return 1
    print(f"slides: {len(decks)} decks in {time.monotonic() - start:.0f} s; open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
