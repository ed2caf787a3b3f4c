"""The one store of stored values: the checks' cases and the values an unfinished notebook falls back to.

Two kinds of entry, in one folder (``course_utils/stored_values/``), with one encoder:

- **check cases** (``<notebook>.cases.json``): fixed inputs, the solution's outputs and the outputs of typical
  mistakes, per exercise. Deterministic: a check compares at the case's tight tolerance. Written by
  ``tools/make_stored.py NN --cases`` from the solution notebook's own functions.
- **fallback values**, one set per profile (``<notebook>.<profile>.json``; a large tensor in
  ``<notebook>.<profile>.<key>.pt``): what a cell shows while the exercises it needs are unfinished::

      trace = computed_or_stored(
          "01_jensen_elbo", "em_trace",
          compute=lambda: run_em(...),          # uses the student's functions
          needs=["posterior", "log_marginal"],  # exercises whose checks must have passed
          what="the EM curve",
      )

  When every exercise in ``needs`` has passed its check, ``compute()`` runs. Otherwise the value stored from
  the solution's run *in the same profile* is returned and one line says so (and which profile it came from).
  Written by ``tools/make_stored.py NN --fallbacks --profile fast|full``.

How a computed value is compared with the stored one (``COURSE_VERIFY_STORED=1``, set by the test command) is
declared once per value in :mod:`course_utils.tolerances`: deterministic values tightly, trained ones (losses,
accuracies, latents, reconstructions) at a tolerance set from the spread measured across seeds and CPU kernels
(``benchmarks/stored_spread.py``), plus the properties they must have. A failing comparison names the value, the
largest difference and the tolerance.

``COURSE_RECORD_STORED=1`` writes computed values into the package's store; ``COURSE_RECORD_STORED=/a/folder``
writes them there instead (how the spread benchmark records runs without touching the store).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

import torch

from .paths import atomic_write_bytes

STORE_DIR = Path(__file__).resolve().parent / "stored_values"
RECORD_ENV_VAR = "COURSE_RECORD_STORED"
VERIFY_ENV_VAR = "COURSE_VERIFY_STORED"
PROFILES = ("fast", "full")
LARGE = 20_000  # a value with more tensor elements than this is stored as a .pt file, not in the JSON


class StoreError(RuntimeError):
    """A stored value is missing or unreadable."""


def _flag(name: str) -> bool:
    return os.environ.get(name, "0").strip().lower() in {"1", "true", "yes", "on"}


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
    raw = os.environ.get(RECORD_ENV_VAR, "").strip()
    if not raw or raw.lower() in {"0", "false", "no", "off"}:
        return None
    return STORE_DIR if raw.lower() in {"1", "true", "yes", "on"} else Path(raw)


# ----------------------------------------------------------------------------- comparison
def leaves(value, prefix: str = ""):
    """``(path, leaf)`` pairs of a nested value; a list of numbers is one leaf (a curve)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{prefix}/{k}" if prefix else str(k))
    elif isinstance(value, (list, tuple)) and not _numeric_list(value):
        for i, v in enumerate(value):
            yield from leaves(v, f"{prefix}/{i}" if prefix else str(i))
    else:
        yield prefix, value


def _numeric_list(value) -> bool:
    return len(value) > 0 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)


def _as_tensor(v):
    if torch.is_tensor(v):
        return v.detach().cpu().to(torch.float64)
    if isinstance(v, (list, tuple, int, float)) and not isinstance(v, bool):
        return torch.as_tensor(v, dtype=torch.float64)
    return None


def _abs_diff(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a - b|, with equal infinities (and NaN against NaN) counted as no difference."""
    same = (a == b) | (torch.isnan(a) & torch.isnan(b))
    return torch.where(same, torch.zeros_like(a), (a - b).abs())


def compare(computed, stored, spec) -> list[str]:
    """Every way ``computed`` differs from ``stored`` beyond ``spec``'s tolerances (empty: they agree).

    Each line names the leaf, its largest (or mean) difference and the tolerance that it broke.
    """
    got, want = dict(leaves(computed)), dict(leaves(stored))
    if got.keys() != want.keys():
        return [f"the parts differ: computed {sorted(got)[:8]}, stored {sorted(want)[:8]}"]
    problems = []
    for path, s in want.items():
        c = got[path]
        tol = spec.tolerance_for(path)
        tc, ts = _as_tensor(c), _as_tensor(s)
        if tc is None or ts is None:
            if c != s:
                problems.append(f"{path or key_name(spec)}: {c!r} != stored {s!r}")
            continue
        if tc.shape != ts.shape:
            problems.append(f"{path}: shape {list(tc.shape)} != stored {list(ts.shape)}")
            continue
        if tc.numel() == 0:
            continue
        diff = _abs_diff(tc, ts)
        if tol.mean:
            err = diff.mean().item()
            if not err <= tol.atol:
                problems.append(f"{path}: mean difference {err:.3g} > tolerance {tol.describe()}")
        else:
            allowed = tol.atol + tol.rtol * ts.abs()
            excess = diff - allowed
            if not (excess <= 0).all():
                i = int(torch.argmax(torch.nan_to_num(excess, nan=float("inf"))))
                problems.append(f"{path}: largest difference {diff.flatten()[i].item():.3g} "
                                f"(computed {tc.flatten()[i].item():.6g}, stored {ts.flatten()[i].item():.6g}) "
                                f"> tolerance {tol.describe()}")
    return problems


def differences(a, b) -> dict[str, dict]:
    """Per part of two values of the same key: the largest and the mean absolute difference (numbers only), or
    whether they are equal (anything else). What ``benchmarks/stored_spread.py`` reports."""
    got, want = dict(leaves(decode(encode(a)))), dict(leaves(decode(encode(b))))
    out = {}
    for path in sorted(set(got) | set(want)):
        if path not in got or path not in want:
            out[path] = {"missing": True}
            continue
        ta, tb = _as_tensor(got[path]), _as_tensor(want[path])
        if ta is None or tb is None or ta.shape != tb.shape:
            out[path] = {"equal": got[path] == want[path] if ta is None else False}
            continue
        d = _abs_diff(ta, tb)
        rel = d / tb.abs().clamp_min(1e-12)
        out[path] = {"max": d.max().item() if d.numel() else 0.0, "mean": d.mean().item() if d.numel() else 0.0,
                     "max_rel": rel.max().item() if d.numel() else 0.0}
    return out


def key_name(spec) -> str:
    return getattr(spec, "key", "value")


# ----------------------------------------------------------------------------- the notebook's call
def computed_or_stored(notebook: str, key: str, compute: Callable[[], object], needs: list[str], what: str,
                       atol: float | None = None):
    """``compute()`` when the exercises in ``needs`` pass their checks; else the stored value, with a note.

    ``atol`` is kept for old notebooks and ignored: how a value is compared lives in :mod:`course_utils.tolerances`.
    """
    from . import checks
    from .profiles import get_profile
    from .tolerances import spec_for

    profile = get_profile().name
    todo = checks.missing(*needs)
    if not todo:
        value = compute()
        folder = _record_folder()
        if folder is not None:
            record(notebook, key, value, profile, folder)
        elif _flag(VERIFY_ENV_VAR):
            verify(notebook, key, value, profile, spec_for(notebook, key))
        return value
    value, source = fallback(notebook, key, profile)
    names = ", ".join(f"`{n}`" for n in todo)
    note = f"the solution's {source}-profile run"
    if source != profile:
        note += f" (no {profile}-profile value is stored for it)"
    print(f"[stored values] {what}: shown from {note} until {names} pass their checks.")
    return value


def verify(notebook: str, key: str, value, profile: str, spec) -> None:
    """Raise an AssertionError that says what differs, when ``value`` breaks the stored value's spec."""
    problems = [f"property: {p}" for p in spec.broken_properties(value)]
    if has_stored(notebook, key, profile):
        stored = load_stored(notebook, key, profile)
        problems += compare(decode(encode(value)), decode(encode(stored)), spec)
    else:
        problems.append(f"no {profile}-profile value is stored (run tools/make_stored.py --fallbacks)")
    if problems:
        raise AssertionError(
            f"{notebook}: the computed {key!r} ({spec.kind}) differs from the stored {profile}-profile value:\n  "
            + "\n  ".join(problems[:10])
            + (f"\n  ({spec.spread})" if spec.spread else "")
            + "\nIf the change is intended, run `python tools/make_stored.py "
            + f"{notebook[:2]} --fallbacks --profile {profile}` and commit the new stored values."
        )


__all__ = ["computed_or_stored", "stored_cases", "load_cases", "load_stored", "encode", "decode", "compare",
           "record", "StoreError"]
