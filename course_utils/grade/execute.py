"""Phase 1 of grading: run the whole submission in its own kernel, for feedback only.

    python -c "import sys; from course_utils.grade.execute import main; sys.exit(main())" NOTEBOOK REPORT_FD
        --cell-timeout S --total-timeout S [--memory-mb M]

Two sides: :func:`execute_notebook` is the grader's, which starts this module in the sandbox (never by hand)
and reads its report; :func:`run` and :func:`main` are the started process's. Scores never come from here:
this says whether the notebook runs top to bottom, and where it does not. Outputs are counted, not kept (a
notebook that prints gigabytes costs no memory); only each error's name and message are reported. A cell that
runs past the per-cell timeout is interrupted and the run stops there; a dead kernel (``os._exit``, a crash, out
of memory) stops it too; the total timeout bounds the whole run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from .limits import Limits
from .protocol import Channel, send
from .sandbox import Sandbox, kill_group


# ----------------------------------------------------------------------------- the grader's side
def execute_notebook(nb_path: Path, sandbox: Sandbox, env: dict, limits: Limits) -> dict:
    """Run the submission top to bottom in its own kernel (feedback only); returns the executor's report."""
    r, w = os.pipe()
    user = {}
    if sandbox.run_as and os.getuid() == 0:
        user = dict(user=sandbox.run_as[0], group=sandbox.run_as[1], extra_groups=[])
    with open(sandbox.root / "execute.log", "wb") as log:
        proc = subprocess.Popen(
            sandbox.command(
                [
                    sys.executable,
                    "-c",  # not -m: the package imports this module first
                    "import sys; from course_utils.grade.execute import main; sys.exit(main())",
                    str(nb_path),
                    str(w),
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
            cwd=sandbox.work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            **user,
        )
    os.close(w)
    chan, kernel_pid, report = Channel(r), None, None
    deadline = time.monotonic() + limits.total_timeout + 90
    try:
        while report is None:
            try:
                msg = chan.recv(max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                report = {"cells": [], "stopped": f"the notebook did not finish within {limits.total_timeout:g} s"}
                break
            except (EOFError, ValueError):
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
            if sandbox.isolation.kind != "namespace":  # there, kernel_pid is a PID inside the sandbox
                kill_group(kernel_pid)
            proc.wait()
    return report


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


def run(path: str, report_fd: int, cell_timeout: float, total_timeout: float) -> dict:
    import nbformat
    from nbclient.exceptions import DeadKernelError

    t0 = time.monotonic()
    nb = nbformat.read(path, as_version=4)
    client = _make_client(nb, cell_timeout, os.path.dirname(os.path.abspath(path)))
    cells, stopped = [], None
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    with client.setup_kernel():
        pid = getattr(getattr(client.km, "provisioner", None), "pid", None)
        send(report_fd, {"ev": "kernel", "pid": pid})
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
    a = ap.parse_args(argv)
    if a.memory_mb:
        import resource

        limit = a.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # the kernel inherits it
    try:
        report = run(a.notebook, a.report_fd, a.cell_timeout, a.total_timeout)
    except Exception as e:  # noqa: BLE001 - e.g. a kernel that cannot start
        report = {
            "ev": "report",
            "cells": [],
            "stopped": f"the notebook could not be run: {type(e).__name__}: {e}"[:400],
        }
    send(a.report_fd, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
