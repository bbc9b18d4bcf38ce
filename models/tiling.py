"""Tiled inference for large frames, SAHI-style, optionally restricted to a region (no torch).

Three layers, as in SAHI: :func:`tile_boxes` lays overlapping tiles over the frame (the last
row/column flush with the frame edge, so every tile is full size); :func:`predict_tiled` keeps
the tiles that touch the region of interest, runs them in batches through any
``predict_batch(list of tiles) -> list of Detections`` (the PyTorch predictor or the ONNX
runtime), shifts each tile's detections into frame coordinates and drops those outside the
region; :func:`merge_tile_detections` then joins the pieces of one defect seen by neighbouring
tiles.

Two detections of one class from different tiles are merged when their masks agree inside the
two tiles' shared strip (IoU there >= ``merge_iou``: the two halves of a crack crossing a tile
border), or when one covers most of the other (intersection over the smaller >= ``merge_ios``:
the same defect seen whole by both tiles). Merging is transitive (union-find), so a defect
spanning three tiles becomes one. Memory stays bounded on 20 MP frames: the frame is sliced
by views, and masks stay as RLE of their own windows.

Examples
--------
>>> tile_boxes(1000, 1200, 512, 96).tolist()
[[0, 0, 512, 512], [416, 0, 928, 512], [688, 0, 1200, 512], [0, 416, 512, 928], [416, 416, 928, 928], [688, 416, 1200, 928], [0, 488, 512, 1000], [416, 488, 928, 1000], [688, 488, 1200, 1000]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np

from models.detections import Detections

__all__ = ["RoiMask", "merge_tile_detections", "predict_tiled", "tile_boxes"]

PredictBatch = Callable[[list[np.ndarray]], list[Detections]]


def _starts(n: int, tile: int, step: int) -> list[int]:
    if n <= tile:
        return [0]
    s = list(range(0, n - tile, step))
    return s + [n - tile]


def tile_boxes(height: int, width: int, tile_px: int, overlap_px: int) -> np.ndarray:
    """Tile windows ``(T, 4)`` int32 ``x0, y0, x1, y1`` covering a frame, row by row."""
    if tile_px <= 0 or not 0 <= overlap_px < tile_px:
        raise ValueError(
            f"need tile_px > 0 and 0 <= overlap_px < tile_px, got {tile_px}, {overlap_px}"
        )
    step = tile_px - overlap_px
    xs, ys = _starts(width, tile_px, step), _starts(height, tile_px, step)
    out = [(x, y, min(x + tile_px, width), min(y + tile_px, height)) for y in ys for x in xs]
    return np.array(out, np.int32)


class RoiMask:
    """A region of interest: a pixel polygon ``(K, 2)`` or a boolean mask of any resolution.

    Polygon vertices are frame pixel coordinates in the OpenCV convention (pixel centres at
    integer coordinates); a mask is scaled to the frame by nearest neighbour.
    """

    def __init__(self, roi: np.ndarray, image_hw: tuple[int, int], *, coarse: int = 8) -> None:
        h, w = image_hw
        self.hw, self.coarse = (h, w), coarse
        roi = np.asarray(roi)
        self.poly: np.ndarray | None = None
        self.mask: np.ndarray | None = None
        if roi.dtype == bool or (roi.ndim == 2 and roi.shape[1] != 2):
            self.mask = roi.astype(bool)
        elif roi.ndim == 2 and roi.shape[1] == 2 and len(roi) >= 3:
            self.poly = roi.astype(np.float64)
        else:
            raise ValueError(
                "roi must be a polygon (K >= 3 points, shape (K, 2)) or a boolean mask"
            )
        ch, cw = -(-h // coarse), -(-w // coarse)
        self.low = self.window(0, 0, w, h, out_hw=(ch, cw))

    def window(
        self, x0: int, y0: int, x1: int, y1: int, out_hw: tuple[int, int] | None = None
    ) -> np.ndarray:
        """The region inside frame window ``[x0, x1) x [y0, y1)``, sampled to ``out_hw``."""
        oh, ow = out_hw or (y1 - y0, x1 - x0)
        sx, sy = (x1 - x0) / ow, (y1 - y0) / oh
        if self.poly is not None:
            out = np.zeros((oh, ow), np.uint8)
            # polygon vertices use the OpenCV convention: pixel centres at integer coordinates
            pts = np.round(((self.poly + 0.5 - (x0, y0)) / (sx, sy) - 0.5) * 16).astype(np.int32)
            cv2.fillPoly(out, [pts], 1, lineType=cv2.LINE_8, shift=4)
            cv2.polylines(out, [pts], True, 1, lineType=cv2.LINE_8, shift=4)
            return out.astype(bool)
        mask = self.mask if self.mask is not None else np.zeros((1, 1), bool)
        mh, mw = mask.shape
        fy, fx = mh / self.hw[0], mw / self.hw[1]
        ys = np.clip(((np.arange(oh) + 0.5) * sy + y0) * fy, 0, mh - 1).astype(np.int64)
        xs = np.clip(((np.arange(ow) + 0.5) * sx + x0) * fx, 0, mw - 1).astype(np.int64)
        return mask[np.ix_(ys, xs)]

    def touches(self, tiles: np.ndarray) -> np.ndarray:
        """Which tiles contain any part of the region."""
        c = self.coarse
        out = np.zeros(len(tiles), bool)
        for k, (x0, y0, x1, y1) in enumerate(tiles):
            out[k] = self.low[y0 // c : -(-y1 // c), x0 // c : -(-x1 // c)].any()
        return out


def _overlap(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int, int] | None:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    return (int(x0), int(y0), int(x1), int(y1)) if x1 > x0 and y1 > y0 else None


def _in_window(d: Detections, i: int, win: tuple[int, int, int, int]) -> np.ndarray:
    """Mask ``i`` inside frame window ``win`` (bool array of the window's size)."""
    x0, y0, x1, y1 = win
    out = np.zeros((y1 - y0, x1 - x0), bool)
    crop, cx, cy = d.mask_crop(i)
    ox0, oy0 = max(x0, cx), max(y0, cy)
    ox1, oy1 = min(x1, cx + crop.shape[1]), min(y1, cy + crop.shape[0])
    if ox1 > ox0 and oy1 > oy0:
        out[oy0 - y0 : oy1 - y0, ox0 - x0 : ox1 - x0] = crop[
            oy0 - cy : oy1 - cy, ox0 - cx : ox1 - cx
        ]
    return out


def _windows(d: Detections) -> np.ndarray:
    if len(d) and d.has_masks:
        return d.mask_boxes.astype(np.int64)
    b = d.boxes_xyxy
    return np.stack(
        [np.floor(b[:, 0]), np.floor(b[:, 1]), np.ceil(b[:, 2]), np.ceil(b[:, 3])], 1
    ).astype(np.int64)


def merge_tile_detections(
    dets: Detections,
    tile_of: np.ndarray,
    tiles: np.ndarray,
    *,
    merge_iou: float = 0.5,
    merge_ios: float = 0.7,
) -> Detections:
    """Merge detections (frame coordinates) that neighbouring tiles made of one defect.

    ``tile_of[i]`` is the index into ``tiles`` of the tile detection ``i`` came from.
    """
    n = len(dets)
    if n < 2:
        return dets
    win = _windows(dets)
    areas = dets.areas_px
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for i in range(n - 1):
        j = np.arange(i + 1, n)
        cand = j[
            (dets.class_ids[j] == dets.class_ids[i])
            & (tile_of[j] != tile_of[i])
            & (win[j, 0] < win[i, 2])
            & (win[i, 0] < win[j, 2])
            & (win[j, 1] < win[i, 3])
            & (win[i, 1] < win[j, 3])
        ]
        for jj in cand:
            jj = int(jj)
            if find(i) == find(jj):
                continue
            shared = _overlap(tiles[tile_of[i]], tiles[tile_of[jj]])
            if shared is None:
                continue
            mi, mj = _in_window(dets, i, shared), _in_window(dets, jj, shared)
            inter = int(np.count_nonzero(mi & mj))
            if inter == 0:
                continue
            iou_strip = inter / max(1, int(np.count_nonzero(mi | mj)))
            ios = inter / max(1, int(min(areas[i], areas[jj])))
            if iou_strip >= merge_iou or ios >= merge_ios:
                parent[find(i)] = find(jj)

    roots = np.array([find(i) for i in range(n)])
    if len(np.unique(roots)) == n:
        return dets
    boxes, scores, classes, crops = [], [], [], []
    masks = dets.has_masks
    for r in np.unique(roots):
        g = np.flatnonzero(roots == r)
        b = dets.boxes_xyxy[g]
        boxes.append([b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()])
        best = g[np.argmax(dets.scores[g])]
        scores.append(dets.scores[best])
        classes.append(dets.class_ids[best])
        if masks:
            x0, y0 = win[g, 0].min(), win[g, 1].min()
            x1, y1 = win[g, 2].max(), win[g, 3].max()
            m = np.zeros((y1 - y0, x1 - x0), bool)
            for k in g:
                crop, cx, cy = dets.mask_crop(int(k))
                m[cy - y0 : cy - y0 + crop.shape[0], cx - x0 : cx - x0 + crop.shape[1]] |= crop
            crops.append((m, int(x0), int(y0)))
    order = np.argsort(-np.asarray(scores), kind="stable")
    return Detections.from_arrays(
        np.asarray(boxes)[order],
        np.asarray(scores)[order],
        np.asarray(classes)[order],
        dets.image_hw,
        mask_crops=[crops[k] for k in order] if masks else None,
        class_names=dets.class_names,
        meta=dict(dets.meta),
    )


def predict_tiled(
    predict_batch: PredictBatch,
    image: np.ndarray,
    *,
    tile_px: int = 512,
    overlap_px: int = 96,
    roi: np.ndarray | None = None,
    batch: int = 2,
    merge_iou: float = 0.5,
    merge_ios: float = 0.7,
    roi_min_fraction: float = 0.0,
    class_names: Sequence[str] = (),
    progress: bool = False,
) -> Detections:
    """Detections of a large frame from overlapping tiles (see the module docstring).

    Parameters
    ----------
    predict_batch : callable
        ``list of HxWx3 tiles -> list of Detections`` in tile coordinates.
    roi : array, optional
        Region to analyse (polygon ``(K, 2)`` in frame pixels, or a boolean mask). Tiles that do
        not touch it are skipped; detections with no more than ``roi_min_fraction`` of their
        area inside it are dropped.
    """
    h, w = image.shape[:2]
    tiles = tile_boxes(h, w, tile_px, overlap_px)
    region = RoiMask(roi, (h, w)) if roi is not None else None
    if region is not None:
        tiles = tiles[region.touches(tiles)]
    meta: dict[str, Any] = {"tiles": int(len(tiles)), "tile_px": tile_px, "overlap_px": overlap_px}
    if len(tiles) == 0:
        d = Detections.empty((h, w), class_names)
        d.meta.update(meta)
        return d
    it = range(0, len(tiles), max(1, batch))
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="tiles", unit="batch", leave=False)
    parts: list[Detections] = []
    tile_of: list[np.ndarray] = []
    for s in it:
        chunk = tiles[s : s + batch]
        outs = predict_batch([image[y0:y1, x0:x1] for x0, y0, x1, y1 in chunk])
        for k, (d, t) in enumerate(zip(outs, chunk, strict=True)):
            d = d.shifted(int(t[0]), int(t[1]), (h, w))
            if region is not None and len(d):
                d = d[_inside(d, region, roi_min_fraction)]
            parts.append(d)
            tile_of.append(np.full(len(d), s + k, np.int64))
    allx = Detections.concatenate(parts)
    merged = merge_tile_detections(
        allx, np.concatenate(tile_of), tiles, merge_iou=merge_iou, merge_ios=merge_ios
    )
    merged.meta.update(meta, before_merge=len(allx))
    return merged


def _inside(d: Detections, region: RoiMask, min_fraction: float) -> np.ndarray:
    keep = np.zeros(len(d), bool)
    for i in range(len(d)):
        crop, x0, y0 = d.mask_crop(i)
        inside = region.window(x0, y0, x0 + crop.shape[1], y0 + crop.shape[0])
        a = int(crop.sum())
        keep[i] = a > 0 and np.count_nonzero(crop & inside) > min_fraction * a
    return keep
