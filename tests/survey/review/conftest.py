"""The review app's test client (the stored run fixtures are in tests/survey/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def client(run: tuple[Path, Any]) -> Any:
    """A Flask test client of the review app on a private copy of the run."""
    from survey.review.app import create_app
    from survey.store import open_run_store

    store = open_run_store(run[0])
    app = create_app(store, run[0], reviewer="tester")
    yield app.test_client()
    store.close()
