"""What crosses between the judge and the sandbox: plain data only.

One message is one :class:`multiprocessing.connection.Connection` ``send_bytes`` block, read with a size cap:
a 4-byte length, a JSON header, then the arrays it refers to as ``.npy`` blobs. Decoding builds only
plain Python values (``None``, bools, numbers, strings, lists, tuples, dicts with string or int keys, slices)
and fresh plain ``torch.Tensor`` objects of a standard dtype, read with ``numpy.load(..., allow_pickle=False)``:
nothing in a message can carry code, a class or a subclass. What the sandbox cannot send as data stays there
behind a *handle* (a number); the judge's side of a handle is a proxy (:mod:`.judge`).

Both sides import this module: the judge to read the sandbox's replies (where everything is untrusted), the
sandbox (:mod:`.agent`) to read the judge's requests.
"""

from __future__ import annotations

import io
import json
import math
import struct

import numpy as np
import torch

MAX_MESSAGE = 256 * 1024 * 1024  # bytes of one message (a reply larger than this fails the test)
MAX_DEPTH = 20  # nesting of lists, tuples and dicts
MAX_ITEMS = 100_000  # values in one message
MAX_HEADER = 4 * 1024 * 1024  # bytes of a message's JSON (arrays travel beside it)

# the standard dtypes, by name; bfloat16 travels as its bits (numpy has no bfloat16)
DTYPES = {
    "float16": torch.float16, "float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16,
    "int8": torch.int8, "int16": torch.int16, "int32": torch.int32, "int64": torch.int64, "uint8": torch.uint8,
    "bool": torch.bool, "complex64": torch.complex64, "complex128": torch.complex128,
}
_NP = {"float16": "<f2", "float32": "<f4", "float64": "<f8", "bfloat16": "<i2", "int8": "|i1", "int16": "<i2",
       "int32": "<i4", "int64": "<i8", "uint8": "|u1", "bool": "|b1", "complex64": "<c8", "complex128": "<c16"}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}


class WireError(ValueError):
    """A message that is not plain data in this format (the other side's failure or tampering)."""


class NotData(TypeError):
    """A value that cannot cross as data (the sandbox keeps it behind a handle; the judge refuses to send it)."""


# ----------------------------------------------------------------------------- tensors <-> .npy
def tensor_bytes(t: torch.Tensor) -> tuple[str, bytes]:
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    name = DTYPE_NAMES.get(t.dtype)
    if name is None:
        raise NotData(f"a tensor of dtype {t.dtype}")
    if t.layout != torch.strided:
        raise NotData(f"a {t.layout} tensor")
    if t.is_conj():
        t = t.resolve_conj()
    if t.is_neg():
        t = t.resolve_neg()
    arr = (t.view(torch.int16) if name == "bfloat16" else t).contiguous().numpy()
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return name, buf.getvalue()


def bytes_tensor(name: str, data: bytes) -> torch.Tensor:
    """A fresh plain tensor from ``.npy`` bytes, whose dtype must be the standard one ``name`` says."""
    if name not in DTYPES:
        raise WireError(f"dtype {name!r} is not allowed")
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as e:  # noqa: BLE001
        raise WireError(f"not an .npy array ({type(e).__name__})") from None
    if not isinstance(arr, np.ndarray) or type(arr) is not np.ndarray or arr.dtype.str != _NP[name]:
        raise WireError(f"an array of dtype {getattr(arr, 'dtype', None)} for {name}")
    if arr.ndim > 16:
        raise WireError("too many dimensions")
    t = torch.from_numpy(arr if arr.flags.writeable else arr.copy())
    if name == "bfloat16":
        t = t.view(torch.bfloat16)
    return t


# ----------------------------------------------------------------------------- values <-> JSON + blobs
class Encoder:
    """Turns a value into JSON-able data and blobs. ``other(value)`` is asked for anything that is not data: it
    returns a JSON-able replacement (a handle) or raises :class:`NotData`."""

    def __init__(self, other=None, grad: bool = False):
        """``grad``: mark the tensors that require grad (``rg``) and collect them, in order, in ``rg_tensors``."""
        self.blobs: list[bytes] = []
        self.other = other
        self.n = 0
        self.grad = grad
        self.rg_tensors: list = []
        self.sent: list = []  # every tensor encoded, in order

    def blob(self, data: bytes) -> int:
        self.blobs.append(data)
        return len(self.blobs) - 1

    def tensor(self, t: torch.Tensor, **extra) -> dict:
        name, data = tensor_bytes(t)
        self.sent.append(t)
        return {"T": self.blob(data), "dtype": name, **extra}

    def __call__(self, v, depth: int = 0):
        self.n += 1
        if depth > MAX_DEPTH or self.n > MAX_ITEMS:
            raise NotData("a value nested too deeply or too large")
        if v is None or isinstance(v, (bool, str)) and type(v) in (bool, str):
            return v
        if type(v) is int:
            return v if abs(v) < 2**63 else {"big": str(v)}
        if type(v) is float:
            return v if math.isfinite(v) else {"f": repr(v)}
        if type(v) is complex:
            return {"c": [self(v.real), self(v.imag)]}
        if type(v) is torch.Tensor or type(v) is torch.nn.Parameter:
            rg = bool(v.requires_grad) and self.grad and v.is_floating_point()
            if rg:
                self.rg_tensors.append(v)
            return self.tensor(v, rg=rg)
        if type(v) is np.ndarray:
            return self.tensor(torch.from_numpy(np.array(v, copy=True, order="C")), np=True)
        if isinstance(v, np.generic) and type(v).__module__ == "numpy":
            return self(v.item(), depth)
        if type(v) is list:
            return {"l": [self(x, depth + 1) for x in v]}
        if type(v) in (tuple, torch.Size):
            return {"t": [self(x, depth + 1) for x in v], **({"size": True} if type(v) is torch.Size else {})}
        if type(v) is dict and all(type(k) in (str, int) for k in v):
            return {"d": [[k, self(x, depth + 1)] for k, x in v.items()]}
        if type(v) is slice:
            return {"s": [self(v.start, depth + 1), self(v.stop, depth + 1), self(v.step, depth + 1)]}
        if v is Ellipsis:
            return {"e": 1}
        if type(v) is torch.dtype and v in DTYPE_NAMES:
            return {"dtype_": DTYPE_NAMES[v]}
        if type(v) is torch.device:
            return {"device": str(v)}
        if type(v) is torch.Generator:
            return {"G": self.tensor(v.get_state())}
        if self.other is not None:
            return self.other(v)
        raise NotData(f"a {type(v).__name__}")


def pack(header: dict, enc: Encoder | None = None) -> bytes:
    head = json.dumps(header, allow_nan=False, separators=(",", ":")).encode()
    blobs = enc.blobs if enc is not None else []
    parts = [struct.pack("<II", len(head), len(blobs)), head]
    for b in blobs:
        parts += [struct.pack("<Q", len(b)), b]
    return b"".join(parts)


def unpack(data: bytes) -> tuple[dict, list[bytes]]:
    """The header and the blobs of a message (:class:`WireError` on anything malformed)."""
    try:
        n_head, n_blobs = struct.unpack_from("<II", data, 0)
        if n_head > MAX_HEADER:
            raise WireError("a header too large")
        at = 8
        head = json.loads(data[at : at + n_head])
        at += n_head
        blobs = []
        if n_blobs > MAX_ITEMS:
            raise WireError("too many arrays")
        view = memoryview(data)
        for _ in range(n_blobs):
            (n,) = struct.unpack_from("<Q", data, at)
            at += 8
            if at + n > len(data):
                raise WireError("truncated")
            blobs.append(view[at : at + n])
            at += n
    except WireError:
        raise
    except Exception as e:  # noqa: BLE001
        raise WireError(f"malformed message ({type(e).__name__})") from None
    if at != len(data) or type(head) is not dict:
        raise WireError("malformed message")
    return head, blobs


class Decoder:
    """JSON-able data and blobs back to values. ``other(obj)`` is asked for a dict this module does not know
    (a handle); plain data is built here and nothing else."""

    def __init__(self, blobs: list[bytes], other=None, leaves: list | None = None):
        """``leaves``: a list that collects, in order, the floating-point tensors sent with ``rg`` (they require
        grad here)."""
        self.blobs, self.other, self.n, self.leaves = blobs, other, 0, leaves
        self.got: list = []  # every tensor decoded, in order
        self.used: set[int] = set()  # the blobs decoded: each once (an Encoder writes a blob per tensor)

    def tensor(self, d: dict) -> torch.Tensor:
        k = d.get("T")
        if type(k) is not int or not 0 <= k < len(self.blobs) or type(d.get("dtype")) is not str or k in self.used:
            raise WireError("bad array reference")
        self.used.add(k)  # a blob named a thousand times would be a thousand copies: the reader's memory, not data
        return bytes_tensor(d["dtype"], self.blobs[k])

    def __call__(self, v, depth: int = 0):
        self.n += 1
        if depth > MAX_DEPTH or self.n > MAX_ITEMS:
            raise WireError("nested too deeply or too large")
        if v is None or type(v) in (bool, int, float, str):
            return v
        if type(v) is not dict or len(v) > 4:
            raise WireError(f"unexpected {type(v).__name__}")
        if "T" in v:
            t = self.tensor(v)
            self.got.append(t)
            if v.get("np") is True:
                return t.numpy()
            if v.get("rg") is True and self.leaves is not None and t.is_floating_point():
                t.requires_grad_(True)
                self.leaves.append(t)
            return t
        if "l" in v and type(v["l"]) is list:
            return [self(x, depth + 1) for x in v["l"]]
        if "t" in v and type(v["t"]) is list:
            items = tuple(self(x, depth + 1) for x in v["t"])
            if v.get("size") is True and all(type(x) is int for x in items):
                return torch.Size(items)
            return items
        if "d" in v and type(v["d"]) is list:
            out = {}
            for kv in v["d"]:
                if type(kv) is not list or len(kv) != 2 or type(kv[0]) not in (str, int):
                    raise WireError("bad dict")
                out[kv[0]] = self(kv[1], depth + 1)
            return out
        if "f" in v and v["f"] in ("nan", "inf", "-inf"):
            return float(v["f"])
        if "big" in v and type(v["big"]) is str and len(v["big"]) < 400:
            return int(v["big"])
        if "c" in v and type(v["c"]) is list and len(v["c"]) == 2:
            re_, im = (self(x, depth + 1) for x in v["c"])
            if type(re_) is not float or type(im) is not float:
                raise WireError("bad complex")
            return complex(re_, im)
        if "s" in v and type(v["s"]) is list and len(v["s"]) == 3:
            parts = [self(x, depth + 1) for x in v["s"]]
            if not all(p is None or type(p) is int for p in parts):
                raise WireError("bad slice")
            return slice(*parts)
        if v.get("e") == 1 and len(v) == 1:
            return Ellipsis
        if "dtype_" in v and v["dtype_"] in DTYPES:
            return DTYPES[v["dtype_"]]
        if "device" in v and v["device"] in ("cpu",):
            return torch.device("cpu")
        if "G" in v and type(v["G"]) is dict:
            g = torch.Generator()
            try:
                g.set_state(self.tensor(v["G"]))
            except RuntimeError:
                raise WireError("bad generator state") from None
            return g
        if self.other is not None:
            return self.other(v)
        raise WireError("unknown value")


__all__ = ["MAX_MESSAGE", "DTYPES", "DTYPE_NAMES", "WireError", "NotData", "Encoder", "Decoder", "pack", "unpack",
           "tensor_bytes", "bytes_tensor"]
