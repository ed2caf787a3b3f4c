"""The test runner: a warm process that forks one fresh child per (exercise, public|hidden) run.

    python -m course_utils.grade.runner CMD_FD RESULT_FD      (started by the grader, never by hand)

The runner imports torch and the checks, runs the solution's setup cell (trusted), then waits. For each run
it forks a child, which

1. moves into its own process group, sets its memory limit, isolates itself (in a namespace sandbox: fresh
   in-memory folders of its own, see :mod:`course_utils.grade.isolation`), moves into its scratch folder,
   drops privileges (when the grader runs as root with ``--run-as``), and sends its output to a capped buffer;
2. loads the submission's definitions (:mod:`course_utils.nbcode`), each statement on its own;
3. receives the test statements *one at a time* (so hidden tests are never in memory before they run) and
   answers each with pass or fail. Hidden statements answer without output or error messages.

Tests see frozen copies of ``torch``, ``math`` and ``checks`` taken before the submission loaded, and after
every statement the child compares ``torch``, ``torch.Tensor``, ``torch.nn.functional``, ``math``,
``builtins`` and the checks with that snapshot: a replaced function fails the statement.

Messages are length-prefixed JSON on two pipes (:mod:`.protocol`); the grader's side of this process is
:class:`course_utils.grade.pool.Runner`. The grader alone decides scores and writes results.json.
"""

from __future__ import annotations

import os
import sys
import types

from ..nbcode import base_namespace, run_definitions
from .protocol import recv, send


class Capped:
    """A text stream that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit: int):
        self.limit, self.parts, self.n, self.dropped = limit, [], 0, 0

    def write(self, s) -> int:
        s = str(s)
        room = self.limit - self.n
        if room > 0:
            self.parts.append(s[:room])
            self.n += min(len(s), room)
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def take(self) -> tuple[str, int]:
        text, dropped = "".join(self.parts), self.dropped
        self.parts, self.n, self.dropped = [], 0, 0
        return text, dropped


def _frozen(mod):
    copy = types.ModuleType(mod.__name__, getattr(mod, "__doc__", None))
    copy.__dict__.update(mod.__dict__)
    return copy


def _protected(checks_module):
    import builtins
    import math

    import torch
    import torch.nn.functional as F

    import course_utils.checks as checks_pkg

    objs = {
        "torch": torch,
        "torch.nn": torch.nn,
        "torch.nn.functional": F,
        "torch.linalg": torch.linalg,
        "torch.special": torch.special,
        "torch.Tensor": torch.Tensor,
        "torch._C.TensorBase": torch._C.TensorBase,
        "torch._C._VariableFunctions": torch._C._VariableFunctions,
        "math": math,
        "builtins": builtins,
        "course_utils.checks": checks_pkg,
    }
    if checks_module is not None:
        objs[checks_module.__name__] = checks_module
    return objs


def snapshot(objs: dict) -> dict:
    snap = {}
    for label, obj in objs.items():
        d = dict(getattr(obj, "__dict__", {}))
        codes = {k: v.__code__ for k, v in d.items() if isinstance(v, types.FunctionType)}
        snap[label] = (d, codes)
    return snap


def tampered(objs: dict, snap: dict) -> list[str]:
    """Names whose object changed since the snapshot (replaced, deleted, or a function's code swapped)."""
    found = []
    for label, obj in objs.items():
        before, codes = snap[label]
        now = getattr(obj, "__dict__", {})
        for k, v in before.items():
            w = now.get(k, _MISSING)
            if w is not v and getattr(w, "__wrapped__", _MISSING) is not v:  # torch wraps a few itself (dynamo)
                found.append(f"{label}.{k}")
            elif k in codes and getattr(w, "__code__", None) is not codes[k]:
                found.append(f"{label}.{k}")
            if len(found) >= 5:
                return found
    return found


_MISSING = object()
_SHOWN_ERRORS = {
    "AssertionError",
    "NotImplementedError",
    "NameError",
    "TypeError",
    "ValueError",
    "RuntimeError",
    "IndexError",
    "KeyError",
    "AttributeError",
    "ZeroDivisionError",
    "SystemExit",
    "KeyboardInterrupt",
    "RecursionError",
    "MemoryError",
    "OverflowError",
    "UnboundLocalError",
    "ImportError",
    "ModuleNotFoundError",
    "OSError",
    "Exception",
    "StopIteration",
}


def _error_name(e: BaseException) -> str:
    """The exception's type name if it is a builtin one (a submission could encode data in its own class name)."""
    name = type(e).__name__
    return name if name in _SHOWN_ERRORS and type(e).__module__ == "builtins" else "an exception"


class _State:
    setup_ns: dict = {}
    objs: dict = {}
    snap: dict = {}
    frozen: dict = {}
    defs: list = []
    graded: list = []
    init: dict = {}


def _init(msg: dict) -> dict:
    import importlib
    import math

    import torch

    S = _State
    S.init = msg
    ns: dict = {"__name__": "__main__"}
    out = Capped(20_000)
    real = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = out
    error = None
    try:
        exec(compile(msg["setup"], "<setup cell>", "exec"), ns)
    except BaseException as e:  # noqa: BLE001
        error = f"{type(e).__name__}: {e}"
    finally:
        sys.stdout, sys.stderr = real
    checks_module = None
    try:
        checks_module = importlib.import_module(msg["checks_module"])
        from course_utils.stored import cases_text

        try:
            cases_text(msg["notebook"])  # read the stored cases now, before any submission code runs
        except Exception:  # noqa: BLE001 - a notebook without stored cases
            pass
    except Exception as e:  # noqa: BLE001
        error = error or f"cannot import {msg['checks_module']}: {e}"
    for k, v in base_namespace("__main__").items():
        ns.setdefault(k, v)
    try:  # torch patches a few of its own functions the first time an optimizer is made: let it happen now
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    except Exception:  # noqa: BLE001
        pass
    S.setup_ns = ns
    S.objs = _protected(checks_module)
    S.snap = snapshot(S.objs)
    S.frozen = {"torch": _frozen(torch), "math": _frozen(math)}
    if "checks" in ns and isinstance(ns["checks"], types.ModuleType):
        S.frozen["checks"] = _frozen(ns["checks"])
    S.graded = list(msg.get("graded", []))
    return {"ev": "ready", "error": error}


def _limit_resources(memory_mb: int | None, nproc: int | None) -> None:
    import resource

    if memory_mb:
        try:
            with open("/proc/self/status") as f:
                vm = next(int(x.split()[1]) for x in f if x.startswith("VmSize")) // 1024
        except Exception:  # noqa: BLE001
            vm = 0
        limit = max(memory_mb, vm + 2048) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if nproc:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _child(cmd_fd: int, res_fd: int, run: dict) -> None:
    S = _State
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    init = S.init
    _limit_resources(init.get("memory_mb"), init.get("nproc"))
    iso = init.get("isolate")
    if iso:  # a namespace sandbox: this child's own empty folders; the runner's folder read-only (fail closed)
        from pathlib import Path

        from course_utils.grade.isolation import isolate_child

        try:
            isolate_child(Path(iso["root"]), [Path(p) for p in iso["fresh"]], [Path(p) for p in iso["keep"]])
        except Exception as e:  # noqa: BLE001
            recv(cmd_fd)  # the grader's "go"
            send(res_fd, {"ev": "isolation_failed", "why": f"{type(e).__name__}: {e}"[:300]})
            os._exit(5)
    scratch = init.get("scratch")
    if scratch:
        os.chdir(scratch)
    run_as = init.get("run_as")
    if run_as and os.getuid() == 0:
        os.setgroups([])
        os.setgid(run_as[1])
        os.setuid(run_as[0])
    try:  # the runner may have used OpenMP threads before fork(): a child's own thread pool would hang
        import torch

        torch.set_num_threads(1)
    except Exception:  # noqa: BLE001
        pass
    out_limit = int(init.get("output_limit", 4000))
    cap = Capped(out_limit)
    sys.stdout = sys.stderr = cap
    objs, snap, frozen, graded = S.objs, S.snap, S.frozen, S.graded
    _send, _recv, _tampered, _exec, _eval, _compile = send, recv, tampered, exec, eval, compile

    go = _recv(cmd_fd)
    if go.get("op") != "go":
        os._exit(3)
    # 1. the submission's definitions, each statement on its own
    import ast

    ns = dict(S.setup_ns)
    notes = []

    def note(label, source, node, e):  # SystemExit and KeyboardInterrupt too
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            return  # a constant that needs a variable computed by another cell: expected, not news
        what = ast.get_source_segment(source, node) or ""
        what = what.split("\n")[0][:80]
        notes.append(f"{label}: `{what}` raised {_error_name(e)}" + (f": {str(e)[:200]}" if not run["hidden"] else ""))

    run_definitions(S.defs, ns, on_error=note)
    cap.take()
    bad = _tampered(objs, snap)
    test_ns = dict(S.setup_ns)
    test_ns.update(frozen)
    defined = [n for n in graded if n in ns and ns[n] is not S.setup_ns.get(n, _MISSING)]
    for n in defined:
        test_ns[n] = ns[n]
    _send(res_fd, {"ev": "loaded", "defined": defined, "notes": notes[:20], "tampered": bad})
    # 2. the statements, one at a time
    while True:
        msg = _recv(cmd_fd)
        if msg.get("op") != "stmt":
            break
        hidden = bool(msg.get("hidden"))
        ok, err, detail = True, None, ""
        try:
            if msg["kind"] == "check":
                value = _eval(_compile(msg["src"], "<test>", "eval"), test_ns)
                try:
                    ok = value is None or bool(value)
                except BaseException:  # noqa: BLE001
                    ok = False
                if not ok:
                    err = "the check did not pass"
            else:
                _exec(_compile(msg["src"], "<test>", "exec"), test_ns)
        except BaseException as e:  # noqa: BLE001
            ok, err = False, _error_name(e)
            if not hidden:
                detail = str(e)[:300]
        text, dropped = cap.take()
        bad = _tampered(objs, snap)
        if bad:
            ok = False
        reply = {"ev": "done", "ok": ok, "error": err, "tampered": bad}
        if not hidden:
            reply.update(detail=detail, output=text, dropped=dropped)
        _send(res_fd, reply)
    os._exit(0)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cmd_fd, res_fd = int(argv[0]), int(argv[1])
    while True:
        try:
            msg = recv(cmd_fd)
        except EOFError:
            return 0
        op = msg.get("op")
        if op == "init":
            send(res_fd, _init(msg))
        elif op == "defs":
            _State.defs = msg["cells"]
            send(res_fd, {"ev": "ok"})
        elif op == "run":
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                try:
                    _child(cmd_fd, res_fd, msg)
                finally:
                    os._exit(4)
            send(res_fd, {"ev": "forked", "pid": pid})
            _, status = os.waitpid(pid, 0)
            if os.WIFSIGNALED(status):
                info = {"signal": os.WTERMSIG(status)}
            else:
                info = {"code": os.WEXITSTATUS(status)}
            send(res_fd, {"ev": "exited", **info})
        elif op == "quit":
            return 0


if __name__ == "__main__":
    sys.exit(main())
