"""benchmarks/results.py: its AUROC and what RESULTS.md links (the measurements themselves are never tests)."""

import torch

from helpers import ROOT, load_script


def _results():
    return load_script("benchmarks/results.py")


def test_auroc_is_the_probability_that_an_outlier_scores_lower():
    auroc = _results().auroc
    inl, out = torch.tensor([-100.0, -90.0, -80.0]), torch.tensor([-300.0, -200.0])
    assert auroc(inl, out) == 1.0  # every outlier has a lower log p(x)
    assert auroc(out, inl) == 0.0
    assert auroc(torch.tensor([-1.0, -3.0]), torch.tensor([-2.0, -4.0])) == 0.75  # 3 of the 4 pairs are ordered
    g = torch.Generator().manual_seed(0)
    same = auroc(torch.randn(4000, generator=g), torch.randn(4000, generator=g))
    assert abs(same - 0.5) < 0.03


def test_results_md_links_the_hand_written_prose_and_a_regeneration_keeps_the_link():
    """RESULTS.md is rewritten whole by the script; the measurements in prose live in benchmarks/README.md, which
    the script's own text links, so a regenerated RESULTS.md keeps the link (and the committed one has it)."""
    mod = _results()
    rendered = mod.render(["| a | b |"])
    assert rendered.startswith("# Results\n\n" + mod.INTRO + "\n") and "(README.md)" in mod.INTRO
    committed = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    assert committed.startswith("# Results\n\n" + mod.INTRO + "\n")
    prose = (ROOT / "benchmarks" / "README.md").read_text()
    assert "RESULTS.md" in prose and "results.py" in prose
    assert "results:begin" not in (ROOT / "README.md").read_text()  # the README holds no copy of the tables
