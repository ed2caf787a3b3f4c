"""The slide decks (course_utils.slides, ./course slides) and the sites' offline pages: every deck builds, needs no
network (MathJax, reveal.js, require.js and the widget renderer come from local files), typesets its math, shows
its figures, and gives no solution code or hidden test away; the student site holds no solution."""

from __future__ import annotations

import html
import json
import re

import nbformat
import pytest

from course_utils import slides, syllabus
from helpers import ROOT, load_script

SOLUTIONS = [nb.solution(ROOT) for nb in syllabus.NOTEBOOKS]
ARTIFACTS = ROOT / "artifacts" / "slides"


bundles = load_script("grading/bundles.py")


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_every_solution_cell_says_what_the_deck_does_with_it(path):
    nb = nbformat.read(str(path), as_version=4)
    kinds = [slides.slide_type(c) for c in nb.cells]
    assert all(k in slides.SLIDE_TYPES for k in kinds), (
        f"{path.name}: cells {[i for i, k in enumerate(kinds) if k not in slides.SLIDE_TYPES]} have no slideshow "
        "slide_type (python -m course_utils.slides --annotate suggests one)")
    assert kinds[0] == "slide", "the title opens the deck"
    for i, cell in enumerate(nb.cells):
        grader = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (grader.get("solution") or grader.get("grade")):
            assert kinds[i] == "skip", f"{path.name} cell {i}: an exercise or its test is on a slide"
    assert sum(k in ("slide", "subslide") for k in kinds) >= 4, f"{path.name}: a deck of a few slides at least"


def test_the_decks_are_the_registry_s_notebooks_in_the_lecture_s_order(tmp_path):
    assert slides.solutions() == SOLUTIONS
    assert slides.solutions(["5", "02"]) == [ROOT / "solutions" / "02_autoencoders.ipynb", ROOT / "solutions" /
                                             "05_mae.ipynb"]
    with pytest.raises(slides.SlidesError, match=r"no notebook '42' in the course \(there are: 01_jensen_elbo"):
        slides.solutions(["42"])
    decks = [(tmp_path / f"{nb.name}.slides.html", "run") for nb in syllabus.NOTEBOOKS]
    page = slides.index_html(decks + [(tmp_path / "99_stray.slides.html", "run")])
    shown = re.findall(r'href="(\d\d)_', page)
    assert shown == list(syllabus.LECTURE_ORDER) and "99_stray" not in page


def test_the_rule_skips_exercises_checks_and_set_up_and_sends_prose_to_the_notes():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    rule = slides.suggested_slide_type
    assert rule(md("# 01 · Title"), 0, 1) == "slide"
    assert rule(code("import torch"), 1, 1) == "skip"  # the set-up cell
    assert rule(md("## 2. A section\n\ntext"), 2, 1) == "slide"
    assert rule(md("### A part\n\ntext"), 3, 1) == "subslide"
    assert rule(md("### Exercise 2 ★ (5 min): do it"), 4, 1) == "skip"
    assert rule(md("The ELBO:\n$$\\mathcal{L} = E[\\log p] + H(q)$$"), 5, 1) == "-"
    assert rule(md("A paragraph of prose that a lecturer says rather than shows."), 6, 1) == "notes"
    assert rule(code("checks.check_elbo(elbo)"), 7, 1) == "skip"
    assert rule(code("x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION"), 8, 1) == "skip"
    assert rule(code("plt.plot(x); plt.show()"), 9, 1) == "-"


def test_a_cell_with_a_solution_that_is_not_skipped_fails_the_deck():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")])
    nb.cells[0].metadata["slideshow"] = {"slide_type": "slide"}
    with pytest.raises(slides.SlidesError, match="not marked skip"):
        slides.deck_html(nb)


def _requests_outside(page_url: str, browser):
    """Open ``page_url`` with every non-file request blocked; returns (the blocked URLs, context, page)."""
    blocked: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800})

    def route(r):
        if r.request.url.startswith(("file:", "data:", "blob:", "about:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.goto(page_url)
    page.wait_for_load_state("load")
    return blocked, context, page


@pytest.fixture(scope="module")
def decks(tmp_path_factory, web_assets):
    """Every deck, notebook 01 executed (fast profile), the others as they are; built once for the module."""
    out = tmp_path_factory.mktemp("slides")
    built = slides.build(out, ["01"], profile="fast", execute=True, checkpoints="cache")
    built += slides.build(out, [nb.number for nb in syllabus.NOTEBOOKS[1:]], execute=False)
    return out, built


def test_every_deck_builds_and_gives_no_code_or_hidden_test_away(decks):
    out, built = decks
    assert [p.name for p in built] == [f"{p.stem}.slides.html" for p in SOLUTIONS]
    answers = bundles.solution_lines()
    index = (out / "index.html").read_text(encoding="utf-8")
    for deck in built:
        text = deck.read_text(encoding="utf-8")
        assert f'href="{deck.name}"' in index
        assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
        assert "Answers to the open questions" in text, f"{deck.name}: the instructor note is in the speaker notes"
        on_slides = re.sub(r'<aside class="notes">.*?</aside>', "", text, flags=re.S)  # what the audience sees
        assert "Answers to the open questions" not in on_slides, f"{deck.name}: the answers are on a slide"
        shown = [a for a in answers if html.escape(a) in on_slides or a in on_slides]
        assert not shown, f"{deck.name} shows solution code or instructor notes: {shown[:3]}"
        for url in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', text):
            assert not url.startswith(("http:", "https:", "//")), f"{deck.name} loads {url} from the network"
    assert "data:image/png" in built[0].read_text(encoding="utf-8"), "the executed deck shows its figures"


def test_a_deck_opens_offline_with_math_typeset_and_figures(decks):
    out, built = decks
    browser_test = load_script("tests/e2e/test_browser.py", "browser_for_slides")
    chromium = browser_test.ensure_chromium()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        try:
            blocked, context, page = _requests_outside(built[0].as_uri(), browser)
            page.wait_for_selector(".reveal.ready", timeout=30_000)  # reveal.js initialised (it is a require.js module)
            page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0 "
                                   "&& document.querySelectorAll('.MathJax, .MathJax_Display').length > 0",
                                   timeout=60_000)
            facts = page.evaluate("""() => ({
                slides: document.querySelectorAll('.reveal .slides > section').length,
                math: document.querySelectorAll('.MathJax, .MathJax_Display').length,
                raw: document.querySelector('.reveal .slides').innerText.includes('\\\\mathbb'),
                images: [...document.querySelectorAll('.reveal img')].filter(i => i.naturalWidth > 0).length,
            })""")
            page.screenshot(path=str(ARTIFACTS / "01_title.png"))
            for _ in range(2):
                page.keyboard.press("ArrowRight")
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "01_jensen.png"))
            context.close()
        finally:
            browser.close()
    assert not blocked, f"the deck asked the network for {blocked[:5]}"
    assert facts["slides"] >= 4, facts
    assert facts["math"] > 10 and not facts["raw"], f"MathJax did not typeset the deck offline: {facts}"
    assert facts["images"] >= 2, f"the executed deck shows no figures: {facts}"
    (ARTIFACTS / "facts.json").write_text(json.dumps(facts, indent=1))


def test_without_npm_the_message_says_what_to_install(tmp_path, monkeypatch):
    from course_utils import webassets

    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no npm on it
    (tmp_path / "web" / "mathjax").mkdir(parents=True)
    (tmp_path / "web" / "mathjax" / "MathJax.js").write_text("// fetched before")
    with pytest.raises(webassets.WebAssetsError, match=r"npm is not installed.*apt-get install npm"):
        webassets.ensure()
    assert (tmp_path / "web" / "mathjax" / "MathJax.js").read_text() == "// fetched before", "nothing is lost"


def test_a_registry_download_that_fails_is_tried_again(tmp_path, monkeypatch):
    # npm's registry dropped axe-core's download once in CI; the next try works
    import sys

    from course_utils import webassets

    monkeypatch.setattr(webassets.time, "sleep", lambda s: None)
    count = "import pathlib, sys; p = pathlib.Path('tries'); n = int(p.read_text()) if p.exists() else 0; " \
            "p.write_text(str(n + 1)); sys.exit(0 if n + 1 >= {} else 1)"
    webassets._run([sys.executable, "-c", count.format(webassets.TRIES)], "a package", tmp_path)
    assert (tmp_path / "tries").read_text() == str(webassets.TRIES)
    (tmp_path / "tries").unlink()
    with pytest.raises(webassets.WebAssetsError, match="could not fetch a package"):
        webassets._run([sys.executable, "-c", count.format(webassets.TRIES + 1)], "a package", tmp_path)
    assert (tmp_path / "tries").read_text() == str(webassets.TRIES)
