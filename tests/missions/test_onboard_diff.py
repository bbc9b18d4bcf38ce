"""`survey diff` on hand-made runs whose answer is known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from missions.onboard.cli import diff
from missions.onboard.diff import DiffError, diff_runs, load_run

M = 1 / 111_195.0  # degrees of latitude per metre (R = 6371.0088 km)


def write(path: Path, rows: list[tuple[str, float, float]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            [
                {
                    "class_name": c,
                    "lat_deg": 48.3 + dn * M,
                    "lon_deg": 15.8,
                    "chainage_m": 1000 + dn,
                }
                for c, dn, _ in rows
            ]
        )
    )
    return path


def test_pairs_by_class_and_distance(tmp_path: Path) -> None:
    write(
        tmp_path / "a" / "onboard" / "defects.json",
        [
            ("broken_rail", 0, 0),
            ("vegetation", 10.0, 0),
            ("drainage", 50, 0),
            ("obstruction", 80, 0),
        ],
    )
    b = write(
        tmp_path / "b.json",
        [
            ("broken_rail", 1.5, 0),
            ("ballast_defect", 11.0, 0),
            ("sleeper_defect", 200, 0),
            ("obstruction", 82.5, 0),
        ],
    )
    rows = diff_runs(load_run(tmp_path / "a"), load_run(b), radius_m=3.0)
    kinds = [(r.kind, r.class_a, r.class_b) for r in rows]
    assert kinds == [
        ("both", "broken_rail", "broken_rail"),
        ("class", "vegetation", "ballast_defect"),
        ("a_only", "drainage", ""),
        ("both", "obstruction", "obstruction"),
        ("b_only", "", "sleeper_defect"),
    ]
    assert rows[0].distance_m == pytest.approx(1.5, abs=1e-3)
    assert rows[3].distance_m == pytest.approx(2.5, abs=1e-3)
    res = CliRunner().invoke(diff, [str(tmp_path / "a"), str(b), "--json"])
    s = json.loads(res.output)
    assert (s["both"], s["class_disagreements"], s["a_only"], s["b_only"]) == (2, 1, 1, 1)
    assert s["share_of_b_found_by_a"] == pytest.approx(0.5)
    table = CliRunner().invoke(diff, [str(tmp_path / "a"), str(b)]).output
    assert "1+000.0  both    broken_rail" in table


def test_unreadable_run_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    with pytest.raises(DiffError, match="x.json"):
        load_run(bad)
    with pytest.raises(DiffError, match="no onboard/defects.json"):
        load_run(tmp_path)
