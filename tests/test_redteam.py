"""The red-team suite: each attack of issue 32, made for real against the grader; every one must be held.

Scores come from the judge (course_utils/grade/judge.py), which runs no submitted code; the sandbox
(course_utils/grade/isolation.py) decides what a submission can see and fill. The attacks that the older suites
already make (rewriting the course, planting files, leaving processes, monkeypatching torch, exiting, crashing,
printing megabytes) stay in tests/test_grade.py and tests/test_grade_isolation.py."""

import csv
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from test_grade import NB01, assert_valid, by_exercise, make_submission, outputs

from course_utils.grade import Limits, grade
from course_utils.grade.batch import csv_cell, run_batch
from course_utils.grade.isolation import choose
from course_utils.grade.results import HIDDEN
from helpers import ROOT

NAMESPACE = choose().kind == "namespace"
needs_namespace = pytest.mark.skipif(
    not NAMESPACE and not os.environ.get("COURSE_REQUIRE_SANDBOX"),
    reason="no namespace sandbox here: install bubblewrap (sudo apt-get install bubblewrap)",
)
LIMITS = Limits(cell_timeout=30, total_timeout=120, test_timeout=30, load_timeout=30, memory_mb=8192)
STUDENT01 = ROOT / "notebooks" / "01_jensen_elbo.ipynb"

# the issue's forge: well-formed "passed" replies on the pipes whose numbers are in sys.argv[1:3], in the pipes' own
# framing (multiprocessing.connection: a 4-byte big-endian length) and grade.wire's (header length, no arrays, JSON)
FORGE = '''
def _forge():
    import os, sys, json, struct
    cmd, res = int(sys.argv[1]), int(sys.argv[2])
    def send(o):
        h = json.dumps(o).encode(); d = struct.pack("<II", len(h), 0) + h
        os.write(res, struct.pack("!i", len(d)) + d)
    def rd(n):
        b = b""
        while len(b) < n:
            c = os.read(cmd, n - len(b))
            if not c: os._exit(0)
            b += c
        return b
    def recv():
        d = rd(struct.unpack("!i", rd(4))[0])
        return json.loads(d[8 : 8 + struct.unpack_from("<I", d)[0]])
    ok = {"ev": "done", "ok": True, "error": None, "tampered": [], "value": True}
    send(ok)
    while recv().get("op") != "end": send(ok)
    os._exit(0)
'''
# everything the judge sends, echoed back as an error (hidden tests' source must not be in it)
ECHO = '''
def elbo(log_joint, q):
    import os, sys, select
    cmd = int(sys.argv[1])
    got = b""
    while select.select([cmd], [], [], 0.5)[0] and len(got) < 1 << 20:
        got += os.read(cmd, 1 << 16)
    raise ValueError(got.decode("latin-1"))
'''
LIAR = '''
class _Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal, torch.Tensor.__eq__, torch.isclose):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


def posterior(log_joint):
    return torch.zeros_like(log_joint).as_subclass(_Liar)
'''

# the loading child adds torch and checks to the names it reports as defined, and makes its functions look like
# plain objects: the judge must not let the sandbox's "torch" answer allclose (or its "checks" answer a check)
HIJACK = '''
import builtins as _b
import torch as _torch
import course_utils.grade.agent as _agent


class _Hijack:
    _agent._State.graded += ["torch", "checks", "math"]
    _orig = _b.callable
    _b.callable = lambda o, _c=_orig: False if getattr(o, "_remote_me", False) else _c(o)


class _Yes:
    _remote_me = True

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name.startswith("check_") or name in ("allclose", "equal", "isclose"):
            return lambda *a, **k: True
        return getattr(_torch, name)


def log_marginal(log_joint):
    return log_joint[:, 0] * 0 + 123.0


def elbo(log_joint, q):
    return log_joint[:, 0] * 0 + 123.0


def posterior(log_joint):
    return log_joint * 0 + 123.0


class _Install:
    globals()["torch"] = globals()["checks"] = _Yes()
    log_marginal._remote_me = elbo._remote_me = posterior._remote_me = True
'''


def _grade(path, **kw):
    results = grade(path, limits=kw.pop("limits", LIMITS), **kw)
    print(results.summary())
    return assert_valid(results)


def test_forged_replies_echoed_requests_and_lying_tensors_score_nothing(tmp_path):
    """Issue 32, 1, 2 and 4: the forge on the pipes, the echo of what the judge sends, a tensor subclass whose
    __torch_function__ answers allclose and equal, each with nothing implemented: 0 points."""
    path = make_submission(tmp_path / "01_jensen_elbo.ipynb", before=[FORGE], replace={
        "log_marginal": "def log_marginal(log_joint):\n    _forge()\n", "elbo": ECHO, "posterior": LIAR})
    results = _grade(path, execute=False)
    assert results["score"] == 0, by_exercise(results)
    text = json.dumps(results)
    assert "allclose(" not in text and "assert " not in text  # no test's source came back (assert_valid: none)


def test_the_sandbox_cannot_name_what_the_tests_call(tmp_path):
    """The loading child reports torch and checks as graded names it defined, behind handles whose allclose and
    check_* say True, with functions that are wrong: the judge keeps its own torch and checks, 0 points."""
    path = make_submission(tmp_path / "01_jensen_elbo.ipynb", after=[HIJACK])
    results = _grade(path, execute=False)
    assert results["score"] == 0, by_exercise(results)

def test_garbage_and_silence_from_the_sandbox_fail_the_test_and_nothing_else(tmp_path):
    garbage = ("def log_marginal(log_joint):\n    import os, sys, time\n"
               "    os.write(int(sys.argv[2]), b'\\xff\\xff\\xff\\x7f' + b'x' * 64)\n    time.sleep(60)\n")
    path = make_submission(tmp_path / "01_jensen_elbo.ipynb", replace={"log_marginal": garbage})
    results = _grade(path, execute=False, limits=Limits(test_timeout=5, load_timeout=30))
    scores = by_exercise(results)
    assert scores["log_marginal"][0] == 0
    assert scores["elbo"] == (3.0, 3.0) and scores["posterior"] == (2.0, 2.0)


PROBE = '''
def log_marginal(log_joint):
    import json, os, time
    if os.path.exists("/tmp/probed"):  # once per sandbox
        raise ValueError("probed")
    open("/tmp/probed", "w").close()
    f = {"uid": os.getuid(), "gid": os.getgid(),
         "cap": open("/proc/self/status").read().split("CapEff:")[1].split()[0],
         "env": sorted(os.environ), "secret": os.environ.get("COURSE_REDTEAM_SECRET"),
         "seen": [p for p in PATHS if os.path.exists(p)], "root": sorted(os.listdir("/"))}
    try:
        with open("/tmp/fill", "wb") as fh:
            for _ in range(256):
                fh.write(bytes(1 << 20))
    except OSError:
        pass
    f["tmp_mb"] = os.path.getsize("/tmp/fill") >> 20
    pids = []
    try:
        for _ in range(3000):
            pid = os.fork()
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            pids.append(pid)
    except OSError:
        pass
    f["forks"] = len(pids)
    for pid in pids:
        os.kill(pid, 9)
    print("FINDINGS " + json.dumps(f))
    raise ValueError("probed")
'''


@needs_namespace
def test_the_sandbox_shows_only_what_a_submission_needs_and_limits_what_it_fills(tmp_path, monkeypatch):
    """Issue 32, 5-7 and 12-13: a classmate's notebook, another checkout, the solutions, the home folder and the
    output folder are not there; the code is not root and has no capabilities; the grader's environment does not
    reach it; /tmp is small; processes are limited."""
    token = uuid.uuid4().hex[:8]
    monkeypatch.setenv("COURSE_REDTEAM_SECRET", token)
    classmate = tmp_path / "class" / "bob.ipynb"
    classmate.parent.mkdir()
    classmate.write_text("{}")
    other = tmp_path / "other-checkout" / "solutions"
    other.mkdir(parents=True)
    home = Path.home() / f".course-redteam-{token}"  # the home folder: only the interpreter, when it lives there
    home.write_text("x")
    paths = [str(classmate), str(classmate.parent), str(other), str(ROOT / "solutions"), str(ROOT / "tests"),
             str(ROOT / ".git"), str(home), "/etc/shadow", "/home", str(tmp_path)]
    path = make_submission(tmp_path / "class" / "01_jensen_elbo.ipynb",
                           replace={"log_marginal": f"PATHS = {paths!r}\n" + PROBE})
    try:
        results = _grade(path, execute=False, limits=Limits(test_timeout=120, load_timeout=30))
    finally:
        home.unlink()
    line = next(ln for ln in outputs(results, "log_marginal").splitlines() if ln.startswith("FINDINGS "))
    f = json.loads(line[len("FINDINGS "):])
    print(f)
    assert f["seen"] == [], "visible in the sandbox"
    assert f["uid"] != 0 and f["gid"] != 0 and int(f["cap"], 16) == 0
    assert f["secret"] is None and token not in json.dumps(results)
    assert set(f["env"]) <= {"PATH", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "HOME", "TMPDIR", "MPLBACKEND",
                             "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONNOUSERSITE", "MPLCONFIGDIR", "IPYTHONDIR",
                             "OMP_NUM_THREADS", "MKL_NUM_THREADS", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR",
                             "JUPYTER_PLATFORM_DIRS", "PWD", "SHLVL", "_", "LC_CTYPE",
                             "TORCHINDUCTOR_CACHE_DIR"} | {
        k for k in f["env"] if k.startswith("COURSE_") and k != "COURSE_REDTEAM_SECRET"}
    assert f["tmp_mb"] <= 64 and f["forks"] < 1000
    assert by_exercise(results)["elbo"] == (3.0, 3.0)


@needs_namespace
def test_the_kernel_cannot_write_the_run_report(tmp_path):
    """Issue 32, 8: the notebook's kernel writes a fake run report into every pipe it can open under /proc."""
    fake = "INJECTED-" + uuid.uuid4().hex[:8]
    cell = ("import os, json\nmsg = json.dumps({'ev': 'report', 'cells': [], 'stopped': %r}).encode()\n"
            "for pid in os.listdir('/proc'):\n    try:\n        fds = os.listdir(f'/proc/{pid}/fd')\n"
            "    except OSError:\n        continue\n    for fd in fds:\n        try:\n"
            "            w = os.open(f'/proc/{pid}/fd/{fd}', os.O_WRONLY | os.O_NONBLOCK)\n"
            "            os.write(w, len(msg).to_bytes(4, 'big') + msg)\n            os.close(w)\n"
            "        except OSError:\n            pass\n") % fake
    path = make_submission(tmp_path / "01_jensen_elbo.ipynb", after=[cell])
    results = _grade(path, execute=True)
    assert fake not in json.dumps(results)
    assert results["score"] == pytest.approx(7.0)


@needs_namespace
def test_a_submission_that_outlives_itself_reaches_nothing_graded_after_it(tmp_path):
    """Issue 32, 3: a process started by one submission keeps reading and writing the pipes it had; the blank
    notebook graded next on the same worker still scores 0, and the process is gone."""
    marker = f"redteam-{uuid.uuid4().hex[:8]}"
    daemon = (
        "def log_marginal(log_joint):\n"
        "    import os, sys, time\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        if os.fork() == 0:\n"
        f"            sys.argv[0] = {marker!r}\n"
        "            ok = b'{\"ok\": true, \"value\": {\"T\": 0}}'\n"
        "            end = time.time() + 120\n"
        "            while time.time() < end:\n"
        "                try:\n"
        "                    os.read(int(sys.argv[1]), 1 << 16)\n"
        "                    os.write(int(sys.argv[2]), len(ok).to_bytes(4, 'big') + ok)\n"
        "                except OSError:\n"
        "                    time.sleep(0.1)\n"
        "            os._exit(0)\n"
        "        os._exit(0)\n"
        "    time.sleep(1)\n"
        "    return torch.logsumexp(log_joint, dim=1)\n"
    )
    folder = tmp_path / "subs"
    folder.mkdir()
    make_submission(folder / "a_attacker.ipynb", replace={"log_marginal": daemon})
    (folder / "b_blank.ipynb").write_bytes(STUDENT01.read_bytes())
    done, _ = run_batch(folder, tmp_path / "out", workers=1, assignment="01", execute=False, limits=LIMITS,
                        log=lambda *a, **k: None)
    scores = {d["student"]: d["score"] for d in done}
    assert scores["b_blank"] == 0
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    assert not left, "a process of the first submission outlived it"


def test_batch_input_hygiene(tmp_path):
    """Issue 32, 9-11: formula-like IDs are escaped in gradebook.csv, IDs that clean alike are both graded, symlinks
    are refused with a note and never followed."""
    folder = tmp_path / "subs"
    folder.mkdir()
    secret = tmp_path / "secret.ipynb"
    secret.write_text("SECRET-" + uuid.uuid4().hex)
    os.chmod(secret, 0o600)
    for name in ("@SUM(1+1)", "-2+3", "alice", "alice.", "=HYPERLINK(x)"):
        (folder / f"{name}.ipynb").write_bytes(STUDENT01.read_bytes())
    (folder / "mallory.ipynb").symlink_to(secret)
    notes = []
    done, book = run_batch(folder, tmp_path / "out", workers=2, assignment="01", execute=False, limits=LIMITS,
                           trust=True, log=lambda *a, **k: notes.append(" ".join(map(str, a))))
    students = sorted(d["student"] for d in done)
    assert len(students) == 5 and len(set(students)) == 5, students  # alice and alice. both there
    assert sum(s.startswith("alice") for s in students) == 2
    assert not any("mallory" in s for s in students)
    assert any("refused" in n and "mallory" in n for n in notes), notes
    assert "SECRET-" not in "".join(p.read_text(errors="replace") for p in (tmp_path / "out").rglob("*.json"))
    rows = list(csv.reader(book.open()))
    for row in rows:
        for cell in row:
            assert cell[:1] not in ("=", "+", "@", "\t", "\r") and not (
                cell.startswith("-") and not cell.replace("-", "", 1).replace(".", "", 1).isdigit()), cell
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and csv_cell("-2+3") == "'-2+3"
    assert csv_cell("-2.5") == "-2.5" and csv_cell(3.0) == 3.0


def test_a_notebook_too_large_is_refused_before_it_is_parsed(tmp_path):
    """Issue 32, 14."""
    path = tmp_path / "01_jensen_elbo.ipynb"
    path.write_bytes(b'{"cells": [{"cell_type": "markdown", "metadata": {}, "source": "' + b"x" * (3 << 20)
                     + b'"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    results = _grade(path, execute=False, limits=Limits(notebook_mb=1))
    assert results["score"] == 0 and "more than the 1 MB" in json.dumps(results)


def test_a_slow_submission_stays_within_its_time_budget(tmp_path):
    """Issue 32, 15: every function loops; the whole grading stays within --submission-timeout."""
    loop = {n: f"def {n}(*args):\n    while True:\n        pass\n" for n in ("log_marginal", "elbo", "posterior")}
    path = make_submission(tmp_path / "01_jensen_elbo.ipynb", replace=loop)
    results = _grade(path, execute=False, limits=Limits(test_timeout=8, submission_timeout=20, load_timeout=30))
    assert results["score"] == 0 and results["execution_time"] <= 60
    assert "not run" in json.dumps(results)


def test_the_untouched_notebook_still_scores_zero_with_every_test_counted():
    results = _grade(STUDENT01, execute=False)
    assert results["score"] == 0 and by_exercise(results)["elbo"] == (0.0, 3.0)
    assert NB01.exists()


def test_the_wire_carries_plain_data_only():
    """What the judge decodes from the sandbox: plain values and fresh plain tensors of standard dtypes; a pickle,
    an object array, a subclass or a malformed message is refused."""
    import io

    import numpy as np
    import torch

    from course_utils.grade import wire

    class Sub(torch.Tensor):
        pass

    enc = wire.Encoder()
    value = {"a": [1, 2.5, None, "x"], "t": torch.arange(6.0).reshape(2, 3), "s": torch.Size([2]), "b": True}
    head, blobs = wire.unpack(wire.pack({"v": enc(value)}, enc))
    back = wire.Decoder(blobs)(head["v"])
    assert back["a"] == [1, 2.5, None, "x"] and type(back["t"]) is torch.Tensor and back["s"] == torch.Size([2])
    assert torch.equal(back["t"], value["t"])
    with pytest.raises(wire.NotData):
        wire.Encoder()(torch.zeros(2).as_subclass(Sub))
    with pytest.raises(wire.NotData):
        wire.Encoder()(object())
    buf = io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(wire.WireError):
        wire.bytes_tensor("float64", buf.getvalue())
    with pytest.raises(wire.WireError):
        wire.Decoder([])({"H": 1, "kind": "module"})  # a handle, where none is expected
    for junk in (b"", b"\xff" * 12, b"\x01\x00\x00\x00\x00\x00\x00\x00{", wire.pack({"x": 1}) + b"tail"):
        with pytest.raises(wire.WireError):
            wire.unpack(junk)


def test_the_report_pipe_takes_json_within_its_limits_and_never_unpickles(tmp_path):
    """The notebook runner's report pipe (grade.protocol), as the grader reads it: one JSON object a message; a
    pickle, garbage, the old framing, a message too long, EOF, silence or a sender stopped inside a message is a
    failure (an exception), never a report, and a stopped sender is killed at the deadline."""
    import pickle
    import struct
    import time

    from course_utils.grade import protocol

    def frame(b: bytes) -> bytes:
        return struct.pack("!i", len(b)) + b

    def read(data: bytes, timeout=1.0, stall=False):
        r, w = os.pipe()
        closed = []

        def kill():  # what the grader does to a runner that stalls: its write end closes
            closed.append(True)
            os.close(w)

        chan = protocol.Channel(r, kill)
        os.write(w, data)
        if not stall:
            kill()
        try:
            return chan.recv(timeout)
        finally:
            chan.close()
            if not closed:
                os.close(w)

    r, w = os.pipe()
    chan, out = protocol.Channel(r), protocol.sender(w)
    assert not os.get_inheritable(w)
    protocol.send(out, {"ev": "kernel", "pid": 7})
    protocol.send(out, {"ev": "report", "cells": []})
    out.close()
    assert chan.recv(5) == {"ev": "kernel", "pid": 7} and chan.recv(5) == {"ev": "report", "cells": []}
    with pytest.raises(EOFError):
        chan.recv(5)
    chan.close()

    planted = tmp_path / "unpickled"

    class Plant:
        def __reduce__(self):
            return open, (str(planted), "w")

    for junk in (frame(pickle.dumps(Plant())), frame(b"[1]"), frame(b"\xff"), frame(b"{"), b"\xff\xff\xff\xf0"):
        with pytest.raises(ValueError):
            read(junk)
    assert not planted.exists()
    for junk in (struct.pack("!i", protocol.MAX_MESSAGE + 1), b"%010d{}" % 2, frame(b"{}")[:5]):
        with pytest.raises(OSError) as e:  # too long (the old 10-digit framing reads as 808 MB), cut off
            read(junk)
        assert e.type is OSError
    with pytest.raises(EOFError):
        read(b"")
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        read(b"", stall=True)
    with pytest.raises(OSError) as e:  # a sender stopped inside a message: killed at the deadline, the read ends
        read(frame(b'{"ev": "report"}')[:10], stall=True)
    assert e.type is OSError
    assert time.monotonic() - t0 < 6


def test_math_in_a_written_answers_link_cannot_add_attributes_to_the_ta_page():
    """A written answer puts math (kept out of the Markdown renderer, put back after it) inside a link's and an
    image's URL, with quotes in it: on the TA's page it stays inside the attribute, never a new one."""
    from course_utils.grade.written import render_markdown

    out = render_markdown('[x](http://a/$"style="position:fixed;inset:0"onclick="alert(1)$) '
                          '![$"onerror="alert(1)$](http://b/$"x="$)')
    assert 'style="' not in out and 'onclick="' not in out and 'x="' not in out, out
    assert "$&quot;style=&quot;position:fixed" in out


def test_escape_sequences_in_a_submissions_output_do_not_reach_the_tas_terminal(tmp_path):
    """The public check's output is printed in the terminal of the TA who runs ./course grade: a submission that
    prints escape sequences (set the clipboard, clear the screen and write "all tests passed") shows them as text."""
    evil = "\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\x1b[1;1Hall tests passed\r"
    path = make_submission(tmp_path / "01_jensen_elbo.ipynb", replace={
        "log_marginal": f"def log_marginal(log_joint):\n    print({evil!r})\n    return log_joint[:, 0]\n"})
    summary = _grade(path, execute=False).summary()
    assert "\\x1b]52;c;" in summary, summary
    assert not any(ord(c) < 32 and c not in "\n\t" or 0x7f <= ord(c) <= 0x9f for c in summary)


def test_an_array_named_many_times_in_a_reply_is_refused_not_copied():
    """A reply of one array and a list that names it 100,000 times: copies in the judge, 100,000 times the message
    (a 256 MB array gets the grader killed for memory, and a batch with it). An array is read once, a second mention
    refused (here 1 MB named 200 times, so that a grader without the refusal survives the test)."""
    import torch

    from course_utils.grade import wire

    enc = wire.Encoder()
    ref = enc(torch.zeros(1 << 17, dtype=torch.float64))
    head, blobs = wire.unpack(wire.pack({"value": {"l": [ref] * 200}}, enc))
    with pytest.raises(wire.WireError):
        wire.Decoder(blobs)(head["value"])
    pair = wire.Encoder()
    value = pair((torch.ones(2), torch.ones(2)))  # the same tensor twice is sent twice, and reads back
    head, blobs = wire.unpack(wire.pack({"value": value}, pair))
    assert [t.tolist() for t in wire.Decoder(blobs)(head["value"])] == [[1.0, 1.0]] * 2


def test_a_hidden_tests_error_names_nothing_the_submission_chose(tmp_path):
    """The child names its exceptions itself (agent._error_name replaced): a hidden test's error would then show an
    identifier made of the hidden inputs. The judge names only builtin exceptions; the rest is "Exception"."""
    leak = ("import course_utils.grade.agent as _agent\n\n\nclass _Install:\n"
            "    _agent._error_name = lambda e: str(e)\n\n\n"
            "def log_marginal(log_joint):\n"
            "    raise ValueError('Leak_' + '_'.join(str(round(float(v))).replace('-', 'm') "
            "for v in log_joint.flatten()[:4]))\n")
    path = make_submission(tmp_path / "01_jensen_elbo.ipynb", replace={"log_marginal": leak})
    results = _grade(path, execute=False)
    hidden = [o for o in results.outcomes() if o.kind == HIDDEN and o.exercise == "log_marginal"]
    assert hidden and "Exception" in hidden[0].output and "Leak_" not in hidden[0].output, hidden


def test_a_submitted_symlink_to_the_solution_is_not_followed(tmp_path):
    """A submission (a folder, as Gradescope's, or the file) that is a symbolic link to the solution notebook: the
    grader reads it as its own user, before any sandbox, so it would grade the solution. It is refused."""
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "01_jensen_elbo.ipynb").symlink_to(NB01)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inner").symlink_to(NB01.parent, target_is_directory=True)
    for path in (folder, folder / "01_jensen_elbo.ipynb", tmp_path / "sub"):
        results = _grade(path, assignment="01", execute=False)
        assert results["score"] == 0, (path, by_exercise(results))
