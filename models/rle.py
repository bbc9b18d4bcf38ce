"""Binary masks as COCO run-length encodings, polygons and connected components (no torch).

COCO RLE (pycocotools) is the compact, exact mask format used throughout ``models``: thin
cracks one pixel wide survive it unchanged, unlike polygons traced around them. Counts are kept
as ``bytes`` (pycocotools' compressed string) in memory and as ``str`` in JSON.

Examples
--------
>>> import numpy as np
>>> m = np.zeros((4, 6), bool); m[1, 1:5] = True          # a 1-px-wide "crack"
>>> r = encode(m)
>>> r["size"], int(area(r))
([4, 6], 4)
>>> bool((decode(r) == m).all())
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_util

__all__ = [
    "area",
    "as_compressed",
    "components",
    "decode",
    "encode",
    "json_rle",
    "mask_to_polygons",
    "polygons_to_mask",
]

RLE = dict[str, Any]


def encode(mask: np.ndarray) -> RLE:
    """Encode one 2-D boolean mask as a compressed COCO RLE ``{"size": [h, w], "counts": bytes}``."""
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    rle = mask_util.encode(np.asfortranarray(mask, dtype=np.uint8))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"]}


def decode(rle: RLE) -> np.ndarray:
    """Decode a COCO RLE (compressed ``bytes``/``str`` counts, or uncompressed list) to bool."""
    r = as_compressed(rle)
    return mask_util.decode(r).astype(bool)


def area(rle: RLE) -> int:
    """Number of foreground pixels of an RLE, without decoding it."""
    return int(mask_util.area(as_compressed(rle)))


def json_rle(rle: RLE) -> dict[str, Any]:
    """The RLE with ``str`` counts, as stored in COCO JSON files."""
    c = rle["counts"]
    return {"size": list(rle["size"]), "counts": c.decode("ascii") if isinstance(c, bytes) else c}


def as_compressed(rle: RLE) -> RLE:
    """The same RLE with compressed ``bytes`` counts (what pycocotools' functions take)."""
    counts = rle["counts"]
    h, w = (int(v) for v in rle["size"])
    if isinstance(counts, list):  # uncompressed COCO RLE
        return mask_util.frPyObjects({"size": [h, w], "counts": counts}, h, w)
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    return {"size": [h, w], "counts": counts}


def polygons_to_mask(polygons: Sequence[Sequence[float]], height: int, width: int) -> np.ndarray:
    """Rasterise COCO polygons (flat ``[x0, y0, x1, y1, ...]`` lists) the way COCO does.

    Examples
    --------
    >>> m = polygons_to_mask([[0, 0, 4, 0, 4, 2, 0, 2]], 4, 6)
    >>> int(m.sum())
    8
    """
    polys = [np.asarray(p, dtype=np.float64).ravel().tolist() for p in polygons if len(p) >= 6]
    if not polys:
        return np.zeros((height, width), bool)
    rles = mask_util.frPyObjects(polys, height, width)
    return mask_util.decode(mask_util.merge(rles)).astype(bool)


def mask_to_polygons(mask: np.ndarray, *, min_points: int = 3) -> list[list[float]]:
    """Outer contours of a mask as flat ``[x0, y0, ...]`` polygons (pixel centres, cv2 order).

    A region one pixel wide yields a degenerate polygon that outlines it; use RLE where exact
    pixels matter (thin cracks).
    """
    contours, _ = cv2.findContours(
        np.ascontiguousarray(mask, dtype=np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    return [
        c.reshape(-1).astype(float).tolist() for c in contours if c.shape[0] >= max(1, min_points)
    ]


def components(
    mask: np.ndarray, *, link_px: int = 0, min_area_px: int = 1
) -> tuple[np.ndarray, int]:
    """Label the connected parts of a mask (8-connected), linking parts closer than ``link_px``.

    Parts separated by gaps of at most ``link_px`` pixels (a crack interrupted by a shadow) get
    one label; the labels cover only the original mask pixels. Parts smaller than
    ``min_area_px`` are dropped (label 0). Returns ``(labels int32 HxW, count)`` with labels
    numbered ``1..count`` in raster order of their first pixel.

    Examples
    --------
    >>> m = np.zeros((3, 9), bool); m[1, 0:3] = True; m[1, 5:9] = True   # gap of 2 px
    >>> components(m)[1], components(m, link_px=2)[1]
    (2, 1)
    """
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    if link_px > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * link_px + 1, 2 * link_px + 1))
        # closing bridges gaps up to ~link_px without growing the labels beyond the mask
        grown = cv2.dilate(m, k)
    else:
        grown = m
    n, lab = cv2.connectedComponents(grown, connectivity=8)
    lab = np.where(m > 0, lab, 0).astype(np.int32)
    counts = np.bincount(lab.ravel(), minlength=n)
    keep = counts >= max(1, min_area_px)
    keep[0] = False
    # renumber kept labels 1..k in raster order of their first pixel
    first = np.full(n, lab.size, dtype=np.int64)
    present, idx = np.unique(lab.ravel(), return_index=True)
    first[present] = idx
    order = [i for i in np.argsort(first, kind="stable") if keep[i]]
    remap = np.zeros(n, dtype=np.int32)
    remap[order] = np.arange(1, len(order) + 1, dtype=np.int32)
    return remap[lab], len(order)
