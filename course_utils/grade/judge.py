"""The judge: runs the tests in the grader's own process, where no submitted code ever runs.

A unit's statements (the public check, then the hidden tests, as written in ``solutions/``) execute here, in a
namespace holding ``torch``, ``math``, ``nn``, ``F``, ``np``, the notebook's ``checks`` module and, for each graded
name, a *proxy*. Calling a proxy sends a request to the sandboxed child that holds the submission's definitions
(:mod:`.agent`): "call ``elbo`` with these arguments", "build ``Autoencoder(latent_dim=3)``", "call ``encode`` on
handle 7". Requests carry only inputs; a statement's source and its expected values never leave this process.

Replies are untrusted bytes, read with a size cap and a deadline. They become plain data (:mod:`.wire`): numbers,
strings, fresh plain tensors of standard dtypes, or handles, whose every use is another request. So every
comparison, ``float()``, ``torch.allclose`` and check runs here, in trusted code, on data.

- **Gradients.** A call whose tensor arguments require grad (or a module's parameters) is an autograd function
  here: its outputs are data tensors whose backward sends the output gradients to the sandbox and receives the
  inputs' gradients as data. ``loss.backward()`` in a test and ``p.grad`` afterwards work as in a notebook.
- **Modules.** An instance of a graded class that is an ``nn.Module`` is a :class:`ModuleProxy`, an ``nn.Module``
  here whose parameters are judge tensors mirroring the sandbox's; their current values go with each call, so an
  optimizer made here trains the student's model.
- **Generators** travel as their state; a tensor argument the submission changed in place comes back changed (the
  checks report that mistake).
- **Failure.** Garbage, an oversized reply, silence past the deadline or a dead sandbox raise
  :class:`SandboxFailed` in the statement, which fails; the unit's later statements fail as not run.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection

import torch

from . import wire
from .protocol import recv_bytes

_ERRORS = {n: getattr(__import__("builtins"), n) for n in (
    "AssertionError", "NotImplementedError", "NameError", "TypeError", "ValueError", "RuntimeError", "IndexError",
    "KeyError", "AttributeError", "ZeroDivisionError", "RecursionError", "MemoryError", "OverflowError",
    "UnboundLocalError", "ImportError", "ModuleNotFoundError", "OSError", "StopIteration")}
MAX_ITER = 10_000  # items one iteration over a remote object may yield


class SandboxFailed(Exception):
    """The sandbox did not answer with a well-formed reply in time (or it died)."""


class JudgeTimeout(BaseException):
    """A statement ran past its time limit (raised by the judge's own alarm; no check catches it)."""


class SubmissionError(Exception):
    """The submission's code raised; ``kind`` is the builtin exception's name (or "Exception")."""

    def __init__(self, kind: str, message: str = ""):
        super().__init__(message)
        self.kind = kind


_NAMED: dict[str, type] = {}
_OTHER_NAMES = ("Exception", "SystemExit", "KeyboardInterrupt", "StopIteration", "GeneratorExit")


def _raise_remote(reply: dict):
    """Raise here what the submission's code raised there: a builtin exception of the same name (its message as
    data), or a :class:`SubmissionError` named after it (SystemExit, KeyboardInterrupt, StopIteration, else
    Exception). The name is one of these fixed ones, never the sandbox's text: a hidden test's error shows it."""
    kind = reply.get("etype") if type(reply.get("etype")) is str else "Exception"
    msg = reply.get("msg") if type(reply.get("msg")) is str else ""
    cls = _ERRORS.get(kind)
    if cls is None or kind == "StopIteration":
        name = kind if kind in _OTHER_NAMES else "Exception"
        cls = _NAMED.setdefault(name, type(name, (SubmissionError,), {}))
        raise cls(name, msg[:300])
    raise cls(msg[:300])


class Remote:
    """The judge's end of one child's pipes: requests out, replies in (size cap, deadline)."""

    def __init__(self, cmd: Connection, res: Connection, deadline: float, kill=None):
        self.cmd, self.res, self.deadline, self.kill = cmd, res, deadline, kill
        self.dead: str | None = None
        self.outputs: list[str] = []
        self.dropped = 0
        self._rng = None

    def fail(self, why: str):
        self.dead = self.dead or why
        if self.kill is not None:
            self.kill()
        raise SandboxFailed(self.dead)

    def receive(self, timeout: float):
        """One message, or :class:`SandboxFailed` (silence, garbage, too large, or the pipe closed)."""
        if self.dead:
            raise SandboxFailed(self.dead)
        try:  # a sender that stalls inside a message: the watchdog kills it, which ends the read
            return wire.unpack(recv_bytes(self.res, timeout, wire.MAX_MESSAGE, self.kill))
        except TimeoutError:
            self.fail(f"timed out after {timeout:.0f} s (an infinite loop?)")
        except (EOFError, OSError):
            self.fail("the test process ended (a crash, sys.exit, os._exit or the memory limit?)")
        except wire.WireError:
            self.fail("the test process sent something that is not a reply")

    def request(self, head: dict, enc: wire.Encoder | None = None) -> tuple[dict, list[bytes]]:
        if self.dead:
            raise SandboxFailed(self.dead)
        try:
            self.cmd.send_bytes(wire.pack(head, enc))
        except (OSError, ValueError):
            self.fail("the test process ended (a crash, sys.exit, os._exit or the memory limit?)")
        reply, blobs = self.receive(max(0.5, self.deadline - time.monotonic()))
        if reply.get("ev") == "exited":
            self.fail("your code ended the test process (sys.exit, os._exit, a crash or the memory limit)")
        if type(reply.get("out")) is str:
            self.outputs.append(reply["out"][:20_000])
            if type(reply.get("dropped")) is int:
                self.dropped += reply["dropped"]
        if reply.get("ok") is not True:
            _raise_remote(reply)
        return reply, blobs

    # ---- values from the sandbox
    def decoder(self, blobs) -> wire.Decoder:
        def other(d):
            if set(d) == {"H", "kind"} and type(d["H"]) is int and d["kind"] in ("module", "callable", "object"):
                if d["kind"] == "module":
                    return ModuleProxy(self, d["H"])
                return Handle(self, d["H"])
            raise wire.WireError("unknown value")

        return wire.Decoder(blobs, other)

    def value(self, data, blobs):
        try:
            return self.decoder(blobs)(data)
        except wire.WireError as e:
            self.fail(f"the test process sent something that is not data ({e})")

    # ---- values to the sandbox
    def encoder(self, grad: bool = False) -> wire.Encoder:
        def other(v):
            if isinstance(v, (Handle, ModuleProxy)) and v._remote is self:
                return {"H": v._handle}
            if type(v).__name__ == "TinyLatentModel" and type(v).__module__ == "course_utils.checks.nb03":
                return {"O": "TinyLatentModel", "kw": enc({k: getattr(v, k) for k in
                                                          ("a", "b", "w_mu", "c_mu", "w_lv", "c_lv")})}
            raise TypeError(f"a {type(v).__name__} cannot be passed to the submission's code")

        enc = wire.Encoder(other, grad)
        return enc

    def rng_field(self, head: dict, enc: wire.Encoder):
        """The judge's global random state goes with a call when it changed, so seeded tests stay seeded."""
        state = torch.random.get_rng_state()
        if self._rng is None or not torch.equal(state, self._rng):
            self._rng = state.clone()
            head["rng"] = wire.Encoder.__call__(enc, state)

    # ---- calls
    def call(self, target: dict, args: tuple, kwargs: dict, module: ModuleProxy | None = None):
        grad = torch.is_grad_enabled()
        enc = self.encoder(grad)
        head = {"op": "call", **target, "grad": grad, "args": enc(list(args)), "kwargs": enc(dict(kwargs))}
        inputs = list(enc.rg_tensors)
        if module is not None:
            enc.grad = False
            changed = {}
            for i, p in enumerate(module._mirror):
                if module._sent[i] != p._version:
                    changed[str(i)] = p.detach()
                    module._sent[i] = p._version
            if changed:
                head["params"] = enc(changed)
            if grad:
                inputs += list(module._mirror)
        self.rng_field(head, enc)
        differentiable = grad and any(t.requires_grad for t in inputs)
        head["grad"] = differentiable
        reply, blobs = self.request(head, enc)
        dec = self.decoder(blobs)
        try:
            value = dec(reply.get("value"))
            outs = list(dec.got)
            mutated = {k: dec(v) for k, v in (reply.get("mutated") or {}).items()} if type(
                reply.get("mutated", {})) is dict else {}
        except wire.WireError as e:
            self.fail(f"the test process sent something that is not data ({e})")
        self._write_back(args, kwargs, mutated)
        graph = reply.get("graph")
        if differentiable and type(graph) is int and outs:
            out_rg = reply.get("out_rg")
            if type(out_rg) is not list or len(out_rg) != len(outs):
                self.fail("the test process sent something that is not a reply")
            box = {"remote": self, "graph": graph, "outs": outs, "rg": [r is True for r in out_rg],
                   "inputs": inputs}
            new = _RemoteCall.apply(box, *inputs)
            swap = {id(o): n for o, n in zip(outs, new)}
            value = _replace(value, swap)
        return value

    @staticmethod
    def _write_back(args, kwargs, mutated: dict):
        """A tensor argument the submission changed in place changes here too (as it would in a notebook)."""
        for path, new in mutated.items():
            if type(path) is not str or type(new) is not torch.Tensor:
                continue
            if path.startswith("a") and path[1:].isdigit() and int(path[1:]) < len(args):
                old = args[int(path[1:])]
            elif path.startswith("k") and path[1:] in kwargs:
                old = kwargs[path[1:]]
            else:
                continue
            if isinstance(old, torch.Tensor) and old.shape == new.shape and old.dtype == new.dtype:
                with torch.no_grad():
                    old.copy_(new)


def _replace(value, swap: dict):
    if type(value) is torch.Tensor and id(value) in swap:
        return swap[id(value)]
    if type(value) is list:
        return [_replace(v, swap) for v in value]
    if type(value) is tuple:
        return tuple(_replace(v, swap) for v in value)
    if type(value) is dict:
        return {k: _replace(v, swap) for k, v in value.items()}
    return value


class _RemoteCall(torch.autograd.Function):
    """A call made in the sandbox, as one node of the judge's autograd graph."""

    @staticmethod
    def forward(ctx, box, *inputs):
        ctx.box = box
        outs = list(box["outs"])  # fresh tensors, decoded from the reply: this node's outputs
        nd = [o for o, rg in zip(outs, box["rg"]) if not rg or not o.is_floating_point()]
        if nd:
            ctx.mark_non_differentiable(*nd)
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        box = ctx.box
        remote, inputs = box["remote"], box["inputs"]
        enc = remote.encoder(False)
        head = {"op": "backward", "graph": box["graph"],
                "grads": enc([g if rg else None for g, rg in zip(grads, box["rg"])])}
        reply, blobs = remote.request(head, enc)
        got = remote.value(reply.get("grads"), blobs)
        if type(got) is not list or len(got) != len(inputs):
            remote.fail("the test process sent something that is not a reply")
        out = []
        for g, x in zip(got, inputs):
            if g is None:
                out.append(None)
            elif type(g) is torch.Tensor and g.shape == x.shape and g.is_floating_point():
                out.append(g.to(x.dtype))
            else:
                remote.fail("a gradient of the wrong shape came back")
        return (None, *out)


class Handle:
    """An object that stays in the sandbox; every use is a request, and nothing here trusts it."""

    __slots__ = ("_remote", "_handle")

    def __init__(self, remote: Remote, handle: int):
        object.__setattr__(self, "_remote", remote)
        object.__setattr__(self, "_handle", handle)

    def _ask(self, op: str, **extra):
        enc = self._remote.encoder()
        head = {"op": op, "handle": self._handle}
        for k, v in extra.items():
            head[k] = enc(v)
        reply, blobs = self._remote.request(head, enc)
        return self._remote.value(reply.get("value"), blobs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        enc = self._remote.encoder()
        reply, blobs = self._remote.request({"op": "getattr", "handle": self._handle, "attr": name}, enc)
        return self._remote.value(reply.get("value"), blobs)

    def __call__(self, *args, **kwargs):
        return self._remote.call({"handle": self._handle}, args, kwargs)

    def __getitem__(self, key):
        return self._ask("getitem", key=key)

    def __setitem__(self, key, value):
        self._ask("setitem", key=key, value=value)

    def __len__(self):
        n = self._ask("len")
        if type(n) is not int or n < 0:
            raise TypeError("len() of an object of your code")
        return n

    def __iter__(self):
        items = self._ask("list", limit=MAX_ITER)
        if type(items) is not list:
            raise TypeError("iterating over an object of your code")
        return iter(items)

    def __bool__(self):
        raise TypeError("the grader does not ask an object of your code whether it is true; return a tensor, "
                        "a number or a bool")

    def __repr__(self):
        return f"<an object of your code #{self._handle}>"


class _Method:
    """A method of a :class:`ModuleProxy`: calls it in the sandbox with the module's current parameters."""

    def __init__(self, module: ModuleProxy, name: str | None):
        self.module, self.name = module, name

    def __call__(self, *args, **kwargs):
        m = self.module
        target = {"handle": m._handle, **({"method": self.name} if self.name else {})}
        return m._remote.call(target, args, kwargs, module=m)


class ModuleProxy(torch.nn.Module):
    """An ``nn.Module`` of the submission, here: its parameters are judge tensors (values sent with each call), its
    methods calls in the sandbox."""

    def __init__(self, remote: Remote, handle: int):
        super().__init__()
        object.__setattr__(self, "_remote", remote)
        object.__setattr__(self, "_handle", handle)
        enc = remote.encoder()
        reply, blobs = remote.request({"op": "params", "handle": handle}, enc)
        params = remote.value(reply.get("params"), blobs)
        if type(params) is not list or len(params) > 10_000:
            remote.fail("the test process sent something that is not a reply")
        mirror = []
        for k, item in enumerate(params):
            if (type(item) is not list or len(item) != 3 or type(item[0]) is not str
                    or type(item[1]) is not torch.Tensor or type(item[2]) is not bool):
                remote.fail("the test process sent something that is not a reply")
            p = torch.nn.Parameter(item[1], requires_grad=item[2] and item[1].is_floating_point())
            self.register_parameter(f"p{k}_" + "".join(c if c.isalnum() else "_" for c in item[0])[:60], p)
            mirror.append(p)
        object.__setattr__(self, "_mirror", mirror)
        object.__setattr__(self, "_sent", [p._version for p in mirror])

    def __call__(self, *args, **kwargs):
        return _Method(self, None)(*args, **kwargs)

    forward = __call__

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            pass
        if name.startswith("__"):
            raise AttributeError(name)
        remote = self.__dict__["_remote"]
        reply, blobs = remote.request({"op": "getattr", "handle": self.__dict__["_handle"], "attr": name},
                                      remote.encoder())
        value = remote.value(reply.get("value"), blobs)
        if isinstance(value, Handle) and reply.get("value", {}).get("kind") == "callable":
            return _Method(self, name)
        return value

    def train(self, mode: bool = True):
        self._remote.request({"op": "train", "handle": self._handle, "mode": bool(mode)}, self._remote.encoder())
        self.training = bool(mode)
        return self

    def __repr__(self):
        return f"<your {self._handle} module>"


class Graded:
    """A graded name of the submission (a function or a class); calling it calls it in the sandbox."""

    def __init__(self, remote: Remote, name: str, kind: str):
        self._remote, self._name, self._kind = remote, name, kind
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        return self._remote.call({"name": self._name}, args, kwargs)

    def __repr__(self):
        return f"<your {self._name}>"


# ----------------------------------------------------------------------------- running statements
class _Capture(io.StringIO):
    def __init__(self, limit: int):
        super().__init__()
        self.limit, self.dropped = limit, 0

    def write(self, s):
        room = self.limit - self.tell()
        if room > 0:
            super().write(s[:room])
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)


class _Router(io.TextIOBase):
    """``sys.stdout`` while judges run: each thread's writes go to its own capture, or to the real stream. (Batch
    grading runs judges in threads side by side; swapping ``sys.stdout`` itself would mix their outputs.)"""

    def __init__(self, real):
        super().__init__()
        self.real, self.local = real, threading.local()

    def write(self, s):
        cap = getattr(self.local, "cap", None)
        return (cap if cap is not None else self.real).write(s)

    def flush(self):
        cap = getattr(self.local, "cap", None)
        (cap if cap is not None else self.real).flush()

    def isatty(self):
        return False


_ROUTE = threading.Lock()


@contextlib.contextmanager
def _captured(cap):
    """This thread's prints go to ``cap`` (other threads' are untouched)."""
    with _ROUTE:
        if not isinstance(sys.stdout, _Router):
            sys.stdout = _Router(sys.stdout)
        router = sys.stdout
    router.local.cap = cap
    try:
        yield
    finally:
        router.local.cap = None


@contextlib.contextmanager
def _alarm(seconds: float):
    """A judge-side time limit on one statement, where signals can be used (the main thread)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def ring(*_):
        raise JudgeTimeout(f"timed out after {seconds:.0f} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, max(0.01, seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def namespace(checks_module: str, remote: Remote, loaded: dict, graded: list[str]) -> dict:
    """The tests' namespace: the base modules, the notebook's checks, and a proxy (or data) per graded name.

    Only the assignment's ``graded`` names are taken from the sandbox's list, and never one the namespace already
    holds: a sandbox that claims ``torch`` or ``checks`` as defined must not put its own object where the tests
    call ``torch.allclose``."""
    from ..nbcode import base_namespace

    ns = base_namespace("__main__")
    ns["checks"] = importlib.import_module(checks_module)
    kinds = loaded.get("kinds") if type(loaded.get("kinds")) is dict else {}
    values = loaded.get("values") if type(loaded.get("values")) is dict else {}
    for name in loaded.get("defined", []):
        if name not in graded or name in ns or name.startswith("__"):
            continue
        kind = kinds.get(name)
        if kind in ("class", "callable"):
            ns[name] = Graded(remote, name, kind)
        elif kind in ("data", "object") and name in values:
            ns[name] = values[name]
    return ns


def run_statement(st, ns: dict, remote: Remote, limit: float, output_limit: int) -> dict:
    """Run one test statement here; its result (``ok``, ``error``, and for a public one ``detail``, ``output``)."""
    hidden = st.hidden
    remote.deadline = time.monotonic() + limit
    remote.outputs, remote.dropped = [], 0
    cap = _Capture(output_limit)
    ok, err, detail = True, None, ""
    try:
        with _alarm(limit + 2), _captured(cap):
            if st.kind == "check":
                value = eval(compile(st.source, "<test>", "eval"), ns)  # noqa: S307 - the course's own test
                ok = value is None or (not isinstance(value, (Handle, ModuleProxy, Graded)) and _truth(value))
                if not ok:
                    err = "the check did not pass"
            else:
                exec(compile(st.source, "<test>", "exec"), ns)  # noqa: S102 - the course's own test
    except SandboxFailed as e:
        ok, err = False, str(e)
    except SubmissionError as e:
        ok, err = False, e.kind
        detail = str(e)
    except JudgeTimeout:
        ok, err = False, f"timed out after {limit:.0f} s (an infinite loop?)"
        remote.dead = remote.dead or err
        if remote.kill is not None:
            remote.kill()
    except BaseException as e:  # noqa: BLE001
        ok, err = False, type(e).__name__ if type(e).__name__ in _ERRORS else "an exception"
        detail = str(e)[:300]
    reply = {"ok": bool(ok), "error": err}
    if remote.dead and ok is False and err is None:
        reply["error"] = remote.dead
    if not hidden:
        text = "".join(remote.outputs) + cap.getvalue()
        reply.update(detail=detail[:300], output=text[: output_limit], dropped=cap.dropped + remote.dropped)
    return reply


def _truth(value) -> bool:
    try:
        return bool(value)
    except Exception:  # noqa: BLE001
        return False


__all__ = ["Remote", "Graded", "Handle", "ModuleProxy", "SandboxFailed", "namespace", "run_statement"]
