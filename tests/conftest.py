"""The fixtures and hooks every test gets. pytest loads this file; no test imports it (what test modules share that
is not a fixture is in tests/helpers.py)."""

import os

import pytest

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
