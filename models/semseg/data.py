"""Image + mask datasets for semantic segmentation, and decoding of label masks.

Two layouts are read:

- a **list file** (``train.txt``): one pair per line, ``IMAGE MASK``, paths relative to the list's
  folder (the layout of the UAV crack CC0 set: ``images/X.png masks/X.png``);
- **folder pairs**: an image folder and a mask folder matched by file stem (UAV75:
  ``train_img/X.jpg`` + ``train_lab/X.png``).

A mask pixel is a defect when its first channel is at least ``min_value``: 128 for binary
0/255 masks; UAV75's RGBA labels draw cracks white (255) and formwork joints grey (204), so
``min_value=255`` keeps the joints as background, which teaches the model to tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from models.errors import ModelError

__all__ = [
    "MaskSample",
    "load_folder_pairs",
    "load_list_file",
    "parse_dataset_spec",
    "read_image_bgr",
    "read_mask",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


@dataclass(frozen=True)
class MaskSample:
    """One training/validation pair: an image and its defect mask (file paths)."""

    image_path: str
    mask_path: str
    mask_min_value: int = 128
    split: str = ""


def read_image_bgr(path: str | Path) -> np.ndarray:
    """Read an image as 8-bit BGR (alpha dropped, grey expanded); ``ModelError`` when unreadable."""
    p = Path(path)
    if not p.is_file():
        raise ModelError("image file not found", path=p)
    data = np.fromfile(p, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise ModelError("not a readable image (expected PNG/JPEG/TIFF/BMP/WebP)", path=p)
    if img.dtype != np.uint8:
        if img.dtype != np.uint16:
            raise ModelError(f"unsupported pixel type {img.dtype} (expected 8 or 16 bit)", path=p)
        img = (img >> 8).astype(np.uint8)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    elif img.shape[2] != 3:
        raise ModelError(f"image has {img.shape[2]} channels (expected 1, 3 or 4)", path=p)
    return np.ascontiguousarray(img)


def read_mask(path: str | Path, min_value: int = 128) -> np.ndarray:
    """Read a label mask as a bool array: first channel ``>= min_value`` is a defect.

    The first channel is the red one for colour PNGs (cracks are white, so any channel works).
    """
    p = Path(path)
    if not p.is_file():
        raise ModelError("mask file not found", path=p)
    data = np.fromfile(p, dtype=np.uint8)
    m = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if m is None:
        raise ModelError("not a readable mask image", path=p)
    if m.ndim == 3:
        m = m[..., 2] if m.shape[2] >= 3 else m[..., 0]  # OpenCV's BGR(A): index 2 is red
    if m.dtype == np.uint16:
        m = (m >> 8).astype(np.uint8)
    return np.asarray(m >= min_value)


def load_list_file(
    path: str | Path, *, mask_min_value: int = 128, split: str = ""
) -> list[MaskSample]:
    """Read a list file of ``IMAGE MASK`` lines (paths relative to the file's folder).

    Blank lines and ``#`` comments are skipped; a line without two fields, or naming a missing
    file, raises :class:`~models.errors.ModelError` with the line number.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelError("dataset list file not found", path=p)
    root = p.parent
    out: list[MaskSample] = []
    for no, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ModelError(f"expected 'IMAGE MASK', got {line!r}", path=p, where=f"line {no}")
        img, msk = (root / parts[0]), (root / parts[1])
        for f in (img, msk):
            if not f.is_file():
                raise ModelError(f"names a missing file {f}", path=p, where=f"line {no}")
        out.append(MaskSample(str(img), str(msk), mask_min_value, split or p.stem))
    if not out:
        raise ModelError("dataset list file has no entries", path=p)
    return out


def load_folder_pairs(
    image_dir: str | Path, mask_dir: str | Path, *, mask_min_value: int = 128, split: str = ""
) -> list[MaskSample]:
    """Pair every image in ``image_dir`` with the mask of the same stem in ``mask_dir``."""
    idir, mdir = Path(image_dir), Path(mask_dir)
    for d in (idir, mdir):
        if not d.is_dir():
            raise ModelError("dataset folder not found", path=d)
    masks = {f.stem: f for f in mdir.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES}
    out: list[MaskSample] = []
    for img in sorted(f for f in idir.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES):
        if img.stem not in masks:
            raise ModelError(f"no mask with stem {img.stem!r} in {mdir}", path=img)
        out.append(MaskSample(str(img), str(masks[img.stem]), mask_min_value, split or idir.name))
    if not out:
        raise ModelError("no images found", path=idir)
    return out


def parse_dataset_spec(spec: str, *, split: str = "") -> list[MaskSample]:
    """Read a dataset given on a command line.

    ``LIST.txt[@MINVALUE]`` is a list file; ``IMAGEDIR:MASKDIR[@MINVALUE]`` is a folder pair.
    ``@MINVALUE`` sets the mask threshold (``@255`` for UAV75's white-on-grey labels).

    Examples
    --------
    >>> parse_dataset_spec("/nonexistent/train.txt@255")
    Traceback (most recent call last):
    ...
    models.errors.ModelError: /nonexistent/train.txt: dataset list file not found
    """
    body, _, mv = spec.rpartition("@") if "@" in spec else (spec, "", "")
    try:
        min_value = int(mv) if mv else 128
    except ValueError:
        raise ModelError(
            f"dataset spec {spec!r}: '@{mv}' is not an integer mask threshold"
        ) from None
    if ":" in body and not Path(body).is_file():
        img, _, msk = body.partition(":")
        return load_folder_pairs(img, msk, mask_min_value=min_value, split=split)
    return load_list_file(body, mask_min_value=min_value, split=split)
