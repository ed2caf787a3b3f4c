"""The maintainers' release paths. SimCLR end to end at toy size: tools/train_released_simclr.py trains (notebook
04's solution functions, a deadline that re-plans the schedule), tools/release_checkpoints.py --from releases the
file, and the release loads where notebooks 04 and 06 load it. Notebook 06's own runs (tools/release_capstone.py):
the full profile finds a release of every run it would train."""

import json
import subprocess
import sys

import pytest
import torch

from course_utils import capstone as cs
from course_utils.released import load_released, manifest
from course_utils.simclr import Encoder, SimCLRModel
from helpers import ROOT, load_script, needs_pinned_torch


def test_a_simclr_trained_by_the_tool_is_released_and_loads_in_notebooks_04_and_06(tmp_path):
    out = tmp_path / "simclr_long.pt"
    run = subprocess.run(
        [sys.executable, "tools/train_released_simclr.py", "--width", "4", "--epochs", "4", "--n-train", "512",
         "--batch-size", "128", "--warmup-epochs", "1", "--device", "cpu", "--deadline", "1", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    # a deadline already past: after the second epoch (the first one's time is left out) the plan is cut there
    assert "--deadline 1 s: 2 epochs in all" in run.stdout and "epoch 2/2: NT-Xent" in run.stdout, run.stdout
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["config"]["epochs"] == 2 and summary["config"]["width"] == 4
    assert 0.1 < summary["linear_probe"] <= 1.0  # ten classes: better than chance even at toy size
    payload = torch.load(out, weights_only=True)
    assert payload["name"] == "simclr" and len(payload["history"]["metrics"]["loss"]) == 2

    released_dir = tmp_path / "released"
    released_dir.mkdir()
    run = subprocess.run(
        [sys.executable, "tools/release_checkpoints.py", "simclr", "--from", f"simclr={out}",
         "--released-dir", str(released_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    entry = manifest(released_dir / "manifest.json")["simclr"]
    assert entry["config"]["kind"] == "simclr" and entry["config"]["trained_by"] == "tools/train_released_simclr.py"
    assert abs(entry["metrics"]["linear_probe_all_labels"] - summary["linear_probe"]) < 0.01  # the same probe

    got, _ = load_released("simclr", released_dir)  # notebook 04: SimCLRModel from the released configuration
    model = SimCLRModel(width=got["config"]["width"])
    model.load_state_dict(got["state_dict"])
    assert all(torch.equal(v, payload["state_dict"][k]) for k, v in model.state_dict().items())
    f, _ = cs.released_features("simclr", directory=released_dir)  # notebook 06 keeps f
    assert isinstance(f, Encoder) and f.out_dim == 16
    x = torch.rand(5, 1, 28, 28)
    assert torch.allclose(f(x), model.eval().f(x))


def test_release_from_a_file_refuses_a_missing_file_or_another_model(tmp_path):
    run = subprocess.run([sys.executable, "tools/release_checkpoints.py", "simclr", "--from", "simclr=/nonexistent"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "NAME=FILE" in run.stderr
    other = tmp_path / "vae.pt"
    torch.save({"name": "vae_bernoulli", "config": {}, "state_dict": {}}, other)
    run = subprocess.run([sys.executable, "tools/release_checkpoints.py", "simclr", "--from", f"simclr={other}",
                          "--released-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "not 'simclr'" in run.stderr
    assert not (tmp_path / "manifest.json").exists()  # nothing written


@needs_pinned_torch  # another torch resizes the low-resolution images differently: 06 then trains that run itself
def test_notebook_06_full_profile_finds_a_release_for_every_run_it_would_train(tmp_cache, monkeypatch):
    """The full profile of notebook 06 runs from released checkpoints: for every pretraining variant and every
    supervised / fine-tuning run, the notebook's own functions (read as tools/release_capstone.py reads them) find
    a release of that very run, train nothing, and reproduce the accuracy its manifest records."""
    rc = load_script("tools/release_capstone.py")
    from course_utils.released import is_released

    if not is_released("simclr-n60000"):
        pytest.skip("notebook 06's runs are not released")
    monkeypatch.setenv("COURSE_PROFILE", "full")  # the script sets it; this restores it afterwards
    ns = rc.notebook_namespace("full")
    if "Fashion-MNIST" not in str(ns["course"].load_data(train=True).source):
        pytest.skip("the releases were trained on Fashion-MNIST, which is not installed here")
    ns["PREFER_RELEASED"] = ns["RELEASED_RUNS"] = True
    monkeypatch.setenv("COURSE_CHECKPOINTS", "auto")
    for method in rc.RELEASE_AS:
        for variant, X, kw in rc.variants(ns):
            module, where = ns["pretrained"](method, X, variant, **kw)
            assert where == f"released '{rc.RELEASE_AS[method]}{variant}'", (method, variant, where)
    rc.use_released_mae(ns)
    table = manifest()
    yc_pool, yc_test = cs.coarse_labels(ns["y_pool"]), cs.coarse_labels(ns["y_test"])
    runs = {  # run -> accuracy: one run of each kind (each costs a pass over the 10,000 test images)
        "supervised-cnn-4class-n100-s2": lambda: ns["supervised_accuracy"](ns["subsets"](10)[2], 2, yc_pool, yc_test),
        "mae-finetuned-10class-n10-s1": lambda: ns["finetuned_mae_accuracy"](ns["subsets"](1)[1], 1),
    }
    for name, run in runs.items():  # the same weights; CPU kernels may flip a near-tie or two of 10,000 images
        assert abs(run() - table[name]["metrics"]["test_accuracy"]) <= 1e-3, name
    for pc in ns["PER_CLASS"]:
        for seed, idx in zip(ns["SEEDS"], ns["subsets"](pc)):
            for prefix in ("supervised-cnn", "mae-finetuned"):
                entry = table[f"{prefix}-10class-n{len(idx)}-s{seed}"]
                assert entry["config"]["labels"] == cs._fingerprint(ns["y_pool"][idx])
    assert not (tmp_cache / "checkpoints").exists() or not list((tmp_cache / "checkpoints").iterdir())  # no training
