"""Ultralytics YOLO folders (``data.yaml`` + ``<split>/images`` + ``<split>/labels``) -> dataset.

Label rows are ``cls xc yc w h`` (normalised box) or ``cls x1 y1 x2 y2 ...`` (normalised polygon,
at least three points); polygons keep their outline as the instance's segmentation. Class names
come from ``data.yaml`` (``names`` as list or ``{id: name}``), else from ``classes.txt``, else
``class0..``. The image size is read from the image header (no decoding). A dataset counts as
having masks only when every instance is a polygon.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from models.datasets.base import (
    BOX_MODE_XYXY_ABS,
    LabelledDataset,
    Problem,
    image_size,
    list_images,
    report_problem,
)
from models.datasets.labelme import read_class_file
from models.errors import DatasetError, DatasetNotFoundError, ImageReadError

__all__ = ["load_yolo", "looks_like_yolo", "yolo_class_names", "yolo_splits"]

_SPLIT_ALIASES = {"valid": "val", "validation": "val"}


def yolo_splits(folder: Path) -> dict[str, tuple[Path, Path]]:
    """``{split: (images dir, labels dir)}``; a flat ``images/`` + ``labels/`` is split ``all``."""
    out = {}
    for d in sorted(folder.iterdir()) if folder.is_dir() else []:
        if (d / "images").is_dir() and (d / "labels").is_dir():
            out[_SPLIT_ALIASES.get(d.name, d.name)] = (d / "images", d / "labels")
    if not out and (folder / "images").is_dir() and (folder / "labels").is_dir():
        if any((folder / "labels").glob("*.txt")):
            out["all"] = (folder / "images", folder / "labels")
    return out


def looks_like_yolo(path: Path) -> bool:
    """Whether ``path`` is a YOLO dataset folder."""
    return path.is_dir() and ((path / "data.yaml").is_file() or bool(yolo_splits(path)))


def yolo_class_names(folder: Path) -> tuple[str, ...] | None:
    """Class names from ``data.yaml`` (or ``classes.txt``), or None when neither exists."""
    y = folder / "data.yaml"
    if y.is_file():
        try:
            data = yaml.safe_load(y.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise DatasetError(
                f"not valid YAML ({exc})", path=y, where=f"line {mark.line + 1}" if mark else None
            ) from exc
        names = data.get("names") if isinstance(data, dict) else None
        if isinstance(names, dict):
            return tuple(str(names[k]) for k in sorted(names, key=int))
        if isinstance(names, list):
            return tuple(str(n) for n in names)
        raise DatasetError("expected 'names' as a list or a mapping", path=y, where="names")
    if (folder / "classes.txt").is_file():
        return read_class_file(folder / "classes.txt")
    return None


def _parse_row(row: list[str], w: int, h: int) -> tuple[int, list[float], list[float] | None]:
    cls = int(row[0])
    vals = [float(v) for v in row[1:]]
    if any(v < -0.01 or v > 1.01 for v in vals):
        raise ValueError("coordinates must be normalised to [0, 1]")
    if len(vals) == 4:
        xc, yc, bw, bh = vals
        if bw <= 0 or bh <= 0:
            raise ValueError("empty box")
        box = [(xc - bw / 2) * w, (yc - bh / 2) * h, (xc + bw / 2) * w, (yc + bh / 2) * h]
        return cls, [max(0.0, box[0]), max(0.0, box[1]), min(w, box[2]), min(h, box[3])], None
    if len(vals) >= 6 and len(vals) % 2 == 0:
        poly = [v * (w if i % 2 == 0 else h) for i, v in enumerate(vals)]
        xs, ys = poly[0::2], poly[1::2]
        return cls, [min(xs), min(ys), max(xs), max(ys)], poly
    raise ValueError(f"expected 5 values (box) or an odd count >= 7 (polygon), got {len(row)}")


def load_yolo(
    folder: str | Path,
    split: str | None = None,
    classes: tuple[str, ...] | None = None,
    *,
    name: str | None = None,
    strict: bool = False,
) -> LabelledDataset:
    """Read one split of a YOLO folder (``split=None``: every split)."""
    folder = Path(folder)
    splits = yolo_splits(folder)
    if not splits:
        raise DatasetNotFoundError(
            "expected <split>/images + <split>/labels (YOLO layout)", path=folder
        )
    if split is not None and split not in splits:
        raise DatasetNotFoundError(f"no split {split!r}; present: {sorted(splits)}", path=folder)
    classes = classes or yolo_class_names(folder)
    problems: list[Problem] = []
    records: list[dict[str, Any]] = []
    max_cls = -1
    all_poly = True
    for sp, (img_dir, lab_dir) in splits.items():
        if split is not None and sp != split:
            continue
        for img in list_images(img_dir):
            lab = lab_dir / (img.stem + ".txt")
            try:
                h, w = image_size(img)
            except ImageReadError as exc:
                report_problem(problems, strict, img, "", exc.message)
                continue
            anns = []
            if lab.is_file():
                for ln, line in enumerate(lab.read_text(encoding="utf-8").splitlines(), 1):
                    row = line.split()
                    if not row:
                        continue
                    try:
                        cls, box, poly = _parse_row(row, w, h)
                    except ValueError as exc:
                        report_problem(problems, strict, lab, f"line {ln}", str(exc))
                        continue
                    if classes is not None and not 0 <= cls < len(classes):
                        report_problem(
                            problems,
                            strict,
                            lab,
                            f"line {ln}",
                            f"class {cls} outside 0..{len(classes) - 1}",
                        )
                        continue
                    max_cls = max(max_cls, cls)
                    ann: dict[str, Any] = {
                        "bbox": box,
                        "bbox_mode": BOX_MODE_XYXY_ABS,
                        "category_id": cls,
                        "iscrowd": 0,
                        "area": (box[2] - box[0]) * (box[3] - box[1]),
                    }
                    if poly is not None:
                        ann["segmentation"] = [poly]
                    else:
                        all_poly = False
                    anns.append(ann)
            records.append(
                {
                    "file_name": str(img),
                    "image_id": f"{sp}/{img.stem}",
                    "height": h,
                    "width": w,
                    "annotations": anns,
                }
            )
    if classes is None:
        classes = tuple(f"class{i}" for i in range(max_cls + 1))
    has_masks = all_poly and any(r["annotations"] for r in records)
    return LabelledDataset(
        name or folder.name, "yolo", tuple(classes), records, problems, has_masks
    )
