"""Course data: Fashion-MNIST read from its IDX files, and scikit-learn's digits as the fallback.

    images, labels = load_fashion_mnist(train=True)   # [60000, 1, 28, 28] float in [0, 1], [60000] int64

Where the files are looked for, in this order (the first folder holding all four files wins):

1. an explicit ``root=`` argument, then the environment variable ``FASHION_MNIST_ROOT``;
2. the project data folder: ``<repo>/data/fashion-mnist/`` (or torchvision's layout
   ``<repo>/data/FashionMNIST/raw/``);
3. Debian's package ``dataset-fashion-mnist``: ``/usr/share/datasets/fashion-mnist/``;
4. a torchvision download into the project data folder, where there is a network.

The ``.gz`` files are decoded once; the decoded tensors are cached (``course_utils.paths.cache_dir``),
so later loads take a fraction of a second.

When Fashion-MNIST is nowhere to be found, :func:`load_data` (what the notebooks call) falls back to
scikit-learn's bundled 8x8 digits, resized to 28x28, and prints a banner that says so.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import socket
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from .paths import atomic_write_bytes, cache_dir, data_dir
from .settings import current

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
DIGITS_CLASSES = tuple(str(d) for d in range(10))

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
ROOT_ENV_VAR = "FASHION_MNIST_ROOT"
DOWNLOAD_ENV_VAR = "COURSE_DOWNLOAD"  # set to 0 to never try a download

_FILES = {
    True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_EXPECTED_N = {True: 60_000, False: 10_000}
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049
_CACHE_FORMAT = 1

HOW_TO_GET_THE_DATA = f"""\
Ways to get Fashion-MNIST (any one is enough):
  - Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist   (files land in {DEBIAN_DIR})
  - copy the four files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
    t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz into {data_dir() / 'fashion-mnist'}
  - point the environment variable {ROOT_ENV_VAR} (or load_fashion_mnist(root=...)) at a folder holding them
  - on a machine with a network (Colab too), the course downloads them with torchvision on first use"""


class DataNotFoundError(FileNotFoundError):
    """Fashion-MNIST is in none of the places the course looks."""


class DataFileError(ValueError):
    """A data file exists but is missing, truncated or corrupt."""


@dataclass(frozen=True)
class DataSource:
    """Which data the course found, and where."""

    name: str  # "Fashion-MNIST" or "digits"
    how: str  # how it was found, in words
    root: Path | None = None

    @property
    def is_fallback(self) -> bool:
        return self.name != "Fashion-MNIST"

    def describe(self) -> str:
        where = f" ({self.root})" if self.root else ""
        return f"{self.name}, {self.how}{where}"


class ImageData(tuple):
    """``(images, labels)`` that also carries ``.classes`` (names) and ``.source``.

    Unpacks like a plain pair: ``images, labels = load_fashion_mnist()``.
    """

    def __new__(cls, images: torch.Tensor, labels: torch.Tensor, classes: tuple, source: DataSource):
        self = super().__new__(cls, (images, labels))
        self.classes = classes
        self.source = source
        return self

    @property
    def images(self) -> torch.Tensor:
        return self[0]

    @property
    def labels(self) -> torch.Tensor:
        return self[1]


# --------------------------------------------------------------------------- finding the files
def _candidates(root: str | os.PathLike | None) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    if root is not None:
        out.append((Path(root).expanduser(), "root= argument"))
    elif current().fashion_mnist_root is not None:
        out.append((current().fashion_mnist_root, f"${ROOT_ENV_VAR}"))
    project = data_dir()
    out.append((project / "fashion-mnist", "project data folder"))
    out.append((project / "FashionMNIST" / "raw", "project data folder (torchvision layout)"))
    out.append((DEBIAN_DIR, "Debian package dataset-fashion-mnist"))
    return out


def _has_all_files(folder: Path) -> bool:
    return all((folder / f).is_file() for files in _FILES.values() for f in files)


def find_fashion_mnist(root: str | os.PathLike | None = None) -> DataSource | None:
    """Return where Fashion-MNIST is on this machine, or ``None``. Looks only; downloads nothing.

    An explicit ``root`` (or ``$FASHION_MNIST_ROOT``) that lacks a file is a :class:`DataFileError`,
    not a silent fall-through: somebody asked for that folder.
    """
    for i, (folder, how) in enumerate(_candidates(root)):
        if _has_all_files(folder):
            return DataSource("Fashion-MNIST", how, folder)
        explicit = i == 0 and (root is not None or current().fashion_mnist_root is not None)
        if explicit:
            missing = [f for files in _FILES.values() for f in files if not (folder / f).is_file()]
            raise DataFileError(
                f"Fashion-MNIST was asked for in {folder} ({how}), but that folder lacks "
                f"{', '.join(missing)}.\n{HOW_TO_GET_THE_DATA}"
            )
    return None


def _download_allowed() -> bool:
    return current().download


def _try_download() -> DataSource | None:
    """Download with torchvision into the project data folder; ``None`` when there is no network."""
    if not _download_allowed():
        return None
    try:
        from torchvision.datasets import FashionMNIST
    except Exception:  # torchvision missing or broken: no download route
        return None
    target = data_dir()
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(20)
    try:
        for train in (True, False):
            FashionMNIST(root=str(target), train=train, download=True)
    except Exception:
        return None
    finally:
        socket.setdefaulttimeout(old_timeout)
    folder = target / "FashionMNIST" / "raw"
    if _has_all_files(folder):
        return DataSource("Fashion-MNIST", "torchvision download", folder)
    return None


# --------------------------------------------------------------------------- reading IDX files
def _fix_hint(path: Path) -> str:
    if path.parent == DEBIAN_DIR:
        return "Fix: sudo apt-get install --reinstall dataset-fashion-mnist"
    return (
        f"Fix: delete {path} and put a fresh copy there (or remove the folder and let the course "
        f"find the data elsewhere).\n{HOW_TO_GET_THE_DATA}"
    )


def read_idx(path: str | os.PathLike, magic: int, count: int | None = None) -> torch.Tensor:
    """Read one gzipped IDX file into a uint8 tensor.

    Raises :class:`DataFileError` with the file's name and a fix for a missing, truncated or
    corrupt file, instead of a bare gzip or numpy traceback.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataFileError(f"Data file {path} is missing.\n{_fix_hint(path)}") from None
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        raise DataFileError(
            f"Data file {path} is truncated or corrupt (gzip says: {e}).\n{_fix_hint(path)}"
        ) from None
    ndim = {_IMAGES_MAGIC: 3, _LABELS_MAGIC: 1}[magic]
    header = 4 + 4 * ndim
    found_magic = int.from_bytes(raw[0:4], "big") if len(raw) >= 4 else None
    if found_magic is not None and found_magic != magic:
        raise DataFileError(
            f"Data file {path} is not the expected IDX file (magic number {found_magic}, "
            f"expected {magic}); was it renamed or swapped?\n{_fix_hint(path)}"
        )
    if len(raw) < header:
        raise DataFileError(f"Data file {path} is truncated: only {len(raw)} bytes.\n{_fix_hint(path)}")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if count is not None and dims[0] != count:
        raise DataFileError(
            f"Data file {path} holds {dims[0]} items, expected {count}.\n{_fix_hint(path)}"
        )
    size = 1
    for d in dims:
        size *= d
    body = raw[header:]
    if len(body) != size:
        raise DataFileError(
            f"Data file {path} is truncated or corrupt: its header promises {size} bytes of data, "
            f"the file holds {len(body)}.\n{_fix_hint(path)}"
        )
    return torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(dims)


def _cache_key(paths: tuple[Path, Path]) -> str:
    h = hashlib.sha256(f"format={_CACHE_FORMAT}".encode())
    for p in paths:
        st = p.stat()
        h.update(f"|{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


_MEMO: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}


def _decode(folder: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    img_path, lbl_path = (folder / f for f in _FILES[train])
    n = _EXPECTED_N[train]
    images = read_idx(img_path, _IMAGES_MAGIC, n)
    labels = read_idx(lbl_path, _LABELS_MAGIC, n).long()
    if tuple(images.shape[1:]) != (28, 28):
        raise DataFileError(
            f"Data file {img_path} holds {tuple(images.shape[1:])} images, not 28x28.\n{_fix_hint(img_path)}"
        )
    if labels.min() < 0 or labels.max() > 9:
        raise DataFileError(f"Data file {lbl_path} holds labels outside 0..9: corrupt.\n{_fix_hint(lbl_path)}")
    return images, labels


def _load_uint8(folder: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    paths = tuple(folder / f for f in _FILES[train])
    try:
        key = _cache_key(paths)
    except FileNotFoundError as e:
        raise DataFileError(f"Data file {e.filename} is missing.\n{_fix_hint(Path(e.filename))}") from None
    if key in _MEMO:
        return _MEMO[key]
    cache_file = cache_dir("data") / f"fashion-mnist-{'train' if train else 'test'}-{key}.pt"
    pair = None
    if cache_file.exists():
        try:
            blob = torch.load(cache_file, map_location="cpu", weights_only=True)
            pair = (blob["images"], blob["labels"])
            if pair[0].dtype != torch.uint8 or pair[0].shape != (_EXPECTED_N[train], 28, 28):
                raise ValueError("unexpected content")
        except Exception as e:
            warnings.warn(f"Ignoring unreadable data cache {cache_file} ({e}); decoding the .gz files again.")
            pair = None
    if pair is None:
        pair = _decode(folder, train)
        buf = io.BytesIO()
        torch.save({"images": pair[0], "labels": pair[1]}, buf)
        try:
            atomic_write_bytes(cache_file, buf.getvalue())
        except OSError as e:  # a full or read-only disk costs speed, not correctness
            warnings.warn(f"Could not write the data cache {cache_file}: {e}")
    _MEMO[key] = pair
    return pair


def load_fashion_mnist(train: bool = True, root: str | os.PathLike | None = None) -> ImageData:
    """Fashion-MNIST as tensors.

    Args:
        train: the 60,000 training images (``True``) or the 10,000 test images (``False``).
        root: a folder holding the four ``.gz`` files; by default the course looks in the places
            listed in this module's docstring.

    Returns:
        ``(images, labels)``: ``images`` float32 ``[N, 1, 28, 28]`` in [0, 1], ``labels`` int64 ``[N]``.
        The result also has ``.classes`` (the ten class names) and ``.source`` (where it came from).

    Raises:
        DataNotFoundError: the data is nowhere; the message names the ways to get it.
        DataFileError: a file is missing, truncated or corrupt; the message names it and the fix.
    """
    source = find_fashion_mnist(root)
    if source is None:
        source = _try_download()
    if source is None:
        raise DataNotFoundError(f"Fashion-MNIST was not found on this machine.\n{HOW_TO_GET_THE_DATA}")
    images_u8, labels = _load_uint8(source.root, train)
    images = images_u8.unsqueeze(1).float().div_(255.0)  # [N, 28, 28] uint8 => [N, 1, 28, 28] float
    return ImageData(images, labels.clone(), FASHION_MNIST_CLASSES, source)


def load_digits(train: bool = True, size: int = 28) -> ImageData:
    """scikit-learn's bundled 8x8 digits (1,797 images, no download), resized to ``size`` x ``size``.

    The embedded fallback when Fashion-MNIST is missing, and the out-of-distribution set later on.
    A fixed split: 1,500 training images, 297 test images.

    Returns:
        ``(images, labels)``: float32 ``[N, 1, size, size]`` in [0, 1], int64 ``[N]``.
    """
    import torch.nn.functional as F
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0  # [1797, 1, 8, 8]
    y = torch.tensor(bunch.target, dtype=torch.int64)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    idx = perm[:1500] if train else perm[1500:]
    x = F.interpolate(x[idx], size=(size, size), mode="bilinear", align_corners=False).clamp_(0.0, 1.0)
    source = DataSource("digits", "scikit-learn's bundled 8x8 digits, resized to 28x28")
    return ImageData(x, y[idx].clone(), DIGITS_CLASSES, source)


FALLBACK_BANNER = (
    "=" * 78 + "\n"
    "  NOTE: Fashion-MNIST was not found, so this notebook runs on scikit-learn's 8x8 digits,\n"
    "  resized to 28x28. Everything works, but numbers and pictures differ from the lecture's.\n"
    "  To get the real data: sudo apt-get install dataset-fashion-mnist  (or see the README's set-ups).\n"
    + "=" * 78
)


def find_data_source() -> DataSource:
    """Where the notebooks' data comes from: Fashion-MNIST if it is anywhere, else the digits.

    Looks only (no download, no decoding), so it is cheap enough for every setup cell. A download,
    where allowed, happens on the first :func:`load_data`.
    """
    source = find_fashion_mnist()
    if source is not None:
        return source
    if _download_allowed():
        return DataSource("Fashion-MNIST", "to be downloaded with torchvision on first use", data_dir())
    return DataSource("digits", "scikit-learn's bundled 8x8 digits, resized to 28x28 (fallback)")


def load_data(train: bool = True) -> ImageData:
    """What the notebooks call: Fashion-MNIST, or the digits under a printed banner when it is missing."""
    try:
        return load_fashion_mnist(train)
    except DataNotFoundError:
        print(FALLBACK_BANNER)
        return load_digits(train)
