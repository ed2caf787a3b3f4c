"""Stored values from the solution run, so an untouched student notebook still draws every figure.

    trace = computed_or_stored(
        "01_jensen_elbo", "em_trace",
        compute=lambda: run_em(...),        # uses the student's functions
        needs=["posterior", "log_marginal"],  # exercises whose checks must have passed
        what="the EM curve",
    )

When every exercise in ``needs`` has passed its check, ``compute()`` runs. Otherwise the value
stored from the solution notebook is returned and one line says so.

Values are kept small: a few numbers and curves in ``<notebook>.json``; a larger tensor (say, features for a
probe; store them as float16) in ``<notebook>.<key>.pt``. Keep every file well under 1 MB.

Maintainers: ``COURSE_RECORD_STORED=1`` (see ``tools/record_stored.py``) writes computed values into
``course_utils/stored_values/<notebook>.json``; ``COURSE_VERIFY_STORED=1`` (set by the test command)
makes a computed value that disagrees with the stored one an error, so the two cannot drift.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import torch

from . import checks
from .checks import _decode, encode
from .paths import atomic_write_bytes

STORE_DIR = Path(__file__).resolve().parent / "stored_values"


def _flag(name: str) -> bool:
    return os.environ.get(name, "0").strip().lower() in {"1", "true", "yes", "on"}


def _path(notebook: str) -> Path:
    return STORE_DIR / f"{notebook}.json"


LARGE = 20_000  # a value with more tensor elements than this is stored as <notebook>.<key>.pt, not in the JSON


def _numel(value) -> int:
    if torch.is_tensor(value):
        return value.numel()
    if isinstance(value, dict):
        return sum(_numel(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_numel(v) for v in value)
    return 0


def _pt_path(notebook: str, key: str) -> Path:
    return STORE_DIR / f"{notebook}.{key}.pt"


def load_stored(notebook: str, key: str):
    """A value stored from the solution run (small ones in ``<notebook>.json``, large ones in ``.pt`` files)."""
    pt = _pt_path(notebook, key)
    if pt.exists():
        return torch.load(pt, map_location="cpu", weights_only=True)
    path = _path(notebook)
    try:
        table = json.loads(path.read_text())
        return _decode(table[key])
    except (OSError, KeyError, ValueError) as e:
        raise RuntimeError(
            f"No stored value {key!r} for {notebook} ({path}: {e}). Finish the exercises this cell needs, "
            "or reinstall the course package."
        ) from None


def _record(notebook: str, key: str, value) -> None:
    if _numel(value) > LARGE:
        import io

        buf = io.BytesIO()
        torch.save(value, buf)
        atomic_write_bytes(_pt_path(notebook, key), buf.getvalue())
        return
    path = _path(notebook)
    table = json.loads(path.read_text()) if path.exists() else {}
    table[key] = encode(value)
    atomic_write_bytes(path, (json.dumps(table, indent=1, sort_keys=True) + "\n").encode())


def _same(a, b, atol: float) -> bool:
    if torch.is_tensor(a) or torch.is_tensor(b):
        a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
        return a.shape == b.shape and bool(torch.allclose(a, b, atol=atol, rtol=1e-6))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], atol) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y, atol) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= atol + 1e-6 * abs(float(b))
    return a == b


def computed_or_stored(
    notebook: str, key: str, compute: Callable[[], object], needs: list[str], what: str, atol: float = 1e-6
):
    """``compute()`` when the exercises in ``needs`` pass their checks; else the stored value, with a note."""
    todo = checks.missing(*needs)
    if not todo:
        value = compute()
        if _flag("COURSE_RECORD_STORED"):
            _record(notebook, key, value)
        elif _flag("COURSE_VERIFY_STORED"):
            stored = load_stored(notebook, key)
            if not _same(_decode(encode(value)), _decode(encode(stored)), atol):
                raise AssertionError(
                    f"{notebook}: the computed {key!r} differs from the stored value. If the change is intended, "
                    "run `python tools/record_stored.py` and commit the new stored values."
                )
        return value
    names = ", ".join(f"`{n}`" for n in todo)
    print(f"[stored values] {what}: shown from the solution's values until {names} pass their checks.")
    return load_stored(notebook, key)
