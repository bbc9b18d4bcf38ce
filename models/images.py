"""Reading images as ``uint8`` HxWx3 RGB arrays (EXIF orientation applied), with clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from models.errors import ImageReadError

__all__ = ["read_rgb"]


def read_rgb(path: str | Path) -> np.ndarray:
    """Decode an image file to ``uint8`` RGB (grey is repeated, alpha dropped, 16-bit scaled).

    Raises :class:`~models.errors.ImageReadError` (also an ``OSError``) naming the file when it
    is missing, truncated or not an image.
    """
    try:
        with Image.open(path) as raw:
            im = ImageOps.exif_transpose(raw)
            if im.mode in ("I;16", "I;16B", "I"):
                a = np.asarray(im, dtype=np.float64)
                a = (255 * (a - a.min()) / max(1.0, float(a.max() - a.min()))).astype(np.uint8)
                return np.ascontiguousarray(np.repeat(a[..., None], 3, axis=2))
            return np.ascontiguousarray(np.asarray(im.convert("RGB")))
    except FileNotFoundError as exc:
        raise ImageReadError("image file not found", path=path) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"cannot decode image ({exc})", path=path) from exc
