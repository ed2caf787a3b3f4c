"""The grader's side of phase 2: :class:`Runner` starts one submission's sandboxed agent (:mod:`.agent`), has it
fork a fresh child per unit, and runs the unit's statements in the judge (:mod:`.judge`), in this process.

One runner serves one submission: its sandbox (and with it the whole PID namespace) is gone before the next
submission starts. :class:`RunnerPool` keeps the interface batch grading uses; it holds nothing warm between
submissions.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from multiprocessing.connection import Connection

from . import wire
from .judge import Remote, namespace, run_statement
from .limits import Limits
from .sandbox import Sandbox, kill_group
from .spec import Assignment, Unit


class Runner:
    """The submission's agent process in its sandbox, and the judge that runs the tests against it."""

    def __init__(self, assignment: Assignment, sandbox: Sandbox, env: dict, limits: Limits):
        self.assignment, self.sandbox, self.env, self.limits = assignment, sandbox, env, limits
        self.proc = None
        self.defs = None
        self.starts = 0
        self.restarts = 0  # during the current grading
        self.ready = None

    def start(self):
        self.close()
        self.starts += 1
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()
        with open(self.sandbox.root / f"runner{self.starts}.log", "wb") as log:
            self.proc = subprocess.Popen(
                self.sandbox.command(
                    [sys.executable, "-c", "import sys; from course_utils.grade.agent import main; sys.exit(main())",
                     str(cmd_r), str(res_w)],
                    self.sandbox.scratch,
                ),
                pass_fds=(cmd_r, res_w),
                cwd="/",
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                **self.sandbox.popen_user(),
            )
        os.close(cmd_r)
        os.close(res_w)
        self.cmd, self.res = Connection(cmd_w, readable=False), Connection(res_r, writable=False)
        a = self.assignment
        self._send({"op": "init", "setup": a.setup_source, "notebook": a.notebook, "checks_module": a.checks_module,
                    "graded": a.graded_names, "scratch": str(self.sandbox.scratch),
                    "output_limit": self.limits.output_limit, "rlimits": self.sandbox.rlimits(self.limits)})
        self.ready = None

    def _send(self, head: dict):
        self.cmd.send_bytes(wire.pack(head))

    def _recv(self, timeout: float) -> dict:
        """One message from the agent; TimeoutError, EOFError or ValueError when there is none."""
        if not self.res.poll(timeout):
            raise TimeoutError
        head, blobs = wire.unpack(self.res.recv_bytes(wire.MAX_MESSAGE))
        head["_blobs"] = blobs
        return head

    def wait_ready(self) -> str | None:
        """Block until the agent has imported everything; returns an error in words, or None."""
        if self.ready is None:
            try:
                msg = self._recv(300)
                self.ready = msg.get("error") or "" if msg.get("ev") == "ready" else "an unexpected message"
            except (TimeoutError, EOFError, OSError, ValueError) as e:
                self.ready = f"the test runner did not start ({type(e).__name__})"
            if self.defs is not None and not self.ready:
                self._send_defs()
        return self.ready or None

    def set_definitions(self, defs):
        self.defs, self.restarts = defs, 0
        if self.proc is not None and self.proc.poll() is None and self.ready is not None:
            try:
                self._send_defs()
                return
            except (EOFError, ValueError, OSError, TimeoutError):
                self._drop_runner()
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        err = self.wait_ready()  # sends the definitions once ready
        if err:
            raise RuntimeError(f"the test runner could not start: {err}")

    def _send_defs(self):
        self._send({"op": "defs", "cells": self.defs.cells})
        self._recv(60)

    def close(self):
        if self.proc is not None:
            kill_group(self.proc.pid)
            self.proc.wait()
            for c in (self.cmd, self.res):
                try:
                    c.close()
                except OSError:
                    pass
            self.proc = None

    _drop_runner = close

    def run(self, unit: Unit, hidden: bool, state: dict) -> list[dict]:
        """Run the public or the hidden statements of one unit against a fresh child; one result per statement."""
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
        try:
            self._send({"op": "run", "hidden": hidden})
            load_limit = min(self.limits.load_timeout, self._left(state))
            try:
                loaded = self._recv(load_limit)
            except TimeoutError:
                state["load_hang"] = (f"loading your definitions took longer than {self.limits.load_timeout:g} s "
                                      "(a loop at the top level of a class, or in a default argument?)")
                self._drop_runner()
                fail_rest(state["load_hang"])
                return results
        except (EOFError, OSError, ValueError):
            self._drop_runner()
            fail_rest("the test process stopped before these tests could start; they could not run")
            return results
        if loaded.get("ev") == "exited":
            fail_rest("loading your definitions ended the process (sys.exit or os._exit at the top level?)")
            return results
        if loaded.get("ev") != "loaded" or type(loaded.get("defined")) is not list:
            self._drop_runner()
            fail_rest("the test process sent something that is not a reply; these tests could not run")
            return results
        if not hidden:
            notes = loaded.get("notes")
            state.setdefault("notes", [str(n)[:300] for n in notes[:20]] if type(notes) is list else [])
        if unit.exercise not in loaded["defined"]:
            fail_rest(f"`{unit.exercise}` is not defined in your notebook. Keep the exercise's `def {unit.exercise}` "
                      "(or `class`) line as it was given, and run its cell without errors.")
        remote = Remote(self.cmd, self.res, time.monotonic() + self.limits.test_timeout, kill=self._kill_sandbox)
        try:
            ns = namespace(self.assignment.checks_module, remote,
                           _loaded_values(loaded, remote, self.assignment.graded_names),
                           self.assignment.graded_names)
        except Exception as e:  # noqa: BLE001
            self._drop_runner()
            fail_rest(f"the test process sent something that is not a reply ({type(e).__name__})")
            return results
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the judge's tensors are small: one thread, no OpenMP spinning against the sandbox
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                for st in statements[len(results):]:
                    if remote.dead:
                        fail_rest(f"not run: an earlier test of this exercise failed with: {remote.dead}")
                        break
                    verdict = _checked_before(unit, st, state)
                    if verdict is not None:
                        results.append(verdict)
                        continue
                    limit = min(self.limits.test_timeout, self._left(state))
                    results.append(run_statement(st, ns, remote, limit, self.limits.output_limit))
                    if not hidden and st.source.strip() == f"checks.check_{unit.exercise}({unit.exercise})":
                        state.setdefault("checked", {})[unit.exercise] = results[-1]["ok"]
        finally:
            torch.set_num_threads(threads)
        if remote.dead:
            self._drop_runner()
            return results
        try:
            self._send({"op": "end"})
            msg = self._recv(10)
            if msg.get("ev") != "exited":
                self._drop_runner()
        except (TimeoutError, EOFError, OSError, ValueError):
            self._drop_runner()
        return results

    def _kill_sandbox(self):
        """The judge gave up on the sandbox (silence, garbage): kill it; the next unit starts a fresh one."""
        if self.proc is not None:
            kill_group(self.proc.pid)

    @staticmethod
    def _left(state: dict) -> float:
        return max(1.0, state.get("deadline", float("inf")) - time.monotonic())


def _checked_before(unit: Unit, st, state: dict) -> dict | None:
    """The verdict of a hidden ``assert checks.check_X(X, verbose=False)`` when this grading's judge already ran the
    public ``checks.check_X(X)``: the same check of the same definitions, computed here, so it is not run twice
    (02's Autoencoder check trains 300 steps over the sandbox's wire, 6-7 s). None: run it."""
    if not st.hidden or st.source.strip() != f"assert checks.check_{unit.exercise}({unit.exercise}, verbose=False)":
        return None
    ok = state.get("checked", {}).get(unit.exercise)
    if ok is None:
        return None
    return {"ok": True, "error": None} if ok else {"ok": False, "error": "AssertionError"}


def _loaded_values(loaded: dict, remote: Remote, graded: list[str]) -> dict:
    """The "loaded" message with the data values of graded names decoded (untrusted: plain data or handles only)."""
    out = dict(loaded)
    values = loaded.get("values") if type(loaded.get("values")) is dict else {}
    pairs = [[k, v] for k, v in values.items() if k in graded]
    out["values"] = remote.value({"d": pairs}, loaded.get("_blobs", []))  # one decoder: each array read once
    return out


class RunnerPool:
    """Batch grading's handle on runners. Each submission gets a runner and a sandbox of its own (started while its
    notebook runs, closed when it is graded), so nothing of one submission reaches the next."""

    def __init__(self):
        self.runners: dict = {}
        self.sandboxes: list[Sandbox] = []

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


__all__ = ["Runner", "RunnerPool"]
