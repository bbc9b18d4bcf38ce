"""Helpers for the thermal tests."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest


def read_exiftool_dump(path: Path) -> dict[str, str]:
    """``Tag Name : value`` lines of an exiftool text dump (UTF-8 or UTF-16), last one wins."""
    data = path.read_bytes()
    text = (
        data.decode("utf-16")
        if data[:2] in (b"\xff\xfe", b"\xfe\xff")
        else data.decode("utf-8", "replace")
    )
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"^\s*([^:]+?)\s*:\s?(.*)$", line)
        if m:
            out.setdefault(m.group(1).strip(), m.group(2).strip())
    return out


@pytest.fixture(scope="session")
def thermal_data(shared_data: Path) -> Path:
    """``../shared/data/thermal``."""
    return shared_data / "thermal"


@pytest.fixture(scope="session")
def exiftool_dump() -> Callable[[Path], dict[str, str]]:
    """The parser of exiftool text dumps (:func:`read_exiftool_dump`)."""
    return read_exiftool_dump
