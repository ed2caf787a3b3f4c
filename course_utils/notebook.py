"""The one setup call at the top of every notebook: profile, device, seed, data source."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import data as _data
from . import syllabus
from .profiles import PROFILE_ENV_VAR, Profile, get_device, get_profile, seed_everything
from .settings import child_environment, current, set_variables


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

    @property
    def autocast(self) -> torch.dtype | None:
        """The dtype that training runs in under autocast: ``torch.bfloat16`` where this device computes it natively
        (a GPU, or a CPU with AVX512-BF16 or AMX), else ``None`` (float32). ``COURSE_BF16=0`` forces float32.
        Pass it on as ``fit(..., autocast=course.autocast)``."""
        from .speed import autocast_dtype

        return autocast_dtype(self.device)

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
                f"  device  : {self.device} ({self._precision()})",
                f"  seed    : {self.seed}",
                f"  data    : {self.data_source.describe()}",
            ]
            + ([f"  settings: {', '.join(f'{k}={v}' for k, v in chosen.items())}"] if (chosen := set_variables())
               else [])
        )

    def _precision(self) -> str:
        if self.autocast is not None:
            return "training in mixed precision, which is faster on this computer; COURSE_BF16=0 for float32"
        from .released import checkpoint_mode
        from .speed import bf16_forced

        trains = self.notebook in {nb.name for nb in syllabus.training()}
        slow = trains and self.device.type == "cpu" and not self.profile.is_fast and checkpoint_mode() != "released"
        if slow and bf16_forced() is None:  # float32 because this CPU lacks bf16, not because COURSE_BF16=0 asks
            # the full profile's training is then slower (the measurements: benchmarks/README.md)
            return ("training in float32, which is slower on this computer: if the full profile takes too long, "
                    "COURSE_CHECKPOINTS=released loads the course's trained models instead")
        return "training in float32"


def _style_plots() -> None:
    """The course's plot style, palette and figure descriptions, set in one place: :mod:`course_utils.plots`."""
    try:
        from .plots import use_course_style
    except ImportError:  # no matplotlib
        return
    use_course_style()


SEED_ENV_VAR = "COURSE_SEED"


def on_colab_setup() -> None:
    """On Google Colab, turn on its widget manager (ipywidgets 8 need it); elsewhere, nothing. The Colab block at
    the top of each setup cell (:mod:`course_utils.colab`) installs the course; this does the rest, and the data
    are downloaded when first loaded."""
    import sys

    if "google.colab" in sys.modules:
        from google.colab import output

        output.enable_custom_widget_manager()


def setup_notebook(
    notebook: str, seed: int | None = None, profile: str | None = None, device: str | None = None
) -> Course:
    """Seed everything, choose the device, find the data, style the plots, and print one header.

    Args:
        notebook: the notebook's name, e.g. ``"01_jensen_elbo"``.
        seed: the seed for Python, NumPy and torch; default ``$COURSE_SEED``, else 0 (another seed shows how much a
            trained result moves: ``benchmarks/stored_spread.py`` measures it).
        profile: ``"fast"`` or ``"full"``; default ``$COURSE_PROFILE``, else ``full``.
        device: e.g. ``"cpu"``; default ``$COURSE_DEVICE``, else cuda, then mps, then cpu.
    """
    if seed is None:
        seed = current().seed
    prof = get_profile(profile)
    dev = get_device(device)
    on_colab_setup()
    seed_everything(seed)
    source = _data.find_data_source()
    _style_plots()
    course = Course(notebook, prof, dev, seed, source)
    print(course.header())
    if source.is_fallback:
        print(_data.FALLBACK_BANNER)
    return course


class NotebookRunError(RuntimeError):
    """A notebook raised while it ran top to bottom (the message ends with the failing cell's traceback)."""


def execute_notebook(path, profile: str, env: dict | None = None, timeout: int = 1800):
    """Run the notebook at ``path`` top to bottom in a fresh kernel, its folder as the working directory.

    The kernel inherits ``COURSE_PROFILE=profile``, quiet progress, no downloads, and ``env`` (say, other CPU
    kernels, a seed, a cache). Returns ``(executed notebook, seconds)``. The one place that executes a notebook
    for the tools and benchmarks (the grader runs an untrusted submission in its sandbox, within limits:
    :func:`course_utils.grade.execute.run_submission`).
    """
    import time
    from pathlib import Path

    import nbclient
    import nbformat
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    settings = dict(COURSE_PROFILE=profile, COURSE_PROGRESS="0", COURSE_DOWNLOAD="0", MPLBACKEND="Agg")
    settings.update(env or {})
    kernel_env = {**child_environment(), **{k: str(v) for k, v in settings.items()}}  # this process's is untouched
    nb = nbformat.read(str(path), as_version=4)
    start = time.monotonic()
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute(env=kernel_env)  # the kernel manager starts the kernel with this environment
    except CellExecutionError as e:
        raise NotebookRunError(f"{path.name} failed while executing ({profile} profile):\n{str(e)[-3000:]}") from None
    return nb, time.monotonic() - start


def cell_seconds(nb) -> list[tuple[int, float, str]]:
    """Each executed code cell's wall time, from the timestamps nbclient records in its metadata (``execution``):
    ``(index in nb.cells, seconds, the cell's first line)``, in notebook order; cells without timestamps are left
    out."""
    from datetime import datetime

    out = []
    for i, cell in enumerate(nb.cells):
        times = cell.get("metadata", {}).get("execution") or {}
        start, end = times.get("iopub.execute_input"), times.get("shell.execute_reply")
        if cell.get("cell_type") != "code" or not (start and end):
            continue
        seconds = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                   - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
        first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip() and not ln.startswith("#")), "")
        out.append((i, round(seconds, 2), first[:80]))
    return out


__all__ = ["Course", "setup_notebook", "execute_notebook", "cell_seconds", "NotebookRunError", "PROFILE_ENV_VAR",
           "SEED_ENV_VAR"]
