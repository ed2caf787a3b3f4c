"""The written answers side by side (course_utils.grade.written, ./course written NN SUBMISSIONS): a page per
question with every student's answer under their name, the unanswered ones at 0 points, the unreadable ones listed
with the reason, untrusted HTML shown as text, the math typeset offline, and the TA's points downloaded as CSV."""

from __future__ import annotations

import csv
import html
import io
import re
import shutil

import nbformat
import pytest

from course_utils import assign
from course_utils.grade import written
from course_utils.grade.cli import main as grade_main
from course_utils.grade.spec import load_assignment
from helpers import ROOT, load_script

SOLUTION01 = ROOT / "solutions" / "01_jensen_elbo.ipynb"
STUDENT01 = ROOT / "notebooks" / "01_jensen_elbo.ipynb"
ARTIFACTS = ROOT / "artifacts" / "written"
CUSTOM = ("My derivation: the gap is $D_{KL}(q \\| p)$, and $a_1 * b_2$ is a product, not *emphasis*.\n\n"
          "$$\\log p(x) \\geq \\mathbb{E}_q[\\log p(x, z) - \\log q(z)]$$\n\n"
          '<script>window.hacked=1</script>\n\n<img src=x onerror="window.hacked=2"> and '
          "[a link](javascript:window.hacked=3) and ![remote](http://example.com/track.png)\n")


@pytest.fixture(scope="module")
def spec():
    return load_assignment(SOLUTION01)


@pytest.fixture(scope="module")
def klass(tmp_path_factory, spec):
    """A class of four: the model answers (alice), a custom answer with math and an injection attempt (bob), the
    notebook as handed out (carol), a file that is not JSON (dave), a notebook with mangled metadata (eve)."""
    root = tmp_path_factory.mktemp("class")
    sol = nbformat.read(str(SOLUTION01), as_version=4)
    first, second = (w.question for w in spec.written)
    nbformat.write(assign.answered(sol), str(root / "alice.ipynb"))
    nbformat.write(assign.answered(sol, {first: CUSTOM, second: None}), str(root / "bob.ipynb"))
    shutil.copy(STUDENT01, root / "carol.ipynb")
    (root / "dave.ipynb").write_text("{ this is not a notebook")
    mangled = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("x")])
    mangled.cells[0].metadata["nbgrader"] = ["not", "a", "dict"]
    (root / "eve.ipynb").write_text(nbformat.writes(mangled, version=4))
    return root


@pytest.fixture(scope="module")
def pages(klass, tmp_path_factory):
    out = tmp_path_factory.mktemp("written")
    lines: list[str] = []
    made = written.export("01", klass, out, mathjax=False, log=lines.append)
    return out, made, lines


def _blocks(text: str) -> dict[str, str]:
    """Each student's block of a page, by name."""
    return {html.unescape(m.group(1)): m.group(0)
            for m in re.finditer(r'<section class="student[^"]*"[^>]*data-student="([^"]+)".*?</section>', text, re.S)}


def test_a_page_per_question_and_an_index(pages, spec):
    out, made, lines = pages
    assert [p.name for p in made] == [f"{w.question}.html" for w in spec.written] + ["index.html"]
    index = (out / "index.html").read_text()
    for w in spec.written:
        assert f'href="{w.question}.html"' in index
        assert any(f"{w.question}.html" in ln and f"{w.points:g} points" in ln for ln in lines), lines
    assert "open " in lines[-1] and "index.html" in lines[-1] and "2 notebooks not shown" in lines[-1]
    assert any("without MathJax" in ln and "TeX source" in ln for ln in lines), lines


def test_every_answer_is_under_its_student_and_the_untouched_one_is_not_answered(pages, spec):
    out, _, _ = pages
    first, second = spec.written
    text = (out / f"{first.question}.html").read_text()
    blocks = _blocks(text)
    assert list(blocks) == ["alice", "bob", "carol"], "answered by name, then the unanswered"
    assert "Jensen enters at the" in blocks["alice"], "the model answer is alice's"
    assert "My derivation" in blocks["bob"] and "My derivation" not in blocks["alice"]
    assert "not answered: 0 points" in blocks["carol"] and 'data-answered="0"' in blocks["carol"]
    assert 'value="0"' in blocks["carol"]
    assert f'max="{first.points:g}"' in blocks["alice"] and 'step="0.5"' in blocks["alice"]
    page2 = _blocks((out / f"{second.question}.html").read_text())
    assert list(page2) == ["alice", "bob", "carol"]
    assert "not answered: 0 points" in page2["bob"] and "not answered: 0 points" in page2["carol"]
    assert "1 answered, 2 not answered" in (out / f"{second.question}.html").read_text()


def test_the_prompt_the_model_answer_and_the_rubric_are_on_the_page(pages, spec):
    out, _, _ = pages
    for w in spec.written:
        text = (out / f"{w.question}.html").read_text()
        assert f"Written {w.number}: {w.question}" in text and f"({w.points:g} points)" in text
        assert '<details class="grader" open>' in text and "for graders only" in text
        assert f"<strong>Rubric ({w.points:g} points).</strong>" in text
        rubric_line = next(ln for ln in w.solution.splitlines() if ln.startswith("- 1 point"))
        assert html.escape(rubric_line[2:30], quote=False) in text
        assert "graded by hand" in text  # the prompt's heading


def test_the_corrupt_notebooks_are_listed_with_the_reason(pages, spec):
    out, _, lines = pages
    for page in ("index.html", f"{spec.written[0].question}.html"):
        text = (out / page).read_text()
        for who in ("dave", "eve"):
            row = re.search(rf"<tr><td>{who}</td><td>{who}.ipynb</td><td>([^<]+)</td></tr>", text)
            assert row and "could not be read as a notebook" in row.group(1), (page, who)
    assert any(ln.startswith("written: not shown: dave") for ln in lines)
    assert any(ln.startswith("written: not shown: eve") for ln in lines)


def test_html_in_an_answer_is_text_and_the_math_is_kept_for_mathjax(pages, spec):
    out, _, _ = pages
    bob = _blocks((out / f"{spec.written[0].question}.html").read_text())["bob"]
    assert "<script>window.hacked" not in bob and "&lt;script&gt;window.hacked=1&lt;/script&gt;" in bob
    assert "<img src=x" not in bob and "&lt;img src=x onerror" in bob
    assert "javascript:" not in bob
    assert 'src="http://example.com' not in bob and "[image: remote]" in bob  # linked, never fetched
    assert "$D_{KL}(q \\| p)$" in bob, "the math is intact: no Markdown escapes eaten"
    assert "$a_1 * b_2$" in bob, "no emphasis made of the math's * and _"
    assert "<em>emphasis</em>" in bob, "the Markdown around it is rendered"
    assert "$$\\log p(x) \\geq \\mathbb{E}_q[\\log p(x, z) - \\log q(z)]$$" in bob


def test_render_markdown_leaves_code_alone_and_escapes_math():
    out = written.render_markdown("`$HOME` costs \\$5, $a<b$ and\n\n```\n$x_1$ *y*\n```\n")
    assert "<code>$HOME</code>" in out and "\\$5" in out
    assert "$a&lt;b$" in out and "<b$" not in out
    assert "$x_1$ *y*" in out and "<em>" not in out


# ----------------------------------------------------------------------------- the command's messages
def test_an_assignment_without_written_questions_says_which_have_some(tmp_path, klass, capsys):
    assert grade_main(["written", "06", str(klass), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert re.search(r"written: 01[0-9., ]* ha(s|ve) written questions; 06 has none", err), err
    sols = tmp_path / "solutions"  # a solution of 01 with its written questions taken out
    sols.mkdir()
    nb = nbformat.read(str(SOLUTION01), as_version=4)
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade") and cell.cell_type == "markdown":
            cell.metadata["nbgrader"]["grade"] = False
    nbformat.write(nb, str(sols / SOLUTION01.name))
    assert written.main(["01", str(klass), "--solutions", str(sols), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "no assignment in" in err and "01 has none" in err and "no manually graded answer cell" in err
    assert not (tmp_path / "o").exists()


def test_a_missing_or_empty_submissions_folder_says_what_to_pass(tmp_path, capsys):
    assert grade_main(["written", "01", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere does not exist" in err and "Gradescope" in err
    (tmp_path / "empty").mkdir()
    assert written.main(["01", str(tmp_path / "empty")]) == 2
    assert "no notebooks in" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        written.main(["01"])
    assert e.value.code == 2


def test_a_class_of_another_assignment_names_it(tmp_path, capsys):
    shutil.copy(ROOT / "notebooks" / "02_autoencoders.ipynb", tmp_path / "erin.ipynb")
    assert written.main(["01", str(tmp_path), "--no-mathjax"]) == 2
    err = capsys.readouterr().err
    assert "is assignment 01" in err and "./course written 02" in err


def test_a_student_who_handed_in_another_assignment_is_listed(tmp_path, klass):
    shutil.copytree(klass, tmp_path / "class")
    shutil.copy(ROOT / "notebooks" / "02_autoencoders.ipynb", tmp_path / "class" / "erin.ipynb")
    written.export("01", tmp_path / "class", tmp_path / "out", mathjax=False, log=lambda *a: None)
    text = (tmp_path / "out" / "index.html").read_text()
    assert re.search(r"<tr><td>erin</td><td>erin.ipynb</td><td>handed in assignment 02, not 01", text)


# ----------------------------------------------------------------------------- in the browser
def test_the_page_in_a_browser_typesets_runs_nothing_and_downloads_the_scores(klass, tmp_path, web_assets, spec):
    from test_slides import _requests_outside  # opening a page with the network blocked

    chromium = load_script("tests/e2e/test_browser.py", "browser_for_written").ensure_chromium()
    from playwright.sync_api import sync_playwright

    out = tmp_path / "pages"
    lines: list[str] = []
    written.export("01", klass, out, log=lines.append)
    assert not any("MathJax is not available" in ln for ln in lines), lines
    assert (out / "_static" / "mathjax" / "MathJax.js").exists(), "MathJax next to the pages: the folder is portable"
    first = spec.written[0]
    page_path = out / f"{first.question}.html"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        try:
            blocked, context, page = _requests_outside(page_path.as_uri(), browser)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0 "
                                   "&& document.querySelectorAll('.MathJax, .MathJax_Display').length > 0",
                                   timeout=60_000)
            page.evaluate("""() => {  // the page's policy runs only its own scripts: a second line of defence
                const s = document.createElement('script');
                s.textContent = 'window.hacked = 4';
                document.body.appendChild(s);
            }""")
            facts = page.evaluate("""() => ({
                hacked: typeof window.hacked,
                bobMath: document.querySelectorAll('#s-bob .MathJax, #s-bob .MathJax_Display').length,
                raw: document.querySelector('#s-bob').innerText.includes('D_{KL}'),
                // (MathJax keeps each formula's TeX in a math/tex script of its own)
                scripts: document.querySelectorAll('#s-bob script:not([type^="math/tex"])').length,
            })""")
            page.screenshot(path=str(ARTIFACTS / f"{first.question}_top.png"))
            bob = page.locator("#s-bob")
            bob.locator("input.points").fill("1.5")
            bob.locator("textarea.comment").fill('Jensen right, "H" sign slip, see rubric')
            bob.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / f"{first.question}_answers.png"))
            with page.expect_download() as info:
                page.click("#download")
            download = info.value
            assert download.suggested_filename == f"01_jensen_elbo_{first.question}_scores.csv"
            rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
            status = page.inner_text("#status")
            page.locator("#s-alice input.points").focus()
            page.keyboard.press("Enter")  # on to the next student's points
            focused = page.evaluate("() => document.activeElement.closest('.student').dataset.student")
            page.reload()
            page.wait_for_load_state("load")
            page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0 "
                                   "&& document.querySelectorAll('.MathJax, .MathJax_Display').length > 0",
                                   timeout=60_000)
            kept = page.locator("#s-bob input.points").input_value()
            kept_comment = page.locator("#s-bob textarea.comment").input_value()
            page.screenshot(path=str(ARTIFACTS / f"{first.question}_page.png"), full_page=True)
            page.goto((out / "index.html").as_uri())
            page.screenshot(path=str(ARTIFACTS / "index.png"))
            context.close()
        finally:
            browser.close()
    assert not blocked, f"the page asked the network for {blocked[:5]}"
    assert not errors, errors
    assert facts["hacked"] == "undefined", "a script in a student's answer ran (or the page's CSP let one run)"
    assert facts["scripts"] == 0 and facts["bobMath"] >= 3 and not facts["raw"], facts
    assert list(rows[0]) == ["student", "question", "points", "comment"]
    by = {r["student"]: r for r in rows}
    assert by["bob"] == {"student": "bob", "question": first.question, "points": "1.5",
                         "comment": 'Jensen right, "H" sign slip, see rubric'}
    assert by["alice"]["points"] == "" and by["carol"]["points"] == "0" and by["carol"]["comment"] == "not answered"
    assert "could not be read" in by["dave"]["comment"] and by["dave"]["points"] == ""
    assert "1 answers have no points yet" in status, status
    assert (kept, kept_comment) == ("1.5", 'Jensen right, "H" sign slip, see rubric'), "kept across a reload"
    assert focused == "bob", "Enter in a points box goes on to the next student"
