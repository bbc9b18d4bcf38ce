"""Reading images and per-pixel targets for the semantic model.

Datasets come from the project's importers (:func:`models.datasets.sources.load_dataset`: mask
PNG folders such as UAV75 ``train_img``/``train_lab`` or the CC0 set's ``train.txt``); a record
carries ``label_file`` and ``label_values``, and :func:`read_target` turns it into the
``uint8`` class map of :func:`models.datasets.semantic.semantic_target` (0 background, ``k + 1``
class ``k``, 255 ignored). With the class list ``["crack"]``, UAV75's grey formwork joints
(label 204, class ``planking``) are background: the model learns to tell them from cracks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from models.errors import DatasetError, ImageReadError

__all__ = ["read_image_bgr", "read_target"]


def read_image_bgr(path: str | Path) -> np.ndarray:
    """Read an image as 8-bit BGR (alpha dropped, grey expanded, 16 bit scaled).

    Raises :class:`~models.errors.ImageReadError` naming the file when it is missing,
    truncated, empty or not an image.
    """
    p = Path(path)
    if not p.is_file():
        raise ImageReadError("image file not found", path=p)
    data = np.fromfile(p, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise ImageReadError("not a readable image (expected PNG/JPEG/TIFF/BMP/WebP)", path=p)
    if img.dtype == np.uint16:
        img = (np.asarray(img, np.uint16) >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ImageReadError(f"unsupported pixel type {img.dtype} (expected 8 or 16 bit)", path=p)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    elif img.shape[2] != 3:
        raise ImageReadError(f"image has {img.shape[2]} channels (expected 1, 3 or 4)", path=p)
    return np.ascontiguousarray(img)


def read_target(record: dict[str, Any], image_hw: tuple[int, int] | None = None) -> np.ndarray:
    """The ``uint8`` class map of a dataset record; checks it matches the image size."""
    from models.datasets.semantic import semantic_target

    target = semantic_target(record)
    if image_hw is not None and target.shape != tuple(image_hw):
        raise DatasetError(
            f"label is {target.shape[1]}x{target.shape[0]} but the image is "
            f"{image_hw[1]}x{image_hw[0]}",
            path=record.get("label_file") or record.get("file_name"),
        )
    return target
