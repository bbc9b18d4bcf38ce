"""Pieces of the processing pipeline that need no simulated flight: frame selection's cover,
corridor bands, video intrinsics, defect ids, local solar time, the stage parameters."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from survey.config import Config
from survey.process.cameras import (
    CameraError,
    camera_from_f35,
    camera_from_fov,
    video_camera,
    video_info,
    video_mode,
)
from survey.process.detect import _dedupe, band_windows, crop_box
from survey.process.fuse import defect_id
from survey.process.pipeline import PIPELINE, stage_params
from survey.process.select import greedy_cover
from survey.process.thermal_stage import local_solar_hour


def _csr(sets: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    starts = np.cumsum([0] + [len(s) for s in sets[:-1]])
    return starts.astype(np.intp), np.concatenate([np.asarray(s, np.intp) for s in sets])


def test_greedy_cover_single_view_is_minimal_on_a_line() -> None:
    # 10 stations; frames cover [0-3], [2-5], [4-7], [6-9], [1-8] (a long one), [9]
    sets = [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8, 9], list(range(1, 9)), [9]]
    starts, members = _csr(sets)
    chosen = greedy_cover(starts, members, np.ones(6), n_stations=10, min_views=1, min_gain=1)
    covered = np.zeros(10, int)
    for j in chosen:
        covered[sets[j]] += 1
    assert chosen[0] == 4  # the long frame first
    assert (covered >= 1).all() and len(chosen) == 3


def test_greedy_cover_two_views_and_weights() -> None:
    sets = [[0, 1, 2], [0, 1, 2], [0, 1, 2], [1, 2]]
    starts, members = _csr(sets)
    w = np.array([0.5, 1.0, 0.9, 1.0])  # frame 1 is the finest
    chosen = greedy_cover(starts, members, w, n_stations=3, min_views=2, min_gain=1)
    assert chosen.tolist()[:2] == [1, 2]
    # min_gain: a frame adding fewer new station-views than this is not taken
    chosen = greedy_cover(starts, members, w, n_stations=3, min_views=3, min_gain=3)
    assert chosen.tolist() == [1, 2, 0]


def test_band_windows_follow_a_diagonal_corridor() -> None:
    roi = np.zeros((45, 80), bool)
    for r in range(45):
        roi[r, r : r + 6] = True  # a diagonal strip
    wins = band_windows(roi, 16, 720, 1280)
    assert [w[1] for w in wins] == [0, 448] and wins[-1][3] == 720
    for x0, y0, x1, y1 in wins:
        rows = slice(y0 // 16, -(-y1 // 16))
        cols = np.flatnonzero(roi[rows].any(axis=0))
        assert x0 <= cols[0] * 16 and x1 >= (cols[-1] + 1) * 16
        assert x1 - x0 < 1280  # not the whole frame
    assert band_windows(np.zeros((45, 80), bool), 16, 720, 1280) == []


def _det(cls: str, score: float, box: list[float]) -> dict[str, object]:
    x0, y0, x1, y1 = box
    ring = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)
    return {"class": cls, "score": score, "bbox_xyxy": box, "polygon": ring}


def test_one_instance_per_object() -> None:
    a = _det("x", 0.9, [10, 10, 50, 50])
    b = _det("x", 0.7, [12, 12, 50, 52])  # the same object again
    c = _det("y", 0.6, [12, 12, 50, 52])  # another class: kept
    d = _det("x", 0.8, [200, 10, 240, 50])  # far away: kept
    e1 = _det("x", 0.5, [300, 100, 340, 160])  # a long patch in two touching fragments
    e2 = _det("x", 0.6, [302, 162, 338, 230])
    kept = _dedupe([b, a, c, d, e1, e2])
    assert sorted((k["class"], k["score"]) for k in kept) == [
        ("x", 0.6), ("x", 0.8), ("x", 0.9), ("y", 0.6)
    ]  # fmt: skip
    merged = next(k for k in kept if k["score"] == 0.6 and k["class"] == "x")
    assert merged["bbox_xyxy"] == [300.0, 100.0, 340.0, 230.0] and merged["parts"] == 2
    xs, ys = merged["polygon"][:, 0], merged["polygon"][:, 1]
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (300, 340, 100, 230)
    best = next(k for k in kept if k["score"] == 0.9)
    assert best["bbox_xyxy"] == [10.0, 10.0, 50.0, 52.0]


def test_crop_box_stays_inside_and_has_a_minimum_size() -> None:
    assert crop_box((10, 10, 20, 20), 100, 200, 64) == (0, 0, 64, 64)
    x0, y0, x1, y1 = crop_box((150, 40, 198, 99), 100, 200, 32)
    assert 0 <= x0 < x1 <= 200 and 0 <= y0 < y1 <= 100 and x1 - x0 >= 48


def test_video_mode_matches_a_hand_computed_crop() -> None:
    from geo.camera import CameraModel

    still = CameraModel(4000, 3000, 2812.5, 2812.5, 2006.3, 1491.8, k1=-0.01, name="cam")
    v = video_mode(still, 1920, 1080)
    s = 1920 / 4000
    assert v.fx_px == pytest.approx(2812.5 * s)
    # pixel-edge scaling, then 1440-1080 = 360 rows cropped, half at the top
    assert v.cx_px == pytest.approx((2006.3 + 0.5) * s - 0.5)
    assert v.cy_px == pytest.approx((1491.8 + 0.5) * s - 0.5 - 180)
    assert v.k1 == -0.01 and (v.width_px, v.height_px) == (1920, 1080)
    with pytest.raises(CameraError, match="taller than"):
        video_mode(still, 1000, 800)


def test_f35_and_fov_pinholes() -> None:
    cam = camera_from_f35(1280, 720, 26.51, "v")
    # the simulator's 1280x720 video mode of its 4.5 mm / 24 mm-equivalent camera: fx 900
    assert cam.fx_px == pytest.approx(900.0, rel=2e-3)
    th = camera_from_fov(640, 512, 45.759155, "t")
    assert th.fx_px == pytest.approx(758.3, abs=0.05) and th.kind == "thermal"
    with pytest.raises(CameraError):
        camera_from_fov(640, 512, 0.0, "t")


def test_video_camera_without_still_or_srt_focal_is_an_error(tmp_path) -> None:
    from survey.process.cameras import VideoInfo

    with pytest.raises(CameraError, match="no intrinsics for this video"):
        video_camera(VideoInfo(1280, 720, 30.0, 10), tmp_path / "v.mp4", stills=[], srt_f35_mm=None)
    cam, warnings = video_camera(
        VideoInfo(1280, 720, 30.0, 10), tmp_path / "v.mp4", stills=[], srt_f35_mm=26.51
    )
    assert cam.source == "srt-35mm" and "nominal" in warnings[0]


def test_video_info_refuses_a_file_that_is_no_video(tmp_path) -> None:
    p = tmp_path / "bad.mp4"
    p.write_bytes(b"\x00" * 4096)
    with pytest.raises(CameraError) as ei:
        video_info(p)
    assert ei.value.path == str(p)


def test_defect_ids_are_stable_and_unique() -> None:
    taken: set[str] = set()
    assert defect_id("missing_fastener", 613.04, taken) == "MF-0006130"
    assert defect_id("missing_fastener", 613.04, taken) == "MF-0006130-2"
    assert defect_id("sleeper_defect", 1234.56, taken) == "SD-0012346"
    assert defect_id("leak_candidate", math.nan, taken) == "LC-X1"
    assert defect_id("leak_candidate", math.nan, taken) == "LC-X2"


def test_local_solar_hour() -> None:
    assert local_solar_hour(0.0, 0.0) == 0.0
    assert local_solar_hour(22 * 3600.0, 30.0) == pytest.approx(0.0)
    assert local_solar_hour(86400 * 3 + 9.5 * 3600, 15.8) == pytest.approx(9.5 + 15.8 / 15)


def test_each_stage_depends_only_on_its_config_keys() -> None:
    base = Config()
    changed = dataclasses.replace(
        base, process=dataclasses.replace(base.process, exports=["csv"], jpeg_quality=80)
    )
    a, b = stage_params(base), stage_params(changed)
    differs = sorted(k for k in a if a[k] != b[k])
    assert differs == ["cfg_detect", "cfg_fuse", "cfg_report", "cfg_thermal"]
    assert "cfg_layers" not in differs  # the store does not re-run for an export format
    assert PIPELINE.names == [
        "discover", "poses", "select", "detect", "thermal", "imagery", "georef", "chainage",
        "fuse", "store", "report",
    ]  # fmt: skip
    # the imagery layers re-build for their own keys and the ground, not for a detector
    img = dataclasses.replace(base, process=dataclasses.replace(base.process, imagery="rgb"))
    assert sorted(k for k, v in stage_params(img).items() if v != a[k]) == ["cfg_imagery"]


def test_config_values_that_would_fail_late_are_refused_early() -> None:
    from survey.config import ConfigError
    from survey.process.pipeline import check_config

    base = Config()
    check_config(base)
    for change, key in (
        ({"exports": ["geojson", "dwg"]}, "process.exports"),
        ({"rgb_min_views": 0}, "process.rgb_min_views"),
        ({"station_step_m": 0.0}, "process.station_step_m"),
        ({"gate_p": 1.0}, "process.gate_p"),
        ({"ground": "/no/such/dem.tif"}, "process.ground"),
    ):
        bad = dataclasses.replace(base, process=dataclasses.replace(base.process, **change))
        with pytest.raises(ConfigError) as ei:
            check_config(bad)
        assert ei.value.where == key
