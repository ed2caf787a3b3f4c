"""Accessibility audits of the course's pages: axe-core (WCAG 2.1 AA) in headless Chromium.

The course's HTML pages (the site, the slide decks, the TA's written-answer pages, the students' feedback pages)
must meet WCAG 2.1 AA. :func:`audit` opens each page in Debian's Chromium (``/usr/bin/chromium``, driven by
Playwright; no browser is ever downloaded), waits for MathJax and the widgets, injects axe-core (from npm through
:mod:`course_utils.webassets`, never a CDN) and returns what axe-core finds, page by page, as records.
:func:`summary` counts them by rule and impact (the nodes that fail, as axe-core reports them), and
:func:`blocking` lists the ``serious`` and ``critical`` ones, which the tests do not allow.

A slide deck is audited in reveal.js's print view (``?print-pdf``), where every slide is laid out at once; the
speaker view (reveal.js's own page) is not a course page. ``benchmarks/accessibility.py`` builds every kind of page
and records the counts; ``tests/test_accessibility.py`` audits small builds of them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import webassets

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]
BLOCKING = ("critical", "serious")
IMPACTS = ("critical", "serious", "moderate", "minor")
# axe-core runs every rule it has except the experimental ones: WCAG 2.0/2.1 A and AA, and its best practices
RUN_OPTIONS = {"resultTypes": ["violations"]}


class A11yError(RuntimeError):
    """The audit could not run (no Chromium, no Playwright, no axe-core); the message says what to install."""


@dataclass
class Violation:
    rule: str
    impact: str
    help: str
    nodes: int
    targets: list[str] = field(default_factory=list)  # the first few elements, as CSS selectors
    tags: list[str] = field(default_factory=list)


@dataclass
class PageAudit:
    page: str  # the name given to audit() (a path relative to the build, say)
    violations: list[Violation]
    probe: object = None  # what audit()'s ``probe`` gave on this page

    def count(self, impacts=IMPACTS) -> int:
        return sum(v.nodes for v in self.violations if v.impact in impacts)


def chromium() -> Path:
    if not CHROMIUM.exists():
        raise A11yError("the audit needs Debian's Chromium at /usr/bin/chromium: sudo apt-get install chromium")
    return CHROMIUM


def _settle(page) -> None:
    """Wait for what changes the page after it loads: MathJax's typesetting, the widgets' rendering."""
    page.wait_for_load_state("load")
    if page.evaluate("() => !!document.querySelector('script[type=\"application/vnd.jupyter.widget-view+json\"]')"):
        try:  # the widget renderer replaces each view's script with the widget
            page.wait_for_function("() => document.querySelectorAll('.jupyter-widgets, .widget-output').length > 0",
                                   timeout=20_000)
        except Exception:  # noqa: BLE001 - a page whose widgets do not render is audited as it is
            pass
    try:
        page.wait_for_function("() => !window.MathJax || !MathJax.Hub || (MathJax.Hub.queue.pending === 0 && "
                               "!MathJax.Hub.queue.running)", timeout=60_000)
    except Exception:  # noqa: BLE001
        pass
    page.wait_for_timeout(300)


def _page_url(path: Path) -> str:
    url = path.resolve().as_uri()
    if path.name.endswith(".slides.html"):
        url += "?print-pdf"  # reveal.js lays out every slide at once
    return url


def audit(pages: dict[str, Path] | list[Path], browser=None, probe: str | None = None) -> list[PageAudit]:
    """axe-core's violations on each page (``{name: path}``, or paths named by themselves). ``browser``: a
    Playwright browser to use (else one is launched and closed here); ``probe``: a JavaScript function evaluated
    on each page once it has settled, before axe-core runs (its result: :attr:`PageAudit.probe`). Raises
    :class:`A11yError`."""
    named = pages if isinstance(pages, dict) else {str(p): Path(p) for p in pages}
    axe = webassets.axe_js().read_text(encoding="utf-8")
    if browser is not None:
        return [_audit_one(browser, name, path, axe, probe) for name, path in named.items()]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise A11yError("the audit needs Playwright's Python package (the course's dev extra)") from None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium()), args=CHROMIUM_ARGS)
        try:
            return [_audit_one(browser, name, path, axe, probe) for name, path in named.items()]
        finally:
            browser.close()


def _audit_one(browser, name: str, path: Path, axe: str, probe: str | None) -> PageAudit:
    # bypass_csp: the written-answer pages allow only their own scripts, and axe-core is injected
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(_page_url(path))
        _settle(page)
        probed = page.evaluate(probe) if probe else None
        page.add_script_tag(content=axe)
        found = page.evaluate("options => axe.run(document, options)", RUN_OPTIONS)
    finally:
        context.close()
    return PageAudit(name, [
        Violation(v["id"], v.get("impact") or "minor", v["help"], len(v["nodes"]),
                  [" ".join(map(str, n["target"])) for n in v["nodes"][:5]], v.get("tags", []))
        for v in found["violations"]], probed)


def summary(audits: list[PageAudit]) -> dict:
    """Counts of failing nodes: by impact, by rule (with its impact and help), and by page."""
    by_impact = Counter({i: 0 for i in IMPACTS})
    by_rule: dict[str, dict] = {}
    for a in audits:
        for v in a.violations:
            by_impact[v.impact] += v.nodes
            r = by_rule.setdefault(v.rule, {"impact": v.impact, "nodes": 0, "pages": 0, "help": v.help})
            r["nodes"] += v.nodes
            r["pages"] += 1
    return {
        "by_impact": dict(by_impact),
        "by_rule": dict(sorted(by_rule.items(), key=lambda kv: (IMPACTS.index(kv[1]["impact"]), -kv[1]["nodes"]))),
        "by_page": {a.page: {i: n for i in IMPACTS if (n := sum(v.nodes for v in a.violations if v.impact == i))}
                    for a in audits},
        "pages": len(audits),
    }


def blocking(audits: list[PageAudit]) -> list[str]:
    """One line per serious or critical violation: page, rule, how many nodes, the first elements."""
    return [f"{a.page}: {v.rule} ({v.impact}, {v.nodes} nodes: {v.help}) at {', '.join(v.targets[:3])}"
            for a in audits for v in a.violations if v.impact in BLOCKING]


def table(summ: dict) -> str:
    """The summary as text: impacts, then one line per rule."""
    lines = ["impact: " + ", ".join(f"{i} {summ['by_impact'].get(i, 0)}" for i in IMPACTS)
             + f" (failing nodes on {summ['pages']} pages)"]
    for rule, r in summ["by_rule"].items():
        lines.append(f"  {r['impact']:<9} {rule:<32} {r['nodes']:>6} nodes on {r['pages']:>3} pages  {r['help']}")
    return "\n".join(lines)


def to_json(audits: list[PageAudit]) -> str:
    return json.dumps(summary(audits), indent=1)
