"""The grading results: each graded item an :class:`Outcome` (a record), one :class:`Results` per grading, and the
writers that turn them into Gradescope's, PrairieLearn's, the gradebook's, the feedback page's or a terminal's shape.

An :class:`Outcome` is one exercise's public check, its hidden tests, one written question or a grading error: its
kind, exercise, number, points, maximum, output, visibility, whether it is optional, and for a written question its
state (awaiting a person, not answered, graded) and the grader's comment. :class:`Results` (a dict in Gradescope's
shape, ``score``, ``execution_time``, ``output``, ``tests[]``) keeps each outcome whole in its test entry's
``extra_data["course"]``, so a ``results.json`` read back gives the same records: nothing is parsed from a test's
name. Its writers: :meth:`Results.gradescope`, :meth:`Results.prairielearn`, :meth:`Results.write` (one of them,
atomically), :meth:`Results.gradebook_row`, :meth:`Results.feedback_html` (a template,
``course_utils/templates/grading/feedback.html.j2``) and :meth:`Results.summary`. The JSON Schemas below are what
the tests validate every written file against.

**The score** is the core: the points of the exercises that are not optional, plus the written questions a person
has graded. Optional exercises (``metadata.course.optional``) get their checks, hidden tests and feedback like any
other, and their points are reported apart (``optional`` in the gradebook), never added to the score.

Gradescope (``results.json``; see ``../shared/reference/grading-formats.md``):

- every text is **plain text** (``output_format``/``test_output_format`` ``text``): the course's own messages
  write code as ``'name'``, not Markdown backticks, and a student's exception text is shown as typed, never
  interpreted (``simple_format`` would pass its HTML through);
- each test has ``status``, ``number`` (``"2.1"``: exercise 2, its public check; ``"2.2"``: its hidden tests;
  ``"W1"``: written question 1) and ``tags`` (the exercise, ``public``, ``hidden`` or ``written``, ``optional``);
- the hidden tests' ``visibility`` is an option (``--hidden-visibility``): ``after_published`` keeps a
  student from seeing "100%" from the public checks alone before the hidden tests count.

Written questions (graded by a person, :class:`.spec.Written`) are tests worth nothing until a person grades them:
``Written 1: jensen_step (awaiting manual grading)``, or ``(not answered)`` (0 points, as nbgrader gives an unchanged
answer cell). On Gradescope and PrairieLearn they stay manual questions of those platforms; in a batch,
``course written-import`` puts the points and comments a TA gave into the results (:meth:`Results.with_written`).

PrairieLearn (``--format prairielearn``, ``/grade/results/results.json``): ``gradable``, ``score`` in [0, 1] (of the
core), ``message``, ``output`` and ``tests[]`` with ``name``, ``points``, ``max_points``, ``message``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..paths import atomic_write_bytes

if TYPE_CHECKING:
    from .spec import Assignment, Unit

FORMATS = ("gradescope", "prairielearn")
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")

_NUMBER = {"type": "number"}
_TEXT = {"type": "string"}
GRADESCOPE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Gradescope autograder results.json",
    "type": "object",
    "required": ["score", "tests"],
    "properties": {
        "score": _NUMBER, "execution_time": _NUMBER, "output": _TEXT,
        "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "test_output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "test_name_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "visibility": {"enum": list(VISIBILITIES)}, "stdout_visibility": {"enum": list(VISIBILITIES)},
        "extra_data": {"type": "object"},
        "leaderboard": {"type": "array"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "score", "max_score"],
            "properties": {
                "score": _NUMBER, "max_score": _NUMBER, "status": {"enum": ["passed", "failed"]},
                "name": _TEXT, "name_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
                "number": _TEXT, "output": _TEXT,
                "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
                "tags": {"type": "array", "items": _TEXT}, "visibility": {"enum": list(VISIBILITIES)},
                "extra_data": {"type": "object"},
            },
            "additionalProperties": False,
        }},
    },
    "additionalProperties": False,
}
PRAIRIELEARN_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "PrairieLearn external grader results.json",
    "type": "object",
    "required": ["gradable"],
    "properties": {
        "gradable": {"type": "boolean"}, "score": {"type": "number", "minimum": 0, "maximum": 1},
        "format_errors": {"type": "array", "items": _TEXT}, "message": _TEXT, "output": _TEXT,
        "images": {"type": "array"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "points", "max_points"],
            "properties": {"name": _TEXT, "description": _TEXT, "points": _NUMBER, "max_points": _NUMBER,
                           "message": _TEXT, "output": _TEXT, "images": {"type": "array"}},
            "additionalProperties": False,
        }},
    },
    "additionalProperties": False,
}
SCHEMAS = {"gradescope": GRADESCOPE_SCHEMA, "prairielearn": PRAIRIELEARN_SCHEMA}


def plain(text: str) -> str:
    """The course's Markdown-ish messages as plain text: ```` `code` ```` becomes ``'code'``."""
    return re.sub(r"`([^`\n]+)`", r"'\1'", str(text))


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` safe to print in a terminal: control characters other than newline and tab (a submission's escape
    sequences, which could clear the screen, retitle it or set the clipboard) shown as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


PUBLIC, HIDDEN, WRITTEN, ERROR = "public check", "hidden tests", "written", "error"
AWAITING, NOT_ANSWERED, GRADED = "awaiting manual grading", "not answered", "graded"


class ResultsError(ValueError):
    """A results file this grader cannot read (not written by it, or by an older version); the message says what to
    do."""


@dataclass(frozen=True)
class Outcome:
    """One graded item: an exercise's public check or hidden tests, a written question, or a grading error."""

    kind: str  # PUBLIC, HIDDEN, WRITTEN or ERROR
    exercise: str  # the graded function's name, the written question's grade_id, or the error's title
    number: int  # the exercise's or the written question's number in its notebook (0 for an error)
    points: float  # what it earned (a written question: what a person gave; 0 until then)
    max_points: float  # what it is worth
    output: str = ""
    visibility: str = "visible"
    optional: bool = False
    state: str = ""  # a written question's: AWAITING, NOT_ANSWERED or GRADED
    comment: str = ""  # a graded written question's comment from the person who graded it

    @property
    def name(self) -> str:
        """The title a person reads: ``Exercise 2: elbo (public check)``, ``Written 1: jensen_step (graded)``."""
        if self.kind == ERROR:
            return self.exercise
        if self.kind == WRITTEN:
            return f"Written {self.number}: {self.exercise} ({self.state})"
        return f"Exercise {self.number}: {self.exercise} ({self.kind})"

    @property
    def scored(self) -> bool:
        """Whether its points are known: every autograded item; a written question once a person graded it, or when
        it was not answered (0)."""
        return self.kind != WRITTEN or self.state in (GRADED, NOT_ANSWERED)

    @property
    def counted(self) -> bool:
        """Whether its points are in the score: not optional, and autograded or graded by a person (a written
        question is in the score only once a person graded it: on Gradescope and PrairieLearn, never)."""
        return not self.optional and (self.kind != WRITTEN or self.state == GRADED)

    @property
    def passed(self) -> bool | None:
        """Full marks (None: a written question nobody graded yet)."""
        if self.kind == ERROR:
            return False
        if not self.scored:
            return None
        return self.points >= self.max_points - 1e-9

    def entry(self, hidden_visibility: str | None = None) -> dict:
        """Its test entry in Gradescope's shape, the record whole in ``extra_data["course"]``. A written question
        nobody graded yet is worth 0 there (Gradescope adds no points for it)."""
        record = dataclasses.asdict(self)
        del record["output"], record["visibility"]
        shown = self.kind != WRITTEN or self.state == GRADED
        entry = {"name": self.name, "score": _r(self.points if shown else 0.0),
                 "max_score": _r(self.max_points if shown else 0.0), "output": self.output,
                 "visibility": hidden_visibility if (hidden_visibility and self.kind == HIDDEN) else self.visibility,
                 "extra_data": {"course": record}}
        return entry

    @classmethod
    def of(cls, entry: dict) -> "Outcome":
        """The outcome a test entry holds (an entry of :meth:`entry`)."""
        record = (entry.get("extra_data") or {}).get("course")
        if not isinstance(record, dict):
            raise ResultsError(f"the test {entry.get('name')!r} carries no grading record: these results were not "
                               "written by this version of the course's grader. Grade the submissions again "
                               "(course grade-batch ... --regrade).")
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in fields}, output=entry.get("output", ""),
                   visibility=entry.get("visibility", "visible"))

    def graded_by_hand(self, points: float, comment: str = "") -> "Outcome":
        """This written question with the points and comment a person gave."""
        out = f"{points:g} of {self.max_points:g} points, graded by hand." + (f"\n{comment}" if comment else "")
        return dataclasses.replace(self, points=float(points), state=GRADED, comment=comment, output=out)


def written_outcomes(spec: Assignment, nb) -> list[Outcome]:
    """The outcomes of the written questions of ``spec`` in the notebook ``nb`` (None: not readable)."""
    entries = []
    for w in spec.written:
        text = w.answer(nb) if nb is not None else None
        if nb is None:
            status, why = NOT_ANSWERED, "your notebook could not be read."
        elif text is None:
            status, why = NOT_ANSWERED, (
                f"your notebook has no answer cell for this question (the cell under 'Written {w.number}', whose "
                f"metadata names it '{w.question}'). Write your answer in that cell of a fresh copy of the notebook, "
                "or copy your text into it, and submit again.")
        elif not w.answered(text):
            status, why = NOT_ANSWERED, "the answer cell still says 'YOUR ANSWER HERE' (or is empty)."
        else:
            status, why = AWAITING, ""
        if status == AWAITING:
            out = (f"Worth {w.points:g} points, graded by hand: the course staff reads your answer; these points are "
                   "not in the score above yet.")
        else:
            out = f"Worth {w.points:g} points, graded by hand: 0 points, because {why}"
        entries.append(Outcome(WRITTEN, w.question, w.number, 0.0, w.points, out, optional=w.optional,
                               state=status))
    return entries


def _written_line(spec: Assignment, outcomes: list[Outcome]) -> str | None:
    if not spec.written:
        return None
    waiting = [o for o in outcomes if o.state == AWAITING]
    pending = sum(o.max_points for o in waiting)
    line = (f"Written questions: {len(spec.written)}, worth {spec.written_points:g} points, graded by hand (not in "
            f"the score above): ")
    if waiting:
        line += f"{len(waiting)} answered, awaiting manual grading ({pending:g} points)"
    missing = len(outcomes) - len(waiting)
    if missing:
        line += ("; " if waiting else "") + f"{missing} not answered (0 points)"
    return line + "."


def _r(x: float) -> float:
    return round(x + 0.0, 4)


def _statement_line(k: int, res: dict, hidden: bool) -> str:
    if res.get("ok"):
        return ""
    err = res.get("error") or "failed"
    if err == "NotImplementedError":
        err = "not implemented yet (replace `raise NotImplementedError()` with your code)"
    elif err == "AssertionError":
        err = "wrong result (an assertion did not hold)" if hidden else "AssertionError"
    elif not hidden and res.get("detail"):
        err = f"{err}: {res['detail']}"
    return err


def _not_implemented(public: list[dict], hidden: list[dict]) -> bool:
    return any("[TODO]" in (r.get("output") or "") for r in public) or any(
        r.get("error") == "NotImplementedError" for r in public + hidden
    )


def unit_outcomes(unit: Unit, public: list[dict], hidden: list[dict]) -> list[Outcome]:
    """The outcomes of one unit: its public check, then its hidden tests."""
    w = unit.points / unit.n_checks
    if _not_implemented(public, hidden):  # an assert that holds for any stub (isinstance, ...) earns nothing
        public = [{**r, "ok": False} for r in public]
        hidden = [{**r, "ok": False} for r in hidden]
    entries = []
    pub = [(s, r) for s, r in zip(unit.public, public) if s.counts]
    if pub:
        passed = sum(bool(r.get("ok")) for _, r in pub)
        lines = []
        for s, r in zip(unit.public, public):
            out = (r.get("output") or "").rstrip()
            if out:
                lines.append(out)
            if r.get("dropped"):
                lines.append(f"... ({r['dropped']:,} more characters of output not shown)")
            why = _statement_line(0, r, False)
            if why and not (s.kind == "check" and why == "the check did not pass" and out):
                lines.append(f"`{s.source.splitlines()[0][:100]}`: {why}")
        entries.append(Outcome(PUBLIC, unit.exercise, unit.number, _r(w * passed), _r(w * len(pub)),
                               "\n".join(lines) or ("passed" if passed == len(pub) else "failed"),
                               optional=unit.optional))
    hid = [(s, r) for s, r in zip(unit.hidden, hidden) if s.counts]
    if hid:
        passed = sum(bool(r.get("ok")) for _, r in hid)
        lines = [f"{passed} of {len(hid)} hidden tests passed."]
        if _not_implemented(public, hidden):
            lines[0] += " The exercise is not implemented yet: replace `raise NotImplementedError()` with your code."
        else:
            for k, (s, r) in enumerate(hid, 1):
                if not r.get("ok"):
                    lines.append(f"hidden test {k}: {_statement_line(k, r, True)}")
        setup_fail = [r for s, r in zip(unit.hidden, hidden) if not s.counts and not r.get("ok")]
        if setup_fail and passed < len(hid):
            lines.append(f"(preparing the hidden inputs failed too: {_statement_line(0, setup_fail[0], True)})")
        entries.append(Outcome(HIDDEN, unit.exercise, unit.number, _r(w * passed), _r(w * len(hid)),
                               "\n".join(lines), optional=unit.optional))
    return entries


def _execution_text(report: dict | None) -> str:
    if report is None:
        return "Your notebook was not run top to bottom (grading only loads your definitions)."
    cells = report.get("cells", [])
    errors = [c for c in cells if c.get("status") == "error"]
    parts = []
    if report.get("stopped"):
        parts.append(f"Running your notebook top to bottom: {report['stopped']}.")
    elif not errors:
        parts.append(f"Your notebook ran top to bottom without errors ({report.get('seconds', 0):.0f} s).")
    else:
        parts.append(f"Your notebook ran top to bottom ({report.get('seconds', 0):.0f} s), with errors:")
    for c in errors[:5]:
        parts.append(f"  code cell {c['cell']}: {c.get('ename')}: {c.get('evalue', '')[:200]}")
    if len(errors) > 5:
        parts.append(f"  ... and {len(errors) - 5} more cells with errors")
    if report.get("output_bytes", 0) > 5_000_000:
        parts.append(f"  (it printed {report['output_bytes'] / 1e6:.0f} MB of output; please print less)")
    return "\n".join(parts)


class Results(dict):
    """One grading's results: a dict in Gradescope's shape (``score``, ``execution_time``, ``output``,
    ``stdout_visibility``, ``tests``) whose every test entry holds its :class:`Outcome`; with every writer."""

    # ------------------------------------------------------------------------- made by the grader
    @classmethod
    def of(cls, outcomes: list[Outcome], output: str, elapsed: float) -> "Results":
        return cls(score=_r(sum(o.points for o in outcomes if o.counted)), execution_time=math.ceil(elapsed),
                   output=output, stdout_visibility="hidden", tests=[o.entry() for o in outcomes])

    @classmethod
    def graded(cls, spec: Assignment, public: dict, hidden: dict, report: dict | None, defined: set[str],
               notes: list[str], elapsed: float, nb=None) -> "Results":
        """The results of a grading that ran: ``public`` and ``hidden`` are each unit's statement results (by
        test id), ``report`` the top-to-bottom run's (None: not run), ``defined`` the names the submission
        defines, ``notes`` what could not be loaded, ``nb`` the submitted notebook (its written answers)."""
        outcomes = [o for u in spec.units for o in unit_outcomes(u, public[u.test_id], hidden[u.test_id])]
        score = _r(sum(o.points for o in outcomes if o.counted))
        written = written_outcomes(spec, nb)
        missing = [u.exercise for u in spec.units if u.exercise not in defined]
        lines = [
            f"{spec.notebook}: {score:g} / {spec.core_points:g} points.",
            f"Each exercise is graded by its name, with the public check you saw in the notebook and hidden tests you "
            f"did not see: {spec.n_hidden} hidden tests in all (only their results are shown, never their inputs or "
            f"expected values).",
            "Graded functions are loaded on their own: they may use torch, math, nn, F, np, what they import, and "
            "other functions and constants defined at the top level of a cell, but not variables computed by other "
            "cells.",
            _execution_text(report),
        ]
        optional = [o for o in outcomes if o.optional]
        if optional:
            lines.insert(1, f"Optional exercises (not in the score): {_r(sum(o.points for o in optional)):g} / "
                            f"{_r(sum(o.max_points for o in optional)):g} points.")
        if spec.written:
            lines.insert(1, _written_line(spec, written))
        if missing:
            lines.append("Not found in your notebook: " + ", ".join(f"`{m}`" for m in missing) + ".")
        if notes:
            lines.append("While loading your definitions:\n" + "\n".join(f"  {n}" for n in notes[:10]))
        return cls.of(outcomes + written, "\n".join(lines), elapsed)

    @classmethod
    def not_graded(cls, spec: Assignment, why: str, elapsed: float) -> "Results":
        """Every test of ``spec`` failed, for one reason (the notebook could not be read)."""
        outcomes = []
        for u in spec.units:
            outcomes += unit_outcomes(
                u, [{"ok": False, "error": why}] * len(u.public), [{"ok": False, "error": why}] * len(u.hidden)
            )
        outcomes = [dataclasses.replace(o, output=f"Not graded: {why}") if o.kind == PUBLIC else o for o in outcomes]
        return cls.of(outcomes + written_outcomes(spec, None),
                      f"{spec.notebook}: 0 / {spec.core_points:g} points. Not graded: {why} "
                      f"({spec.n_hidden} hidden tests were not run.)", elapsed)

    @classmethod
    def error(cls, message: str, elapsed: float, max_score: float = 0.0, name: str = "Autograder error"
              ) -> "Results":
        """Valid results that say grading failed, and why (``name``: ``Autograder error`` or ``Submission
        error``)."""
        return cls.of([Outcome(ERROR, name, 0, 0.0, _r(max_score), message)], f"{name}: {message}", elapsed)

    @classmethod
    def read(cls, path: Path) -> "Results":
        """Results as :meth:`write` wrote them in Gradescope's format (a batch's ``<student>/results.json``)."""
        results = cls(json.loads(Path(path).read_text()))
        results.outcomes()  # a file of another grader fails here, with what to do
        return results

    # ------------------------------------------------------------------------- the records
    def outcomes(self) -> list[Outcome]:
        """Every graded item, in order."""
        return [Outcome.of(t) for t in self.get("tests", [])]

    def errors(self) -> list[str]:
        """The titles of the outcomes that say grading itself failed (none when it ran)."""
        return [o.exercise for o in self.outcomes() if o.kind == ERROR]

    def with_written(self, grades: dict[str, tuple[float, str]]) -> "Results":
        """These results with the written questions in ``grades`` (``{question: (points, comment)}``) graded by a
        person; the score counts them (the core ones). A question that was not answered stays 0 unless graded."""
        outcomes = [o.graded_by_hand(*grades[o.exercise]) if o.kind == WRITTEN and o.exercise in grades else o
                    for o in self.outcomes()]
        out = Results(self)
        out["tests"] = [o.entry() for o in outcomes]
        out["score"] = _r(sum(o.points for o in outcomes if o.counted))
        return out

    def parts(self) -> dict[str, tuple[float, float]]:
        """(points, maximum) of each part: ``autograded`` (the core exercises), ``optional`` (optional exercises and
        written questions), ``written`` (the core written questions graded so far, and all of them),
        ``awaiting`` (points of answered written questions nobody graded yet, and 0)."""
        parts = {k: [0.0, 0.0] for k in ("autograded", "optional", "written", "awaiting")}
        for o in self.outcomes():
            if o.kind == ERROR:
                continue
            key = "optional" if o.optional else ("written" if o.kind == WRITTEN else "autograded")
            parts[key][0] += o.points
            parts[key][1] += o.max_points
            if o.kind == WRITTEN and o.state == AWAITING and not o.optional:
                parts["awaiting"][0] += o.max_points
        return {k: (_r(p), _r(m)) for k, (p, m) in parts.items()}

    # ------------------------------------------------------------------------- the writers
    def gradescope(self, hidden_visibility: str | None = None) -> dict:
        """Gradescope's results.json: plain text, each test's status, number and tags; the hidden tests'
        visibility is ``hidden_visibility`` (None: as these results hold it)."""
        if hidden_visibility is not None and hidden_visibility not in VISIBILITIES:
            raise ValueError(f"hidden visibility must be one of {', '.join(VISIBILITIES)}, not {hidden_visibility!r}")
        tests = []
        for o in self.outcomes():
            entry = o.entry(hidden_visibility)
            entry["output"], entry["output_format"] = plain(entry["output"]), "text"
            if o.passed is not None:  # a written question nobody graded has no verdict yet
                entry["status"] = "passed" if o.passed else "failed"
            if o.kind in (PUBLIC, HIDDEN):
                entry["number"] = f"{o.number}.{1 if o.kind == PUBLIC else 2}"
                entry["tags"] = [o.exercise, "public" if o.kind == PUBLIC else "hidden"]
            elif o.kind == WRITTEN:
                entry["number"], entry["tags"] = f"W{o.number}", [o.exercise, "written"]
            if o.optional:
                entry["tags"].append("optional")
            tests.append(entry)
        return {"score": self.get("score", 0.0), "execution_time": self.get("execution_time", 0),
                "output": plain(self.get("output", "")), "output_format": "text", "test_output_format": "text",
                "stdout_visibility": self.get("stdout_visibility", "hidden"), "tests": tests}

    def prairielearn(self) -> dict:
        """PrairieLearn's results.json: score in [0, 1] of the counted points; not gradable when grading itself
        failed."""
        outcomes = self.outcomes()
        errors = [o for o in outcomes if o.kind == ERROR]
        total = sum(o.max_points for o in outcomes if o.counted)
        out = {
            "gradable": not errors,
            "score": round(min(1.0, max(0.0, self.get("score", 0.0) / total)) if total else 0.0, 6),
            "message": plain(str(self.get("output", "")).split("\n", 1)[0]),
            "output": plain(self.get("output", "")),
            "tests": [{"name": o.name, "points": o.points if o.scored else 0.0,
                       "max_points": o.max_points if o.scored else 0.0, "message": plain(o.output)}
                      for o in outcomes],
        }
        if errors:
            out["format_errors"] = [plain(o.output) for o in errors]
            out["score"] = 0.0
        return out

    def render(self, fmt: str = "gradescope", hidden_visibility: str | None = None) -> dict:
        if fmt == "gradescope":
            return self.gradescope(hidden_visibility)
        if fmt == "prairielearn":
            return self.prairielearn()
        raise ValueError(f"unknown results format {fmt!r}: use one of {', '.join(FORMATS)}")

    def write(self, out: Path, fmt: str = "gradescope", hidden_visibility: str | None = None) -> dict:
        """Write these results to ``out`` in ``fmt`` (atomically: a reader sees the old file or the whole new one)."""
        doc = self.render(fmt, hidden_visibility)
        out = Path(out)
        if out.is_dir() and not out.is_symlink():  # a submission that made results.json a folder or a link
            shutil.rmtree(out)
        elif out.is_symlink():
            out.unlink()
        atomic_write_bytes(out, (json.dumps(doc, indent=2) + "\n").encode())
        return doc

    @staticmethod
    def gradebook_header(exercises: list[str], written: list[str] = ()) -> list[str]:
        """The columns of ``gradebook.csv``, for these exercises and written questions (of every assignment in
        it). ``total`` and ``max``: the core exercises' points; ``optional`` and ``optional_max``: the optional
        exercises' and written questions' (never in a total); ``written`` and ``written_max``: the core written
        questions' points given so far, and their maximum; ``written_awaiting``: the points of answered written
        questions nobody has graded yet; ``grand_total`` and ``grand_max``: total + written, max + written_max."""
        return ["student", "assignment", *exercises, *written, "total", "max", "optional", "optional_max", "written",
                "written_max", "written_awaiting", "grand_total", "grand_max", "late", "errors"]

    def gradebook_row(self, exercises: list[str], student: str, assignment: str, late: bool | None = None,
                      errors: list[str] = (), written: list[str] = ()) -> list[str]:
        """A student's row of ``gradebook.csv`` (:meth:`gradebook_header`): each exercise's points (empty where the
        assignment has no such exercise), each written question's (its points once graded; ``awaiting``:
        answered, for a person to grade; ``0``: not answered), the parts' sums, late (``yes``, ``no`` or empty: not
        known) and grading errors."""
        points: dict[str, float] = {}
        state: dict[str, str] = {}
        for o in self.outcomes():
            if o.kind in (PUBLIC, HIDDEN):
                points[o.exercise] = points.get(o.exercise, 0.0) + o.points
            elif o.kind == WRITTEN:
                state[o.exercise] = "awaiting" if o.state == AWAITING else f"{o.points:g}"
        p = self.parts()
        late_text = "" if late is None else ("yes" if late else "no")
        has_written = bool(state)
        return [student, assignment, *[f"{_r(points[e]):g}" if e in points else "" for e in exercises],
                *[state.get(q, "") for q in written], f"{p['autograded'][0]:g}", f"{p['autograded'][1]:g}",
                f"{p['optional'][0]:g}", f"{p['optional'][1]:g}",
                f"{p['written'][0]:g}" if has_written else "", f"{p['written'][1]:g}" if has_written else "",
                f"{p['awaiting'][0]:g}" if has_written else "",
                f"{_r(p['autograded'][0] + p['written'][0]):g}", f"{_r(p['autograded'][1] + p['written'][1]):g}",
                late_text, "; ".join(errors)]

    def feedback_html(self, student: str, notebook: str) -> str:
        """What the student may see: the public checks, the written questions (with the points and comment once
        graded) and how the notebook ran; no hidden test's result."""
        def verdict(o: Outcome) -> str:
            if o.kind == WRITTEN:
                return {GRADED: "graded", AWAITING: "awaiting"}.get(o.state, "failed")
            return "passed" if o.passed else "failed"

        rows = [{"name": o.name + (" (optional)" if o.optional else ""), "verdict": verdict(o), "output": o.output}
                for o in self.outcomes() if o.kind != HIDDEN and o.visibility != "hidden"]
        notes = "\n".join(str(self.get("output", "")).splitlines()[1:])  # the first line is the score
        return _template("feedback.html.j2").render(student=student, notebook=notebook, rows=rows, notes=notes)

    def summary(self) -> str:
        """The results, readable in a terminal."""
        lines = []
        for o in self.outcomes():
            if not o.scored:  # not scored yet: what it is worth, and that a person has something to grade
                lines.append(f"  ?? {'-':>6} / {o.max_points:<5.2f} {o.name}")
            else:
                mark = "ok " if o.passed else "-- "
                lines.append(f"  {mark}{o.points:6.2f} / {o.max_points:<5.2f} {o.name}"
                             + (" [optional]" if o.optional else ""))
            for line in o.output.splitlines()[:6]:
                lines.append(f"                     {line[:150]}")
        head = str(self.get("output", "")).splitlines()
        total = f"score {self.get('score', 0):g} (in {self.get('execution_time', 0)} s)"
        return printable("\n".join(head[:1] + lines + head[1:] + [total]))


def _template(name: str):
    """A grading page's jinja2 template (jinja2 comes with nbconvert), with HTML autoescaping on."""
    import jinja2

    from ..webassets import TEMPLATES

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES / "grading")),
                             autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template(name)


def validate(doc: dict, fmt: str = "gradescope") -> None:
    """Raise ``jsonschema.ValidationError`` unless ``doc`` is a valid results file of ``fmt``."""
    import jsonschema  # nbformat's dependency

    jsonschema.validate(doc, SCHEMAS[fmt])


__all__ = ["FORMATS", "VISIBILITIES", "GRADESCOPE_SCHEMA", "PRAIRIELEARN_SCHEMA", "SCHEMAS", "Outcome", "Results",
           "ResultsError", "PUBLIC", "HIDDEN", "WRITTEN", "ERROR", "AWAITING", "NOT_ANSWERED", "GRADED", "plain",
           "unit_outcomes", "written_outcomes", "validate", "printable"]
