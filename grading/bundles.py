"""Build the zips that leave the repository: the students' bundle and Gradescope's autograder.

    python grading/bundles.py student                # build/ssl-course-student.zip
    python grading/bundles.py gradescope [NN ...]    # build/gradescope-NN_topic.zip, one per assignment (default: all)

(``./course student-bundle`` and ``./course gradescope [NN]`` do the same.)

The students' bundle holds ``notebooks/``, ``course_utils/``, ``environment.yml``, ``pyproject.toml``,
``constraints.txt``, ``README.md``, the ``course`` script, the data instructions (``data/README.md``), the licences,
``CITATION.cff`` and ``CHANGELOG.md``: never ``solutions/``, ``tests/``, ``tools/`` or ``grading/``. It is refused while ``notebooks/`` is stale against ``solutions/``, and ``leaks()`` checks that no
solution line, hidden test or marker got in.

The Gradescope zip holds ``setup.sh`` and ``run_autograder`` (from ``grading/gradescope/``) at its root, the course
package to install, and the one solution notebook whose hidden tests grade that assignment.
"""

from __future__ import annotations

import argparse
import stat
import sys
import zipfile
from pathlib import Path

from course_utils.assign import problems
from course_utils.grade.spec import assignment_paths
from course_utils.nbcode import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    MARKERS,
    block_lines,
    is_generated_note,
    is_instructor_note,
)

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
GRADESCOPE = ROOT / "grading" / "gradescope"
STUDENT_FILES = ["README.md", "environment.yml", "pyproject.toml", "constraints.txt", "course", "data/README.md",
                 "LICENSE", "LICENSES/CC-BY-4.0.txt", "CITATION.cff", "CHANGELOG.md"]


def _package_files(folder: Path) -> list[Path]:
    def shipped(p: Path) -> bool:
        return p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")

    return sorted(p for p in folder.rglob("*") if shipped(p) and not p.name.startswith("."))


def _add(zf: zipfile.ZipFile, path: Path, arcname: str, data: bytes | None = None) -> None:
    info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))  # fixed: the same inputs give the same zip
    info.compress_type = zipfile.ZIP_DEFLATED
    mode = path.stat().st_mode if path is not None else 0o644
    info.external_attr = ((0o755 if mode & stat.S_IXUSR else 0o644) | stat.S_IFREG) << 16
    zf.writestr(info, data if data is not None else path.read_bytes())


def student_bundle(out: Path | None = None, require_current: bool = True) -> Path:
    stale = problems() if require_current else []
    if stale:
        raise SystemExit("notebooks/ is not current, so no bundle:\n  " + "\n  ".join(stale))
    out = Path(out or BUILD / "ssl-course-student.zip")
    out.parent.mkdir(parents=True, exist_ok=True)
    files = [ROOT / f for f in STUDENT_FILES if (ROOT / f).exists()]
    files += sorted((ROOT / "notebooks").glob("*.ipynb")) + _package_files(ROOT / "course_utils")
    with zipfile.ZipFile(out, "w") as zf:
        for f in files:
            _add(zf, f, "ssl-course/" + f.relative_to(ROOT).as_posix())
    return out


def gradescope_bundle(assignment: str, out: Path | None = None) -> Path:
    from course_utils.grade.spec import find_solution, load_assignment

    solution = find_solution(assignment, ROOT / "solutions")
    spec = load_assignment(solution)  # refuses a notebook without tests
    out = Path(out or BUILD / f"gradescope-{spec.notebook}.zip")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as zf:
        _add(zf, GRADESCOPE / "setup.sh", "setup.sh")
        script = (GRADESCOPE / "run_autograder").read_text().replace("@ASSIGNMENT@", spec.number)
        _add(zf, GRADESCOPE / "run_autograder", "run_autograder", script.encode())
        for f in [ROOT / name for name in ("pyproject.toml", "constraints.txt", "LICENSE", "README.md",
                                           "environment.yml", "data/README.md")]:
            if f.exists():
                _add(zf, f, f.relative_to(ROOT).as_posix())
        for f in _package_files(ROOT / "course_utils"):
            _add(zf, f, f.relative_to(ROOT).as_posix())
        _add(zf, solution, f"solutions/{solution.name}")
    return out


def solution_lines(solutions_dir: Path = ROOT / "solutions") -> set[str]:
    """Every substantial line (12+ characters, not a comment) inside a solution or hidden-test block, and of every
    instructor note."""
    import nbformat

    lines = set()
    for path in sorted(Path(solutions_dir).glob("*.ipynb")):
        for i, cell in enumerate(nbformat.read(str(path), as_version=4).cells):
            if is_instructor_note(cell):  # not the generated mistakes notes: their hints are what the checks print
                if not is_generated_note(cell):
                    lines.update(s.strip() for s in cell.source.split("\n") if len(s.strip()) >= 12)
                continue
            for begin, end in ((BEGIN_SOLUTION, END_SOLUTION), (BEGIN_HIDDEN, END_HIDDEN)):
                for line in block_lines(cell.source, begin, end, f"{path.name}, cell {i}"):
                    s = line.strip()
                    if len(s) >= 12 and not s.startswith("#"):
                        lines.add(s)
    return lines


def leaks(zip_path: Path) -> list[str]:
    """What in a students' bundle gives an answer or a hidden test away (empty when nothing does)."""
    answers = solution_lines()
    found = []
    with zipfile.ZipFile(zip_path) as zf:
        for name in zf.namelist():
            parts = name.split("/")
            if {"solutions", "tests", "grading", "tools"} & set(parts[1:2]):
                found.append(f"{name}: a folder that must not ship")
                continue
            try:
                text = zf.read(name).decode("utf-8")
            except UnicodeDecodeError:
                continue  # binary stored values (.pt)
            if name.endswith(".ipynb"):
                for marker in MARKERS:
                    if marker in text:
                        found.append(f"{name}: holds the marker {marker!r}")
                import nbformat

                text = "\n".join(c.source for c in nbformat.reads(text, as_version=4).cells)
            stripped = {line.strip() for line in text.split("\n")}
            found += [f"{name}: holds a solution or hidden-test line: {a!r}" for a in sorted(answers & stripped)]
    return found


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    s = sub.add_parser("student", help="the students' zip")
    s.add_argument("--out")
    g = sub.add_parser("gradescope", help="Gradescope's autograder zip, one per assignment")
    g.add_argument("assignments", nargs="*", help="NN or NN_topic (default: every solution notebook)")
    a = ap.parse_args(argv)
    if a.what == "student":
        out = student_bundle(a.out)
        found = leaks(out)
        if found:
            out.unlink()
            print("refused: the bundle would give answers away:\n  " + "\n  ".join(found[:20]), file=sys.stderr)
            return 1
        print(f"wrote {out} (no solution line, hidden test or marker in it)")
        return 0
    names = a.assignments or [p.stem for p in assignment_paths(ROOT / "solutions")]
    for n in names:
        out = gradescope_bundle(n)
        print(f"wrote {out.relative_to(ROOT)}: upload it as the autograder of assignment {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
