import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))



def _torch_is_pinned() -> bool:
    import re

    import torch

    pin = re.search(r"^torch==(\S+)", (ROOT / "constraints.txt").read_text(), re.M)
    return pin is not None and torch.__version__.split("+")[0] == pin.group(1)


# A test that compares with what constraints.txt's torch computed (random draws, image resizing) runs only there;
# course test-matrix runs the suite under other torches too.
needs_pinned_torch = pytest.mark.skipif(not _torch_is_pinned(), reason="compares with what constraints.txt's torch "
                                        "computed; another torch draws other random inputs")

# Unit tests never download anything.
os.environ.setdefault("COURSE_DOWNLOAD", "0")
os.environ.setdefault("COURSE_PROGRESS", "0")


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """A fresh, empty cache folder for one test."""
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(autouse=True)
def _fresh_check_results():
    """Every test starts and ends with no recorded check results."""
    from course_utils import checks

    checks.reset()
    yield
    checks.reset()


def checks_run(check, fn, capsys):
    """Run a notebook check on ``fn``; return (passed, what it printed)."""
    ok = check(fn)
    return bool(ok), capsys.readouterr().out


@pytest.fixture(scope="session")
def web_assets():
    """The pages' scripts from the registries (course_utils.webassets), fetched once; skipped where they cannot be
    fetched (no npm, no registry), except with COURSE_REQUIRE_WEBASSETS=1 (CI), where that fails."""
    from course_utils import webassets

    try:
        return webassets.ensure()
    except webassets.WebAssetsError as e:
        if os.environ.get("COURSE_REQUIRE_WEBASSETS") == "1":
            pytest.fail(f"COURSE_REQUIRE_WEBASSETS=1, and the pages' scripts could not be fetched: {e}")
        pytest.skip(f"the pages' scripts could not be fetched (set COURSE_REQUIRE_WEBASSETS=1 to fail): {e}")
