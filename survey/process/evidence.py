"""Evidence from the other camera: the best frame of a sensor that saw a defect but found nothing.

A leak found in thermal frames gets a crop of the best RGB frame over the same spot (and a
missing fastener found in RGB the thermal view of it), so an inspector always sees what both
cameras recorded. Candidates are the frames ``select`` chose for that sensor whose footprint
holds the defect's position; the finest and most central one wins. RGB crops come from the
frames ``detect`` saved; thermal crops are rendered in false colour from the file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from survey.config import Config
from survey.process.records import StreamPoses, stream_ids
from survey.process.select import Selection

__all__ = ["cross_evidence"]

log = logging.getLogger(__name__)


def _candidates(run_dir: Path, cfg: Config, asset: Any, kinds: tuple[str, ...]) -> list[Any]:
    from survey.process.geometry import georeferencer, ground_surface

    poses_dir, sel_dir = run_dir / "stages" / "poses", run_dir / "stages" / "select"
    out = []
    for sid in stream_ids(poses_dir):
        sp = StreamPoses.load(poses_dir, sid)
        if sp.kind not in kinds or not (sel_dir / f"{sid}.npz").is_file():
            continue
        sel = Selection.load(sel_dir, sid)
        if not len(sel):
            continue
        ground = ground_surface(cfg.process, sp.alt_ref, asset.frame)
        g = georeferencer(sp.camera.model(), ground, asset.frame, cfg.process.max_range_m)
        out.append((sp, sel, g, ground))
    return out


def _best_view(cands: list[Any], x: float, y: float) -> tuple[Any, int, float, float] | None:
    import shapely

    pt = shapely.Point(x, y)
    best = None
    for sp, sel, g, ground in cands:
        inside = np.flatnonzero([f is not None and f.contains(pt) for f in sel.footprint])
        if not inside.size:
            continue
        rows = sel.index[inside]
        state = g.prepare(sp.camera_poses(rows))
        z = ground.height_at(np.full(rows.size, x), np.full(rows.size, y))
        u, v, vis = g.ground_to_pixels(state, np.full(rows.size, x), np.full(rows.size, y), z)
        cam = g.camera
        off = np.hypot(u / cam.width_px - 0.5, v / cam.height_px - 0.5)
        score = np.where(vis, sel.gsd_m[inside] * (1 + off), np.inf)
        k = int(np.argmin(score))
        if np.isfinite(score[k]) and (best is None or score[k] < best[0]):
            best = (float(score[k]), sp, int(rows[k]), float(u[k]), float(v[k]))
    return None if best is None else best[1:]


def cross_evidence(
    recs: list[dict[str, Any]],
    s: Any,
    asset: Any,
    cfg: Config,
    run_dir: Path,
    out: Path,
    progress: Any = None,
) -> dict[str, dict[str, Any]]:
    """defect id -> {"rgb"|"thermal": {crop_path, source, frame}} for one-sensor defects."""
    import cv2

    from survey.process.detect import crop_box, frame_file
    from survey.process.thermal_stage import _crop_false_colour

    need_rgb = [d for d in recs if d["rgb_best"] is None]
    need_th = [d for d in recs if d["th_best"] is None]
    result: dict[str, dict[str, Any]] = {}
    if not (need_rgb or need_th):
        return result
    (out / "crops").mkdir(parents=True, exist_ok=True)
    q = [cv2.IMWRITE_JPEG_QUALITY, int(cfg.process.jpeg_quality)]
    rgb_c = _candidates(run_dir, cfg, asset, ("video", "still")) if need_rgb else []
    th_c = _candidates(run_dir, cfg, asset, ("thermal",)) if need_th else []
    root = Path(cfg_flight_dir(run_dir))
    bar = progress or (lambda it, **kw: it)
    todo = [("rgb", d, rgb_c) for d in need_rgb] + [("thermal", d, th_c) for d in need_th]
    for sensor, d, cands in bar(todo, total=len(todo), unit="crop"):
        cx, cy = d["geometry_grid"].centroid.x, d["geometry_grid"].centroid.y
        view = _best_view(cands, cx, cy) if cands else None
        if view is None:
            continue
        sp, row, u, v = view
        if sensor == "rgb":
            f = run_dir / "stages" / "detect" / frame_file(sp, row)
            img = cv2.imread(str(f)) if f.is_file() else None
            if img is None:
                continue
            h, w = img.shape[:2]
            a, b, c, e = crop_box((u, v, u, v), h, w, cfg.process.crop_px)
            crop = img[b:e, a:c]
        else:
            from thermal import read_thermal
            from thermal.errors import ThermalError

            try:
                fr = read_thermal(root / sp.files[int(sp.file_index[row])])
            except ThermalError as exc:
                log.warning("thermal evidence for %s: %s", d["defect_id"], exc)
                continue
            temp = fr.temperature_c(cfg.process.emissivity)
            h, w = temp.shape
            a, b, c, e = crop_box((u, v, u, v), h, w, max(64, cfg.process.crop_px // 2))
            crop = _crop_false_colour(temp, (a, b, c, e))
        if crop.size == 0:
            continue
        name = f"crops/{d['defect_id']}-{sensor}.jpg"
        cv2.imwrite(str(out / name), crop, q)
        result.setdefault(d["defect_id"], {})[sensor] = {
            "crop_path": f"stages/fuse/{name}",
            "source": sp.files[int(sp.file_index[row])],
            "frame": int(sp.frame[row]),
        }
    return result


def cfg_flight_dir(run_dir: Path) -> str:
    """The flight folder of a run (recorded by ``discover``)."""
    from survey.process.records import load_json

    return str(load_json(run_dir / "stages" / "discover" / "flight.json")["root"])
