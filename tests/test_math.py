"""Every formula renders: each ``$...$`` and ``$$...$$`` in every markdown cell of both notebook folders goes through
MathJax's own TeX parser, without a browser, and none may fail (an undefined macro, a missing argument, an
unbalanced brace, a ``\\begin`` without its ``\\end``).

The parser is npm's ``mathjax-full`` (MathJax 3's TeX input jax with the packages the pages' MathJax has: base, AMS,
newcommand, boldsymbol, color), run by node over a lite DOM. It is fetched once into the course's cache, next to the
pages' other scripts (``course_utils.webassets``); where npm or its registry is not there the test is skipped, as
the other web-asset tests are, except with ``COURSE_REQUIRE_WEBASSETS=1`` (CI), where it fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import nbformat
import pytest

from course_utils import syllabus
from course_utils.paths import cache_dir
from helpers import ROOT

MATHJAX_FULL = "mathjax-full@3.2.2"
NOTEBOOKS = [nb.solution(ROOT) for nb in syllabus.NOTEBOOKS] + [nb.student(ROOT) for nb in syllabus.NOTEBOOKS]

CHECKER = r"""
const fs = require('fs');
const [root, input] = process.argv.slice(2);
const {TeX} = require(root + '/js/input/tex.js');
const {HTMLDocument} = require(root + '/js/handlers/html/HTMLDocument.js');
const {liteAdaptor} = require(root + '/js/adaptors/liteAdaptor.js');
for (const p of ['base/BaseConfiguration', 'ams/AmsConfiguration', 'newcommand/NewcommandConfiguration',
                 'boldsymbol/BoldsymbolConfiguration', 'color/ColorConfiguration']) {
  require(root + '/js/input/tex/' + p + '.js');
}
const tex = new TeX({packages: ['base', 'ams', 'newcommand', 'boldsymbol', 'color'],
                     formatError: (jax, err) => { throw err; }});
const doc = new HTMLDocument('', liteAdaptor(), {InputJax: tex});
const errors = [];
for (const f of JSON.parse(fs.readFileSync(input, 'utf8'))) {
  try { doc.convert(f.tex, {display: f.display}); }
  catch (e) { errors.push({where: f.where, tex: f.tex, error: e.message}); }
}
process.stdout.write(JSON.stringify(errors));
"""


def _unavailable(why: str):
    if os.environ.get("COURSE_REQUIRE_WEBASSETS") == "1":
        pytest.fail(f"COURSE_REQUIRE_WEBASSETS=1, and MathJax's TeX parser is not available: {why}")
    pytest.skip(f"MathJax's TeX parser is not available (set COURSE_REQUIRE_WEBASSETS=1 to fail): {why}")


@pytest.fixture(scope="module")
def mathjax_full() -> Path:
    """The unpacked ``mathjax-full`` package (fetched with ``npm pack`` once, into the course's web cache)."""
    if not shutil.which("node"):
        _unavailable("node is not installed (e.g. 'sudo apt-get install nodejs npm')")
    dest = cache_dir("web") / "npm" / "mathjax-full"
    marker = dest / ".spec"
    if marker.exists() and marker.read_text() == MATHJAX_FULL:
        return dest
    if not shutil.which("npm"):
        _unavailable("npm is not installed (e.g. 'sudo apt-get install npm')")
    tmp = dest.with_name("mathjax-full.part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        done = subprocess.run(["npm", "pack", MATHJAX_FULL, "--silent", "--pack-destination", str(tmp)],
                              capture_output=True, text=True, timeout=600, cwd=tmp)
    except subprocess.TimeoutExpired:
        _unavailable("npm pack took over 10 minutes: is the registry reachable?")
    tgz = next(tmp.glob("*.tgz"), None)
    if done.returncode != 0 or tgz is None:
        shutil.rmtree(tmp, ignore_errors=True)
        _unavailable(f"npm pack {MATHJAX_FULL} failed: {done.stderr.strip()[-400:]}")
    with tarfile.open(tgz) as t:
        t.extractall(tmp / "x", filter="data")
    shutil.rmtree(dest, ignore_errors=True)
    (tmp / "x" / "package").rename(dest)
    shutil.rmtree(tmp, ignore_errors=True)
    marker.write_text(MATHJAX_FULL)
    return dest


def formulas(markdown: str) -> list[tuple[str, bool]]:
    """The TeX of every formula in a markdown cell, as (tex, display): ``$$...$$`` first, then ``$...$``; code
    blocks and code spans hold none, and ``\\$`` is a dollar sign."""
    text = re.sub(r"^(```|~~~).*?^\1", " ", markdown, flags=re.S | re.M)  # fenced code
    text = re.sub(r"`[^`\n]*`", " ", text)  # code spans
    text = text.replace("\\$", " ")
    out = []

    def display(m):
        out.append((m.group(1), True))
        return " "

    text = re.sub(r"\$\$(.+?)\$\$", display, text, flags=re.S)
    for m in re.finditer(r"\$([^$]+?)\$", text, flags=re.S):
        out.append((m.group(1), False))
    return out


def check(mathjax: Path, items: list[dict], tmp_path: Path) -> list[dict]:
    """MathJax's errors for the formulas ``items`` (dicts with ``where``, ``tex``, ``display``)."""
    script, data = tmp_path / "check_tex.js", tmp_path / "formulas.json"
    script.write_text(CHECKER)
    data.write_text(json.dumps(items))
    done = subprocess.run(["node", str(script), str(mathjax), str(data)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_formulas_are_found_where_a_reader_sees_them():
    md = ("Inline $a_1$ and $$\\sum_k x_k$$, costs \\$5, `$HOME` and `$$x$$` are code,\n"
          "```\n$not math$\n```\nand $b\n+ c$ over two lines.")
    assert formulas(md) == [("\\sum_k x_k", True), ("a_1", False), ("b\n+ c", False)]


def test_the_parser_finds_errors(mathjax_full, tmp_path):
    bad = ["\\mathbb_{q(z)}", "\\frac{a}", "\\undefinedmacro x", "\\begin{aligned} a \\end{align}", "{x"]
    good = ["\\mathbb{E}_{q}\\big[\\log p(x)\\big]", "\\operatorname{diag} \\dfrac{a}{b} \\texttt{log\\_k}",
            "\\begin{aligned} a &= b && \\text{(why)} \\\\ &\\geq c \\end{aligned}", "\\boldsymbol{\\theta}"]
    items = [{"where": t, "tex": t, "display": True} for t in bad + good]
    failed = {e["tex"] for e in check(mathjax_full, items, tmp_path)}
    assert failed == set(bad), failed


def test_every_formula_renders(mathjax_full, tmp_path):
    items = []
    for path in NOTEBOOKS:
        nb = nbformat.read(str(path), as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                items += [{"where": f"{path.parent.name}/{path.name} cell {i} ({cell.get('id', '?')})", "tex": tex,
                           "display": display} for tex, display in formulas(cell.source)]
    assert len(items) > 500, f"only {len(items)} formulas found: is the extraction broken?"
    errors = check(mathjax_full, items, tmp_path)
    assert not errors, f"{len(errors)} formulas do not render:\n" + "\n".join(
        f"{e['where']}: {e['error']}: {e['tex'][:120]!r}" for e in errors)
