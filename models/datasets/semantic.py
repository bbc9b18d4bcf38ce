"""Per-pixel class targets for semantic models, from any record (no torch).

The target is a ``uint8`` image: ``0`` = background, ``k + 1`` = class ``k`` of the dataset's
class list, ``255`` = ignore. Records from mask PNGs are decoded from their label image
(``label_file`` + ``label_values``), exact to the pixel; other records are rasterised from their
instance masks (polygons / RLE), later instances drawn over earlier ones; box-only instances
mark their box as ``ignore``, since their pixels are unknown.

Examples
--------
>>> rec = {"height": 3, "width": 4, "annotations": [
...     {"bbox": [0, 0, 2, 1], "bbox_mode": 0, "category_id": 1,
...      "segmentation": [[0, 0, 2, 0, 2, 1, 0, 1]]}]}
>>> semantic_target(rec).tolist()
[[2, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models import rle
from models.datasets.masks import read_label_codes

__all__ = ["IGNORE_LABEL", "semantic_target"]

IGNORE_LABEL = 255


def semantic_target(record: dict[str, Any]) -> np.ndarray:
    """The ``uint8`` class-per-pixel target of one record (see the module docstring)."""
    h, w = int(record["height"]), int(record["width"])
    if record.get("label_file"):
        codes = read_label_codes(record["label_file"])
        out = np.zeros(codes.shape, np.uint8)
        for value, cat in record["label_values"].items():
            out[codes == int(value)] = cat + 1
        return out
    out = np.zeros((h, w), np.uint8)
    for a in record["annotations"]:
        seg = a.get("segmentation")
        if isinstance(seg, list):
            m = rle.polygons_to_mask(seg, h, w)
        elif isinstance(seg, dict):
            m = rle.decode(seg)
        else:
            x0, y0, x1, y1 = (int(round(v)) for v in a["bbox"])
            out[max(0, y0) : y1, max(0, x0) : x1] = IGNORE_LABEL
            continue
        out[m] = a["category_id"] + 1
    return out
