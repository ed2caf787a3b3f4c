import pytest
import torch

from course_utils.notebook import setup_notebook
from course_utils.profiles import BUDGETS, ProfileError, get_device, get_profile, seed_everything


def test_default_is_full(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    assert get_profile().name == "full"


def test_env_var_selects_fast(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", " FAST ")
    p = get_profile()
    assert p.name == "fast" and p.is_fast
    assert p.epochs == p["epochs"] == BUDGETS["fast"]["epochs"]


def test_fast_is_smaller_than_full():
    fast, full = get_profile("fast"), get_profile("full")
    assert fast.n_train < full.n_train and fast.epochs <= full.epochs
    assert full.n_train == 60_000 and full.n_test == 10_000


def test_both_profiles_have_the_same_knobs():
    assert BUDGETS["fast"].keys() == BUDGETS["full"].keys()


def test_unknown_profile_says_what_to_do(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "fsat")
    with pytest.raises(ProfileError, match="COURSE_PROFILE='fsat' is not a profile. Use COURSE_PROFILE=fast"):
        get_profile()


def test_unknown_budget_lists_known_ones():
    with pytest.raises(ProfileError, match="no budget 'epocs'.*Known budgets: .*epochs"):
        get_profile("fast").epocs


def test_seed_everything_repeats():
    seed_everything(3)
    a = torch.randn(4)
    g = seed_everything(3)
    assert torch.equal(a, torch.randn(4))
    assert torch.equal(torch.randn(2, generator=g), torch.randn(2, generator=torch.Generator().manual_seed(3)))


def test_device_choice(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert get_device().type == expected
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device().type == "cpu"
    if not torch.cuda.is_available():
        monkeypatch.setenv("COURSE_DEVICE", "cuda")
        with pytest.raises(ProfileError, match="asks for a GPU"):
            get_device()


def test_setup_notebook_prints_the_header(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    course = setup_notebook("01_jensen_elbo", seed=7)
    out = capsys.readouterr().out
    for expected in ("01_jensen_elbo", "profile : fast", "device  : cpu", "seed    : 7", "data    :"):
        assert expected in out
    assert course.profile.name == "fast" and course.seed == 7
    expected = torch.randn(3, generator=torch.Generator().manual_seed(7))
    assert torch.equal(torch.randn(3, generator=course.generator()), expected)


def test_the_header_says_what_float32_costs_on_a_cpu_without_native_bf16(monkeypatch, capsys):
    import course_utils.speed

    monkeypatch.setattr(course_utils.speed, "autocast_dtype", lambda device="cpu": None)  # an AVX2 laptop
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    monkeypatch.delenv("COURSE_BF16", raising=False)
    monkeypatch.delenv("COURSE_CHECKPOINTS", raising=False)
    monkeypatch.setenv("COURSE_PROFILE", "full")
    setup_notebook("02_autoencoders")
    full = capsys.readouterr().out
    assert "training in float32, which is slower on this computer" in full and "COURSE_CHECKPOINTS=released" in full
    monkeypatch.setenv("COURSE_PROFILE", "fast")  # seconds either way: no advice
    setup_notebook("02_autoencoders")
    assert "slower on this computer" not in capsys.readouterr().out
    monkeypatch.setenv("COURSE_PROFILE", "full")
    setup_notebook("01_jensen_elbo")  # trains nothing slow
    assert "slower on this computer" not in capsys.readouterr().out
    monkeypatch.setenv("COURSE_CHECKPOINTS", "released")  # already loading the trained models
    setup_notebook("02_autoencoders")
    assert "slower on this computer" not in capsys.readouterr().out
    monkeypatch.delenv("COURSE_CHECKPOINTS")
    monkeypatch.setenv("COURSE_BF16", "0")  # float32 by choice: no advice either
    setup_notebook("02_autoencoders")
    assert "slower on this computer" not in capsys.readouterr().out
