"""The course website (tools/build_site.py, ./course site): landing page from the notebooks, failures fail it."""

import importlib.util
import re
import sys

import nbformat
import pytest

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
site = importlib.util.module_from_spec(_spec)
sys.modules["build_site"] = site  # dataclasses look their module up
_spec.loader.exec_module(site)

SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


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

    sys.path.insert(0, str(ROOT / "grading"))
    import bundles
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
