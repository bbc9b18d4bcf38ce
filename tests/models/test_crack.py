"""Crack measurement from masks: lengths, widths, orientation, units, severity, outlines."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from shapely.geometry import Polygon

from models.crack import CrackSeverityScale, measure_cracks, skeleton_length_px
from models.errors import ModelError


def _line(
    shape: tuple[int, int], p0: tuple[int, int], p1: tuple[int, int], width: int
) -> np.ndarray:
    img = np.zeros(shape, np.uint8)
    cv2.line(img, p0, p1, 1, thickness=width, lineType=cv2.LINE_8)
    return img.astype(bool)


@pytest.mark.parametrize("angle_deg", [0, 17, 30, 45, 60, 90, 120, 150])
def test_straight_crack_length_width_orientation(angle_deg: float) -> None:
    length = 160.0
    a = np.radians(angle_deg)
    c = np.array([128.0, 128.0])
    # screen counter-clockwise angle: image y grows downwards
    d = np.array([np.cos(a), -np.sin(a)]) * length / 2
    p0, p1 = tuple(np.round(c - d).astype(int)), tuple(np.round(c + d).astype(int))
    m = _line((256, 256), p0, p1, 1)
    cr = measure_cracks(m, min_area_px=1)
    assert len(cr) == 1
    true_len = float(np.hypot(*(np.subtract(p1, p0)))) + 1.0  # pixel centres span len - 1
    assert cr.length_px[0] == pytest.approx(true_len, rel=0.03)
    assert cr.max_width_px[0] == pytest.approx(1.0)
    # mean width of a digital 1-px line: area / length; diagonal lines have fewer pixels per px
    assert 0.7 < cr.mean_width_px[0] < 1.1
    diff = (cr.orientation_deg[0] - angle_deg + 90) % 180 - 90
    assert abs(diff) < 1.0


@pytest.mark.parametrize("width", [3, 5, 7])
def test_wide_crack_width(width: int) -> None:
    m = np.zeros((100, 300), bool)
    m[50 - width // 2 : 50 + width // 2 + 1, 20:270] = True  # 250 px long, `width` wide
    cr = measure_cracks(m)
    assert cr.max_width_px[0] == pytest.approx(width)
    assert cr.mean_width_px[0] == pytest.approx(width, rel=0.03)
    assert cr.length_px[0] == pytest.approx(250, abs=1.5)


def test_ring_length_is_the_circumference() -> None:
    m = np.zeros((200, 200), np.uint8)
    cv2.circle(m, (100, 100), 60, 1, thickness=1)
    assert skeleton_length_px(m.astype(bool)) == pytest.approx(2 * np.pi * 60, rel=0.04)


def test_gaps_join_and_small_parts_drop() -> None:
    m = np.zeros((50, 200), bool)
    m[25, 10:90] = True
    m[25, 92:180] = True  # a 2 px gap (columns 90, 91)
    m[5, 5:8] = True  # 3 px speck
    joined = measure_cracks(m, join_gap_px=3, min_area_px=10)
    assert len(joined) == 1 and joined.area_px[0] == 80 + 88
    split = measure_cracks(m, join_gap_px=0, min_area_px=10)
    assert sorted(split.area_px.tolist()) == [80, 88]
    everything = measure_cracks(m, join_gap_px=0, min_area_px=1)
    assert len(everything) == 3
    # the label image marks each crack with its index + 1, only on mask pixels
    assert set(np.unique(joined.labels)) == {0, 1}
    assert not joined.labels[5, 5:8].any()


def test_units_and_severity_with_gsd() -> None:
    m = np.zeros((120, 400), bool)
    m[20:23, 10:390] = True  # 380 px x 3 px
    m[80, 10:60] = True  # 50 px x 1 px
    cr = measure_cracks(m, gsd_mm=3.0)
    order = np.argsort(-cr.area_px)
    long, short = order
    assert cr.max_width_mm[long] == pytest.approx(9.0)
    assert cr.length_m[long] == pytest.approx(380 * 3.0 / 1000, rel=0.01)
    assert cr.area_m2[short] == pytest.approx(50 * (3.0 / 1000) ** 2)
    # 9 mm wide -> level 4 (3-10 mm); 1.14 m long -> +1 = 5.  3 mm wide -> 4 (>= 3 mm), 0.15 m
    assert cr.severity[long] == 5 and cr.severity[short] == 4
    recs = cr.to_records()
    assert recs[long]["severity"] == 5 and recs[long]["max_width_mm"] == pytest.approx(9.0)


def test_no_gsd_means_no_grade_and_no_physical_units() -> None:
    m = np.zeros((50, 50), bool)
    m[10, 5:45] = True
    cr = measure_cracks(m)
    assert cr.severity.tolist() == [0]
    assert np.isnan(cr.length_m).all()
    rec = cr.to_records()[0]
    assert rec["severity"] is None and rec["length_m"] is None and rec["max_width_mm"] is None
    assert rec["length_px"] == pytest.approx(40, abs=1)


def test_scale_is_configurable_and_checked() -> None:
    mean_scale = CrackSeverityScale(
        width_mm=(1, 2, 3, 4), length_m=(0.5, 2.0), width_measure="mean"
    )
    assert mean_scale.grade(
        np.array([0.5, 0.5, 0.5, 3.5]), np.array([0.1, 0.6, 3.0, 3.0])
    ).tolist() == [
        1,
        2,
        3,
        5,
    ]
    with pytest.raises(ModelError, match="ascending"):
        CrackSeverityScale(width_mm=(1.0, 0.5, 2.0, 3.0))
    with pytest.raises(ModelError, match="4 ascending"):
        CrackSeverityScale(width_mm=(1.0, 2.0))
    with pytest.raises(ModelError, match="width_measure"):
        CrackSeverityScale(width_measure="median")  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="length_m"):
        CrackSeverityScale(length_m=(0.0,))


def test_polygon_outlines_the_crack_and_score_is_mean_probability() -> None:
    m = np.zeros((80, 80), bool)
    m[30:36, 10:70] = True  # 60 x 6 rectangle
    ring = np.zeros((80, 80), np.uint8)
    cv2.circle(ring, (40, 40), 20, 1, thickness=3)
    prob = np.where(m, 0.8, 0.1).astype(np.float32)
    cr = measure_cracks(m, prob=prob, join_gap_px=0)
    poly = Polygon(cr.polygons[0][0])
    # contour through pixel centres of a 60 x 6 block: 59 x 5
    assert poly.area == pytest.approx(59 * 5)
    assert cr.score[0] == pytest.approx(0.8)
    closed = measure_cracks(ring.astype(bool), join_gap_px=0)
    assert len(closed.polygons[0]) == 2  # exterior and the hole inside the ring
    rec = closed.to_records()[0]
    assert len(rec["holes"]) == 1 and Polygon(rec["polygon"], rec["holes"]).is_valid


def test_bad_inputs() -> None:
    with pytest.raises(ModelError, match="2-D"):
        measure_cracks(np.zeros((2, 3, 4), bool))
    with pytest.raises(ModelError, match="gsd_mm"):
        measure_cracks(np.zeros((5, 5), bool), gsd_mm=-1.0)
    with pytest.raises(ModelError, match="differ in shape"):
        m = np.zeros((5, 5), bool)
        m[2, 1:4] = True
        measure_cracks(m, prob=np.zeros((4, 4)), min_area_px=1)


def test_empty_mask() -> None:
    cr = measure_cracks(np.zeros((30, 30), bool), gsd_mm=1.0)
    assert len(cr) == 0 and cr.to_records() == [] and cr.bbox_xyxy.shape == (0, 4)
