"""COCO instance-segmentation JSON -> :class:`LabelledDataset`.

Categories are renumbered ``0..K-1`` in order of their COCO ``id``; boxes go from COCO's
``[x, y, w, h]`` to absolute ``[x0, y0, x1, y1]``; segmentations (polygons, compressed or
uncompressed RLE) are kept as they are. Images are looked up relative to ``image_root``
(default: the JSON's folder, its ``images/`` subfolder, then the folder above, as when the JSON
sits in ``annotations/`` or a simulated flight's ``truth/``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from models.datasets.base import BOX_MODE_XYXY_ABS, LabelledDataset, Problem, report_problem
from models.errors import DatasetError, DatasetNotFoundError

__all__ = ["load_coco", "looks_like_coco"]


_LIST_KEY = re.compile(rb'"(images|annotations|categories)"\s*:\s*\[')


def looks_like_coco(path: Path) -> bool:
    """Whether a JSON file has COCO's ``images`` list and ``annotations`` or ``categories`` lists.

    Reads at most the first 1 MB (large files put ``images`` first, as COCO does).
    """
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    with path.open("rb") as f:
        head = f.read(1 << 20)
    keys = {m.group(1) for m in _LIST_KEY.finditer(head)}
    return b"images" in keys and bool(keys & {b"annotations", b"categories"})


def _image_path(root: Path, file_name: str) -> Path:
    cands = (
        root / file_name,
        root / "images" / file_name,
        root.parent / file_name,  # annotations/ or truth/ beside the images
        root.parent / "images" / file_name,
        root / Path(file_name).name,
    )
    for cand in cands:
        if cand.is_file():
            return cand
    return root / file_name


def load_coco(
    json_path: str | Path,
    image_root: str | Path | None = None,
    *,
    name: str | None = None,
    strict: bool = False,
) -> LabelledDataset:
    """Read a COCO JSON file.

    Parameters
    ----------
    json_path : path
        The annotation file.
    image_root : path, optional
        Folder the ``file_name`` entries are relative to (default: the JSON's folder).
    name : str, optional
        Dataset name (default: the file stem).
    strict : bool
        Raise on the first unusable image or annotation instead of skipping it.
    """
    json_path = Path(json_path)
    if not json_path.is_file():
        raise DatasetNotFoundError("COCO annotation file not found", path=json_path)
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f"line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else None
        raise DatasetError(f"not valid JSON ({exc})", path=json_path, where=where) from exc
    if not isinstance(data, dict):
        raise DatasetError(
            "expected a JSON object with images/annotations/categories", path=json_path
        )
    for key in ("images", "categories"):
        if not isinstance(data.get(key), list):
            raise DatasetError(f"missing list {key!r}", path=json_path, where=key)
    root = Path(image_root) if image_root else json_path.parent
    problems: list[Problem] = []

    try:
        cats = sorted(data["categories"], key=lambda c: int(c["id"]))
        cat_index = {int(c["id"]): i for i, c in enumerate(cats)}
        classes = tuple(str(c["name"]) for c in cats)
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(
            f"each category needs 'id' and 'name' ({exc})", path=json_path, where="categories"
        ) from exc

    records: dict[int, dict[str, Any]] = {}
    for k, im in enumerate(data["images"]):
        where = f"images[{k}]"
        try:
            img_id, fname, h, w = (
                int(im["id"]),
                str(im["file_name"]),
                int(im["height"]),
                int(im["width"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            report_problem(
                problems, strict, json_path, where, f"needs id, file_name, height, width ({exc})"
            )
            continue
        path = _image_path(root, fname)
        if not path.is_file():
            report_problem(problems, strict, json_path, where, f"image file {path} does not exist")
            continue
        records[img_id] = {
            "file_name": str(path),
            "image_id": str(img_id),
            "height": h,
            "width": w,
            "annotations": [],
        }

    has_masks = False
    for k, a in enumerate(data.get("annotations") or []):
        where = f"annotations[{k}]"
        try:
            img_id, cat = int(a["image_id"]), int(a["category_id"])
            x, y, bw, bh = (float(v) for v in a["bbox"])
        except (KeyError, TypeError, ValueError) as exc:
            report_problem(
                problems, strict, json_path, where, f"needs image_id, category_id, bbox ({exc})"
            )
            continue
        if img_id not in records:
            continue  # image skipped (or unknown): its annotations go with it
        if cat not in cat_index:
            report_problem(
                problems, strict, json_path, where, f"category_id {cat} is not in categories"
            )
            continue
        if bw <= 0 or bh <= 0:
            report_problem(problems, strict, json_path, where, f"empty box {a['bbox']}")
            continue
        ann: dict[str, Any] = {
            "bbox": [x, y, x + bw, y + bh],
            "bbox_mode": BOX_MODE_XYXY_ABS,
            "category_id": cat_index[cat],
            "iscrowd": int(a.get("iscrowd", 0)),
            "area": float(a.get("area", bw * bh)),
        }
        seg = a.get("segmentation")
        if isinstance(seg, list) and seg:
            polys = [p for p in seg if isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0]
            if len(polys) != len(seg):
                report_problem(
                    problems,
                    strict,
                    json_path,
                    where,
                    "polygon with fewer than 3 points or an odd count",
                )
                continue
            ann["segmentation"] = polys
            has_masks = True
        elif isinstance(seg, dict):
            if "counts" not in seg or "size" not in seg:
                report_problem(problems, strict, json_path, where, "RLE needs 'counts' and 'size'")
                continue
            ann["segmentation"] = seg
            has_masks = True
        records[img_id]["annotations"].append(ann)

    return LabelledDataset(
        name=name or json_path.stem,
        fmt="coco",
        classes=classes,
        records=list(records.values()),
        problems=problems,
        has_masks=has_masks,
    )
