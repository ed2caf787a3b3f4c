"""How a submission's code is kept away from the course, the grader and the other submissions.

The grader runs submitted code in two places, both started through :func:`choose`'s :class:`Isolation`: the
kernel that runs the notebook top to bottom (phase 1, feedback only) and the agent that answers the judge's
requests (phase 2, :mod:`.agent`). Each submission gets sandboxes of its own, gone before the next submission
starts. Three levels, the strongest this machine allows:

``namespace`` (bubblewrap, Debian's ``bubblewrap``)
    An **allowlist**: the sandbox's file system is empty but for what the submission needs, read-only: the
    system's programs and libraries (``/usr``, ``/lib*``, ``/bin``), the Python installation with its packages,
    the ``course_utils`` folder alone (not the course around it), the data, and a generated ``/etc/passwd``.
    No home folder, no class folder, no output folder, no ``solutions/``, no other checkout. Writable: only
    size-limited in-memory folders (the sandbox's working folders, ``/tmp``, ``/dev/shm``), whose memory comes on
    top of the address-space limit. New PID, network (no network), IPC and UTS namespaces; the environment is rebuilt
    from an allowlist (:meth:`.sandbox.Sandbox.env`). **Unprivileged**: when the grader is root, bubblewrap (as root)
    builds the mounts and the code runs as an unprivileged uid of its own (``--run-as`` USER's, else a
    sandbox uid that owns nothing), with no capabilities and ``no_new_privs``; otherwise in a user namespace,
    with every capability dropped. Limits on processes, file sizes and address space come from
    :func:`.limits.apply_rlimits`.
``user`` (the grader is root and ``--run-as USER`` names an unprivileged user; no bubblewrap)
    The submission runs as that user. It cannot write what that user cannot write, and whatever it leaves
    running is killed. It can still read what that user can read, so use this in a container that holds
    nothing else.
``none``
    The submission runs as the grading user, with that user's rights over the course, the hidden tests and the
    virtual environment. Grading says so loudly; batch grading refuses it unless ``--trust-submissions``.

At every level the score comes from the judge (:mod:`.judge`), which runs no submitted code; the sandbox keeps
a submission from reading what it must not see (hidden tests, classmates) and from reaching the machine.
``COURSE_GRADE_ISOLATION=namespace|user|none`` (:mod:`course_utils.settings`) asks for one level; asking for one
this machine cannot give is an error, not a silent downgrade.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..paths import REPO_ROOT
from ..settings import SettingError, current

KINDS = ("namespace", "user", "none")
ENV_VAR = "COURSE_GRADE_ISOLATION"
INSIDE = Path("/sandbox")  # the sandbox's writable folders, inside a namespace sandbox
SEED = Path("/seed")  # what the grader hands in (the notebook, shared models), read-only
EXPORT = Path("/export")  # where the course's own solution run leaves its trained models (never a submission's)
INSIDE_UID = 1000  # the uid the code sees in a user namespace (a grader that is not root)


class IsolationError(RuntimeError):
    """The isolation asked for is not available here."""


@dataclass(frozen=True)
class Isolation:
    kind: str  # one of KINDS
    bwrap: str | None = None  # the bubblewrap binary (kind "namespace")
    why_not_stronger: str = ""  # why a stronger level is not in use

    @property
    def isolates(self) -> bool:
        return self.kind != "none"

    def describe(self) -> str:
        if self.kind == "namespace":
            return ("submissions run in a bubblewrap sandbox: only the interpreter, course_utils and the data visible, "
                    "read-only; an unprivileged user; no network; limits on memory, disk, processes and time")
        if self.kind == "user":
            return f"submissions run as an unprivileged user (no bubblewrap: {self.why_not_stronger})"
        return (f"WARNING: submissions are NOT isolated ({self.why_not_stronger}): a submission can read the "
                "course, the hidden tests and other students' files")

    def command(self, argv: list[str], box: "Layout") -> list[str]:
        """``argv`` as this level starts it, in the sandbox ``box`` describes."""
        if self.kind != "namespace":
            return list(argv)
        return [self.bwrap, *bwrap_args(box), "--", *argv]


@dataclass(frozen=True)
class Layout:
    """One sandbox: its seed folder (host side), its writable space, the uid it runs as, where it starts."""

    seed: Path | None  # a host folder shown read-only at SEED
    cwd: Path  # inside
    disk_mb: int = 1024  # the in-memory working folders, together
    shm_mb: int = 64  # /tmp and /dev/shm, each
    uid: tuple[int, int] | None = None  # outside uid and gid when the grader is root
    folders: tuple[str, ...] = ("work", "scratch", "cache", "home")
    data: Path | None = None  # decoded datasets, shown read-only at INSIDE/cache/data
    export: Path | None = None  # a host folder shown writable at EXPORT (the solution's run only)


def needed() -> list[Path]:
    """What the sandboxed Python needs to see, wherever it lives: the course package (its folder alone), its data
    folder, and the interpreter with its packages (a virtual environment, the base installation, their
    site-packages)."""
    import site

    repo = REPO_ROOT.resolve()
    import course_utils

    pkg = Path(course_utils.__file__).resolve().parent
    paths = [pkg, repo / "data", Path(sys.prefix), Path(sys.base_prefix),
             Path(os.path.realpath(sys.executable)).parents[1], *map(Path, site.getsitepackages())]
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        paths.append(Path(site.getusersitepackages()))
    settings = current()
    paths += [p for p in (settings.data, settings.fashion_mnist_root) if p]  # data kept elsewhere
    out = []
    for p in paths:
        p = p.resolve()
        if p.exists() and p not in out and not any(q in p.parents for q in out):
            out = [q for q in out if p not in q.parents] + [p]
    return out


_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
_ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/alternatives")


def bwrap_args(box: Layout) -> list[str]:
    """bubblewrap's arguments for ``box``: an empty root; the system's programs, the interpreter, ``course_utils``
    and the data read-only; size-limited in-memory folders for everything writable; new namespaces."""
    args = ["--dev", "/dev", "--proc", "/proc"]
    for p in _SYSTEM:
        if os.path.islink(p):
            args += ["--symlink", os.readlink(p), p]
        elif os.path.isdir(p):
            args += ["--ro-bind", p, p]
    for p in _ETC:
        if os.path.exists(p):
            args += ["--ro-bind", p, p]
    # the in-memory folders first: what is bound below may live under /tmp
    args += ["--perms", "1777", "--size", str(box.shm_mb << 20), "--tmpfs", "/tmp",
             "--perms", "1777", "--size", str(box.shm_mb << 20), "--tmpfs", "/dev/shm",
             "--perms", "0755", "--size", str(box.disk_mb << 20), "--tmpfs", str(INSIDE)]
    repo = REPO_ROOT.resolve()
    made: set[Path] = set()
    for path in needed():
        if path == repo or path in repo.parents:  # never the whole course
            continue
        for parent in reversed(path.parents[:-1]):  # traversable by the sandbox's user (bwrap would make them 0700)
            if parent not in made and parent not in (Path("/tmp"), Path("/dev"), Path("/dev/shm")):
                made.add(parent)
                args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", str(path), str(path)]
    for name in box.folders:
        args += ["--perms", "1777", "--dir", str(INSIDE / name)]
    if box.data is not None and box.data.is_dir():
        args += ["--ro-bind", str(box.data), str(INSIDE / "cache" / "data")]
    if box.seed is not None:
        args += ["--ro-bind", str(box.seed), str(SEED)]
        if (box.seed / "passwd").exists():
            args += ["--ro-bind", str(box.seed / "passwd"), "/etc/passwd"]
    if box.export is not None:
        args += ["--bind", str(box.export), str(EXPORT)]
    args += ["--chdir", str(box.cwd), "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
             "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    if box.uid is None:  # not root: a user namespace, every capability dropped
        args += ["--unshare-user", "--uid", str(INSIDE_UID), "--gid", str(INSIDE_UID), "--cap-drop", "ALL"]
    else:  # root: the started process keeps only what it needs to become box.uid (drop_privileges)
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    return args


def drop_privileges(uid: int, gid: int) -> None:
    """Inside the sandbox, before any submitted code: become ``uid``/``gid`` (from root), with no supplementary
    groups, no capabilities and no way back (``no_new_privs``)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    if os.getuid() != 0:
        return
    for cap in range(64):  # the bounding set, while we still may
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # from root to another uid: every capability goes
    if os.getuid() == 0 or os.geteuid() == 0:
        raise OSError("could not drop root")


@functools.lru_cache(maxsize=None)
def _bwrap_works(bwrap: str) -> str:
    """'' when bubblewrap starts a sandbox here, else why not (one short run, cached)."""
    uid = (65534, 65534) if os.getuid() == 0 else None
    with tempfile.TemporaryDirectory() as seed:
        box = Layout(Path(seed), INSIDE / "work", uid=uid)
        try:
            run = subprocess.run([bwrap, *bwrap_args(box), "--", sys.executable, "-c", "print('ok')"],
                                 capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"{bwrap} did not run ({type(e).__name__}: {e})"
    if run.returncode != 0 or run.stdout.strip() != "ok":
        return f"{bwrap} cannot make a sandbox here ({run.stderr.strip()[:200] or run.returncode})"
    return ""


def choose(run_as: tuple[int, int] | None = None, want: str | None = None) -> Isolation:
    """The strongest isolation available (or ``want``, else ``$COURSE_GRADE_ISOLATION``; an error if that is not
    available)."""
    if not want:
        try:
            want = current().grade_isolation
        except SettingError as e:
            raise IsolationError(str(e)) from None
    want = (want or "").strip().lower() or None
    if want is not None and want not in KINDS:
        raise IsolationError(f"{ENV_VAR}={want!r}: use one of {', '.join(KINDS)}")
    bwrap = shutil.which("bwrap")
    why = "bubblewrap is not installed (sudo apt-get install bubblewrap)" if bwrap is None else _bwrap_works(bwrap)
    if want in (None, "namespace") and not why:
        return Isolation("namespace", bwrap)
    if want == "namespace":
        raise IsolationError(f"{ENV_VAR}=namespace, but {why}")
    if want in (None, "user") and run_as and os.getuid() == 0:
        return Isolation("user", None, why)
    if want == "user":
        raise IsolationError(f"{ENV_VAR}=user needs the grader to run as root with --run-as USER")
    return Isolation("none", None, why + ("" if run_as else "; no --run-as user either"))


__all__ = ["KINDS", "INSIDE", "SEED", "EXPORT", "Isolation", "IsolationError", "Layout", "choose", "bwrap_args",
           "drop_privileges", "needed"]
