"""The one setup call at the top of every notebook: profile, device, seed, data source."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import data as _data
from .profiles import PROFILE_ENV_VAR, Profile, get_device, get_profile, seed_everything


@dataclass
class Course:
    """What a notebook needs to know about this run. Returned by :func:`setup_notebook`."""

    notebook: str
    profile: Profile
    device: torch.device
    seed: int
    data_source: _data.DataSource

    def load_data(self, train: bool = True) -> _data.ImageData:
        """Fashion-MNIST (or the digits fallback, under a banner) as ``(images, labels)``."""
        return _data.load_data(train)

    def generator(self, offset: int = 0) -> torch.Generator:
        """A fresh CPU generator seeded with ``seed + offset``, for reproducible sampling in a cell."""
        return torch.Generator().manual_seed(self.seed + offset)

    def header(self) -> str:
        p = self.profile
        hint = "set COURSE_PROFILE=full for real results" if p.is_fast else "set COURSE_PROFILE=fast for a quick run"
        return "\n".join(
            [
                f"SSL course | {self.notebook}",
                f"  profile : {p.name} ({p['description']}; {hint})",
                f"  device  : {self.device}",
                f"  seed    : {self.seed}",
                f"  data    : {self.data_source.describe()}",
            ]
        )


def _style_plots() -> None:
    try:
        import matplotlib as mpl
    except ImportError:
        return
    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "figure.figsize": (7.0, 4.0),
            "axes.titlesize": 12,
            "axes.labelsize": 11,
            "legend.fontsize": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "figure.constrained_layout.use": True,
        }
    )


def setup_notebook(notebook: str, seed: int = 0, profile: str | None = None, device: str | None = None) -> Course:
    """Seed everything, choose the device, find the data, style the plots, and print one header.

    Args:
        notebook: the notebook's name, e.g. ``"01_jensen_elbo"``.
        seed: the seed for Python, NumPy and torch.
        profile: ``"fast"`` or ``"full"``; default ``$COURSE_PROFILE``, else ``full``.
        device: e.g. ``"cpu"``; default ``$COURSE_DEVICE``, else cuda, then mps, then cpu.
    """
    prof = get_profile(profile)
    dev = get_device(device)
    seed_everything(seed)
    source = _data.find_data_source()
    _style_plots()
    course = Course(notebook, prof, dev, seed, source)
    print(course.header())
    if source.is_fallback:
        print(_data.FALLBACK_BANNER)
    return course


__all__ = ["Course", "setup_notebook", "PROFILE_ENV_VAR"]
