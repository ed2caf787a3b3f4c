"""The grading results: one :class:`Results` object, written as Gradescope, PrairieLearn, the gradebook or a terminal
want them.

The grader builds one :class:`Results` (:func:`course_utils.grade.grade`), a dict in Gradescope's shape: ``score``,
``execution_time``, ``output`` and ``tests[]`` with ``name``, ``score``, ``max_score``, ``output``, ``visibility``.
Its writers: :meth:`Results.gradescope` and :meth:`Results.prairielearn` (each platform's file; :func:`gradescope`
and :func:`prairielearn` for a plain dict), :meth:`Results.write` (one of them, atomically),
:meth:`Results.gradebook_row` (a student's row of ``gradebook.csv``) and :meth:`Results.summary` (the terminal).
The JSON Schemas below are what the tests validate every written file against.

Gradescope (``results.json``; see ``../shared/reference/grading-formats.md``):

- every text is **plain text** (``output_format``/``test_output_format`` ``text``): the course's own messages
  write code as ``'name'``, not Markdown backticks, and a student's exception text is shown as typed, never
  interpreted (``simple_format`` would pass its HTML through);
- each test has ``status``, ``number`` (``"2.1"``: exercise 2, its public check; ``"2.2"``: its hidden tests)
  and ``tags`` (the exercise, ``public`` or ``hidden``);
- the hidden tests' ``visibility`` is an option (``--hidden-visibility``): ``after_published`` keeps a
  student from seeing "100%" from the public checks alone before the hidden tests count.

Written questions (graded by a person, :class:`.spec.Written`) are tests too, worth nothing here: ``Written 1:
jensen_step (awaiting manual grading)`` with the points a person will give, or ``(not answered)`` (0 points, as
nbgrader gives an unchanged answer cell). Their points are never in ``score``: Gradescope and PrairieLearn grade
them as manual questions of their own, the gradebook has a column for each.

PrairieLearn (``--format prairielearn``, ``/grade/results/results.json``): ``gradable``, ``score`` in [0, 1],
``message``, ``output`` and ``tests[]`` with ``name``, ``points``, ``max_points``, ``message``.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from ..paths import atomic_write_bytes

if TYPE_CHECKING:
    from .spec import Assignment, Unit

FORMATS = ("gradescope", "prairielearn")
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")
ERROR_TESTS = ("Autograder error", "Submission error")

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


def parse_test_name(name: str) -> tuple[str, str, str] | None:
    """``"Exercise 2: elbo (public check)"`` -> ``("2", "elbo", "public check")``; None for other tests."""
    m = re.match(r"Exercise (\d+): (\w+) \((public check|hidden tests)\)", name)
    return (m.group(1), m.group(2), m.group(3)) if m else None


AWAITING, NOT_ANSWERED = "awaiting manual grading", "not answered"


def parse_written_name(name: str) -> tuple[str, str, str] | None:
    """``"Written 1: jensen_step (awaiting manual grading)"`` -> ``("1", "jensen_step", "awaiting manual grading")``;
    None for other tests."""
    m = re.match(rf"Written (\d+): (\w+) \(({AWAITING}|{NOT_ANSWERED})\)", name)
    return (m.group(1), m.group(2), m.group(3)) if m else None


def written_points(test: dict) -> float:
    """The points a written question's test entry is worth (its ``extra_data``, which results.json keeps)."""
    return float(test.get("extra_data", {}).get("written_points", 0.0))


def written_entries(spec: Assignment, nb) -> list[dict]:
    """The test entries of the written questions of ``spec`` in the notebook ``nb`` (None: not readable)."""
    entries = []
    for w in spec.written:
        text = w.answer(nb) if nb is not None else None
        title = f"Written {w.number}: {w.question}"
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
        entries.append({"name": f"{title} ({status})", "score": 0.0, "max_score": 0.0, "output": out,
                        "visibility": "visible", "extra_data": {"written_points": w.points}})
    return entries


def _written_line(spec: Assignment, entries: list[dict]) -> str | None:
    if not spec.written:
        return None
    waiting = [e for e in entries if AWAITING in e["name"]]
    pending = sum(written_points(e) for e in waiting)
    line = (f"Written questions: {len(spec.written)}, worth {spec.written_points:g} points, graded by hand (not in "
            f"the score above): ")
    if waiting:
        line += f"{len(waiting)} answered, awaiting manual grading ({pending:g} points)"
    missing = len(entries) - len(waiting)
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


def unit_entries(unit: Unit, public: list[dict], hidden: list[dict]) -> list[dict]:
    """The Gradescope test entries of one unit: its public check, then its hidden tests."""
    w = unit.points / unit.n_checks
    if _not_implemented(public, hidden):  # an assert that holds for any stub (isinstance, ...) earns nothing
        public = [{**r, "ok": False} for r in public]
        hidden = [{**r, "ok": False} for r in hidden]
    entries = []
    title = f"Exercise {unit.number}: {unit.exercise}"
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
        entries.append(
            {
                "name": f"{title} (public check)",
                "score": _r(w * passed),
                "max_score": _r(w * len(pub)),
                "output": "\n".join(lines) or ("passed" if passed == len(pub) else "failed"),
                "visibility": "visible",
            }
        )
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
        entries.append(
            {
                "name": f"{title} (hidden tests)",
                "score": _r(w * passed),
                "max_score": _r(w * len(hid)),
                "output": "\n".join(lines),
                "visibility": "visible",
            }
        )
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
    """One grading's results, in Gradescope's shape (a dict: ``score``, ``execution_time``, ``output``,
    ``stdout_visibility``, ``tests``), with every writer of them."""

    # ------------------------------------------------------------------------- made by the grader
    @classmethod
    def graded(cls, spec: Assignment, public: dict, hidden: dict, report: dict | None, defined: set[str],
               notes: list[str], elapsed: float, nb=None) -> "Results":
        """The results of a grading that ran: ``public`` and ``hidden`` are each unit's statement results (by
        test id), ``report`` the top-to-bottom run's (None: not run), ``defined`` the names the submission
        defines, ``notes`` what could not be loaded, ``nb`` the submitted notebook (its written answers)."""
        tests = [e for u in spec.units for e in unit_entries(u, public[u.test_id], hidden[u.test_id])]
        score = _r(sum(t["score"] for t in tests))
        written = written_entries(spec, nb)
        tests += written
        missing = [u.exercise for u in spec.units if u.exercise not in defined]
        lines = [
            f"{spec.notebook}: {score:g} / {spec.total_points:g} points.",
            f"Each exercise is graded by its name, with the public check you saw in the notebook and hidden tests you "
            f"did not see: {spec.n_hidden} hidden tests in all (only their results are shown, never their inputs or "
            f"expected values).",
            "Graded functions are loaded on their own: they may use torch, math, nn, F, np, what they import, and "
            "other functions and constants defined at the top level of a cell, but not variables computed by other "
            "cells.",
            _execution_text(report),
        ]
        if spec.written:
            lines.insert(1, _written_line(spec, written))
        if missing:
            lines.append("Not found in your notebook: " + ", ".join(f"`{m}`" for m in missing) + ".")
        if notes:
            lines.append("While loading your definitions:\n" + "\n".join(f"  {n}" for n in notes[:10]))
        return cls(score=score, execution_time=math.ceil(elapsed), output="\n".join(lines),
                   stdout_visibility="hidden", tests=tests)

    @classmethod
    def not_graded(cls, spec: Assignment, why: str, elapsed: float) -> "Results":
        """Every test of ``spec`` failed, for one reason (the notebook could not be read)."""
        tests = []
        for u in spec.units:
            tests += unit_entries(
                u, [{"ok": False, "error": why}] * len(u.public), [{"ok": False, "error": why}] * len(u.hidden)
            )
        for t in tests:
            if "(public check)" in t["name"]:
                t["output"] = f"Not graded: {why}"
        tests += written_entries(spec, None)
        return cls(score=0.0, execution_time=math.ceil(elapsed), stdout_visibility="hidden",
                   output=f"{spec.notebook}: 0 / {spec.total_points:g} points. Not graded: {why} "
                   f"({spec.n_hidden} hidden tests were not run.)",
                   tests=tests)

    @classmethod
    def error(cls, message: str, elapsed: float, max_score: float = 0.0, name: str = "Autograder error"
              ) -> "Results":
        """Valid results that say grading failed, and why."""
        return cls(score=0.0, execution_time=math.ceil(elapsed), output=f"{name}: {message}",
                   stdout_visibility="hidden",
                   tests=[{"name": name, "score": 0.0, "max_score": _r(max_score), "output": message,
                           "visibility": "visible"}])

    def errors(self) -> list[str]:
        """The names of the tests that say grading itself failed (none when it ran)."""
        return [t["name"] for t in self.get("tests", []) if t["name"] in ERROR_TESTS]

    # ------------------------------------------------------------------------- the writers
    def gradescope(self, hidden_visibility: str = "visible") -> dict:
        """Gradescope's results.json: plain text, each test's status, number and tags, hidden tests' visibility."""
        if hidden_visibility not in VISIBILITIES:
            raise ValueError(f"hidden visibility must be one of {', '.join(VISIBILITIES)}, not {hidden_visibility!r}")
        tests = []
        for t in self.get("tests", []):
            entry = {"name": t["name"], "score": t["score"], "max_score": t["max_score"],
                     "status": "passed" if t["score"] >= t["max_score"] - 1e-9 and t["name"] not in ERROR_TESTS
                     else "failed",
                     "output": plain(t.get("output", "")), "output_format": "text",
                     "visibility": t.get("visibility", "visible")}
            ex = parse_test_name(t["name"])
            if "extra_data" in t:
                entry["extra_data"] = t["extra_data"]
            wr = parse_written_name(t["name"])
            if wr:  # worth nothing here; passed / failed would be a verdict nobody gave yet
                entry["number"] = f"W{wr[0]}"
                entry["tags"] = [wr[1], "written"]
                if wr[2] == AWAITING:
                    del entry["status"]
                else:
                    entry["status"] = "failed"
            if ex:
                number, exercise, kind = ex
                entry["number"] = f"{number}.{1 if kind == 'public check' else 2}"
                entry["tags"] = [exercise, "public" if kind == "public check" else "hidden"]
                if kind == "hidden tests":
                    entry["visibility"] = hidden_visibility
            tests.append(entry)
        out = {"score": self.get("score", 0.0), "execution_time": self.get("execution_time", 0),
               "output": plain(self.get("output", "")), "output_format": "text", "test_output_format": "text",
               "stdout_visibility": self.get("stdout_visibility", "hidden"), "tests": tests}
        return out

    def prairielearn(self) -> dict:
        """PrairieLearn's results.json: score in [0, 1]; not gradable when grading itself failed."""
        tests = self.get("tests", [])
        errors = [t for t in tests if t["name"] in ERROR_TESTS]
        total = sum(t["max_score"] for t in tests)
        out = {
            "gradable": not errors,
            "score": round(min(1.0, max(0.0, self.get("score", 0.0) / total)) if total else 0.0, 6),
            "message": plain(str(self.get("output", "")).split("\n", 1)[0]),
            "output": plain(self.get("output", "")),
            "tests": [{"name": t["name"], "points": t["score"], "max_points": t["max_score"],
                       "message": plain(t.get("output", ""))} for t in tests],
        }
        if errors:
            out["format_errors"] = [plain(t.get("output", "")) for t in errors]
            out["score"] = 0.0
        return out

    def render(self, fmt: str = "gradescope", hidden_visibility: str = "visible") -> dict:
        if fmt == "gradescope":
            return self.gradescope(hidden_visibility)
        if fmt == "prairielearn":
            return self.prairielearn()
        raise ValueError(f"unknown results format {fmt!r}: use one of {', '.join(FORMATS)}")

    def write(self, out: Path, fmt: str = "gradescope", hidden_visibility: str = "visible") -> dict:
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
        it): ``total`` and ``max`` are the autograded points; ``written_awaiting`` the points of answered written
        questions that await a person, ``written_max`` all the written questions' points."""
        return ["student", "assignment", *exercises, *written, "total", "max", "written_awaiting", "written_max",
                "late", "errors"]

    def gradebook_row(self, exercises: list[str], student: str, assignment: str, late: bool | None = None,
                      errors: list[str] = (), written: list[str] = ()) -> list[str]:
        """A student's row of ``gradebook.csv``: each exercise's points (empty where the assignment has no such
        exercise), each written question's (``awaiting``: answered, for a person to grade; ``0``: not answered),
        the autograded total and maximum, the written points awaiting and in all, late (``yes``, ``no`` or empty:
        not known) and grading errors."""
        points: Counter = Counter()
        top: Counter = Counter()
        state: dict[str, str] = {}
        awaiting = worth = 0.0
        for t in self.get("tests", []):
            parsed = parse_test_name(t["name"])
            if parsed:
                points[parsed[1]] += t["score"]
                top[parsed[1]] += t["max_score"]
            wr = parse_written_name(t["name"])
            if wr:
                state[wr[1]] = "awaiting" if wr[2] == AWAITING else "0"
                worth += written_points(t)
                awaiting += written_points(t) if wr[2] == AWAITING else 0.0
        late_text = "" if late is None else ("yes" if late else "no")
        return [student, assignment, *[f"{points[e]:g}" if e in top else "" for e in exercises],
                *[state.get(q, "") for q in written], f"{self.get('score', 0):g}", f"{sum(top.values()):g}",
                f"{awaiting:g}" if state else "", f"{worth:g}" if state else "", late_text, "; ".join(errors)]

    def summary(self) -> str:
        """The results, readable in a terminal."""
        lines = []
        for t in self.get("tests", []):
            mark = "ok " if t["score"] >= t["max_score"] - 1e-9 else "-- "
            wr = parse_written_name(t["name"])
            if wr:  # not scored here: what it is worth, and whether a person has something to grade
                mark = "?? " if wr[2] == AWAITING else "-- "
                lines.append(f"  {mark}{'-':>6} / {written_points(t):<5.2f} {t['name']}")
            else:
                lines.append(f"  {mark}{t['score']:6.2f} / {t['max_score']:<5.2f} {t['name']}")
            for line in str(t.get("output", "")).splitlines()[:6]:
                lines.append(f"                     {line[:150]}")
        head = str(self.get("output", "")).splitlines()
        total = f"score {self.get('score', 0):g} (in {self.get('execution_time', 0)} s)"
        return "\n".join(head[:1] + lines + head[1:] + [total])


# ----------------------------------------------------------------------------- the same, for a plain dict
def gradescope(results: dict, hidden_visibility: str = "visible") -> dict:
    """Gradescope's results.json of ``results``: :meth:`Results.gradescope`."""
    return Results(results).gradescope(hidden_visibility)


def prairielearn(results: dict) -> dict:
    """PrairieLearn's results.json of ``results``: :meth:`Results.prairielearn`."""
    return Results(results).prairielearn()


def write_results(results: dict, out: Path, fmt: str = "gradescope", hidden_visibility: str = "visible") -> dict:
    """Write ``results`` as ``fmt`` (gradescope or prairielearn) to ``out``: :meth:`Results.write`."""
    return Results(results).write(out, fmt, hidden_visibility)


def summary(results: dict) -> str:
    """The results, readable in a terminal: :meth:`Results.summary`."""
    return Results(results).summary()


def error_results(message: str, elapsed: float, max_score: float = 0.0, name: str = "Autograder error") -> Results:
    """Valid results that say grading failed, and why: :meth:`Results.error`."""
    return Results.error(message, elapsed, max_score, name)


def validate(doc: dict, fmt: str = "gradescope") -> None:
    """Raise ``jsonschema.ValidationError`` unless ``doc`` is a valid results file of ``fmt``."""
    import jsonschema  # nbformat's dependency

    jsonschema.validate(doc, SCHEMAS[fmt])


__all__ = ["FORMATS", "VISIBILITIES", "ERROR_TESTS", "GRADESCOPE_SCHEMA", "PRAIRIELEARN_SCHEMA", "SCHEMAS", "Results",
           "plain", "parse_test_name", "parse_written_name", "written_entries", "written_points", "AWAITING",
           "NOT_ANSWERED", "unit_entries", "gradescope", "prairielearn", "write_results", "summary",
           "error_results", "validate"]
