"""Fixtures for the telemetry tests: the real logs folder and cached tracks."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tele(shared_data: Path) -> Path:
    """``../shared/data/telemetry`` (skips when the real-data folder is absent)."""
    return shared_data / "telemetry"


@lru_cache(maxsize=32)
def _read(path: str, check: bool):  # type: ignore[no-untyped-def]
    from survey.telemetry.read import _reader, sniff_kind
    from survey.telemetry.sanity import check_track

    tr = _reader(sniff_kind(path))(Path(path))  # type: ignore[arg-type]
    return check_track(tr) if check else tr


@pytest.fixture(scope="session")
def read():  # type: ignore[no-untyped-def]
    """Read a log once per session: ``read(path, check=True)``."""
    return lambda path, check=True: _read(str(path), check)
