import json

import pytest
import torch
from torch import nn

from course_utils import released
from course_utils.checkpoints import load_or_train
from course_utils.released import (
    ReleasedCheckpointError,
    ReleasedMismatchError,
    checkpoint_mode,
    load_released,
    load_released_model,
    release_checkpoint,
)


def _build(cfg):
    torch.manual_seed(cfg.get("seed", 0))
    return nn.Linear(cfg["d"], 2)


@pytest.fixture
def release_dir(tmp_path, monkeypatch):
    d = tmp_path / "released"
    d.mkdir()
    monkeypatch.setattr(released, "RELEASED_DIR", d)
    return d


def _release(d, name="lin", half=False):
    model = _build({"d": 4, "seed": 1})
    entry = release_checkpoint(name, model, {"d": 4, "seed": 1}, metrics={"accuracy": 0.5}, train_seconds=1.23,
                               history={"metrics": {"loss": [2.0, 1.0]}, "seconds": [0.5, 0.5]}, directory=d, half=half)
    return model, entry


def test_release_writes_file_and_manifest(release_dir):
    model, entry = _release(release_dir)
    table = json.loads((release_dir / "manifest.json").read_text())
    assert table["lin"] == entry
    for key in ("config", "dataset", "seed", "metrics", "sha256", "train_seconds", "hardware"):
        assert key in entry
    payload, e = load_released("lin", release_dir)
    assert torch.equal(payload["state_dict"]["weight"], model.weight.detach())
    assert e["sha256"] == released.sha256_of(release_dir / "lin.pt")


def test_tampered_checkpoint_is_refused(release_dir):
    _release(release_dir)
    f = release_dir / "lin.pt"
    blob = bytearray(f.read_bytes())
    blob[-10] ^= 0xFF
    f.write_bytes(bytes(blob))
    with pytest.raises(ReleasedCheckpointError, match="does not match its manifest"):
        load_released("lin", release_dir)


def test_unknown_and_missing_checkpoints_are_clear(release_dir):
    with pytest.raises(ReleasedCheckpointError, match="No released checkpoint named 'nope'"):
        load_released("nope", release_dir)
    _release(release_dir)
    (release_dir / "lin.pt").unlink()
    with pytest.raises(ReleasedCheckpointError, match="is missing"):
        load_released("lin", release_dir)


def test_size_limit(release_dir):
    big = nn.Linear(1500, 1000)  # 6 MB of float32
    with pytest.raises(ValueError, match="over the 5 MB limit"):
        release_checkpoint("big", big, {}, metrics={}, train_seconds=0, directory=release_dir)
    entry = release_checkpoint("big", big, {}, metrics={}, train_seconds=0, directory=release_dir, half=True)
    assert entry["bytes"] <= 5 * 1024 * 1024


def test_modes(monkeypatch):
    monkeypatch.delenv("COURSE_CHECKPOINTS", raising=False)
    assert checkpoint_mode() == "auto"
    monkeypatch.setenv("COURSE_CHECKPOINTS", "Released")
    assert checkpoint_mode() == "released"
    monkeypatch.setenv("COURSE_CHECKPOINTS", "train")
    assert checkpoint_mode() == "train"
    monkeypatch.setenv("COURSE_CHECKPOINTS", "fresh")
    with pytest.raises(ValueError, match="COURSE_CHECKPOINTS=released"):
        checkpoint_mode()


def test_load_or_train_uses_the_release_only_when_asked(release_dir, tmp_cache, monkeypatch):
    model, _ = _release(release_dir, half=True)
    calls = []

    def train(m):
        calls.append(1)
        return {"metrics": {"loss": [9.0]}, "seconds": [0.1]}

    monkeypatch.setenv("COURSE_CHECKPOINTS", "released")
    m, hist = load_or_train("lin-local", {"d": 4, "seed": 7}, _build, train, released="lin", verbose=False)
    assert calls == [] and hist["loss"] == [2.0, 1.0]
    assert m.weight.dtype == torch.float32 and torch.allclose(m.weight, model.weight.detach(), atol=1e-3)
    # no release of that name: falls back to cache-else-train
    load_or_train("other", {"d": 4}, _build, train, released="not-released", verbose=False)
    assert calls == [1]
    monkeypatch.setenv("COURSE_CHECKPOINTS", "auto")
    load_or_train("lin-local", {"d": 4, "seed": 7}, _build, train, released="lin", verbose=False)
    assert calls == [1, 1]


def test_a_release_that_does_not_fit_your_model_trains_instead_with_a_warning(release_dir, tmp_cache, monkeypatch):
    _release(release_dir)  # an nn.Linear(4, 2): its keys are weight and bias

    class Yours(nn.Module):  # the same maths, other layer names (a student's own class)
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(4, 2)

    calls = []
    monkeypatch.setenv("COURSE_CHECKPOINTS", "released")
    with pytest.warns(UserWarning, match="does not fit this model's layers.*training yours instead"):
        load_or_train("yours", {"d": 4}, lambda cfg: Yours(), lambda m: calls.append(1), released="lin",
                      verbose=False)
    assert calls == [1]


def test_load_released_model_casts_verifies_and_reports_a_mismatch_one_way(release_dir):
    """The one loader of released weights (load_or_train, notebook 06's classifiers and encoders)."""
    model, entry = _release(release_dir, half=True)  # float16 on disk
    seen = []
    got = load_released_model("lin", lambda cfg: seen.append(cfg) or nn.Linear(cfg["d"], 2))
    assert seen == [{"d": 4, "seed": 1}] and got.entry == entry and not got.model.training
    assert got.model.weight.dtype == torch.float32 and torch.allclose(got.model.weight, model.weight, atol=1e-3)
    assert got.payload["history"]["metrics"]["loss"] == [2.0, 1.0]
    # the part of the state the module holds
    got = load_released_model("lin", lambda cfg: nn.Linear(4, 2, bias=False),
                              state=lambda cfg, saved: {"weight": saved["weight"]})
    assert torch.allclose(got.model.weight, model.weight, atol=1e-3)
    assert load_released_model("nope", lambda cfg: pytest.fail("built")) is None  # not released
    assert load_released_model("lin", lambda cfg: None) is None  # build says: not for this use

    other = lambda cfg: nn.Linear(4, 3)  # noqa: E731 - another shape
    with pytest.raises(ReleasedMismatchError, match=r"'lin' does not fit this model's layers \(RuntimeError: .*size"):
        load_released_model("lin", other)
    with pytest.warns(UserWarning, match="'lin' does not fit this model's layers .*; training it instead"):
        assert load_released_model("lin", other, instead="training it instead") is None
    with pytest.raises(ReleasedMismatchError, match="KeyError"):  # a part the state does not have
        load_released_model("lin", _build, state=lambda cfg, saved: {"w": saved["nope"]})
    (release_dir / "lin.pt").write_bytes(b"changed")
    with pytest.raises(ReleasedCheckpointError, match="does not match its manifest"):  # verified before building
        load_released_model("lin", lambda cfg: pytest.fail("built"), instead="training it instead")


@pytest.mark.parametrize("name", ["ae", "dae", "vae", "simclr", "mae", "supervised"])
def test_the_shipped_checkpoints_verify_and_load_in_their_notebooks_calls(name, tmp_cache, monkeypatch):
    """What COURSE_CHECKPOINTS=released does in notebooks 02-05: the released model, no training."""
    from course_utils import capstone as cs
    from course_utils.assign import solution_namespace
    from course_utils.models import MLPVAE
    from course_utils.simclr import SimCLRModel
    from helpers import ROOT

    if not released.is_released(name):
        pytest.skip(f"{name} is not released")
    entry = released.manifest()[name]
    assert entry["bytes"] <= released.MAX_BYTES and entry["metrics"] and entry["hardware"]
    if name == "vae":
        build = lambda cfg: MLPVAE(cfg["latent_dim"])  # noqa: E731 - notebook 03's make()
    elif name == "simclr":
        build = lambda cfg: SimCLRModel(width=cfg["width"])  # noqa: E731 - notebook 04's build()
    elif name == "mae":
        code = cs.load_your_code("05_mae", ROOT / "solutions")
        build = lambda cfg: cs.build_mae(code, cfg["seed"])  # noqa: E731 - notebook 05's build_mae()
    elif name == "supervised":
        SupervisedNet = cs.load_your_code("02_autoencoders", ROOT / "solutions").namespace["SupervisedNet"]  # noqa: N806
        build = lambda cfg: SupervisedNet()  # noqa: E731 - notebook 02's train_supervised build()
    else:
        Autoencoder = solution_namespace(ROOT / "solutions" / "02_autoencoders.ipynb")["Autoencoder"]  # noqa: N806
        build = lambda cfg: Autoencoder(cfg["latent_dim"])  # noqa: E731 - notebook 02's build()
    monkeypatch.setenv("COURSE_CHECKPOINTS", "released")
    model, history = load_or_train(name, {"any": "config"}, build, lambda m: pytest.fail("trained"), released=name,
                                   verbose=False)
    assert len(history) == entry["config"]["epochs"]
    payload, _ = load_released(name)
    assert all(torch.equal(v, payload["state_dict"][k]) for k, v in model.state_dict().items())


def test_a_released_classifier_run_stands_only_for_the_same_run(release_dir, tmp_cache):
    """Notebook 06's supervised and fine-tuning runs: ``train_classifier(..., released=prefix)`` loads the release
    of exactly this run (same images, labels, seed, budget) and trains anything else."""
    from course_utils import capstone as cs

    torch.manual_seed(0)
    X, y = torch.rand(40, 1, 28, 28), torch.arange(40) % 4

    def make():
        return cs.Classifier(nn.Sequential(nn.Flatten(), nn.Linear(784, 8)), 8, 4)

    trained = cs.train_classifier(make, X, y, steps=4, batch_size=20, seed=0, name="toy")
    (path,) = (tmp_cache / "checkpoints").glob("toy-*.pt")
    payload = torch.load(path, weights_only=True)
    name = cs.classifier_release_name("toy-cnn", payload["config"])
    assert name == "toy-cnn-4class-n40-s0"
    release_checkpoint(name, trained, dict(payload["config"], kind="cnn_classifier"), metrics={"test_accuracy": 0.5},
                       train_seconds=1.0, directory=release_dir, half=True)
    path.unlink()

    got = cs.train_classifier(make, X, y, steps=4, batch_size=20, seed=0, name="toy", released="toy-cnn")
    assert not list((tmp_cache / "checkpoints").glob("toy-*.pt"))  # loaded, not trained
    assert all(torch.allclose(v, trained.state_dict()[k], atol=1e-3) for k, v in got.state_dict().items())
    assert got.head.weight.dtype == torch.float32

    # another seed, other labels, a longer budget, or other starting weights: trained, not the release
    for change in ({"seed": 1}, {"y": (torch.arange(40) + 1) % 4}, {"steps": 8}, {"key": {"from": "elsewhere"}}):
        kw = {"steps": 4, "seed": 0, "y": y} | change
        y_run = kw.pop("y")
        cs.train_classifier(make, X, y_run, batch_size=20, name="toy", released="toy-cnn", **kw)
    assert len(list((tmp_cache / "checkpoints").glob("toy-*.pt"))) == 4

    # the same run, but make() builds another network: a warning, then trained
    def wider():
        return cs.Classifier(nn.Sequential(nn.Flatten(), nn.Linear(784, 9)), 9, 4)

    with pytest.warns(UserWarning, match="'toy-cnn-4class-n40-s0' does not fit .*; training it instead"):
        cs.train_classifier(wider, X, y, steps=4, batch_size=20, seed=0, name="toy", released="toy-cnn")
    assert len(list((tmp_cache / "checkpoints").glob("toy-*.pt"))) == 5


def test_a_released_encoder_is_not_used_for_other_images(release_dir):
    from course_utils import capstone as cs

    X = torch.rand(30, 1, 28, 28)
    enc = cs.mlp_encoder(4, 16)
    release_checkpoint("enc-n30", enc, {"kind": "mlp_encoder", "latent_dim": 4, "hidden_dim": 16,
                                        "data": cs._fingerprint(X)}, metrics={}, train_seconds=1.0,
                       directory=release_dir)
    module, _ = cs.released_features("enc-n30", data=X)
    x = torch.rand(3, 1, 28, 28)
    assert torch.allclose(module(x), enc(x))
    assert cs.released_features("enc-n30", data=X[:20]) is None  # pretrained on other images: not these
    assert cs.released_features("enc-n30") is not None  # no images named: the release itself


@pytest.mark.parametrize("name", sorted(released.manifest()))
def test_every_shipped_checkpoint_matches_its_manifest_entry(name):
    entry = released.manifest()[name]
    path = released.RELEASED_DIR / entry["file"]
    assert path.stat().st_size == entry["bytes"] <= released.MAX_BYTES
    assert released.sha256_of(path) == entry["sha256"]
    assert entry["metrics"] and entry["hardware"] and entry["config"].get("kind")
