"""How each stored fallback value is compared with a fresh run (``COURSE_VERIFY_STORED=1``): one table.

Two kinds of value:

- **deterministic**: a function of fixed inputs (augmented views of fixed images with a seeded generator, the
  EM trace of a 1-D mixture, a patch grid). Another CPU changes at most the last bits: compared tightly.
- **trained**: anything that went through an optimizer (losses, accuracies, latents, reconstructions, curves).
  Another CPU's kernels (AVX2 vs AVX-512 vs ARM, the thread count) change the last digits of every step, and
  training amplifies that. These are compared at a tolerance set from the spread that
  ``benchmarks/stored_spread.py`` measured across seeds and CPU kernel sets
  (``benchmarks/results/stored_spread.json``), and by properties they must have on any machine.

Each entry's ``spread`` says what was measured (fast profile, 2 cores): "kernels" is the largest difference
between this machine's default kernels, AVX2 with one thread and the generic (SSE) kernels; "seeds" the largest
difference among seeds 0, 1 and 2. A tolerance sits above the kernel spread, with room, and below what a real
change of the code gives.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Tol:
    """``|computed - stored| <= atol + rtol * |stored|`` everywhere, or (``mean``) the mean difference <= atol."""

    atol: float = 1e-6
    rtol: float = 1e-6
    mean: bool = False

    def describe(self) -> str:
        if self.mean:
            return f"mean <= {self.atol:g}"
        return f"{self.atol:g}" + (f" + {self.rtol:g}*|stored|" if self.rtol > 1e-6 else "")


@dataclass(frozen=True)
class Spec:
    """How one stored value is compared: a tolerance per part (fnmatch patterns on ``a/b/c`` paths, first match
    wins, ``*`` last) and properties (``(what, function of the value -> bool)``)."""

    kind: str  # "deterministic" or "trained"
    parts: tuple[tuple[str, Tol], ...] = (("*", Tol()),)
    spread: str = ""
    properties: tuple[tuple[str, Callable], ...] = field(default=())
    key: str = "value"

    def tolerance_for(self, path: str) -> Tol:
        for pattern, tol in self.parts:
            if fnmatch.fnmatchcase(path, pattern):
                return tol
        return Tol()

    def broken_properties(self, value) -> list[str]:
        broken = []
        for what, holds in self.properties:
            try:
                ok = bool(holds(value))
            except Exception as e:  # a property that cannot be evaluated is broken
                ok, what = False, f"{what} ({type(e).__name__}: {e})"
            if not ok:
                broken.append(what)
        return broken


def deterministic(atol: float = 1e-6, rtol: float = 1e-6, **parts: Tol) -> Spec:
    return Spec("deterministic", tuple(parts.items()) + (("*", Tol(atol, rtol)),))


def trained(parts: dict[str, Tol], spread: str, properties: tuple = ()) -> Spec:
    return Spec("trained", tuple(parts.items()), spread, tuple(properties))


# ----------------------------------------------------------------------------- properties
def _flat(value, pattern: str) -> list[float]:
    from .stored import leaves

    out = []
    for path, leaf in leaves(value):
        if fnmatch.fnmatchcase(path, pattern):
            out += [float(v) for v in (leaf if isinstance(leaf, (list, tuple)) else [leaf])]
    return out


def accuracies(pattern: str = "*") -> tuple[str, Callable]:
    return (f"accuracies ({pattern}) lie in [0, 1]", lambda v: all(0.0 <= a <= 1.0 for a in _flat(v, pattern)))


def finite(pattern: str = "*") -> tuple[str, Callable]:
    return (f"numbers ({pattern}) are finite", lambda v: all(math.isfinite(a) for a in _flat(v, pattern)))


def decreasing(path: str) -> tuple[str, Callable]:
    return (f"{path} decreases", lambda v: all(b < a for a, b in zip(_flat(v, path), _flat(v, path)[1:])))


def above(pattern: str, floor: float, why: str) -> tuple[str, Callable]:
    return (f"{pattern} > {floor:g} ({why})", lambda v: all(a > floor for a in _flat(v, pattern)))


# ----------------------------------------------------------------------------- the table
IMAGES = Tol(atol=4.0, mean=True)  # uint8 reconstructions/samples of a trained model: mean |difference| in levels

TOLERANCES: dict[tuple[str, str], Spec] = {
    # 01: EM on a 1-D mixture and the ELBO curves of a fixed model (float64 closed forms).
    ("01_jensen_elbo", "em_trace"): deterministic(1e-6),
    ("01_jensen_elbo", "widget_curves"): deterministic(1e-6),
}


def spec_for(notebook: str, key: str) -> Spec:
    """The comparison spec of one stored value (deterministic at 1e-6 when the table has none)."""
    spec = TOLERANCES.get((notebook, key), deterministic(1e-6))
    return Spec(spec.kind, spec.parts, spec.spread, spec.properties, key)
