"""Evaluation on frozen features: a linear probe and k-nearest neighbours, plus label subsets.

    feats_train = extract_features(encoder, X_train)          # [N, D], encoder frozen
    feats_test = extract_features(encoder, X_test)
    linear_probe(feats_train[idx], y_train[idx], feats_test, y_test, pool=feats_train).accuracy   # labels idx only
    knn_accuracy(feats_train, y_train, feats_test, y_test, k=20)

The probe is multinomial logistic regression on features standardized with the unlabelled pool's mean and std,
with a weight decay that makes its objective strongly convex, fitted full-batch with L-BFGS: deterministic, one
minimum, and no learning rate to tune (:func:`linear_probe` says how the weight decay is chosen). On many labels it
runs in float32: float64 gave the same test accuracies to within 0.0005 at 2.2x the time (60,000 Fashion-MNIST
images, raw pixels and a CNN's 96 features, 2 CPU cores: 12.1 and 2.4 s in float32; ``benchmarks/probe_precision.py``,
recorded in ``benchmarks/results/probe_precision.json``); on few it runs in float64, where it reaches its gradient
tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def fused_for_inference(module: nn.Module) -> nn.Module:
    """A copy of ``module`` in eval mode with every ``Conv2d`` that a ``BatchNorm2d`` follows (in an
    ``nn.Sequential``) merged with it: the same function (to float rounding, about 1e-7 relative) in one layer
    instead of two, 1.2-1.3x faster on a CPU for the course's CNN encoder. ``module`` itself is untouched."""
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    def fuse(m: nn.Module) -> None:
        for name, child in m.named_children():
            if isinstance(child, nn.Sequential):
                layers, k = list(child), 0
                while k < len(layers) - 1:
                    conv, bn = layers[k], layers[k + 1]
                    if (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
                            and bn.track_running_stats and bn.running_mean is not None):
                        layers[k : k + 2] = [fuse_conv_bn_eval(conv, bn)]
                    k += 1
                if len(layers) != len(child):
                    setattr(m, name, nn.Sequential(*layers))
            fuse(getattr(m, name))

    fused = copy.deepcopy(module).eval()
    fuse(fused)
    return fused.to(memory_format=torch.channels_last)  # the layout oneDNN's convolutions run fastest in


def inference_batch_size(module: nn.Module, device: torch.device | str = "cpu") -> int:
    """How many images :func:`extract_features` feeds ``module`` at a time: 128 on a CPU for a convolutional or
    transformer encoder, whose activations then stay in the CPU's cache, else 512. The outputs are the same to the
    bit either way; the speeds behind the choice are ``benchmarks/results/inference_batch.json``
    (``benchmarks/inference_batch.py``)."""
    if torch.device(device).type == "cpu" and any(
        isinstance(m, (nn.Conv2d, nn.TransformerEncoderLayer, nn.MultiheadAttention)) for m in module.modules()
    ):
        return 128
    return 512


@torch.inference_mode()
def extract_features(
    encoder: nn.Module | None,
    X: torch.Tensor,
    batch_size: int | None = None,
    device: torch.device | str | None = None,
    autocast: torch.dtype | str | None = "auto",
) -> torch.Tensor:
    """Run ``encoder`` (``None``: the raw pixels) over ``X`` in eval mode; returns ``[N, D]`` float32 on the CPU.
    The encoder runs as :func:`fused_for_inference` makes it (``encoder`` itself is not changed).

    ``batch_size``: images per forward pass; ``None`` (default) is :func:`inference_batch_size`'s choice.

    ``autocast``: the dtype the encoder computes in under ``torch.autocast``; ``"auto"`` (default) is bfloat16
    where the device computes it natively (:func:`course_utils.speed.autocast_dtype`; ``COURSE_BF16=0`` turns it
    off), ``None`` is float32. In bf16 the course's CNN encoder runs about 2x faster on such a CPU; its features
    differ by up to about 1e-2 relative, and a linear probe on them by 0.0002 in accuracy (the released SimCLR,
    60,000 labels: 0.9012 against 0.9014). A module can insist on float32 inside (the MAE's
    :class:`~course_utils.mae.Features` does: bf16 cost its probes up to 3.5 points)."""
    if encoder is None:
        return X.reshape(len(X), -1).float().clone()
    if device is None:
        try:
            device = next(encoder.parameters()).device
        except StopIteration:
            device = torch.device("cpu")
    device = torch.device(device)
    if autocast == "auto":
        from .speed import autocast_dtype

        autocast = autocast_dtype(device)
    encoder = fused_for_inference(encoder)
    batch_size = batch_size or inference_batch_size(encoder, device)
    out = []
    with torch.autocast(device.type, dtype=autocast or torch.bfloat16, enabled=autocast is not None):
        for i in range(0, len(X), batch_size):
            h = encoder(X[i : i + batch_size].to(device))
            out.append(h.reshape(min(batch_size, len(X) - i), -1).float().cpu())
    return torch.cat(out)


@dataclass
class ProbeResult:
    accuracy: float  # on the test features
    train_accuracy: float
    classifier: nn.Linear  # acts on standardized features: (x - mean) / std
    mean: torch.Tensor
    std: torch.Tensor  # inf for a feature that is constant in the pool: it is left out
    weight_decay: float = float("nan")  # the L2 penalty the fit used
    converged: bool = False  # L-BFGS stopped with every gradient component within ``tolerance``
    grad_max: float = float("nan")  # the largest |gradient component| where it stopped
    iterations: int = 0

    def predict(self, feats: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.classifier((feats - self.mean) / self.std).argmax(1)


class _ProbeObjective:
    """The probe's objective, mean cross-entropy + ``wd``/2 * ||W||^2, and its gradient, written out by hand.

    The same function and gradient as ``F.cross_entropy`` with autograd (to float rounding), at about two thirds
    of the time: the softmax runs over the class axis of a ``[k, N]`` array, where it vectorizes over the N
    images, instead of over 10 classes at a time, and there is no graph to build. The two matrix products, one
    pass over the features each, are what remains (``benchmarks/probe_precision.py`` times whole probes).
    """

    def __init__(self, X: torch.Tensor, labels: torch.Tensor, weight_decay: float):
        self.X, self.labels, self.wd = X, labels, weight_decay
        self.columns = torch.arange(len(X))

    @torch.no_grad()
    def __call__(self, W: torch.Tensor, b: torch.Tensor):
        logits = torch.addmm(b, self.X, W.T).T.contiguous()  # [k, N]
        top = logits.amax(0)
        p = (logits - top).exp_()
        total = p.sum(0)
        log_total = total.log()
        n = len(self.X)
        picked = logits.gather(0, self.labels[None]).sum()
        loss = (top.sum() + log_total.sum() - picked) / n + 0.5 * self.wd * W.pow(2).sum()
        p /= total  # softmax: d(mean cross-entropy)/d(logits) is (softmax - one_hot) / n
        p[self.labels, self.columns] -= 1
        p /= n
        return loss, torch.addmm(W, p, self.X, beta=self.wd), p.sum(1)


PRIOR_PRECISION = 6.0
"""``c`` in the probe's default weight decay, ``wd = c / n`` for ``n`` labelled examples (see :func:`linear_probe`)."""
FLOAT64_UP_TO = 10_000
"""The probe fits in float64 up to this many labelled examples, in float32 above (see :func:`linear_probe`)."""


def default_weight_decay(n: int) -> float:
    """The probe's weight decay for ``n`` labelled examples: ``PRIOR_PRECISION / n``."""
    return PRIOR_PRECISION / max(n, 1)


def standardization(pool: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and std of every feature of ``pool`` ``[P, D]``. A feature that is constant in the pool (its std
    at most 1e-6 of its mean's size: float32 rounding) gets std ``inf``, so it standardizes to 0 and the probe leaves
    it out; a per-feature ``x * a + b`` of the pool changes neither which features those are nor what the
    standardized features are (to float rounding)."""
    pool = pool.float()
    mean = pool.mean(0)
    std = pool.std(0) if len(pool) > 1 else torch.zeros_like(mean)
    return mean, torch.where(std > 1e-6 * mean.abs(), std, torch.full_like(std, float("inf")))


def linear_probe(
    train_feats: torch.Tensor,
    train_labels: torch.Tensor,
    test_feats: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    pool: torch.Tensor | None = None,
    weight_decay: float | None = None,
    max_iter: int = 200,
    tolerance: float = 1e-5,
    num_classes: int | None = None,
    seed: int = 0,
    dtype: torch.dtype | None = None,
) -> ProbeResult:
    """Fit a linear classifier on frozen features and report test accuracy.

    The features are standardized with the mean and std of ``pool``, the unlabelled images' features (the training
    pool the labelled examples come from): the same map for every label subset, and a per-feature affine map of all
    the features leaves the result unchanged. The classifier minimizes mean cross-entropy + ``wd``/2 * ||W||^2, a
    strongly convex objective with one minimum. ``wd = 6 / n`` for ``n`` labels: the sum of the ``n``
    cross-entropies + 3 ||W||^2, a fixed Gaussian prior on the weights of the standardized features that the labels
    outweigh as they grow (1e-4 on 60,000 labels). On a validation split of the training images (labels from the
    first 50,000, scored on the other 10,000, three label subsets each), ``c = 6`` in ``wd = c / n`` came within
    0.008 of the best of 0.06, 0.6, 2, 6, 20 and 60 for raw pixels and the released AE, SimCLR and MAE features at
    1, 10 and 100 labels per class, except the MAE at 100 per class (0.737 against 0.758 at ``c = 0.6``).

    L-BFGS stops when every gradient component is within ``tolerance`` or after ``max_iter`` iterations; the result
    says which (``converged``, ``grad_max``, ``iterations``). Up to :data:`FLOAT64_UP_TO` labelled examples the fit
    runs in float64 (on the CPU), where L-BFGS reaches the tolerance (in float32 the rounding of the loss stops it
    short). With 1 and 10 labels per class, raw pixels and the released AE, SimCLR and MAE features, seeds 0-2, every
    fit converged within 200 iterations (at most 192), and a random per-feature ``x * a + b`` of all the features
    changed no accuracy but one, by 3 of the 10,000 test images (raw pixels, 1 label per class). Above, the fit runs
    in float32 (float64 gave the same accuracies to within 0.0005 on 60,000 labels, at 2.2x the time); on all
    60,000 labels 200 iterations end at gradients of 1e-4 to 1e-3, not converged, where the same map moved raw
    pixels' probe by 0.0004 and the others' by at most 0.0002. ``benchmarks/probe_wellposed.py`` measures all of
    this (``benchmarks/results/probe_wellposed.json``).

    Args:
        train_feats, test_feats: ``[N, D]`` and ``[M, D]``.
        train_labels, test_labels: int64 ``[N]`` and ``[M]``.
        pool: ``[P, D]``, the features whose mean and std standardize all of them; ``None``: ``train_feats`` (right
            when the labelled examples are the whole pool).
        weight_decay: the L2 penalty on the weights; ``None``: :func:`default_weight_decay` of ``N``.
        max_iter: at most this many L-BFGS iterations (the profile's ``probe_iters``).
        tolerance: the largest gradient component at which L-BFGS stops.
        dtype: the precision of the fit; ``None``: float64 up to :data:`FLOAT64_UP_TO` labelled examples, else
            float32 (a float64 fit runs on the CPU).
    """
    if len(train_feats) != len(train_labels) or len(test_feats) != len(test_labels):
        raise ValueError("features and labels must have the same length")
    if train_feats.shape[1] != test_feats.shape[1]:
        raise ValueError(f"train and test features differ in width: {train_feats.shape[1]} vs {test_feats.shape[1]}")
    if pool is not None and pool.shape[1] != train_feats.shape[1]:
        raise ValueError(f"pool and train features differ in width: {pool.shape[1]} vs {train_feats.shape[1]}")
    if dtype is None:
        dtype = torch.float64 if len(train_feats) <= FLOAT64_UP_TO else torch.float32
    if dtype == torch.float64:  # Apple's MPS has no float64: a float64 fit runs on the CPU
        train_feats, train_labels, test_feats, test_labels = (
            t.cpu() for t in (train_feats, train_labels, test_feats, test_labels))
        pool = pool.cpu() if pool is not None else None
    torch.manual_seed(seed)
    mean, std = (t.to(train_feats.device, dtype) for t in standardization(train_feats if pool is None else pool))
    Xtr = (train_feats.to(dtype) - mean) / std
    Xte = (test_feats.to(dtype) - mean) / std
    wd = default_weight_decay(len(Xtr)) if weight_decay is None else weight_decay
    k = num_classes or int(max(train_labels.max(), test_labels.max())) + 1
    clf = nn.Linear(Xtr.shape[1], k).to(device=Xtr.device, dtype=dtype)
    nn.init.zeros_(clf.weight)
    nn.init.zeros_(clf.bias)
    opt = torch.optim.LBFGS(clf.parameters(), lr=1.0, max_iter=max_iter, history_size=20,
                            line_search_fn="strong_wolfe", tolerance_grad=tolerance, tolerance_change=1e-12)
    objective = _ProbeObjective(Xtr, train_labels, wd)

    def closure():
        loss, clf.weight.grad, clf.bias.grad = objective(clf.weight.detach(), clf.bias.detach())
        return loss

    opt.step(closure)
    _, gW, gb = objective(clf.weight.detach(), clf.bias.detach())
    grad_max = max(gW.abs().max().item(), gb.abs().max().item())
    with torch.no_grad():
        train_acc = fraction_correct(clf(Xtr).argmax(1), train_labels)
        test_acc = fraction_correct(clf(Xte).argmax(1), test_labels)
    return ProbeResult(test_acc, train_acc, clf.float(), mean.float(), std.float(), weight_decay=wd,
                       converged=grad_max <= tolerance, grad_max=grad_max,
                       iterations=int(opt.state[clf.weight].get("n_iter", 0)))


def fraction_correct(pred: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction of ``pred == labels``, a Python float: the number of matches over the number of labels, the
    same number a float64 mean of the matches gives, with no float64 tensor (Apple's MPS has none). ``nan`` for
    no labels."""
    hits = pred == labels
    return hits.sum().item() / hits.numel() if hits.numel() else float("nan")


@torch.no_grad()
def knn_accuracy(
    train_feats: torch.Tensor,
    train_labels: torch.Tensor,
    test_feats: torch.Tensor,
    test_labels: torch.Tensor,
    k: int = 20,
    metric: str = "cosine",
    chunk: int = 1024,
) -> float:
    """Accuracy of a majority vote among the ``k`` nearest training features (cosine or euclidean)."""
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    k = min(k, len(train_feats))
    tr = train_feats.float()
    te = test_feats.float()
    if metric == "cosine":
        tr = F.normalize(tr, dim=1)
        te = F.normalize(te, dim=1)
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    correct = 0
    for i in range(0, len(te), chunk):
        q = te[i : i + chunk]
        if metric == "cosine":
            idx = (q @ tr.T).topk(k, dim=1).indices
        else:
            idx = torch.cdist(q, tr).topk(k, dim=1, largest=False).indices
        votes = F.one_hot(train_labels[idx], num_classes).sum(1)  # [chunk, C]
        correct += (votes.argmax(1) == test_labels[i : i + chunk]).sum().item()
    return correct / len(te)


def per_class_subset(labels: torch.Tensor, per_class: int | None, seed: int = 0) -> torch.Tensor:
    """Indices of ``per_class`` examples of every class (``None``: all of them).

    Subsets are nested: with the same seed, the 10-per-class subset is inside the 100-per-class one.
    """
    if per_class is None:
        return torch.arange(len(labels))
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1 (or None for all labels), got {per_class}")
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=gen)
    picked = []
    for c in labels.unique(sorted=True):
        members = order[labels[order] == c]
        if len(members) < per_class:
            raise ValueError(f"class {int(c)} has only {len(members)} examples, fewer than per_class={per_class}")
        picked.append(members[:per_class])
    return torch.cat(picked).sort().values
