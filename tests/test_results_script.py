"""benchmarks/results.py: its AUROC and its README block (the measurements themselves are never tests)."""

import importlib.util

import torch

from conftest import ROOT


def _results():
    spec = importlib.util.spec_from_file_location("results", ROOT / "benchmarks" / "results.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_auroc_is_the_probability_that_an_outlier_scores_lower():
    auroc = _results().auroc
    inl, out = torch.tensor([-100.0, -90.0, -80.0]), torch.tensor([-300.0, -200.0])
    assert auroc(inl, out) == 1.0  # every outlier has a lower log p(x)
    assert auroc(out, inl) == 0.0
    assert auroc(torch.tensor([-1.0, -3.0]), torch.tensor([-2.0, -4.0])) == 0.75  # 3 of the 4 pairs are ordered
    g = torch.Generator().manual_seed(0)
    same = auroc(torch.randn(4000, generator=g), torch.randn(4000, generator=g))
    assert abs(same - 0.5) < 0.03


def test_the_readme_has_the_block_the_script_fills():
    mod = _results()
    text = (ROOT / "README.md").read_text()
    assert text.count(mod.BEGIN) == 1 and text.count(mod.END) == 1 and text.index(mod.BEGIN) < text.index(mod.END)
