"""Where the course keeps things: the repository, the data folder, the cache.

Every path the package writes to comes from here, so one environment variable
moves it (handy on Colab, on a read-only checkout, or in CI).

- ``COURSE_CACHE``: the cache folder (decoded data, trained checkpoints).
  Default: ``<repo>/.cache`` in a writable clone, else ``~/.cache/ssl-course``.
- ``COURSE_DATA``: the project data folder. Default: ``<repo>/data`` in a clone, else ``~/.cache/ssl-course/data``.

An installed package (a wheel, not a clone) has no repository around it: ``CHECKOUT`` is then ``None`` and
everything goes under the user's cache folder.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .settings import current

REPO_ROOT = Path(__file__).resolve().parents[1]
# The clone this package runs from, or None when it is installed from a wheel (REPO_ROOT is then site-packages).
CHECKOUT = REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "solutions").is_dir() else None
USER_CACHE = Path.home() / ".cache" / "ssl-course"


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
        return True
    except OSError:
        return False


def data_dir() -> Path:
    """The project's data folder (``$COURSE_DATA``, else ``<repo>/data`` in a clone, else the user's cache)."""
    default = CHECKOUT / "data" if CHECKOUT is not None else USER_CACHE / "data"
    return current().data or default


def cache_dir(sub: str = "") -> Path:
    """A writable cache folder, created on first use; ``sub`` names a subfolder."""
    explicit = current().cache
    if explicit:
        base = explicit
    else:
        base = CHECKOUT / ".cache" if CHECKOUT is not None else USER_CACHE
        if not _writable(base):
            base = USER_CACHE
    folder = base / sub if sub else base
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so that a reader sees the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
