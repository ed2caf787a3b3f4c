"""End-to-end: the course in a real browser, as a student meets it.

The test starts JupyterLab with the README's command (``./course lab``, on 127.0.0.1, a free port, a token),
drives Debian's chromium through Playwright, opens each student notebook, runs all its cells under the ``fast``
profile, and asserts that no cell shows an error and every widget renders. In notebook 01 it drags the slider
``t`` of the ELBO-gap widget and asserts that the plot changed. It saves screenshots under ``artifacts/e2e/``.

Which notebooks: ``COURSE_E2E`` = ``01`` (the default, what CI runs inside ``./course test``), ``all``
(``./course e2e``), a comma-separated list of numbers (``02,04``), or ``0`` / ``off`` to skip.

The browser: ``/usr/bin/chromium`` from Debian, installed with apt-get when missing (as root or with
password-less sudo); Playwright never downloads one. The machine may have no network, so chromium is launched
with everything that would phone home switched off, and with a fresh profile folder.

JupyterLab gets fresh settings and workspace folders in which autosave is off, so running the notebooks in the
browser never writes outputs into ``notebooks/``; the test checks that the files are unchanged afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from course_utils import syllabus

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = [nb.student(ROOT) for nb in syllabus.NOTEBOOKS]
ARTIFACTS = ROOT / "artifacts" / "e2e"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1280, "height": 900}
RUN_TIMEOUT_S = float(os.environ.get("COURSE_E2E_TIMEOUT", "900"))  # per notebook, for all its cells

# JupyterLab user settings for the test's own (fresh) settings folder.
LAB_SETTINGS = {
    # never write the executed notebook back into notebooks/
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    # every cell in the DOM (no virtual scrolling), so the test sees all outputs
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # no network: do not ask about news or look for updates
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def selected_notebooks() -> list[Path]:
    want = os.environ.get("COURSE_E2E", "01").strip().lower()
    if want in ("0", "off", "no", "none", ""):
        return []
    if want == "all":
        return NOTEBOOKS
    return [nb.student(ROOT) for nb in syllabus.select(want.split(","))]


# ---------------------------------------------------------------------------------------------------------------
# set-up: chromium, Playwright, JupyterLab


def ensure_chromium() -> Path:
    """``/usr/bin/chromium``; installs Debian's package when it is missing (never downloads a browser build)."""
    if CHROMIUM.exists():
        return CHROMIUM
    if shutil.which("apt-get") is None:
        pytest.skip("the browser test needs Debian's chromium (/usr/bin/chromium) and there is no apt-get here")
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
            prefix = ["sudo", "-n"]
        else:
            pytest.skip("the browser test needs chromium: run `sudo apt-get install chromium` once")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = prefix + ["apt-get", "install", "-y", "-q", "chromium"]
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        subprocess.run(prefix + ["apt-get", "update", "-q"], env=env, capture_output=True)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"apt-get install chromium failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    assert CHROMIUM.exists(), "apt-get installed chromium, but /usr/bin/chromium is not there"
    return CHROMIUM


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, get SIGTERM when the test process dies (even if it is killed)."""
    os.setsid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server started with ``./course lab`` (the README's command), stopped on close."""

    def __init__(self, tmp: Path):
        self.port, self.token = free_port(), secrets.token_hex(16)
        settings = tmp / "lab-settings"
        for name, values in LAB_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values))
        env = dict(
            os.environ,
            COURSE_PROFILE="fast",
            COURSE_PROGRESS="0",
            COURSE_DOWNLOAD="0",
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(tmp / "lab-workspaces"),
            JUPYTER_RUNTIME_DIR=str(tmp / "jupyter-runtime"),
        )
        env.pop("MPLBACKEND", None)  # the notebooks' own %matplotlib inline, as for a student
        self.log_path = tmp / "jupyterlab.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(ROOT / "course"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
        )
        self._wait_ready()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(f"{self.base}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def _wait_ready(self, timeout: float = 180) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"`./course lab` exited with {self.proc.returncode}:\n{self.log()}")
            try:
                self.api("/api/status")
                return
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"JupyterLab did not answer within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()[-4000:]

    def shutdown_kernels(self) -> None:
        for session in self.api("/api/sessions") or []:
            try:
                self.api(f"/api/sessions/{session['id']}", method="DELETE")
            except OSError:
                pass

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not selected_notebooks():
        pytest.skip("COURSE_E2E is off")
    ensure_chromium()
    server = Lab(tmp_path_factory.mktemp("lab"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def browser(lab, tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the course's dependencies")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as pw:
        # a fresh --user-data-dir: Playwright passes it to chromium for a persistent context
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, viewport=VIEWPORT
        )
        yield context
        context.close()


# ---------------------------------------------------------------------------------------------------------------
# driving JupyterLab

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
CODE_CELLS = f"{NOTEBOOK} .jp-CodeCell"


def kernels(lab: Lab) -> list[dict]:
    """The server's kernels; none while one is half started. jupyter_server 2 answers /api/kernels with a 500 in
    that moment (KeyError 'last_activity': the kernel is listed before that trait is set), seen under load."""
    try:
        return lab.api("/api/kernels")
    except urllib.error.HTTPError as e:
        if e.code != 500:
            raise
        return []


def open_notebook(page, lab: Lab, nb: Path) -> None:
    rel = nb.relative_to(ROOT).as_posix()
    page.goto(f"{lab.base}/lab/tree/{rel}?reset&token={lab.token}")
    page.wait_for_selector(f"{NOTEBOOK} .jp-Notebook", timeout=120_000)
    page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=60_000)
    # Ready when the server's kernel is idle with the page connected to it, and the status bar says so.
    end = time.monotonic() + 120
    while not any(k["execution_state"] == "idle" and k.get("connections", 0) > 0 for k in kernels(lab)):
        assert time.monotonic() < end, f"the kernel of {nb.name} did not start within 120 s:\n{lab.log()}"
        page.wait_for_timeout(500)
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('| Idle')", timeout=60_000)


def run_all(page) -> None:
    """Run > Run All Cells, through the menu bar as a student would (again if the kernel missed the first)."""
    for _ in range(3):
        page.click("#jp-MainMenu .lm-MenuBar-itemLabel:text-is('Run')")
        page.click(".lm-Menu .lm-Menu-itemLabel:text-is('Run All Cells')")
        end = time.monotonic() + 20
        while time.monotonic() < end:
            if any(s["prompt"].strip() != "[ ]:" for s in cell_states(page)):
                return
            page.wait_for_timeout(250)
    raise AssertionError("Run > Run All Cells started no cell (three tries)")


def cell_states(page) -> list[dict]:
    """Per code cell: its prompt, whether an error is shown, and the start of its source."""
    return page.evaluate(
        """(sel) => Array.from(document.querySelectorAll(sel)).map((c) => ({
              prompt: (c.querySelector('.jp-InputArea-prompt') || {}).textContent || '',
              error: Array.from(c.querySelectorAll('[data-mime-type="application/vnd.jupyter.error"]'))
                        .map((e) => e.textContent.slice(0, 1500)).join('\\n'),
              widget_error: /Error displaying widget|Loading widget\\.\\.\\./.test(
                        Array.from(c.querySelectorAll('.jp-OutputArea')).map((o) => o.textContent).join(' ')),
              source: ((c.querySelector('.cm-content') || {}).textContent || '').slice(0, 80),
           }))""",
        CODE_CELLS,
    )


def wait_until_done(page, timeout_s: float) -> list[dict]:
    """Wait until every code cell has run ([n] prompts, none pending) or one shows an error."""
    end = time.monotonic() + timeout_s
    while True:
        states = cell_states(page)
        pending = [s for s in states if not re.fullmatch(r"\[\d+\]:", s["prompt"].strip())]
        if any(s["error"] for s in states) or (states and not pending):
            return states
        if time.monotonic() > end:
            raise AssertionError(
                f"not all cells ran within {timeout_s:.0f} s; first pending: {pending[0]['source']!r} "
                f"prompt {pending[0]['prompt']!r}"
            )
        page.wait_for_timeout(500)


def screenshot_whole_notebook(page, path: Path) -> None:
    """One image of the whole notebook: the viewport is made as tall as the notebook's content."""
    height = page.evaluate(
        f"""() => {{ const n = document.querySelector('{NOTEBOOK} .jp-WindowedPanel-outer')
                              || document.querySelector('{NOTEBOOK} .jp-Notebook');
                    return n.scrollHeight; }}"""
    )
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(int(height) + 200, 30_000)})
    page.evaluate(
        f"""() => {{ const sel = '{NOTEBOOK} .jp-WindowedPanel-outer, {NOTEBOOK} .jp-Notebook';
                    for (const n of document.querySelectorAll(sel)) n.scrollTop = 0; }}"""
    )
    page.wait_for_timeout(800)
    page.screenshot(path=str(path))
    page.set_viewport_size(VIEWPORT)


def widget_plot_png(cell) -> bytes:
    imgs = cell.locator(".widget-output img")
    imgs.first.wait_for(timeout=30_000)
    assert imgs.count() == 1, f"the widget shows {imgs.count()} plots, not one"
    src = imgs.first.get_attribute("src") or ""
    assert src.startswith("data:image/png;base64,"), f"the widget's plot is not a PNG: {src[:60]!r}"
    return base64.b64decode(src.split(",", 1)[1])


def settled_plot(page, lab: Lab, cell, timeout_s: float = 60) -> bytes:
    """The widget's plot once the kernel has drawn every update the slider sent (kernel idle, image unchanged)."""
    end = time.monotonic() + timeout_s
    last, stable_since = None, time.monotonic()
    while time.monotonic() < end:
        png = widget_plot_png(cell)
        busy = any(k["execution_state"] != "idle" for k in kernels(lab))
        if png != last or busy:
            last, stable_since = png, time.monotonic()
        elif time.monotonic() - stable_since > 1.5:
            return png
        page.wait_for_timeout(250)
    raise AssertionError(f"the widget's plot kept changing for {timeout_s:.0f} s after the slider stopped")


def drag_slider(page, slider, fraction: float) -> None:
    """Drag the slider's handle with the mouse to ``fraction`` of its track (beyond the ends clamps)."""
    track = slider.locator(".noUi-target").first.bounding_box()
    handle = slider.locator(".noUi-handle").first.bounding_box()
    y = handle["y"] + handle["height"] / 2
    page.mouse.move(handle["x"] + handle["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(track["x"] + fraction * track["width"], y, steps=12)
    page.mouse.up()


def move_elbo_widget(page, lab: Lab, shots: Path) -> None:
    """Drag the ELBO-gap widget's slider t from 0 to about 0.8 and back; the plot must follow it."""
    t_label = page.locator(".widget-slider .widget-label:text-is('t')")
    cell = page.locator(CODE_CELLS, has=t_label).first
    assert cell.count() == 1, "notebook 01 shows no slider labelled t (the ELBO-gap widget)"
    outputs = cell.locator(".jp-Cell-outputWrapper")
    slider = cell.locator(".widget-slider", has=page.locator(".widget-label:text-is('t')")).first
    readout = slider.locator(".widget-readout")
    slider.scroll_into_view_if_needed()
    assert float(readout.inner_text()) == 0.0, f"the slider t should start at 0, reads {readout.inner_text()!r}"
    before = settled_plot(page, lab, cell)
    outputs.screenshot(path=str(shots / "01_elbo_widget_t0.png"))

    drag_slider(page, slider, 0.8)
    page.wait_for_function("(el) => parseFloat(el.textContent) > 0.5", arg=readout.element_handle(), timeout=10_000)
    t = float(readout.inner_text())
    moved = settled_plot(page, lab, cell)
    outputs.screenshot(path=str(shots / "01_elbo_widget_moved.png"))
    assert 0.6 <= t <= 1.0, f"dragging the slider to 80% of its track gave t = {t}"
    assert moved != before, f"the slider moved to t = {t}, but the ELBO plot did not change"

    drag_slider(page, slider, -0.2)  # back to the left end: t = 0 again, so the very same plot
    page.wait_for_function("(el) => parseFloat(el.textContent) === 0", arg=readout.element_handle(), timeout=10_000)
    back = settled_plot(page, lab, cell)
    assert back == before, "the slider is back at t = 0, but the plot differs from the first one at t = 0"


# ---------------------------------------------------------------------------------------------------------------
# the tests


def _digest(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_runs_in_jupyterlab(nb: Path, request):
    if nb not in selected_notebooks():
        pytest.skip(f"COURSE_E2E={os.environ.get('COURSE_E2E', '01')}: `./course e2e` runs every notebook")
    lab = request.getfixturevalue("lab")
    browser = request.getfixturevalue("browser")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    files_before = _digest(NOTEBOOKS)
    page = browser.new_page()
    console_errors: list[str] = []
    page.on("pageerror", lambda e: console_errors.append(str(e)))
    try:
        start = time.monotonic()
        open_notebook(page, lab, nb)
        run_all(page)
        states = wait_until_done(page, RUN_TIMEOUT_S)
        seconds = time.monotonic() - start
        page.wait_for_timeout(1000)  # let the last plots and widgets render
        screenshot_whole_notebook(page, ARTIFACTS / f"{nb.stem}.png")
        errors = [f"cell {i} ({s['source']!r}...):\n{s['error']}" for i, s in enumerate(states) if s["error"]]
        assert not errors, f"{nb.name} shows an error in JupyterLab:\n" + "\n".join(errors)
        broken = [s["source"] for s in states if s["widget_error"]]
        assert not broken, f"{nb.name}: a widget did not render in the browser, in cells {broken}"
        if nb.name.startswith("01_"):
            move_elbo_widget(page, lab, ARTIFACTS)
        print(f"{nb.name}: {len(states)} code cells ran in the browser in {seconds:.1f} s (open + run all)")
    except Exception:
        try:
            page.screenshot(path=str(ARTIFACTS / f"{nb.stem}_failure.png"))
        except Exception:  # noqa: BLE001 - the screenshot is a help, not the result
            pass
        print(f"JupyterLab log (tail):\n{lab.log()}", file=sys.stderr)
        raise
    finally:
        page.close()
        lab.shutdown_kernels()
    assert not console_errors, f"JavaScript errors in the page: {console_errors[:5]}"
    assert _digest(NOTEBOOKS) == files_before, "running in the browser changed files in notebooks/ (autosave?)"
