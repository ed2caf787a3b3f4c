"""Every limit of a grading run, in one object."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Limits:
    """Every limit of a grading run. Defaults depend on the profile (``fast`` for CI and Gradescope)."""

    cell_timeout: float = 300  # seconds, one notebook cell while the submission runs top to bottom
    total_timeout: float = 900  # seconds, the whole top-to-bottom run
    test_timeout: float = 60  # seconds, one test statement (a check call or one hidden assert)
    load_timeout: float = 60  # seconds, loading the submission's definitions
    memory_mb: int = 8192  # address-space limit of the kernel and of each test process
    output_limit: int = 4000  # characters of a public check's output kept for the feedback
    grading_timeout: float = 1800  # seconds for everything; tests not started by then fail as "not run"
    threads: int = 0  # OpenMP/MKL threads of the notebook's kernel; 0: the machine's default (batch: cores / workers)

    @classmethod
    def for_profile(cls, profile: str, **overrides) -> "Limits":
        base = cls() if profile == "fast" else cls(3600, 4 * 3600, 600, 120, 16384, 4000, 6 * 3600, 0)
        for k, v in overrides.items():
            if v is not None:
                setattr(base, k, type(getattr(base, k))(v))
        return base


__all__ = ["Limits"]
