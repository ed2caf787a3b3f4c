"""Grading a whole class (course_utils.grade.batch): every layout a TA gets submissions in, the gradebook and the
feedback, and a batch killed in the middle that loses nothing when run again."""

import csv
import os
import signal
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timezone

import nbformat
import pytest
from submissions.mistakes import MISTAKES
from test_grade import HIDDEN_LINES, NB01, make_submission

from course_utils.grade.batch import BatchError, discover, run_batch
from course_utils.grade.core import SHARED_MODELS_NOTE
from course_utils.grade.isolation import choose
from helpers import ROOT

STUDENT01 = ROOT / "notebooks" / "01_jensen_elbo.ipynb"
WRONG_ELBO = MISTAKES["ELBO without the entropy H(q)"].source
DUE = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
needs_sandbox = pytest.mark.skipif(
    not choose().isolates and not os.environ.get("COURSE_REQUIRE_SANDBOX"),  # set by .ci/run
    reason="no sandbox here: install bubblewrap (sudo apt-get install bubblewrap)",
)


def _copy(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(src.read_bytes())
    return dst


# ----------------------------------------------------------------------------- layouts
def test_a_folder_of_notebooks_is_one_student_per_file(tmp_path):
    for name in ("alice", "bob"):
        _copy(STUDENT01, tmp_path / f"{name}.ipynb")
    layout, subs = discover(tmp_path)
    assert layout == "folder" and sorted(s.student for s in subs) == ["alice", "bob"]


def test_nbgrader_submitted_layout_with_late_flags(tmp_path):
    for student, stamp in (("alice", "2026-12-01 11:00:00.000000 UTC"), ("bob", "2026-12-02 09:30:00.000000 UTC")):
        folder = tmp_path / "submitted" / student / "01_jensen_elbo"
        _copy(STUDENT01, folder / "01_jensen_elbo.ipynb")
        (folder / "timestamp.txt").write_text(stamp)
    for root in (tmp_path, tmp_path / "submitted"):
        layout, subs = discover(root, DUE)
        assert layout == "nbgrader"
        assert {s.student: (s.assignment, s.late) for s in subs} == {"alice": ("01", False), "bob": ("01", True)}


def test_a_gradescope_export_zip(tmp_path):
    export = tmp_path / "assignment_123_export.zip"
    meta = (":submission_1001:\n  :submitters:\n  - :name: Alice A\n    :sid: '2001'\n    :email: a@x.edu\n"
            "  :created_at: 2026-12-01 10:00:00.000000000 +00:00\n"
            ":submission_1002:\n  :submitters:\n  - :name: Bob B\n    :sid: '2002'\n    :email: b@x.edu\n"
            "  :created_at: 2026-12-01 13:00:00.000000000 +00:00\n")
    with zipfile.ZipFile(export, "w") as z:
        z.writestr("assignment_123_export/submission_metadata.yml", meta)
        for sid in (1001, 1002):
            z.write(STUDENT01, f"assignment_123_export/submission_{sid}/01_jensen_elbo.ipynb")
    layout, subs = discover(export, DUE, work=tmp_path / "work")
    assert layout == "gradescope"
    assert {s.student: s.late for s in subs} == {"2001": False, "2002": True}


def test_a_zip_with_paths_outside_the_folder_is_refused(tmp_path):
    bad = tmp_path / "export.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("../../evil.ipynb", "{}")
    with pytest.raises(BatchError, match="unsafe path"):
        discover(bad, work=tmp_path / "work")
    assert not (tmp_path.parent / "evil.ipynb").exists()


def test_lms_downloads_name_the_student_first_and_keep_the_newest(tmp_path):
    _copy(STUDENT01, tmp_path / "smithjane_12345_67890_01_jensen_elbo.ipynb")
    _copy(STUDENT01, tmp_path / "doejohn_late_12346_67891_01_jensen_elbo.ipynb")
    layout, subs = discover(tmp_path)
    assert layout == "lms"
    assert {s.student: s.late for s in subs} == {"smithjane": None, "doejohn": True}


def test_a_student_with_several_assignments_in_one_batch_is_refused_before_grading(tmp_path):
    # out/<student>/ holds one assignment's results: two assignments would share (and overwrite) it
    for assignment, nb in (("01_jensen_elbo", STUDENT01), ("03_vae", ROOT / "notebooks" / "03_vae.ipynb")):
        _copy(nb, tmp_path / "submitted" / "alice" / assignment / nb.name)
    _copy(STUDENT01, tmp_path / "submitted" / "bob" / "01_jensen_elbo" / STUDENT01.name)
    with pytest.raises(BatchError, match=r"1 student\(s\) submitted to several assignments.*alice.*--assignment NN"):
        run_batch(tmp_path, tmp_path / "out", trust=True)
    assert not (tmp_path / "out" / "alice").exists()


def test_the_batchs_threads_parse_one_at_a_time():
    # CPython 3.11's parser keeps one recursion counter for all threads: parsing side by side, with a thread switch
    # inside a parse (here a finalizer that sleeps), fails now and then with "AST constructor recursion depth
    # mismatch" (on 3.11.7 about once in 160 parses of this source), which cost correct submissions their points
    import ast
    import io
    import threading

    import numpy as np

    from course_utils.grade.batch import one_parse_at_a_time

    source = "\n".join(f"def f{i}(x):\n    return [(a, b) for a in range(x) if a % 2 for b in {{'k': [1, (3, 4)]}}]"
                       for i in range(200))
    buf = io.BytesIO()
    np.save(buf, np.zeros((3, 4), np.float32))
    errors = []

    class Cycle:
        def __init__(self):
            self.me = self

        def __del__(self):
            time.sleep(0)

    def work():
        for _ in range(150):
            for _ in range(50):
                Cycle()
            try:
                ast.parse(source)
                np.load(io.BytesIO(buf.getvalue()), allow_pickle=False)  # its header goes through ast.literal_eval
            except SystemError as e:
                errors.append(str(e))

    real = ast.parse
    with one_parse_at_a_time():
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == [] and ast.parse is real


def test_a_folder_without_notebooks_says_what_it_expects(tmp_path):
    with pytest.raises(BatchError, match="nbgrader's submitted/ folder"):
        discover(tmp_path)


# ----------------------------------------------------------------------------- grading
@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    """Three students of 01: correct, untouched, and one with the ELBO's entropy term forgotten."""
    folder = tmp_path_factory.mktemp("class")
    _copy(NB01, folder / "ada.ipynb")
    _copy(STUDENT01, folder / "bo.ipynb")
    make_submission(folder / "cy.ipynb", replace={"elbo": WRONG_ELBO})
    return folder


def _rows(book):
    with open(book) as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def test_a_batch_refuses_to_run_unisolated_unless_trusted(klass, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_GRADE_ISOLATION", "none")
    with pytest.raises(BatchError, match="NOT isolated.*--trust-submissions"):
        run_batch(klass, tmp_path / "out")
    assert not (tmp_path / "out" / "gradebook.csv").exists()


@needs_sandbox
def test_a_batch_killed_in_the_middle_loses_nothing_and_ends_in_a_gradebook(klass, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "course_utils.grade", "batch", str(klass), "--out", str(out), "--no-execute"]
    proc = subprocess.Popen(cmd + ["--workers", "1"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    while not list(out.glob("*/done.json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # one student done, another one half graded
    proc.wait()
    first = {p.parent.name for p in out.glob("*/done.json")}
    assert 1 <= len(first) < 3, "the kill came too late to test anything"
    rerun = subprocess.run(cmd + ["--workers", "2"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    for student in first:
        assert f"{student}: " in rerun.stdout and "already graded" in rerun.stdout
    rows = _rows(out / "gradebook.csv")
    assert rows["ada"]["total"] == "7" and rows["bo"]["total"] == "0"
    assert rows["cy"]["log_marginal"] == "2" and rows["cy"]["posterior"] == "2" and float(rows["cy"]["elbo"]) < 3
    assert all(r["errors"] == "" for r in rows.values())
    # the written questions: a column each, for a person to fill in; never part of the autograded total
    assert rows["ada"]["jensen_step"] == rows["ada"]["gap_is_kl"] == "awaiting" and rows["bo"]["jensen_step"] == "0"
    awaiting = (rows["ada"]["written_awaiting"], rows["bo"]["written_awaiting"], rows["bo"]["written_max"])
    assert awaiting == ("5", "0", "5")
    assert "written answers awaiting manual grading: 4 in 01_jensen_elbo" in rerun.stdout  # ada's 2 and cy's 2
    assert "./course written 01 SUBMISSIONS" in rerun.stdout
    assert "3 submissions" in rerun.stdout and "01_jensen_elbo: elbo: 2 of 3" in rerun.stdout  # the class summary
    for student in ("ada", "bo", "cy"):
        page = (out / student / "feedback.html").read_text()
        assert "(public check)" in page and "(hidden tests)" not in page
        assert not [line for line in HIDDEN_LINES if line in page]
    again, _ = run_batch(klass, out, workers=2, execute=False)  # a third time: nothing left to grade
    assert len(again) == 3 and all(d.get("skipped") for d in again)


# ----------------------------------------------------------------------------- shared models
TRAIN_CELL = (  # what the solution trains (a stand-in for 02's dozen models, which take a minute)
    "from course_utils.checkpoints import checkpoint_path, load_or_train\n"
    "CFG = {'width': 3}\n"
    "model, _ = load_or_train('shared-test', CFG, build=lambda cfg: torch.nn.Linear(cfg['width'], 1),\n"
    "                         train=lambda m: None)\n"
)
STUDENT_CELL = (  # a student's run: the model must be there already, and what it does to its copy stays there
    "from course_utils.checkpoints import checkpoint_path\n"
    "path = checkpoint_path('shared-test', {'width': 3})\n"
    "assert path.exists(), 'the shared model is not in this run\\'s cache'\n"
    "path.write_bytes(b'spoiled')  # must not reach the next student\n"
)


@needs_sandbox
def test_the_solution_trains_once_and_every_student_run_starts_with_its_own_copy(tmp_path):
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    sol = nbformat.read(NB01, as_version=4)
    setup = next(c for c in sol.cells if c.cell_type == "code")
    sol.cells = [c for c in sol.cells if c is setup or "nbgrader" in c.metadata]  # its exercises, fast to run
    sol.cells.append(nbformat.v4.new_code_cell(TRAIN_CELL))
    nbformat.write(sol, str(solutions / NB01.name))
    klass = tmp_path / "class"
    threads = f"import os\nassert os.environ.get('OMP_NUM_THREADS') == '{max(1, (os.cpu_count() or 1) // 1)}'\n"
    make_submission(_copy(NB01, klass / "dee.ipynb"), after=[STUDENT_CELL, threads])  # its share of the cores
    out = tmp_path / "out"
    done, book = run_batch(klass, out, workers=1, solutions_dir=solutions)
    shared = sorted((out / ".models" / "01_jensen_elbo-fast").glob("*.pt"))
    assert [p.name.split("-")[:2] for p in shared] == [["shared", "test"]]
    text = (out / "dee" / "results.json").read_text()
    assert "ran top to bottom without errors" in text, text  # the model was in its cache, the threads capped
    assert SHARED_MODELS_NOTE[:60] in text
    assert shared[0].read_bytes() != b"spoiled", "a student's run changed the models the next one starts with"
    assert _rows(book)["dee"]["total"] == "7"
