"""WCAG 2.1 AA on the course's pages, audited by axe-core in headless Chromium (course_utils.a11y): notebook 01's
site page (executed), the course map, 01's slide deck, a written-answer page and its index, and a feedback page,
built small and fast (benchmarks/accessibility.py audits every page of both sites). No violation may be serious or
critical; every figure has a text alternative; math carries assistive MathML; the widgets' sliders and the grading
page work from the keyboard.

Skipped, like the other web-asset tests, where npm or Chromium is missing; failed instead under
COURSE_REQUIRE_WEBASSETS=1 (CI)."""

from __future__ import annotations

import csv
import importlib.util
import io
import os
import re
import shutil
import sys

import nbformat
import pytest

from course_utils import a11y, assign, slides
from course_utils.grade import written
from helpers import ROOT

SOLUTION01 = ROOT / "solutions" / "01_jensen_elbo.ipynb"
STUDENT01 = ROOT / "notebooks" / "01_jensen_elbo.ipynb"
ARTIFACTS = ROOT / "artifacts" / "a11y"
NBCONVERT_DEFAULT_ALT = "No description has been provided for this image"


def _load(name: str, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _unavailable(why: str):
    if os.environ.get("COURSE_REQUIRE_WEBASSETS") == "1":
        pytest.fail(f"COURSE_REQUIRE_WEBASSETS=1, and the accessibility audit cannot run: {why}")
    pytest.skip(f"the accessibility audit cannot run (set COURSE_REQUIRE_WEBASSETS=1 to fail): {why}")


@pytest.fixture(scope="module")
def browser(web_assets):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("no Playwright")
    try:  # Debian's chromium, installed with apt-get where missing (never a downloaded browser)
        chromium = _load("browser_for_a11y", ROOT / "tests" / "e2e" / "test_browser.py").ensure_chromium()
    except pytest.skip.Exception as e:
        _unavailable(str(e))
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium), args=a11y.CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def executed01():
    """Solution 01 run top to bottom (fast profile), as the site and the decks run it."""
    from course_utils.notebook import execute_notebook

    nb, _ = execute_notebook(SOLUTION01, "fast")
    return nb


@pytest.fixture(scope="module")
def pages(tmp_path_factory, web_assets, executed01):
    """One page of each kind, built by the course's own code: {name: path}."""
    out = tmp_path_factory.mktemp("a11y")
    site = _load("build_site_for_a11y", ROOT / "tools" / "build_site.py")
    from course_utils import webassets

    webassets.install(out / "site")
    n = site.describe(SOLUTION01)
    n.executed = True
    (out / "site" / "solutions").mkdir()  # (its student page has the same template, less in it: not audited here)
    nb = nbformat.from_dict(executed01)
    site.without_hidden_tests(nb)
    (out / "site" / "solutions" / f"{SOLUTION01.stem}.html").write_text(
        site.render(nb, site.nav_bar(n, "solutions")), encoding="utf-8")
    (out / "site" / "index.html").write_text(site.landing_page([n], "fast"), encoding="utf-8")
    # the deck, from the same run (beside the site's pages, to share its _static/)
    (out / "site" / f"{SOLUTION01.stem}.slides.html").write_text(slides.deck_html(executed01), encoding="utf-8")
    # the written-answer pages of a class of two: the model answers and the notebook as handed out
    klass = out / "class"
    klass.mkdir()
    nbformat.write(assign.answered(nbformat.read(str(SOLUTION01), as_version=4)), str(klass / "alice.ipynb"))
    shutil.copy(STUDENT01, klass / "bob.ipynb")
    made = written.export("01", klass, out / "written", log=lambda _: None)
    # a feedback page: a public check passed, one failed, a written answer awaiting its grader
    from course_utils.grade.results import AWAITING, PUBLIC, WRITTEN, Outcome, Results

    results = Results.of([
        Outcome(PUBLIC, "log_marginal", 1, 2.0, 2.0, "[PASS] log p(x)"),
        Outcome(PUBLIC, "elbo", 2, 0.0, 3.0, "[FAIL] the ELBO is above log p(x): check the sign of the KL term"),
        Outcome(WRITTEN, "jensen_step", 1, 0.0, 3.0, "...", state=AWAITING),
    ], "score 2 of 5\nthe notebook ran in 4.1 s", 4.1)
    (out / "feedback").mkdir()
    (out / "feedback" / "feedback.html").write_text(results.feedback_html("alice", SOLUTION01.stem))
    return {
        "site solution": out / "site" / "solutions" / f"{SOLUTION01.stem}.html",
        "course map": out / "site" / "index.html",
        "deck": out / "site" / f"{SOLUTION01.stem}.slides.html",
        "written question": made[0],
        "written index": made[-1],
        "feedback": out / "feedback" / "feedback.html",
    }


MATH = """() => ({
    typeset: document.querySelectorAll('.MathJax, .MathJax_Display, .MathJax_CHTML').length,
    assistive: document.querySelectorAll('.MJX_Assistive_MathML math').length,
})"""


@pytest.fixture(scope="module")
def audits(pages, browser):
    """axe-core over every page, each opened once (the math counted on the way)."""
    found = {a.page: a for a in a11y.audit(pages, browser=browser, probe=MATH)}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "audit.json").write_text(a11y.to_json(list(found.values())))
    return found


def test_no_serious_or_critical_violation_on_any_kind_of_page(pages, audits):
    assert set(audits) == set(pages)
    blocking = a11y.blocking(list(audits.values()))
    assert not blocking, "axe-core finds serious or critical violations:\n" + "\n".join(blocking)


def test_every_figure_has_a_text_alternative(executed01, pages):
    images = [o for c in executed01.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) >= 3, "notebook 01 shows its figures"
    for o in images:
        alt = o.get("metadata", {}).get("image/png", {}).get("alt", "")
        assert alt.startswith("Figure") and len(alt) > 20, f"a figure without a text alternative: {alt!r}"
    for name in ("site solution", "deck"):
        text = pages[name].read_text(encoding="utf-8")
        tags = [t for t in re.findall(r"<img\b[^>]*>", text) if '\\"' not in t]  # not the widgets' JSON state
        alts = [re.search(r'\balt=(["\'])(.*?)\1', t, re.S) for t in tags]
        assert len(tags) >= len(images), f"{name}: {len(tags)} images"
        bad = [t[:120] for t, a in zip(tags, alts) if not a or not a.group(2).strip()
               or NBCONVERT_DEFAULT_ALT in a.group(2)]
        assert not bad, f"{name}: images without a text alternative: {bad[:3]}"
    widget = [o for c in executed01.cells for o in c.get("outputs", []) if "application/vnd.jupyter.widget-view+json"
              in o.get("data", {})]
    assert widget, "notebook 01 shows its slider figure"
    state = executed01.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    drawn = [o for m in state.values() for o in m.get("state", {}).get("outputs", []) if "data" in o]
    assert drawn and all('alt="Figure' in o["data"].get("text/html", "") for o in drawn), \
        "the slider figure's image carries its text alternative"


def _open(browser, path, **context):
    """``path`` in a fresh context, without MathJax (the keyboard tests need none, and it takes seconds)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, **context)
    ctx.route("**/mathjax/**", lambda route: route.abort())
    page = ctx.new_page()
    page.goto(path.as_uri())
    a11y._settle(page)
    return ctx, page


@pytest.mark.parametrize("name", ["site solution", "deck", "written question"])
def test_math_carries_assistive_mathml(audits, name):
    facts = audits[name].probe
    assert facts["typeset"] > 0, f"{name}: MathJax typeset nothing: {facts}"
    assert facts["assistive"] >= facts["typeset"] // 2 > 0, f"{name}: the math has no assistive MathML: {facts}"


def _tab_to(page, selector: str, limit: int = 80) -> bool:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return True
    return False


def test_the_slider_works_from_the_keyboard(pages, browser):
    ctx, page = _open(browser, pages["site solution"])
    try:
        page.wait_for_selector(".widget-slider .noUi-handle", timeout=20_000)
        # from the control before it in the page (the page has some 200 before it: links, code cells)
        page.evaluate("""() => {
            const all = [...document.querySelectorAll('a[href], button, input, textarea, select, [tabindex]')]
                .filter(e => e.tabIndex >= 0 && !e.disabled);
            const i = all.indexOf(document.querySelector('.widget-slider .noUi-handle'));
            all[i - 1].focus();
        }""")
        assert _tab_to(page, ".widget-slider .noUi-handle", limit=3), "Tab does not reach the slider"
        label = page.evaluate("() => document.activeElement.getAttribute('aria-label')")
        readout = page.locator(".widget-slider .widget-readout").first
        before = readout.inner_text()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        after = readout.inner_text()
        outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        page.screenshot(path=str(ARTIFACTS / "slider_keyboard.png"))
    finally:
        ctx.close()
    assert label == "t", f"the slider's name for a screen reader: {label!r}"
    assert float(after) > float(before), f"the arrow keys did not move t: {before} -> {after}"
    assert outline != "none", "the focused slider shows no focus outline"


def test_the_written_page_works_from_the_keyboard(pages, browser):
    ctx, page = _open(browser, pages["written question"], accept_downloads=True)
    try:
        assert _tab_to(page, ".student[data-student='alice'] input.points"), "Tab never reaches alice's points"
        page.keyboard.type("1.5")
        progress = page.locator("#progress").inner_text()
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.matches(\".student[data-student='alice'] textarea\")")
        page.keyboard.type("the step is right; say why log is concave")
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")  # Enter in a points box: the next student's points
        moved = page.evaluate("() => document.activeElement.closest('.student').dataset.student")
        for _ in range(100):  # back to the top: the download button
            page.keyboard.press("Shift+Tab")
            if page.evaluate("() => document.activeElement.id") == "download":
                break
        outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        page.screenshot(path=str(ARTIFACTS / "written_keyboard.png"))
        with page.expect_download() as info:
            page.keyboard.press("Enter")
        rows = list(csv.DictReader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
        status = page.locator("#status").inner_text()
    finally:
        ctx.close()
    assert progress.startswith("1 of 1"), progress
    assert moved == "bob", f"Enter moved to {moved}"
    assert outline != "none", "the focused button shows no focus outline"
    alice = next(r for r in rows if r["student"] == "alice")
    assert alice["points"] == "1.5" and alice["comment"].startswith("the step is right"), rows
    assert "downloaded" in status, status
