import pytest
import torch
from torch import nn

from course_utils.evaluate import extract_features, inference_batch_size, knn_accuracy, linear_probe, per_class_subset


def _blobs(n_per_class=50, d=5, classes=3, spread=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, d, generator=g) * 3
    X = torch.cat([centers[c] + spread * torch.randn(n_per_class, d, generator=g) for c in range(classes)])
    y = torch.arange(classes).repeat_interleave(n_per_class)
    return X, y


def test_linear_probe_separates_separable_data():
    X_all, y_all = _blobs(n_per_class=100)
    res = linear_probe(X_all[::2], y_all[::2], X_all[1::2], y_all[1::2])
    assert res.accuracy == 1.0 and res.train_accuracy == 1.0
    assert torch.equal(res.predict(X_all[1::2]), y_all[1::2])


def test_linear_probe_is_at_chance_on_random_labels():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(2000, 20, generator=g)
    y = torch.randint(0, 2, (2000,), generator=g)
    res = linear_probe(X[:1000], y[:1000], X[1000:], y[1000:])
    assert 0.4 < res.accuracy < 0.6


def test_knn_on_clusters_and_its_errors():
    X, y = _blobs(n_per_class=60)
    assert knn_accuracy(X[::2], y[::2], X[1::2], y[1::2], k=5) == 1.0
    assert knn_accuracy(X[::2], y[::2], X[1::2], y[1::2], k=5, metric="euclidean") == 1.0
    # flipping the training labels makes every vote wrong
    assert knn_accuracy(X[::2], (y[::2] + 1) % 3, X[1::2], y[1::2], k=5) == 0.0
    with pytest.raises(ValueError, match="metric"):
        knn_accuracy(X, y, X, y, metric="manhattan")


def test_per_class_subset_counts_and_nesting():
    y = torch.arange(10).repeat(30)
    small, large = per_class_subset(y, 3, seed=4), per_class_subset(y, 10, seed=4)
    assert torch.bincount(y[small]).tolist() == [3] * 10 and torch.bincount(y[large]).tolist() == [10] * 10
    assert set(small.tolist()) <= set(large.tolist())
    assert per_class_subset(y, None).tolist() == list(range(300))
    with pytest.raises(ValueError, match="fewer than per_class"):
        per_class_subset(y, 31)


def test_extract_features_flattens_and_keeps_mode():
    enc = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout(0.5))
    enc.train()
    X = torch.randn(10, 1, 8, 8)
    f1 = extract_features(enc, X, batch_size=3, autocast=None)
    f2 = extract_features(enc, X, batch_size=7, autocast=None)
    assert f1.shape == (10, 2 * 6 * 6) and torch.allclose(f1, f2, atol=1e-6)  # eval mode: no dropout noise
    assert enc.training
    assert torch.equal(extract_features(None, X), X.reshape(10, -1))


def test_the_batch_fed_to_an_encoder_is_small_on_a_cpu_for_conv_and_transformer_layers_only():
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten())
    vit = nn.Sequential(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True))
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 4), nn.ReLU())
    assert inference_batch_size(conv) == inference_batch_size(vit) == 128
    assert inference_batch_size(mlp) == 512 and inference_batch_size(conv, "cuda") == 512
    X = torch.randn(300, 1, 8, 8)  # 128 + 128 + 44: every image once, in order
    assert torch.allclose(extract_features(conv, X, autocast=None), extract_features(conv, X, 300, autocast=None),
                          atol=1e-6)


def test_extract_features_in_bfloat16_is_close_to_float32_and_returns_float32(monkeypatch):
    torch.manual_seed(0)
    enc = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    X = torch.rand(16, 1, 8, 8)
    exact = extract_features(enc, X, autocast=None)
    low = extract_features(enc, X, autocast=torch.bfloat16)
    assert low.dtype == torch.float32 and low.shape == exact.shape
    assert not torch.equal(low, exact) and torch.allclose(low, exact, rtol=3e-2, atol=3e-2)
    monkeypatch.setenv("COURSE_BF16", "0")
    assert torch.equal(extract_features(enc, X), exact)  # "auto" follows COURSE_BF16
    monkeypatch.setenv("COURSE_BF16", "1")
    assert torch.equal(extract_features(enc, X), low)


def test_probe_objective_by_hand_matches_autograd_cross_entropy():
    # the probe's hand-written loss and gradient against F.cross_entropy + the L2 penalty through autograd, at
    # a point where the softmax is far from uniform (large logits) and with a class that has no example
    import torch.nn.functional as F

    from course_utils.evaluate import _ProbeObjective

    g = torch.Generator().manual_seed(3)
    X = torch.randn(300, 7, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (300,), generator=g, dtype=torch.int64)
    W = (5 * torch.randn(5, 7, generator=g, dtype=torch.float64)).requires_grad_()
    b = torch.randn(5, generator=g, dtype=torch.float64).requires_grad_()
    wd = 0.3
    want = F.cross_entropy(X @ W.T + b, y) + 0.5 * wd * W.pow(2).sum()
    want.backward()
    loss, gW, gb = _ProbeObjective(X, y, wd)(W.detach(), b.detach())
    assert torch.allclose(loss, want.detach(), rtol=1e-12, atol=0)
    assert torch.allclose(gW, W.grad, rtol=1e-10, atol=1e-14)
    assert torch.allclose(gb, b.grad, rtol=1e-10, atol=1e-14)
    assert gb[4].abs() > 0  # the class with no example still gets the softmax's share of the gradient


# ----------------------------------------------------------------------------- accuracies without float64
def test_fraction_correct_is_the_float64_mean_of_the_matches_to_the_bit():
    from course_utils.evaluate import fraction_correct

    pred = torch.tensor([0, 1, 2, 1, 0, 2, 2])
    y = torch.tensor([0, 1, 1, 1, 0, 2, 0])
    assert fraction_correct(pred, y) == 5 / 7 == (pred == y).double().mean().item()
    assert fraction_correct(y, y) == 1.0 and fraction_correct(y + 1, y) == 0.0
    assert isinstance(fraction_correct(pred, y), float)
    assert fraction_correct(torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long)) != 0  # nan
    # every count of matches for test-set sizes the course uses (10,000 and 60,000 images) and awkward ones
    g = torch.Generator().manual_seed(0)
    for n in (3, 7, 97, 1000, 9999, 10000, 60000):
        for c in torch.randint(0, n + 1, (25,), generator=g).tolist() + [0, 1, n - 1, n]:
            hits = torch.zeros(n, dtype=torch.long)
            hits[torch.randperm(n, generator=g)[:c]] = 1
            assert fraction_correct(hits, torch.ones(n, dtype=torch.long)) == hits.double().mean().item(), (n, c)


def test_linear_probe_accuracies_are_those_of_its_classifier_as_before():
    # overlapping clusters: neither accuracy is 0 or 1, and each is the float64 mean of the classifier's hits
    X, y = _blobs(n_per_class=200, d=4, classes=4, spread=3.0, seed=5)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(1))
    X, y = X[perm], y[perm]
    Xtr, ytr, Xte, yte = X[:500], y[:500], X[500:], y[500:]
    res = linear_probe(Xtr, ytr, Xte, yte, max_iter=50)
    with torch.no_grad():
        old_test = (res.classifier((Xte - res.mean) / res.std).argmax(1) == yte).double().mean().item()
        old_train = (res.classifier((Xtr - res.mean) / res.std).argmax(1) == ytr).double().mean().item()
    assert res.accuracy == old_test and res.train_accuracy == old_train
    assert 0.3 < res.accuracy < 0.99 and 0.3 < res.train_accuracy < 0.99
    assert abs(res.accuracy * len(yte) - round(res.accuracy * len(yte))) < 1e-9  # a count over 300
    # a float64 fit (run on the CPU) agrees with the float32 one on these well-conditioned features
    res64 = linear_probe(Xtr, ytr, Xte, yte, max_iter=50, dtype=torch.float64)
    assert abs(res64.accuracy - res.accuracy) <= 2 / len(yte)


def test_capstone_accuracy_counts_the_matches_as_before():
    from course_utils import capstone

    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0],
                           [0.0, 1.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 4.0]])
    y = torch.tensor([0, 1, 1, 1, 0, 0, 2])  # rows 0, 1, 5, 6 are right
    model = nn.Identity()  # no parameters: extract_features runs it on the CPU
    assert capstone.accuracy(model, logits, y) == 4 / 7 == (logits.argmax(1) == y).double().mean().item()


def test_linear_probe_is_unchanged_by_per_feature_affine_maps():
    # few labels in more dimensions than examples, standardized with the pool's statistics: a per-feature x * a + b
    # of the labelled, test and pool features leaves the converged probe's predictions as they were
    X, y = _blobs(n_per_class=200, d=40, classes=4, spread=4.0, seed=3)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(2))
    X, y = X[perm], y[perm]
    pool, test, ytest = X[:500], X[500:], y[500:]
    idx = per_class_subset(y[:500], 2, seed=0)
    base = linear_probe(pool[idx], y[idx], test, ytest, pool=pool)
    assert base.converged and base.grad_max <= 1e-5 and base.iterations > 0
    assert base.weight_decay == pytest.approx(6.0 / len(idx))
    g = torch.Generator().manual_seed(7)
    for _ in range(4):
        a = torch.exp(torch.empty(40).uniform_(-2.3, 2.3, generator=g))  # 0.1 to 10
        b = 5 * torch.randn(40, generator=g)
        got = linear_probe(pool[idx] * a + b, y[idx], test * a + b, ytest, pool=pool * a + b)
        assert got.converged
        assert abs(got.accuracy - base.accuracy) <= 1 / len(ytest)
        assert (got.predict(test * a + b) != base.predict(test)).sum() <= 1


def test_linear_probe_leaves_out_features_constant_in_the_pool():
    X, y = _blobs(n_per_class=100, d=6, classes=3, spread=1.0, seed=4)
    X[:, 2] = 0.7  # constant in the pool (and in the training examples)
    test = X[1::2].clone()
    test[:, 2] = torch.linspace(-100, 100, len(test))  # ... but not in the test features: it must not matter
    res = linear_probe(X[::2], y[::2], test, y[1::2], pool=X)
    assert res.std[2] == float("inf") and res.classifier.weight[:, 2].abs().max() == 0
    assert res.accuracy == linear_probe(X[::2], y[::2], X[1::2], y[1::2], pool=X).accuracy
