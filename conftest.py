"""pytest's settings for every test path (tests/, notebooks/, solutions/): how `./course test` shares them out.

`./course test` runs the suite side by side, one pytest-xdist worker per core (`--dist loadscope`; the command
sets the workers and their threads). A notebook's cells run in order in one kernel, and a test file's module
fixtures are built once, so each file is one unit of work on one worker; a notebook and its solution are one unit
together, so that the model one of them trains is the model the other loads, instead of both training it at once.
The units start longest first, so that the last to finish is a short one.
"""

from __future__ import annotations

from course_utils import syllabus

# A hint, from CI's measured durations (`CI_DURATIONS=0 .ci/run`, seconds per unit on 2 cores): a stale hint makes
# the run slower, never wrong. Units not named start afterwards, in collection order.
LONGEST_FIRST = (
    "tests/test_grade.py", "notebook-06", "tests/test_release_tools.py", "notebook-02", "tests/e2e/test_browser.py",
    "tests/test_gradescope_image.py", "notebook-05", "tests/test_grade_batch.py", "notebook-04", "notebook-03",
    "tests/test_grade_isolation.py", "tests/test_site.py",
)


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its file, or ``notebook-NN`` for both versions of notebook NN."""
    path = nodeid.split("::", 1)[0]
    folder, _, name = path.rpartition("/")
    if name.endswith(".ipynb") and folder in ("notebooks", "solutions"):
        notebook = syllabus.of_file(name)
        if notebook:
            return f"notebook-{notebook.number}"
    return path


def pytest_collection_modifyitems(config, items):
    if not hasattr(config, "workerinput"):  # only an xdist worker's run is reordered (all workers alike)
        return
    first_seen: dict[str, int] = {}
    for item in items:
        first_seen.setdefault(work_unit(item.nodeid), len(first_seen))
    rank = {unit: i for i, unit in enumerate(LONGEST_FIRST)}

    def order(item):
        unit = work_unit(item.nodeid)
        solution_first = 0 if item.nodeid.startswith("solutions/") else 1  # it trains; the student version loads
        return rank.get(unit, len(rank)), first_seen[unit], solution_first  # a stable sort: cells stay in order

    items.sort(key=order)


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadscope`` by :func:`work_unit` (xdist's own ``loadgroup`` does not group under pytest 9)."""
    if config.getoption("dist", "no") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ByWorkUnit(config, log)
