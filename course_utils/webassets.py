"""The JavaScript that the course's HTML pages load (the site, the slide decks), from package registries, never a CDN.

nbconvert's templates load MathJax, require.js, jQuery, reveal.js and the widget renderer from CDNs by default, so
a page opened offline (a lecture hall, a train) shows raw LaTeX, no slides and no widgets. Here each comes from a
registry package, fetched once into the cache (``COURSE_CACHE/web``, about 11 MB) and copied next to the pages:

- MathJax 2.7, the version nbconvert's templates are written for: PyPI's ``jupyter-server-mathjax`` (what the
  classic notebook served; its TeX-AMS-MML_HTMLorMML-full configuration), with ``pip download``;
- reveal.js 4 (nbconvert's reveal template expects 4.x), require.js, jQuery and ``@jupyter-widgets/html-manager``
  (renders the widgets' saved state; it would load only third-party widgets from a CDN, and the course has none):
  npm's registry, with ``npm pack``;
- axe-core, the accessibility checker (WCAG 2.1 AA) that :mod:`course_utils.a11y` runs in Chromium over the pages:
  fetched from npm like the others, but never copied next to the pages (it audits them; it is no part of them).

MathJax adds assistive MathML to every formula it typesets (its AssistiveMML extension, set on in
:data:`MATHJAX_LOCAL_CONFIG` rather than left to the combined configuration's default): a screen reader reads
the hidden MathML, not the glyphs.

:func:`install` copies them into a page folder's ``_static/``; :func:`exporter_settings` gives nbconvert's exporter
traits that point at them, relative to a page.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

from .paths import cache_dir

TEMPLATES = Path(__file__).resolve().parent / "templates"  # the course's nbconvert templates
MATHJAX_WHEEL = "jupyter-server-mathjax==0.2.6"
NPM_PACKAGES = {  # folder under _static/ -> (npm spec, the package's files to copy: a folder or a file)
    "reveal.js": ("reveal.js@4.6.0", ["dist", "plugin/notes"]),
    "require.js": ("requirejs@2.3.8", ["require.js"]),
    "jquery.min.js": ("jquery@3.8.0", ["dist/jquery.min.js"]),
    "html-manager": ("@jupyter-widgets/html-manager@1.0.15", ["dist"]),
    "axe-core": ("axe-core@4.14.1", ["axe.min.js"]),
}
AUDIT_ONLY = {"axe-core"}  # fetched into the store, never installed next to the pages
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe,local/course"
# The wheel ships MathJax's STIX-Web fonts only (not its TeX fonts): without this, MathJax asks for TeX font files
# that are not there and typesets nothing. The classic notebook configured MathJax the same way.
MATHJAX_LOCAL_CONFIG = """MathJax.Hub.Config({
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null},
  SVG: {font: "STIX-Web"},
  menuSettings: {assistiveMML: true}
});
MathJax.Ajax.loadComplete("[MathJax]/config/local/course.js");
"""


class WebAssetsError(RuntimeError):
    """A registry package could not be fetched; the message says what to do."""


def store() -> Path:
    """Where the fetched packages are unpacked (one folder each, kept between builds)."""
    return cache_dir("web")


TRIES = 3  # a registry that drops a download now and then (npm pack failed once in CI, and worked the next minute)


def _run(cmd: list[str], what: str, cwd: Path) -> None:
    """Run a registry download, up to :data:`TRIES` times while it fails."""
    for attempt in range(1, TRIES + 1):
        try:
            return _run_once(cmd, what, cwd)
        except WebAssetsError as e:
            if attempt == TRIES or "is not installed" in str(e):
                raise
            print(f"web assets: {what} failed (try {attempt} of {TRIES}); trying again", flush=True)
            time.sleep(5 * attempt)


def _run_once(cmd: list[str], what: str, cwd: Path) -> None:
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    except FileNotFoundError:
        if shutil.which(cmd[0]) is not None:
            raise WebAssetsError(f"fetching {what}: its working folder {cwd} went away") from None
        raise WebAssetsError(
            f"{what} comes from npm's registry, and npm is not installed here: install Node.js's npm (e.g. "
            "'sudo apt-get install npm') and run again. The pages load nothing from a CDN, so they work offline."
        ) from None
    except subprocess.TimeoutExpired:
        raise WebAssetsError(f"fetching {what} took over 10 minutes: is the package registry reachable?") from None
    if done.returncode != 0:
        raise WebAssetsError(f"could not fetch {what} ({' '.join(cmd[:3])} ...): {done.stderr.strip()[-800:]}\n"
                             "Is the package registry reachable (pip's and npm's configuration)?")


def _fetch_mathjax(dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check",
          MATHJAX_WHEEL, "-d", str(tmp)], f"MathJax ({MATHJAX_WHEEL})", tmp)
    wheel = next(tmp.glob("*.whl"))
    prefix = "jupyter_server_mathjax/static/"
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.startswith(prefix) and not name.endswith("/"):
                target = tmp / "mathjax" / name[len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(name))
    if not (tmp / "mathjax" / "MathJax.js").exists():
        raise WebAssetsError(f"{MATHJAX_WHEEL} holds no MathJax.js: has the package changed?")
    shutil.rmtree(dest, ignore_errors=True)
    (tmp / "mathjax").rename(dest)
    shutil.rmtree(tmp, ignore_errors=True)


def _fetch_npm(spec: str, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _run(["npm", "pack", spec, "--loglevel=error", "--pack-destination", str(tmp)], spec, tmp)
    tgz = next(tmp.glob("*.tgz"))
    with tarfile.open(tgz) as t:
        t.extractall(tmp / "x", filter="data")
    shutil.rmtree(dest, ignore_errors=True)
    (tmp / "x" / "package").rename(dest)  # npm tarballs hold one folder, package/
    shutil.rmtree(tmp, ignore_errors=True)


def ensure(mathjax_only: bool = False) -> Path:
    """Fetch what is not in :func:`store` yet (only MathJax, from PyPI: no npm needed); returns the store. Raises
    :class:`WebAssetsError`."""
    from filelock import FileLock  # torch's own dependency

    root = store()
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(root / ".lock"):  # test workers side by side fetch into one store: one at a time
        return _ensure(root, mathjax_only)


def _ensure(root: Path, mathjax_only: bool) -> Path:
    if not (root / "mathjax" / "MathJax.js").exists():
        print(f"web assets: fetching MathJax ({MATHJAX_WHEEL}) into {root}", flush=True)
        _fetch_mathjax(root / "mathjax")
    for folder, (spec, _files) in ({} if mathjax_only else NPM_PACKAGES).items():
        marker = root / "npm" / folder / ".spec"
        if not marker.exists() or marker.read_text() != spec:
            print(f"web assets: fetching {spec} (npm) into {root}", flush=True)
            _fetch_npm(spec, root / "npm" / folder)
            marker.write_text(spec)
    return root


def install(pages: Path, mathjax_only: bool = False) -> Path:
    """Copy the assets into ``pages/_static/`` (fetching them first where needed); returns that folder.
    ``mathjax_only``: only MathJax (12 of 24 MB), for pages of our own without widgets or slides."""
    root = ensure(mathjax_only)
    static = pages / "_static"
    shutil.rmtree(static, ignore_errors=True)
    static.mkdir(parents=True)
    shutil.copytree(root / "mathjax", static / "mathjax")
    (static / "mathjax" / "config" / "local").mkdir(parents=True, exist_ok=True)
    (static / "mathjax" / "config" / "local" / "course.js").write_text(MATHJAX_LOCAL_CONFIG)
    for folder, (spec, files) in ({} if mathjax_only else NPM_PACKAGES).items():
        if folder in AUDIT_ONLY:
            continue
        package = root / "npm" / folder
        for rel in files:
            source = package / rel
            if len(files) == 1 and source.is_file():
                shutil.copy2(source, static / folder)
            elif source.is_dir():  # not the source maps, nor the renderer's non-AMD build (the pages use require.js)
                shutil.copytree(source, static / folder / rel, ignore=shutil.ignore_patterns("*.map", "embed.js*"))
            else:
                raise WebAssetsError(f"{spec} has no {rel}: has the package changed?")
    return static


def axe_js() -> Path:
    """axe-core's ``axe.min.js`` in the store (fetched from npm where needed), for :mod:`course_utils.a11y`."""
    spec, (name,) = NPM_PACKAGES["axe-core"]
    return ensure() / "npm" / "axe-core" / name


def template_settings(name: str) -> dict:
    """nbconvert exporter traits for the course's template ``name`` (``course_lab``: the site's pages,
    ``course_reveal``: the decks): each figure's ``alt`` text and the course's stylesheet (``course_common``)."""
    return {"template_name": name, "extra_template_basedirs": [str(TEMPLATES)],
            "extra_template_paths": [str(TEMPLATES / "course_common")]}


def exporter_settings(static: str) -> dict:
    """nbconvert exporter traits (HTMLExporter, SlidesExporter) for pages that find ``_static/`` at ``static``."""
    return {
        "mathjax_url": f"{static}/mathjax/MathJax.js?config={MATHJAX_CONFIG}",
        "require_js_url": f"{static}/require.js",
        "jquery_url": f"{static}/jquery.min.js",
        "widget_renderer_url": f"{static}/html-manager/dist/embed-amd.js",
    }


def mathjax_script(static: str) -> str:
    """The ``<script>`` tags that typeset ``$...$`` and ``$$...$$`` on a page of our own (the site's index)."""
    return (
        '<script type="text/x-mathjax-config">MathJax.Hub.Config({tex2jax: {inlineMath: [["$", "$"]], '
        'processEscapes: true}, messageStyle: "none"});</script>\n'
        f'<script src="{static}/mathjax/MathJax.js?config={MATHJAX_CONFIG}"></script>'
    )
