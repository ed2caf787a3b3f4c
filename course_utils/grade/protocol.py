"""The pipe between the grader and the notebook runner it starts in the sandbox (:mod:`.execute`): JSON messages,
each one :class:`multiprocessing.connection.Connection` block (a 4-byte big-endian length, then the JSON).

Only ``send_bytes``, ``recv_bytes(maxlength)`` and ``poll`` are used, never ``send``/``recv``: those unpickle what
they read, and unpickling bytes from a sandboxed process runs whatever code they name, in the grader.

:func:`sender` and :func:`send` are the started process's side (blocking); :class:`Channel` is the grader's, which
reads with a deadline and a size cap and treats anything that is not a message as the other side's failure or
tampering. A ``Connection`` owns its file descriptor: it closes it on ``close()`` or when collected.
"""

from __future__ import annotations

import json
import os
import threading
from multiprocessing.connection import Connection

MAX_MESSAGE = 64 << 20  # bytes of one message's JSON (a report is a few hundred a cell): more is refused (OSError)


def sender(fd: int) -> Connection:
    """The started process's end of the pipe whose number it was given; its own children do not inherit it."""
    os.set_inheritable(fd, False)
    return Connection(fd, readable=False)


def send(conn: Connection, obj) -> None:
    conn.send_bytes(json.dumps(obj).encode())


def recv_bytes(conn: Connection, timeout: float, maxlength: int, kill=None) -> bytes:
    """One message from an untrusted sender, within ``timeout``: TimeoutError (silence), EOFError (the pipe closed)
    or OSError (longer than ``maxlength``, or cut off) when there is none. ``kill()`` ends the sender; a watchdog
    calls it when a message it started does not arrive in time (a sender stopped inside a message), which ends the
    read with EOF. The judge's pipes (:mod:`.judge`) are read through this too."""
    timer = threading.Timer(timeout + 1, kill) if kill is not None and timeout > 0 else None
    if timer:
        timer.daemon = True
        timer.start()
    try:
        if not conn.poll(max(0.0, timeout)):
            raise TimeoutError
        return conn.recv_bytes(maxlength)
    finally:
        if timer:
            timer.cancel()


class Channel:
    """The grader's end: JSON objects read from a pipe, with a deadline."""

    def __init__(self, fd: int, kill=None):
        """``kill()`` ends the sender (see :func:`recv_bytes`)."""
        self.conn, self.kill = Connection(fd, writable=False), kill

    def recv(self, timeout: float) -> dict:
        """One message: the errors of :func:`recv_bytes`, or ValueError (not a JSON object)."""
        msg = json.loads(recv_bytes(self.conn, timeout, MAX_MESSAGE, self.kill))
        if type(msg) is not dict:
            raise ValueError("not a message")
        return msg

    def close(self):
        self.conn.close()


__all__ = ["MAX_MESSAGE", "sender", "send", "recv_bytes", "Channel"]
