"""Release the models of a ``full``-profile run of notebooks 02-05 (maintainers).

    COURSE_CACHE=/tmp/fullcache python tools/time_notebooks.py --profile full solutions/0[2-5]_*.ipynb
    COURSE_CACHE=/tmp/fullcache python tools/release_checkpoints.py            # all six
    COURSE_CACHE=/tmp/fullcache python tools/release_checkpoints.py simclr mae
    python tools/release_checkpoints.py simclr --from simclr=/tmp/simclr_long.pt   # tools/train_released_simclr.py

Each model is taken from the checkpoint cache that the notebooks filled (the full profile's configuration:
60,000 training images) and released whole, so that notebooks 02-05 load it with ``COURSE_CHECKPOINTS=released``
(notebook 06 takes the encoder out): ae, dae, vae, simclr, mae, and notebook 02's supervised baseline. Each encoder
is probed on the full test set (a linear probe on all 60,000 labels, the course's ``linear_probe``; the supervised
model gives its own test accuracy) and written to ``course_utils/released/`` with its manifest entry
(configuration, dataset, seed, metrics, sha256, training time, hardware). The training time and hardware are
those of the run that trained it; nothing is trained here. ``--from NAME=FILE`` takes that model from a checkpoint
file of the same format instead of the cache (the longer GPU-trained SimCLR of ``tools/train_released_simclr.py``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from course_utils import capstone as cs
from course_utils.checkpoints import find_cached
from course_utils.data import load_fashion_mnist
from course_utils.mae import Features
from course_utils.models import MLPVAE, Encode, as_mlp_encoder
from course_utils.released import hardware_description, probe_all_labels, release_checkpoint
from course_utils.simclr import SimCLRModel

ROOT = Path(__file__).resolve().parents[1]
N_FULL = 60_000
CACHE_NAME = {"vae": "vae_bernoulli"}  # the name a model has in the notebooks' cache, where it differs


def find(name: str, want: dict) -> dict:
    """:func:`course_utils.checkpoints.find_cached`, or this script's exit with its message."""
    try:
        return find_cached(name, want)
    except LookupError as e:
        raise SystemExit(f"{e} (see this script's docstring)") from None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", default=["ae", "dae", "vae", "simclr", "mae", "supervised"])
    ap.add_argument("--hardware", help="where the notebooks ran (default: the file's own record, else this machine)")
    ap.add_argument("--from", dest="sources", action="append", default=[], metavar="NAME=FILE",
                    help="take NAME's model from this checkpoint file instead of the cache")
    ap.add_argument("--released-dir", type=Path, default=None, help="where to write (default: course_utils/released)")
    args = ap.parse_args(argv)
    sources = {}
    for item in args.sources:
        name, sep, file = item.partition("=")
        if not sep or not Path(file).is_file():
            raise SystemExit(f"--from wants NAME=FILE with an existing file, got {item!r}")
        sources[name] = Path(file)
    train, test = load_fashion_mnist(train=True), load_fashion_mnist(train=False)
    if train.source != "Fashion-MNIST" and "Fashion-MNIST" not in str(train.source):
        print(f"note: the data source is {train.source}")

    # notebook 02's classes (Autoencoder, and SupervisedNet, a helper rather than an exercise), read as notebook 06
    # reads them
    ns02 = (cs.load_your_code("02_autoencoders", ROOT / "solutions").namespace
            if {"ae", "dae", "supervised"} & set(args.names) else {})
    for name in args.names:
        payload = None
        if name in sources:
            payload = torch.load(sources[name], map_location="cpu", weights_only=True)
            print(f"{name}: {sources[name]}, trained in {payload.get('train_seconds', 0):.0f} s")
            if payload.get("name") not in (CACHE_NAME.get(name, name), None):
                raise SystemExit(f"{sources[name]} holds a {payload.get('name')!r} model, not {name!r}")
        if name in ("ae", "dae"):
            corruption = {"noise_std": 0.4, "mask_prob": 0.0} if name == "dae" else None  # 02's Gaussian-noise DAE
            payload = payload or find(name, {"latent_dim": 32, "n_train": N_FULL, "corruption": corruption})
            module = ns02["Autoencoder"](32)
            kind = "autoencoder"
        elif name == "vae":
            payload = payload or find(CACHE_NAME[name], {"latent_dim": 20, "n_train": N_FULL})
            module, kind = MLPVAE(20), "mlp_vae"
        elif name == "simclr":
            payload = payload or find("simclr", {"n_train": N_FULL})
            module, kind = SimCLRModel(width=payload["config"]["width"]), "simclr"
        elif name == "mae":
            payload = payload or find("mae", {"n_train": N_FULL, "mask_ratio": 0.75})
            module, kind = cs.build_mae(cs.load_your_code("05_mae", ROOT / "solutions")), "mae"
        elif name == "supervised":  # notebook 02's supervised baseline f_V + g_W, trained on every label
            payload = payload or find("supervised", {"n_labels": N_FULL, "n_train": N_FULL})
            module, kind = ns02["SupervisedNet"](), "classifier"
        else:
            raise SystemExit(f"unknown name {name!r}: use ae, dae, vae, simclr, mae, supervised")
        module.load_state_dict(payload["state_dict"])
        module.eval()
        # the notebook's own configuration (so that its load_or_train(..., released=name) rebuilds the model),
        # and the kind, which tells notebook 06 how to take the features out
        config = dict(payload["config"], kind=kind)
        if name == "supervised":  # a classifier: its own test accuracy
            acc = cs.accuracy(module, test.images, test.labels)
            print(f"  test accuracy: {acc:.4f}")
            metrics = {"test_accuracy": round(acc, 4)}
        else:
            features = {"ae": as_mlp_encoder, "dae": as_mlp_encoder, "simclr": lambda m: m.f, "mae": Features,
                        "vae": lambda m: Encode(m, mean_only=True)}[name](module)
            metrics = {"linear_probe_all_labels": probe_all_labels(features, train, test)}
        entry = release_checkpoint(
            name, module, config, metrics=metrics,
            history=payload.get("history"), train_seconds=payload.get("train_seconds", 0.0),
            hardware=args.hardware or payload.get("hardware") or hardware_description(), directory=args.released_dir,
        )
        print(f"  released {entry['file']}: {entry['bytes'] / 1e6:.2f} MB, sha256 {entry['sha256'][:12]}...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
