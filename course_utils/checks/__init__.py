"""Self-checks for the exercises, in the CS231n spirit: your function against stored values.

A check never raises (except under nbgrader's autograde, see :func:`run_check`). It prints one of

    [PASS] log_marginal: 3 cases passed (largest error 2.2e-16, tolerance 1e-06)
    [TODO] log_marginal: not done yet. Replace `raise NotImplementedError()` ...
    [FAIL] log_marginal: <what is wrong, and which mistake it looks like>

and returns True or False. Expected values are stored (``stored_values/NN_*.cases.json``, read through
:mod:`course_utils.storage`), never computed
by a reference implementation, so nothing here gives an answer away. Later cells ask
:func:`passed` whether they may use the student's function, or fall back to stored values.

One module per notebook: ``course_utils.checks.nb01`` and so on.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..settings import current
from ..storage import stored_cases

_RESULTS: dict[str, bool] = {}

PASS, TODO, FAIL = "[PASS]", "[TODO]", "[FAIL]"


class Mistake(Exception):
    """Raised inside a check to report what is wrong (caught: checks never raise)."""


def passed(*names: str) -> bool:
    """Did every named exercise pass its check in this session?"""
    return all(_RESULTS.get(n, False) for n in names)


def missing(*names: str) -> list[str]:
    """The named exercises that have not passed their check (yet)."""
    return [n for n in names if not _RESULTS.get(n, False)]


def reset() -> None:
    _RESULTS.clear()


class CheckResult:
    """True or False, as the check found; shows nothing when it is a cell's last value
    (the printed line already says it all)."""

    __slots__ = ("ok", "message")

    def __init__(self, ok: bool, message: str):
        self.ok = bool(ok)
        self.message = message

    def __bool__(self) -> bool:
        return self.ok

    def __eq__(self, other) -> bool:
        return bool(self) == bool(other)

    def __hash__(self) -> int:
        return hash(self.ok)

    def __repr__(self) -> str:
        return repr(self.ok)

    def _ipython_display_(self) -> None:
        pass


class CheckFailed(AssertionError):
    """Raised by a failing check under nbgrader's autograde or validate only (see :func:`run_check`)."""


def run_check(name: str, fn, test: Callable[[Callable], str], verbose: bool = True) -> CheckResult:
    """Run ``test(fn)``, print the outcome, record it, and return a true or false result. Never raises, except
    under nbgrader: ``nbgrader autograde`` and ``validate`` (which set ``NBGRADER_EXECUTION``) grade a test cell
    by whether it raised, so there a check that does not pass raises :class:`CheckFailed` with its message."""
    ok, line = _run(name, fn, test)
    _RESULTS[name] = ok
    if verbose:
        print(line)
    if not ok and current().nbgrader_execution in ("autograde", "validate"):
        raise CheckFailed(line)
    return CheckResult(ok, line)


def _run(name: str, fn, test) -> tuple[bool, str]:
    if not callable(fn):
        return False, f"{FAIL} {name}: expected a function, got {type(fn).__name__}. Did you overwrite `{name}`?"
    try:
        detail = test(fn)
    except NotImplementedError:
        return False, (
            f"{TODO} {name}: not done yet. Replace `raise NotImplementedError()` in its cell with "
            "your code, run that cell, then this one."
        )
    except Mistake as m:
        return False, f"{FAIL} {name}: {m}"
    except (Exception, SystemExit) as e:  # a check never raises
        return False, f"{FAIL} {name}: calling it raised {type(e).__name__}: {e}"
    return True, f"{PASS} {name}: {detail}"


# ----------------------------------------------------------------------------- stored cases
def run_cases(
    notebook: str,
    exercise: str,
    fn,
    shape: Callable[[dict], tuple] | None = None,
    *,
    hints: Callable[[dict], dict] | None = None,
    nonfinite_hint: str = "",
    call: Callable | None = None,
    validate: Callable | None = None,
    extra: Callable | None = None,
    cases: list[dict] | None = None,
) -> str:
    """The one case loop of every check: each stored case -> call -> check the output -> compare.

    ``call(fn, case)`` calls the student's function (default: ``fn(**case["args"])``, which must not change its
    arguments in place); ``validate(out, case)`` checks the output's type, shape and dtype (default: a tensor of
    ``shape(case)``, with ``hints(case)`` for known wrong shapes, and the dtype of the first tensor argument);
    ``extra(out, case)`` adds a check of its own. Returns the summary line
    ``"N cases passed (largest error E, tolerance T)"``; a mismatch raises :class:`Mistake` naming the case.
    """
    cases = stored_cases(notebook, exercise) if cases is None else cases
    worst = 0.0
    for case in cases:
        out = call(fn, case) if call is not None else call_unchanged(fn, **case["args"])
        if validate is not None:
            out = validate(out, case)
        else:
            like = next(v for v in case["args"].values() if torch.is_tensor(v))
            out = expect_tensor(out, like, shape(case), hints(case) if hints else None)
        worst = max(worst, expect_close(out, case, nonfinite_hint))
        if extra is not None:
            extra(out, case)
    tol = max(c.get("atol", 1e-6) for c in cases)
    return f"{len(cases)} cases passed (largest error {worst:.2g}, tolerance {tol:g})"


# ----------------------------------------------------------------------------- assertions
def call_unchanged(fn, **kwargs):
    """Call ``fn(**kwargs)``, and report a Mistake if it changed any tensor argument in place."""
    before = {k: v.clone() for k, v in kwargs.items() if torch.is_tensor(v)}
    out = fn(**kwargs)
    for k, v in before.items():
        if not torch.equal(v, kwargs[k]):
            raise Mistake(
                f"it changed its argument `{k}` in place. Work on a copy (or use out-of-place ops, not `+=`)."
            )
    return out


def expect_tensor(out, like: torch.Tensor, shape: tuple, shape_hints: dict | None = None) -> torch.Tensor:
    """``out`` must be a tensor of ``shape`` with ``like``'s dtype; ``shape_hints`` maps wrong shapes to hints."""
    if not torch.is_tensor(out):
        raise Mistake(f"it returned {type(out).__name__}; return a torch tensor of shape {list(shape)}.")
    if tuple(out.shape) != tuple(shape):
        hint = (shape_hints or {}).get(tuple(out.shape), "")
        raise Mistake(f"it returned shape {list(out.shape)}, expected {list(shape)}. {hint}".rstrip())
    if out.dtype != like.dtype:
        raise Mistake(
            f"it returned dtype {out.dtype} for {like.dtype} input. Keep the input's dtype "
            "(no .float() or torch.tensor(...) around the result)."
        )
    return out


def expect_close(out: torch.Tensor, case: dict, nonfinite_hint: str = "") -> float:
    """Compare with the case's ``expected`` at its tolerance; name a known mistake when one matches.

    Returns the largest absolute error.
    """
    expected = case["expected"]
    atol = case.get("atol", 1e-6)
    out = out.detach().cpu()  # the stored values are float64 on the CPU (Apple's MPS has no float64)
    if not torch.isfinite(out).all():
        bad = "NaN" if torch.isnan(out).any() else "inf"
        raise Mistake(f"it returned {bad} on {case.get('label', 'a test input')}. {nonfinite_hint}".rstrip())
    err = (out - expected).abs().max().item()
    if err <= atol:
        return err
    for m in case.get("mistakes", []):
        if tuple(m["value"].shape) == tuple(out.shape) and (out - m["value"]).abs().max().item() <= atol:
            raise Mistake(f"on {case.get('label', 'a test input')} the result looks like a known mistake: {m['hint']}")
    flat_o = out.flatten()[:3].tolist()
    flat_e = expected.flatten()[:3].tolist()
    raise Mistake(
        f"wrong values on {case.get('label', 'a test input')}: largest error {err:.3g} (tolerance {atol:g}). "
        f"First values: got {[round(v, 6) for v in flat_o]}, expected {[round(v, 6) for v in flat_e]}."
    )
