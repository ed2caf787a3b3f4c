"""Every student's answer to one written question, side by side: ``./course written NN SUBMISSIONS [--out DIR]``.

A TA grading a class's written answers (:class:`.spec.Written`: the derivations and short answers a person
grades) wants one question at a time, every answer on one page. For assignment ``NN`` and any submission layout
the batch grader reads (:func:`.batch.discover`: a folder of notebooks, nbgrader's ``submitted/``, a Gradescope
export, LMS downloads) this writes, into ``build/written/<NN_topic>/`` (``--out``):

- ``<grade_id>.html``, one page per question: its number, points and prompt; the model answer and rubric (for
  graders only, folded open); then each student's answer, sorted by name, rendered from Markdown with its math,
  next to a points box (0 to the question's points, in steps of 0.5) and a comment box. Unanswered ones (missing,
  empty or still ``YOUR ANSWER HERE``) come last, greyed, at 0 points as the autograder gives them. Notebooks that
  could not be read, or that belong to another assignment, are listed with the reason. "Download scores (CSV)"
  writes ``student,question,points,comment`` from the boxes; what the TA types is kept in the browser
  (``localStorage``, keyed by the page), so a reload loses nothing.
- ``index.html``: the questions, their points, and how many students answered each.

The folder is self-contained (zip it, open it offline): MathJax comes from the course's local copy
(:mod:`course_utils.webassets`, copied into ``_static/``); where it is not available the pages show the TeX
source. Student answers are untrusted: raw HTML in them is escaped (a ``<script>`` shows as text), links with
``javascript:`` and the like are dropped, remote images are shown as links (a page never fetches anything from the
network), and the math spans are kept out of the Markdown renderer and put back escaped, for MathJax (with its
``Safe`` extension) to typeset.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import secrets
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .. import syllabus
from ..paths import REPO_ROOT, atomic_write_bytes
from .batch import BatchError, discover, one_per_student
from .core import SOLUTIONS_DIR
from .spec import Assignment, SpecError, Written, assignment_paths, find_solution, guess_assignment, load_assignment

OUT = REPO_ROOT / "build" / "written"
MAX_ANSWER_CHARS = 20_000  # a longer answer is cut (a pasted log must not make the page unusable)
STEP = 0.5  # the points box's step


class WrittenError(ValueError):
    """Bad input (no written questions, unreadable SUBMISSIONS); the message says what to do."""


# ----------------------------------------------------------------------------- Markdown with math, made safe
_MATH = re.compile(
    r"(?P<code>^(?P<fence>`{3,}|~{3,})[^\n]*\n.*?^(?P=fence)[ \t]*$"  # a fenced code block: left as it is
    r"|(?P<ticks>`+).+?(?P=ticks))"  # a code span
    r"|(?P<math>\\\$"  # an escaped dollar: kept for MathJax (processEscapes), not eaten by Markdown
    r"|\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)"
    r"|\\begin\{(?P<env>[A-Za-z]+\*?)\}.+?\\end\{(?P=env)\}"
    r"|\$(?:\\.|[^$\\\n]|\n(?![ \t]*\n))+?\$)",  # inline math: not across a blank line
    re.S | re.M,
)


def _renderer():
    import mistune  # comes with nbconvert (jupyterlab); version 3

    class Renderer(mistune.HTMLRenderer):
        def link(self, text, url, title=None):  # never open in (or script) this page's window
            return super().link(text, url, title).replace("<a ", '<a rel="noopener noreferrer" target="_blank" ', 1)

        def image(self, text, url, title=None):  # a data: image is shown; anything else only linked, never fetched
            if re.match(r"data:image/(png|jpe?g|gif|webp);", url or "", re.I):
                return super().image(text, url, title)
            if str(url).startswith("attachment:"):
                return f'<span class="img">[image attached in the notebook: {html.escape(url[11:])}]</span>'
            return (f'<a class="img" rel="noopener noreferrer" target="_blank" href="{self.safe_url(url)}">'
                    f"[image: {text or html.escape(url)}]</a>")

    return mistune.create_markdown(renderer=Renderer(escape=True), plugins=["table", "strikethrough"])


_MARKDOWN = None


def render_markdown(text: str) -> str:
    """``text`` (Markdown with ``$...$``/``$$...$$`` math) as HTML, raw HTML escaped, the math kept for MathJax."""
    global _MARKDOWN
    if _MARKDOWN is None:
        _MARKDOWN = _renderer()
    nonce = secrets.token_hex(6)
    spans: list[str] = []

    def protect(m):
        if m.group("code"):
            return m.group(0)
        spans.append(m.group(0))
        return f"zmath{nonce}n{len(spans) - 1}z"  # letters and digits: nothing Markdown acts on

    out = _MARKDOWN(_MATH.sub(protect, text))
    # quotes escaped too: a placeholder may have landed inside an attribute (a link's or an image's URL)
    return re.sub(rf"zmath{nonce}n(\d+)z", lambda m: html.escape(spans[int(m.group(1))]), out)


# ----------------------------------------------------------------------------- the class
@dataclass
class Student:
    student: str
    source: str  # the notebook, as the TA finds it in SUBMISSIONS
    late: bool | None = None
    nb: object | None = None  # the notebook; None when ``problem``
    problem: str | None = None  # why it is not shown: unreadable, another assignment


def _where(path: Path, roots: list[Path]) -> str:
    for root in roots:
        try:
            return str(path.relative_to(root))
        except ValueError:
            continue
    return path.name


def collect(spec: Assignment, submissions: Path, work: Path) -> tuple[str, list[Student], list[str]]:
    """The layout, one :class:`Student` per student who handed something in (this assignment's notebook, or why
    not), and notes (older notebooks left out, other assignments' notebooks ignored)."""
    submissions = Path(submissions)
    if not submissions.exists():
        raise WrittenError(f"{submissions} does not exist. Pass the folder (or Gradescope zip) with the class's "
                           "notebooks: STUDENT.ipynb files, nbgrader's course folder, a Gradescope export, or LMS "
                           "downloads.")
    try:
        layout, subs = discover(submissions, work=work)
    except (BatchError, OSError) as e:
        raise WrittenError(str(e)) from None
    except Exception as e:  # noqa: BLE001 - a broken zip, a broken submission_metadata.yml
        raise WrittenError(f"{submissions} could not be read ({type(e).__name__}: {e}). Pass a folder of notebooks, "
                           "nbgrader's course folder or a Gradescope export (zip or folder).") from None
    if not subs:
        raise WrittenError(f"{submissions} holds no student notebook ({layout} layout): is it the right folder?")
    roots = [submissions if submissions.is_dir() else submissions.parent, work]
    mine, other, read = [], [], {}
    for s in subs:
        try:
            text = s.path.read_text(encoding="utf-8", errors="replace")
            nb = nbformat.reads(text, as_version=4)
            if not isinstance(nb.get("cells"), list):
                raise ValueError("it has no cells")
            for w in spec.written:  # a notebook whose cells are mangled fails here, not halfway through a page
                w.answer(nb)
            problem = None
        except Exception as e:  # noqa: BLE001 - anything a student can hand in
            text, nb = None, None
            why = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
            problem = f"could not be read as a notebook ({why})"
        number = syllabus.number_in(guess_assignment(s.path, text)) or syllabus.number_in(s.assignment)
        read[id(s)] = (nb, problem, number)
        if number in (None, spec.number):
            s.assignment = spec.notebook
            mine.append(s)
        else:
            other.append(s)
    mine, notes = one_per_student(mine)
    students = {s.student: Student(s.student, _where(s.path, roots), s.late, read[id(s)][0], read[id(s)][1])
                for s in mine}
    ignored = 0
    for s in other:
        if s.student in students:
            ignored += 1
            continue
        number = read[id(s)][2]
        students[s.student] = Student(
            s.student, _where(s.path, roots), s.late, None,
            f"handed in assignment {number}, not {spec.number} (so its setup cell or file name says)")
    if ignored:
        notes.append(f"{_n(ignored, 'notebook')} of other assignments ignored (their students handed in "
                     f"{spec.number} too)")
    if students and all(st.problem and st.problem.startswith("handed in") for st in students.values()):
        found = sorted({read[id(s)][2] for s in other})
        raise WrittenError(f"none of the {len(subs)} notebooks in {submissions} is assignment {spec.number} (they "
                           f"are assignment {', '.join(found)}): is it the right folder, or the right NN "
                           f"(./course written {found[0]} {submissions})?")
    return layout, sorted(students.values(), key=lambda st: (st.student.lower(), st.student)), notes


# ----------------------------------------------------------------------------- the pages
STYLE = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; --accent: #0b57d0; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); line-height: 1.5;
       margin: 0; background: #fff; }
main { max-width: 1200px; margin: 0 auto; padding: 0 1.2rem 4rem; }
a { color: var(--accent); }
header.bar { position: sticky; top: 0; z-index: 10; background: #fff; border-bottom: 1px solid var(--line);
             padding: .55rem 1.2rem; display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
header.bar .title { font-weight: 600; margin-right: auto; }
header.bar .progress { color: var(--muted); font-size: .92rem; }
button { font: inherit; font-size: .92rem; padding: .3rem .8rem; border: 1px solid var(--line); border-radius: 6px;
         background: var(--soft); cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
h1 { font-size: 1.45rem; margin: 1.2rem 0 .2rem; }
h2 { font-size: 1.15rem; margin: 1.6rem 0 .6rem; }
.meta { color: var(--muted); font-size: .92rem; margin: 0 0 .8rem; }
.prompt { border-left: 4px solid var(--accent); background: var(--soft); padding: .2rem 1rem; border-radius: 4px; }
details.grader { margin: 1rem 0; border: 1px solid #e3c27a; background: #fffaf0; border-radius: 6px;
                 padding: .3rem 1rem; }
details.grader summary { cursor: pointer; font-weight: 600; padding: .3rem 0; color: #6b4f00; }
.note { background: #fff4e5; border: 1px solid #f0c36d; padding: .5rem .8rem; border-radius: 6px; }
.md { overflow-x: auto; }
.md h1, .md h2, .md h3, .md h4 { font-size: 1.02rem; margin: .6rem 0 .3rem; }
.md p { margin: .45rem 0; }
.md pre { background: var(--soft); padding: .5rem; overflow-x: auto; }
.md table { border-collapse: collapse; } .md th, .md td { border: 1px solid var(--line); padding: .2rem .5rem; }
.md img { max-width: 100%; }
.student { display: grid; grid-template-columns: minmax(0, 1fr) 15rem; gap: 1rem; border: 1px solid var(--line);
           border-radius: 8px; padding: .7rem 1rem; margin: .8rem 0; scroll-margin-top: 4rem; }
.student .who { font-weight: 600; margin-bottom: .2rem; }
.student .score { position: sticky; top: 3.8rem; align-self: start; }  /* beside a long answer, in view */
@media (max-width: 720px) { .student { grid-template-columns: minmax(0, 1fr); } .student .score { position: static; } }
.student .who .src { font-weight: normal; color: var(--muted); font-size: .85rem; margin-left: .5rem; }
.badge { display: inline-block; font-size: .78rem; font-weight: 600; padding: 0 .45rem; border-radius: 999px;
         background: #ffe1e0; color: #9a1c14; margin-left: .4rem; vertical-align: middle; }
.score label { display: block; font-size: .85rem; color: var(--muted); margin-top: .3rem; }
.score input.points { width: 6rem; font: inherit; padding: .2rem .4rem; border: 1px solid var(--line);
                      border-radius: 4px; }
.score input.points:invalid { border-color: #cf222e; background: #fff0f0; }
.score textarea { width: 100%; min-height: 4.2rem; font: inherit; font-size: .9rem; padding: .3rem .4rem;
                  border: 1px solid var(--line); border-radius: 4px; resize: vertical; }
.student.graded { border-left: 5px solid #1a7f37; }
.student.unanswered { background: var(--soft); color: var(--muted); padding: .4rem 1rem; }
.student.unanswered .md { font-style: italic; }
.student.unanswered textarea { min-height: 2.1rem; }
.MathJax_Display { overflow-x: auto; overflow-y: hidden; }
.student.current { box-shadow: 0 0 0 3px #b6d4fe; }
.of { color: var(--muted); font-size: .85rem; }
table.list { border-collapse: collapse; width: 100%; margin: .6rem 0; }
table.list th, table.list td { border-bottom: 1px solid var(--line); padding: .4rem .6rem; text-align: left;
                               vertical-align: top; }
table.list th { background: var(--soft); } td.num, th.num { text-align: right; white-space: nowrap; }
.small { color: var(--muted); font-size: .9rem; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  var meta = JSON.parse(document.getElementById("written-meta").textContent);
  var key = "course-written:" + location.pathname;
  var rows = Array.prototype.slice.call(document.querySelectorAll(".student[data-student]"));
  var status = document.getElementById("status");
  var store = null;
  try { store = window.localStorage; store.getItem(key); } catch (e) { store = null; }
  var saved = {};
  if (store) { try { saved = JSON.parse(store.getItem(key) || "{}") || {}; } catch (e) { saved = {}; } }
  else { status.textContent = "this browser keeps nothing for this page: download the CSV before you close it"; }

  function box(row, cls) { return row.querySelector("." + cls); }
  function save() {
    var all = {};
    rows.forEach(function (row) {
      all[row.dataset.student] = {points: box(row, "points").value, comment: box(row, "comment").value};
    });
    if (store) { try { store.setItem(key, JSON.stringify(all)); } catch (e) { /* full: the CSV still works */ } }
    progress();
  }
  function progress() {
    var answered = 0, given = 0;
    rows.forEach(function (row) {
      var has = box(row, "points").value.trim() !== "";
      row.classList.toggle("graded", has && row.dataset.answered === "1");
      if (row.dataset.answered === "1") { answered += 1; if (has) given += 1; }
    });
    document.getElementById("progress").textContent = given + " of " + answered + " answers given points";
  }
  rows.forEach(function (row) {
    var v = saved[row.dataset.student];
    if (v) {
      if (typeof v.points === "string") box(row, "points").value = v.points;
      if (typeof v.comment === "string") box(row, "comment").value = v.comment;
    }
    box(row, "points").addEventListener("input", save);
    box(row, "comment").addEventListener("input", save);
    box(row, "points").addEventListener("focus", function () {
      rows.forEach(function (r) { r.classList.toggle("current", r === row); });
    });
    box(row, "points").addEventListener("keydown", function (ev) {  // Enter: the next student's points
      if (ev.key !== "Enter") return;
      ev.preventDefault();
      var next = rows[rows.indexOf(row) + 1];
      if (next) { next.scrollIntoView({block: "start"}); box(next, "points").focus(); }
    });
  });
  progress();
  var rubric = document.querySelector("details.grader");  // folded or not, as the TA left it
  if (store && store.getItem(key + ":rubric") === "closed") rubric.open = false;
  rubric.addEventListener("toggle", function () {
    if (store) { try { store.setItem(key + ":rubric", rubric.open ? "open" : "closed"); } catch (e) { /* full */ } }
  });

  function cell(x) {
    x = String(x == null ? "" : x);
    if (/^[=+\-@\t\r]/.test(x) && !/^-?\d+(\.\d+)?$/.test(x)) x = "'" + x;  // no spreadsheet formulas
    return /[",\r\n]/.test(x) ? '"' + x.replace(/"/g, '""') + '"' : x;
  }
  document.getElementById("download").addEventListener("click", function () {
    var lines = [["student", "question", "points", "comment"].join(",")], missing = 0, bad = 0;
    rows.forEach(function (row) {
      var p = box(row, "points"), points = p.value.trim();
      if (points === "" && row.dataset.answered === "1") missing += 1;
      if (points !== "" && !p.checkValidity()) bad += 1;
      lines.push([cell(row.dataset.student), cell(meta.question), cell(points),
                  cell(box(row, "comment").value)].join(","));
    });
    meta.problems.forEach(function (s) {
      lines.push([cell(s.student), cell(meta.question), "", cell(s.reason)].join(","));
    });
    var blob = new Blob([lines.join("\r\n") + "\r\n"], {type: "text/csv;charset=utf-8"});
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = meta.file;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 2000);
    status.textContent = "downloaded " + meta.file +
      (missing ? "; " + missing + " answers have no points yet" : "") +
      (bad ? "; " + bad + " points are not 0.." + meta.points + " in steps of " + meta.step : "");
  });
  document.getElementById("next").addEventListener("click", function () {
    var row = rows.filter(function (r) {
      return r.dataset.answered === "1" && box(r, "points").value.trim() === "";
    })[0];
    if (row) { row.scrollIntoView({block: "start"}); box(row, "points").focus(); }
    else { status.textContent = "every answer has points"; }
  });
})();
"""


def _e(x) -> str:
    return html.escape(str(x))


def _n(k: int, what: str) -> str:
    return f"{k} {what}{'' if k == 1 else 's'}"


def _page(title: str, body: str, head: str = "", nonce: str = "") -> str:
    """A page that fetches nothing from the network and runs only its own scripts (``nonce``) and the local
    MathJax's: a second line of defence, should an answer's HTML ever get through unescaped."""
    scripts = f"'nonce-{nonce}' 'unsafe-eval' file:" if nonce else "'none'"  # MathJax evals its config blocks
    csp = (f"default-src 'none'; script-src {scripts}; style-src 'unsafe-inline' file:; img-src file: data: blob:; "
           "font-src file: data:; base-uri 'none'; form-action 'none'")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n{head}</head>\n<body>\n{body}\n</body></html>\n"
    )


def _problems_html(problems: list[Student]) -> str:
    if not problems:
        return ""
    rows = "".join(f"<tr><td>{_e(s.student)}</td><td>{_e(s.source)}</td><td>{_e(s.problem)}</td></tr>"
                   for s in problems)
    return (f'<h2 id="problems">Not shown: {_n(len(problems), "notebook")} to look at by hand</h2>'
            "\n<table class=list><tr><th>student</th><th>notebook</th><th>why</th></tr>"
            f"{rows}</table>")


def _status(w: Written, st: Student) -> tuple[bool, str | None, str]:
    """(answered, its text, why not) for one student and question."""
    text = w.answer(st.nb)
    if text is None:
        return False, None, f"the notebook has no answer cell for '{w.question}' (deleted, or a copy of another file)"
    if not w.answered(text):
        return False, text, "the cell still says 'YOUR ANSWER HERE' (or is empty)"
    return True, text, ""


def question_page(spec: Assignment, w: Written, students: list[Student], *, mathjax: str | None,
                  notes: list[str]) -> tuple[str, int, int]:
    """The page of one question; returns it, how many answered, how many did not."""
    shown = [s for s in students if not s.problem]
    problems = [s for s in students if s.problem]
    done = [(s, *_status(w, s)) for s in shown]
    answered = [d for d in done if d[1]]
    unanswered = [d for d in done if not d[1]]
    pts = f"{w.points:g}"
    nonce = secrets.token_urlsafe(16)
    blocks = []
    for st, ok, text, why in answered + unanswered:
        late = '<span class="badge">late</span>' if st.late else ""
        if ok:
            body = text if len(text) <= MAX_ANSWER_CHARS else text[:MAX_ANSWER_CHARS]
            cut = (f'<p class="note">The answer is cut at {MAX_ANSWER_CHARS:,} characters (it has {len(text):,}): '
                   f"read the rest in the notebook.</p>" if len(text) > MAX_ANSWER_CHARS else "")
            answer = f'<div class="md">{render_markdown(body)}</div>{cut}'
            value, comment = "", ""
        else:
            answer = f'<div class="md"><strong>not answered: 0 points</strong> ({_e(why)})</div>'
            value, comment = "0", "not answered"
        sid = f"s-{st.student}"
        blocks.append(
            f'<section class="student{"" if ok else " unanswered"}" id="{_e(sid)}" data-student="{_e(st.student)}" '
            f'data-answered="{int(ok)}">\n<div><div class="who">{_e(st.student)}{late}'
            f'<span class="src">{_e(st.source)}</span></div>\n{answer}</div>\n'
            f'<div class="score"><label for="{_e(sid)}-p">points (0 to {pts})</label>'
            f'<input class="points" id="{_e(sid)}-p" type="number" min="0" max="{pts}" step="{STEP:g}" '
            f'inputmode="decimal" value="{value}"> <span class="of">/ {pts}</span>'
            f'<label for="{_e(sid)}-c">comment</label>'
            f'<textarea class="comment" id="{_e(sid)}-c" rows="{2 if ok else 1}">{_e(comment)}</textarea>'
            "</div>\n</section>"
        )
    meta = {"question": w.question, "points": w.points, "step": STEP, "notebook": spec.notebook,
            "file": f"{spec.notebook}_{w.question}_scores.csv",
            "problems": [{"student": s.student, "reason": s.problem} for s in problems]}
    meta_json = json.dumps(meta).replace("<", "\\u003c")
    no_math = "" if mathjax else (
        '<p class="note">MathJax was not available when these pages were built: the math shows as its TeX source.</p>')
    others = [x for x in spec.written if x is not w]
    nav = " · ".join(f'<a href="{_e(x.question)}.html">Written {x.number}: {_e(x.question)}</a>' for x in others)
    title = f"{spec.notebook}: Written {w.number}, {w.question} ({pts} points)"
    body = f"""<header class="bar"><span class="title">{_e(spec.notebook)} · Written {w.number}: {_e(w.question)} ·
{pts} points</span><span class="progress" id="progress"></span>
<button id="next" type="button">Next without points</button>
<button id="download" class="primary" type="button">Download scores (CSV)</button>
<span class="progress" id="status" role="status"></span></header>
<main>
<p class="small"><a href="index.html">All questions</a>{" · " + nav if nav else ""}</p>
<h1>Written {w.number}: {_e(w.question)} <span class="of">({pts} points)</span></h1>
<p class="meta">{len(answered)} answered, {len(unanswered)} not answered (0 points){
    f", {_n(len(problems), 'notebook')} not shown (<a href='#problems'>why</a>)" if problems else ""}.
Points go in steps of {STEP:g}; what you type stays in this browser; the CSV has a row per student.</p>
{no_math}
<div class="prompt md">{render_markdown(w.prompt)}</div>
<details class="grader" open><summary>Model answer and rubric (for graders only)</summary>
<div class="md">{render_markdown(w.solution)}</div></details>
<h2>Answers ({len(done)} students)</h2>
{chr(10).join(blocks) or "<p>No student notebook to show.</p>"}
{_problems_html(problems)}
{"".join(f"<p class=small>Note: {_e(n)}</p>" for n in notes)}
</main>
<script type="application/json" id="written-meta">{meta_json}</script>
<script nonce="{nonce}">{SCRIPT}</script>"""
    return _page(title, body, mathjax or "", nonce), len(answered), len(unanswered)


def index_page(spec: Assignment, counts: list[tuple[Written, int, int]], students: list[Student], layout: str,
               submissions: str, notes: list[str], mathjax: bool) -> str:
    rows = "".join(
        f'<tr><td class=num>{w.number}</td><td><a href="{_e(w.question)}.html">{_e(w.question)}</a></td>'
        f"<td class=num>{w.points:g}</td><td class=num>{a}</td><td class=num>{n}</td></tr>"
        for w, a, n in counts
    )
    problems = [s for s in students if s.problem]
    body = f"""<main>
<h1>{_e(spec.notebook)}: written questions</h1>
<p class="meta">{len(students) - len(problems)} students' notebooks from {_e(submissions)} ({_e(layout)} layout);
{len(spec.written)} questions, {spec.written_points:g} points in all, graded by hand.</p>
{"" if mathjax else '<p class="note">MathJax was not available: the math shows as its TeX source.</p>'}
<table class=list><tr><th class=num>#</th><th>question</th><th class=num>points</th><th class=num>answered</th>
<th class=num>not answered</th></tr>{rows}</table>
<p class="small">Each page has every student's answer to one question, a points box and a comment box per
student, and a "Download scores (CSV)" button (<code>student,question,points,comment</code>). What you type is
kept in this browser, per page; the unanswered ones are filled in at 0 points, as the autograder gives them.</p>
{_problems_html(problems)}
{"".join(f"<p class=small>Note: {_e(n)}</p>" for n in notes)}
</main>"""
    return _page(f"{spec.notebook}: written questions", body)


# ----------------------------------------------------------------------------- the command
def with_written(solutions_dir: Path) -> list[str]:
    """The assignments (``"01"``, ...) that have written questions."""
    out = []
    for path in assignment_paths(solutions_dir):
        try:
            if load_assignment(path).written:
                out.append(syllabus.get(path.stem).number)
        except SpecError:
            continue
    return out


def _spans(numbers: list[str]) -> str:
    """``["01", "02", "03", "05"]`` -> ``"01..03, 05"``; ``["01", "02"]`` -> ``"01, 02"``."""
    groups: list[list[int]] = []
    for n in sorted(int(x) for x in numbers):
        if groups and n == groups[-1][-1] + 1:
            groups[-1].append(n)
        else:
            groups.append([n])
    return ", ".join(f"{g[0]:02d}..{g[-1]:02d}" if len(g) > 2 else ", ".join(f"{n:02d}" for n in g) for g in groups)


def load_spec(assignment: str, solutions_dir: Path) -> Assignment:
    """The assignment, with written questions; :class:`WrittenError` (saying which ones have some) otherwise."""
    solutions_dir = Path(solutions_dir)

    def which() -> str:
        have = with_written(solutions_dir)
        return (f"{_spans(have)} {'has' if len(have) == 1 else 'have'} written questions" if have
                else f"no assignment in {solutions_dir} has written questions")

    try:
        path = find_solution(assignment, solutions_dir)
    except SpecError as e:
        raise WrittenError(f"{e}. Of the assignments, {which()}.") from None
    number = syllabus.get(path.stem).number
    try:
        spec = load_assignment(path)
    except SpecError as e:
        raise WrittenError(f"{which()}; {number} has none: {e}") from None
    if not spec.written:
        raise WrittenError(f"{which()}; {number} has none ({path.name} has no manually graded answer cell). "
                           "Pass one of those.")
    return spec


def export(assignment: str, submissions, out=None, solutions_dir=None, *, mathjax: bool = True,
           log=print) -> list[Path]:
    """Write the pages of ``assignment``'s written questions for the class in ``submissions`` into ``out``
    (default ``build/written/<NN_topic>/``); returns the question pages, then the index. Raises
    :class:`WrittenError` on bad input."""
    from .. import webassets

    spec = load_spec(assignment, Path(solutions_dir or SOLUTIONS_DIR))
    out = Path(out) if out else OUT / spec.notebook
    with tempfile.TemporaryDirectory(prefix="course-written-") as work:  # an unpacked zip: not in the pages' folder
        layout, students, notes = collect(spec, Path(submissions), Path(work))
    out.mkdir(parents=True, exist_ok=True)
    script = None
    if not mathjax:
        log("written: without MathJax (--no-mathjax): the pages show the math as its TeX source")
    else:
        try:
            webassets.install(out, mathjax_only=True)
            script = webassets.mathjax_script("_static")
        except (webassets.WebAssetsError, OSError) as e:
            log(f"written: MathJax is not available ({str(e).splitlines()[0][:300]}): the pages show the math as its "
                "TeX source")
    pages, counts = [], []
    for w in spec.written:
        text, n_answered, n_not = question_page(spec, w, students, mathjax=script, notes=notes)
        page = out / f"{w.question}.html"
        atomic_write_bytes(page, text.encode("utf-8"))
        pages.append(page)
        counts.append((w, n_answered, n_not))
        log(f"written: {page}: Written {w.number} ({w.points:g} points), {n_answered} answered, {n_not} not answered")
    index = out / "index.html"
    atomic_write_bytes(index, index_page(spec, counts, students, layout, str(submissions), notes,
                                         script is not None).encode("utf-8"))
    problems = [s for s in students if s.problem]
    for n in notes:
        log(f"written: note: {n}")
    for s in problems:
        log(f"written: not shown: {s.student} ({s.source}): {s.problem}")
    log(f"written: {_n(len(students) - len(problems), 'student')} ({layout} layout), {len(spec.written)} questions"
        + (f", {_n(len(problems), 'notebook')} not shown (listed on every page)" if problems else "")
        + f"; open {index}")
    return pages + [index]


def main(argv=None) -> int:
    from ..options import add_solutions

    ap = argparse.ArgumentParser(
        prog="course written",
        description="Every student's answer to each written question of assignment NN, side by side, one HTML page "
                    "per question, with a points and a comment box per student and a CSV download.")
    ap.add_argument("assignment", metavar="NN", help="the assignment: NN or NN_topic")
    ap.add_argument("submissions", metavar="SUBMISSIONS",
                    help="a folder of notebooks, nbgrader's course folder, a Gradescope export (zip or folder), or a "
                         "folder of LMS downloads")
    ap.add_argument("--out", help="where the pages go (default: build/written/NN_topic/)")
    add_solutions(ap)
    ap.add_argument("--no-mathjax", action="store_true", help="do not copy MathJax: the math shows as TeX source")
    a = ap.parse_args(argv)
    try:
        export(a.assignment, a.submissions, a.out, a.solutions, mathjax=not a.no_mathjax)
    except WrittenError as e:
        print(f"written: {e}", file=sys.stderr)
        return 2
    return 0


__all__ = ["WrittenError", "export", "collect", "render_markdown", "question_page", "index_page", "main"]
