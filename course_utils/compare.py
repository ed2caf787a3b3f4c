"""Comparing a computed value with a stored one, part by part, at the tolerances a spec gives.

A value is a nested dict/list of tensors and numbers; :func:`leaves` names its parts by path (``test_loss/plain
AE``), and :func:`compare` reports each part that differs beyond its tolerance. The tolerances themselves are
declared in :mod:`course_utils.tolerances`.
"""

from __future__ import annotations

import torch

from .storage import decode, encode


def leaves(value, prefix: str = ""):
    """``(path, leaf)`` pairs of a nested value; a list of numbers is one leaf (a curve)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{prefix}/{k}" if prefix else str(k))
    elif isinstance(value, (list, tuple)) and not _numeric_list(value):
        for i, v in enumerate(value):
            yield from leaves(v, f"{prefix}/{i}" if prefix else str(i))
    else:
        yield prefix, value


def _numeric_list(value) -> bool:
    return len(value) > 0 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)


def _as_tensor(v):
    if torch.is_tensor(v):
        return v.detach().cpu().to(torch.float64)
    if isinstance(v, (list, tuple, int, float)) and not isinstance(v, bool):
        return torch.as_tensor(v, dtype=torch.float64)
    return None


def _abs_diff(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a - b|, with equal infinities (and NaN against NaN) counted as no difference."""
    same = (a == b) | (torch.isnan(a) & torch.isnan(b))
    return torch.where(same, torch.zeros_like(a), (a - b).abs())


def compare(computed, stored, spec) -> list[str]:
    """Every way ``computed`` differs from ``stored`` beyond ``spec``'s tolerances (empty: they agree).

    Each line names the leaf, its largest (or mean) difference and the tolerance that it broke.
    """
    got, want = dict(leaves(computed)), dict(leaves(stored))
    if got.keys() != want.keys():
        return [f"the parts differ: computed {sorted(got)[:8]}, stored {sorted(want)[:8]}"]
    problems = []
    for path, s in want.items():
        c = got[path]
        tol = spec.tolerance_for(path)
        tc, ts = _as_tensor(c), _as_tensor(s)
        if tc is None or ts is None:
            if c != s:
                problems.append(f"{path or key_name(spec)}: {c!r} != stored {s!r}")
            continue
        if tc.shape != ts.shape:
            problems.append(f"{path}: shape {list(tc.shape)} != stored {list(ts.shape)}")
            continue
        if tc.numel() == 0:
            continue
        diff = _abs_diff(tc, ts)
        if tol.mean:
            err = diff.mean().item()
            if not err <= tol.atol:
                problems.append(f"{path}: mean difference {err:.3g} > tolerance {tol.describe()}")
        else:
            allowed = tol.atol + tol.rtol * ts.abs()
            excess = diff - allowed
            if not (excess <= 0).all():
                i = int(torch.argmax(torch.nan_to_num(excess, nan=float("inf"))))
                problems.append(f"{path}: largest difference {diff.flatten()[i].item():.3g} "
                                f"(computed {tc.flatten()[i].item():.6g}, stored {ts.flatten()[i].item():.6g}) "
                                f"> tolerance {tol.describe()}")
    return problems


def differences(a, b) -> dict[str, dict]:
    """Per part of two values of the same key: the largest and the mean absolute difference (numbers only), or
    whether they are equal (anything else). What ``benchmarks/stored_spread.py`` reports."""
    got, want = dict(leaves(decode(encode(a)))), dict(leaves(decode(encode(b))))
    out = {}
    for path in sorted(set(got) | set(want)):
        if path not in got or path not in want:
            out[path] = {"missing": True}
            continue
        ta, tb = _as_tensor(got[path]), _as_tensor(want[path])
        if ta is None or tb is None or ta.shape != tb.shape:
            out[path] = {"equal": got[path] == want[path] if ta is None else False}
            continue
        d = _abs_diff(ta, tb)
        rel = d / tb.abs().clamp_min(1e-12)
        out[path] = {"max": d.max().item() if d.numel() else 0.0, "mean": d.mean().item() if d.numel() else 0.0,
                     "max_rel": rel.max().item() if d.numel() else 0.0}
    return out


def key_name(spec) -> str:
    return getattr(spec, "key", "value")
