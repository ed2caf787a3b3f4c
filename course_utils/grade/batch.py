"""Grade a whole class: ``python -m course_utils.grade batch SUBMISSIONS --out DIR`` (``./course grade-batch``).

``SUBMISSIONS`` is any of

- a folder of notebooks, one per student: ``alice.ipynb`` (the student is the file's stem);
- nbgrader's layout, ``submitted/<student>/<assignment>/*.ipynb`` (the course folder that holds ``submitted/``,
  or ``submitted/`` itself); a ``timestamp.txt`` later than ``--due`` marks it late;
- a Gradescope "Export Submissions" zip or its unpacked folder: ``submission_metadata.yml`` and one
  ``submission_<id>/`` folder per submission; the student is the submitter's SID, else e-mail, else name, and
  ``:created_at:`` later than ``--due`` marks it late;
- a folder of LMS downloads named ``<student>_..._<name>.ipynb`` (Canvas, Moodle); ``_late_`` in the name
  marks it late.

One batch grades one assignment per student (``--assignment NN`` picks it from a folder that holds several; a
student with two assignments in one batch is refused before anything runs). It writes
``DIR/<student>/results.json`` (Gradescope's format, as ``./course grade`` writes it),
``DIR/<student>/feedback.html`` (what the student may see: the public checks, never a hidden test's result),
``DIR/gradebook.csv`` (a row per student and assignment: each exercise's points, the total, late, grading
errors) and prints the class's score distribution and the exercises most often failed, with their most common
hint.

**Resumable.** A student's results count once ``DIR/<student>/done.json`` is written, last and atomically, with
the hash of the notebook it graded. Killed at any moment, the same command again grades only what is not done
(or what changed since); ``--regrade`` grades everything again.

**Parallel and bounded.** ``--workers`` gradings at a time (default: the number of cores), each under the
grader's per-submission limits (time: ``--submission-timeout``, memory, output), each in sandboxes of its own that
are gone before the worker takes the next submission (:mod:`.isolation`). Without a sandbox the batch refuses to
run unless ``--trust-submissions``. The summary lists the slowest submissions.

**Input hygiene.** Symbolic links are refused with a note and never followed; IDs that clean to the same folder
name are kept apart (a suffix each); Gradescope's metadata IDs and folder names are validated; every
``gradebook.csv`` cell a spreadsheet could read as a formula gets a leading apostrophe.

**Shared models.** A class should not pay a notebook's training once per student (notebook 02's top-to-bottom run
trains a dozen models). With ``--models shared`` (the default) the solution notebook of each assignment in the
batch runs once first, and the models it trains (``DIR/.models/<notebook>-<profile>/``, kept for a rerun) seed
every submission's private cache, a copy each: a student's notebook loads them where its settings are the same,
and trains the rest itself. Nothing flows from one student to another; the feedback says which models the run
used. Grades never depend on it: the hidden tests call the student's functions directly. ``--models own`` trains
every submission's models from scratch, as ``./course grade`` does.
"""

from __future__ import annotations

import ast
import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .. import syllabus
from ..paths import atomic_write_bytes
from .cells import csv_cell
from .core import SOLUTIONS_DIR, grade, notebooks_without_links
from .execute import run_submission
from .isolation import Isolation, choose
from .limits import Limits
from .pool import RunnerPool
from .results import AWAITING, HIDDEN, PUBLIC, Results, printable
from .sandbox import Sandbox
from .spec import SpecError, find_solution, guess_assignment, load_assignment


class BatchError(ValueError):
    """SUBMISSIONS cannot be read as any of the layouts above."""


@dataclass
class Submission:
    student: str  # a folder name: letters, digits, . _ @ - (unique per raw ID: see distinct_ids)
    path: Path  # the notebook
    assignment: str | None = None  # from the layout (nbgrader), else guessed from the notebook
    late: bool | None = None  # None: not known
    source: str = ""  # where it came from, for messages
    raw: str = ""  # the student's ID as the layout gave it


def _safe(name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._@-]+", "_", str(name)).strip("._-@") or "student"
    return name[:80]


def _sub(raw, path: Path, assignment=None, late=None) -> Submission:
    return Submission(_safe(raw), path, assignment, late, str(path), str(raw))


def distinct_ids(subs: list[Submission]) -> list[str]:
    """Different raw IDs that clean to the same folder name (``alice`` and ``alice.``) get a suffix each from their raw
    ID's hash, so that neither replaces the other. Returns a note per renamed student."""
    raws: dict[str, set[str]] = {}
    for s in subs:
        raws.setdefault(s.student.lower(), set()).add(s.raw or s.student)
    notes = []
    for s in subs:
        if len(raws[s.student.lower()]) > 1:
            tag = hashlib.sha256((s.raw or s.student).encode()).hexdigest()[:6]
            new = f"{s.student[:72]}-{tag}"
            notes.append(f"{s.raw!r} and another ID both clean to {s.student!r}: graded as {new}")
            s.student = new
    return sorted(set(notes))


REFUSED: list[str] = []  # notes of the last discover(): symlinks refused


def _guess(path: Path) -> str | None:
    """The assignment of a notebook: its setup call, else its file name."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        text = None
    return guess_assignment(path, text)


def _notebooks(folder: Path) -> list[Path]:
    found, notes = notebooks_without_links(folder)
    REFUSED.extend(notes)
    return found


def _parse_time(text) -> datetime | None:
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=timezone.utc)
    text = str(text or "").strip()
    if not text:
        return None
    for candidate in (text, text.replace(" ", "T", 1)):
        try:
            t = datetime.fromisoformat(candidate)
            return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    for fmt in ("%Y-%m-%d %H:%M:%S.%f %Z", "%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def _late(when, due: datetime | None) -> bool | None:
    t = _parse_time(when)
    return None if t is None or due is None else t > due


def discover(root: Path, due: datetime | None = None, work: Path | None = None) -> tuple[str, list[Submission]]:
    """The layout of ``root`` and its submissions, one per student (the newest file where a student has more).

    ``work``: where a Gradescope zip is unpacked. Symbolic links are never followed: each is refused with a note
    in :data:`REFUSED`."""
    REFUSED.clear()
    root = Path(root)
    if root.is_file() and zipfile.is_zipfile(root):
        target = Path(work or tempfile.mkdtemp(prefix="course-batch-")) / "export"
        with zipfile.ZipFile(root) as z:
            for member in z.infolist():  # no absolute paths, no "..": nothing lands outside target
                name = Path(member.filename)
                if name.is_absolute() or ".." in name.parts:
                    raise BatchError(f"{root}: the zip holds an unsafe path {member.filename!r}")
            z.extractall(target)
        inner = [p for p in target.iterdir() if p.is_dir()]
        root = inner[0] if len(inner) == 1 and not (target / "submission_metadata.yml").exists() else target
    if not root.is_dir():
        raise BatchError(f"{root} is neither a folder nor a zip file. Pass a folder of notebooks, nbgrader's "
                         "course folder (with submitted/), or a Gradescope export (zip or folder).")
    if (root / "submission_metadata.yml").exists():
        return "gradescope", _gradescope(root, due)
    submitted = root / "submitted" if (root / "submitted").is_dir() else root
    if root.name == "submitted" or (root / "submitted").is_dir():
        return "nbgrader", _nbgrader(submitted, due)
    top = []
    for p in sorted(root.glob("*.ipynb")):
        if p.is_symlink():
            REFUSED.append(f"refused {p}: a symbolic link (submissions must be plain files and folders)")
        elif p.is_file():
            top.append(p)
    if not top:
        raise BatchError(f"no notebooks in {root}: expected STUDENT.ipynb files, nbgrader's submitted/ folder, a "
                         "Gradescope export (submission_metadata.yml), or LMS downloads named student_..._name.ipynb")
    lms = [p for p in top if "_" in p.stem and re.match(r"^[^_]+_.*\d", p.stem)]
    if len(lms) == len(top) and len({p.stem.split("_")[0] for p in top}) > 1:
        return "lms", _lms(top)
    return "folder", [_sub(p.stem, p) for p in top]


def _nbgrader(submitted: Path, due: datetime | None) -> list[Submission]:
    out = []
    for student in sorted(p for p in submitted.iterdir() if p.is_dir()):
        if student.is_symlink():
            REFUSED.append(f"refused {student}: a symbolic link (submissions must be plain files and folders)")
            continue
        for assignment in sorted(p for p in student.iterdir() if p.is_dir()):
            if assignment.is_symlink():
                REFUSED.append(f"refused {assignment}: a symbolic link (submissions must be plain files and folders)")
                continue
            stamp = assignment / "timestamp.txt"
            when = stamp.read_text(errors="replace")[:100].strip() if stamp.is_file() and not stamp.is_symlink() \
                else None
            for nb in _notebooks(assignment):
                out.append(_sub(student.name, nb, _guess(nb) or assignment.name, _late(when, due)))
    return out


def _gradescope(root: Path, due: datetime | None) -> list[Submission]:
    try:
        import yaml
    except ImportError as e:  # pragma: no cover - jupyter brings PyYAML
        raise BatchError("reading a Gradescope export needs PyYAML (pip install pyyaml)") from e
    meta_file = root / "submission_metadata.yml"
    if meta_file.is_symlink() or meta_file.stat().st_size > 50 * 2**20:
        raise BatchError(f"{meta_file}: a symbolic link or larger than 50 MB; not read")
    meta = yaml.safe_load(meta_file.read_text()) or {}
    if not isinstance(meta, dict):
        raise BatchError(f"{meta_file}: not Gradescope's metadata (a mapping of submission folders)")
    out = []
    for folder, info in sorted(meta.items(), key=lambda kv: str(kv[0])):
        folder = str(folder).strip(":")  # Ruby-style symbol keys (":submitters:") in Gradescope's YAML
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}", folder) or ".." in folder:
            REFUSED.append(f"refused the metadata entry {folder[:60]!r}: not a submission folder's name")
            continue
        info = {str(k).strip(":"): v for k, v in (info or {}).items()} if isinstance(info, dict) else {}
        people = [{str(k).strip(":"): v for k, v in p.items()} for p in info.get("submitters") or []
                  if isinstance(p, dict)] if isinstance(info.get("submitters"), list) else []
        who = people[0] if people else {}
        student = next((str(who[k]) for k in ("sid", "email", "name") if _valid_id(who.get(k))), folder)
        path = root / folder
        if path.is_symlink():
            REFUSED.append(f"refused {path}: a symbolic link (submissions must be plain files and folders)")
            continue
        for nb in _notebooks(path) if path.is_dir() else []:
            out.append(_sub(student, nb, None, _late(info.get("created_at"), due)))
    return out


def _valid_id(value) -> bool:
    """A student ID from Gradescope's metadata: a short string or number, no control characters."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return False
    text = str(value).strip()
    return 0 < len(text) <= 200 and not any(ord(c) < 32 or ord(c) == 127 for c in text)


def _lms(files: list[Path]) -> list[Submission]:
    out = []
    for p in files:
        student, rest = p.stem.split("_", 1)
        late = True if re.search(r"(^|_)late(_|$)", rest, re.IGNORECASE) else None
        out.append(_sub(student, p, None, late))
    return out


def one_per_student(subs: list[Submission]) -> tuple[list[Submission], list[str]]:
    """Keep one notebook per (student, assignment): the newest file. Returns them and a note per dropped one."""
    by: dict = {}
    notes = []
    for s in subs:
        key = (s.student, s.assignment or _guess(s.path))
        if key in by:
            keep, drop = sorted([by[key], s], key=lambda x: (x.path.stat().st_mtime, str(x.path)), reverse=True)
            notes.append(f"{s.student}: graded {keep.path.name}, not the older {drop.path.name}")
            by[key] = keep
        else:
            by[key] = s
    return list(by.values()), notes


# ----------------------------------------------------------------------------- one student
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


RESULTS_VERSION = 2  # done.json's: results.json holds each outcome as a record (results.Outcome)


def _done(folder: Path) -> dict | None:
    """The student's done.json, or None when not graded (or graded by a grader whose results differ in shape)."""
    try:
        done = json.loads((folder / "done.json").read_text())
    except (OSError, ValueError):
        return None
    return done if done.get("results_version") == RESULTS_VERSION else None


def grade_one(sub: Submission, out: Path, *, solutions_dir: Path, profile: str, execute: bool, limits: Limits,
              isolation: Isolation, pool: RunnerPool | None, regrade: bool, hidden_visibility: str = "visible",
              models: Path | None = None) -> dict:
    """Grade one student into ``out/<student>/`` unless already done; returns its done.json."""
    folder = out / sub.student
    digest = _digest(sub.path)
    done = _done(folder)
    if done and not regrade and done.get("sha256") == digest:
        done["skipped"] = True
        return done
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        results = grade(sub.path, sub.assignment, solutions_dir, profile, execute, None, limits, pool=pool,
                        isolation=isolation, models=models)
    except BaseException as e:  # noqa: BLE001 - grade() does not raise; this is a last resort
        results = Results.error(f"{type(e).__name__}: {e}", time.monotonic() - t0)
    notebook = sub.assignment or _guess(sub.path) or sub.path.stem
    doc = results.gradescope(hidden_visibility)
    atomic_write_bytes(folder / "results.json", json.dumps(doc, indent=2).encode())
    atomic_write_bytes(folder / "feedback.html", results.feedback_html(sub.student, notebook).encode())
    errors = results.errors()
    done = {"results_version": RESULTS_VERSION, "student": sub.student, "notebook": str(sub.path), "sha256": digest,
            "assignment": notebook,
            "late": sub.late, "score": results.get("score", 0.0), "errors": errors,
            "seconds": round(time.monotonic() - t0, 1)}
    atomic_write_bytes(folder / "done.json", json.dumps(done, indent=2).encode())  # last: now it counts
    return done


# ----------------------------------------------------------------------------- the class
@contextlib.contextmanager
def one_parse_at_a_time():
    """``ast.parse`` under a lock while it lasts. The batch's workers are threads of one process, and each parses:
    a notebook's cells, the judge's tests, the header of every ``.npy`` reply (numpy reads it with
    ``ast.literal_eval``, which calls ``ast.parse``). CPython 3.11 keeps the parser's recursion counter per
    interpreter, not per thread, so two threads parsing at once can fail with "SystemError: AST constructor
    recursion depth mismatch" (python/cpython#106905; 3.12 and 3.13 do not): a correct submission then lost
    points or scored 0 with an "Autograder error"."""
    real, lock = ast.parse, threading.Lock()

    def parse(*args, **kwargs):
        with lock:
            return real(*args, **kwargs)

    ast.parse = parse
    try:
        yield
    finally:
        ast.parse = real


def gradebook(out: Path, done: list[dict], solutions_dir: Path) -> Path:
    """``out/gradebook.csv``: a row per student and assignment, each exercise's points, total, late, errors."""
    columns: dict[str, list[str]] = {}
    questions: dict[str, list[str]] = {}
    for d in done:
        if d["assignment"] not in columns:
            try:
                spec = load_assignment(find_solution(d["assignment"], solutions_dir))
                columns[d["assignment"]] = [u.exercise for u in spec.units]
                questions[d["assignment"]] = [w.question for w in spec.written]
            except (SpecError, OSError):
                columns[d["assignment"]], questions[d["assignment"]] = [], []
    exercises = list(dict.fromkeys(e for cols in columns.values() for e in cols))
    written = list(dict.fromkeys(q for qs in questions.values() for q in qs))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([csv_cell(c) for c in Results.gradebook_header(exercises, written)])
    for d in sorted(done, key=lambda d: (d["assignment"], d["student"])):
        results = Results.read(out / d["student"] / "results.json")
        w.writerow([csv_cell(c) for c in results.gradebook_row(exercises, d["student"], d["assignment"],
                                                                  d.get("late"), d.get("errors", []), written)])
    path = out / "gradebook.csv"
    atomic_write_bytes(path, buf.getvalue().encode())
    return path


def class_summary(out: Path, done: list[dict]) -> str:
    """The score distribution, the exercises most often failed, and their most common hint."""
    if not done:
        return "no submissions graded"
    scores = [float(d["score"]) for d in done]
    lines = [f"{len(done)} submissions: mean {statistics.mean(scores):.2f}, median {statistics.median(scores):g}, "
             f"min {min(scores):g}, max {max(scores):g}"]
    hist = Counter(scores)
    for s in sorted(hist):
        lines.append(f"  {s:6g} points  {'#' * hist[s]} {hist[s]}")
    failed: Counter = Counter()
    hints: dict[str, Counter] = {}
    waiting: Counter = Counter()  # written answers a person has to grade, per assignment
    for d in done:
        outcomes = Results.read(out / d["student"] / "results.json").outcomes()
        waiting.update(d["assignment"] for o in outcomes if o.state == AWAITING)
        lost = set()
        for o in outcomes:
            if o.kind in (PUBLIC, HIDDEN) and not o.passed:
                lost.add((d["assignment"], o.exercise))
                if o.kind == PUBLIC:
                    first = next((ln.strip() for ln in o.output.splitlines() if ln.strip()), "")
                    hints.setdefault(f"{d['assignment']}: {o.exercise}", Counter())[first[:160]] += 1
        failed.update(f"{a}: {e}" for a, e in lost)
    if failed:
        lines.append("most often failed:")
        for name, n in failed.most_common(5):
            hint = hints.get(name, Counter()).most_common(1)
            lines.append(f"  {name}: {n} of {len(done)}" + (f"; most common hint: {hint[0][0]}" if hint else ""))
    errors = [d["student"] for d in done if d.get("errors")]
    if errors:
        lines.append(f"grading errors ({len(errors)}): {', '.join(errors[:10])} (see their results.json)")
    for assignment, n in sorted(waiting.items()):
        number = syllabus.number_in(assignment) or assignment
        lines.append(f"written answers awaiting manual grading: {n} in {assignment} (one page per question, every "
                     f"student's answer side by side: ./course written {number} SUBMISSIONS)")
    timed = sorted((d for d in done if not d.get("skipped") and d.get("seconds") is not None),
                   key=lambda d: -float(d["seconds"]))
    if timed:
        lines.append("slowest: " + ", ".join(f"{d['student']} {float(d['seconds']):.0f} s" for d in timed[:5]))
    late = [d["student"] for d in done if d.get("late")]
    if late:
        lines.append(f"late ({len(late)}): {', '.join(late[:10])}" + (" ..." if len(late) > 10 else ""))
    return printable("\n".join(lines))  # the hints are submissions' output


def reference_models(solution: Path, out: Path, profile: str, limits: Limits, isolation: Isolation,
                     log=print) -> Path | None:
    """The models the solution notebook trains in ``profile``, trained once into ``out/.models/`` (a rerun finds
    them there): the folder, or None when the solution trains nothing or its run failed."""
    folder = out / ".models" / f"{solution.stem}-{profile}"
    if (folder / "complete").exists():
        return folder if any(folder.glob("*.pt")) else None
    t0 = time.monotonic()
    sandbox = Sandbox(None, isolation, export=True)
    try:
        target = sandbox.seed / solution.name
        target.write_bytes(solution.read_bytes())
        os.chmod(target, 0o644)
        report = run_submission(target, sandbox, sandbox.env(profile), limits)
        trained = sorted(f for f in sandbox.export.glob("*.pt") if f.is_file() and not f.is_symlink())
        failed = report.get("stopped") or [f"code cell {c['cell']}: {c.get('ename')}: {c.get('evalue', '')[:100]}"
                                           for c in report.get("cells", []) if c.get("status") == "error"]
        if failed:
            log(f"  shared models: the solution {solution.name} did not run cleanly ({str(failed)[:200]}): "
                "every submission trains its own", file=sys.stderr)
            return None
        staging = folder.with_name(folder.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for f in trained:
            shutil.copyfile(f, staging / f.name)
        (staging / "complete").write_text(f"{len(trained)} checkpoints, {time.monotonic() - t0:.0f} s\n")
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)  # complete or absent, never half there
    finally:
        sandbox.cleanup()
    log(f"  shared models: {solution.stem} trained {len(trained)} in {time.monotonic() - t0:.0f} s -> {folder}")
    return folder if trained else None


def run_batch(submissions, out, *, workers: int | None = None, assignment: str | None = None, solutions_dir=None,
              profile: str = "fast", execute: bool = True, limits: Limits | None = None, regrade: bool = False,
              trust: bool = False, due: datetime | None = None, isolation: Isolation | None = None,
              hidden_visibility: str = "visible", models: str = "shared", log=print) -> tuple[list[dict], Path]:
    """Grade every submission into ``out``; returns the done records and the gradebook's path. ``models``:
    ``shared`` (the solution's trained models seed every submission's run) or ``own``."""
    if models not in ("shared", "own"):
        raise BatchError(f"models={models!r}: use 'shared' or 'own'")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    solutions_dir = Path(solutions_dir or SOLUTIONS_DIR)
    isolation = isolation or choose()
    if not isolation.isolates and not trust:
        raise BatchError(isolation.describe() + ". Install bubblewrap (sudo apt-get install bubblewrap), or pass "
                         "--trust-submissions if you trust every notebook in the batch.")
    if isolation.kind != "namespace":
        log(isolation.describe(), file=sys.stderr)
    limits = limits or Limits.for_profile(profile)
    layout, subs = discover(Path(submissions), due, work=out / ".unpacked")
    if assignment:
        try:
            wanted = syllabus.get(assignment).name
        except syllabus.UnknownNotebook as e:
            raise BatchError(f"--assignment {assignment}: {e}") from None
        for s in subs:
            s.assignment = s.assignment or wanted
        subs = [s for s in subs if getattr(syllabus.get(s.assignment, None), "name", None) == wanted]
    for s in subs:  # the hidden tests of every assignment are read now, before any submission code runs
        s.assignment = s.assignment or _guess(s.path)
    names = {}
    for key in {s.assignment for s in subs if s.assignment}:
        try:
            path = find_solution(key, solutions_dir)
            load_assignment(path)
        except SpecError as e:
            raise BatchError(f"assignment {key!r}: {e}") from e
        names[key] = path.stem  # "01" and "01_jensen_elbo" are one assignment: name it as the solution does
    for s in subs:
        s.assignment = names.get(s.assignment, s.assignment)
    notes = list(REFUSED) + distinct_ids(subs)
    subs, kept = one_per_student(subs)
    notes += kept
    several = Counter(s.student for s in subs)
    if any(n > 1 for n in several.values()):
        who = sorted(k for k, n in several.items() if n > 1)
        raise BatchError(
            f"{len(who)} student(s) submitted to several assignments in this batch "
            f"({', '.join(sorted({s.assignment or '?' for s in subs}))}; e.g. {printable(who[0])}), and "
            f"{out}/<student>/ holds one assignment's results. Grade one assignment at a time, each into its own "
            f"folder: --assignment NN --out DIR-NN")
    workers = max(1, int(workers or os.cpu_count() or 1))
    if not limits.threads:  # workers side by side share the cores: each kernel gets its part of them
        limits = dataclasses.replace(limits, threads=max(1, (os.cpu_count() or 1) // workers))
    pooled = isolation.kind == "namespace" or (isolation.kind == "none" and trust)  # user: a runner per student
    log(f"{len(subs)} submissions ({layout} layout) -> {out}, {workers} worker(s); {isolation.kind} isolation")
    for n in notes:
        log(f"  note: {printable(n)}")  # file names are the submitters'
    shared: dict[str, Path | None] = {}
    if models == "shared" and execute:
        for key in sorted({s.assignment for s in subs if s.assignment}):
            shared[key] = reference_models(find_solution(key, solutions_dir), out, profile, limits, isolation, log)
    local = threading.local()
    pools: list[RunnerPool] = []
    lock = threading.Lock()

    def work(sub):
        pool = None
        if pooled:
            pool = getattr(local, "pool", None)
            if pool is None:
                pool = local.pool = RunnerPool()
                with lock:
                    pools.append(pool)
        return grade_one(sub, out, solutions_dir=solutions_dir, profile=profile, execute=execute, limits=limits,
                         isolation=isolation, pool=pool, regrade=regrade, hidden_visibility=hidden_visibility,
                         models=shared.get(sub.assignment))

    done: list[dict] = []
    t0 = time.monotonic()
    try:
        with one_parse_at_a_time(), ThreadPoolExecutor(max_workers=workers) as ex:
            futures = {ex.submit(work, s): s for s in subs}
            for fut in as_completed(futures):
                d = fut.result()
                done.append(d)
                how = "already graded" if d.get("skipped") else f"{d['seconds']:.0f} s"
                log(f"  [{len(done)}/{len(subs)}] {d['student']}: {d['score']:g} points ({how})")
    finally:
        for p in pools:
            p.close()
    book = gradebook(out, done, solutions_dir)
    graded = [d for d in done if not d.get("skipped")]
    rate = len(graded) / (time.monotonic() - t0) * 3600 if graded else 0.0
    log(class_summary(out, done))
    log(f"wrote {book}" + (f"; {len(graded)} graded now, {rate:.0f} submissions per hour" if graded else ""))
    return done, book


def main(argv=None) -> int:
    import argparse

    from ..options import add_grading, add_lms, add_workers
    from . import lms

    ap = argparse.ArgumentParser(prog="course grade-batch", description=__doc__.split("\n\n")[0])
    ap.add_argument("submissions", help="a folder of notebooks, nbgrader's course folder, a Gradescope export "
                                        "(zip or folder), or a folder of LMS downloads")
    ap.add_argument("--out", required=True, help="where results, feedback and gradebook.csv go")
    add_workers(ap, "gradings at a time (default: the number of cores)")
    add_grading(ap, "NN or NN_topic: grade only this assignment (and use it where the notebook does not say)")
    ap.add_argument("--regrade", action="store_true", help="grade again what is already graded")
    ap.add_argument("--due", help="the due date (ISO 8601, e.g. 2026-12-01T23:59+01:00): later ones are late")
    ap.add_argument("--models", choices=["shared", "own"], default="shared",
                    help="shared: the solution notebook trains each assignment's models once, and every submission's "
                         "run starts with a copy (default); own: every submission trains its own")
    ap.add_argument("--trust-submissions", action="store_true",
                    help="grade even where submissions cannot be isolated (no bubblewrap)")
    ap.add_argument("--submission-timeout", type=float, metavar="S",
                    help="seconds for everything of one submission, its run and its tests "
                         f"(default {Limits().submission_timeout:g}; its run gets at most half)")
    add_lms(ap)
    a = ap.parse_args(argv)
    try:
        lms.check_options(a.lms, a.roster, a.lms_assignment)  # before any grading
    except lms.LmsError as e:
        print(f"grade batch: {e}", file=sys.stderr)
        return 2
    due = _parse_time(a.due) if a.due else None
    if a.due and due is None:
        print(f"--due {a.due!r} is not a date: use ISO 8601, e.g. 2026-12-01T23:59+01:00", file=sys.stderr)
        return 2
    try:
        _, book = run_batch(a.submissions, a.out, workers=a.workers, assignment=a.assignment,
                            solutions_dir=a.solutions, profile=a.profile, execute=not a.no_execute, regrade=a.regrade,
                            trust=a.trust_submissions, due=due, hidden_visibility=a.hidden_visibility,
                            models=a.models, limits=Limits.for_profile(a.profile or "fast",
                                                                       submission_timeout=a.submission_timeout))
    except BatchError as e:
        print(f"grade batch: {e}", file=sys.stderr)
        return 2
    return lms.export(a.out, a.lms, a.roster, a.lms_assignment) if a.lms else 0


__all__ = ["Submission", "BatchError", "discover", "grade_one", "gradebook", "class_summary", "reference_models",
           "run_batch", "main"]
