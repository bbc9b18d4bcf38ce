"""Stage ``thermal``: leak and hotspot detection on the selected thermal frames.

Each frame is read as calibrated temperatures (``[process] emissivity``), the asset corridor
seen in it (the ``select`` stage's mask, scaled to the frame) is handed to
:func:`thermal.detect_anomalies` with the frame's ground sample distance and local solar hour
(daylight rules), and every accepted anomaly becomes a sighting: outline, centre, peak and
mean contrast (K), area, the detector's confidence and severity, and a false-colour evidence
crop. Rejected candidates are counted by reason in the stage summary.
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
from survey.process.select import Selection

__all__ = ["detect_thermal", "local_solar_hour"]

log = logging.getLogger(__name__)


def local_solar_hour(t_utc_s: float, lon_deg: float) -> float:
    """Local mean solar time (hours) of a UTC time at a longitude.

    Examples
    --------
    >>> round(local_solar_hour(12 * 3600.0, 15.0), 3)
    13.0
    """
    return float(((t_utc_s % 86400.0) / 3600.0 + lon_deg / 15.0) % 24.0)


def _crop_false_colour(temp: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    from thermal.palette import colorize

    x0, y0, x1, y1 = box
    finite = temp[np.isfinite(temp)]
    lo, hi = np.percentile(finite, [1, 99.5]) if finite.size else (0.0, 1.0)
    img = colorize(temp, vmin=float(lo), vmax=float(max(hi, lo + 0.5)))
    return np.ascontiguousarray(img[y0:y1, x0:x1])


def _thermal_class(cfg: Config, asset_kind: str) -> str:
    c = cfg.process.thermal_class
    if c != "auto":
        return c
    return "leak_candidate" if asset_kind == "pipeline" else "thermal_anomaly"


def thermal_half_width(asset: Any, cfg: Config) -> float:
    """Half-width of the strip thermal anomalies must lie in (``[process]
    thermal_corridor_m``; 0 = 5 m over a pipeline, the whole corridor along a railway)."""
    w = cfg.process.thermal_corridor_m
    if w > 0:
        return float(w)
    return 5.0 if asset.kind == "pipeline" else float(asset.half_width_m)


class _CorridorMasks:
    """The thermal corridor seen by each frame (ray-cast grid every 8 px)."""

    def __init__(self, sp: StreamPoses, asset: Any, cfg: Config) -> None:
        import dataclasses

        from survey.process.geometry import georeferencer, ground_surface

        pc = cfg.process
        self.sp = sp
        self.asset = dataclasses.replace(asset, half_width_m=thermal_half_width(asset, cfg))
        ground = ground_surface(pc, sp.alt_ref, asset.frame)
        self.g = georeferencer(sp.camera.model(), ground, asset.frame, pc.max_range_m)

    def of(self, row: int) -> np.ndarray:
        from survey.process.geometry import roi_masks

        state = self.g.prepare(self.sp.camera_poses(np.array([row])))
        return roi_masks(self.g, state, self.asset, grow_m=0.5, step_px=8)[0]


def detect_thermal(
    poses_dir: Path, sel_dir: Path, cfg: Config, ctx: Any, asset: Any
) -> dict[str, Any]:
    """The stage body: write ``anomalies.json`` (accepted sightings) and ``thermal.json``."""
    import cv2

    from survey.process.detect import crop_box
    from survey.process.frames import FrameReader, Prefetch
    from thermal import FrameContext, detect_anomalies

    out: Path = ctx.out
    root = Path(ctx.params["flight_dir"])
    pc = cfg.process
    klass = _thermal_class(cfg, asset.kind)
    streams = [
        s
        for s in stream_ids(poses_dir)
        if StreamPoses.load(poses_dir, s).kind == "thermal" and (sel_dir / f"{s}.npz").is_file()
    ]
    items = out / "items"
    items.mkdir(parents=True, exist_ok=True)
    (out / "crops").mkdir(exist_ok=True)
    summary: dict[str, Any] = {
        "class": klass,
        "corridor_half_width_m": thermal_half_width(asset, cfg),
        "streams": {},
        "rejected": {},
        "failures": {},
        "masked_px": 0,  # pixels outside the cameras' calibrated ranges (NaN, never anomalies)
    }
    sightings: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for sid in streams:
        sp = StreamPoses.load(poses_dir, sid)
        sel = Selection.load(sel_dir, sid)
        k_of = {int(r): k for k, r in enumerate(sel.index)}
        todo = [int(r) for r in sel.index if not item_ok(items / f"{sid}_{int(r)}.pkl")]
        ctx.resumed_items += len(sel) - len(todo)
        reader = FrameReader(root, sp, np.asarray(todo, np.intp))
        masks = _CorridorMasks(sp, asset, cfg)
        for row, frame in ctx.progress(Prefetch(reader, pc.queue_frames), total=len(todo),
                                       unit="frame"):  # fmt: skip
            rec: dict[str, Any] = {"row": row, "anomalies": [], "rejected": {}}
            if frame is None:
                rec["failed"] = reader.failures.get(row, "unreadable frame")
            else:
                temp = frame.temperature_c(pc.emissivity)  # NaN outside the camera's range
                rec["masked_px"] = int(np.isnan(temp).sum())
                k = k_of[row]
                corridor = cv2.resize(
                    masks.of(row).astype(np.uint8),
                    (temp.shape[1], temp.shape[0]),
                    interpolation=cv2.INTER_NEAREST,
                ).astype(bool)
                ctxf = FrameContext(
                    gsd_m=float(sel.gsd_m[k]),
                    local_hour=local_solar_hour(float(sp.t_s[row]), float(sp.lon_deg[row])),
                )
                found = detect_anomalies(temp, pc.leaks, corridor=corridor, context=ctxf)
                for why in found.reason:
                    if why:
                        key = why.split(" (")[0].split(":")[0]
                        rec["rejected"][key] = rec["rejected"].get(key, 0) + 1
                for i in np.flatnonzero(found.accepted):
                    ring = np.asarray(found.polygons[i], float)
                    x0, y0 = ring.min(axis=0)
                    x1, y1 = ring.max(axis=0)
                    det_id = f"{sid}-{row}-{len(rec['anomalies'])}"
                    h, w = temp.shape
                    box = crop_box((x0, y0, x1, y1), h, w, max(64, pc.crop_px // 2))
                    crop_rel = f"crops/{det_id}.jpg"
                    cv2.imwrite(
                        str(out / crop_rel),
                        _crop_false_colour(temp, box),
                        [cv2.IMWRITE_JPEG_QUALITY, int(pc.jpeg_quality)],
                    )
                    rec["anomalies"].append(
                        {
                            "id": det_id, "stream": sid, "row": row, "sensor": "thermal",
                            "source": sp.files[int(sp.file_index[row])],
                            "frame": int(sp.frame[row]),
                            "class": klass, "score": float(found.confidence[i]),
                            "ring": np.round(ring, 2).tolist(),
                            "centroid_px": [float(v) for v in found.centroid_xy[i]],
                            "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                            "mask_rle": "", "area_px": int(found.area_px[i]),
                            "area_m2": float(found.area_m2[i]),
                            "delta_t_k": float(found.delta_max_c[i]),
                            "delta_mean_k": float(found.delta_mean_c[i]),
                            "peak_c": float(found.peak_temp_c[i]),
                            "polarity": int(found.polarity[i]),
                            "severity": int(found.severity[i]),
                            "frame_path": "", "crop_path": f"stages/thermal/{crop_rel}",
                            "width": w, "height": h, "model": "thermal.detect_anomalies",
                        }
                    )  # fmt: skip
            write_item(items / f"{sid}_{row}.pkl", rec)
        summary["streams"][sid] = {"selected": len(sel), "analysed_now": len(todo)}
    for sid in streams:
        sel = Selection.load(sel_dir, sid)
        for r in sel.index:
            rec = load_required(items / f"{sid}_{int(r)}.pkl")
            sightings += rec["anomalies"]
            for k2, v in rec["rejected"].items():
                summary["rejected"][k2] = summary["rejected"].get(k2, 0) + v
            if "failed" in rec:
                summary["failures"][f"{sid}:{int(r)}"] = rec["failed"]
            summary["masked_px"] += int(rec.get("masked_px", 0))
    summary["anomalies"] = len(sightings)
    summary["seconds"] = time.perf_counter() - t0
    save_json(out / "anomalies.json", sightings)
    save_json(out / "thermal.json", summary)
    return summary
