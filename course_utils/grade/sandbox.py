"""The sandbox of one grading run: its private folder, the environment the submission runs in, and how its
processes are started (:mod:`.isolation`) and killed."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from ..paths import REPO_ROOT
from .isolation import Isolation, choose


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
    """A private folder for one grading run: the kernel's and the tests' working folders, cache and home, and
    how the submission's processes are isolated (:mod:`.isolation`)."""

    def __init__(self, run_as: tuple[int, int] | None, isolation: Isolation | None = None,
                 models: Path | None = None):
        """``models``: a folder of trained checkpoints (``*.pt``) the private cache starts with, a copy of each
        (batch grading's shared models: :func:`.batch.reference_models`)."""
        self.isolation = isolation or choose(run_as)
        self.root = Path(tempfile.mkdtemp(prefix="course-grade-")).resolve()
        os.chmod(self.root, 0o711)
        self.work, self.scratch, self.cache, self.home = (self.root / n for n in ("work", "scratch", "cache", "home"))
        for d in (self.work, self.scratch, self.cache, self.home):
            d.mkdir()
            if run_as:
                os.chown(d, *run_as)
        self.run_as = run_as
        self.models = Path(models) if models else None
        self._seed_cache()

    def _seed_cache(self):
        """Copy the decoded datasets into the private cache (saves decoding them again), and the shared models
        where there are any: copies, so that nothing one submission writes reaches the next."""
        from ..paths import cache_dir

        for source, name in ((cache_dir("data"), "data"), (self.models, "checkpoints")):
            if source is None:
                continue
            try:
                target = self.cache / name
                target.mkdir(exist_ok=True)
                for f in Path(source).glob("*.pt"):
                    shutil.copyfile(f, target / f.name)
                if self.run_as:
                    for f in [target, *target.iterdir()]:
                        os.chown(f, *self.run_as)
            except OSError:
                pass

    def env(self, profile: str, threads: int = 0) -> dict:
        """The submission's environment; ``threads`` (> 0) caps its OpenMP/MKL threads, so that batch workers side
        by side do not oversubscribe the cores (OpenMP's spinning threads then slow every run several-fold)."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("COURSE_VERIFY_STORED", "COURSE_RECORD_STORED", "COURSE_RETRAIN", "PYTHONSTARTUP",
                         "NBGRADER_EXECUTION")  # our checks would raise; the grader reads their results itself
        }
        env.update(
            COURSE_PROFILE=profile,
            COURSE_CACHE=str(self.cache),
            HOME=str(self.home),
            MPLBACKEND="Agg",
            COURSE_DOWNLOAD="0",
            COURSE_PROGRESS="0",
            PYTHONDONTWRITEBYTECODE="1",
            MPLCONFIGDIR=str(self.home / "mpl"),
            IPYTHONDIR=str(self.home / "ipython"),
            JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
            JUPYTER_DATA_DIR=str(self.home / "jupyter"),
            PYTHONPATH=os.pathsep.join(
                [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
            ),
        )
        if threads > 0:
            env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        return env

    def command(self, argv: list[str], cwd: Path) -> list[str]:
        """``argv`` started inside this sandbox's isolation, with this sandbox's folder its one writable place."""
        return self.isolation.command(argv, self.root, cwd)

    def isolate_children(self) -> dict | None:
        """What a warm runner's children need to isolate themselves (:func:`.isolation.isolate_child`)."""
        if self.isolation.kind != "namespace":
            return None
        return {"root": str(self.root), "fresh": [str(self.scratch), str(self.home), str(self.cache)],
                "keep": [str(self.cache / "data")]}

    def cleanup(self):
        if self.run_as:  # whatever the submission left running as that user
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        if os.stat(f"/proc/{pid}").st_uid == self.run_as[0]:
                            os.kill(int(pid), signal.SIGKILL)
                    except OSError:
                        pass
        if os.environ.get("COURSE_GRADE_KEEP") == "1":  # debugging the grader: keep logs and folders
            print(f"kept {self.root}", file=sys.stderr)
            return
        shutil.rmtree(self.root, ignore_errors=True)


def user_ids(name: str) -> tuple[int, int]:
    """The uid and gid of the user ``name`` (``--run-as``)."""
    import pwd

    pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid


__all__ = ["Sandbox", "kill_group", "user_ids"]
