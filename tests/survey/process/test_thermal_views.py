"""Multi-view confirmation of thermal leak candidates (survey.process.fuse.thermal_views)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely

from survey.process.fuse import thermal_views
from survey.process.locate import Sightings
from survey.process.select import Selection


def _sightings(frames: list[tuple[str, int]]) -> Sightings:
    n = len(frames)
    return Sightings(
        records=[{"stream": sid, "row": row, "sensor": "thermal"} for sid, row in frames],
        crs="EPSG:32633", x_m=np.zeros(n), y_m=np.zeros(n), cov_m2=np.tile(np.eye(2), (n, 1, 1)),
        polygon=np.full(n, None, dtype=object), gsd_m=np.full(n, 0.06), t_s=np.arange(n, dtype=float),
        located=np.ones(n, bool), reason=np.full(n, "", dtype=object),
    )  # fmt: skip


def _selection(folder: Path, sid: str, boxes: list[tuple[float, float, float, float]]) -> None:
    k = len(boxes)
    Selection(
        sid, np.arange(k, dtype=np.intp), np.full(k, 0.06),
        np.array([shapely.box(*b) for b in boxes], dtype=object),
        np.zeros((k, 2, 2), bool), 8,
    ).save(folder)  # fmt: skip


def test_single_frame_blip_rejected_only_where_other_frames_saw_the_ground(
    tmp_path: Path,
) -> None:
    # four frames stepping 10 m along x, each 30 m long: -10..20, 0..30, 10..40, 20..50
    _selection(tmp_path, "IR", [(-10 + 10 * i, -20, 20 + 10 * i, 20) for i in range(4)])
    s = _sightings([("IR", 0), ("IR", 1), ("IR", 2), ("IR", 2), ("IR", 3)])
    groups = [
        {"x": 25.0, "y": 0.0, "members": np.array([0, 1])},  # 2 of 3 frames: a leak
        {"x": 25.0, "y": 3.0, "members": np.array([2])},  # 1 of 3: a blip
        {"x": -5.0, "y": 0.0, "members": np.array([3])},  # only frame 0 saw it: kept
        {"x": 35.0, "y": 0.0, "members": np.array([4])},  # frames 2 and 3 saw it: a blip
    ]
    v = thermal_views(groups, s, tmp_path, min_views=2)
    assert v.seen.tolist() == [2, 1, 1, 1]
    assert v.possible.tolist() == [3, 3, 1, 2]
    assert v.kept.tolist() == [True, False, True, False]
    assert v.reason[1] == "single-frame blip: seen in 1 of 3 thermal frames over its ground"
    # off: nothing rejected
    assert thermal_views(groups, s, tmp_path, min_views=0).kept.all()
    # two sightings of one frame are one view
    v2 = thermal_views([{"x": 25.0, "y": 0.0, "members": np.array([2, 3])}], s, tmp_path, 2)
    assert v2.seen.tolist() == [1] and not v2.kept[0]


def test_a_stream_without_a_selection_counts_only_its_sightings(tmp_path: Path) -> None:
    s = _sightings([("IR", 0)])
    v = thermal_views([{"x": 0.0, "y": 0.0, "members": np.array([0])}], s, tmp_path, 2)
    assert v.possible.tolist() == [1] and v.kept.tolist() == [True]
