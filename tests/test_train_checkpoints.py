import copy
import warnings

import pytest
import torch
from torch import nn

from course_utils.checkpoints import checkpoint_path, config_key, load_or_train
from course_utils.train import History, fit


def _regression_data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(256, 3, generator=g)
    w = torch.tensor([[1.5], [-2.0], [0.5]])
    return X, X @ w


def _mse(model, xb, yb):
    return ((model(xb) - yb) ** 2).mean()


def test_fit_lowers_the_loss_and_records_history():
    X, y = _regression_data()
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    hist = fit(model, _mse, X, y, epochs=30, batch_size=32, lr=0.05, progress=False)
    assert len(hist) == 30 and len(hist["loss"]) == 30
    assert hist["loss"][-1] < 1e-3 < hist["loss"][0]
    assert torch.allclose(model.weight.data, torch.tensor([[1.5, -2.0, 0.5]]), atol=0.02)
    assert not model.training  # left in eval mode


def test_fit_records_extra_metrics_and_epoch_end():
    X, y = _regression_data()
    model = nn.Linear(3, 1)

    def loss_fn(m, xb, yb):
        loss = _mse(m, xb, yb)
        return {"loss": loss, "half": loss / 2}

    hist = fit(model, loss_fn, X, y, epochs=3, progress=False, epoch_end=lambda e, m: {"epoch_seen": e})
    assert hist["half"] == pytest.approx([v / 2 for v in hist["loss"]])
    assert hist["epoch_seen"] == [0, 1, 2]


def test_fit_is_reproducible():
    X, y = _regression_data()
    out = []
    for _ in range(2):
        torch.manual_seed(1)
        model = nn.Linear(3, 1)
        fit(model, _mse, X, y, epochs=2, batch_size=16, seed=5, progress=False)
        out.append(model.weight.detach().clone())
    assert torch.equal(out[0], out[1])


def test_fit_stops_on_a_nan_loss_with_advice():
    X, y = _regression_data()
    with pytest.raises(FloatingPointError, match="smaller learning rate"):
        fit(nn.Linear(3, 1), lambda m, xb, yb: m(xb).sum() * float("nan"), X, y, epochs=1, progress=False)


def test_fit_rejects_mismatched_data():
    with pytest.raises(ValueError, match="same length"):
        fit(nn.Linear(3, 1), _mse, torch.zeros(4, 3), torch.zeros(5, 1), epochs=1, progress=False)


def test_fit_float32_is_the_plain_loop():
    """No autocast (the default): each step is the plain float32 step on fit's batches, bit for bit."""
    X, y = _regression_data()
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    ref = copy.deepcopy(model)
    dtypes = []

    def loss_fn(m, xb, yb):
        out = m(xb)
        dtypes.append(out.dtype)
        return ((out - yb) ** 2).mean()

    fit(model, loss_fn, X, y, epochs=2, batch_size=48, seed=3, progress=False)
    # fit's default optimizer on a CPU: the fused Adam
    opt, gen = torch.optim.Adam(ref.parameters(), lr=1e-3, fused=True), torch.Generator().manual_seed(3)
    for _ in range(2):
        perm = torch.randperm(len(X), generator=gen)
        for s in range(0, len(X), 48):
            loss = _mse(ref, X[perm[s : s + 48]], y[perm[s : s + 48]])
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert set(dtypes) == {torch.float32} and len(dtypes) == 2 * 6
    assert torch.equal(model.weight, ref.weight) and torch.equal(model.bias, ref.bias)


def test_fit_autocast_bfloat16_runs_the_forward_in_bfloat16():
    X, y = _regression_data()
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    dtypes = []

    def loss_fn(m, xb, yb):
        out = m(xb)
        dtypes.append(out.dtype)
        return ((out.float() - yb) ** 2).mean()

    hist = fit(model, loss_fn, X, y, epochs=20, batch_size=32, lr=0.05, autocast=torch.bfloat16, progress=False)
    assert set(dtypes) == {torch.bfloat16} and len(dtypes) == 20 * 8
    assert model.weight.dtype == torch.float32 and model(X).dtype == torch.float32  # only inside fit's steps
    assert hist["loss"][-1] < 0.01 * hist["loss"][0]  # it still learns (bfloat16's 8 bits of mantissa)


def test_fit_step_end_is_called_after_every_step_with_the_run_s_step_number():
    X, y = _regression_data()  # 256 rows, batches of 32: 8 steps per epoch
    model = nn.Linear(3, 1)
    before, calls = [], []

    def loss_fn(m, xb, yb):
        before.append(m.weight.detach().clone())
        return _mse(m, xb, yb)

    def step_end(step, loss, m):
        assert m is model and m.training and not loss.requires_grad and loss.dim() == 0
        assert not torch.equal(m.weight, before[-1])  # after the optimizer's step
        calls.append((step, float(loss)))

    hist = fit(model, loss_fn, X, y, epochs=3, batch_size=32, lr=0.01, progress=False, step_end=step_end)
    assert [step for step, _ in calls] == list(range(1, 25))
    assert hist["loss"][0] == pytest.approx(sum(loss for _, loss in calls[:8]) / 8)  # the losses of those steps


def test_fit_step_end_can_stop_the_run_and_drive_the_learning_rate():
    X, y = _regression_data()
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    lrs = []

    def step_end(step, loss, m):  # a schedule planned at step 3, and a stop at step 20 (in the third epoch)
        lrs.append(opt.param_groups[0]["lr"])
        assert len(lrs) == step <= 20, "step_end must number the steps of the run and stop it"  # never hang
        if step == 3:
            for g in opt.param_groups:
                g["lr"] = 0.01
        return step == 20

    hist = fit(model, _mse, X, y, epochs=None, batch_size=32, optimizer=opt, progress=False, step_end=step_end,
               epoch_end=lambda e, m: {"epoch": e})
    assert len(lrs) == 20 and lrs[:3] == [0.1] * 3 and lrs[3:] == [0.01] * 17
    assert len(hist) == 3 and hist["epoch"] == [0, 1, 2]  # 8 + 8 + 4 steps: the last epoch recorded as far as it went
    assert not model.training
    stopped = fit(nn.Linear(3, 1), _mse, X, y, epochs=5, batch_size=32, progress=False,
                  step_end=lambda step, loss, m: step == 8)
    assert len(stopped) == 1
    with pytest.raises(ValueError, match="step_end"):
        fit(nn.Linear(3, 1), _mse, X, y, epochs=None, progress=False)


def test_config_key_is_stable_and_sensitive():
    assert config_key("ae", {"a": 1, "b": 2}) == config_key("ae", {"b": 2, "a": 1})
    assert config_key("ae", {"a": 1}) != config_key("ae", {"a": 2}) != config_key("vae", {"a": 2})


def _build(cfg):
    torch.manual_seed(cfg["seed"])
    return nn.Linear(3, 1)


def test_load_or_train_trains_once_per_config(tmp_cache):
    X, y = _regression_data()
    calls = []

    def train(model):
        calls.append(1)
        return fit(model, _mse, X, y, epochs=5, lr=0.05, progress=False)

    m1, h1 = load_or_train("lin", {"seed": 0}, _build, train, verbose=False)
    m2, h2 = load_or_train("lin", {"seed": 0}, _build, train, verbose=False)
    assert len(calls) == 1
    assert torch.equal(m1.weight, m2.weight) and h1.metrics == h2.metrics
    load_or_train("lin", {"seed": 1}, _build, train, verbose=False)
    assert len(calls) == 2
    leftovers = [p for p in (tmp_cache / "checkpoints").iterdir() if p.name.startswith(".")]
    assert leftovers == []  # atomic writes leave no temporary files behind


def test_corrupt_checkpoint_is_retrained_with_a_warning(tmp_cache):
    X, y = _regression_data()
    calls = []

    def train(model):
        calls.append(1)
        return fit(model, _mse, X, y, epochs=1, progress=False)

    load_or_train("lin", {"seed": 0}, _build, train, verbose=False)
    path = checkpoint_path("lin", {"seed": 0})
    path.write_bytes(path.read_bytes()[:50])
    with pytest.warns(UserWarning, match="unreadable"):
        model, _ = load_or_train("lin", {"seed": 0}, _build, train, verbose=False)
    assert len(calls) == 2 and isinstance(model, nn.Linear)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_or_train("lin", {"seed": 0}, _build, train, verbose=False)  # the rewritten entry loads cleanly
    assert len(calls) == 2


def test_retrain_switch(tmp_cache, monkeypatch):
    calls = []
    train = lambda m: calls.append(1) or History()  # noqa: E731
    load_or_train("lin", {"seed": 0}, _build, train, verbose=False)
    monkeypatch.setenv("COURSE_CHECKPOINTS", "train")
    load_or_train("lin", {"seed": 0}, _build, train, verbose=False)
    assert len(calls) == 2
