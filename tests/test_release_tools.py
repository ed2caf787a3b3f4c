"""The maintainers' release path for SimCLR, end to end at toy size: tools/train_released_simclr.py trains (notebook
04's solution functions, a deadline that re-plans the schedule), tools/release_checkpoints.py --from releases the
file, and the release loads where notebooks 04 and 06 load it."""

import json
import subprocess
import sys

import torch

from conftest import ROOT
from course_utils import capstone as cs
from course_utils.released import load_released, manifest
from course_utils.simclr import Encoder, SimCLRModel


def test_a_simclr_trained_by_the_tool_is_released_and_loads_in_notebooks_04_and_06(tmp_path):
    out = tmp_path / "simclr_long.pt"
    run = subprocess.run(
        [sys.executable, "tools/train_released_simclr.py", "--width", "4", "--epochs", "3", "--n-train", "512",
         "--batch-size", "128", "--warmup-epochs", "1", "--device", "cpu", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["config"]["epochs"] == 3 and summary["config"]["width"] == 4
    assert 0.1 < summary["linear_probe"] <= 1.0  # ten classes: better than chance even at toy size
    payload = torch.load(out, weights_only=True)
    assert payload["name"] == "simclr" and len(payload["history"]["metrics"]["loss"]) == 3

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
