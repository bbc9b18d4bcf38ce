"""Merging sightings into defects, and coverage by chainage."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo import (
    CameraModel,
    CameraPoses,
    FlatGround,
    Georeferencer,
    LocalFrame,
    Route,
    coverage_by_chainage,
    frame_footprints,
    gsd_at_pixels,
    merge_sightings,
)
from geo.errors import GeoValueError


def test_merge_recovers_defects_from_noisy_sightings():
    rng = np.random.default_rng(0)
    # 30 true defects 4 m apart along a line, 2 classes; each seen 3-8 times with 0.8 m sigma
    true = np.stack([np.arange(30) * 4.0, np.zeros(30)], -1)
    cls_true = np.arange(30) % 2
    xs, ys, cls, owner, frames = [], [], [], [], []
    for i in range(30):
        k = rng.integers(3, 9)
        xy = true[i] + rng.normal(0, 0.8, (k, 2))
        xs += list(xy[:, 0])
        ys += list(xy[:, 1])
        cls += [cls_true[i]] * k
        owner += [i] * k
        frames += list(rng.choice(1000, k, replace=False) + 1000 * i)
    n = len(xs)
    cov = np.tile(np.eye(2) * 0.64, (n, 1, 1))
    score = rng.uniform(0.3, 1.0, n)
    m = merge_sightings(xs, ys, cov, cls, score=score, frame_id=frames)
    owner = np.array(owner)
    # purity: no group mixes two true defects; and groups ~ defects
    for g in range(len(m)):
        assert len(set(owner[m.members(g)])) == 1
    assert 30 <= len(m) <= 36
    # best evidence is the highest score of the group; fused error smaller than one sighting
    for g in range(len(m)):
        mem = m.members(g)
        assert m.best[g] == mem[np.argmax(score[mem])]
    err = np.hypot(m.x_m - true[owner[m.best], 0], m.y_m - true[owner[m.best], 1])
    assert np.median(err) < 0.8
    # covariance intersection: the fused ellipse is never smaller than the smallest member's
    assert np.all(m.cov_m2[:, 0, 0] >= 0.64 - 1e-9)


def test_merge_respects_class_frame_and_nan():
    cov = np.tile(np.eye(2), (4, 1, 1))
    m = merge_sightings(
        [0, 0.1, 0.2, np.nan], [0, 0, 0, 0], cov, [1, 2, 1, 1], frame_id=[7, 8, 7, 9]
    )
    # 0 and 2 are the same class but in the same frame: two defects; 1 is another class
    assert len(m) == 3 and m.group[3] == -1
    with pytest.raises(GeoValueError):
        merge_sightings([0, 1], [0], np.tile(np.eye(2), (2, 1, 1)), [1, 1])


def test_merge_complete_linkage_does_not_chain():
    # sightings every 1.5 m with 0.5 m sigma: neighbours pass the gate, the ends do not
    x = np.arange(8) * 1.5
    m = merge_sightings(x, np.zeros(8), np.tile(np.eye(2) * 0.25, (8, 1, 1)), np.ones(8))
    for g in range(len(m)):
        mem = m.members(g)
        assert np.ptp(x[mem]) <= 3.0 + 1e-9
    assert len(m) >= 3


def test_coverage_of_a_simulated_strip():
    frame = LocalFrame(32633)
    x0, y0 = frame.from_lonlat(15.62, 48.2)
    route = Route("L", shapely.LineString([(x0, y0), (x0, y0 + 400)]), frame.crs, 2000.0)
    cam = CameraModel(1000, 750, 1000.0, 1000.0, 499.5, 374.5)
    # nadir frames every 20 m along the line at 40 m (footprint 40 x 30 m), a 60 m hole
    ys = np.r_[np.arange(0, 160, 20.0), np.arange(240, 400, 20.0)]
    lon, lat = frame.to_lonlat(np.full(ys.size, x0), y0 + ys)
    poses = CameraPoses(lat, lon, np.full(ys.size, 40.0), "takeoff", np.zeros(ys.size),
                        np.full(ys.size, -90.0), np.zeros(ys.size))  # fmt: skip
    g = Georeferencer(cam, FlatGround(), frame=frame)
    fps = frame_footprints(g, poses)
    gsd = gsd_at_pixels(g, poses, np.full(ys.size, 499.5), np.full(ys.size, 374.5))
    assert gsd == pytest.approx(0.04, rel=1e-6)
    cov = coverage_by_chainage(route, fps, gsd, ["rgb"] * ys.size, step_m=0.5, half_width_m=5.0)
    # frames are 40 m wide along the line (image x is east... here north-up: 30 m along y)
    half = 15.0 * 0.9996
    assert cov.start_m[0] == pytest.approx(2000.0, abs=0.5)
    assert cov.end_m[0] == pytest.approx(2000.0 + 140 + half, abs=0.5)
    assert cov.gap_start_m[0] == pytest.approx(2000.0 + 140 + half, abs=0.5)
    assert cov.gap_end_m[0] == pytest.approx(2000.0 + 240 - half, abs=0.5)
    assert cov.gsd_m[0] == pytest.approx(0.04, rel=1e-6) and cov.min_frames[0] >= 1
    # a corridor wider than the footprint is never fully seen
    wide = coverage_by_chainage(route, fps, gsd, ["rgb"] * ys.size, half_width_m=25.0)
    assert wide.covered_length_m("rgb") == 0.0 and len(wide.gap_camera) == 1
