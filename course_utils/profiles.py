"""Run profiles, seeding and device choice: the one switch between a quick run and real results.

``COURSE_PROFILE=fast`` (CI: small subsets, few epochs; with an empty cache on 2 CPU cores the solution notebooks
01-05 run in 6-24 s each, the capstone 06 in about 1 minute)
or ``COURSE_PROFILE=full`` (the real results; the default when unset). Notebook cells never
hard-code epochs or subset sizes; they ask the profile::

    course = setup_notebook("02_autoencoders")
    course.profile.epochs        # 1 in fast, 10 in full
    course.profile["n_train"]    # the same thing, dict style

``COURSE_DEVICE`` overrides the device choice (cuda, then mps, then cpu).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch

from .settings import SettingError, current

PROFILE_ENV_VAR = "COURSE_PROFILE"
DEVICE_ENV_VAR = "COURSE_DEVICE"
DEFAULT_PROFILE = "full"

# One table of budgets. A key is added here (in both profiles) when a notebook needs a new knob.
BUDGETS: dict[str, dict[str, object]] = {
    "fast": {
        "description": "quick run for CI and a first look: small subsets, few epochs",
        "n_train": 2_000,  # training images used
        "n_test": 1_000,  # test images used
        "epochs": 1,
        "batch_size": 128,
        "probe_iters": 50,  # L-BFGS iterations of a linear probe
        # 01_jensen_elbo (EM on a 1-D mixture takes milliseconds: the same steps in both profiles)
        "em_steps": 40,
        "num_random_q": 200,
        # 02_autoencoders
        "ae_epochs": 15,  # each autoencoder, denoising autoencoder and the context encoder
        "sup_epochs": 5,  # supervised baseline (runs with fewer labels take as many steps)
        "finetune_epochs": 20,  # encoder + linear head on 100 labels per class
        # 03_vae
        "vae_epochs": 10,  # each VAE (Bernoulli, Gaussian decoder, 2-D latent)
        "is_k": 100,  # largest number of importance samples for log p(x)
        "is_n_test": 200,  # test images for the importance-sampled NLL and the anomaly histograms
        "plain_ae_epochs": 10,  # the plain autoencoder that section 7 samples from (about 2 s on 2 idle cores)
        # 04_simclr
        "simclr_n_train": 2_000,  # unlabelled images SimCLR trains on
        "simclr_epochs": 1,
        "simclr_batch_size": 256,  # N images, 2N views per step
        "simclr_width": 16,  # channels of the encoder's first block (the encoder has 4x that at the end)
        "simclr_ablation_n_train": 512,  # each augmentation / temperature ablation run
        "simclr_ablation_epochs": 1,
        # 05_mae
        "mae_n_train": 1_000,
        "mae_epochs": 2,
        "mae_batch_size": 128,
        "mae_ablation_n_train": 500,  # each mask-ratio ablation run
        "mae_ablation_epochs": 1,
        "mae_finetune_epochs": 3,  # fine-tuning and from-scratch runs on 1% and 10% of the labels
        # 06_when_does_ssl_work (every method side by side; full uses the released checkpoints where they exist)
        "capstone_n_pretrain": 1_000,  # unlabelled images each method pretrains on
        "capstone_sizes": (250, 500, 1_000),  # nested pretraining sets of the data-quantity experiment
        "capstone_seeds": 2,  # label subsets (and supervised runs) per label budget (full: 3)
        "capstone_ae_epochs": 6,  # AE and DAE
        "capstone_vae_epochs": 8,
        "capstone_simclr_steps": 10,  # optimizer steps, the same for every pretraining-set size
        "capstone_mae_epochs": 2,
        "capstone_sup_steps": 15,  # supervised CNN from scratch, and MAE fine-tuning: at least this many steps
        "capstone_sup_epochs": 1,  # ... and at least this many passes over the labelled images
    },
    "full": {
        "description": "real results, as the notebooks' text discusses them",
        "n_train": 60_000,
        "n_test": 10_000,
        "epochs": 10,
        "batch_size": 128,
        "probe_iters": 200,  # fewer lowers the CNN and ViT probes (MAE 0.804 -> 0.801 at 150; probe_iterations.py)
        # 01_jensen_elbo
        "em_steps": 40,
        "num_random_q": 2_000,
        # 02_autoencoders
        "ae_epochs": 20,
        "sup_epochs": 10,
        "finetune_epochs": 50,
        # 03_vae
        "vae_epochs": 20,
        "is_k": 1_000,
        "is_n_test": 10_000,
        "plain_ae_epochs": 3,  # about 15 s on 2 idle CPU cores (90 s on a loaded one); the point shows by then
        # 04_simclr
        "simclr_n_train": 60_000,
        "simclr_epochs": 3,
        "simclr_batch_size": 256,
        "simclr_width": 24,
        "simclr_ablation_n_train": 10_000,
        "simclr_ablation_epochs": 2,
        # 05_mae
        "mae_n_train": 60_000,
        "mae_epochs": 4,
        "mae_batch_size": 256,
        # each ablation run: 10,000 took 57 s for the four (34 s training, 20 s features) with probes 0.779, 0.771,
        # 0.771, 0.762 for r = 0.25 ... 0.9; 5,000 takes 33 s with 0.777, 0.771, 0.763, 0.755, the same order
        # (2 cores of an AMD EPYC, Zen 5; one seed; a probe with weight decay 1e-4 and its labels' statistics; the
        # probe of issue 33 gives 0.762, 0.753, 0.741, 0.733 for the 5,000, the same order)
        "mae_ablation_n_train": 5_000,
        "mae_ablation_epochs": 2,
        "mae_finetune_epochs": 5,
        # 06_when_does_ssl_work
        "capstone_n_pretrain": 60_000,
        "capstone_sizes": (1_000, 5_000, 15_000, 60_000),
        "capstone_seeds": 3,
        "capstone_ae_epochs": 20,
        "capstone_vae_epochs": 20,
        "capstone_simclr_steps": 700,  # about 3 epochs of 60k images in batches of 256
        "capstone_mae_epochs": 4,
        "capstone_sup_steps": 500,
        "capstone_sup_epochs": 10,
    },
}


class ProfileError(ValueError):
    """An unknown profile name or budget key."""


@dataclass(frozen=True)
class Profile:
    """A named budget. Read a knob as ``profile.epochs`` or ``profile["epochs"]``."""

    name: str
    settings: dict = field(repr=False)

    def __getitem__(self, key: str):
        try:
            return self.settings[key]
        except KeyError:
            known = ", ".join(sorted(self.settings))
            raise ProfileError(
                f"The {self.name!r} profile has no budget {key!r}. Known budgets: {known}. "
                f"A new knob goes into course_utils/profiles.py BUDGETS, in both profiles."
            ) from None

    def __getattr__(self, key: str):
        if key.startswith("_") or key in ("name", "settings"):
            raise AttributeError(key)
        return self[key]

    @property
    def is_fast(self) -> bool:
        return self.name == "fast"


def get_profile(name: str | None = None) -> Profile:
    """The profile named by ``name``, else by ``$COURSE_PROFILE``, else ``full``."""
    try:
        raw = name if name is not None else current().profile
    except SettingError as e:
        raise ProfileError(f"{e} E.g. `COURSE_PROFILE=fast ./course lab`.") from None
    key = raw.strip().lower() or DEFAULT_PROFILE
    if key not in BUDGETS:
        raise ProfileError(
            f"{PROFILE_ENV_VAR}={raw!r} is not a profile. Use {PROFILE_ENV_VAR}=fast (a quick run, as in CI) "
            f"or {PROFILE_ENV_VAR}=full (real results; the default), e.g. `COURSE_PROFILE=fast ./course lab`."
        )
    return Profile(key, dict(BUDGETS[key]))


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and GPU); returns a fresh ``torch.Generator`` with that seed."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # numpy is a dependency, but seeding must not be what breaks
        pass
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def get_device(name: str | None = None) -> torch.device:
    """``name``, else ``$COURSE_DEVICE``, else the best available: cuda, then mps, then cpu."""
    wanted = name or current().device
    if wanted:
        device = torch.device(wanted)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ProfileError(
                f"{DEVICE_ENV_VAR}={wanted!r} asks for a GPU, but torch sees none. Unset it to use the CPU."
            )
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ProfileError(f"{DEVICE_ENV_VAR}={wanted!r} asks for Apple's MPS, which is not available here.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
