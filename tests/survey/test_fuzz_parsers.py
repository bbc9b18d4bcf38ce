"""Seeded fuzzing of every reader with damaged copies of real files (survey.robustness).

The default run reads a short deterministic slice (12 cases per parser); the ``slow`` test reads
400 per parser (100 of the tlog) when ``SURVEY_FUZZ_LONG=1`` (about 10 minutes on 2 cores). Every
case must end ``ok``, in a project error, or stopped at its parser's time budget: no traceback,
no hang.
"""

from __future__ import annotations

import os
import random
import struct
from pathlib import Path

import pytest

from survey.robustness import MUTATIONS, TARGETS, damage, fuzz

_IDS = [t.name for t in TARGETS]
#: tlog's damaged cases take up to its whole budget each (pymavlink rescans): slow run only
_QUICK = [t for t in TARGETS if t.name != "tlog"]


@pytest.fixture(autouse=True)
def _short_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SURVEY_PARSER_BUDGET_S", "8")


@pytest.mark.parametrize("target", TARGETS, ids=_IDS)
def test_undamaged_file_reads(target, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    """The reference: each source file is read without error (else damage proves nothing)."""
    from survey.robustness import outcome

    assert outcome(target.read, shared_data / target.source, 60.0) == ("ok", "")


@pytest.mark.parametrize("target", _QUICK, ids=[t.name for t in _QUICK])
def test_fuzz_slice(target, shared_data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = fuzz(target, shared_data, 12, seed=15, work_dir=tmp_path, timeout_s=20.0)
    assert r.cases == 12 and not r.defects, r.defects
    assert r.outcomes["ok"] + r.outcomes["error"] + r.outcomes["budget"] == 12
    assert r.outcomes["error"] >= 1  # the damage is real: some cases are refused


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS, ids=_IDS)
def test_fuzz_long(target, shared_data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if os.environ.get("SURVEY_FUZZ_LONG") != "1":
        pytest.skip("the long fuzz run needs SURVEY_FUZZ_LONG=1 (about 10 minutes)")
    n = 100 if target.name == "tlog" else 400
    r = fuzz(target, shared_data, n, seed=2026, work_dir=tmp_path, timeout_s=40.0)
    assert not r.defects, r.defects[:5]


def test_damage_is_seeded_and_changes_the_bytes() -> None:
    data = bytes(range(256)) * 40
    for how in MUTATIONS:
        a = damage(data, random.Random(f"x:{how}"), how)
        b = damage(data, random.Random(f"x:{how}"), how)
        assert a == b and a[1] != data, how
    _, hl = damage(data, random.Random(1), "huge_length")
    assert len(hl) == len(data) and any(
        struct.unpack_from(e + "I", hl, i)[0] in (0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFF)
        for i in range(len(hl) - 3)
        for e in "<>"
    )
