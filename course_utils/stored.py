"""The notebooks' fallback: a computed value when the exercises it needs pass, else the stored one.

::

    trace = computed_or_stored(
        "01_jensen_elbo", "em_trace",
        compute=lambda: run_em(...),          # uses the student's functions
        needs=["posterior", "log_marginal"],  # exercises whose checks must have passed
        what="the EM curve",
    )

When every exercise in ``needs`` has passed its check, ``compute()`` runs. Otherwise the value stored from the
solution's run *in the same profile* is returned and one line says so (and which profile it came from).

How a computed value is compared with the stored one (``COURSE_VERIFY_STORED=1``, set by the test command) is
declared once per value in :mod:`course_utils.tolerances`: deterministic values tightly, trained ones (losses,
accuracies, latents, reconstructions) at a tolerance set from the spread measured across seeds and CPU kernels
(``benchmarks/stored_spread.py``), plus the properties they must have. A failing comparison names the value, the
largest difference and the tolerance.

This module is the top of a one-way chain: :mod:`.storage` (the files) <- :mod:`.compare` <- :mod:`.tolerances`
<- here. It also offers the storage and comparison functions under their old names (``stored.load_stored``,
``stored.compare``, ...), which the tools and tests use.
"""

from __future__ import annotations

from collections.abc import Callable

from . import checks
from .compare import compare, differences, key_name, leaves
from .profiles import get_profile
from .storage import (
    LARGE,
    PROFILES,
    RECORD_ENV_VAR,
    STORE_DIR,
    VERIFY_ENV_VAR,
    StoreError,
    _record_folder,
    cases_path,
    cases_text,
    decode,
    encode,
    fallback,
    has_stored,
    load_cases,
    load_stored,
    record,
    stored_cases,
    stored_keys,
    values_path,
    verifying,
    write_cases,
)
from .tolerances import spec_for, spread_note


# ----------------------------------------------------------------------------- the notebook's call
def computed_or_stored(notebook: str, key: str, compute: Callable[[], object], needs: list[str], what: str):
    """``compute()`` when the exercises in ``needs`` pass their checks; else the stored value, with a note."""
    profile = get_profile().name
    todo = checks.missing(*needs)
    if not todo:
        value = compute()
        folder = _record_folder()
        if folder is not None:
            record(notebook, key, value, profile, folder)
        elif verifying():
            verify(notebook, key, value, profile, spec_for(notebook, key))
        return value
    value, source = fallback(notebook, key, profile)
    names = ", ".join(f"`{n}`" for n in todo)
    note = f"the solution's {source}-profile run"
    if source != profile:
        note += f" (no {profile}-profile value is stored for it)"
    print(f"[stored values] {what}: shown from {note} until {names} pass their checks.")
    return value


def verify(notebook: str, key: str, value, profile: str, spec) -> None:
    """Raise an AssertionError that says what differs, when ``value`` breaks the stored value's spec."""
    problems = [f"property: {p}" for p in spec.broken_properties(value)]
    if has_stored(notebook, key, profile):
        stored = load_stored(notebook, key, profile)
        problems += compare(decode(encode(value)), decode(encode(stored)), spec)
    else:
        problems.append(f"no {profile}-profile value is stored (run tools/make_stored.py --fallbacks)")
    if problems:
        raise AssertionError(
            f"{notebook}: the computed {key!r} ({spec.kind}) differs from the stored {profile}-profile value:\n  "
            + "\n  ".join(problems[:10])
            + (f"\n  ({note})" if (note := spread_note(notebook, key)) else "")
            + "\nIf the change is intended, run `python tools/make_stored.py "
            + f"{notebook[:2]} --fallbacks --profile {profile}` and commit the new stored values."
        )


__all__ = ["computed_or_stored", "verify", "stored_cases", "load_cases", "load_stored", "encode", "decode", "compare",
           "differences", "leaves", "key_name", "record", "fallback", "has_stored", "stored_keys", "cases_path",
           "cases_text", "values_path", "write_cases", "StoreError", "STORE_DIR", "PROFILES", "LARGE",
           "RECORD_ENV_VAR", "VERIFY_ENV_VAR", "verifying", "_record_folder"]
