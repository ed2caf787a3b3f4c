"""The pipe protocol between the grader and the processes it starts (the notebook runner, the test runner and its
children): length-prefixed JSON messages, a ``HEADER``-digit length then the JSON.

:func:`send` and :func:`recv` are the started processes' side (blocking); :class:`Channel` is the grader's, which
reads with a deadline and treats anything that is not a message as the other side's failure or tampering.
"""

from __future__ import annotations

import json
import os
import select
import time

HEADER = 10


def send(fd: int, obj) -> None:
    data = json.dumps(obj).encode()
    data = f"{len(data):0{HEADER}d}".encode() + data
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _read_exact(fd: int, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def recv(fd: int):
    n = int(_read_exact(fd, HEADER))
    return json.loads(_read_exact(fd, n))


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


__all__ = ["HEADER", "send", "recv", "Channel"]
