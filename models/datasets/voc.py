"""Pascal VOC XML (boxes) -> :class:`LabelledDataset` (box-only: ``has_masks`` is False).

Layout: ``Annotations/*.xml`` (or ``annotations/``) beside ``JPEGImages/`` (or ``images/``);
``ImageSets/Main/<split>.txt`` lists the ids of a split when present. VOC pixel indices are
1-based and inclusive, so ``xmin - 1`` .. ``xmax`` becomes the absolute box (as Detectron2's own
VOC loader does). When a file's ``<size>`` differs from its image's real size (images resized
after labelling, as in some NEU-DET copies), boxes are scaled to the image and the file is
listed in the dataset's ``notes``.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path

from models.datasets.base import (
    BOX_MODE_XYXY_ABS,
    LabelledDataset,
    Problem,
    image_size,
    report_problem,
)
from models.datasets.labelme import read_class_file
from models.errors import DatasetNotFoundError, ImageReadError

__all__ = ["load_voc", "looks_like_voc", "voc_dirs", "voc_splits"]

log = logging.getLogger(__name__)


def voc_dirs(folder: Path) -> tuple[Path, Path] | None:
    """``(annotation dir, image dir)`` of a VOC folder, or None."""
    ann = next((folder / n for n in ("Annotations", "annotations") if (folder / n).is_dir()), None)
    img = next(
        (folder / n for n in ("JPEGImages", "images", "Images") if (folder / n).is_dir()), None
    )
    if ann is None or img is None or not any(ann.glob("*.xml")):
        return None
    return ann, img


def looks_like_voc(path: Path) -> bool:
    """Whether ``path`` is a VOC-style folder."""
    return path.is_dir() and voc_dirs(path) is not None


def voc_splits(folder: Path) -> dict[str, list[str]]:
    """Native splits from ``ImageSets/Main/<split>.txt`` (empty when absent)."""
    d = folder / "ImageSets" / "Main"
    if not d.is_dir():
        return {}
    return {
        p.stem: [ln.split()[0] for ln in p.read_text().splitlines() if ln.strip()]
        for p in sorted(d.glob("*.txt"))
        if "_" not in p.stem  # skip per-class lists like car_train.txt
    }


def _text(node: ET.Element, tag: str) -> str:
    child = node.find(tag)
    if child is None or child.text is None:
        raise ValueError(f"missing <{tag}>")
    return child.text.strip()


def load_voc(
    folder: str | Path,
    classes: tuple[str, ...] | None = None,
    *,
    ids: list[str] | None = None,
    name: str | None = None,
    strict: bool = False,
) -> LabelledDataset:
    """Read a VOC folder (optionally only the image ids in ``ids``)."""
    folder = Path(folder)
    dirs = voc_dirs(folder) if folder.is_dir() else None
    if dirs is None:
        raise DatasetNotFoundError(
            "expected Annotations/*.xml and JPEGImages/ (or images/)", path=folder
        )
    ann_dir, img_dir = dirs
    if classes is None:
        for fname in ("labels.txt", "classes.txt"):
            if (folder / fname).is_file():
                classes = read_class_file(folder / fname)
    problems: list[Problem] = []
    notes: list[Problem] = []
    xmls = sorted(ann_dir.glob("*.xml"))
    if ids is not None:
        wanted = set(ids)
        xmls = [x for x in xmls if x.stem in wanted]
    parsed = []
    for x in xmls:
        try:
            root = ET.parse(x).getroot()
        except ET.ParseError as exc:
            report_problem(problems, strict, x, f"line {exc.position[0]}", f"not valid XML ({exc})")
            continue
        parsed.append((x, root))
    if classes is None:
        classes = tuple(
            sorted(
                {(o.findtext("name") or "").strip() for _, r in parsed for o in r.iter("object")}
                - {""}
            )
        )
    index = {c: i for i, c in enumerate(classes)}
    records = []
    for x, root in parsed:
        fname = (root.findtext("filename") or "").strip()
        img = img_dir / fname if fname else None
        if img is None or not img.is_file():
            img = next(iter(sorted(img_dir.glob(x.stem + ".*"))), None)
        if img is None or not img.is_file():
            report_problem(
                problems, strict, x, "filename", f"image {fname or x.stem!r} not found in {img_dir}"
            )
            continue
        try:
            size = root.find("size")
            if size is None:
                raise ValueError("missing <size>")
            w, h = int(_text(size, "width")), int(_text(size, "height"))
        except ValueError as exc:
            report_problem(problems, strict, x, "size", str(exc))
            continue
        try:
            ih, iw = image_size(img)
        except ImageReadError as exc:
            report_problem(problems, strict, img, "", exc.message)
            continue
        sx, sy = iw / w, ih / h
        if (iw, ih) != (w, h):
            notes.append(
                Problem(
                    str(x), "size", f"declares {w}x{h} but the image is {iw}x{ih}: boxes scaled"
                )
            )
            w, h = iw, ih
        anns = []
        for k, obj in enumerate(root.iter("object")):
            label = (obj.findtext("name") or "").strip()
            if label not in index:
                continue
            try:
                bb = obj.find("bndbox")
                if bb is None:
                    raise ValueError("missing <bndbox>")
                x0, y0 = (
                    (float(_text(bb, "xmin")) - 1.0) * sx,
                    (float(_text(bb, "ymin")) - 1.0) * sy,
                )
                x1, y1 = float(_text(bb, "xmax")) * sx, float(_text(bb, "ymax")) * sy
            except ValueError as exc:
                report_problem(problems, strict, x, f"object[{k}]", str(exc))
                continue
            if x1 <= x0 or y1 <= y0:
                report_problem(problems, strict, x, f"object[{k}]", f"empty box {x0, y0, x1, y1}")
                continue
            anns.append(
                {
                    "bbox": [max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1)],
                    "bbox_mode": BOX_MODE_XYXY_ABS,
                    "category_id": index[label],
                    "iscrowd": 0,
                    "area": (x1 - x0) * (y1 - y0),
                }
            )
        records.append(
            {
                "file_name": str(img),
                "image_id": x.stem,
                "height": h,
                "width": w,
                "annotations": anns,
            }
        )
    if notes:
        log.warning(
            "%s: %d annotation files declare a size other than their image's (boxes scaled)",
            folder,
            len(notes),
        )
    return LabelledDataset(
        name or folder.name, "voc", tuple(classes), records, problems, has_masks=False, notes=notes
    )
