"""Stage ``detect``: the RGB model suite on the selected frames, over the corridor only.

Frames stream from :class:`~survey.process.frames.FrameReader` through a bounded prefetch
queue. A frame finer than ``[process] detect_gsd_m`` (default: each model's own training GSD,
models that share one run together) is first resampled to that ground sample distance (12 MP
stills then cost a fraction of their pixels); a model with a ``max_gsd_m`` (the fastening
detector: 4 mm/px) skips frames coarser than that.
The corridor mask of the frame (from ``select``) is cut into horizontal bands of one tile's
height; each band is cropped to the columns where the corridor is, and only those crops go
through the model suite (:class:`models.semseg.suite.ModelSuite`: semantic and Mask R-CNN
models alike). Detections found twice in the overlap of two bands are merged; those whose
centre lies off the corridor are dropped.

Each sighting keeps its class, score, outline and mask (COCO RLE of the full frame), box,
frame and an evidence crop; the analysed frame is saved as JPEG (``[process] save_frames``)
for review, evidence and COCO export. Every frame's result is checkpointed, so an interrupted
stage resumes where it stopped; frames that cannot be read are reported with the reason.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from survey.config import Config
from survey.pipeline.items import item_ok, load_required, write_item
from survey.process.records import StreamPoses, save_json, stream_ids
from survey.process.rgb_models import DetectionModelError, load_suite, model_specs, training_gsd
from survey.process.select import Selection

__all__ = ["band_windows", "crop_box", "detect_rgb", "frame_file"]

log = logging.getLogger(__name__)
BAND_PX = 512
OVERLAP_PX = 64
#: two detections of one class in one frame are one object when their boxes overlap this much
#: (intersection over union, or over the smaller box): a model's duplicate, or a band overlap
DUP_IOU, DUP_IOS = 0.3, 0.6
#: ... or touch within this many pixels (fragments of one long patch)
MERGE_GAP_PX = 4.0


def frame_file(sp: StreamPoses, row: int) -> str:
    """Where ``detect`` saves an analysed frame, relative to its stage folder."""
    stem = f"{sp.stream_id}/{Path(sp.files[int(sp.file_index[row])]).stem}"
    stem += f"_{int(sp.frame[row]):06d}" if sp.frame[row] >= 0 else ""
    return f"frames/{stem}.jpg"


def band_windows(roi: np.ndarray, step_px: int, h: int, w: int) -> list[tuple[int, int, int, int]]:
    """``(x0, y0, x1, y1)`` crops covering the corridor cells of a coarse mask, band by band.

    Examples
    --------
    >>> m = np.zeros((45, 80), bool); m[:, 30:45] = True
    >>> band_windows(m, 16, 720, 1280)
    [(448, 0, 752, 512), (448, 448, 752, 720)]
    """
    out: list[tuple[int, int, int, int]] = []
    pad = OVERLAP_PX // 2
    y0 = 0
    while y0 < h:
        y1 = min(h, y0 + BAND_PX)
        r0, r1 = y0 // step_px, -(-y1 // step_px)
        cols = np.flatnonzero(roi[r0:r1].any(axis=0))
        if cols.size:
            x0 = max(0, int(cols[0]) * step_px - pad)
            x1 = min(w, (int(cols[-1]) + 1) * step_px + pad)
            out.append((x0, y0, x1, y1))
        if y1 >= h:
            break
        y0 = y1 - OVERLAP_PX
    return out


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return np.asarray(inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9))


def _dedupe(inst: list[dict[str, Any]], gap_px: float = MERGE_GAP_PX) -> list[dict[str, Any]]:
    """One instance per object: per class, detections whose boxes overlap (``DUP_IOU``, or
    mostly one inside the other, ``DUP_IOS``) or touch within ``gap_px`` are the same object,
    found twice by the model, split into fragments along a long patch (standing water, fouled
    ballast) or seen in two overlapping bands. A group becomes one instance: the convex hull of
    its outlines, the union of its boxes, the best score."""
    import shapely
    from scipy.sparse.csgraph import connected_components

    if len(inst) < 2:
        return inst
    out: list[dict[str, Any]] = []
    for cls in sorted({d["class"] for d in inst}):
        group = sorted((d for d in inst if d["class"] == cls), key=lambda d: -_score(d))
        boxes = np.array([d["bbox_xyxy"] for d in group], float)
        iou = _box_iou(boxes, boxes)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        inter = iou * (area[:, None] + area[None, :]) / (1 + iou)
        ios = inter / np.maximum(np.minimum(area[:, None], area[None, :]), 1e-9)
        grown = boxes + [-gap_px, -gap_px, gap_px, gap_px]
        touch = (grown[:, None, 0] <= grown[None, :, 2]) & (grown[None, :, 0] <= grown[:, None, 2])
        touch &= (grown[:, None, 1] <= grown[None, :, 3]) & (grown[None, :, 1] <= grown[:, None, 3])
        same = (iou > DUP_IOU) | (ios > DUP_IOS) | touch
        _, label = connected_components(same, directed=False)
        for lab in np.unique(label):
            ks = np.flatnonzero(label == lab).tolist()
            best = group[min(ks)]  # the best-scoring member (the list is sorted by score)
            if len(ks) == 1:
                out.append(best)
                continue
            rings = [np.asarray(group[k]["polygon"], float) for k in ks]
            hull = shapely.convex_hull(
                shapely.MultiPoint(np.concatenate([r for r in rings if len(r)]))
            )
            ring = (
                np.asarray(hull.exterior.coords)[:-1] if hull.geom_type == "Polygon" else rings[0]
            )
            box = [boxes[ks, 0].min(), boxes[ks, 1].min(), boxes[ks, 2].max(), boxes[ks, 3].max()]
            out.append({**best, "polygon": ring, "bbox_xyxy": [float(v) for v in box],
                        "parts": len(ks)})  # fmt: skip
    return out


def _rle(ring: np.ndarray, h: int, w: int) -> tuple[str, int]:
    """Full-frame COCO RLE counts of a polygon and its pixel area."""
    import cv2
    from pycocotools import mask as mask_utils

    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [np.round(ring).astype(np.int32).reshape(-1, 1, 2)], 1)
    enc = mask_utils.encode(np.asfortranarray(m))
    return enc["counts"].decode("ascii"), int(m.sum())


def crop_box(
    bbox_xyxy: tuple[float, float, float, float], h: int, w: int, min_px: int
) -> tuple[int, int, int, int]:
    """A crop around a box: the box, half its size again around it, at least ``min_px``."""
    x0, y0, x1, y1 = bbox_xyxy
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side_w = max(min_px, 1.5 * (x1 - x0) + 16)
    side_h = max(min_px, 1.5 * (y1 - y0) + 16)
    a = int(np.clip(cx - side_w / 2, 0, max(0, w - 1)))
    b = int(np.clip(cy - side_h / 2, 0, max(0, h - 1)))
    return a, b, int(min(w, a + side_w)), int(min(h, b + side_h))


def _frame_result(
    suite: Any,
    img: np.ndarray,
    roi: np.ndarray,
    step: int,
    scale: float,
    gsd_m: float,
    members: tuple[int, ...] | None = None,
) -> tuple[list[dict[str, Any]], float]:
    """Instances in full-resolution pixel coordinates, and the seconds spent in the models
    (those at ``members`` of the suite; default all), the frame resampled by ``scale``."""
    import cv2

    work = img
    if scale < 1.0:
        work = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = work.shape[:2]
    sx, sy = img.shape[1] / w, img.shape[0] / h
    step_w = step / sx  # roi cells in working pixels
    rh, rw = roi.shape
    found: list[dict[str, Any]] = []
    t_model = 0.0
    for x0, y0, x1, y1 in band_windows(
        roi, int(round(step_w)) or 1, min(h, int(rh * step_w)), min(w, int(rw * step_w))
    ):
        crop = np.ascontiguousarray(work[y0:y1, x0:x1])
        t0 = time.perf_counter()
        res = suite(crop, gsd_mm=1000.0 * gsd_m / scale, members=members)
        t_model += time.perf_counter() - t0
        for d in res.instances:
            ring = np.asarray(d["polygon"], float) + [x0, y0]
            bx = np.asarray(d["bbox_xyxy"], float) + [x0, y0, x0, y0]
            found.append({**d, "polygon": ring, "bbox_xyxy": bx.tolist()})
    found = _dedupe(found)
    out = []
    for d in found:
        ring = d["polygon"] * [sx, sy]
        bx = np.asarray(d["bbox_xyxy"]) * [sx, sy, sx, sy]
        c = ring.mean(axis=0) if len(ring) else bx.reshape(2, 2).mean(axis=0)
        r, cc = int(np.clip(c[1] // step, 0, rh - 1)), int(np.clip(c[0] // step, 0, rw - 1))
        if not roi[r, cc]:
            continue
        out.append({**d, "polygon": ring, "bbox_xyxy": bx.tolist(), "centroid_px": c.tolist()})
    return out, t_model


def detect_rgb(
    run_dir: Path, poses_dir: Path, sel_dir: Path, cfg: Config, ctx: Any
) -> dict[str, Any]:
    """The stage body (``ctx`` is the runner's :class:`~survey.pipeline.StageContext`)."""
    import cv2

    from survey.process.frames import FrameReader, Prefetch

    out: Path = ctx.out
    flight_root = Path(ctx.params["flight_dir"])
    pc = cfg.process
    rgb = [
        s
        for s in stream_ids(poses_dir)
        if StreamPoses.load(poses_dir, s).kind in ("video", "still")
        and (sel_dir / f"{s}.npz").is_file()
    ]
    summary: dict[str, Any] = {"streams": {}, "failures": {}, "model_s": 0.0, "frames": 0}
    detections: list[dict[str, Any]] = []
    if not rgb:
        save_json(out / "detections.json", detections)
        save_json(out / "detect.json", summary)
        return summary
    suite = None
    groups: list[tuple[tuple[int, ...], float]] = []
    gsd_target = pc.detect_gsd_m
    specs = model_specs(cfg, ctx.params.get("asset_kind_resolved") or "rail")
    if [m.lower() for m in specs] == ["none"]:
        summary["note"] = (
            "RGB detection off: "
            + (
                "no shipped model knows this asset's defects (set [process] models)"
                if [m.lower() for m in cfg.process.models] == ["auto"]
                else "[process] models = ['none']"
            )
            + "; the selected frames are saved for review"
        )
        summary["models"] = []
    else:
        from models.errors import ModelError

        try:
            suite = load_suite(cfg, specs)
        except ModelError as exc:
            raise DetectionModelError(
                f"the RGB models {specs} cannot be loaded: {exc.message} (set [process] models; "
                "'none' runs without RGB detection)",
                path=exc.path,
            ) from exc
        summary["models"] = [m.spec for m in suite.members]
        summary["classes"] = list(suite.class_names)
        groups = suite.scale_groups(gsd_target)
        if gsd_target <= 0:
            gsd_target = training_gsd(suite)
        summary["detect_gsd_m"] = gsd_target
        summary["model_gsd_m"] = {
            suite.members[k].spec: g for idx, g in groups for k in idx
        }  # each model's working scale
    items = out / "items"
    items.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    q = max(1, int(pc.jpeg_quality))
    for sid in rgb:
        sp = StreamPoses.load(poses_dir, sid)
        sel = Selection.load(sel_dir, sid)
        roi_of = {int(r): sel.roi[k] for k, r in enumerate(sel.index)}
        gsd_of = {int(r): float(sel.gsd_m[k]) for k, r in enumerate(sel.index)}
        todo = [r for r in sel.index if not item_ok(items / f"{sid}_{int(r)}.pkl")]
        ctx.resumed_items += len(sel) - len(todo)
        reader = FrameReader(flight_root, sp, np.asarray(todo, np.intp))
        frames = Prefetch(reader, pc.queue_frames)
        n_det = 0
        for row, img in ctx.progress(frames, total=len(todo), unit="frame"):
            rec: dict[str, Any] = {"row": row, "detections": [], "model_s": 0.0}
            if img is not None:
                inst, t_model = [], 0.0
                for idx, g in groups:
                    scale = 1.0
                    if g > 0 and gsd_of[row] < 0.8 * g:  # 20 % finer: resample
                        scale = gsd_of[row] / g
                    gsd_mm = 1000.0 * gsd_of[row] / scale
                    if not any(suite.members[k].runs_at(gsd_mm) for k in idx):
                        continue  # e.g. the fastening detector on a 28 mm/px frame: no crops
                    found, t = _frame_result(
                        suite, img, roi_of[row], sel.roi_step_px, scale, gsd_of[row], idx
                    )
                    inst += found
                    t_model += t
                rec["model_s"] = t_model
                h, w = img.shape[:2]
                frame_rel = frame_file(sp, row)
                keep = pc.save_frames == "all" or (pc.save_frames == "detections" and inst)
                if keep:
                    (out / frame_rel).parent.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(out / frame_rel), img, [cv2.IMWRITE_JPEG_QUALITY, q])
                for k, d in enumerate(inst):
                    det_id = f"{sid}-{row}-{k}"
                    counts, area = _rle(d["polygon"], h, w)
                    a, b, c2, d2 = crop_box(tuple(d["bbox_xyxy"]), h, w, pc.crop_px)
                    crop_rel = f"crops/{det_id}.jpg"
                    (out / "crops").mkdir(exist_ok=True)
                    cv2.imwrite(str(out / crop_rel), img[b:d2, a:c2], [cv2.IMWRITE_JPEG_QUALITY, q])
                    x0, y0, x1, y1 = d["bbox_xyxy"]
                    rec["detections"].append(
                        {
                            "id": det_id, "stream": sid, "row": row, "sensor": "rgb",
                            "source": sp.files[int(sp.file_index[row])],
                            "frame": int(sp.frame[row]),
                            "class": d["class"], "score": _score(d),
                            "ring": np.round(d["polygon"], 2).tolist(),
                            "centroid_px": [round(float(v), 2) for v in d["centroid_px"]],
                            "bbox": [x0, y0, x1 - x0, y1 - y0], "mask_rle": counts,
                            "area_px": area, "model": d.get("model", ""),
                            "frame_path": f"stages/detect/{frame_rel}" if keep else "",
                            "crop_path": f"stages/detect/{crop_rel}",
                            "width": w, "height": h,
                        }
                    )  # fmt: skip
            else:
                rec["failed"] = reader.failures.get(row, "unreadable frame")
            write_item(items / f"{sid}_{row}.pkl", rec)
            n_det += len(rec["detections"])
        summary["failures"].update({f"{sid}:{r}": why for r, why in reader.failures.items()})
        summary["streams"][sid] = {"selected": len(sel), "analysed_now": len(todo)}
    # gather every frame's result (also those of an interrupted earlier attempt)
    for sid in rgb:
        sel = Selection.load(sel_dir, sid)
        for r in sel.index:
            rec = load_required(items / f"{sid}_{int(r)}.pkl")
            detections += rec["detections"]
            summary["model_s"] += rec["model_s"]
            summary["frames"] += 1
            if "failed" in rec:
                summary["failures"][f"{sid}:{int(r)}"] = rec["failed"]
    summary["seconds"] = time.perf_counter() - t_start
    summary["detections"] = len(detections)
    save_json(out / "detections.json", detections)
    save_json(out / "detect.json", summary)
    return summary


def _score(d: dict[str, Any]) -> float:
    """The detection's confidence in 0..1 (a semantic part without one counts as 0.5)."""
    s = d.get("score")
    return float(np.clip(s, 0.0, 1.0)) if s is not None and np.isfinite(s) else 0.5
