"""The imagery stage's tile arithmetic, interpolation and bounded canvas, against hand values."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from survey.process import imagery as im


def test_tile_numbering_matches_the_slippy_map_convention() -> None:
    """Tile coordinates agree with PROJ's EPSG:3857 (x east from -180, y south from the top)."""
    from pyproj import Transformer

    lon0 = np.array([11.5748, -122.4194, 151.2093])
    lat0 = np.array([48.1372, 37.7749, -33.8688])
    mx, my = Transformer.from_crs(4326, 3857, always_xy=True).transform(lon0, lat0)
    tx, ty = im.lonlat_to_tile(lon0, lat0, 18)
    np.testing.assert_allclose(tx, (mx + im.EARTH_M / 2) / im.EARTH_M * 2**18, atol=1e-6)
    np.testing.assert_allclose(ty, (im.EARTH_M / 2 - my) / im.EARTH_M * 2**18, atol=1e-6)
    assert (int(tx[0]), int(ty[0])) == (139500, 90975)  # Munich
    # the tile's corners contain the point, and pixel positions round-trip
    w, s, e, n = im.tile_bounds_lonlat(18, 139500, 90975)
    assert w < 11.5748 < e and s < 48.1372 < n
    px = np.array([0.5, 100.25, 255.5])
    lon, lat = im.tile_pixel_lonlat(18, 139500, 90975, px, px[::-1])
    bx, by = im.lonlat_to_tile(lon, lat, 18)
    np.testing.assert_allclose((bx - 139500) * 256, px, atol=1e-6)
    np.testing.assert_allclose((by - 90975) * 256, px[::-1], atol=1e-6)


def test_zoom_and_resolution() -> None:
    # z0 pixel at the equator: 40,075,016.686 m / 256 = 156,543.03 m
    assert im.tile_resolution_m(0, 0.0) == pytest.approx(156543.0339, rel=1e-9)
    assert im.tile_resolution_m(22, 60.0) == pytest.approx(156543.0339 / 2**22 / 2, rel=1e-9)
    assert im.zoom_for_gsd(0.0298, 0.0) == 22
    assert im.zoom_for_gsd(0.0298, 60.0) == 21
    assert im.zoom_for_gsd(0.0005, 48.0, max_zoom=23) == 23  # capped
    assert im.zoom_for_gsd(500.0, 48.0) == im.MIN_ZOOM_FLOOR  # floored


def test_grid_interpolation_is_exact_for_bilinear_functions() -> None:
    """The 17 x 17 grid reproduces any function linear in x and y (and bilinear) exactly at
    every pixel centre (i + 0.5)."""
    g = im._GRID
    gx, gy = np.meshgrid(g, g)
    f = 3.0 + 0.25 * gx - 1.5 * gy + 0.01 * gx * gy
    up = im._upsample(f[None].astype(np.float64))[0]
    c = np.arange(256) + 0.5
    cx, cy = np.meshgrid(c, c)
    np.testing.assert_allclose(up, 3.0 + 0.25 * cx - 1.5 * cy + 0.01 * cx * cy, atol=2e-4)


def test_canvas_spills_to_disk_and_gets_every_tile_back(tmp_path: Path) -> None:
    cv = im._Canvas(tmp_path / "work", capacity=8)
    rng = np.random.default_rng(1)
    want = {}
    for k in range(30):
        bgr, score = cv.get((k, 2 * k))
        bgr[:] = rng.integers(0, 255, bgr.shape, dtype=np.uint8)
        score[:] = np.float16(k)
        want[(k, 2 * k)] = bgr.copy()
    assert len(cv.mem) == 8 and len(cv.spilled) == 22
    assert len(list((tmp_path / "work").glob("*.npz"))) == 22
    assert cv.keys() == sorted(want)
    for key in sorted(want, reverse=True):
        bgr, score = cv.pop(key)
        np.testing.assert_array_equal(bgr, want[key])
        assert float(score[0, 0]) == key[0]
    assert not cv.mem and not cv.spilled


def test_layer_index_round_trips(tmp_path: Path) -> None:
    la = im.ImageryLayer(
        "thermal", 15, 22, (15.8, 48.3, 15.81, 48.31), {22: 9, 21: 3}, 7, 0.026, 1234,
        "thermal.tif", display_c=(18.5, 27.0), failures={"t:3": "unreadable frame"},
    )  # fmt: skip
    (tmp_path / "imagery.json").write_text(
        __import__("json").dumps({"layers": [la.to_json()]}), encoding="utf-8"
    )
    (back,) = im.read_imagery_index(tmp_path)
    assert back == la and back.url == "thermal/{z}/{x}/{y}.webp"
    assert im.read_imagery_index(tmp_path / "nowhere") == []
    assert math.isclose(back.gsd_m, 0.026)
