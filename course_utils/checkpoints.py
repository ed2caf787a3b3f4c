"""Load-else-train: a trained model is cached under a key made from its configuration.

    model, history = load_or_train(
        "ae", config={"latent_dim": 8, "epochs": 10, "n_train": 60000},
        build=lambda cfg: Autoencoder(cfg["latent_dim"]),
        train=lambda model: fit(model, loss_fn, X, epochs=10),
    )

The same configuration loads the cached weights; any change to it trains a new model. Writes are
atomic (a crash never leaves half a file), and a corrupt entry is retrained with a warning.

``COURSE_CHECKPOINTS=released`` loads the course's released checkpoint instead, where the call names one
(``released="ae"``; see :mod:`course_utils.released`); ``COURSE_CHECKPOINTS=train``
ignores the cache and trains again.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .paths import atomic_write_bytes, cache_dir
from .released import checkpoint_mode, load_released_model
from .train import History


def config_key(name: str, config: dict) -> str:
    """A short, stable hash of the model's name and configuration."""
    blob = json.dumps({"name": name, "config": config}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def checkpoint_path(name: str, config: dict) -> Path:
    return cache_dir("checkpoints") / f"{name}-{config_key(name, config)}.pt"


def save_checkpoint(path: Path, payload: dict) -> None:
    """``torch.save`` ``payload`` to ``path`` atomically."""
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def find_cached(name: str, want: dict) -> dict:
    """The payload of the newest cached checkpoint of ``name`` (``<name>-<key>.pt``) whose configuration holds
    every entry of ``want``: what a run of the notebooks left in the cache, for the release tools. Raises
    :class:`LookupError`, saying where it looked, when there is none."""
    hits = []
    for path in cache_dir("checkpoints").glob(f"{name}-*.pt"):
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload.get("name") == name and all(payload["config"].get(k) == v for k, v in want.items()):
            hits.append((path.stat().st_mtime, path, payload))
    if not hits:
        raise LookupError(f"no cached {name!r} checkpoint with {want} in {cache_dir()}: run the notebook in the "
                          "full profile first")
    _, path, payload = max(hits, key=lambda h: h[0])
    print(f"{name}: {path.name}, trained in {payload.get('train_seconds', 0):.0f} s")
    return payload


def load_or_train(
    name: str,
    config: dict,
    build: Callable[[dict], nn.Module],
    train: Callable[[nn.Module], History | dict | None],
    *,
    retrain: bool | None = None,
    released: str | None = None,
    verbose: bool = True,
) -> tuple[nn.Module, History]:
    """Return ``(model, history)``: loaded from the cache when this exact configuration was trained
    before, else built with ``build(config)``, trained with ``train(model)`` and cached.

    ``released`` names the course's released checkpoint for this model: with ``COURSE_CHECKPOINTS=released``
    it is loaded (built from the released configuration, after its sha256 is verified) instead.
    The model is returned in eval mode on the CPU; move it where you need it.
    """
    mode = checkpoint_mode()
    if released is not None and mode == "released":
        # a sha256 mismatch raises (never a silent use); weights that do not fit this model: a warning, then training
        got = load_released_model(released, build, instead=f"training {name} instead")
        if got is not None:
            if verbose:
                print(f"Loaded the released checkpoint {released!r} (trained in the full profile on "
                      f"{got.entry['hardware']}, {got.entry['train_seconds']:.0f} s). Set COURSE_CHECKPOINTS=auto to "
                      "train it yourself.")
            return got.model, History.from_dict(got.payload.get("history", {}))
    path = checkpoint_path(name, config)
    retrain = (mode == "train") if retrain is None else retrain
    model = build(config)
    if path.exists() and not retrain:
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(payload["state_dict"])
            history = History.from_dict(payload.get("history", {}))
            if verbose:
                seconds = payload.get("train_seconds", 0)
                print(f"Loaded {name} from the cache ({path.name}; trained in {seconds:.0f} s).")
            return model.eval(), history
        except Exception as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else ""
            warnings.warn(f"The cached checkpoint {path} is unreadable ({type(e).__name__}: {reason}); retraining it.")
            model = build(config)
    t0 = time.perf_counter()
    result = train(model)
    seconds = time.perf_counter() - t0
    history = result if isinstance(result, History) else History.from_dict(result or {})
    model = model.cpu().eval()
    payload = {
        "name": name,
        "config": json.loads(json.dumps(config, default=str)),
        "state_dict": model.state_dict(),
        "history": history.to_dict(),
        "train_seconds": seconds,
        "torch_version": str(torch.__version__),
    }
    save_checkpoint(path, payload)
    if verbose:
        print(f"Trained {name} in {seconds:.0f} s; cached as {path.name}.")
    return model, history
