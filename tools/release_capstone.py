"""Train and release what notebook 06 trains in the ``full`` profile, so that it runs from released checkpoints.

    python tools/release_capstone.py                      # train what the cache lacks, then release all
    python tools/release_capstone.py --train-only         # only fill the cache
    python tools/release_capstone.py variants             # or: classifiers, degraded

Notebook 06 takes its five main encoders from the course's releases (``tools/release_checkpoints.py``). What it
trains on top of them is released here, each in float16 (half the bytes; the metrics below are measured with the
float16 weights):

- **variants** (sections 3 and 4): SimCLR and the AE pretrained on nested subsets of the pretraining images
  (``simclr-n1000`` ... ``simclr-n60000``, data quantity) and on degraded copies of them (``-lowres``,
  ``-noise``, input quality; "clean" is ``-n60000``). The SimCLR model is released whole, the AE's encoder alone
  (kind ``mlp_encoder``: notebook 06 never uses the decoder). Metric: a linear probe on all 60,000 labels.
- **classifiers** (sections 2 and 5): the supervised CNN trained from scratch and the released MAE fine-tuned, on
  each label subset and seed (``supervised-cnn-10class-n100-s0``, ``mae-finetuned-10class-n60000-s0``, and the
  coarse 4-class task's ``supervised-cnn-4class-n100-s0``...). Metric: the test accuracy.
- **degraded** (section 4): the supervised CNN pretrained on every label of the degraded pretraining images
  (``supervised-cnn-lowres-10class-n60000-s0``, ``supervised-cnn-noise-...``; "clean" is section 2's run on all
  labels). Metric: the (clean) test accuracy of the network itself.

The recipe is the notebook's own: this script reads ``solutions/06_when_does_ssl_work.ipynb`` with the grader's
reader (imports, ``def``, ``class`` and constants; nothing else runs) and calls its ``pretrained``,
``supervised_accuracy`` and ``finetuned_mae_accuracy`` with the ``full`` profile's budgets and the solutions of
notebooks 02-05, so a release is exactly what the notebook would train (a released run records its images,
labels, seed and budget, and the notebook uses it only for that same run). The models land in the checkpoint
cache (``COURSE_CACHE``; use a fresh folder) as the notebook's run would leave them, and are released from there.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

NOTEBOOK = "06_when_does_ssl_work"
RELEASE_AS = {"SimCLR": "simclr", "AE": "ae"}  # variants: released name = this + variant
CLASSIFIERS = {"capstone-supervised": "supervised-cnn", "capstone-mae-finetune": "mae-finetuned"}  # cache -> release
DEGRADED = {"-lowres": "low_resolution", "-noise": "noisy"}  # section 4's supervised pretraining: variant -> function
DEGRADED_CLASSIFIERS = {f"capstone-supervised{v}": f"supervised-cnn{v}" for v in DEGRADED}


def notebook_namespace(profile: str) -> dict:
    """Notebook 06's definitions, with the globals they read, as the notebook's own cells set them."""
    import nbformat
    import torch
    import torch.nn.functional as F  # noqa: N812
    from torch import nn

    from course_utils import capstone as cs
    from course_utils import setup_notebook
    from course_utils.nbcode import definitions, run_definitions

    os.environ["COURSE_PROFILE"] = profile
    course = setup_notebook(NOTEBOOK)
    P = course.profile  # noqa: N806 - the notebook's names
    train, test = course.load_data(train=True), course.load_data(train=False)
    ns: dict = {"__name__": "notebook_06", "torch": torch, "nn": nn, "F": F, "course": course, "P": P,
                "device": course.device, "X_pool": train.images[: P.n_train], "y_pool": train.labels[: P.n_train],
                "X_test": test.images[: P.n_test], "y_test": test.labels[: P.n_test],
                "X_pre": train.images[: P.capstone_n_pretrain]}
    solution = nbformat.read(ROOT / "solutions" / f"{NOTEBOOK}.ipynb", as_version=4)
    run_definitions(definitions(solution).cells, ns, NOTEBOOK)
    needed = ("pretrained", "low_resolution", "noisy", "subsets", "supervised_accuracy", "finetuned_mae_accuracy",
              "supervised_pretrained", "PER_CLASS", "SEEDS", "RELEASED_NAME", "WIDTH")
    if missing := [n for n in needed if n not in ns]:
        raise SystemExit(f"{NOTEBOOK}.ipynb no longer defines {', '.join(missing)}: update this script")
    ns["your"] = {nb: cs.load_your_code(nb, ROOT / "solutions")
                  for nb in dict.fromkeys(notebook for notebook, _ in cs.METHODS.values())}
    ns["RELEASED_RUNS"] = False  # train (or take from the cache) every run: never the releases this script writes
    ns["PREFER_RELEASED"] = False
    return ns


def variants(ns: dict) -> list[tuple[str, object, dict]]:
    """(variant, pretraining images, extra arguments of ``pretrained``), in the notebook's order."""
    X_pre, P = ns["X_pre"], ns["P"]  # noqa: N806
    out = [(f"-n{n}", X_pre[:n], {"steps_like": X_pre}) for n in P.capstone_sizes if n <= len(X_pre)]
    out += [("-lowres", ns["low_resolution"](X_pre), {}), ("-noise", ns["noisy"](X_pre), {})]
    return out


def train_variants(ns: dict) -> list[tuple[str, str, object]]:
    todo = [(m, v, X, kw) for m in RELEASE_AS for v, X, kw in variants(ns)]
    for method, variant, X, kw in todo:
        t0 = time.perf_counter()
        _, where = ns["pretrained"](method, X, variant, **kw)
        print(f"{method}{variant}: {where} on {len(X):,} images ({time.perf_counter() - t0:.0f} s)", flush=True)
    return [(m, v, X) for m, v, X, _ in todo]


def use_released_mae(ns: dict) -> None:
    """The MAE that section 2 fine-tunes, taken as the notebook's full run takes it: the released one."""
    prefer, ns["PREFER_RELEASED"] = ns["PREFER_RELEASED"], True
    ns["encoders"], ns["sources"] = {}, {}
    ns["encoders"]["MAE"], ns["sources"]["MAE"] = ns["pretrained"]("MAE", ns["X_pre"])
    ns["PREFER_RELEASED"] = prefer


def train_classifiers(ns: dict) -> None:
    """Sections 2 and 5 of the notebook: every supervised and fine-tuning run, on the notebook's label subsets."""
    from course_utils import capstone as cs

    use_released_mae(ns)
    print(f"MAE for fine-tuning: {ns['sources']['MAE']}", flush=True)
    runs = [(pc, s, idx, None) for pc in ns["PER_CLASS"] for s, idx in zip(ns["SEEDS"], ns["subsets"](pc))]
    runs += [(10, s, idx, "coarse") for s, idx in zip(ns["SEEDS"], ns["subsets"](10))]
    yc_pool, yc_test = cs.coarse_labels(ns["y_pool"]), cs.coarse_labels(ns["y_test"])
    for pc, seed, idx, task in runs:
        t0 = time.perf_counter()
        if task == "coarse":
            acc = {"supervised CNN, coarse": ns["supervised_accuracy"](idx, seed, yc_pool, yc_test)}
        else:
            acc = {"supervised CNN": ns["supervised_accuracy"](idx, seed),
                   "MAE fine-tuned": ns["finetuned_mae_accuracy"](idx, seed)}
        what = "all labels" if pc is None else f"{pc}/class"
        print(f"{what}, seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in acc.items()) +
              f" ({time.perf_counter() - t0:.0f} s)", flush=True)


def train_degraded(ns: dict) -> None:
    """Section 4's supervised pretraining on each degraded copy of the pretraining images."""
    for variant, fn in DEGRADED.items():
        t0 = time.perf_counter()
        ns["supervised_pretrained"](ns[fn](ns["X_pre"]), variant)
        print(f"supervised CNN{variant}: trained on {len(ns['X_pre']):,} images ({time.perf_counter() - t0:.0f} s)",
              flush=True)


def half_rounded(module):
    """``module`` with its floating weights rounded to float16 and back: what a float16 release will load as."""
    import torch

    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            if t.is_floating_point():
                t.copy_(t.half().float())
    return module.eval()


def release_variants(ns: dict, done, args) -> None:
    from course_utils import capstone as cs
    from course_utils.checkpoints import find_cached
    from course_utils.models import as_mlp_encoder
    from course_utils.released import hardware_description, probe_all_labels, release_checkpoint

    train, test = ns["course"].load_data(train=True), ns["course"].load_data(train=False)
    for method, variant, X in done:
        try:  # the images tell the variants apart
            payload = find_cached(f"capstone-{method.lower()}", {"n": len(X), "data": cs._fingerprint(X)})
        except LookupError as e:
            raise SystemExit(f"{e} (or this script without --release-only)") from None
        if method == "SimCLR":
            module = cs.SimCLRModel(width=payload["config"]["width"])
            module.load_state_dict(payload["state_dict"])
            features, kind = half_rounded(module).f, "simclr"
        else:
            whole = ns["your"]["02_autoencoders"]["Autoencoder"](payload["config"]["latent_dim"])
            whole.load_state_dict(payload["state_dict"])
            module = features = half_rounded(as_mlp_encoder(whole, payload["config"]["latent_dim"]))
            kind = "mlp_encoder"
        config = {k: v for k, v in payload["config"].items() if k != "code"}  # "data": which images it saw
        config.update(kind=kind, variant=variant, notebook=NOTEBOOK, profile=args.profile)
        acc = probe_all_labels(features, train, test)
        entry = release_checkpoint(
            RELEASE_AS[method] + variant, module, config, metrics={"linear_probe_all_labels": acc},
            history=payload.get("history"), train_seconds=payload.get("train_seconds", 0.0), half=True,
            hardware=args.hardware or hardware_description(), directory=args.released_dir,
        )
        print(f"  released {entry['file']}: {entry['bytes'] / 1e6:.2f} MB", flush=True)


def release_classifiers(ns: dict, args, names: dict[str, str] = CLASSIFIERS) -> None:
    """Release every classifier run in the cache named in ``names`` (cache name -> release prefix; the newest of each
    run), with its test accuracy."""
    import torch

    from course_utils import capstone as cs
    from course_utils.mae import ViTClassifier
    from course_utils.models import Classifier
    from course_utils.paths import cache_dir
    from course_utils.released import hardware_description, release_checkpoint
    from course_utils.simclr import Encoder

    newest: dict[str, tuple[float, dict]] = {}
    for cache_name, prefix in names.items():
        for path in (cache_dir() / "checkpoints").glob(f"{cache_name}-*.pt"):
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if payload.get("name") != cache_name:
                continue
            name = cs.classifier_release_name(prefix, payload["config"])
            if name not in newest or path.stat().st_mtime > newest[name][0]:
                newest[name] = (path.stat().st_mtime, payload)
    if not newest:
        raise SystemExit(f"no classifier runs in {cache_dir()}: train them first (this script without --release-only)")
    mae = ns["your"]["05_mae"]
    for name, (_, payload) in sorted(newest.items()):
        cfg = payload["config"]
        k = cfg["classes"]
        if name.startswith("supervised-cnn"):
            width = cfg["key"]["width"]
            model, kind = Classifier(Encoder(width), 4 * width, k), "cnn_classifier"
        else:
            model, kind = ViTClassifier(cs.build_mae(mae), num_classes=k), "vit_classifier"
        model.load_state_dict(payload["state_dict"])
        y_test = ns["y_test"] if k == 10 else cs.coarse_labels(ns["y_test"])
        acc = round(cs.accuracy(half_rounded(model), ns["X_test"], y_test), 4)
        config = dict(cfg, kind=kind, notebook=NOTEBOOK, profile=args.profile)
        entry = release_checkpoint(
            name, model, config, metrics={"test_accuracy": acc}, history=payload.get("history"),
            train_seconds=payload.get("train_seconds", 0.0), half=True,
            hardware=args.hardware or hardware_description(), directory=args.released_dir,
        )
        print(f"{name}: test accuracy {acc:.4f}; released {entry['file']}, {entry['bytes'] / 1e6:.2f} MB", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", nargs="*", metavar="variants|classifiers|degraded",
                    help="what to train and release (default: all three)")
    step = ap.add_mutually_exclusive_group()
    step.add_argument("--train-only", action="store_true", help="fill the cache; release nothing")
    step.add_argument("--release-only", action="store_true", help="release what the cache holds; train nothing")
    ap.add_argument("--profile", default="full", help="the budgets (fast: a quick trial of this script)")
    ap.add_argument("--hardware", help="where the models trained (default: this machine)")
    ap.add_argument("--released-dir", type=Path, default=None, help="where to write (default: course_utils/released)")
    args = ap.parse_args(argv)
    args.what = args.what or ["variants", "classifiers", "degraded"]
    if unknown := set(args.what) - {"variants", "classifiers", "degraded"}:
        ap.error(f"unknown {', '.join(sorted(unknown))}: name variants, classifiers or degraded")
    os.environ.setdefault("COURSE_CHECKPOINTS", "auto")
    ns = notebook_namespace(args.profile)
    if "variants" in args.what:
        if args.release_only:
            done = [(m, v, X) for m in RELEASE_AS for v, X, _ in variants(ns)]
        else:
            done = train_variants(ns)
        if not args.train_only:
            release_variants(ns, done, args)
    if "classifiers" in args.what:
        if not args.release_only:
            train_classifiers(ns)
        if not args.train_only:
            release_classifiers(ns, args)
    if "degraded" in args.what:
        if not args.release_only:
            train_degraded(ns)
        if not args.train_only:
            release_classifiers(ns, args, DEGRADED_CLASSIFIERS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
