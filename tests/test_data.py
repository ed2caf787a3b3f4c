import gzip
import shutil
from pathlib import Path

import pytest
import torch

from course_utils import data
from course_utils.data import (
    FASHION_MNIST_CLASSES,
    DataFileError,
    DataNotFoundError,
    find_fashion_mnist,
    load_data,
    load_digits,
    load_fashion_mnist,
    read_idx,
)

HAVE_FMNIST = find_fashion_mnist() is not None
needs_fmnist = pytest.mark.skipif(not HAVE_FMNIST, reason="Fashion-MNIST is not installed (./course setup installs it)")


def _idx_images(n=3, h=28, w=28, value=7):
    header = (2051).to_bytes(4, "big") + n.to_bytes(4, "big") + h.to_bytes(4, "big") + w.to_bytes(4, "big")
    return header + bytes([value]) * (n * h * w)


def _idx_labels(labels):
    return (2049).to_bytes(4, "big") + len(labels).to_bytes(4, "big") + bytes(labels)


@needs_fmnist
@pytest.mark.parametrize("train,n", [(True, 60_000), (False, 10_000)])
def test_fashion_mnist_shapes_and_values(train, n):
    images, labels = load_fashion_mnist(train=train)
    assert images.shape == (n, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (n,) and labels.dtype == torch.int64
    assert images.min() >= 0 and images.max() <= 1 and images.max() == 1
    assert sorted(labels.unique().tolist()) == list(range(10))
    assert torch.bincount(labels).tolist() == [n // 10] * 10  # Fashion-MNIST is balanced


@needs_fmnist
def test_fashion_mnist_known_first_labels_and_classes():
    d = load_fashion_mnist(train=True)
    assert d.labels[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert d.classes == FASHION_MNIST_CLASSES and d.classes[9] == "Ankle boot"
    assert d.source.name == "Fashion-MNIST"


@needs_fmnist
def test_second_load_comes_from_the_cache(tmp_cache, monkeypatch):
    data._MEMO.clear()  # an earlier test's in-process copy would skip writing this test's cache
    first, _ = load_fashion_mnist(train=True)
    data._MEMO.clear()  # drop the in-process copy: the next load must come from the disk cache

    def no_decoding(*args, **kwargs):
        raise AssertionError("the second load decoded the .gz files again instead of reading the cache")

    monkeypatch.setattr(data.gzip, "open", no_decoding)
    images, _ = load_fashion_mnist(train=True)
    assert images.shape == (60_000, 1, 28, 28) and torch.equal(images, first)
    assert any(p.name.startswith("fashion-mnist-train-") for p in (tmp_cache / "data").iterdir())


@needs_fmnist
def test_returned_tensors_are_independent():
    a, _ = load_fashion_mnist(train=False)
    a.zero_()
    b, _ = load_fashion_mnist(train=False)
    assert b.max() == 1  # a student who modifies one result in place does not corrupt the next load


def _fake_root(tmp_path: Path, n_train=60_000, n_test=10_000) -> Path:
    root = tmp_path / "fm"
    root.mkdir()
    for name, payload in {
        "train-images-idx3-ubyte.gz": _idx_images(n_train, value=255),
        "train-labels-idx1-ubyte.gz": _idx_labels([i % 10 for i in range(n_train)]),
        "t10k-images-idx3-ubyte.gz": _idx_images(n_test, value=0),
        "t10k-labels-idx1-ubyte.gz": _idx_labels([i % 10 for i in range(n_test)]),
    }.items():
        with gzip.open(root / name, "wb") as f:
            f.write(payload)
    return root


def test_explicit_root_is_used_first(tmp_path, tmp_cache):
    root = _fake_root(tmp_path)
    images, labels = load_fashion_mnist(train=False, root=root)
    assert images.shape == (10_000, 1, 28, 28) and images.max() == 0
    assert labels[:3].tolist() == [0, 1, 2]


def test_env_var_root(tmp_path, tmp_cache, monkeypatch):
    root = _fake_root(tmp_path)
    monkeypatch.setenv("FASHION_MNIST_ROOT", str(root))
    assert find_fashion_mnist().root == root
    assert find_fashion_mnist().how == "$FASHION_MNIST_ROOT"


def test_truncated_file_gives_a_clear_message(tmp_path, tmp_cache):
    root = _fake_root(tmp_path)
    f = root / "t10k-images-idx3-ubyte.gz"
    blob = f.read_bytes()
    f.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataFileError) as e:
        load_fashion_mnist(train=False, root=root)
    msg = str(e.value)
    assert "t10k-images-idx3-ubyte.gz" in msg and "truncated or corrupt" in msg and "Fix" in msg
    assert e.value.__cause__ is None and e.value.__suppress_context__  # no chained gzip traceback


def test_corrupt_and_wrong_files_give_clear_messages(tmp_path):
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"this is not gzip at all")
    with pytest.raises(DataFileError, match="bad.gz is truncated or corrupt"):
        read_idx(bad, 2051)
    swapped = tmp_path / "labels-as-images.gz"
    with gzip.open(swapped, "wb") as f:
        f.write(_idx_labels([1, 2, 3]))
    with pytest.raises(DataFileError, match="magic number 2049, expected 2051"):
        read_idx(swapped, 2051)
    short = tmp_path / "short-body.gz"
    with gzip.open(short, "wb") as f:
        f.write(_idx_images(3)[:-100])
    with pytest.raises(DataFileError, match="header promises 2352 bytes"):
        read_idx(short, 2051)
    with pytest.raises(DataFileError, match="holds 3 items, expected 60000"):
        read_idx(_write(tmp_path, _idx_images(3)), 2051, count=60_000)
    with pytest.raises(DataFileError, match="is missing"):
        read_idx(tmp_path / "nope.gz", 2051)


def _write(tmp_path, payload):
    p = tmp_path / "ok.gz"
    with gzip.open(p, "wb") as f:
        f.write(payload)
    return p


def test_explicit_root_missing_a_file_names_it(tmp_path):
    root = _fake_root(tmp_path)
    (root / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataFileError, match="lacks train-labels-idx1-ubyte.gz"):
        load_fashion_mnist(root=root)


def _nowhere(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "no-project-data"))
    monkeypatch.delenv("FASHION_MNIST_ROOT", raising=False)
    monkeypatch.setenv("COURSE_DOWNLOAD", "0")


def test_not_found_anywhere_names_every_way(monkeypatch, tmp_path):
    _nowhere(monkeypatch, tmp_path)
    with pytest.raises(DataNotFoundError) as e:
        load_fashion_mnist()
    msg = str(e.value)
    assert "apt-get install dataset-fashion-mnist" in msg and "FASHION_MNIST_ROOT" in msg and "torchvision" in msg


def test_load_data_falls_back_to_digits_under_a_banner(monkeypatch, tmp_path, capsys):
    _nowhere(monkeypatch, tmp_path)
    images, labels = d = load_data(train=True)
    assert "Fashion-MNIST was not found" in capsys.readouterr().out
    assert d.source.is_fallback and images.shape == (1500, 1, 28, 28) and labels.shape == (1500,)
    assert data.find_data_source().name == "digits"


def test_digits_loader():
    tr, te = load_digits(train=True), load_digits(train=False)
    assert tr.images.shape == (1500, 1, 28, 28) and te.images.shape == (297, 1, 28, 28)
    assert tr.images.dtype == torch.float32 and 0 <= tr.images.min() and tr.images.max() <= 1
    assert tr.labels.dtype == torch.int64 and set(tr.labels.tolist()) == set(range(10))
    assert tr.images.mean() > 0.1  # real strokes survived the resize


def test_corrupt_cache_entry_is_ignored(tmp_path, tmp_cache):
    root = _fake_root(tmp_path)
    load_fashion_mnist(train=False, root=root)
    data._MEMO.clear()
    for p in (tmp_cache / "data").iterdir():
        p.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unreadable data cache"):
        images, _ = load_fashion_mnist(train=False, root=root)
    assert images.shape == (10_000, 1, 28, 28)
    shutil.rmtree(tmp_cache)
