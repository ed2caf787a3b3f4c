"""Every limit of a grading run, in one object, and the resource limits a sandboxed process sets on itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Limits:
    """Every limit of a grading run. Defaults depend on the profile (``fast`` for CI and Gradescope)."""

    cell_timeout: float = 300  # seconds, one notebook cell while the submission runs top to bottom
    total_timeout: float = 900  # seconds, the whole top-to-bottom run
    test_timeout: float = 120  # seconds, one test statement (a check call or one hidden assert)
    load_timeout: float = 60  # seconds, loading the submission's definitions
    memory_mb: int = 8192  # address-space limit of the kernel and of each test process
    output_limit: int = 4000  # characters of a public check's output kept for the feedback
    grading_timeout: float = 1800  # seconds for the tests of a submission; tests not started by then fail as "not run"
    threads: int = 0  # OpenMP/MKL threads of the notebook's kernel; 0: the machine's default (batch: cores / workers)
    disk_mb: int = 1024  # the sandbox's writable, in-memory folders together (and the largest file)
    nproc: int = 512  # processes and threads of the sandbox's user
    notebook_mb: int = 20  # the largest notebook file graded (larger ones are refused before they are parsed)
    submission_timeout: float = 600  # seconds for everything of one submission (its run gets at most half)

    @classmethod
    def for_profile(cls, profile: str, **overrides) -> "Limits":
        base = cls() if profile == "fast" else cls(3600, 4 * 3600, 600, 120, 16384, 4000, 6 * 3600, 0,
                                                   submission_timeout=10 * 3600)
        for k, v in overrides.items():
            if v is not None:
                setattr(base, k, type(getattr(base, k))(v))
        return base


def apply_rlimits(lim: dict) -> None:
    """In a sandboxed process, before any submitted code: ``memory_mb`` (address space; at least the current size
    plus 2 GiB, as torch reserves address space it never touches), ``fsize_mb`` (the largest file it may write),
    ``nproc`` (processes and threads of its user), no core files."""
    import resource

    if lim.get("memory_mb"):
        try:
            with open("/proc/self/status") as f:
                vm = next(int(x.split()[1]) for x in f if x.startswith("VmSize")) // 1024
        except Exception:  # noqa: BLE001
            vm = 0
        limit = max(int(lim["memory_mb"]), vm + 2048) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if lim.get("fsize_mb"):
        size = int(lim["fsize_mb"]) << 20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    if lim.get("nproc"):
        resource.setrlimit(resource.RLIMIT_NPROC, (int(lim["nproc"]), int(lim["nproc"])))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if lim.get("drop"):
        from .isolation import drop_privileges

        drop_privileges(*lim["drop"])


__all__ = ["Limits", "apply_rlimits"]
