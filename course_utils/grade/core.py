"""The grader: one submission in, Gradescope's results.json out (see the package docstring)."""

from __future__ import annotations

import json
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..paths import REPO_ROOT
from .extract import defined_names, definitions
from .isolation import Isolation, choose, outer_pid
from .runner import HEADER, send
from .spec import Assignment, SpecError, Unit, find_solution, guess_assignment, load_assignment

SOLUTIONS_DIR = REPO_ROOT / "solutions"


@dataclass
class Limits:
    """Every limit of a grading run. Defaults depend on the profile (``fast`` for CI and Gradescope)."""

    cell_timeout: float = 300  # seconds, one notebook cell while the submission runs top to bottom
    total_timeout: float = 900  # seconds, the whole top-to-bottom run
    test_timeout: float = 60  # seconds, one test statement (a check call or one hidden assert)
    load_timeout: float = 60  # seconds, loading the submission's definitions
    memory_mb: int = 8192  # address-space limit of the kernel and of each test process
    output_limit: int = 4000  # characters of a public check's output kept for the feedback
    grading_timeout: float = 1800  # seconds for everything; tests not started by then fail as "not run"

    @classmethod
    def for_profile(cls, profile: str, **overrides) -> "Limits":
        base = cls() if profile == "fast" else cls(3600, 4 * 3600, 600, 120, 16384, 4000, 6 * 3600)
        for k, v in overrides.items():
            if v is not None:
                setattr(base, k, type(getattr(base, k))(v))
        return base


# ----------------------------------------------------------------------------- a framed pipe
class Channel:
    """Length-prefixed JSON messages read from a pipe, with a deadline."""

    def __init__(self, fd: int):
        self.fd, self.buf = fd, b""

    def recv(self, timeout: float):
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= HEADER:
                n = int(self.buf[:HEADER])  # ValueError on garbage: the caller treats it as tampering
                if len(self.buf) >= HEADER + n:
                    msg = json.loads(self.buf[HEADER : HEADER + n])
                    self.buf = self.buf[HEADER + n :]
                    return msg
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                chunk = os.read(self.fd, 1 << 16)
                if not chunk:
                    raise EOFError
                self.buf += chunk

    def close(self):
        try:
            os.close(self.fd)
        except OSError:
            pass


def _kill_group(pid: int | None) -> None:
    if not pid:
        return
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
            return
        except (ProcessLookupError, PermissionError, OSError):
            continue


# ----------------------------------------------------------------------------- the sandbox
class Sandbox:
    """A private folder for one grading run: the kernel's and the tests' working folders, cache and home, and
    how the submission's processes are isolated (:mod:`.isolation`)."""

    def __init__(self, run_as: tuple[int, int] | None, isolation: Isolation | None = None):
        self.isolation = isolation or choose(run_as)
        self.root = Path(tempfile.mkdtemp(prefix="course-grade-")).resolve()
        os.chmod(self.root, 0o711)
        self.work, self.scratch, self.cache, self.home = (self.root / n for n in ("work", "scratch", "cache", "home"))
        for d in (self.work, self.scratch, self.cache, self.home):
            d.mkdir()
            if run_as:
                os.chown(d, *run_as)
        self.run_as = run_as
        self._seed_data_cache()

    def _seed_data_cache(self):
        """Copy the decoded datasets (not trained models) into the private cache: saves decoding them again."""
        try:
            from ..paths import cache_dir

            target = self.cache / "data"
            target.mkdir(exist_ok=True)
            for f in cache_dir("data").glob("*.pt"):
                shutil.copyfile(f, target / f.name)
            if self.run_as:
                for f in [target, *target.iterdir()]:
                    os.chown(f, *self.run_as)
        except OSError:
            pass

    def env(self, profile: str) -> dict:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("COURSE_VERIFY_STORED", "COURSE_RECORD_STORED", "COURSE_RETRAIN", "PYTHONSTARTUP",
                         "NBGRADER_EXECUTION")  # our checks would raise; the grader reads their results itself
        }
        env.update(
            COURSE_PROFILE=profile,
            COURSE_CACHE=str(self.cache),
            HOME=str(self.home),
            MPLBACKEND="Agg",
            COURSE_DOWNLOAD="0",
            COURSE_PROGRESS="0",
            PYTHONDONTWRITEBYTECODE="1",
            MPLCONFIGDIR=str(self.home / "mpl"),
            IPYTHONDIR=str(self.home / "ipython"),
            JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
            JUPYTER_DATA_DIR=str(self.home / "jupyter"),
            PYTHONPATH=os.pathsep.join(
                [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
            ),
        )
        return env

    def command(self, argv: list[str], cwd: Path) -> list[str]:
        """``argv`` started inside this sandbox's isolation, with this sandbox's folder its one writable place."""
        return self.isolation.command(argv, self.root, cwd)

    def isolate_children(self) -> dict | None:
        """What a warm runner's children need to isolate themselves (:func:`.isolation.isolate_child`)."""
        if self.isolation.kind != "namespace":
            return None
        return {"root": str(self.root), "fresh": [str(self.scratch), str(self.home), str(self.cache)],
                "keep": [str(self.cache / "data")]}

    def cleanup(self):
        if self.run_as:  # whatever the submission left running as that user
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        if os.stat(f"/proc/{pid}").st_uid == self.run_as[0]:
                            os.kill(int(pid), signal.SIGKILL)
                    except OSError:
                        pass
        if os.environ.get("COURSE_GRADE_KEEP") == "1":  # debugging the grader: keep logs and folders
            print(f"kept {self.root}", file=sys.stderr)
            return
        shutil.rmtree(self.root, ignore_errors=True)


# ----------------------------------------------------------------------------- phase 1: run the notebook
def execute_notebook(nb_path: Path, sandbox: Sandbox, env: dict, limits: Limits) -> dict:
    """Run the submission top to bottom in its own kernel (feedback only); returns the executor's report."""
    r, w = os.pipe()
    user = {}
    if sandbox.run_as and os.getuid() == 0:
        user = dict(user=sandbox.run_as[0], group=sandbox.run_as[1], extra_groups=[])
    with open(sandbox.root / "execute.log", "wb") as log:
        proc = subprocess.Popen(
            sandbox.command(
                [
                    sys.executable,
                    "-m",
                    "course_utils.grade.execute",
                    str(nb_path),
                    str(w),
                    "--cell-timeout",
                    str(limits.cell_timeout),
                    "--total-timeout",
                    str(limits.total_timeout),
                    "--memory-mb",
                    str(limits.memory_mb),
                ],
                sandbox.work,
            ),
            pass_fds=(w,),
            cwd=sandbox.work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            **user,
        )
    os.close(w)
    chan, kernel_pid, report = Channel(r), None, None
    deadline = time.monotonic() + limits.total_timeout + 90
    try:
        while report is None:
            try:
                msg = chan.recv(max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                report = {"cells": [], "stopped": f"the notebook did not finish within {limits.total_timeout:g} s"}
                break
            except (EOFError, ValueError):
                report = {"cells": [], "stopped": "the notebook runner stopped unexpectedly"}
                break
            if msg.get("ev") == "kernel":
                kernel_pid = msg.get("pid")
            elif msg.get("ev") == "report":
                report = msg
    finally:
        chan.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        if proc.poll() is None:
            _kill_group(proc.pid)  # in a namespace sandbox, everything inside dies with it
            if sandbox.isolation.kind != "namespace":  # there, kernel_pid is a PID inside the sandbox
                _kill_group(kernel_pid)
            proc.wait()
    return report


# ----------------------------------------------------------------------------- phase 2: the tests
class Runner:
    """The warm test-runner process (:mod:`course_utils.grade.runner`) and the grader's side of its protocol."""

    def __init__(self, assignment: Assignment, sandbox: Sandbox, env: dict, limits: Limits):
        self.assignment, self.sandbox, self.env, self.limits = assignment, sandbox, env, limits
        self.proc = None
        self.defs = None
        self.starts = 0
        self.restarts = 0  # during the current grading

    def start(self):
        self.close()
        self.starts += 1
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()
        with open(self.sandbox.root / f"runner{self.starts}.log", "wb") as log:
            self.proc = subprocess.Popen(
                self.sandbox.command(
                    [
                        sys.executable,
                        "-c",
                        "import sys; from course_utils.grade.runner import main; sys.exit(main())",
                        str(cmd_r),
                        str(res_w),
                    ],
                    self.sandbox.scratch,
                ),
                pass_fds=(cmd_r, res_w),
                cwd=self.sandbox.scratch,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        os.close(cmd_r)
        os.close(res_w)
        self.cmd, self.chan = cmd_w, Channel(res_r)
        a = self.assignment
        self.send(
            {
                "op": "init",
                "setup": a.setup_source,
                "notebook": a.notebook,
                "checks_module": a.checks_module,
                "graded": a.graded_names,
                "memory_mb": self.limits.memory_mb,
                "scratch": str(self.sandbox.scratch),
                "run_as": list(self.sandbox.run_as) if self.sandbox.run_as else None,
                "nproc": 512 if self.sandbox.run_as else None,
                "isolate": self.sandbox.isolate_children(),
                "output_limit": self.limits.output_limit,
            }
        )
        self.ready = None

    def wait_ready(self) -> str | None:
        """Block until the runner has imported everything; returns an error in words, or None."""
        if self.ready is None:
            try:
                msg = self.chan.recv(300)
                self.ready = msg.get("error") or ""
            except (TimeoutError, EOFError, ValueError) as e:
                self.ready = f"the test runner did not start ({type(e).__name__})"
            if self.defs is not None and not self.ready:
                self._send_defs()
        return self.ready or None

    def set_definitions(self, defs):
        self.defs, self.restarts = defs, 0
        if self.proc is None or self.proc.poll() is not None:  # a pooled runner that a submission killed
            self.start()
            err = self.wait_ready()  # sends the definitions once ready
            if err:
                raise RuntimeError(f"the test runner could not start: {err}")
            return
        self._send_defs()

    def _send_defs(self):
        self.send({"op": "defs", "cells": self.defs.cells})
        self.chan.recv(60)

    def send(self, obj):
        send(self.cmd, obj)

    def close(self):
        if self.proc is not None:
            _kill_group(self.proc.pid)  # nothing to flush: a clean exit with torch loaded only takes longer
            self.proc.wait()
            os.close(self.cmd)
            self.chan.close()
            self.proc = None

    def run(self, unit: Unit, hidden: bool, state: dict) -> list[dict]:
        """Run the public or the hidden statements of one unit in a fresh child; one result per statement."""
        statements = unit.hidden if hidden else unit.public
        results: list[dict] = []

        def fail_rest(why: str):
            while len(results) < len(statements):
                results.append({"ok": False, "error": why})

        if not statements:
            return results
        if time.monotonic() > state.get("deadline", float("inf")):
            fail_rest(f"not run: the time limit for the whole grading ({self.limits.grading_timeout:g} s) was reached")
            return results
        if state.get("load_hang"):
            fail_rest(state["load_hang"])
            return results
        if self.proc is None or self.proc.poll() is not None:
            self.restarts += 1
            if self.restarts > 3:
                fail_rest("the test runner kept crashing; these tests could not run")
                return results
            self.start()
            err = self.wait_ready()
            if err:
                fail_rest(f"the test runner could not start: {err}")
                return results
        pid = None
        try:
            self.send({"op": "run", "hidden": hidden})
            msg = self.chan.recv(60)
            pid = msg["pid"]
            self.send({"op": "go"})
            msg = self._next(min(self.limits.load_timeout, self._left(state)))
            if msg is None:
                state["load_hang"] = (
                    f"loading your definitions took longer than {self.limits.load_timeout:g} s "
                    "(a loop at the top level of a class, or in a default argument?)"
                )
                self._kill(pid)
                fail_rest(state["load_hang"])
                return results
            if msg.get("ev") == "isolation_failed":  # fail closed: the submission's code did not run
                raise RuntimeError(f"the test process could not isolate itself: {msg.get('why')}")
            if msg.get("ev") == "exited":
                fail_rest("loading your definitions ended the process (sys.exit or os._exit at the top level?)")
                return results
            if not hidden:
                state.setdefault("notes", msg.get("notes", []))
            if unit.exercise not in msg.get("defined", []):
                fail_rest(
                    f"`{unit.exercise}` is not defined in your notebook. Keep the exercise's `def {unit.exercise}` "
                    "(or `class`) line as it was given, and run its cell without errors."
                )
            elif msg.get("tampered"):
                fail_rest(_tamper_text(msg["tampered"]))
            for st in statements[len(results) :]:
                self.send({"op": "stmt", "src": st.source, "kind": st.kind, "hidden": st.hidden})
                limit = min(self.limits.test_timeout, self._left(state))
                msg = self._next(limit)
                if msg is None:
                    self._kill(pid)
                    results.append({"ok": False, "error": f"timed out after {limit:.0f} s (an infinite loop?)"})
                    fail_rest("not run: an earlier test of this exercise timed out")
                    return results
                if msg.get("ev") == "exited":
                    results.append(
                        {
                            "ok": False,
                            "error": "your code ended the test process (sys.exit, os._exit, "
                            f"a crash or the memory limit; {_exit_text(msg)})",
                        }
                    )
                    fail_rest("not run: an earlier test of this exercise ended the process")
                    return results
                if msg.get("tampered"):
                    msg = {**msg, "ok": False, "error": _tamper_text(msg["tampered"])}
                results.append(msg)
            self.send({"op": "end"})
            if self._next(10) is None:
                self._kill(pid)
        except (EOFError, ValueError, KeyError, OSError, TimeoutError):
            # the runner died, or someone wrote garbage into its pipe: start a fresh one for the next unit
            _kill_group(self._outer(pid))
            if self.proc is not None:
                _kill_group(self.proc.pid)
                self.proc.wait()
                os.close(self.cmd)
                self.chan.close()
                self.proc = None
            fail_rest("the test process stopped unexpectedly (did your code kill it, or write to its pipes?)")
        return results

    @staticmethod
    def _left(state: dict) -> float:
        return max(1.0, state.get("deadline", float("inf")) - time.monotonic())

    def _next(self, timeout: float):
        """The child's next message; ``None`` on timeout; the runner's ``exited`` message if the child died."""
        try:
            return self.chan.recv(timeout)
        except TimeoutError:
            return None

    def _outer(self, pid: int | None) -> int | None:
        """A child's PID as the grader sees it (in a namespace sandbox the runner reports the PID inside)."""
        if pid is None or self.sandbox.isolation.kind != "namespace" or self.proc is None:
            return pid
        return outer_pid(pid, self.proc.pid)

    def _kill(self, pid: int):
        _kill_group(self._outer(pid))
        while True:  # drain up to the runner's "exited"
            msg = self.chan.recv(30)
            if msg.get("ev") == "exited":
                return


class RunnerPool:
    """Warm test runners kept across gradings (one per assignment), for grading many submissions in a row.

    ``with RunnerPool() as pool: grade(a, pool=pool); grade(b, pool=pool)``. Children are still forked fresh for
    every exercise of every submission, from a runner that never runs submitted code; only the start-up (importing
    torch, running the setup cell) is shared.
    """

    def __init__(self):
        self.runners: dict = {}
        self.sandboxes: list[Sandbox] = []

    def runner(self, spec: Assignment, profile: str, limits: Limits, run_as, isolation: Isolation | None = None
               ) -> Runner:
        key = (str(spec.path), profile, limits.memory_mb, limits.output_limit, run_as)
        if key not in self.runners:
            box = Sandbox(run_as, isolation)
            self.sandboxes.append(box)
            r = Runner(spec, box, box.env(profile), limits)
            r.start()
            self.runners[key] = r
        r = self.runners[key]
        r.limits = limits
        return r

    def close(self):
        for r in self.runners.values():
            r.close()
        for box in self.sandboxes:
            box.cleanup()
        self.runners, self.sandboxes = {}, []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _exit_text(msg: dict) -> str:
    if "signal" in msg:
        name = {9: "SIGKILL", 11: "SIGSEGV", 6: "SIGABRT", 15: "SIGTERM"}.get(msg["signal"], f"signal {msg['signal']}")
        return f"killed by {name}"
    return f"exit code {msg.get('code')}"


def _tamper_text(names: list[str]) -> str:
    return (
        "your code replaced "
        + ", ".join(f"`{n}`" for n in names[:5])
        + ": changing torch, math, builtins or the checks is not allowed, so this test fails"
    )


# ----------------------------------------------------------------------------- results
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


def error_results(message: str, elapsed: float, max_score: float = 0.0, name: str = "Autograder error") -> dict:
    """A valid results.json that says grading failed, and why."""
    return {
        "score": 0.0,
        "execution_time": math.ceil(elapsed),
        "output": f"{name}: {message}",
        "stdout_visibility": "hidden",
        "tests": [{"name": name, "score": 0.0, "max_score": _r(max_score), "output": message, "visibility": "visible"}],
    }


def write_results(results: dict, out: Path, fmt: str = "gradescope", hidden_visibility: str = "visible") -> dict:
    """Write ``results`` as ``fmt`` (gradescope or prairielearn) to ``out``: see :mod:`.results`."""
    from .results import write

    return write(results, out, fmt, hidden_visibility)


# ----------------------------------------------------------------------------- the whole thing
def grade(
    submission,
    assignment: str | None = None,
    solutions_dir=None,
    profile: str | None = None,
    execute: bool = True,
    run_as: str | None = None,
    limits: Limits | None = None,
    pool: "RunnerPool | None" = None,
    isolation: Isolation | None = None,
) -> dict:
    """Grade one submission and return Gradescope's results as a dict (never raises for a bad submission).

    ``isolation`` (default: :func:`.isolation.choose`, the strongest this machine allows) keeps the submission's
    code away from the course and from other submissions."""
    t0 = time.monotonic()
    profile = profile or os.environ.get("COURSE_GRADE_PROFILE") or "fast"
    limits = limits or Limits.for_profile(profile)
    solutions_dir = Path(solutions_dir or SOLUTIONS_DIR)
    submission = Path(submission)
    spec: Assignment | None = None
    try:
        if submission.is_dir():
            submission = _pick_notebook(submission, assignment)
        raw = submission.read_bytes() if submission.is_file() else None
        text = raw.decode("utf-8", errors="replace") if raw is not None else None
        key = assignment or guess_assignment(submission, text)
        if key is None:
            return error_results(
                "cannot tell which assignment this is: pass --assignment NN "
                "(or keep the notebook's name, e.g. 01_jensen_elbo.ipynb)",
                time.monotonic() - t0,
                name="Submission error",
            )
        spec = load_assignment(find_solution(key, solutions_dir))
    except SpecError as e:
        return error_results(str(e), time.monotonic() - t0)
    except Exception as e:  # noqa: BLE001
        return error_results(f"{type(e).__name__}: {e}", time.monotonic() - t0)

    try:
        nb = nbformat.reads(text, as_version=4) if text is not None else None
        if nb is not None:
            nb.cells  # noqa: B018 - raises on a notebook without cells
    except Exception as e:  # noqa: BLE001 - not JSON, not a notebook
        nb = None
        read_error = f"{type(e).__name__}: {str(e)[:200]}"
    else:
        read_error = None if nb is not None else f"{submission} does not exist"
    if nb is None:
        return _all_failed(
            spec,
            f"your notebook could not be read ({read_error}). Upload the .ipynb file itself, saved by Jupyter.",
            time.monotonic() - t0,
        )

    uid_gid = _user(run_as) if run_as else None
    sandbox = Sandbox(uid_gid, isolation)
    runner = None
    try:
        env = sandbox.env(profile)
        defs = definitions(nb)
        if pool is not None:
            runner = pool.runner(spec, profile, limits, uid_gid, sandbox.isolation)
        else:
            runner = Runner(spec, sandbox, env, limits)
            runner.start()  # imports torch while the notebook runs
        report = None
        if execute:
            target = sandbox.work / "submission.ipynb"
            target.write_bytes(raw)
            if uid_gid:
                os.chown(target, *uid_gid)
            report = execute_notebook(target, sandbox, env, limits)
        err = runner.wait_ready()
        if err:
            raise RuntimeError(f"the test runner could not start: {err}")
        runner.set_definitions(defs)
        state: dict = {"deadline": t0 + limits.grading_timeout}
        public = {u.test_id: runner.run(u, False, state) for u in spec.units}  # every public check first,
        hidden = {u.test_id: runner.run(u, True, state) for u in spec.units}  # then the hidden tests
        tests = [e for u in spec.units for e in unit_entries(u, public[u.test_id], hidden[u.test_id])]
        score = _r(sum(t["score"] for t in tests))
        missing = [u.exercise for u in spec.units if u.exercise not in defined_names(defs)]
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
        if missing:
            lines.append("Not found in your notebook: " + ", ".join(f"`{m}`" for m in missing) + ".")
        notes = defs.notes + state.get("notes", [])
        if notes:
            lines.append("While loading your definitions:\n" + "\n".join(f"  {n}" for n in notes[:10]))
        return {
            "score": score,
            "execution_time": math.ceil(time.monotonic() - t0),
            "output": "\n".join(lines),
            "stdout_visibility": "hidden",
            "tests": tests,
        }
    except Exception as e:  # noqa: BLE001 - grading itself failed: still a valid file
        return error_results(f"{type(e).__name__}: {e}", time.monotonic() - t0, spec.total_points)
    finally:
        if runner is not None and pool is None:
            runner.close()
        sandbox.cleanup()


def _all_failed(spec: Assignment, why: str, elapsed: float) -> dict:
    tests = []
    for u in spec.units:
        tests += unit_entries(
            u, [{"ok": False, "error": why}] * len(u.public), [{"ok": False, "error": why}] * len(u.hidden)
        )
    for t in tests:
        if "(public check)" in t["name"]:
            t["output"] = f"Not graded: {why}"
    return {
        "score": 0.0,
        "execution_time": math.ceil(elapsed),
        "stdout_visibility": "hidden",
        "output": f"{spec.notebook}: 0 / {spec.total_points:g} points. Not graded: {why} "
        f"({spec.n_hidden} hidden tests were not run.)",
        "tests": tests,
    }


def _pick_notebook(folder: Path, assignment: str | None) -> Path:
    found = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if assignment:
        key = f"{int(assignment):02d}_" if str(assignment).isdigit() else str(assignment)
        match = [p for p in found if p.name.startswith(key)]
        found = match or found
    if not found:
        raise SpecError(f"no .ipynb file in {folder}")
    return found[0]


def _user(name: str) -> tuple[int, int]:
    import pwd

    pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid


def summary(results: dict) -> str:
    """The results, readable in a terminal."""
    lines = []
    for t in results.get("tests", []):
        mark = "ok " if t["score"] >= t["max_score"] - 1e-9 else "-- "
        lines.append(f"  {mark}{t['score']:6.2f} / {t['max_score']:<5.2f} {t['name']}")
        for line in str(t.get("output", "")).splitlines()[:6]:
            lines.append(f"                     {line[:150]}")
    head = str(results.get("output", "")).splitlines()
    total = f"score {results.get('score', 0):g} (in {results.get('execution_time', 0)} s)"
    return "\n".join(head[:1] + lines + head[1:] + [total])


__all__ = ["Limits", "RunnerPool", "grade", "write_results", "summary", "error_results"]
