"""Hostile requests to the review API: every one a 4xx JSON answer, nothing stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from survey.store import open_run_store


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/api/defects?min_severity=%C2%B2", 400, "min_severity must be 1..5"),  # '²' is a digit
        ("/api/defects?min_severity=%EF%BC%93", 400, "min_severity must be 1..5"),  # fullwidth 3
        ("/evidence/x.png%00.png", 404, ""),
        ("/api/defects/D%00001", 404, ""),
        ("/api/frames?defect=%ff", 404, "no defect"),
    ],
)
def test_hostile_reads(client: Any, url: str, status: int, message: str) -> None:
    r = client.get(url)
    assert r.status_code == status, (r.status_code, r.data[:200])
    assert message in r.get_json()["error"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ('{"decision": "confirmed", "comment": "\\ud800"}', 400, "comment"),  # lone surrogate
        ("[" * 20000 + "]" * 20000, 400, "JSON object"),  # 20k-deep nesting
        ('{"decision": "confirmed", "severity": 1e999}', 400, "severity must be an integer"),
        ('{"decision": NaN}', 400, "decision must be one of"),
        ('{"decision": "confirmed", "reviewer": "a\\u0000b"}', 400, "reviewer must be a name"),
    ],
)
def test_hostile_decisions(
    client: Any, run: tuple[Path, Any], body: str, status: int, message: str
) -> None:
    r = client.post("/api/defects/D0003/review", data=body, content_type="application/json")
    assert r.status_code == status, (r.status_code, r.data[:300])
    assert message in r.get_json()["error"]
    with open_run_store(run[0]) as st:
        assert st.reviews("D0003") == []
