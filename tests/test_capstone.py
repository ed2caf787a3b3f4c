"""Notebook 06's machinery (course_utils.capstone): your code from notebooks 02-05, and released encoders."""

from pathlib import Path

import nbformat
import pytest
import torch

from course_utils import capstone as cs
from course_utils.assign import solution_namespace
from course_utils.released import ReleasedCheckpointError, release_checkpoint

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS, STUDENT = ROOT / "solutions", ROOT / "notebooks"


@pytest.mark.parametrize("method", list(cs.METHODS))
def test_solutions_are_ready_and_untouched_student_notebooks_are_not(method):
    nb, names = cs.METHODS[method]
    assert cs.load_your_code(nb, SOLUTIONS).ready(*names)
    student = cs.load_your_code(nb, STUDENT)
    assert not student.ready(*names)
    assert student.missing(*names) == list(names)
    why = student.status[names[0]]
    assert f"{nb}.ipynb" in why and f"check_{names[0]}" in why  # says which notebook and which check
    with pytest.raises(KeyError, match="not ready"):
        student[names[0]]


def _copy_with(tmp_path, notebook, replace=None, extra_cells=()):
    nb = nbformat.read(SOLUTIONS / f"{notebook}.ipynb", as_version=4)
    for cell in nb.cells:
        if replace and cell.cell_type == "code" and replace[0] in cell.source:
            cell.source = replace[1]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in extra_cells]
    nbformat.write(nb, tmp_path / f"{notebook}.ipynb")
    return tmp_path


def test_a_wrong_answer_is_not_used_and_the_others_still_are(tmp_path):
    wrong = "def ae_loss(x, x_hat):\n    return ((x - x_hat) ** 2).mean()\n"  # a mean over pixels too
    folder = _copy_with(tmp_path, "02_autoencoders", replace=("def ae_loss(", wrong))
    code = cs.load_your_code("02_autoencoders", folder)
    assert code.status["Autoencoder"] == "ok" and code.status["corrupt"] == "ok"
    assert "does not pass check_ae_loss" in code.status["ae_loss"]
    assert not code.ready(*cs.METHODS["AE"][1])
    assert code.digest != cs.load_your_code("02_autoencoders", SOLUTIONS).digest  # a changed answer, new models


def test_only_definitions_run_never_the_notebooks_computations(tmp_path):
    marker = tmp_path / "ran.txt"
    cells = [f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n",  # a computation: never run
             "def broken(:\n    pass\n",  # a syntax error: that cell is skipped, the rest still loads
             "raise RuntimeError('a notebook cell that fails')\n"]
    folder = _copy_with(tmp_path, "04_simclr", extra_cells=cells)
    code = cs.load_your_code("04_simclr", folder)
    assert not marker.exists()
    assert code.ready("augment", "nt_xent_loss")


def test_a_missing_notebook_is_reported_not_raised(tmp_path):
    code = cs.load_your_code("05_mae", tmp_path)
    assert code.path is None and not code.ready("patchify")
    assert "05_mae.ipynb was not found" in code.status["patchify"]


def test_every_name_of_capstone_is_there_and_the_modules_are_those_of_models():
    from course_utils import models

    assert all(hasattr(cs, name) for name in cs.__all__)
    for name in ("Encode", "mlp_encoder", "as_mlp_encoder", "autoencoder_encoder_state", "Classifier"):
        assert getattr(cs, name) is getattr(models, name) and name in models.__all__


def test_coarse_labels_group_every_fine_class_once():
    members = sorted(c for group in cs.COARSE_GROUPS.values() for c in group)
    assert members == list(range(10))
    y = torch.arange(10)
    coarse = cs.coarse_labels(y)
    assert coarse.tolist() == [0, 1, 0, 0, 0, 2, 0, 2, 3, 2]
    assert cs.coarse_labels(torch.tensor([9, 8, 1])).tolist() == [2, 3, 1]


def test_epochs_for_gives_at_least_the_steps():
    for steps, n, bs in [(16, 500, 256), (700, 60_000, 256), (1, 10, 64), (100, 1000, 128)]:
        epochs = cs.epochs_for(steps, n, bs)
        assert epochs * max(1, n // bs) >= steps
        assert (epochs - 1) * max(1, n // bs) < steps or epochs == 1


def test_an_autoencoder_encoder_is_released_in_a_fixed_layout_that_computes_the_same(tmp_path):
    Autoencoder = solution_namespace(SOLUTIONS / "02_autoencoders.ipynb")["Autoencoder"]  # noqa: N806
    torch.manual_seed(0)
    model = Autoencoder(32)
    enc = cs.as_mlp_encoder(model)
    x = torch.rand(5, 1, 28, 28)
    assert torch.allclose(enc(x), model.encode(x), atol=1e-6)
    release_checkpoint("ae", model, {"kind": "autoencoder", "latent_dim": 32}, metrics={},  # released whole
                       train_seconds=1.0, directory=tmp_path)
    module, entry = cs.released_features("ae", directory=tmp_path)  # 06 keeps only the encoder
    assert isinstance(module, torch.nn.Sequential) and entry["config"]["kind"] == "autoencoder"
    assert torch.allclose(module(x), model.encode(x), atol=1e-6)
    assert cs.released_features("simclr", directory=tmp_path) is None  # not released: None, not an error
    (tmp_path / "ae.pt").write_bytes((tmp_path / "ae.pt").read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ReleasedCheckpointError, match="does not match its manifest"):
        cs.released_features("ae", directory=tmp_path)


def test_a_different_autoencoder_layout_is_refused():
    class Other(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(784, 256), torch.nn.Linear(256, 32)

        def encode(self, x):
            return self.b(torch.tanh(self.a(x.flatten(1))))  # tanh, not ReLU

    with pytest.raises(ValueError, match="cannot be released"):
        cs.as_mlp_encoder(Other())


def test_a_released_mae_needs_your_notebook_05_functions(tmp_path):
    code = cs.load_your_code("05_mae", SOLUTIONS)
    mae = cs.build_mae(code)
    release_checkpoint("mae", mae, {"kind": "mae"}, metrics={}, train_seconds=1.0, directory=tmp_path)
    assert cs.released_features("mae", None, directory=tmp_path) is None
    assert cs.released_features("mae", cs.load_your_code("05_mae", STUDENT), directory=tmp_path) is None
    module, _ = cs.released_features("mae", code, directory=tmp_path)
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(module(x), mae.eval().forward_features(x), atol=1e-5)


def test_use_released_follows_the_switch(monkeypatch):
    for mode, prefer, expected in [("auto", True, True), ("auto", False, False), ("released", False, True),
                                   ("train", True, False)]:
        monkeypatch.setenv("COURSE_CHECKPOINTS", mode)
        assert cs.use_released(prefer) is expected


def test_training_with_your_code_is_cached_by_code_and_data(tmp_cache):
    code = cs.load_your_code("02_autoencoders", SOLUTIONS)
    X = torch.rand(64, 1, 28, 28)
    m1, h1 = cs.train_autoencoder(code, X, epochs=2, batch_size=32)
    assert len(h1) == 2 and h1["loss"][1] < h1["loss"][0]
    m2, _ = cs.train_autoencoder(code, X, epochs=2, batch_size=32)  # the same: loaded from the cache
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert len(list((tmp_cache / "checkpoints").glob("capstone-ae-*.pt"))) == 1
    cs.train_autoencoder(code, X.flip(0) * 0.5, epochs=2, batch_size=32)  # other data: a new model
    assert len(list((tmp_cache / "checkpoints").glob("capstone-ae-*.pt"))) == 2
