"""How each stored fallback value is compared with a fresh run (``COURSE_VERIFY_STORED=1``): one table.

Two kinds of value:

- **deterministic**: a function of fixed inputs (augmented views of fixed images with a seeded generator, the
  EM trace of a 1-D mixture, a patch grid). Another CPU changes at most the last bits: compared tightly.
- **trained**: anything that went through an optimizer (losses, accuracies, latents, reconstructions, curves).
  Another CPU's kernels (AVX2 vs AVX-512 vs ARM, the thread count) change the last digits of every step, and
  training amplifies that. These are compared at a tolerance set from the spread that
  ``benchmarks/stored_spread.py`` measured across seeds and CPU kernel sets
  (``benchmarks/results/stored_spread.json``), and by properties they must have on any machine.

The spreads are data, not prose here: ``benchmarks/stored_spread.py`` records, per stored value and part, the
largest difference across kernel sets ("kernels": a CPU's own kernels, AVX2, the generic ones, one thread or two)
and across seeds, in ``benchmarks/results/stored_spread*.json`` (one file per kind of CPU). :func:`recorded_spread`
reads them, and a failing comparison prints them.
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .compare import leaves


@dataclass(frozen=True)
class Tol:
    """``|computed - stored| <= atol + rtol * |stored|`` everywhere, or (``mean``) the mean difference <= atol."""

    atol: float = 1e-6
    rtol: float = 1e-6
    mean: bool = False

    def describe(self) -> str:
        if self.mean:
            return f"mean <= {self.atol:g}"
        return f"{self.atol:g}" + (f" + {self.rtol:g}*|stored|" if self.rtol > 1e-6 else "")


@dataclass(frozen=True)
class Spec:
    """How one stored value is compared: a tolerance per part (fnmatch patterns on ``a/b/c`` paths, first match
    wins, ``*`` last) and properties (``(what, function of the value -> bool)``)."""

    kind: str  # "deterministic" or "trained"
    parts: tuple[tuple[str, Tol], ...] = (("*", Tol()),)
    properties: tuple[tuple[str, Callable], ...] = field(default=())
    key: str = "value"

    def tolerance_for(self, path: str) -> Tol:
        for pattern, tol in self.parts:
            if fnmatch.fnmatchcase(path, pattern):
                return tol
        return Tol()

    def broken_properties(self, value) -> list[str]:
        broken = []
        for what, holds in self.properties:
            try:
                ok = bool(holds(value))
            except Exception as e:  # a property that cannot be evaluated is broken
                ok, what = False, f"{what} ({type(e).__name__}: {e})"
            if not ok:
                broken.append(what)
        return broken


def deterministic(atol: float = 1e-6, rtol: float = 1e-6, **parts: Tol) -> Spec:
    return Spec("deterministic", tuple(parts.items()) + (("*", Tol(atol, rtol)),))


def trained(parts: dict[str, Tol], properties: tuple = ()) -> Spec:
    return Spec("trained", tuple(parts.items()), tuple(properties))


# ----------------------------------------------------------------------------- properties
def _flat(value, pattern: str) -> list[float]:
    out = []
    for path, leaf in leaves(value):
        if not fnmatch.fnmatchcase(path, pattern):
            continue
        if hasattr(leaf, "flatten"):  # a tensor
            out += leaf.detach().cpu().double().flatten().tolist()
        elif isinstance(leaf, (list, tuple)):
            out += [float(v) for v in leaf]
        elif isinstance(leaf, (int, float)) and not isinstance(leaf, bool):
            out.append(float(leaf))
    return out


def accuracies(pattern: str = "*") -> tuple[str, Callable]:
    return (f"accuracies ({pattern}) lie in [0, 1]", lambda v: all(0.0 <= a <= 1.0 for a in _flat(v, pattern)))


def finite(pattern: str = "*") -> tuple[str, Callable]:
    return (f"numbers ({pattern}) are finite", lambda v: all(math.isfinite(a) for a in _flat(v, pattern)))


def decreasing(path: str) -> tuple[str, Callable]:
    return (f"{path} decreases", lambda v: all(b < a for a, b in zip(_flat(v, path), _flat(v, path)[1:])))


def above(pattern: str, floor: float, why: str) -> tuple[str, Callable]:
    return (f"{pattern} > {floor:g} ({why})", lambda v: all(a > floor for a in _flat(v, pattern)))


# ----------------------------------------------------------------------------- the table
# The rule (tests/test_stored.py holds every entry to it): a trained tolerance is at least 3x the largest spread
# recorded for its part in benchmarks/results/stored_spread*.json across CPU kernel sets and thread counts, and,
# where that spread allows, below the spread across seeds, so that a change as large as another seed's fails.
# Images are uint8 levels (0-255), compared by their mean difference; accuracies are stored to 3-4 digits.
ACC = accuracies()
IMG = Tol(atol=1.0, mean=True)  # a trained model's images: mean |difference| <= 1 level (more where an entry says)
VAE_IMG = Tol(atol=7.0, mean=True)  # the VAEs' images
U8 = Tol(atol=1.0, rtol=0.0)  # a deterministic uint8 image: one level for a rounding at .5 on another CPU

TOLERANCES: dict[tuple[str, str], Spec] = {
    # 01: EM on a 1-D mixture and the ELBO of fixed q's, in float64 (kernels: <= 2.3e-13)
    ("01_jensen_elbo", "em_trace"): deterministic(1e-6),
    ("01_jensen_elbo", "widget_curves"): deterministic(1e-6),
    # 02
    ("02_autoencoders", "corrupted_examples"): deterministic(**{"*": U8}),  # kernels: 0 levels
    ("02_autoencoders", "sweep"): trained(
        {"test_loss": Tol(atol=0.35), "recon": Tol(atol=3.5, mean=True), "latent_dims": Tol(atol=0)},
        (finite("test_loss"),)),
    ("02_autoencoders", "latents_2d"): trained(
        {"*": Tol(atol=0.09, mean=True)},
        (finite(),)),
    ("02_autoencoders", "probe_ae"): trained(
        {"*": Tol(atol=0.03)},
        (ACC,)),
    ("02_autoencoders", "finetune"): trained(
        {"*": Tol(atol=0.01)},
        (ACC,)),
    ("02_autoencoders", "denoising"): trained(
        {"test_loss/*": Tol(atol=1.2), "recon": Tol(atol=5.0, mean=True), "probes/*": Tol(atol=0.04)},
        (accuracies("probes/*"), finite("test_loss/*"))),
    # 03
    ("03_vae", "gradient_estimates"): deterministic(2e-3, 1e-3),  # float16: kernels 0.00195, one float16 step
    ("03_vae", "bernoulli"): trained(
        {"train_curve": Tol(atol=0.9), "test_nelbo": Tol(atol=0.9), "*": VAE_IMG},
        (("the training -ELBO ends below where it starts", lambda v: v["train_curve"][-1] < v["train_curve"][0]),)),
    ("03_vae", "gaussian"): trained(
        {"train_curve": Tol(atol=6.0), "sigma_median": Tol(atol=0.005), "*": VAE_IMG},
        (("the training loss ends below where it starts", lambda v: v["train_curve"][-1] < v["train_curve"][0]),)),
    ("03_vae", "manifold_2d"): trained(
        {"codes": Tol(atol=0.2, mean=True), "images": VAE_IMG, "test_nelbo": Tol(atol=1.0)},
        (finite("codes"),)),
    ("03_vae", "density"): trained(
        {"curve": Tol(atol=1.0), "nll": Tol(atol=0.5), "nll_sem": Tol(atol=0.07), "*": Tol(atol=0)},
        (finite("curve"),)),
    ("03_vae", "anomaly"): trained(
        {"*": Tol(atol=15.0, mean=True)},
        (finite(),)),
    ("03_vae", "ae_vs_vae"): trained(
        {"ae_samples": Tol(atol=5.5, mean=True), "vae_samples": Tol(atol=5.5, mean=True), "ae_mean": Tol(atol=0.65),
         "vae_mean": Tol(atol=0.16), "ae_std": Tol(atol=0.65), "vae_std": Tol(atol=0.12),
         "ae_train_curve": Tol(atol=1.0), "recon/*": Tol(atol=2.6),
         "sq_norm/ae": Tol(atol=0.5), "sq_norm/vae": Tol(atol=1.0), "in_prior_range/ae": Tol(atol=0.005),
         "in_prior_range/vae": Tol(atol=0.04), "far_from_codes/ae": Tol(atol=0.002),
         "far_from_codes/vae": Tol(atol=0.06), "prior_range": Tol(atol=0.01)},
        (("the autoencoder's training loss ends below where it starts",
          lambda v: v["ae_train_curve"][-1] < v["ae_train_curve"][0]),
         ("the shares lie in [0, 1]", lambda v: all(0.0 <= x <= 1.0 for part in ("in_prior_range", "far_from_codes")
                                                    for x in v[part].values())),
         finite("*_mean"), finite("*_std"))),
    ("03_vae", "disentangle"): trained(
        {"kl": Tol(atol=0.35), "dims": Tol(atol=0), "images": Tol(atol=5.5, mean=True), "change": Tol(atol=0.017),
         "ink_corr": Tol(atol=0.05), "class_share": Tol(atol=0.05)},
        (("the KLs are >= 0", lambda v: min(v["kl"]) >= -1e-6), finite("kl"))),
    # 04
    ("04_simclr", "views"): deterministic(**{"*": U8}),  # kernels: 0 levels
    ("04_simclr", "similarity_matrices"): trained(
        {"random weights": Tol(atol=1e-5), "after SimCLR": Tol(atol=0.28)},
        (("similarities lie in [-1, 1]", lambda v: all(float(m.abs().max()) <= 1 + 1e-5 for m in v.values())),)),
    ("04_simclr", "results"): trained(
        {"*/raw pixels": Tol(atol=0.005), "*/random f (h)": Tol(atol=0.025), "labels/10/*": Tol(atol=0.16),
         "*": Tol(atol=0.05)},
        (ACC,)),
    ("04_simclr", "ablations"): trained(
        {"*": Tol(atol=0.07)},
        (ACC,)),
    # 05
    ("05_mae", "patch_demo"): deterministic(1e-6),
    ("05_mae", "mask_demo"): deterministic(**{"*": U8}),  # kernels: 0 levels
    ("05_mae", "ratio_grid"): trained(
        {"images": IMG, "loss": Tol(atol=1e-3)},
        (finite("loss"),)),
    ("05_mae", "ablation"): trained(
        {"*/loss": Tol(atol=2e-3), "*/probe": Tol(atol=0.025)},
        (accuracies("*/probe"), finite("*/loss"))),
    ("05_mae", "results"): trained(
        {"*/raw pixels": Tol(atol=0.005), "finetune/*/labels": Tol(atol=0), "*": Tol(atol=0.02)},
        (accuracies("*/MAE*"), accuracies("*/random ViT"), accuracies("*/from scratch"))),
}


def spec_for(notebook: str, key: str) -> Spec:
    """The comparison spec of one stored value (deterministic at 1e-6 when the table has none)."""
    spec = TOLERANCES.get((notebook, key), deterministic(1e-6))
    return Spec(spec.kind, spec.parts, spec.properties, key)


def recorded_spread(notebook: str, key: str, root: Path | None = None) -> dict[str, dict[str, dict[str, float]]]:
    """``{file: {part: {"kernels_max": ..., "kernels_mean": ..., "seeds_max": ...}}}``: what the spread benchmark
    recorded for this value on each kind of CPU (empty outside a clone, where ``benchmarks/`` is not installed)."""
    from .paths import CHECKOUT

    folder = (root or CHECKOUT or Path("/nonexistent")) / "benchmarks" / "results"
    out = {}
    for path in sorted(folder.glob("stored_spread*.json")):
        summary = json.loads(path.read_text()).get("summary", {})
        if f"{notebook}/{key}" in summary:
            out[path.name] = summary[f"{notebook}/{key}"]
    return out


def spread_note(notebook: str, key: str) -> str:
    """One line for a failing comparison: each part's largest recorded spread across kernels and across seeds."""
    largest: dict[str, dict[str, float]] = {}
    for parts in recorded_spread(notebook, key).values():
        for part, m in parts.items():
            row = largest.setdefault(part, {})
            for what in ("kernels_max", "seeds_max"):
                if what in m:
                    row[what] = max(row.get(what, 0.0), m[what])
    if not largest:
        return ""
    shown = [f"{part or 'value'} {row.get('kernels_max', 0):.3g}" + (f" (seeds {row['seeds_max']:.3g})"
                                                                     if "seeds_max" in row else "")
             for part, row in largest.items()]
    return "recorded spread across kernels: " + ", ".join(shown)
