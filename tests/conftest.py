"""Shared test fixtures.

Real third-party data lives in ``../shared/data`` (see its README); tests that need it use the
``shared_data`` fixture, which skips with a clear reason when the folder is absent (an outside
user can still run the suite; CI always has it). Set ``SURVEY_SHARED_DATA`` to point elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    env = os.environ.get("SURVEY_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real third-party data (``../shared/data``); skips the test when absent."""
    path = _shared_data_dir()
    if not (path / "README.md").is_file():
        pytest.skip(f"real-data folder {path} is absent (set SURVEY_SHARED_DATA to use another)")
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root."""
    return ROOT


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that reads ``../shared/data`` carries the ``realdata`` marker."""
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.realdata)
