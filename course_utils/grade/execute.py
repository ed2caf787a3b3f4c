"""Phase 1 of grading: run the whole submission in its own kernel, for feedback only.

    python -c "import sys; from course_utils.grade.execute import main; sys.exit(main())" NOTEBOOK REPORT_FD
        --cell-timeout S --total-timeout S [--memory-mb M]

Two sides: :func:`run_submission` is the grader's, which starts this module in the sandbox (never by hand) and reads
its report; :func:`run` and :func:`main` are the started process's. (The course's own notebooks, which are trusted,
run through :func:`course_utils.notebook.execute_notebook`: no sandbox, no limits.) Scores never come from here:
this says whether the notebook runs top to bottom, and where it does not. Outputs are counted, not kept (a notebook
that prints gigabytes costs no memory); only each error's name and message are reported. A cell that runs past the
per-cell timeout is interrupted and the run stops there; a dead kernel (``os._exit``, a crash, out of memory) stops
it too; the total timeout bounds the whole run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

from .agent import no_dumps
from .limits import Limits
from .protocol import Channel, send, sender
from .sandbox import Sandbox, kill_group


# ----------------------------------------------------------------------------- the grader's side
def run_submission(nb_path: Path, sandbox: Sandbox, env: dict, limits: Limits) -> dict:
    """Run the submission top to bottom in its own kernel, in ``sandbox`` and within ``limits`` (feedback only);
    returns the executor's report.
    ``nb_path``: the notebook in the sandbox's seed folder (the run works on a copy in its working folder)."""
    import json

    r, w = os.pipe()  # neither is inherited: pass_fds gives the runner w alone
    chan = Channel(r)  # owns r from here: chan.close() closes it
    try:
        with open(sandbox.root / "execute.log", "wb") as log:
            proc = subprocess.Popen(
                sandbox.command(
                    [
                        sys.executable,
                        "-c",  # not -m: the package imports this module first
                        "import sys; from course_utils.grade.execute import main; sys.exit(main())",
                        str(sandbox.seed_inside / nb_path.name),
                        str(w),
                        "--work",
                        str(sandbox.work),
                        "--cache",
                        str(sandbox.cache),
                        "--rlimits",
                        json.dumps(sandbox.rlimits(limits)),
                        *(["--export", str(sandbox.export_inside)] if sandbox.export is not None else []),
                        "--cell-timeout",
                        str(limits.cell_timeout),
                        "--total-timeout",
                        str(limits.total_timeout),
                        "--memory-mb",
                        str(limits.memory_mb),
                    ],
                    sandbox.work,
                ),
                pass_fds=(w,),
                cwd="/",
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
    except BaseException:
        chan.close()
        raise
    finally:
        os.close(w)  # the runner's copy is the only write end left: its exit is our EOF
    chan.kill = lambda: kill_group(proc.pid)  # a runner stopped inside a message
    kernel_pid, report = None, None
    deadline = time.monotonic() + limits.total_timeout + 90
    try:
        while report is None:
            try:
                msg = chan.recv(max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                report = {"cells": [], "stopped": f"the notebook did not finish within {limits.total_timeout:g} s"}
                break
            except (EOFError, OSError, ValueError):  # the pipe closed, a message cut off, too long or not JSON
                report = {"cells": [], "stopped": "the notebook runner stopped unexpectedly"}
                break
            if msg.get("ev") == "kernel":
                kernel_pid = msg.get("pid")
            elif msg.get("ev") == "report":
                report = msg
    finally:
        chan.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        if proc.poll() is None:
            kill_group(proc.pid)  # in a namespace sandbox, everything inside dies with it
            if sandbox.isolation.kind != "namespace" and _child_of(kernel_pid, proc.pid):  # a PID outside
                kill_group(kernel_pid)
            proc.wait()
    return report


def _child_of(pid, parent: int) -> bool:
    """Whether ``pid`` (as reported through the pipe: untrusted) is a child of ``parent``."""
    if type(pid) is not int or pid <= 1:
        return False
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.split()[1:2] == [str(parent)] for line in f if line.startswith("PPid:"))
    except OSError:
        return False


# ----------------------------------------------------------------------------- the started process
def _make_client(nb, cell_timeout: float, path: str):
    from nbclient import NotebookClient

    class CountingClient(NotebookClient):
        output_bytes = 0
        timed_out = False

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content", {})
            if msg["msg_type"] == "error":
                outs.append(
                    {
                        "output_type": "error",
                        "ename": str(content.get("ename", ""))[:100],
                        "evalue": str(content.get("evalue", ""))[:300],
                    }
                )
                return None
            self.output_bytes += len(str(content.get("text", ""))) + sum(
                len(str(v)) for v in content.get("data", {}).values()
            )
            return None

        async def _async_handle_timeout(self, timeout, cell=None):
            self.timed_out = True
            return await super()._async_handle_timeout(timeout, cell)

    return CountingClient(
        nb,
        timeout=int(cell_timeout),
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        error_on_timeout={"ename": "CellTimeoutError", "evalue": "timed out", "traceback": []},
        resources={"metadata": {"path": path}},
        record_timing=False,
        startup_timeout=120,
    )


def run(path: str, report: Connection, cell_timeout: float, total_timeout: float) -> dict:
    import nbformat
    from nbclient.exceptions import DeadKernelError

    t0 = time.monotonic()
    nb = nbformat.read(path, as_version=4)
    client = _make_client(nb, cell_timeout, os.path.dirname(os.path.abspath(path)))
    cells, stopped = [], None
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    with client.setup_kernel():
        pid = getattr(getattr(client.km, "provisioner", None), "pid", None)
        send(report, {"ev": "kernel", "pid": pid})
        for n, (i, cell) in enumerate(code, 1):
            remaining = total_timeout - (time.monotonic() - t0)
            if remaining <= 1:
                stopped = f"the total time limit ({total_timeout:g} s) was reached before code cell {n}"
                break
            client.timeout = int(max(1, min(cell_timeout, remaining)))
            client.timed_out = False
            try:
                client.execute_cell(cell, i)
            except DeadKernelError:
                stopped = (
                    f"the kernel died in code cell {n} (os._exit, a crash, or out of memory); "
                    "the cells after it were not run"
                )
                cells.append({"cell": n, "status": "died"})
                break
            if client.timed_out:
                limit = "the per-cell" if client.timeout >= cell_timeout else "the total"
                stopped = (
                    f"code cell {n} did not finish within {limit} time limit ({client.timeout} s): "
                    "an infinite loop? The cells after it were not run"
                )
                cells.append({"cell": n, "status": "timeout"})
                break
            errors = [o for o in cell.outputs if o.get("output_type") == "error"]
            cell.outputs = []
            if errors:
                cells.append({"cell": n, "status": "error", "ename": errors[0]["ename"], "evalue": errors[0]["evalue"]})
    return {
        "ev": "report",
        "cells": cells,
        "n_code_cells": len(code),
        "stopped": stopped,
        "seconds": round(time.monotonic() - t0, 1),
        "output_bytes": client.output_bytes,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("notebook")
    ap.add_argument("report_fd", type=int)
    ap.add_argument("--cell-timeout", type=float, default=300)
    ap.add_argument("--total-timeout", type=float, default=900)
    ap.add_argument("--memory-mb", type=int, default=0)
    ap.add_argument("--work", help="the working folder: the notebook is copied there and run there")
    ap.add_argument("--cache", help="the private cache: the seed's shared models are copied there")
    ap.add_argument("--rlimits", default="{}", help="limits and the user to become (JSON), before anything runs")
    ap.add_argument("--export", help="copy the trained checkpoints here at the end (the course's own solution)")
    a = ap.parse_args(argv)
    import json

    from .limits import apply_rlimits

    no_dumps()  # the kernel (same user) cannot open this process's report pipe through /proc
    pipe = sender(a.report_fd)  # nor inherit it
    lim = json.loads(a.rlimits)
    if a.memory_mb:
        lim.setdefault("memory_mb", a.memory_mb)
    apply_rlimits(lim)  # the kernel inherits them
    try:
        path = _copy_in(Path(a.notebook), a.work, a.cache)
        report = run(str(path), pipe, a.cell_timeout, a.total_timeout)
    except Exception as e:  # noqa: BLE001 - e.g. a kernel that cannot start
        report = {
            "ev": "report",
            "cells": [],
            "stopped": f"the notebook could not be run: {type(e).__name__}: {e}"[:400],
        }
    if a.export and a.cache:
        import shutil

        for f in (Path(a.cache) / "checkpoints").glob("*.pt"):
            shutil.copyfile(f, Path(a.export) / f.name)
    send(pipe, report)
    return 0


def _copy_in(notebook: Path, work: str | None, cache: str | None) -> Path:
    """Copy the notebook (and the seed's shared models) into the writable folders; the copy is what runs."""
    import shutil

    if not work:
        return notebook
    target = Path(work) / "submission.ipynb"
    shutil.copyfile(notebook, target)
    models = notebook.parent / "checkpoints"
    if cache and models.is_dir():
        (Path(cache) / "checkpoints").mkdir(parents=True, exist_ok=True)
        for f in models.glob("*.pt"):
            shutil.copyfile(f, Path(cache) / "checkpoints" / f.name)
    return target


if __name__ == "__main__":
    sys.exit(main())
