"""How a submission's code is kept away from the course, the grader and the other submissions.

The grader runs submitted code in two places: the kernel that runs the notebook top to bottom (phase 1) and the
children that the test runner forks, one per exercise (phase 2). Both are started through :func:`choose`'s
:class:`Isolation`, the strongest of three levels this machine allows:

``namespace`` (bubblewrap, Debian's ``bubblewrap``; needs user namespaces or root)
    The processes see the file system read-only. The course folder, ``/tmp`` and the grading user's home are
    replaced by empty ones, holding only what the submission needs to run, read-only: ``course_utils/`` (what
    the student bundle has too) and the Python installation with its packages. ``solutions/``, ``grading/``,
    ``tests/``, ``tools/``, ``.git``, the grader's cache and the home folder's files are not visible at all. The
    one writable place is the grading run's own folder; ``/tmp`` and ``/dev/shm`` are private. No
    network (a new network namespace), and a new PID namespace: a submission cannot see or signal the grader
    or another submission, and anything it leaves running dies with its sandbox. Each child of a warm test
    runner enters namespaces of its own on top (:func:`isolate_child`): the runner's folder becomes read-only,
    the child writes only to fresh, empty, in-memory folders (working folder, home, cache, ``/tmp``,
    ``/dev/shm``), and it runs in a PID namespace of its own, so one submission's files and processes never
    reach the next one graded by the same runner.
``user`` (the grader is root and ``--run-as USER`` names an unprivileged user; no bubblewrap)
    The submission runs as that user. It cannot write what that user cannot write, and whatever it leaves
    running is killed. It can still read what that user can read (the course, unless its permissions say
    otherwise), so use this in a container that holds nothing else, as on Gradescope.
``none``
    The submission runs as the grading user, with that user's rights over the course, the hidden tests and the
    virtual environment. Grading says so loudly; batch grading refuses it unless ``--trust-submissions``.

What ``namespace`` does not stop: reading files that the grading user may read outside the course, ``/tmp``
and the home folder (the rest of the file system is visible, read-only; of the home folder only the Python
installation, when it lives there); using the CPU and memory up to the grader's limits; and, inside one test
process, reading that process's memory (see the package docstring).
``COURSE_GRADE_ISOLATION=namespace|user|none`` asks for one level; asking for one this machine cannot give is
an error, not a silent downgrade.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..paths import REPO_ROOT

KINDS = ("namespace", "user", "none")
ENV_VAR = "COURSE_GRADE_ISOLATION"


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
            return ("submissions run in a bubblewrap sandbox: the course read-only, solutions and hidden tests not "
                    "visible, no network, private /tmp, their own PID namespace")
        if self.kind == "user":
            return f"submissions run as an unprivileged user (no bubblewrap: {self.why_not_stronger})"
        return (f"WARNING: submissions are NOT isolated ({self.why_not_stronger}): a submission can change the "
                "course, the hidden tests and the grades of the submissions graded after it")

    def command(self, argv: list[str], writable: Path, cwd: Path) -> list[str]:
        """``argv`` as this level starts it, with ``writable`` (the grading run's folder) the one writable place."""
        if self.kind != "namespace":
            return list(argv)
        return [self.bwrap, *bwrap_args(writable, cwd), "--", *argv]


def _needed() -> list[Path]:
    """What the sandboxed Python needs to see, wherever it lives: the course package, its data folder, and the
    interpreter with its packages (a virtual environment, the base installation, their site-packages)."""
    import site

    repo = REPO_ROOT.resolve()
    paths = [repo / "course_utils", repo / "data", Path(sys.prefix), Path(sys.base_prefix),
             Path(os.path.realpath(sys.executable)).parents[1], *map(Path, site.getsitepackages())]
    if site.ENABLE_USER_SITE:
        paths.append(Path(site.getusersitepackages()))
    for var in ("COURSE_DATA", "FASHION_MNIST_ROOT"):  # data kept elsewhere
        if os.environ.get(var):
            paths.append(Path(os.environ[var]))
    return [p.resolve() for p in paths]


def bwrap_args(writable: Path, cwd: Path) -> list[str]:
    """bubblewrap's arguments: everything read-only; ``/tmp``, the course folder and the grading user's home
    emptied, then only what the submission needs shown again (:func:`_needed`, read-only); one writable folder;
    private /dev and /proc; new user, PID, IPC, UTS and network namespaces."""
    repo = REPO_ROOT.resolve()
    home = Path.home().resolve()
    masked = [Path("/tmp"), repo] + ([home] if home != Path("/") else [])
    args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for m in sorted(set(masked), key=lambda p: len(p.parts)):  # outer ones first: /tmp before a course under it
        args += ["--tmpfs", str(m)]
    for path in dict.fromkeys(_needed()):
        hidden = any(path == m or m in path.parents for m in masked)
        reveals_course = path == repo or path in repo.parents  # never show the whole course again
        if hidden and not reveals_course and path.exists():
            args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(writable), str(writable), "--chdir", str(cwd)]
    args += ["--unshare-user-try", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
             "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    return args


@functools.lru_cache(maxsize=None)
def _bwrap_works(bwrap: str) -> str:
    """'' when bubblewrap starts a sandbox here, else why not (one short run, cached)."""
    probe = Path(os.environ.get("TMPDIR", "/tmp")).resolve()
    try:
        run = subprocess.run([bwrap, *bwrap_args(probe, probe), "--", sys.executable, "-c", "print('ok')"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{bwrap} did not run ({type(e).__name__}: {e})"
    if run.returncode != 0 or run.stdout.strip() != "ok":
        return f"{bwrap} cannot make a sandbox here ({run.stderr.strip()[:200] or run.returncode})"
    return ""


def choose(run_as: tuple[int, int] | None = None, want: str | None = None) -> Isolation:
    """The strongest isolation available (or ``want``, else ``$COURSE_GRADE_ISOLATION``; an error if that is not
    available)."""
    want = (want or os.environ.get(ENV_VAR) or "").strip().lower() or None
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


# ----------------------------------------------------------------------------- inside the sandbox
def _libc():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def call(name, *args):
        if getattr(libc, name)(*args) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{name}{args[:2]}: {os.strerror(err)}")

    return call


_CLONE_NEWNS, _CLONE_NEWUSER, _CLONE_NEWPID = 0x00020000, 0x10000000, 0x20000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_BIND, _MS_REC = 1, 2, 4, 32, 4096, 16384


def _new_namespaces(call) -> None:
    """A user namespace (same uid and gid) with a mount namespace of its own."""
    uid, gid = os.getuid(), os.getgid()
    call("unshare", _CLONE_NEWUSER | _CLONE_NEWNS)
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def isolate_child(root: Path, fresh: list[Path], keep_readonly: list[Path] = ()) -> None:
    """In a forked test child inside the sandbox: make ``root`` (the runner's folder) read-only and give the
    child fresh, empty, in-memory folders at ``fresh`` and at ``/tmp`` and ``/dev/shm``. ``keep_readonly``
    (folders inside a ``fresh`` one, such as the decoded data in the cache) stay visible, read-only.

    Two rounds of namespaces: the second locks the first round's mounts, so the child cannot unmount its
    fresh folders to reach what lies beneath. Then a PID namespace of its own (:func:`_own_pid_namespace`):
    returns in a fork of the caller. Raises OSError when the kernel refuses (the caller must then not run the
    submission)."""
    import ctypes

    call = _libc()
    b = os.fsencode

    def mount(src, target, fstype, flags, data=None):
        call("mount", src, b(str(target)), fstype, ctypes.c_ulong(flags), data)

    def read_only(path):  # a remount must keep the flags it has (nosuid, nodev, ...): a namespace cannot drop them
        have = os.statvfs(path).f_flag
        keep = (have & (_MS_NOSUID | _MS_NODEV | 8 | 1024 | 2048)) | ((1 << 21) if have & 4096 else 0)
        mount(None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | keep)

    _new_namespaces(call)
    mount(None, "/", None, 1 << 18 | _MS_REC)  # MS_PRIVATE: nothing mounted here is seen outside
    # the folders to bring back, held open: /tmp (where they may live) is replaced next
    held = [(os.open(p, os.O_PATH | os.O_DIRECTORY), Path(p)) for p in [root, *keep_readonly] if Path(p).is_dir()]
    try:
        mount(b"tmpfs", "/tmp", b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=4g,mode=1777")
        for k, (fd, path) in enumerate(held):
            if k == 0:  # the runner's folder, read-only, with fresh folders of the child's own on top
                path.mkdir(parents=True, exist_ok=True)
                mount(b(f"/proc/self/fd/{fd}"), path, None, _MS_BIND | _MS_REC)
                read_only(path)
                for f in [*fresh, Path("/dev/shm")]:
                    if f.is_dir():
                        mount(b"tmpfs", f, b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=4g")
            else:
                path.mkdir(parents=True, exist_ok=True)
                mount(b(f"/proc/self/fd/{fd}"), path, None, _MS_BIND | _MS_REC)
                read_only(path)
    finally:
        for fd, _ in held:
            os.close(fd)
    _new_namespaces(call)  # locks every mount above: none can be undone from here
    _own_pid_namespace(call)


def _own_pid_namespace(call) -> None:
    """Continue in a new PID namespace: the caller forks, and the fork (PID 1 there) returns and runs the
    submission; the caller waits and ends as it ends. A submission then cannot see or signal the runner or
    other submissions, and whatever it leaves running is killed when it ends."""
    call("unshare", _CLONE_NEWPID)
    pid = os.fork()
    if pid == 0:
        return
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        import signal

        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


# ----------------------------------------------------------------------------- from outside
def outer_pid(inner: int, sandbox_pid: int) -> int | None:
    """The PID, as the grader sees it, of the process that is ``inner`` inside the PID namespace of the sandbox
    started as ``sandbox_pid`` (bubblewrap); ``None`` when there is none (it has exited)."""
    children: dict[int, list[int]] = {}
    nspid: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields.get("PPid", "0").strip() or 0), []).append(pid)
        nspid[pid] = [int(x) for x in fields.get("NSpid", entry).split()]
    depth = len(nspid.get(sandbox_pid, [0]))  # a process in the sandbox's namespace has its PID there at this index
    todo, seen = list(children.get(sandbox_pid, [])), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        ids = nspid.get(pid, [])
        if len(ids) > depth and ids[depth] == inner:
            return pid
        todo += children.get(pid, [])
    return None


__all__ = ["KINDS", "Isolation", "IsolationError", "choose", "isolate_child", "outer_pid", "bwrap_args"]
