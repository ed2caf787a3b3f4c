"""Storing values: the checks' cases and the notebooks' fallback values, one folder, one encoder.

Two kinds of entry, in ``course_utils/stored_values/``:

- **check cases** (``<notebook>.cases.json``): fixed inputs, the solution's outputs and the outputs of typical
  mistakes, per exercise. Written by ``tools/make_stored.py NN --cases`` from the solution notebook's own functions.
- **fallback values**, one set per profile (``<notebook>.<profile>.json``; a large tensor in
  ``<notebook>.<profile>.<key>.pt``): what a cell shows while the exercises it needs are unfinished
  (:func:`course_utils.stored.computed_or_stored`). Written by ``tools/make_stored.py NN --fallbacks``.

``COURSE_RECORD_STORED=1`` writes computed values into the package's store; ``COURSE_RECORD_STORED=/a/folder``
writes them there instead (how the spread benchmark records runs without touching the store).

The chain of modules, one way: :mod:`.storage` (this) <- :mod:`.compare` <- :mod:`.tolerances` <- :mod:`.stored`;
the checks read their cases from here.
"""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path

import torch

from .paths import atomic_write_bytes
from .settings import current

STORE_DIR = Path(__file__).resolve().parent / "stored_values"
RECORD_ENV_VAR = "COURSE_RECORD_STORED"
VERIFY_ENV_VAR = "COURSE_VERIFY_STORED"
PROFILES = ("fast", "full")
LARGE = 20_000  # a value with more tensor elements than this is stored as a .pt file, not in the JSON


class StoreError(RuntimeError):
    """A stored value is missing or unreadable."""


def verifying() -> bool:
    """``COURSE_VERIFY_STORED``: compare every computed value with the stored one."""
    return current().verify_stored


# ----------------------------------------------------------------------------- encoding
def encode(obj):
    """Tensors to JSON-able dicts (everything else as it is)."""
    if torch.is_tensor(obj):
        t = obj.detach().cpu()
        return {"__tensor__": t.tolist(), "dtype": str(t.dtype).removeprefix("torch.")}
    if isinstance(obj, dict):
        return {k: encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [encode(v) for v in obj]
    return obj


def decode(obj):
    """The inverse of :func:`encode`."""
    if isinstance(obj, dict) and "__tensor__" in obj:
        return torch.tensor(obj["__tensor__"], dtype=getattr(torch, obj.get("dtype", "float64")))
    if isinstance(obj, dict):
        return {k: decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    return obj


def _write_json(path: Path, table: dict, indent: int | None = 1) -> None:
    atomic_write_bytes(path, (json.dumps(encode(table), indent=indent, sort_keys=True) + "\n").encode())


# ----------------------------------------------------------------------------- check cases
def cases_path(notebook: str, folder: Path | None = None) -> Path:
    return (folder or STORE_DIR) / f"{notebook}.cases.json"


@cache
def cases_text(notebook: str) -> str:
    """The raw cases file of a notebook, read once per process (the grader reads it before any submission runs)."""
    path = cases_path(notebook)
    try:
        return path.read_text()
    except OSError as e:
        raise StoreError(f"No check cases for {notebook} ({path}: {e}). Reinstall the course package.") from None


def load_cases(notebook: str) -> dict:
    """Every exercise's stored cases, decoded (fresh tensors on every call)."""
    return decode(json.loads(cases_text(notebook)))


def stored_cases(notebook: str, exercise: str) -> list[dict]:
    """The stored cases of one exercise."""
    return load_cases(notebook)[exercise]["cases"]


def write_cases(notebook: str, table: dict, folder: Path | None = None) -> Path:
    path = cases_path(notebook, folder)
    _write_json(path, table)
    cases_text.cache_clear()
    return path


# ----------------------------------------------------------------------------- fallback values
def values_path(notebook: str, profile: str, folder: Path | None = None) -> Path:
    return (folder or STORE_DIR) / f"{notebook}.{profile}.json"


def _pt_path(notebook: str, profile: str, key: str, folder: Path | None = None) -> Path:
    return (folder or STORE_DIR) / f"{notebook}.{profile}.{key}.pt"


def has_stored(notebook: str, key: str, profile: str, folder: Path | None = None) -> bool:
    if _pt_path(notebook, profile, key, folder).exists():
        return True
    path = values_path(notebook, profile, folder)
    return path.exists() and key in json.loads(path.read_text())


def stored_keys(notebook: str, profile: str, folder: Path | None = None) -> list[str]:
    """The keys stored for one notebook and profile."""
    folder = folder or STORE_DIR
    path = values_path(notebook, profile, folder)
    keys = set(json.loads(path.read_text())) if path.exists() else set()
    prefix = f"{notebook}.{profile}."
    keys |= {p.name[len(prefix):-3] for p in folder.glob(f"{prefix}*.pt")}
    return sorted(keys)


def load_stored(notebook: str, key: str, profile: str, folder: Path | None = None):
    """The value stored from the solution's run in ``profile``."""
    pt = _pt_path(notebook, profile, key, folder)
    if pt.exists():
        return torch.load(pt, map_location="cpu", weights_only=True)
    path = values_path(notebook, profile, folder)
    try:
        return decode(json.loads(path.read_text())[key])
    except (OSError, KeyError, ValueError) as e:
        raise StoreError(
            f"No stored value {key!r} for {notebook} in the {profile!r} profile ({path.name}: {e}). Finish the "
            "exercises this cell needs, or reinstall the course package."
        ) from None


def fallback(notebook: str, key: str, profile: str):
    """``(value, profile it came from)``: the profile's own value, else the other profile's (said in the note)."""
    order = [profile] + [p for p in PROFILES if p != profile]
    for p in order:
        if has_stored(notebook, key, p):
            return load_stored(notebook, key, p), p
    return load_stored(notebook, key, profile), profile  # raises the StoreError that says what to do


def record(notebook: str, key: str, value, profile: str, folder: Path | None = None) -> None:
    """Store ``value`` as the ``profile`` fallback of ``key`` (JSON, or a .pt file when it is large)."""
    folder = Path(folder or STORE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    if _numel(value) > LARGE:
        buf = io.BytesIO()
        torch.save(value, buf)
        atomic_write_bytes(_pt_path(notebook, profile, key, folder), buf.getvalue())
        return
    _pt_path(notebook, profile, key, folder).unlink(missing_ok=True)
    path = values_path(notebook, profile, folder)
    table = json.loads(path.read_text()) if path.exists() else {}
    table[key] = encode(value)
    atomic_write_bytes(path, (json.dumps(table, indent=1, sort_keys=True) + "\n").encode())


def _numel(value) -> int:
    if torch.is_tensor(value):
        return value.numel()
    if isinstance(value, dict):
        return sum(_numel(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_numel(v) for v in value)
    return 0


def _record_folder() -> Path | None:
    """Where ``COURSE_RECORD_STORED`` asks to record: the store (``1``), a folder, or nowhere."""
    raw = (current().record_stored or "").strip()
    if not raw or raw.lower() in {"0", "false", "no", "off"}:
        return None
    return STORE_DIR if raw.lower() in {"1", "true", "yes", "on"} else Path(raw)
