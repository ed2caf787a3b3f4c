"""Build the course website: a landing page (course map, times, difficulty) and one HTML page per notebook.

    python tools/build_site.py                   # execute every solution notebook (fast profile), write build/site/
    python tools/build_site.py --execute 01      # execute only these; the others are shown without outputs
    python tools/build_site.py --profile full    # the real results (slow on a CPU)
    python tools/build_site.py --no-solutions    # the student site: the student notebooks only
    python tools/build_site.py --release-solutions 01 02   # the student site with 01's and 02's solutions

Or ``./course site``. Open ``build/site/index.html`` in a browser; no server is needed.

Why nbconvert with our own index page (not Jupyter Book or mkdocs-jupyter): nbconvert is already installed with
JupyterLab, so the site builds offline with no new dependency and no theme or font downloads; its ``lab``
template renders cells, outputs and widgets' static fallbacks the way JupyterLab shows them; and the landing page
is read from the notebooks themselves (title cell: title, slide section, time estimate; exercise cells: ★ and
minutes), so it cannot drift from them. Math is typeset by MathJax, and widgets are drawn from their saved state,
by scripts copied into ``_static/`` from registry packages (:mod:`course_utils.webassets`): the site works offline
and loads nothing from a CDN.

Two sites: the default one is the **instructor site** (it holds the executed solutions, and every page says so in
a banner); ``--no-solutions`` builds the **student site**, the student notebooks only, to publish.
``--release-solutions NN [NN ...]`` builds the student site with the solutions of the notebooks named, for after
their deadline (:func:`released_solution`): the solution code and the written questions' model answers, executed,
without the instructor notes, the rubrics or the hidden tests.

What it writes under ``build/site/``:

- ``index.html``: the course map, one row per notebook, with time, exercises (★ and minutes) and links;
- ``notebooks/NN_topic.html`` and ``.ipynb``: the student notebook as students get it (not executed);
- ``solutions/NN_topic.html``: the solution notebook, executed under the chosen profile (hidden tests removed);
  in the student site only for the released solutions, then with ``solutions/NN_topic.ipynb`` to download;
- ``_static/``: MathJax, require.js and the widget renderer.

The build fails (exit status 1) when a notebook raises while it is executed, or when a page links to a file or
an anchor that does not exist. Links to other sites are not checked (the build must work offline).
"""

from __future__ import annotations

import argparse
import copy
import html
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat

from course_utils import syllabus, webassets
from course_utils.nbcode import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    block_lines,
    blocks,
    is_instructor_note,
    replace_blocks,
)
from course_utils.options import add_profile
from course_utils.settings import current

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "site"
EXERCISE_RE = re.compile(r"^#{2,4}\s*Exercise\s+(\d+)\s*(★+)\s*\(\s*(\d+)\s*min\s*\)\s*:?\s*(.*)$", re.M)
TIME_RE = re.compile(r"about\s+(\d+)\s*min", re.I)


class SiteError(Exception):
    """A failed execution or a broken link: the build fails."""


@dataclass
class Exercise:
    number: int
    stars: int
    minutes: int
    title: str


@dataclass
class Notebook:
    stem: str
    title: str
    section: str
    minutes: int | None
    exercises: list[Exercise] = field(default_factory=list)
    executed: bool = False
    released: bool = False  # its solution is in the student site (--release-solutions)
    seconds: float = 0.0

    @property
    def number(self) -> str:
        return syllabus.get(self.stem).number


def _markdown_inline(text: str) -> str:
    """Markdown emphasis and code in a short line, as HTML (math stays for MathJax)."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", out)
    out = re.sub(r"(?<![*\w])\*([^*]+)\*(?!\*)", r"<i>\1</i>", out)
    return out


def describe(path: Path) -> Notebook:
    """Title, slide section, time estimate and exercises, read from the notebook's own cells."""
    nb = nbformat.read(str(path), as_version=4)
    title_cell = nb.cells[0].source if nb.cells else ""
    lines = [ln for ln in title_cell.split("\n") if "colab-badge.svg" not in ln]
    title = next((ln.lstrip("#").strip() for ln in lines if ln.startswith("# ")), path.stem)
    paragraphs = [p.strip() for p in "\n".join(lines).split("\n\n")]
    section = next((p.replace("\n", " ") for p in paragraphs if p.startswith("*") and not p.startswith("**")), "")
    section = re.sub(r'^\*?Lecture \d+, "[^"]*":\s*', "", section).strip("*").strip()  # the lecture is one
    section = section[:1].upper() + section[1:]
    m = TIME_RE.search(title_cell)
    exercises = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for e in EXERCISE_RE.finditer(cell.source):
                exercises.append(Exercise(int(e.group(1)), len(e.group(2)), int(e.group(3)), e.group(4).strip()))
    return Notebook(path.stem, title, section, int(m.group(1)) if m else None, exercises)


# --------------------------------------------------------------------------------------------- executing


def execute(path: Path, profile: str) -> tuple[nbformat.NotebookNode, float]:
    """The solution notebook, run top to bottom in a fresh kernel (its folder as working directory)."""
    from course_utils.notebook import NotebookRunError, execute_notebook

    try:
        return execute_notebook(path, profile)
    except NotebookRunError as e:
        raise SiteError(str(e)) from None


def without_hidden_tests(nb) -> None:
    """The solution as the instructor site shows it: hidden tests removed, and a written question's model answer
    without its markers (which Markdown would show as headings), under a line that says what it is."""
    for cell in nb.cells:
        if cell.cell_type == "code" and BEGIN_HIDDEN in cell.source:
            cell.source = replace_blocks(cell.source, BEGIN_HIDDEN, END_HIDDEN, None, "site").rstrip("\n")
        elif cell.cell_type == "markdown" and BEGIN_SOLUTION in cell.source:
            body = "\n".join(block_lines(cell.source, BEGIN_SOLUTION, END_SOLUTION, "site")).strip()
            note = "*Instructor site: the model answer and its rubric (students write their answer here).*"
            cell.source = f"{note}\n\n{body}"


RUBRIC_RE = re.compile(r"^\s*\*\*Rubric\b")  # a written answer's rubric opens with **Rubric (n points).**


def _unwrap(source: str, begin: str, end: str, where: str) -> str:
    """``source`` with the marker lines of its ``begin`` ... ``end`` blocks removed, what is between them kept."""
    lines = source.split("\n")
    markers = {i - 1 for span in blocks(source, begin, end, where) for i in span}
    return "\n".join(line for i, line in enumerate(lines) if i not in markers)


def model_answer(source: str, where: str = "cell") -> str:
    """A written question's answer cell as students may see it after the deadline: its model answer, without the
    markers and without the rubric (from the line ``**Rubric ...`` to the end of the block). A block whose rubric
    cannot be found that way (CONTRIBUTING.md's format) fails the build rather than publish it."""
    lines = source.split("\n")
    drop: set[int] = set()
    for b, e in blocks(source, BEGIN_SOLUTION, END_SOLUTION, where):
        drop |= {b - 1, e - 1}
        rubric = next((i for i in range(b, e - 1) if RUBRIC_RE.match(lines[i])), None)
        if rubric is None or any("rubric" in lines[i].lower() for i in range(b, rubric)):
            raise SiteError(f"{where}: a written answer whose rubric does not start with a line '**Rubric "
                            "(n points).**' after the model answer; nothing of it is released")
        drop |= set(range(rubric, e - 1))
    return "\n".join(line for i, line in enumerate(lines) if i not in drop).strip()


def released_solution(nb, name: str = "notebook"):
    """The solution as students get it after the deadline (a new notebook; ``nb`` is untouched): no instructor
    notes, no hidden tests, the solution code without its markers, and each written question's model answer
    without its rubric, under a line that says what it is."""
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if not is_instructor_note(c)]
    for i, cell in enumerate(nb.cells):
        where = f"{name}, cell {i}"
        if cell.cell_type == "code":
            source = replace_blocks(cell.source, BEGIN_HIDDEN, END_HIDDEN, None, where)
            cell.source = _unwrap(source, BEGIN_SOLUTION, END_SOLUTION, where).rstrip("\n")
        elif cell.cell_type == "markdown" and BEGIN_SOLUTION in cell.source:
            note = "*The model answer, released after the deadline (your answer went here).*"
            cell.source = f"{note}\n\n{model_answer(cell.source, where)}"
        else:
            cell.source = replace_blocks(cell.source, BEGIN_HIDDEN, END_HIDDEN, None, where)
    return nb


# --------------------------------------------------------------------------------------------- pages

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 1100px; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.5; }
h1 { font-size: 1.8rem; margin-bottom: .2rem; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: .5rem .6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num, th.num { text-align: right; white-space: nowrap; }
.stars { color: #9c6100; white-space: nowrap; }  /* 5.1:1 on white (WCAG AA) */
.small { color: #555; font-size: .9rem; }
ul.ex { margin: .2rem 0; padding-left: 1.1rem; }
a { color: #0b57d0; }
.course-nav { font-family: system-ui, sans-serif; padding: .6rem 1rem; background: #f4f4f4;
              border-bottom: 1px solid #ddd; font-size: .95rem; }
.course-nav a { margin-right: 1.2rem; }
"""


def landing_page(notebooks: list[Notebook], profile: str, with_solutions: bool = True) -> str:
    rows = []
    total = sum(n.minutes or 0 for n in notebooks)
    for n in notebooks:
        ex = "".join(
            f'<li><span class="stars" title="difficulty {e.stars} of 3">{"★" * e.stars}</span> '
            f"{_markdown_inline(e.title)} <span class=small>({e.minutes} min)</span></li>"
            for e in n.exercises
        )
        hardest = max((e.stars for e in n.exercises), default=0)
        ran = f"executed, {profile} profile, {n.seconds:.0f} s" if n.executed else "not executed in this build"
        rows.append(
            f"<tr><td class=num>{n.number}</td>"
            f'<td><a href="notebooks/{n.stem}.html"><b>{_markdown_inline(n.title)}</b></a><br>'
            f"<span class=small>{_markdown_inline(n.section)}</span></td>"
            f"<td class=num>{n.minutes if n.minutes is not None else '?'} min</td>"
            f'<td><span class="stars">{"★" * hardest}</span></td>'
            f"<td><ul class=ex>{ex or '<li>none</li>'}</ul></td>"
            f'<td><a href="notebooks/{n.stem}.html">student</a> '
            f'(<a href="notebooks/{n.stem}.ipynb" download>.ipynb</a>)'
            + (f'<br><a href="solutions/{n.stem}.html">solution</a><br><span class=small>{ran}</span>'
               if with_solutions else "")
            + (f'<br><a href="solutions/{n.stem}.html">solution</a> '
               f'(<a href="solutions/{n.stem}.ipynb" download>.ipynb</a>)<br><span class=small>released</span>'
               if n.released and not with_solutions else "")
            + "</td></tr>"
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Self-Supervised Learning: the course</title><style>{STYLE}</style>
{webassets.mathjax_script("_static")}</head>
<body>{INSTRUCTOR_BANNER if with_solutions else ""}
<main>
<h1>Self-Supervised Learning: (Variational) AutoEncoder and Contrastive Learning</h1>
<p>Jupyter notebooks for one lecture, in the slides' order: from Jensen's inequality and the ELBO, through
autoencoders and VAEs, to SimCLR and masked autoencoders. Each notebook has exercises marked
<span class=stars>★</span> (a few lines) to <span class=stars>★★★</span> (a real piece of work), each followed
by a check that prints <code>[PASS]</code>, <code>[TODO]</code> or <code>[FAIL]</code> with a hint.</p>
<h2>Course map</h2>
<p class=small>{len(notebooks)} notebooks, about {total} minutes ({total / 60:.1f} hours) in all.
Work on them in JupyterLab (<code>./course lab</code>) or on Colab (the badge at the top of each notebook).
{"The solution pages are the solution notebooks, executed for this site." if with_solutions else
 "The student site: the notebooks as you get them, and the solutions released so far."
 if any(n.released for n in notebooks) else "The student site: the notebooks as you get them, without solutions."}</p>
<table>
<tr><th class=num>#</th><th>notebook</th><th class=num>time</th><th>hardest</th><th>exercises</th><th>pages</th></tr>
{"".join(rows)}
</table>
<p class=small>Built {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())} by <code>./course site</code>.
Difficulty and minutes are read from the notebooks' exercise headings.</p>
</main>
</body></html>
"""


INSTRUCTOR_BANNER = (
    '<header class="course-banner" style="font-family: system-ui, sans-serif; padding: .45rem 1rem; '
    'background: #fff4ce; border-bottom: 1px solid #e0c45c;"><b>Instructor site: it holds the solutions.</b> Publish '
    "to students only the student site, built with <code>./course site --no-solutions</code>.</header>"
)


def render(nb, nav: str) -> str:
    from nbconvert import HTMLExporter

    # MathJax and the widget renderer from _static/ (registry packages, course_utils.webassets), not a CDN; the
    # course's lab template: figures' alt text and colours that meet WCAG 2.1 AA (course_utils/templates)
    exporter = HTMLExporter(**webassets.template_settings("course_lab"), **webassets.exporter_settings("../_static"))
    body, _ = exporter.from_notebook_node(nb)
    body = re.sub(r'href="(\d\d_[A-Za-z0-9_]+)\.ipynb', r'href="\1.html', body)  # links between notebooks
    return _add_nav(body, nav)


def _add_nav(body: str, nav: str) -> str:
    m = re.search(r"<body[^>]*>", body)
    if not m:
        return nav + body
    return body[: m.end()] + nav + body[m.end() :]


def nav_bar(n: Notebook, here: str, with_solutions: bool = True) -> str:
    other = "solutions" if here == "notebooks" else "notebooks"
    label = "the solution" if here == "notebooks" else "the student version"
    linked = with_solutions or n.released
    return (
        (INSTRUCTOR_BANNER if with_solutions else "")
        + '<nav class="course-nav" style="font-family: system-ui, sans-serif; padding: .6rem 1rem; '
        'background: #f4f4f4; border-bottom: 1px solid #ddd;">'
        '<a href="../index.html" style="margin-right: 1.2rem; color: #0b57d0">&larr; course map</a>'
        + (f'<a href="../{other}/{n.stem}.html" style="margin-right: 1.2rem; color: #0b57d0">{label}</a>'
           if linked else "")
        + (f'<a href="{n.stem}.ipynb" download style="color: #0b57d0">download .ipynb</a>'
           if here == "notebooks" or (n.released and not with_solutions) else "")
        + "</nav>"
    )


# --------------------------------------------------------------------------------------------- link check


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        for key in ("href", "src"):
            if a.get(key) and tag in ("a", "img", "link", "script", "iframe", "source"):
                self.links.append(a[key])


def check_links(site: Path) -> list[str]:
    """Every relative link and anchor in the site's pages points at something that exists."""
    parsed: dict[Path, _Links] = {}
    for page in site.rglob("*.html"):
        if "_static" in page.relative_to(site).parts:  # the registry packages' own pages
            continue
        p = _Links()
        p.feed(page.read_text(encoding="utf-8"))
        parsed[page] = p
    broken = []
    for page, p in parsed.items():
        for link in p.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//"):  # http(s), data:, mailto: not checked (offline)
                continue
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            where = f"{page.relative_to(site)} -> {link}"
            if not target.exists():
                broken.append(f"{where}: no such file")
            elif parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else set()
                if parts.fragment not in ids and unquote(parts.fragment) not in ids:  # as browsers look them up
                    broken.append(f"{where}: no anchor #{parts.fragment}")
    return broken


# --------------------------------------------------------------------------------------------- main


def build(out: Path = OUT, execute_only: list[str] | None = None, profile: str = "fast",
          with_solutions: bool = True, release: list[str] | None = None) -> list[Notebook]:
    """The site; ``with_solutions=False``: the student site (notebooks only, nothing executed, no solution page).

    ``release``: the numbers of the notebooks whose solutions the student site publishes (implies the student
    site): each as :func:`released_solution`, executed unless ``execute_only`` leaves it out, as a page and as a
    notebook to download."""
    present = syllabus.in_folder(ROOT / "solutions")
    if not present:
        raise SiteError("no solution notebooks in solutions/")
    solutions = [nb.solution(ROOT) for nb in present]
    wanted = {r: syllabus.get(r, None) for r in release or []}
    unknown = sorted(r.strip().zfill(2) for r, nb in wanted.items() if nb not in present)
    if unknown:
        raise SiteError(f"no solution notebook {', '.join(unknown)} to release (solutions/ has "
                        f"{', '.join(nb.number for nb in present)})")
    release = sorted({nb.number for nb in wanted.values()})
    if release:
        with_solutions = False
    if out.exists():
        shutil.rmtree(out)
    (out / "notebooks").mkdir(parents=True)
    try:
        webassets.install(out)
    except webassets.WebAssetsError as e:
        raise SiteError(str(e)) from None
    notebooks = []
    for sol in solutions:
        n = describe(sol)
        n.released = n.number in release
        student = ROOT / "notebooks" / sol.name
        if not student.exists():
            raise SiteError(f"notebooks/{sol.name} is missing: run ./course generate")
        shutil.copy2(student, out / "notebooks" / sol.name)
        (out / "notebooks" / f"{sol.stem}.html").write_text(
            render(nbformat.read(str(student), as_version=4), nav_bar(n, "notebooks", with_solutions)),
            encoding="utf-8")
        if not with_solutions:
            if n.released:
                _release(sol, n, out, execute_only, profile)
            notebooks.append(n)
            continue
        (out / "solutions").mkdir(exist_ok=True)
        if execute_only is None or n.number in execute_only:
            print(f"site: executing {sol.relative_to(ROOT)} ({profile} profile) ...", flush=True)
            nb, n.seconds = execute(sol, profile)
            n.executed = True
            print(f"site:   {n.seconds:.1f} s", flush=True)
        else:
            nb = nbformat.read(str(sol), as_version=4)
        without_hidden_tests(nb)
        (out / "solutions" / f"{sol.stem}.html").write_text(render(nb, nav_bar(n, "solutions")), encoding="utf-8")
        notebooks.append(n)
    (out / "index.html").write_text(landing_page(notebooks, profile, with_solutions), encoding="utf-8")
    broken = check_links(out)
    if broken:
        raise SiteError("broken links in the site:\n  " + "\n  ".join(broken))
    return notebooks


def _release(sol: Path, n: Notebook, out: Path, execute_only: list[str] | None, profile: str) -> None:
    """``solutions/NN_topic.html`` and ``.ipynb`` of the student site: the solution released after the deadline."""
    (out / "solutions").mkdir(exist_ok=True)
    original = nbformat.read(str(sol), as_version=4)
    nb = released_solution(original, sol.name)
    download = copy.deepcopy(nb)  # to run: without outputs, as the student notebook is
    for cell in download.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(download, str(out / "solutions" / sol.name))
    if execute_only is None or n.number in execute_only:
        # the solution as it is, executed, then without what students never see: the hidden tests pass silently
        print(f"site: executing {sol.relative_to(ROOT)} to release it ({profile} profile) ...", flush=True)
        executed, n.seconds = execute(sol, profile)
        n.executed = True
        nb = released_solution(executed, sol.name)
    (out / "solutions" / f"{sol.stem}.html").write_text(render(nb, nav_bar(n, "solutions", False)), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="course site", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=OUT, help="output folder (default build/site)")
    ap.add_argument("--execute", help="comma-separated notebook numbers to execute (default: all)")
    add_profile(ap, current().site_profile, "the executed notebooks")
    ap.add_argument("--no-solutions", action="store_true",
                    help="the student site: the student notebooks only (no solutions, nothing executed)")
    ap.add_argument("--release-solutions", nargs="+", metavar="NN", default=[],
                    help="the student site with these notebooks' solutions, after their deadline (executed; no "
                         "instructor notes, rubrics or hidden tests)")
    args = ap.parse_args(argv)
    try:
        only = [nb.number for nb in syllabus.select(args.execute.split(","))] if args.execute else None
    except syllabus.UnknownNotebook as e:
        print(f"site: FAILED: --execute: {e}", file=sys.stderr)
        return 1
    start = time.monotonic()
    try:
        notebooks = build(args.out, only, args.profile, with_solutions=not args.no_solutions,
                          release=args.release_solutions)
    except SiteError as e:
        print(f"site: FAILED: {e}", file=sys.stderr)
        return 1
    released = [n.number for n in notebooks if n.released]
    print(f"site: {len(notebooks)} notebooks, {sum(n.executed for n in notebooks)} executed"
          + (f", solutions of {' '.join(released)} released" if released else "") + ", links checked; "
          f"{time.monotonic() - start:.0f} s; open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
