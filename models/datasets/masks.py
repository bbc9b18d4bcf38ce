"""Label-mask PNG folders -> :class:`LabelledDataset` (instances from connected components).

Two layouts are recognised:

- ``<split>_img/`` beside ``<split>_lab/`` (UAV75: ``train_img``/``train_lab``);
- ``images/`` beside ``masks/`` (or ``labels/``), with optional ``<split>.txt`` lists whose lines
  read ``images/X.png masks/X.png`` or just ``X`` (uav_crack_cc0).

Images and labels pair by file stem. A label image maps pixel values to classes with
``values``: keys are grey levels (``255``), palette indices (P-mode PNG), or ``(r, g, b)``
tuples; alpha is dropped. The default is the UAV75 convention, white (255) = crack and grey
(204) = planking; with that default, classes a source never uses are left out. Each class's pixels are split into instances by 8-connected components, with
parts closer than ``link_px`` joined (a crack interrupted by a shadow stays one crack); each
instance keeps its exact pixels as RLE, so one-pixel-wide cracks survive. Records also carry
``label_file`` and ``label_values`` so a semantic model can read the label image itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from models import rle
from models.datasets.base import (
    BOX_MODE_XYXY_ABS,
    LabelledDataset,
    Problem,
    list_images,
    remap_classes,
    report_problem,
)
from models.errors import DatasetNotFoundError, ImageReadError

__all__ = [
    "DEFAULT_MASK_VALUES",
    "label_codes",
    "load_mask_pngs",
    "mask_layout",
    "mask_splits",
    "read_label_codes",
]

DEFAULT_MASK_VALUES: dict[int | tuple[int, int, int], str] = {255: "crack", 204: "planking"}
_LABEL_DIRS = ("masks", "labels", "mask", "label", "gt", "annotations")


def _code(key: int | tuple[int, int, int]) -> int:
    if isinstance(key, tuple):
        r, g, b = key
        return (r << 16) | (g << 8) | b if not (r == g == b) else r
    return int(key)


def label_codes(label: np.ndarray) -> np.ndarray:
    """One int code per pixel: grey level / palette index, or ``r<<16|g<<8|b`` for colours.

    Examples
    --------
    >>> a = np.array([[[255, 255, 255, 255], [204, 204, 204, 255], [255, 0, 0, 255]]], np.uint8)
    >>> label_codes(a).tolist()
    [[255, 204, 16711680]]
    """
    if label.ndim == 2:
        return label.astype(np.int32)
    rgb = label[..., :3].astype(np.int32)
    grey = (rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])
    return np.where(grey, rgb[..., 0], (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2])


def read_label_codes(path: str | Path) -> np.ndarray:
    """Read a label image and return :func:`label_codes` of it."""
    try:
        with Image.open(path) as im:
            arr = np.asarray(
                im if im.mode in ("L", "P", "RGB", "RGBA", "I", "I;16") else im.convert("RGB")
            )
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageReadError(f"not a readable label image ({exc})", path=path) from exc
    return label_codes(arr)


def mask_layout(folder: Path) -> dict[str, tuple[Path, Path]] | None:
    """``{split or "all": (image dir, label dir)}`` for a mask folder, or None if not one."""
    if not folder.is_dir():
        return None
    pairs = {}
    for d in sorted(folder.glob("*_img")):
        lab = folder / (d.name[: -len("_img")] + "_lab")
        if d.is_dir() and lab.is_dir():
            pairs[d.name[: -len("_img")]] = (d, lab)
    if pairs:
        return pairs
    img = folder / "images"
    found = next((folder / n for n in _LABEL_DIRS if (folder / n).is_dir()), None)
    if (
        img.is_dir()
        and found is not None
        and any(p.suffix.lower() == ".png" for p in found.iterdir())
    ):
        if not any(found.glob("*.txt")) and not any(found.glob("*.xml")):
            return {"all": (img, found)}
    return None


def mask_splits(folder: Path) -> dict[str, list[str]]:
    """Split lists ``<split>.txt`` in the folder: ``{split: [image stems]}``."""
    out = {}
    for p in sorted(folder.glob("*.txt")):
        stems = [Path(ln.split()[0]).stem for ln in p.read_text().splitlines() if ln.strip()]
        if stems:
            out[p.stem] = stems
    return out


def _instances(
    codes: np.ndarray,
    lut: Mapping[int, int],
    link_px: int,
    min_area_px: int,
) -> list[dict[str, Any]]:
    anns = []
    for code, cat in lut.items():
        m = codes == code
        if not m.any():
            continue
        lab, n = rle.components(m, link_px=link_px, min_area_px=min_area_px)
        if n == 0:
            continue
        # boxes of all components at once
        ys, xs = np.nonzero(lab)
        ids = lab[ys, xs] - 1
        x0 = np.full(n, 1 << 30)
        y0 = np.full(n, 1 << 30)
        x1 = np.zeros(n, np.int64)
        y1 = np.zeros(n, np.int64)
        np.minimum.at(x0, ids, xs)
        np.minimum.at(y0, ids, ys)
        np.maximum.at(x1, ids, xs)
        np.maximum.at(y1, ids, ys)
        areas = np.bincount(ids, minlength=n)
        for i in range(n):
            sub = lab[y0[i] : y1[i] + 1, x0[i] : x1[i] + 1] == i + 1
            full = np.zeros(codes.shape, bool)
            full[y0[i] : y1[i] + 1, x0[i] : x1[i] + 1] = sub
            anns.append(
                {
                    "bbox": [float(x0[i]), float(y0[i]), float(x1[i] + 1), float(y1[i] + 1)],
                    "bbox_mode": BOX_MODE_XYXY_ABS,
                    "category_id": cat,
                    "segmentation": rle.json_rle(rle.encode(full)),
                    "iscrowd": 0,
                    "area": float(areas[i]),
                }
            )
    return anns


def load_mask_pngs(
    image_dir: str | Path,
    label_dir: str | Path,
    values: Mapping[int | tuple[int, int, int], str] | None = None,
    *,
    stems: list[str] | None = None,
    name: str | None = None,
    link_px: int = 2,
    min_area_px: int = 4,
    strict: bool = False,
) -> LabelledDataset:
    """Pair images with label PNGs by stem and turn each class's pixels into instances.

    Parameters
    ----------
    image_dir, label_dir : path
        The image folder and the label folder.
    values : mapping, optional
        Pixel value (grey level, palette index or ``(r, g, b)``) -> class name; several values
        may name one class. Default :data:`DEFAULT_MASK_VALUES`.
    stems : list of str, optional
        Only these image stems (a split list), in this order.
    link_px : int
        Join parts of one class closer than this many pixels into one instance.
    min_area_px : int
        Drop parts smaller than this (label noise).
    """
    image_dir, label_dir = Path(image_dir), Path(label_dir)
    for d in (image_dir, label_dir):
        if not d.is_dir():
            raise DatasetNotFoundError("folder not found", path=d)
    explicit = values is not None
    values = dict(values or DEFAULT_MASK_VALUES)
    classes = tuple(dict.fromkeys(values.values()))
    cls_index = {c: i for i, c in enumerate(classes)}
    lut = {_code(k): cls_index[v] for k, v in values.items()}
    labels = {
        p.stem: p
        for p in label_dir.iterdir()
        if p.suffix.lower() in (".png", ".bmp", ".tif", ".tiff")
    }
    images = {p.stem: p for p in list_images(image_dir)}
    problems: list[Problem] = []
    order = stems if stems is not None else sorted(images)
    records = []
    for stem in order:
        img = images.get(stem)
        if img is None:
            report_problem(
                problems, strict, image_dir, stem, "image listed in the split is missing"
            )
            continue
        lab = labels.get(stem)
        if lab is None:
            report_problem(
                problems, strict, img, "", f"no label image named {stem}.* in {label_dir}"
            )
            continue
        try:
            codes = read_label_codes(lab)
            with Image.open(img) as im:
                w, h = im.size
        except (ImageReadError, UnidentifiedImageError, OSError) as exc:
            report_problem(
                problems, strict, lab if isinstance(exc, ImageReadError) else img, "", str(exc)
            )
            continue
        if codes.shape != (h, w):
            report_problem(
                problems,
                strict,
                lab,
                "",
                f"label is {codes.shape[1]}x{codes.shape[0]}, image {w}x{h}",
            )
            continue
        records.append(
            {
                "file_name": str(img),
                "image_id": stem,
                "height": int(h),
                "width": int(w),
                "annotations": _instances(codes, lut, link_px, min_area_px),
                "label_file": str(lab),
                "label_values": dict(lut),
            }
        )
    ds = LabelledDataset(name or image_dir.parent.name, "masks", classes, records, problems, True)
    if not explicit:  # default palette: leave out its classes this source never uses
        present = [c for c, n in ds.instance_counts().items() if n > 0]
        if present and len(present) < len(classes):
            ds = remap_classes(ds, present)
    return ds
