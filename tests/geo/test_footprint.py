"""Frame footprints, image polygons and masks on the ground, ground sample distance."""

from __future__ import annotations

import numpy as np
import pytest

from geo import (
    CameraModel,
    CameraPoses,
    FlatGround,
    Georeferencer,
    LocalFrame,
    frame_footprints,
    gsd_at_pixels,
    image_polygon_to_ground,
    mask_to_ground,
)
from geo.errors import GeoValueError

FRAME = LocalFrame(32633)


def test_nadir_footprint_is_altitude_times_sensor_over_focal():
    cam = CameraModel(4000, 3000, 3000.0, 3000.0, 1999.5, 1499.5)
    pose = CameraPoses.single(48.2, 15.0, 60.0, "takeoff", 0.0, -90.0, 0.0)
    g = Georeferencer(cam, FlatGround(), frame=FRAME)
    fp = frame_footprints(g, pose)[0]
    minx, miny, maxx, maxy = fp.bounds
    assert (maxx - minx) / 0.9996 == pytest.approx(60.0 * 4000 / 3000, abs=1e-6)
    assert (maxy - miny) / 0.9996 == pytest.approx(60.0 * 3000 / 3000, abs=1e-6)


def test_oblique_footprint_is_clipped_at_range():
    cam = CameraModel(1000, 800, 700.0, 700.0, 499.5, 399.5)
    pose = CameraPoses.single(48.2, 15.0, 50.0, "takeoff", 0.0, -20.0, 0.0)  # top rows see sky
    g = Georeferencer(cam, FlatGround(), frame=FRAME)
    fp = frame_footprints(g, pose, clip_range_m=300.0)[0]
    x0, y0 = FRAME.from_lonlat(15.0, 48.2)
    assert fp.is_valid and fp.bounds[3] - y0 == pytest.approx(300 * 0.9996, rel=1e-3)
    # without clipping, rays above the horizon are dropped and those just below it reach
    # kilometres away: that is why footprints for coverage are clipped
    unclipped = frame_footprints(g, pose, clip_range_m=None)[0]
    assert unclipped is not None and unclipped.bounds[3] - y0 > 2000


def test_mask_polygon_area_with_holes_and_islands():
    cam = CameraModel(100, 80, 100.0, 100.0, 49.5, 39.5)
    pose = CameraPoses.single(48.2, 15.0, 10.0, "takeoff", 0.0, -90.0, 0.0)  # 0.1 m per pixel
    g = Georeferencer(cam, FlatGround(), frame=FRAME)
    m = np.zeros((80, 100), bool)
    m[10:30, 20:60] = True  # 800 px
    m[15:20, 30:35] = False  # hole of 25 px
    m[16:18, 31:33] = True  # island of 4 px inside the hole
    m[50, 50] = True  # single pixel
    poly = mask_to_ground(g, pose, m)
    assert poly.area / 0.9996**2 == pytest.approx((800 - 25 + 4 + 1) * 0.01, rel=1e-9)
    assert mask_to_ground(g, pose, np.zeros((80, 100), bool)) is None
    with pytest.raises(GeoValueError, match="camera is 100x80"):
        mask_to_ground(g, pose, np.zeros((10, 10), bool))
    # a single pixel lands where the pixel's own footprint is: centre (50, 50) of the image
    x0, y0 = FRAME.from_lonlat(15.0, 48.2)
    px = [p for p in poly.geoms if p.area < 0.02][0]
    assert (px.centroid.x - x0) / 0.9996 == pytest.approx((50 - 49.5) * 0.1, abs=1e-9)
    assert (px.centroid.y - y0) / 0.9996 == pytest.approx(-(50 - 39.5) * 0.1, abs=1e-9)


def test_image_polygon_follows_distortion():
    cam = CameraModel(1000, 800, 700.0, 700.0, 499.5, 399.5, k1=-0.15)
    pose = CameraPoses.single(48.2, 15.0, 50.0, "takeoff", 0.0, -90.0, 0.0)
    g = Georeferencer(cam, FlatGround(), frame=FRAME)
    ring = [[-0.5, -0.5], [999.5, -0.5], [999.5, 799.5], [-0.5, 799.5]]
    dense = image_polygon_to_ground(g, pose, ring, max_step_px=2.0)
    coarse = image_polygon_to_ground(g, pose, ring, max_step_px=1e6)
    # barrel distortion: the corners see farther out than the edge midpoints, so the ground
    # outline of a straight image edge bends inwards between the corners
    assert dense.area < coarse.area * 0.95
    mid_top = image_polygon_to_ground(g, pose, [[499.5, -0.5], [500.5, -0.5], [500.5, 0.5]])
    assert coarse.exterior.distance(mid_top.centroid) > 1.0


def test_gsd():
    cam = CameraModel(1001, 801, 1000.0, 1000.0, 500.0, 400.0)
    pose = CameraPoses.single(48.2, 15.0, 50.0, "takeoff", 0.0, -60.0, 0.0)
    g = Georeferencer(cam, FlatGround(), frame=FRAME)
    gsd = gsd_at_pixels(g, pose, [500.0], [400.0])[0]
    # centre: range 50/sin60, pixel angle 1/1000, stretched by 1/sin60 along the look direction
    r = 50 / np.sin(np.radians(60))
    assert gsd == pytest.approx(np.sqrt((r / 1000) * (r / 1000 / np.sin(np.radians(60)))), rel=1e-4)
