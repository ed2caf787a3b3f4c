"""The course website (tools/build_site.py, ./course site): landing page from the notebooks, failures fail it."""

import re

import nbformat
import pytest

from course_utils import syllabus
from helpers import ROOT, load_script

site = load_script("tools/build_site.py")

SOLUTIONS = [nb.solution(ROOT) for nb in syllabus.NOTEBOOKS]


def test_the_landing_page_is_read_from_the_notebooks():
    n = site.describe(ROOT / "solutions" / "01_jensen_elbo.ipynb")
    assert n.title == "01 · Jensen's inequality and the ELBO"
    assert n.minutes == 75
    assert [(e.number, e.stars, e.minutes) for e in n.exercises] == [(1, 1, 5), (2, 2, 10), (3, 1, 5)]
    assert n.section.startswith("The part on learning"), "the slide section, without the lecture's name"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_every_notebook_gives_time_and_exercise_marks(path):
    n = site.describe(path)
    assert n.minutes, f"{path.name}: the title cell says 'about N minutes'"
    if path.stem == "06_when_does_ssl_work":  # the capstone: no exercises of its own
        assert not n.exercises
        return
    assert n.exercises, f"{path.name}: exercise headings read '### Exercise k ★★ (10 min): what'"
    assert all(1 <= e.stars <= 3 and e.minutes > 0 for e in n.exercises)


def test_a_broken_link_or_anchor_is_found(tmp_path):
    (tmp_path / "a.html").write_text('<h1 id="top">A</h1><a href="b.html">ok</a> <a href="#top">ok</a>'
                                     '<a href="missing.html">bad</a> <a href="b.html#nowhere">bad</a>'
                                     '<a href="https://example.org/x">not checked</a>')
    (tmp_path / "b.html").write_text('<p id="here">B</p><a href="a.html#top">ok</a>')
    broken = site.check_links(tmp_path)
    assert len(broken) == 2 and any("missing.html" in b for b in broken) and any("#nowhere" in b for b in broken)


def test_a_failing_notebook_fails_the_build(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise ValueError('broken on purpose')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "99_broken.ipynb"
    nbformat.write(nb, str(path))
    with pytest.raises(site.SiteError, match="broken on purpose"):
        site.execute(path, "fast")


def test_the_site_builds_with_notebook_01_executed(tmp_path, web_assets):
    """What CI builds: every page, notebook 01 executed (the full build, ./course site, executes all)."""
    out = tmp_path / "site"
    notebooks = site.build(out, execute_only=["01"], profile="fast")  # raises on a failed run or a broken link
    assert [n.stem for n in notebooks] == [p.stem for p in SOLUTIONS]
    index = (out / "index.html").read_text(encoding="utf-8")
    for n in notebooks:
        for page in (f"notebooks/{n.stem}.html", f"notebooks/{n.stem}.ipynb", f"solutions/{n.stem}.html"):
            assert (out / page).exists() and f'href="{page}"' in index
        assert f"{n.minutes} min" in index
    assert notebooks[0].executed and "★★" in index
    solution = (out / "solutions" / "01_jensen_elbo.html").read_text(encoding="utf-8")
    assert "image/png" in solution or "data:image/png" in solution, "the executed solution shows its plots"
    assert "BEGIN HIDDEN TESTS" not in solution, "hidden tests are not published"
    assert "_static/mathjax/MathJax.js" in solution, "MathJax comes from _static/"
    loaded = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', solution)
    assert not [u for u in loaded if u.startswith(("http:", "https:", "//"))], f"scripts from the network: {loaded}"
    for page in [out / "index.html", *out.glob("notebooks/*.html"), *out.glob("solutions/*.html")]:
        assert "Instructor site" in page.read_text(encoding="utf-8"), f"{page.name}: the banner says it holds solutions"
    assert (out / "_static" / "mathjax" / "MathJax.js").exists()


def test_the_student_site_holds_no_solution_hidden_test_or_solution_page(tmp_path, web_assets):
    import html

    bundles = load_script("grading/bundles.py")
    out = tmp_path / "student"
    notebooks = site.build(out, with_solutions=False)
    assert not (out / "solutions").exists() and not any(n.executed for n in notebooks)
    answers = bundles.solution_lines()
    pages = [p for p in out.rglob("*") if p.is_file() and "_static" not in p.parts]
    assert len(pages) == 1 + 2 * len(SOLUTIONS), [p.name for p in pages]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, page.name
        assert "solutions/" not in text and "Instructor site" not in text, f"{page.name} points at solutions"
        shown = [a for a in answers if a in text or html.escape(a) in text]
        assert not shown, f"{page.name} gives solution lines away: {shown[:3]}"


# --------------------------------------------------------------------------------------------- released solutions


def _page_text(path) -> str:
    """What a reader of a page sees: a notebook's cell sources, or an HTML page's text without its tags."""
    import html

    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        return "\n".join(c.source for c in nbformat.reads(raw, as_version=4).cells)
    return html.unescape(re.sub(r"<[^>]+>", "", raw))


def _plain(text: str) -> str:
    """Text compared across Markdown and its rendering: no emphasis, code or list marks, whitespace collapsed."""
    text = re.sub(r"(?m)^\s*(?:[-+]|\d+\.|#+)\s+", " ", text)
    return " ".join(re.sub(r"[*`]", "", text).split())


def _notebook_lines(path):
    """Of one solution notebook: (instructor note lines, hidden-test lines, rubric lines, released solution lines),
    each a set of substantial lines (12+ characters; comments too, since a released solution keeps them)."""
    from course_utils.nbcode import (
        BEGIN_HIDDEN,
        BEGIN_SOLUTION,
        END_HIDDEN,
        END_SOLUTION,
        block_lines,
        is_instructor_note,
    )

    def substantial(lines):
        return {s.strip() for s in lines if len(s.strip()) >= 12}

    notes, hidden, rubric, released = set(), set(), set(), set()
    for cell in nbformat.read(str(path), as_version=4).cells:
        if is_instructor_note(cell):
            notes |= substantial(cell.source.split("\n"))
            continue
        hidden |= substantial(block_lines(cell.source, BEGIN_HIDDEN, END_HIDDEN))
        answer = block_lines(cell.source, BEGIN_SOLUTION, END_SOLUTION)
        if cell.cell_type == "markdown":
            cut = next((i for i, line in enumerate(answer) if site.RUBRIC_RE.match(line)), len(answer))
            rubric |= substantial(answer[cut:])
            answer = answer[:cut]
        released |= substantial(answer)
    return notes, hidden, rubric - released, released


def test_the_released_solutions_hold_no_note_rubric_or_hidden_test(tmp_path, web_assets):
    """./course site --release-solutions 01 03: the student site with 01's and 03's solutions, 01 executed (the
    build executes every released one by default) and 03 not. Every instructor note, rubric and hidden-test line
    of every notebook is absent from every page, every line of the released solutions (code and model answers) is
    on their pages, and the other notebooks' solutions are nowhere."""
    out = tmp_path / "released"
    notebooks = site.build(out, execute_only=["01"], with_solutions=False, release=["01", "3"])
    assert [n.number for n in notebooks if n.released] == ["01", "03"]
    assert [n.number for n in notebooks if n.executed] == ["01"]
    assert "image/png" in (out / "solutions" / "01_jensen_elbo.html").read_text(encoding="utf-8")
    assert sorted(p.name for p in (out / "solutions").iterdir()) == [
        "01_jensen_elbo.html", "01_jensen_elbo.ipynb", "03_vae.html", "03_vae.ipynb"]
    lines = {p.stem: _notebook_lines(p) for p in SOLUTIONS}
    forbidden = set().union(*(notes | hidden | rubric for notes, hidden, rubric, _ in lines.values()))
    released = {stem: v[3] for stem, v in lines.items() if syllabus.get(stem).number in ("01", "03")}
    withheld = set().union(*(v[3] for stem, v in lines.items() if stem not in released)) - set().union(
        *released.values())
    assert all(released.values()) and withheld and len(forbidden) > 100, "the notebooks have what this test reads"
    pages = [p for p in out.rglob("*") if p.is_file() and "_static" not in p.parts]
    assert len(pages) == 1 + 2 * len(SOLUTIONS) + 4, [p.name for p in pages]
    for page in pages:
        text = _page_text(page)
        plain = _plain(text)
        where = page.relative_to(out)
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "Instructor note", "Rubric ("):
            assert marker not in text, f"{where} holds {marker!r}"
        assert "Instructor site" not in text, where
        leaked = sorted(s for s in forbidden if s in text or _plain(s) in plain)
        assert not leaked, f"{where} holds instructor notes, rubrics or hidden tests: {leaked[:3]}"
        shown = sorted(s for s in withheld if s in text or _plain(s) in plain)
        assert not shown, f"{where} gives away a solution not released: {shown[:3]}"
    for stem, answer in released.items():
        for page in (out / "solutions" / f"{stem}.ipynb", out / "solutions" / f"{stem}.html"):
            text = _page_text(page)
            missing = sorted(s for s in answer if s not in text and _plain(s) not in _plain(text))
            assert not missing, f"{page.name} lacks released solution lines: {missing[:3]}"
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="solutions/01_jensen_elbo.html"' in index and 'href="solutions/03_vae.ipynb"' in index
    assert "solutions/02_" not in index and "solutions/04_" not in index
    student = (out / "notebooks" / "01_jensen_elbo.html").read_text(encoding="utf-8")
    assert 'href="../solutions/01_jensen_elbo.html"' in student, "the student page links to its released solution"
    assert "solutions/" not in (out / "notebooks" / "02_autoencoders.html").read_text(encoding="utf-8")


def test_a_released_written_answer_is_its_model_answer_without_the_rubric():
    source = ("### BEGIN SOLUTION\n**Model answer.** The gap is a KL divergence.\n\n**Rubric (2 points).**\n"
              "- 1 point: the KL.\n### END SOLUTION")
    assert site.model_answer(source) == "**Model answer.** The gap is a KL divergence."
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(source),
        nbformat.v4.new_markdown_cell("the answers", metadata={"tags": ["instructor"]}),
        nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
        nbformat.v4.new_code_cell("check(f)\n### BEGIN HIDDEN TESTS\nassert f() == 1\n### END HIDDEN TESTS"),
    ])
    out = site.released_solution(nb)
    assert [c.source for c in out.cells] == [
        "*The model answer, released after the deadline (your answer went here).*\n\n"
        "**Model answer.** The gap is a KL divergence.",
        "def f():\n    return 1",
        "check(f)",
    ]
    assert len(nb.cells) == 4 and "Rubric" in nb.cells[0].source, "the solution itself is untouched"
    for unclear in ("### BEGIN SOLUTION\n**Model answer.** A KL.\n\nGrading: 1 point for the KL.\n### END SOLUTION",
                    "### BEGIN SOLUTION\n**Model answer.** A KL.\n*Rubric:* 1 point.\n**Rubric (1 point).**\n"
                    "### END SOLUTION"):
        with pytest.raises(site.SiteError, match="x.ipynb, cell 0: a written answer whose rubric"):
            site.released_solution(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(unclear)]),
                                   "x.ipynb")


def test_releasing_a_notebook_that_does_not_exist_fails(tmp_path):
    with pytest.raises(site.SiteError, match=r"no solution notebook 42 to release \(solutions/ has 01, 02, "):
        site.build(tmp_path / "x", with_solutions=False, release=["42"])
    assert site.main(["--out", str(tmp_path / "y"), "--execute", "1,42"]) == 1
