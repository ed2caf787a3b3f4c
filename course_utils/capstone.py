"""Notebook 06's machinery: every representation of the course, trained with *your* code from notebooks 02-05.

Notebook 06 has no new exercise: it reruns the course's methods side by side. It does not ship their answers
either. :func:`load_your_code` reads the definitions from your own notebooks 02-05 (the ones next to notebook
06; read as the grader reads a submission, :mod:`course_utils.nbcode`, so nothing but imports, ``def``,
``class`` and constants runs), and each method is used only when your functions pass that notebook's checks::

    code = load_your_code("04_simclr")        # your augment, nt_xent_loss, ...
    code.ready("augment", "nt_xent_loss")     # True when both pass check_augment / check_nt_xent_loss

Where a method's functions are not ready, notebook 06 uses the method's released checkpoint when the course
ships one and it can be built without your code (AE, DAE, VAE, SimCLR), and otherwise leaves the method out,
saying which exercise to finish. In the ``full`` profile the released checkpoints are used by default (the
notebook then runs without training them); ``COURSE_CHECKPOINTS=train`` trains everything instead.
"""

from __future__ import annotations

import hashlib
import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import syllabus
from .checkpoints import load_or_train
from .evaluate import extract_features, fraction_correct
from .mae import ADAMW as MAE_ADAMW
from .models import (  # notebook 06's modules live in .models; re-exported here (cs.Classifier, cs.mlp_encoder)
    MLPVAE,
    Classifier,
    Encode,
    as_mlp_encoder,
    autoencoder_encoder_state,
    mlp_encoder,
)
from .nbcode import base_namespace, definitions, definitions_digest, run_definitions
from .paths import REPO_ROOT
from .released import checkpoint_mode, load_released_model
from .simclr import ADAMW as SIMCLR_ADAMW
from .simclr import Encoder, SimCLRModel, warmup_cosine
from .train import History, fit

# which of your notebooks each method needs, and the functions it uses from it
METHODS: dict[str, tuple[str, tuple[str, ...]]] = {
    "AE": ("02_autoencoders", ("ae_loss", "Autoencoder")),
    "DAE": ("02_autoencoders", ("ae_loss", "Autoencoder", "corrupt")),
    "VAE": ("03_vae", ("reparameterize", "negative_elbo")),
    "SimCLR": ("04_simclr", ("augment", "nt_xent_loss")),
    "MAE": ("05_mae", ("patchify", "random_masking", "masked_mse_loss")),
}

# Fashion-MNIST's 10 classes grouped into 4 coarse ones (the granularity experiment)
COARSE_GROUPS: dict[str, tuple[int, ...]] = {
    "tops and dresses": (0, 2, 3, 4, 6),  # T-shirt/top, Pullover, Dress, Coat, Shirt
    "trousers": (1,),
    "footwear": (5, 7, 9),  # Sandal, Sneaker, Ankle boot
    "bags": (8,),
}


def coarse_labels(y: torch.Tensor) -> torch.Tensor:
    """Map the 10 fine labels to the 4 coarse groups of :data:`COARSE_GROUPS` (0..3)."""
    table = torch.empty(10, dtype=torch.long)
    for g, members in enumerate(COARSE_GROUPS.values()):
        table[list(members)] = g
    return table[y]


# ---------------------------------------------------------------------------------------------- your code
@dataclass
class YourCode:
    """The definitions read from one of your notebooks, and which of its exercises pass their checks."""

    notebook: str
    path: Path | None
    namespace: dict = field(repr=False)
    status: dict[str, str]  # exercise name -> "ok" or why it is not used
    digest: str  # hash of the definitions' source: a changed answer trains new models

    def ready(self, *names: str) -> bool:
        return all(self.status.get(n) == "ok" for n in names)

    def missing(self, *names: str) -> list[str]:
        return [n for n in names if self.status.get(n) != "ok"]

    def __getitem__(self, name: str):
        if self.status.get(name) != "ok":
            raise KeyError(f"{name} from {self.notebook} is not ready: {self.status.get(name, 'not defined')}")
        return self.namespace[name]


def _notebook_path(notebook: str, folder: Path | None) -> Path | None:
    for base in ([Path(folder)] if folder is not None else [Path.cwd(), REPO_ROOT / "notebooks"]):
        path = base / f"{notebook}.ipynb"
        if path.exists():
            return path
    return None


def load_your_code(notebook: str, folder: str | Path | None = None, extra: dict | None = None) -> YourCode:
    """Read the definitions of ``<folder>/<notebook>.ipynb`` (default: the current folder, which is notebook 06's
    in Jupyter, else the course's ``notebooks/``) and run that notebook's checks on each exercise.

    Only imports, ``def``, ``class`` and constant assignments run (as in the grader); nothing trains or plots.
    ``extra`` adds names the definitions may read at call time (``device``, say).
    """
    import nbformat

    checks = importlib.import_module(syllabus.get(notebook).checks_module)
    exercises = sorted(n[len("check_"):] for n in dir(checks) if n.startswith("check_"))
    path = _notebook_path(notebook, Path(folder) if folder is not None else None)
    ns = base_namespace(f"your_{notebook}", ("torch", "nn", "F", "math"))
    ns.update(extra or {})
    if path is None:
        status = {n: f"{notebook}.ipynb was not found next to this notebook" for n in exercises}
        return YourCode(notebook, None, ns, status, "none")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:  # noqa: BLE001 - an unreadable notebook is reported, not raised
        status = {n: f"{path.name} could not be read ({type(e).__name__}: {e})" for n in exercises}
        return YourCode(notebook, path, ns, status, "unreadable")
    defs = definitions(nb).cells
    run_definitions(defs, ns, path.name)
    status = {}
    for name in exercises:
        if name not in ns:
            status[name] = f"`{name}` is not defined in {path.name}"
            continue
        try:
            ok = bool(getattr(checks, f"check_{name}")(ns[name], verbose=False))
        except Exception as e:  # noqa: BLE001
            ok, why = False, f"{type(e).__name__}: {e}"
        else:
            why = f"`{name}` in {path.name} does not pass check_{name} yet (run that notebook's check cell)"
        status[name] = "ok" if ok else why
    return YourCode(notebook, path, ns, status, definitions_digest(defs))


# ---------------------------------------------------------------------------------------------- training
def epochs_for(steps: int, n: int, batch_size: int) -> int:
    """Epochs over ``n`` images that give at least ``steps`` optimizer steps (the same compute for every n)."""
    return max(1, math.ceil(steps / max(1, n // batch_size)))


def train_autoencoder(code: YourCode, X, *, epochs, batch_size, corruption=None, latent_dim=32, seed=0,
                      device=None, name="capstone-ae"):
    ae_loss, Autoencoder = code["ae_loss"], code["Autoencoder"]  # noqa: N806 - the class from your notebook
    corrupt = code["corrupt"] if corruption else None
    config = {"latent_dim": latent_dim, "epochs": epochs, "n": len(X), "corruption": corruption, "seed": seed,
              "data": _fingerprint(X), "code": code.digest}

    def build(cfg):
        torch.manual_seed(seed)
        return Autoencoder(latent_dim)

    def loss_fn(model, xb, yb):
        return ae_loss(xb, model(xb if corrupt is None else corrupt(xb, **corruption)))

    model, history = load_or_train(name, config, build, verbose=False, train=lambda m: fit(
        m, loss_fn, X, epochs=epochs, batch_size=batch_size, device=device, seed=seed, desc=name))
    return model, history


def train_vae(code: YourCode, X, *, epochs, batch_size, latent_dim=20, seed=0, device=None, name="capstone-vae"):
    reparameterize, negative_elbo = code["reparameterize"], code["negative_elbo"]
    config = {"latent_dim": latent_dim, "epochs": epochs, "n": len(X), "seed": seed, "data": _fingerprint(X),
              "code": code.digest}

    def loss_fn(model, xb, yb):
        x = torch.bernoulli(xb)  # dynamic binarization, as in notebook 03
        mu, logvar = model.encode(x)
        return negative_elbo(x, model.decode(reparameterize(mu, logvar)), mu, logvar)

    def build(cfg):
        torch.manual_seed(seed)
        return MLPVAE(latent_dim)

    return load_or_train(name, config, build, verbose=False, train=lambda m: fit(
        m, loss_fn, X, epochs=epochs, batch_size=batch_size, device=device, seed=seed, desc=name))


def train_simclr(code: YourCode, X, *, steps, batch_size, width, tau=0.5, seed=0, device=None,
                 name="capstone-simclr"):
    """SimCLR as in notebook 04 (AdamW 2e-3, warmup + cosine), for ``steps`` optimizer steps on ``X``."""
    augment, nt_xent_loss = code["augment"], code["nt_xent_loss"]
    batch_size = min(batch_size, len(X))
    epochs = epochs_for(steps, len(X), batch_size)
    config = {"width": width, "n": len(X), "epochs": epochs, "batch_size": batch_size, "tau": tau,
              "lr": SIMCLR_ADAMW["lr"], "weight_decay": SIMCLR_ADAMW["weight_decay"], "seed": seed,
              "data": _fingerprint(X), "code": code.digest}

    def build(cfg):
        torch.manual_seed(seed)
        return SimCLRModel(width=width)

    def train(model):
        gen = torch.Generator().manual_seed(seed + 1)

        def loss_fn(model, xb, yb):
            return nt_xent_loss(model(augment(xb, generator=gen)), model(augment(xb, generator=gen)), tau)

        total = epochs * (len(X) // batch_size)
        opt = torch.optim.AdamW(model.parameters(), **SIMCLR_ADAMW)
        return fit(model, loss_fn, X, epochs=epochs, batch_size=batch_size, optimizer=opt, drop_last=True,
                   scheduler=warmup_cosine(opt, total, warmup_steps=min(100, total // 10)), device=device,
                   seed=seed, desc=name)

    return load_or_train(name, config, build, train, verbose=False)


def build_mae(code: YourCode, seed: int = 0):
    from .mae import MAE

    torch.manual_seed(seed)
    return MAE(patchify=code["patchify"], random_masking=code["random_masking"], loss_fn=code["masked_mse_loss"])


def train_mae(code: YourCode, X, *, epochs, batch_size, mask_ratio=0.75, seed=0, device=None, name="capstone-mae"):
    """The MAE as in notebook 05 (AdamW 1.5e-3, betas 0.9/0.95, warmup + cosine)."""
    config = {"n": len(X), "epochs": epochs, "batch_size": batch_size, "mask_ratio": mask_ratio,
              "lr": MAE_ADAMW["lr"], "weight_decay": MAE_ADAMW["weight_decay"], "seed": seed,
              "data": _fingerprint(X), "code": code.digest}

    def train(model):
        gen = torch.Generator().manual_seed(seed + 1)
        total = epochs * math.ceil(len(X) / batch_size)
        opt = torch.optim.AdamW(model.parameters(), **MAE_ADAMW)
        return fit(model, lambda m, xb, yb: m(xb, mask_ratio, gen)[0], X, epochs=epochs, batch_size=batch_size,
                   optimizer=opt, scheduler=warmup_cosine(opt, total, warmup_steps=min(200, total // 10)),
                   device=device, seed=seed, desc=name)

    return load_or_train(name, config, lambda cfg: build_mae(code, seed), train, verbose=False)


def classifier_release_name(prefix: str, config: dict) -> str:
    """The released name of one run of :func:`train_classifier`: ``<prefix>-<classes>class-n<labels>-s<seed>``
    (``supervised-cnn-10class-n100-s0``: the supervised CNN on 100 labels of the 10-class task, seed 0)."""
    return f"{prefix}-{config['classes']}class-n{config['n']}-s{config['seed']}"


# what must agree for a released classifier to stand for a run (the code digest of the key does not: any code that
# passes the checks builds the same network)
_RUN_FIELDS = ("n", "labels", "data", "epochs", "batch_size", "lr", "weight_decay", "seed", "classes")


def _same_run(released_config: dict, config: dict) -> bool:
    def key(c):
        return {k: v for k, v in (c.get("key") or {}).items() if k != "code"}

    return all(released_config.get(f) == config[f] for f in _RUN_FIELDS) and key(released_config) == key(config)


def train_classifier(make: Callable[[], Classifier], X, y, *, steps, batch_size=64, lr=1e-3, weight_decay=0.05,
                     seed=0, device=None, name="capstone-classifier", key: dict | None = None,
                     released: str | None = None) -> Classifier:
    """Train ``make()`` with cross-entropy on ``(X, y)`` for about ``steps`` steps (AdamW, warmup + cosine):
    the supervised CNN from scratch, or an MAE encoder fine-tuned. ``key`` identifies the starting weights.

    ``released`` (a prefix such as ``"supervised-cnn"``) loads the course's released run of this very
    configuration instead (:func:`classifier_release_name`; same images, labels, seed and budget), when the course
    ships one; otherwise the run comes from the cache or is trained, as without it."""
    batch_size = min(batch_size, len(X))
    epochs = epochs_for(steps, len(X), batch_size)
    config = {"n": len(X), "labels": _fingerprint(y), "data": _fingerprint(X), "epochs": epochs,
              "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay, "seed": seed, "key": key or {},
              "classes": int(y.max()) + 1}
    release = classifier_release_name(released, config) if released is not None else None
    if release is not None:  # a release of another run, or one that does not fit make(): trained as without it
        got = load_released_model(release, lambda cfg: make() if _same_run(cfg, config) else None,
                                  instead="training it instead")
        if got is not None:
            return got.model

    def train(model):
        total = epochs * math.ceil(len(X) / batch_size)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        return fit(model, lambda m, xb, yb: F.cross_entropy(m(xb), yb), X, y, epochs=epochs, batch_size=batch_size,
                   optimizer=opt, scheduler=warmup_cosine(opt, total, warmup_steps=total // 10), device=device,
                   seed=seed, desc=name, progress=False)

    def build(cfg):
        torch.manual_seed(seed)
        return make()

    model, _ = load_or_train(name, config, build, train, verbose=False)
    return model


@torch.no_grad()
def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    logits = extract_features(model, X)
    return fraction_correct(logits.argmax(1), y.to(logits.device))


def _fingerprint(t: torch.Tensor) -> str:
    """A short hash of a tensor's shape and contents (cache keys change when the data do)."""
    t = t.detach().cpu().contiguous()
    h = hashlib.sha256(str((tuple(t.shape), str(t.dtype))).encode())
    h.update(t[:: max(1, len(t) // 512)].numpy().tobytes())
    return h.hexdigest()[:12]


# ---------------------------------------------------------------------------------------------- released
def use_released(prefer: bool) -> bool:
    """Whether released checkpoints are used: ``COURSE_CHECKPOINTS=released`` always, ``train`` never, and
    ``auto`` (the default) when ``prefer`` (notebook 06 prefers them in the ``full`` profile)."""
    mode = checkpoint_mode()
    return mode == "released" or (mode == "auto" and prefer)


def released_features(name: str, code: YourCode | None = None, directory: Path | None = None, data=None
                      ) -> tuple[nn.Module, dict] | None:
    """The feature module of the released checkpoint ``name`` and its manifest entry, or ``None`` when the course
    releases none (an MAE is built from your notebook 05 functions, so it needs ``code`` ready).

    ``data``: the images the model should have been pretrained on. A release that records other images (another
    dataset, another subset) is not used for them (``None`` is returned)."""

    def build(cfg):
        if data is not None and cfg.get("data") not in (None, _fingerprint(data)):
            return None
        kind = cfg.get("kind")
        if kind in ("autoencoder", "mlp_encoder"):  # an autoencoder whole, or its encoder alone (06's variants)
            return mlp_encoder(cfg["latent_dim"], cfg.get("hidden_dim", 256))
        if kind == "mlp_vae":
            return MLPVAE(cfg["latent_dim"])
        if kind == "simclr":
            return Encoder(cfg["width"])
        if kind == "mae":
            return build_mae(code) if code is not None and code.ready(*METHODS["MAE"][1]) else None
        raise ValueError(f"released checkpoint {name!r} has an unknown kind {kind!r}")

    def state(cfg, saved):
        if cfg["kind"] == "autoencoder":  # notebook 02's Autoencoder, whole: keep its encoder in a fixed layout
            return autoencoder_encoder_state(saved, cfg["latent_dim"], cfg.get("hidden_dim", 256))
        if cfg["kind"] == "simclr":  # SimCLRModel, whole: keep f
            return {k[2:]: v for k, v in saved.items() if k.startswith("f.")}
        return saved

    got = load_released_model(name, build, state=state, directory=directory)  # a mismatch raises: a course bug
    if got is None:
        return None
    module, entry, kind = got.model, got.entry, got.payload["config"]["kind"]
    if kind == "mlp_vae":
        module = Encode(module, mean_only=True)
    elif kind == "mae":
        from .mae import Features

        module = Features(module)
    return module, entry


__all__ = [
    "METHODS", "COARSE_GROUPS", "coarse_labels", "YourCode", "load_your_code", "Encode",
    "mlp_encoder", "as_mlp_encoder", "autoencoder_encoder_state", "Classifier", "epochs_for", "train_autoencoder",
    "train_vae", "train_simclr", "build_mae", "train_mae", "classifier_release_name", "train_classifier", "accuracy",
    "use_released", "released_features", "History",
]
