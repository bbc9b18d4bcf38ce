"""Tiled inference: tile layout, a defect split across tiles merged into one, ROI restriction."""

from __future__ import annotations

import numpy as np
import pytest

from models.detections import Detections
from models.rle import components
from models.tiling import RoiMask, merge_tile_detections, predict_tiled, tile_boxes


def oracle(tiles: list[np.ndarray], calls: list[tuple[int, int]] | None = None) -> list[Detections]:
    """A perfect 'model': every connected bright region of a tile is one detection."""
    out = []
    for t in tiles:
        if calls is not None:
            calls.append(t.shape[:2])
        m = t[..., 0] > 128
        lab, n = components(m)
        if n == 0:
            out.append(Detections.empty(t.shape[:2], ("crack",)))
            continue
        masks = [lab == k for k in range(1, n + 1)]
        out.append(
            Detections.from_masks(
                masks, scores=np.linspace(0.9, 0.8, n), class_ids=[0] * n, class_names=("crack",)
            )
        )
    return out


def test_tiles_cover_the_frame_with_full_size_tiles() -> None:
    for h, w in ((1000, 1200), (512, 512), (300, 2000), (3000, 4000)):
        t = tile_boxes(h, w, 512, 96)
        cover = np.zeros((h, w), np.int32)
        for x0, y0, x1, y1 in t:
            cover[y0:y1, x0:x1] += 1
            assert (x1 - x0, y1 - y0) == (min(512, w), min(512, h))
        assert cover.min() >= 1
    with pytest.raises(ValueError):
        tile_boxes(100, 100, 64, 64)


def test_a_crack_across_three_tiles_becomes_one_detection() -> None:
    img = np.zeros((256, 640, 3), np.uint8)
    rr = np.arange(20, 620)
    yy = (128 + 40 * np.sin(rr / 60.0)).astype(int)
    for dy in (-1, 0, 1):  # a 3-px-wide wavy crack, 600 px long
        img[yy + dy, rr] = 255
    img[20:40, 20:40] = 255  # and a separate spot, seen by one tile
    truth = img[..., 0] > 128
    d = predict_tiled(oracle, img, tile_px=256, overlap_px=64)
    assert d.meta["tiles"] == 3 and d.meta["before_merge"] == 4
    assert len(d) == 2
    big = int(np.argmax(d.areas_px))
    crack = d.full_mask(big)
    spot = d.full_mask(1 - big)
    assert (crack | spot).sum() == truth.sum() and not (crack & spot).any()
    assert (crack == (truth & ~spot)).all()
    assert d.boxes_xyxy[big].tolist() == pytest.approx(
        [20, float(yy.min() - 1), 620, float(yy.max() + 2)]
    )


def test_separate_defects_in_the_overlap_stay_separate() -> None:
    img = np.zeros((256, 448, 3), np.uint8)
    img[100:104, 200:240] = 255  # both in the overlap strip of the two tiles (192..256)
    img[120:124, 200:240] = 255
    d = predict_tiled(oracle, img, tile_px=256, overlap_px=64)
    assert d.meta["before_merge"] == 4 and len(d) == 2


def test_roi_skips_tiles_and_drops_detections_outside() -> None:
    img = np.zeros((600, 1200, 3), np.uint8)
    img[100:110, 100:200] = 255  # inside the corridor
    img[500:510, 1000:1100] = 255  # outside
    corridor = np.array([[0, 60], [1199, 60], [1199, 160], [0, 160]], float)  # a band along the top
    calls: list[tuple[int, int]] = []
    d = predict_tiled(lambda t: oracle(t, calls), img, tile_px=256, overlap_px=32, roi=corridor)
    full = tile_boxes(600, 1200, 256, 32)
    assert len(calls) == d.meta["tiles"] < len(full)
    assert len(d) == 1 and d.boxes_xyxy[0].tolist() == [100, 100, 200, 110]
    # the same ROI as a coarse boolean mask
    m = np.zeros((60, 120), bool)
    m[6:16, :] = True
    d2 = predict_tiled(oracle, img, tile_px=256, overlap_px=32, roi=m)
    assert len(d2) == 1
    with pytest.raises(ValueError):
        RoiMask(np.array([[0, 0], [1, 1]]), (10, 10))


def test_merge_is_transitive_and_keeps_the_best_score() -> None:
    tiles = np.array([[0, 0, 100, 50], [80, 0, 180, 50], [160, 0, 260, 50]])
    parts = []
    for k, (x0, _, x1, _) in enumerate(tiles):
        m = np.zeros((50, 260), bool)
        m[20:25, x0 + (2 if k else 10) : x1 - (2 if k < 2 else 10)] = True
        parts.append(Detections.from_masks([m], scores=[0.5 + 0.1 * k], class_ids=[0]))
    d = merge_tile_detections(Detections.concatenate(parts), np.arange(3), tiles)
    assert len(d) == 1 and d.scores[0] == pytest.approx(0.7)
    assert d.full_mask(0)[20:25, 10:250].all()


def test_detections_record() -> None:
    m = np.zeros((40, 50), bool)
    m[10:12, 5:45] = True
    d = Detections.from_masks(
        [m, m[:, ::-1]], scores=[0.9, 0.2], class_ids=[1, 0], class_names=("a", "b")
    )
    assert len(d[d.scores > 0.5]) == 1 and d[0].class_labels == ["b"]
    rt = Detections.from_dict(d.to_dict())
    assert (rt.full_mask(0) == m).all() and rt.class_names == ("a", "b")
    s = d.shifted(100, 7, (200, 300))
    assert s.full_mask(0)[17:19, 105:145].all() and s.full_mask(0).sum() == m.sum()
    poly = d.polygons(0)[0]
    assert poly[:, 0].min() == 5 and poly[:, 0].max() == 44  # pixel-centre convention
    with pytest.raises(ValueError, match="disagree"):
        Detections(
            np.zeros((2, 4)),
            np.zeros(1),
            np.zeros(1),
            np.zeros((1, 4)),
            np.empty(1, object),
            (1, 1),
        )


def test_rescaled_detections_map_back_to_the_frame() -> None:
    m = np.zeros((40, 60), bool)
    m[10:20, 20:40] = True
    d = Detections.from_masks([m], scores=[0.9], class_ids=[0])
    big = d.rescaled(0.5, (80, 120))  # detections of a half-size frame -> the full frame
    assert big.boxes_xyxy[0].tolist() == [40, 20, 80, 40]
    assert big.full_mask(0)[20:40, 40:80].all() and big.areas_px[0] == 4 * m.sum()
