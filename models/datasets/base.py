"""The common form every importer produces: Detectron2 dataset dicts plus a declared class list.

A record is a Detectron2 "standard dataset dict"::

    {"file_name": str, "image_id": str, "height": int, "width": int,
     "annotations": [{"bbox": [x0, y0, x1, y1], "bbox_mode": BoxMode.XYXY_ABS (=0),
                      "category_id": int, "segmentation": polygons | RLE dict, "iscrowd": 0,
                      "area": float}, ...],
     # mask-PNG sources only (semantic targets):
     "label_file": str, "label_values": {pixel value: category_id}}

``category_id`` indexes the dataset's ``classes``. Boxes are absolute pixels (``XYXY_ABS``);
``bbox_mode`` is stored as the int ``0`` so records stay plain data (no detectron2 import).
Files that cannot be used are not fatal: each becomes a :class:`Problem` (file, place, reason)
and the importer goes on; ``strict=True`` raises on the first instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from models.errors import DatasetError, ImageReadError

__all__ = [
    "BOX_MODE_XYXY_ABS",
    "IMAGE_SUFFIXES",
    "LabelledDataset",
    "Problem",
    "image_size",
    "remap_classes",
]

log = logging.getLogger(__name__)

BOX_MODE_XYXY_ABS = 0  # detectron2.structures.BoxMode.XYXY_ABS
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class Problem:
    """One file an importer skipped or part of it that it could not use."""

    path: str
    where: str
    reason: str

    def __str__(self) -> str:
        loc = f"{self.path}, {self.where}" if self.where else self.path
        return f"{loc}: {self.reason}"


@dataclass(frozen=True)
class LabelledDataset:
    """Records of one labelled source, with its class list and what was skipped.

    Attributes
    ----------
    name : str
        A readable name (``"uav75:train"``).
    fmt : str
        The source format: ``coco``, ``labelme``, ``voc``, ``masks``, ``yolo``.
    classes : tuple of str
        Class names; ``category_id`` of an annotation indexes this tuple.
    records : list of dict
        Detectron2 dataset dicts (see the module docstring).
    problems : list of Problem
        Files or entries skipped, with the reason.
    has_masks : bool
        Whether annotations carry instance masks (polygons or RLE); box-only otherwise.
    notes : list of Problem
        Inconsistencies the importer repaired (kept, not skipped), e.g. a VOC file declaring a
        size other than its image's (boxes scaled).
    """

    name: str
    fmt: str
    classes: tuple[str, ...]
    records: list[dict[str, Any]]
    problems: list[Problem] = field(default_factory=list)
    has_masks: bool = True
    notes: list[Problem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def instance_counts(self) -> dict[str, int]:
        """Number of instances of each class."""
        counts = dict.fromkeys(self.classes, 0)
        for r in self.records:
            for a in r["annotations"]:
                counts[self.classes[a["category_id"]]] += 1
        return counts

    def with_records(
        self, records: list[dict[str, Any]], name: str | None = None
    ) -> LabelledDataset:
        """A copy holding other records (a split), same classes."""
        return replace(self, records=records, name=name or self.name)


def image_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` from the image header, without decoding the pixels."""
    try:
        with Image.open(path) as im:
            w, h = im.size
    except FileNotFoundError:
        raise
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageReadError(f"not a readable image ({exc})", path=path) from exc
    return int(h), int(w)


def remap_classes(
    ds: LabelledDataset, classes: Sequence[str], *, aliases: dict[str, str] | None = None
) -> LabelledDataset:
    """Express a dataset in another class list (by name); annotations of other classes go.

    Names compare case-insensitively; ``aliases`` maps a source name to a target name.

    Examples
    --------
    >>> rec = {"file_name": "a.png", "image_id": "a", "height": 4, "width": 4, "annotations": [
    ...     {"bbox": [0, 0, 1, 1], "bbox_mode": 0, "category_id": 1, "iscrowd": 0},
    ...     {"bbox": [0, 0, 2, 2], "bbox_mode": 0, "category_id": 0, "iscrowd": 0}]}
    >>> ds = LabelledDataset("t", "coco", ("planking", "crack"), [rec])
    >>> out = remap_classes(ds, ["crack"])
    >>> out.classes, [a["category_id"] for a in out.records[0]["annotations"]]
    (('crack',), [0])
    """
    aliases = {k.lower(): v.lower() for k, v in (aliases or {}).items()}
    target = {c.lower(): i for i, c in enumerate(classes)}
    if len(target) != len(classes):
        raise DatasetError(f"class list has duplicate names: {list(classes)}")
    lut = {}
    for i, c in enumerate(ds.classes):
        name = aliases.get(c.lower(), c.lower())
        if name in target:
            lut[i] = target[name]
    dropped = [c for i, c in enumerate(ds.classes) if i not in lut]
    if dropped:
        log.info(
            "%s: classes %s are not in %s; their annotations are left out",
            ds.name,
            dropped,
            list(classes),
        )
    records = []
    for r in ds.records:
        r2 = dict(r)
        r2["annotations"] = [
            {**a, "category_id": lut[a["category_id"]]}
            for a in r["annotations"]
            if a["category_id"] in lut
        ]
        if "label_values" in r:
            r2["label_values"] = {v: lut[c] for v, c in r["label_values"].items() if c in lut}
        records.append(r2)
    return replace(ds, classes=tuple(classes), records=records)


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def report_problem(
    problems: list[Problem], strict: bool, path: Path | str, where: str, reason: str
) -> None:
    """Record a skipped file (or raise when ``strict``)."""
    if strict:
        raise DatasetError(reason, path=path, where=where or None)
    p = Problem(str(path), where, reason)
    log.warning("skipped: %s", p)
    problems.append(p)


def unique_ids(records: Iterable[dict[str, Any]]) -> None:
    """Raise when two records share an ``image_id``."""
    seen: dict[str, str] = {}
    for r in records:
        if r["image_id"] in seen:
            raise DatasetError(
                f"image id {r['image_id']!r} is used twice ({seen[r['image_id']]} and {r['file_name']})"
            )
        seen[r["image_id"]] = r["file_name"]
