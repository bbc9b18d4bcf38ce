"""Reviewed detections as a COCO dataset, for retraining (the continuous-improvement loop).

Inspectors' decisions become labels: each sighting of a **confirmed** defect is an instance of
the defect's class (mask from the detection's RLE, else its box); each sighting of a **rejected**
defect is an instance of ``false_positive`` (``rejected="false_positive"``, the class the models
learn to classify out) or simply background (``rejected="background"``). Only frames whose every
sighting is decided (confirmed or rejected) are included: a frame that also shows an unreviewed
or needs-revisit sighting has incomplete labels and would teach the model wrong things; those are
counted in the result, not written.

Defects an **inspector added** (``sensors="inspector"``, confirmed) have no sightings: their
outline is projected into every saved RGB frame of the run that saw it
(:func:`inspector_instances`, the review app's frame browser) and each projection becomes an
instance of its class, so what the models missed is in the next training set. Frames are still
included only when every detection in them is decided.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from survey.defects import DefectSet, DetectionSet
from survey.errors import SurveyError

__all__ = ["CocoExport", "ExtraInstance", "export_coco", "inspector_instances"]


class CocoExportError(SurveyError, ValueError):
    """The reviewed detections cannot be written as COCO (missing frame, bad mask)."""


@dataclass(frozen=True)
class CocoExport:
    """What was written: the annotation file and counts."""

    annotations_path: Path
    images: int
    annotations: int
    skipped_frames: int
    categories: tuple[str, ...]


@dataclass(frozen=True)
class ExtraInstance:
    """An instance without a detection: an inspector's outline projected into a frame."""

    frame_path: str  #: relative to the run folder, as ``DetectionSet.frame_path``
    width: int
    height: int
    source: str
    frame: int
    t_s: float
    defect_id: str
    class_name: str
    polygon_px: tuple[tuple[float, float], ...]


def inspector_instances(
    defects: DefectSet, run_dir: str | Path, config_toml: str = ""
) -> list[ExtraInstance]:
    """The confirmed inspector-added defects, projected into the run's saved RGB frames."""
    import shapely

    from survey.process.detect import frame_file

    rd = Path(run_dir)
    rows = [
        i
        for i in range(len(defects))
        if defects.sensors[i] == "inspector" and defects.decision[i] == "confirmed"
    ]
    if not rows:
        return []
    from survey.review.frames import FrameIndex

    index = FrameIndex(rd, config_toml)
    out = []
    for i in rows:
        g = defects.geometry[i]
        ring = list(g.exterior.coords) if g is not None and g.geom_type == "Polygon" else None
        if ring is None:
            continue  # a point has no outline to label
        views = index.frames_seeing(
            float(defects.lon_deg[i]), float(defects.lat_deg[i]), outline_lonlat=ring, limit=200
        )
        for v in views:
            if v.sensor != "rgb":
                continue
            sp = index.streams[v.stream]
            rel = f"stages/detect/{frame_file(sp, v.row)}"
            if not (rd / rel).is_file():
                continue
            box = shapely.box(-0.5, -0.5, v.width_px - 0.5, v.height_px - 0.5)
            poly = shapely.Polygon(v.outline_px).buffer(0).intersection(box)
            if poly.is_empty or poly.geom_type != "Polygon" or poly.area < 4:
                continue
            out.append(
                ExtraInstance(
                    rel, v.width_px, v.height_px, v.label.split("#")[0],
                    int(sp.frame[v.row]), v.t_s, str(defects.defect_id[i]),
                    str(defects.class_name[i]),
                    tuple((float(x), float(y)) for x, y in poly.exterior.coords[:-1]),
                )
            )  # fmt: skip
    return out


def export_coco(
    defects: DefectSet,
    detections: DetectionSet,
    run_dir: str | Path,
    out_dir: str | Path,
    *,
    rejected: str = "false_positive",
    run_id: str = "",
    extra: list[ExtraInstance] | None = None,
) -> CocoExport:
    """Write ``out_dir/annotations.json`` and ``out_dir/images/`` from the reviewed sightings
    (and ``extra`` instances, e.g. :func:`inspector_instances`)."""
    from pycocotools import mask as mask_utils

    if rejected not in ("false_positive", "background"):
        raise CocoExportError(
            f"rejected must be 'false_positive' or 'background', got {rejected!r}"
        )
    rd, out = Path(run_dir), Path(out_dir)
    decision = dict(zip(defects.defect_id, defects.decision, strict=True))
    klass = dict(zip(defects.defect_id, defects.class_name, strict=True))
    dec = np.array([decision.get(d, "unreviewed") for d in detections.defect_id], dtype=object)
    decided = np.isin(dec, ("confirmed", "rejected"))
    frames = detections.frame_path
    usable = {f for f in set(frames[decided]) if f and decided[frames == f].all()}
    skipped = len({f for f in set(frames[decided]) if f}) - len(usable)
    extra = list(extra or [])
    incomplete = set(frames[~decided]) if len(frames) else set()
    extra_ok = [e for e in extra if e.frame_path not in incomplete]
    skipped += len({e.frame_path for e in extra} - {e.frame_path for e in extra_ok} - usable)
    names = sorted(
        {klass[d] for d, x in zip(detections.defect_id, dec, strict=True) if x == "confirmed"}
        | {e.class_name for e in extra_ok}
    )
    if rejected == "false_positive" and (dec == "rejected").any():
        names = sorted(set(names) | {"false_positive"})
    cat_id = {n: i + 1 for i, n in enumerate(names)}
    (out / "images").mkdir(parents=True, exist_ok=True)
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    image_id: dict[str, int] = {}
    for i in np.argsort(frames, kind="stable"):
        f = frames[i]
        if f not in usable:
            continue
        if f not in image_id:
            src = rd / f
            if not src.is_file():
                raise CocoExportError("frame image of a reviewed detection is missing", path=src)
            name = f.replace("/", "__")
            shutil.copyfile(src, out / "images" / name)
            image_id[f] = len(images) + 1
            images.append(
                {
                    "id": image_id[f],
                    "file_name": f"images/{name}",
                    "width": int(detections.image_width[i]),
                    "height": int(detections.image_height[i]),
                    "source": detections.source[i],
                    "frame": int(detections.frame[i]),
                    "t_s": float(detections.t_s[i]),
                }
            )
        if dec[i] == "rejected" and rejected == "background":
            continue
        category = "false_positive" if dec[i] == "rejected" else klass[detections.defect_id[i]]
        box = [
            float(detections.bbox_x[i]),
            float(detections.bbox_y[i]),
            float(detections.bbox_w[i]),
            float(detections.bbox_h[i]),
        ]
        ann: dict[str, Any] = {
            "id": len(anns) + 1,
            "image_id": image_id[f],
            "category_id": cat_id[category],
            "bbox": box,
            "iscrowd": 0,
            "score": float(detections.confidence[i]),
            "detection_id": detections.detection_id[i],
            "defect_id": detections.defect_id[i],
        }
        if detections.mask_rle[i]:
            rle = {
                "size": [int(detections.image_height[i]), int(detections.image_width[i])],
                "counts": detections.mask_rle[i],
            }
            try:
                ann["area"] = float(mask_utils.area(rle))
            except (ValueError, TypeError) as exc:
                raise CocoExportError(
                    f"invalid mask RLE: {exc}", where=f"detection {detections.detection_id[i]!r}"
                ) from exc
            ann["segmentation"] = rle
        else:
            x, y, w, h = box
            ann["area"] = w * h
            ann["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
        anns.append(ann)
    for e in sorted(extra_ok, key=lambda e: e.frame_path):
        f = e.frame_path
        if f not in image_id:
            src = rd / f
            if not src.is_file():
                raise CocoExportError("frame image of an added defect is missing", path=src)
            name = f.replace("/", "__")
            shutil.copyfile(src, out / "images" / name)
            image_id[f] = len(images) + 1
            images.append({"id": image_id[f], "file_name": f"images/{name}", "width": e.width,
                           "height": e.height, "source": e.source, "frame": e.frame,
                           "t_s": e.t_s})  # fmt: skip
        pts = np.asarray(e.polygon_px, float)
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        xs, ys = pts[:, 0], pts[:, 1]
        area = 0.5 * abs(float(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))))
        anns.append({"id": len(anns) + 1, "image_id": image_id[f],
                     "category_id": cat_id[e.class_name],
                     "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                     "iscrowd": 0, "score": 1.0, "detection_id": "", "defect_id": e.defect_id,
                     "area": area, "segmentation": [[round(float(v), 2) for v in pts.ravel()]],
                     "origin": "inspector"})  # fmt: skip
    doc = {
        "info": {
            "description": f"reviewed detections of run {run_id}",
            "date_created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "version": "1",
        },
        "licenses": [],
        "images": images,
        "annotations": anns,
        "categories": [{"id": cat_id[n], "name": n, "supercategory": "defect"} for n in names],
    }
    path = out / "annotations.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return CocoExport(path, len(images), len(anns), skipped, tuple(names))
