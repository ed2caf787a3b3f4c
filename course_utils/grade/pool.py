"""The grader's side of the test runner: :class:`Runner` starts one runner process (:mod:`.runner`, which forks a
fresh child per exercise) in a sandbox and speaks its protocol (:mod:`.protocol`); :class:`RunnerPool` keeps
runners warm across gradings."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from .isolation import Isolation, outer_pid
from .limits import Limits
from .protocol import Channel, send
from .sandbox import Sandbox, kill_group
from .spec import Assignment, Unit


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
        if self.proc is not None and self.proc.poll() is None:
            try:
                self._send_defs()
                return
            except (EOFError, ValueError, OSError, TimeoutError):  # dying, not yet reaped: a submission killed it
                self._drop_runner(None)
        # a pooled runner that a submission killed, or none yet
        self.start()
        err = self.wait_ready()  # sends the definitions once ready
        if err:
            raise RuntimeError(f"the test runner could not start: {err}")

    def _send_defs(self):
        self.send({"op": "defs", "cells": self.defs.cells})
        self.chan.recv(60)

    def send(self, obj):
        send(self.cmd, obj)

    def close(self):
        if self.proc is not None:
            kill_group(self.proc.pid)  # nothing to flush: a clean exit with torch loaded only takes longer
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
        pid = None
        for attempt in (1, 2):
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
            try:
                self.send({"op": "run", "hidden": hidden})
                pid = self.chan.recv(60)["pid"]
                break
            except (EOFError, ValueError, KeyError, OSError, TimeoutError):
                # The warm runner was dying (the unit before killed it) but not yet reaped, so poll() missed it.
                # None of this unit's code has run: a fresh runner, once (under load that window is wide).
                self._drop_runner(None)
                if attempt == 2:
                    fail_rest("the test runner stopped before these tests could start; they could not run")
                    return results
        try:
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
            self._drop_runner(pid)
            fail_rest("the test process stopped unexpectedly (did your code kill it, or write to its pipes?)")
        return results

    def _drop_runner(self, pid) -> None:
        """Kill the test child ``pid`` (if any) and the runner; the next unit starts a fresh runner."""
        if pid is not None:
            kill_group(self._outer(pid))
        if self.proc is not None:
            kill_group(self.proc.pid)
            self.proc.wait()
            os.close(self.cmd)
            self.chan.close()
            self.proc = None

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
        kill_group(self._outer(pid))
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


__all__ = ["Runner", "RunnerPool"]
