"""The sandbox of one grading run: its private folders, the environment the submission runs in (an allowlist),
and how its processes are started (:mod:`.isolation`) and killed."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from ..paths import REPO_ROOT
from ..settings import child_environment, current
from .isolation import EXPORT, INSIDE, SEED, Isolation, Layout, choose

SANDBOX_UIDS = (200_000, 260_000)  # uids a sandbox runs as when the grader is root and no --run-as user is named
ENV_KEEP = ("LANG", "LC_ALL", "TZ", "COURSE_DATA", "FASHION_MNIST_ROOT", "COURSE_CHECKPOINTS", "COURSE_BF16",
            "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")  # the grader's variables a submission may see


def kill_group(pid: int | None) -> None:
    """SIGKILL the process group ``pid`` leads, else the process alone (nothing when it is gone)."""
    if not pid:
        return
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
            return
        except (ProcessLookupError, PermissionError, OSError):
            continue


class Sandbox:
    """The folders of one grading run and how the submission's processes are isolated (:mod:`.isolation`).

    In a namespace sandbox the writable folders (``work``, ``scratch``, ``cache``, ``home``) exist only inside, in
    memory, under :data:`.isolation.INSIDE`; the grader hands in the notebook and shared models through a
    read-only seed folder. Elsewhere they are folders of the host, under :attr:`root`."""

    def __init__(self, run_as: tuple[int, int] | None, isolation: Isolation | None = None,
                 models: Path | None = None, disk_mb: int = 1024, export: bool = False):
        """``models``: a folder of trained checkpoints (``*.pt``) the private cache starts with, a copy each (batch
        grading's shared models: :func:`.batch.reference_models`). ``export``: a writable folder :attr:`export`
        that the run copies its trained checkpoints into (only for the course's own solution notebook)."""
        self.isolation = isolation or choose(run_as)
        self.keep = current().grade_keep  # COURSE_GRADE_KEEP=1, debugging the grader: keep logs and folders
        self.root = Path(tempfile.mkdtemp(prefix="course-grade-")).resolve()
        os.chmod(self.root, 0o711)
        self.seed = self.root / "seed"
        self.seed.mkdir(mode=0o755)
        os.chmod(self.seed, 0o755)
        self.disk_mb = disk_mb
        self.run_as = run_as
        if os.getuid() == 0 and self.isolation.kind == "namespace" and run_as is None:
            self.run_as = (random.randrange(*SANDBOX_UIDS),) * 2  # a uid that owns nothing on this machine
        inside = self.isolation.kind == "namespace"
        base = INSIDE if inside else self.root
        self.work, self.scratch, self.cache, self.home = (base / n for n in ("work", "scratch", "cache", "home"))
        if not inside:
            for d in (self.work, self.scratch, self.cache, self.home):
                d.mkdir()
                if self.run_as:
                    os.chown(d, *self.run_as)
        self.models = Path(models) if models else None
        self.export = None
        if export:
            self.export = self.root / "export"
            self.export.mkdir()
            if self.run_as:
                os.chown(self.export, *self.run_as)
            else:
                os.chmod(self.export, 0o777)
        self._seed()

    def _seed(self):
        """The seed folder: the shared models (copied into the private cache when the run starts, so nothing one
        submission writes reaches the next) and an /etc/passwd naming the sandbox's user."""
        if self.models is not None:
            target = self.seed / "checkpoints"
            target.mkdir(mode=0o755)
            for f in self.models.glob("*.pt"):
                if f.is_file() and not f.is_symlink():
                    shutil.copyfile(f, target / f.name)
                    os.chmod(target / f.name, 0o644)
        uid = self.run_as[0] if self.run_as and self.isolation.kind == "namespace" else 1000
        (self.seed / "passwd").write_text(f"student:x:{uid}:{uid}:student:{self.home}:/bin/sh\n")
        os.chmod(self.seed / "passwd", 0o644)

    @property
    def seed_inside(self) -> Path:
        return SEED if self.isolation.kind == "namespace" else self.seed

    @property
    def export_inside(self) -> Path | None:
        if self.export is None:
            return None
        return EXPORT if self.isolation.kind == "namespace" else self.export

    def layout(self, cwd: Path) -> Layout:
        from ..paths import cache_dir

        return Layout(self.seed, cwd, self.disk_mb, 64, self.run_as if os.getuid() == 0 else None,
                      data=Path(cache_dir("data")), export=self.export)

    def env(self, profile: str, threads: int = 0) -> dict:
        """The submission's environment, from an allowlist (nothing else of the grader's environment reaches it);
        ``threads`` (> 0) caps its OpenMP/MKL threads, so that batch workers side by side do not oversubscribe the
        cores."""
        env = child_environment(ENV_KEEP)
        bindir = str(Path(sys.executable).parent)
        env.update(
            PATH=os.pathsep.join([bindir, "/usr/local/bin", "/usr/bin", "/bin"]),
            USER="student",
            LOGNAME="student",
            LANG=env.get("LANG", "C.UTF-8"),
            COURSE_PROFILE=profile,
            COURSE_CACHE=str(self.cache),
            HOME=str(self.home),
            TMPDIR="/tmp" if self.isolation.kind == "namespace" else str(self.scratch),
            MPLBACKEND="Agg",
            COURSE_DOWNLOAD="0",
            COURSE_PROGRESS="0",
            PYTHONDONTWRITEBYTECODE="1",
            PYTHONNOUSERSITE="1",
            MPLCONFIGDIR=str(self.home / "mpl"),
            IPYTHONDIR=str(self.home / "ipython"),
            JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
            JUPYTER_DATA_DIR=str(self.home / "jupyter"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONPATH=str(REPO_ROOT),
        )
        if threads > 0:
            env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        return env

    def command(self, argv: list[str], cwd: Path) -> list[str]:
        """``argv`` started inside this sandbox's isolation, in ``cwd`` (a path as the sandbox sees it)."""
        return self.isolation.command(argv, self.layout(cwd))

    def popen_user(self) -> dict:
        """``subprocess.Popen``'s user arguments: none in a namespace sandbox (its process drops root itself)."""
        return {}

    def rlimits(self, limits) -> dict:
        """What a sandboxed process sets on itself before any submitted code (:func:`.limits.apply_rlimits`)."""
        drop = list(self.run_as) if self.run_as and os.getuid() == 0 else None
        # per user: only a user of the sandbox's own (a sandbox uid, or a user namespace) can be limited this way
        nproc = limits.nproc if drop or self.isolation.kind == "namespace" else None
        return {"memory_mb": limits.memory_mb, "fsize_mb": limits.disk_mb, "nproc": nproc, "drop": drop}

    def cleanup(self):
        if self.run_as and os.getuid() == 0:  # whatever the submission left running as that user
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        if os.stat(f"/proc/{pid}").st_uid == self.run_as[0]:
                            os.kill(int(pid), signal.SIGKILL)
                    except OSError:
                        pass
        if self.keep:
            print(f"kept {self.root}", file=sys.stderr)
            return
        shutil.rmtree(self.root, ignore_errors=True)


def user_ids(name: str) -> tuple[int, int]:
    """The uid and gid of the user ``name`` (``--run-as``)."""
    import pwd

    pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid


__all__ = ["Sandbox", "kill_group", "user_ids"]
