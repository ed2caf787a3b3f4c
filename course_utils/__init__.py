"""Helper package for the course "Self-Supervised Learning: (Variational) AutoEncoder and
Contrastive Learning".

One module per concept:

- ``data``: Fashion-MNIST from its IDX files (offline lookup, cache), the digits fallback
- ``profiles``: the fast/full budgets, seeding, device choice
- ``notebook``: ``setup_notebook``, the one setup call at the top of every notebook
- ``train``: one training loop with a progress bar and a history
- ``checkpoints``: load-else-train, keyed by the model's configuration
- ``evaluate``: linear probe, kNN, label subsets
- ``plots``: image grids, training curves
- ``checks``: self-checks for the exercises (one module per notebook)
- ``stored``: stored values so an unfinished notebook still runs to the end
- ``assign``: student notebooks generated from the solutions
"""

from . import _lazy_imports  # noqa: F401  (first: it defers an import nothing here needs, 1.4 s of each start)
from .data import load_data, load_digits, load_fashion_mnist
from .notebook import Course, setup_notebook
from .profiles import get_device, get_profile, seed_everything

__version__ = "0.1.0"

__all__ = [
    "Course",
    "get_device",
    "get_profile",
    "load_data",
    "load_digits",
    "load_fashion_mnist",
    "seed_everything",
    "setup_notebook",
]
