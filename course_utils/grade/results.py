"""The grading results, written as Gradescope, PrairieLearn or the gradebook want them.

The grader builds one results dict (:func:`course_utils.grade.grade`): ``score``, ``execution_time``, ``output``
and ``tests[]`` with ``name``, ``score``, ``max_score``, ``output``, ``visibility``. :func:`gradescope` and
:func:`prairielearn` turn it into each platform's file; :func:`write` writes one atomically. The JSON Schemas
below are what the tests validate every written file against.

Gradescope (``results.json``; see ``../shared/reference/grading-formats.md``):

- every text is **plain text** (``output_format``/``test_output_format`` ``text``): the course's own messages
  write code as ``'name'``, not Markdown backticks, and a student's exception text is shown as typed, never
  interpreted (``simple_format`` would pass its HTML through);
- each test has ``status``, ``number`` (``"2.1"``: exercise 2, its public check; ``"2.2"``: its hidden tests)
  and ``tags`` (the exercise, ``public`` or ``hidden``);
- the hidden tests' ``visibility`` is an option (``--hidden-visibility``): ``after_published`` keeps a
  student from seeing "100%" from the public checks alone before the hidden tests count.

PrairieLearn (``--format prairielearn``, ``/grade/results/results.json``): ``gradable``, ``score`` in [0, 1],
``message``, ``output`` and ``tests[]`` with ``name``, ``points``, ``max_points``, ``message``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from ..paths import atomic_write_bytes

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


def gradescope(results: dict, hidden_visibility: str = "visible") -> dict:
    """Gradescope's results.json: plain text, each test's status, number and tags, hidden tests' visibility."""
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"hidden visibility must be one of {', '.join(VISIBILITIES)}, not {hidden_visibility!r}")
    tests = []
    for t in results.get("tests", []):
        entry = {"name": t["name"], "score": t["score"], "max_score": t["max_score"],
                 "status": "passed" if t["score"] >= t["max_score"] - 1e-9 and t["name"] not in ERROR_TESTS
                 else "failed",
                 "output": plain(t.get("output", "")), "output_format": "text",
                 "visibility": t.get("visibility", "visible")}
        ex = parse_test_name(t["name"])
        if ex:
            number, exercise, kind = ex
            entry["number"] = f"{number}.{1 if kind == 'public check' else 2}"
            entry["tags"] = [exercise, "public" if kind == "public check" else "hidden"]
            if kind == "hidden tests":
                entry["visibility"] = hidden_visibility
        tests.append(entry)
    out = {"score": results.get("score", 0.0), "execution_time": results.get("execution_time", 0),
           "output": plain(results.get("output", "")), "output_format": "text", "test_output_format": "text",
           "stdout_visibility": results.get("stdout_visibility", "hidden"), "tests": tests}
    return out


def prairielearn(results: dict) -> dict:
    """PrairieLearn's results.json: score in [0, 1]; not gradable when grading itself failed."""
    tests = results.get("tests", [])
    errors = [t for t in tests if t["name"] in ERROR_TESTS]
    total = sum(t["max_score"] for t in tests)
    out = {
        "gradable": not errors,
        "score": round(min(1.0, max(0.0, results.get("score", 0.0) / total)) if total else 0.0, 6),
        "message": plain(str(results.get("output", "")).split("\n", 1)[0]),
        "output": plain(results.get("output", "")),
        "tests": [{"name": t["name"], "points": t["score"], "max_points": t["max_score"],
                   "message": plain(t.get("output", ""))} for t in tests],
    }
    if errors:
        out["format_errors"] = [plain(t.get("output", "")) for t in errors]
        out["score"] = 0.0
    return out


def render(results: dict, fmt: str = "gradescope", hidden_visibility: str = "visible") -> dict:
    if fmt == "gradescope":
        return gradescope(results, hidden_visibility)
    if fmt == "prairielearn":
        return prairielearn(results)
    raise ValueError(f"unknown results format {fmt!r}: use one of {', '.join(FORMATS)}")


def validate(doc: dict, fmt: str = "gradescope") -> None:
    """Raise ``jsonschema.ValidationError`` unless ``doc`` is a valid results file of ``fmt``."""
    import jsonschema  # nbformat's dependency

    jsonschema.validate(doc, SCHEMAS[fmt])


def write(results: dict, out: Path, fmt: str = "gradescope", hidden_visibility: str = "visible") -> dict:
    """Write ``results`` to ``out`` in ``fmt`` (atomically: a reader sees the old file or the whole new one)."""
    doc = render(results, fmt, hidden_visibility)
    out = Path(out)
    if out.is_dir() and not out.is_symlink():  # a submission that made results.json a folder or a link
        shutil.rmtree(out)
    elif out.is_symlink():
        out.unlink()
    atomic_write_bytes(out, (json.dumps(doc, indent=2) + "\n").encode())
    return doc


__all__ = ["FORMATS", "VISIBILITIES", "GRADESCOPE_SCHEMA", "PRAIRIELEARN_SCHEMA", "plain", "gradescope",
           "prairielearn", "render", "validate", "write", "parse_test_name"]
