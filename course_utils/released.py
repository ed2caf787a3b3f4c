"""Released checkpoints: models trained once in the ``full`` profile, shipped with the course.

Each lives in ``course_utils/released/<name>.pt`` (at most 5 MB) with an entry in
``course_utils/released/manifest.json``: configuration, dataset, seed, metrics, sha256, training time,
hardware. :func:`load_released` verifies the sha256 before anything is loaded; a mismatch is an error,
never a silent use.

:func:`load_released_model` loads one into a module built for it (the one way every caller does it:
:func:`course_utils.checkpoints.load_or_train` and notebook 06's :mod:`course_utils.capstone`). The notebooks use
them through :func:`course_utils.checkpoints.load_or_train` and one switch, ``COURSE_CHECKPOINTS``:

- ``auto`` (default): load this exact configuration from the local cache, else train it;
- ``released``: use the released checkpoint where one exists (a lecture walkthrough without waiting);
- ``train``: always train.

Maintainers write releases with :func:`release_checkpoint` (see ``tools/``).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .paths import atomic_write_bytes

RELEASED_DIR = Path(__file__).resolve().parent / "released"
MAX_BYTES = 5 * 1024 * 1024
MODE_ENV_VAR = "COURSE_CHECKPOINTS"
MODES = ("auto", "released", "train")


class ReleasedCheckpointError(RuntimeError):
    """A released checkpoint is unknown, missing, or does not match its recorded sha256."""


class ReleasedMismatchError(ReleasedCheckpointError):
    """A released checkpoint's weights do not fit the module built for them (other layer names or shapes)."""


def checkpoint_mode() -> str:
    """``auto``, ``released`` or ``train``, from ``$COURSE_CHECKPOINTS`` (:mod:`course_utils.settings`)."""
    from .settings import current

    return current().checkpoints


def manifest(path: Path | None = None) -> dict:
    """The manifest: ``{name: entry}`` (empty when nothing is released yet)."""
    path = Path(path) if path is not None else RELEASED_DIR / "manifest.json"
    if not path.exists():
        return {}
    return json.loads(Path(path).read_text())


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_released(name: str, directory: Path | None = None) -> bool:
    return name in manifest(Path(directory or RELEASED_DIR) / "manifest.json")


def load_released(name: str, directory: Path | None = None) -> tuple[dict, dict]:
    """Return ``(payload, entry)`` for a released checkpoint, after verifying its sha256.

    ``payload`` holds ``state_dict``, ``config`` and ``history``; ``entry`` is its manifest entry.
    """
    directory = Path(directory or RELEASED_DIR)
    table = manifest(directory / "manifest.json")
    if name not in table:
        known = ", ".join(sorted(table)) or "none yet"
        raise ReleasedCheckpointError(f"No released checkpoint named {name!r} (released: {known}).")
    entry = table[name]
    path = directory / entry["file"]
    if not path.exists():
        raise ReleasedCheckpointError(
            f"The released checkpoint {path} is missing. Restore it from the repository (git checkout -- {path.name}) "
            f"or set {MODE_ENV_VAR}=auto to train instead."
        )
    digest = sha256_of(path)
    if digest != entry["sha256"]:
        raise ReleasedCheckpointError(
            f"The released checkpoint {path} does not match its manifest (sha256 {digest[:12]}..., expected "
            f"{entry['sha256'][:12]}...): it was changed or damaged, so it is not used. Restore it from the "
            f"repository (git checkout -- {path}) or set {MODE_ENV_VAR}=auto to train instead."
        )
    payload = torch.load(path, map_location="cpu", weights_only=True)
    return payload, entry


@dataclass
class LoadedRelease:
    """What :func:`load_released_model` returns: the module (in eval mode, on the CPU), the checkpoint's payload
    (``config``, ``history``; its ``state_dict`` as saved) and its manifest entry."""

    model: nn.Module
    payload: dict
    entry: dict


def load_released_model(
    name: str,
    build: Callable[[dict], nn.Module | None],
    *,
    state: Callable[[dict, dict], dict] | None = None,
    directory: Path | None = None,
    instead: str | None = None,
) -> LoadedRelease | None:
    """The released checkpoint ``name`` loaded into ``build(config)``; ``None`` when the course releases none.

    The file's sha256 is verified first (:func:`load_released`: a mismatch raises, never a silent use). ``build``
    gets the released configuration and returns the module, or ``None`` when this release does not stand for
    what the caller wants (another run, other images): then ``None`` is returned. ``state(config, state_dict)``,
    if given, picks the part of the saved state the module holds (the encoder of a whole autoencoder, say). Each
    tensor is cast to the dtype of the module's own (releases may store float16) and loaded strictly.

    A state that does not fit the module (other layer names or shapes, or a part ``state`` cannot find) is
    reported one way: "The released checkpoint 'NAME' does not fit this model's layers (why)". With ``instead``
    (what the caller does then, "training it instead") it is a warning ending with it, and ``None`` is returned;
    without, it raises :class:`ReleasedMismatchError`.
    """
    if not is_released(name, directory):
        return None
    payload, entry = load_released(name, directory)
    config = payload["config"]
    module = build(config)
    if module is None:
        return None
    try:
        saved = state(config, payload["state_dict"]) if state is not None else payload["state_dict"]
        mine = module.state_dict()
        module.load_state_dict({k: v.to(mine[k].dtype) if k in mine else v for k, v in saved.items()})
    except (KeyError, ValueError, RuntimeError) as e:
        # your own class (say, notebook 02's Autoencoder) may name its layers differently from the solution's
        why = " ".join(str(e).split())[:200]
        message = f"The released checkpoint {name!r} does not fit this model's layers ({type(e).__name__}: {why})"
        if instead is None:
            raise ReleasedMismatchError(message) from e
        warnings.warn(f"{message}; {instead}.", stacklevel=2)
        return None
    return LoadedRelease(module.eval(), payload, entry)


def probe_all_labels(module: nn.Module, train, test) -> float:
    """The metric an encoder is released with: a linear probe on its features of every training label (200 L-BFGS
    iterations), scored on the test set; ``train`` and ``test`` have ``images`` and ``labels``. Rounded to 4 places."""
    from .evaluate import extract_features, linear_probe

    t0 = time.perf_counter()
    acc = linear_probe(extract_features(module, train.images), train.labels,
                       extract_features(module, test.images), test.labels, max_iter=200).accuracy
    print(f"  linear probe, all {len(train.labels):,} labels: {acc:.4f} ({time.perf_counter() - t0:.0f} s)")
    return round(acc, 4)


def hardware_description() -> str:
    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)}"
    return f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"


def release_checkpoint(
    name: str,
    model: nn.Module,
    config: dict,
    *,
    metrics: dict,
    history: dict | None = None,
    train_seconds: float,
    dataset: str = "Fashion-MNIST",
    seed: int = 0,
    hardware: str | None = None,
    directory: Path | None = None,
    half: bool = False,
) -> dict:
    """Write ``<name>.pt`` and its manifest entry (maintainers). ``half`` stores float tensors as float16."""
    directory = Path(directory or RELEASED_DIR)
    state = {
        k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
        for k, v in model.state_dict().items()
    }
    payload = {"name": name, "config": json.loads(json.dumps(config, default=str)), "state_dict": state,
               "history": history or {}, "half": half}
    buf = io.BytesIO()
    torch.save(payload, buf)
    blob = buf.getvalue()
    if len(blob) > MAX_BYTES:
        raise ValueError(
            f"{name}: {len(blob) / 1e6:.1f} MB is over the 5 MB limit for a released checkpoint (try half=True)."
        )
    path = directory / f"{name}.pt"
    atomic_write_bytes(path, blob)
    table = manifest(directory / "manifest.json")
    table[name] = {
        "file": path.name,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "bytes": len(blob),
        "config": payload["config"],
        "dataset": dataset,
        "seed": seed,
        "metrics": metrics,
        "train_seconds": round(float(train_seconds), 1),
        "hardware": hardware or hardware_description(),
        "torch_version": str(torch.__version__),
        "created": _dt.date.today().isoformat(),
    }
    atomic_write_bytes(directory / "manifest.json", (json.dumps(table, indent=1, sort_keys=True) + "\n").encode())
    return table[name]


def main() -> int:
    """``python -m course_utils.released``: list the released checkpoints and verify each one's sha256."""
    table = manifest()
    if not table:
        print("No released checkpoints yet (course_utils/released/manifest.json is empty or missing).")
        return 0
    bad = 0
    width = max(len(name) for name in table)
    for name, e in sorted(table.items()):
        path = RELEASED_DIR / e["file"]
        ok = path.exists() and sha256_of(path) == e["sha256"]
        bad += not ok
        metrics = ", ".join(f"{k} {v}" for k, v in e.get("metrics", {}).items())
        print(f"{name:>{width}}: {e['bytes'] / 1e6:5.2f} MB  sha256 {'ok' if ok else 'MISMATCH or missing'}  "
              f"trained {e['train_seconds'] / 60:.1f} min on {e['hardware']}  {metrics}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
