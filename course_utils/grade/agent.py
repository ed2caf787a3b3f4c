"""The sandbox's side of grading: the process that holds a submission's definitions and answers the judge.

    python -c "from course_utils.grade.agent import main; main()" CMD_FD RES_FD   (started by the grader only)

It runs inside the submission's sandbox (:mod:`.isolation`), one per submission. It imports torch and the
checks, runs the solution's setup cell (what the student's notebook starts with), then waits. For each unit
(an exercise's public check, or its hidden tests) the judge asks it to fork a fresh child, which loads the
submission's definitions (:mod:`course_utils.nbcode`) and then answers *requests*: call a graded function with
these arguments, build a graded class, call a method of an object it holds, read an attribute, iterate, and
so on. Arguments and results cross as plain data (:mod:`.wire`); what is not data stays here behind a handle.

Nothing here decides a score, and nothing the judge sends holds a test's source or expected values: the judge
(:mod:`.judge`) runs the tests in its own process and compares there. Whatever this process and its children
answer is untrusted.
"""

from __future__ import annotations

import os
import sys
from multiprocessing.connection import Connection

from . import wire

_SHOWN = {"AssertionError", "NotImplementedError", "NameError", "TypeError", "ValueError", "RuntimeError",
          "IndexError", "KeyError", "AttributeError", "ZeroDivisionError", "RecursionError", "MemoryError",
          "OverflowError", "UnboundLocalError", "ImportError", "ModuleNotFoundError", "OSError", "StopIteration",
          "Exception", "SystemExit", "KeyboardInterrupt"}
MAX_GRAPHS = 64  # calls whose autograd graph is kept for a later backward request


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


def _error_name(e: BaseException) -> str:
    name = type(e).__name__
    return name if name in _SHOWN and type(e).__module__ == "builtins" else "Exception"


class Server:
    """One child's state: the submission's namespace, the objects behind handles, kept autograd graphs."""

    def __init__(self, ns: dict, graded: list[str], cmd: Connection, res: Connection, cap: Capped, hidden: bool):
        import torch

        self.torch = torch
        self.ns, self.graded, self.cmd, self.res, self.cap, self.hidden = ns, graded, cmd, res, cap, hidden
        self.objects: dict[int, object] = {}
        self.graphs: dict[int, tuple] = {}
        self.next_id = 1

    # ---- values
    def keep(self, obj) -> dict:
        k = self.next_id
        self.next_id += 1
        self.objects[k] = obj
        kind = "module" if isinstance(obj, self.torch.nn.Module) else "callable" if callable(obj) else "object"
        return {"H": k, "kind": kind}

    def encode(self, value, enc: wire.Encoder):
        torch = self.torch

        def other(v):
            if isinstance(v, torch.Tensor):  # a subclass travels as its plain numbers, or not at all
                try:
                    plain = torch.Tensor.as_subclass(v, torch.Tensor)
                except Exception:  # noqa: BLE001
                    plain = None
                if type(plain) is torch.Tensor:
                    return enc(plain)
            return self.keep(v)

        enc.other = other
        return enc(value)

    def decode(self, data, blobs, leaves=None):
        from course_utils.checks import nb03

        def other(d):
            if "H" in d and type(d["H"]) is int and d["H"] in self.objects:
                return self.objects[d["H"]]
            if d.get("O") == "TinyLatentModel" and type(d.get("kw")) is dict:
                return nb03.TinyLatentModel(**dec(d["kw"]))
            raise wire.WireError("unknown value")

        dec = wire.Decoder(blobs, other, leaves)
        return dec(data)

    # ---- requests
    def serve(self) -> None:
        while True:
            try:
                head, blobs = wire.unpack(self.cmd.recv_bytes(wire.MAX_MESSAGE))
            except (EOFError, OSError):
                os._exit(0)
            op = head.get("op")
            if op == "end":
                return
            enc = wire.Encoder()
            try:
                reply = getattr(self, "op_" + str(op))(head, blobs, enc)
                reply["ok"] = True
            except BaseException as e:  # noqa: BLE001
                enc = wire.Encoder()
                reply = {"ok": False, "etype": _error_name(e)}
                if not self.hidden:
                    reply["msg"] = str(e)[:300]
            text, dropped = self.cap.take()
            if not self.hidden and (text or dropped):
                reply.update(out=text, dropped=dropped)
            try:
                data = wire.pack(reply, enc)
            except (TypeError, ValueError):
                data = wire.pack({"ok": False, "etype": "TypeError", "msg": "the result could not be sent"})
            if len(data) > wire.MAX_MESSAGE:
                data = wire.pack({"ok": False, "etype": "MemoryError", "msg": "the result is too large to send"})
            self.res.send_bytes(data)

    def _target(self, head):
        if "name" in head:
            name = head["name"]
            if name not in self.graded or name not in self.ns:
                raise NameError(f"name {name!r} is not defined")
            return self.ns[name]
        return self.objects[int(head["handle"])]

    def _set_rng(self, head, blobs):
        if "rng" in head:
            self.torch.random.set_rng_state(wire.Decoder(blobs)(head["rng"]))

    def op_call(self, head, blobs, enc):
        torch = self.torch
        self._set_rng(head, blobs)
        target = self._target(head)
        if head.get("method"):
            target = getattr(target, head["method"])
        grad = bool(head.get("grad"))
        leaves: list = []  # the judge's tensors that require grad: leaves here, in the order the judge sent them
        args = self.decode(head["args"], blobs, leaves if grad else None)
        kwargs = self.decode(head["kwargs"], blobs, leaves if grad else None)
        if head.get("params"):  # the judge's current values of a module's parameters
            params = list(self.objects[int(head["handle"])].parameters())
            with torch.no_grad():
                for i, v in self.decode(head["params"], blobs).items():
                    params[int(i)].copy_(v)
        if grad and "handle" in head and isinstance(self.objects.get(int(head["handle"])), torch.nn.Module):
            leaves += [p for p in self.objects[int(head["handle"])].parameters()]
        snap = {}
        for path, v in _tensors(args, kwargs):
            snap[path] = v.detach().clone()
        with torch.set_grad_enabled(grad):
            out = target(*args, **kwargs)
        reply = {"value": self.encode(out, enc)}
        outs = list(enc.sent)  # the result's tensors, in the order the judge decodes them
        changed = {}
        for path, v in _tensors(args, kwargs):
            before = snap.get(path)
            if before is not None and (before.shape != v.shape or not torch.equal(before, v.detach())):
                changed[path] = enc.tensor(v)
        if changed:
            reply["mutated"] = changed
        if grad and leaves:
            rg = [bool(o.requires_grad) for o in outs]
            if any(rg):
                k = self.next_id
                self.next_id += 1
                self.graphs[k] = (outs, leaves)
                while len(self.graphs) > MAX_GRAPHS:
                    self.graphs.pop(next(iter(self.graphs)))
                reply["graph"] = k
            reply["out_rg"] = rg
        return reply

    def op_backward(self, head, blobs, enc):
        torch = self.torch
        outs, leaves = self.graphs.pop(int(head["graph"]))
        grads = self.decode(head["grads"], blobs)
        pairs = [(o, g) for o, g in zip(outs, grads) if o.requires_grad and g is not None]
        want = [leaf for leaf in leaves if leaf.requires_grad]
        got = torch.autograd.grad([o for o, _ in pairs], want, [g.to(o.dtype) for o, g in pairs],
                                  allow_unused=True) if pairs and want else [None] * len(want)
        it = iter(got)
        result = [next(it) if leaf.requires_grad else None for leaf in leaves]
        return {"grads": enc([None if g is None else g.detach() for g in result])}

    def op_params(self, head, blobs, enc):
        m = self.objects[int(head["handle"])]
        return {"params": enc([[n, p.detach(), bool(p.requires_grad)] for n, p in m.named_parameters()])}

    def op_train(self, head, blobs, enc):
        self.objects[int(head["handle"])].train(bool(head["mode"]))
        return {}

    def op_getattr(self, head, blobs, enc):
        return {"value": self.encode(getattr(self._target(head), str(head["attr"])), enc)}

    def op_getitem(self, head, blobs, enc):
        return {"value": self.encode(self._target(head)[self.decode(head["key"], blobs)], enc)}

    def op_setitem(self, head, blobs, enc):
        self._target(head)[self.decode(head["key"], blobs)] = self.decode(head["value"], blobs)
        return {}

    def op_len(self, head, blobs, enc):
        return {"value": int(len(self._target(head)))}

    def op_bool(self, head, blobs, enc):
        return {"value": bool(self._target(head))}

    def op_list(self, head, blobs, enc):
        items = []
        for k, v in enumerate(self._target(head)):
            if k >= int(head.get("limit", 10_000)):
                raise OverflowError("too many items")
            items.append(v)
        return {"value": self.encode(items, enc)}

    def op_release(self, head, blobs, enc):
        self.objects.pop(int(head["handle"]), None)
        return {}


def _tensors(args, kwargs):
    import torch

    out = []
    for k, v in enumerate(args):
        if isinstance(v, torch.Tensor):
            out.append((f"a{k}", v))
    for k, v in kwargs.items():
        if isinstance(v, torch.Tensor):
            out.append((f"k{k}", v))
    return out


# ----------------------------------------------------------------------------- the warm process
class _State:
    setup_ns: dict = {}
    defs: list = []
    graded: list = []
    init: dict = {}


def _init(msg: dict) -> dict:
    import importlib

    import torch

    from ..nbcode import base_namespace

    S = _State
    S.init = msg
    ns: dict = {"__name__": "__main__"}
    out = Capped(20_000)
    real = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = out
    error = None
    try:
        exec(compile(msg["setup"], "<setup cell>", "exec"), ns)  # noqa: S102 - the solution's setup cell
    except BaseException as e:  # noqa: BLE001
        error = f"{type(e).__name__}: {e}"
    finally:
        sys.stdout, sys.stderr = real
    try:
        importlib.import_module(msg["checks_module"])
        importlib.import_module("course_utils.checks.nb03")
    except Exception as e:  # noqa: BLE001
        error = error or f"cannot import {msg['checks_module']}: {e}"
    for k, v in base_namespace("__main__").items():
        ns.setdefault(k, v)
    try:  # torch patches a few of its own functions the first time an optimizer is made: let it happen now
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    except Exception:  # noqa: BLE001
        pass
    S.setup_ns = ns
    S.graded = list(msg.get("graded", []))
    return {"ev": "ready", "error": error}


def _child(cmd: Connection, res: Connection, hidden: bool) -> None:
    import ast

    import torch

    from ..nbcode import run_definitions

    S = _State
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    scratch = S.init.get("scratch")
    if scratch:
        os.chdir(scratch)
    torch.set_num_threads(1)  # the runner may have used OpenMP threads before fork(): a child's own pool hangs
    torch.manual_seed(0)
    cap = Capped(int(S.init.get("output_limit", 4000)))
    sys.stdout = sys.stderr = cap
    ns = dict(S.setup_ns)
    notes = []

    def note(label, source, node, e):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            return  # a constant that needs a variable computed by another cell: expected, not news
        what = (ast.get_source_segment(source, node) or "").split("\n")[0][:80]
        notes.append(f"{label}: `{what}` raised {_error_name(e)}" + (f": {str(e)[:200]}" if not hidden else ""))

    run_definitions(S.defs, ns, on_error=note)
    cap.take()
    server = Server(ns, S.graded, cmd, res, cap, hidden)
    defined, kinds, enc = [], {}, wire.Encoder()
    values = {}
    for n in S.graded:
        if n in ns and ns[n] is not S.setup_ns.get(n, _MISSING):
            v = ns[n]
            defined.append(n)
            if isinstance(v, type):
                kinds[n] = "class"
            elif callable(v):
                kinds[n] = "callable"
            else:
                try:
                    values[n] = wire.Encoder.__call__(enc, v)
                    kinds[n] = "data"
                except wire.NotData:
                    kinds[n] = "object"
                    values[n] = server.keep(v)
    res.send_bytes(wire.pack({"ev": "loaded", "defined": defined, "kinds": kinds, "values": values,
                              "notes": notes[:20]}, enc))
    server.serve()
    os._exit(0)


_MISSING = object()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cmd = Connection(int(argv[0]), writable=False)
    res = Connection(int(argv[1]), readable=False)
    no_dumps()
    while True:
        try:
            head, blobs = wire.unpack(cmd.recv_bytes(wire.MAX_MESSAGE))
        except (EOFError, OSError):
            return 0
        op = head.get("op")
        if op == "init":
            from .limits import apply_rlimits

            apply_rlimits(head.get("rlimits") or {})  # and become the sandbox's unprivileged user
            res.send_bytes(wire.pack(_init(head)))
        elif op == "defs":
            _State.defs = head["cells"]
            res.send_bytes(wire.pack({"ev": "ok"}))
        elif op == "run":
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                try:
                    _child(cmd, res, bool(head.get("hidden")))
                finally:
                    os._exit(4)
            _, status = os.waitpid(pid, 0)
            try:
                os.killpg(pid, 9)  # what it left running in its group
            except OSError:
                pass
            info = {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"code": os.WEXITSTATUS(status)}
            res.send_bytes(wire.pack({"ev": "exited", **info}))
        elif op == "quit":
            return 0


def no_dumps() -> None:
    """Not dumpable: another process of the same user cannot open this one's /proc/PID/fd or memory."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    except Exception:  # noqa: BLE001
        pass


if __name__ == "__main__":
    sys.exit(main())
