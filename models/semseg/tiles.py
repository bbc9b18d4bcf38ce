"""Torch-free parts of semantic inference: tiles, their blending, test-time augmentation.

Both the PyTorch predictor (:class:`models.semseg.predict.SemSegPredictor`) and the ONNX runtime
(:class:`models.runtime.onnx_segmenter.OnnxSegmenter`) run a network on tiles through these
functions, so an exported model sees exactly the tiles, views and blending weights the PyTorch
one does. ``net`` is any function from a list of ``HxWx3`` uint8 tiles (the caller's channel
order) to a list of ``(K, h, w)`` float32 probability maps (background left out).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "TTA_MODES",
    "SemSegPrediction",
    "blend_window",
    "tiled_probabilities",
    "tta_probabilities",
]

Net = Callable[[list[np.ndarray]], list[np.ndarray]]

#: test-time augmentation modes: (quarter turns, mirror left-right) applied to each tile
TTA_MODES: dict[str, tuple[tuple[int, bool], ...]] = {
    "none": ((0, False),),
    "flip": ((0, False), (0, True), (2, False), (2, True)),
    "d4": tuple((k, m) for k in range(4) for m in (False, True)),
}


@dataclass(frozen=True)
class SemSegPrediction:
    """Per-class defect probabilities (float32, ``(K, H, W)``, background left out) and masks."""

    class_names: tuple[str, ...]
    probs: np.ndarray
    thresholds: tuple[float, ...]

    @property
    def masks(self) -> np.ndarray:
        """Boolean ``(K, H, W)``: each class's probability at or above its threshold."""
        t = np.asarray(self.thresholds, np.float32)[:, None, None]
        return self.probs >= t

    @property
    def union(self) -> np.ndarray:
        """Boolean ``(H, W)``: any defect class."""
        return np.asarray(self.masks.any(axis=0))


def blend_window(h: int, w: int, ramp: int) -> np.ndarray:
    """Weights that rise linearly over ``ramp`` px from each border (never zero)."""
    ry = np.minimum(np.arange(h) + 1, np.arange(h)[::-1] + 1)
    rx = np.minimum(np.arange(w) + 1, np.arange(w)[::-1] + 1)
    win = np.minimum.outer(ry, rx).astype(np.float32)
    return np.clip(win / max(ramp, 1), 1e-3, 1.0)


def tta_probabilities(tiles: Sequence[np.ndarray], net: Net, mode: str) -> list[np.ndarray]:
    """Probabilities ``(K, h, w)`` of each tile, averaged over the views of ``TTA_MODES[mode]``
    (each view's map turned back onto the tile)."""
    modes = TTA_MODES[mode]
    acc: list[np.ndarray] = []
    for turns, mirror in modes:
        views = [np.rot90(t, turns, axes=(0, 1)) for t in tiles]
        if mirror:
            views = [v[:, ::-1] for v in views]
        for i, p in enumerate(net([np.ascontiguousarray(v) for v in views])):
            back = np.rot90(p[:, :, ::-1] if mirror else p, -turns, axes=(1, 2))
            if len(acc) <= i:
                acc.append(np.array(back, np.float32))
            else:
                acc[i] += back
    if len(modes) > 1:
        for a in acc:
            a /= len(modes)
    return acc


def tiled_probabilities(
    img: np.ndarray,
    forward: Net,
    n_classes: int,
    *,
    tile_px: int,
    overlap_px: int,
    batch_tiles: int,
    roi: np.ndarray | None = None,
) -> np.ndarray:
    """Probabilities ``(K, H, W)`` of a frame: one pass when it fits a tile (and no ``roi``),
    else overlapping tiles blended by :func:`blend_window`; ``roi`` (pixel polygon or mask, see
    :class:`models.tiling.RoiMask`) keeps only the tiles touching it and zeroes the rest."""
    from models.tiling import RoiMask, tile_boxes

    h, w = img.shape[:2]
    region = RoiMask(roi, (h, w)) if roi is not None else None
    if h <= tile_px and w <= tile_px and region is None:
        return forward([img])[0]
    boxes = tile_boxes(h, w, min(tile_px, max(h, w)), overlap_px)
    if region is not None:
        boxes = boxes[region.touches(boxes)]
    acc = np.zeros((n_classes, h, w), np.float32)
    wsum = np.full((h, w), 1e-12, np.float32)
    for i in range(0, len(boxes), max(1, batch_tiles)):
        chunk = boxes[i : i + batch_tiles]
        probs = forward([img[y0:y1, x0:x1] for x0, y0, x1, y1 in chunk])
        for (x0, y0, x1, y1), p in zip(chunk, probs, strict=True):
            win = blend_window(y1 - y0, x1 - x0, overlap_px)
            acc[:, y0:y1, x0:x1] += p * win
            wsum[y0:y1, x0:x1] += win
    out = acc / wsum
    if region is not None:
        out *= region.window(0, 0, w, h)[None]
    return out
