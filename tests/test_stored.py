"""The one store (course_utils.stored): check cases and per-profile fallback values, compared as tolerances.py says."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_utils import checks, storage, stored
from course_utils.tolerances import (
    IMG,
    TOLERANCES,
    Tol,
    accuracies,
    decreasing,
    deterministic,
    recorded_spread,
    spec_for,
    spread_note,
    trained,
)
from helpers import needs_pinned_torch

ROOT = Path(__file__).resolve().parents[1]
CALL = re.compile(r'computed_or_stored\(\s*(?:NB|"(\d\d_\w+)")\s*,\s*"(\w+)"')


def keys_used_by_solutions() -> set[tuple[str, str]]:
    import nbformat

    used = set()
    for path in sorted((ROOT / "solutions").glob("0*.ipynb")):
        source = "\n".join(c.source for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code")
        for named, key in CALL.findall(source):
            used.add((named or path.stem, key))
    return used


# ----------------------------------------------------------------------------- the comparison
def test_a_deterministic_value_is_compared_tightly_and_the_message_gives_the_difference_and_tolerance():
    spec = deterministic(1e-6)
    value = {"curve": [1.0, 2.0, 3.0], "n": 3}
    assert stored.compare(value, {"curve": [1.0, 2.0, 3.0 + 5e-7], "n": 3}, spec) == []
    problems = stored.compare(value, {"curve": [1.0, 2.0, 3.0 + 1e-4], "n": 3}, spec)
    assert len(problems) == 1
    assert "curve" in problems[0] and "largest difference 0.0001" in problems[0] and "tolerance 1e-06" in problems[0]
    assert stored.compare(value, {"curve": [1.0, 2.0, 3.0], "n": 4}, spec)[0].startswith("n: largest difference 1 ")
    assert stored.compare({"s": "a"}, {"s": "b"}, spec) == ["s: 'a' != stored 'b'"]
    assert "shape" in stored.compare({"x": torch.zeros(3)}, {"x": torch.zeros(4)}, spec)[0]
    assert "parts differ" in stored.compare({"a": 1.0}, {"b": 1.0}, spec)[0]


def test_a_trained_value_passes_at_its_measured_spread_and_fails_on_a_real_change():
    spec = trained({"acc/*": Tol(atol=0.02), "recon": IMG}, properties=(accuracies("acc/*"),))
    base = {"acc": {"a": 0.80, "b": 0.70}, "recon": torch.full((4, 28, 28), 100, dtype=torch.uint8)}
    other_cpu = {"acc": {"a": 0.81, "b": 0.69}, "recon": base["recon"] + torch.randint(0, 2, (4, 28, 28)).byte()}
    assert stored.compare(other_cpu, base, spec) == []
    broken = {"acc": {"a": 0.10, "b": 0.70}, "recon": torch.zeros(4, 28, 28, dtype=torch.uint8)}
    problems = stored.compare(broken, base, spec)
    assert any(p.startswith("acc/a: largest difference 0.7") and "tolerance 0.02" in p for p in problems)
    assert any(p.startswith("recon: mean difference 100") and "mean <= 1" in p for p in problems)
    assert spec.broken_properties({"acc": {"a": 1.5}}) == ["accuracies (acc/*) lie in [0, 1]"]
    assert decreasing("curve")[1]({"curve": [3.0, 2.0, 1.0]}) and not decreasing("curve")[1]({"curve": [1.0, 2.0]})


def test_equal_infinities_count_as_equal():
    inf = float("inf")
    assert stored.compare({"x": torch.tensor([inf, 1.0])}, {"x": torch.tensor([inf, 1.0])}, deterministic()) == []


# ----------------------------------------------------------------------------- the table and the store
def test_every_stored_value_of_every_solution_has_a_declared_comparison_and_both_profiles():
    used = keys_used_by_solutions()
    assert len(used) >= 20, used
    assert used <= set(TOLERANCES), f"no entry in course_utils/tolerances.py for {sorted(used - set(TOLERANCES))}"
    assert set(TOLERANCES) <= used, f"tolerances.py names values no notebook stores: {sorted(set(TOLERANCES) - used)}"
    for notebook, key in sorted(used):
        spec = spec_for(notebook, key)
        assert spec.kind in ("deterministic", "trained")
        if spec.kind == "trained":
            assert recorded_spread(notebook, key), f"{notebook}/{key}: no spread recorded (benchmarks/stored_spread.py)"
        for profile in stored.PROFILES:
            assert stored.has_stored(notebook, key, profile), f"{notebook}/{key}: no {profile}-profile value stored"


def test_the_stored_values_of_each_profile_have_the_same_parts():
    for notebook, key in sorted(keys_used_by_solutions()):
        fast = dict(stored.leaves(stored.load_stored(notebook, key, "fast")))
        full = dict(stored.leaves(stored.load_stored(notebook, key, "full")))
        assert fast.keys() == full.keys(), (notebook, key)


@needs_pinned_torch
def test_the_check_cases_are_what_the_solutions_compute_now():
    """tools/make_stored.py all --cases --check: rebuilt from the solution notebooks, compared at 1e-12."""
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "make_stored.py"), "all", "--cases", "--check"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.stdout.count("check cases match the store") == 5, run.stdout


def test_a_file_of_the_store_is_small():
    for path in stored.STORE_DIR.iterdir():
        assert path.stat().st_size < 1_000_000, path


# ----------------------------------------------------------------------------- the notebook's call
@pytest.fixture
def scratch_store(tmp_path, monkeypatch):
    monkeypatch.setattr(storage, "STORE_DIR", tmp_path)
    monkeypatch.delenv("COURSE_RECORD_STORED", raising=False)
    monkeypatch.delenv("COURSE_VERIFY_STORED", raising=False)
    return tmp_path


def test_an_unfinished_exercise_shows_the_value_of_its_own_profile_and_says_so(scratch_store, monkeypatch, capsys):
    stored.record("99_demo", "curve", [1.0, 2.0], "fast")
    stored.record("99_demo", "curve", [5.0, 6.0], "full")
    for profile, want in (("fast", [1.0, 2.0]), ("full", [5.0, 6.0])):
        monkeypatch.setenv("COURSE_PROFILE", profile)
        got = stored.computed_or_stored("99_demo", "curve", lambda: 1 / 0, needs=["nothing_yet"], what="the curve")
        assert got == want
        line = capsys.readouterr().out
        assert f"the solution's {profile}-profile run" in line and "`nothing_yet`" in line


def test_a_profile_without_the_value_falls_back_to_the_other_and_says_so(scratch_store, monkeypatch, capsys):
    stored.record("99_demo", "curve", [1.0, 2.0], "fast")
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert stored.computed_or_stored("99_demo", "curve", lambda: 0, needs=["x"], what="the curve") == [1.0, 2.0]
    assert "fast-profile run (no full-profile value is stored for it)" in capsys.readouterr().out
    with pytest.raises(stored.StoreError, match="reinstall the course package"):
        stored.computed_or_stored("99_demo", "other", lambda: 0, needs=["x"], what="the other")


def test_verify_raises_with_the_difference_and_record_writes_where_asked(scratch_store, monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    checks._RESULTS["done"] = True
    stored.record("01_jensen_elbo", "em_trace", {"log_px": [1.0, 2.0]}, "fast")
    monkeypatch.setenv("COURSE_VERIFY_STORED", "1")
    same = stored.computed_or_stored("01_jensen_elbo", "em_trace", lambda: {"log_px": [1.0, 2.0]}, ["done"], "t")
    assert same == {"log_px": [1.0, 2.0]}
    with pytest.raises(AssertionError, match=r"log_px: largest difference 0\.5.*tolerance 1e-06"):
        stored.computed_or_stored("01_jensen_elbo", "em_trace", lambda: {"log_px": [1.0, 2.5]}, ["done"], "t")
    monkeypatch.delenv("COURSE_VERIFY_STORED")
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("COURSE_RECORD_STORED", str(elsewhere))
    stored.computed_or_stored("01_jensen_elbo", "em_trace", lambda: {"log_px": [3.0]}, ["done"], "t")
    assert json.loads((elsewhere / "01_jensen_elbo.fast.json").read_text())["em_trace"] == {"log_px": [3.0]}
    assert stored.load_stored("01_jensen_elbo", "em_trace", "fast") == {"log_px": [1.0, 2.0]}  # store untouched


def test_a_large_value_goes_to_a_pt_file(scratch_store):
    big = {"z": torch.zeros(30_000, dtype=torch.float16)}
    stored.record("99_demo", "latents", big, "full")
    assert (scratch_store / "99_demo.full.latents.pt").exists()
    assert stored.stored_keys("99_demo", "full") == ["latents"]
    assert torch.equal(stored.load_stored("99_demo", "latents", "full")["z"], big["z"])


def test_properties_read_numbers_lists_and_tensors():
    from course_utils.tolerances import finite

    _, holds = finite()
    assert holds({"codes": torch.zeros(5, 2, dtype=torch.float16), "curve": [1.0, 2.0], "n": 3, "name": "x"})
    assert not holds({"codes": torch.tensor([[0.0, float("nan")]])})


def test_every_trained_tolerance_is_at_least_3x_the_largest_recorded_spread():
    """Each part of each trained value against what benchmarks/stored_spread.py recorded on every kind of CPU: the
    mean difference for a tolerance on the mean, else the largest."""
    checked, short = 0, []
    for (notebook, key), spec in TOLERANCES.items():
        if spec.kind != "trained":
            continue
        for file, parts in recorded_spread(notebook, key).items():
            for part, m in parts.items():
                tol = spec_for(notebook, key).tolerance_for(part)
                measured = m["kernels_mean" if tol.mean else "kernels_max"]
                checked += 1
                if tol.atol < 3 * measured - 1e-12:
                    short.append(f"{notebook}/{key} {part}: {tol.atol:g} < 3 x {measured:.3g} ({file})")
    assert checked > 300, checked
    assert not short, "tolerances below 3x the recorded spread:\n" + "\n".join(short)


def test_a_failing_comparison_prints_the_recorded_spread():
    note = spread_note("02_autoencoders", "denoising")
    assert note.startswith("recorded spread across kernels: ") and "test_loss/" in note
