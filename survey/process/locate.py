"""Stages ``georef`` and ``chainage``: sightings on the ground, with uncertainty, then on the asset.

``georef`` casts each sighting's outline onto the ground (a polygon in the local grid) and its
centre with the full error budget (:func:`geo.locate_with_uncertainty`: GNSS by fix type, camera
height, heading and tilts, the stream's clock-sync sigma through the platform's velocity, ground
height, pixel) into a 2x2 covariance. ``chainage`` references centres and outlines to the routes:
chainage, interval, offset (+ right), side, or off-asset. A sighting that cannot be located
keeps the reason (its frame's pose, or the ray's status).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from survey.config import Config, ProcessConfig
from survey.process.records import StageDataError, StreamPoses, load_json

__all__ = ["Sightings", "georeference", "reference_to_asset"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Sightings:
    """All sightings of a run (parallel arrays) plus their source records.

    Grid coordinates are in the asset's metric CRS (``crs``).
    """

    records: list[dict[str, Any]]
    crs: str
    x_m: NDArray[np.float64]
    y_m: NDArray[np.float64]
    cov_m2: NDArray[np.float64]
    polygon: NDArray[np.object_]
    gsd_m: NDArray[np.float64]
    t_s: NDArray[np.float64]
    located: NDArray[np.bool_]
    reason: NDArray[np.object_]
    route_id: NDArray[np.object_] = field(default_factory=lambda: np.zeros(0, object))
    chainage_m: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    ch_start_m: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    ch_end_m: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    offset_m: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    side: NDArray[np.object_] = field(default_factory=lambda: np.zeros(0, object))

    def __len__(self) -> int:
        return len(self.records)

    def save(self, path: Path) -> None:
        """Write atomically, with length and checksum (:func:`survey.pipeline.items.write_item`)."""
        from survey.pipeline.items import write_item

        write_item(path, self)

    @classmethod
    def load(cls, path: Path) -> Sightings:
        from survey.pipeline.items import MISSING, read_item

        obj = read_item(path)  # a damaged file is logged and removed: the stage runs again
        if obj is MISSING:
            raise StageDataError(
                "sightings missing or damaged (truncated or checksum mismatch); run "
                "`survey process` again: the stage that wrote them is recomputed",
                path=path,
            )
        if not isinstance(obj, cls):
            raise StageDataError("not a sightings file", path=path)
        return obj


def error_model(sp: StreamPoses, rows: NDArray[np.intp], pc: ProcessConfig) -> Any:
    """The 1-sigma error model of these frames (per pose where it varies)."""
    from geo.uncertainty import PoseErrorModel

    fix = sp.fix_type[rows]
    if pc.gnss_sigma_m > 0:
        h = np.full(rows.size, pc.gnss_sigma_m)
    else:  # MAVLink GPS_FIX_TYPE: 5 RTK float, 6 RTK fixed
        h = np.where(fix >= 6, 0.03, np.where(fix == 5, 0.3, 1.5))
    sync = float(sp.sync.get("sigma_s") or 0.0)
    return PoseErrorModel(
        horizontal_m=h,
        vertical_m=np.where(fix >= 5, min(pc.vertical_sigma_m, 0.3), pc.vertical_sigma_m)
        if sp.alt_ref != "takeoff"
        else pc.vertical_sigma_m,
        yaw_deg=pc.yaw_sigma_deg,
        pitch_deg=pc.tilt_sigma_deg,
        roll_deg=pc.tilt_sigma_deg,
        time_sync_s=sync,
        ground_m=pc.ground_sigma_m,
        pixel_px=pc.pixel_sigma_px,
    )


def georeference(
    poses_dir: Path, records: list[dict[str, Any]], asset: Any, cfg: Config, progress: Any = None
) -> Sightings:
    """Ground polygons and centres with covariance for every sighting record."""
    from geo.footprint import gsd_at_pixels, image_polygon_to_ground
    from geo.ground import status_reason
    from geo.uncertainty import locate_with_uncertainty
    from survey.process.geometry import georeferencer, ground_surface

    pc = cfg.process
    n = len(records)
    x, y = np.full(n, np.nan), np.full(n, np.nan)
    cov = np.full((n, 2, 2), np.nan)
    poly = np.full(n, None, dtype=object)
    gsd, t = np.full(n, np.nan), np.full(n, np.nan)
    located = np.zeros(n, bool)
    reason = np.full(n, "", dtype=object)
    streams = sorted({r["stream"] for r in records})
    bar = progress or (lambda it, **kw: it)
    for sid in bar(streams, total=len(streams), unit="stream"):
        try:
            sp = StreamPoses.load(poses_dir, sid)
        except StageDataError as exc:
            for i in [i for i, r in enumerate(records) if r["stream"] == sid]:
                reason[i] = f"no poses: {exc.message}"
            continue
        idx = np.array([i for i, r in enumerate(records) if r["stream"] == sid], np.intp)
        rows = np.array([records[i]["row"] for i in idx], np.intp)
        t[idx] = sp.t_s[rows]
        bad = ~sp.ok[rows]
        reason[idx[bad]] = [f"frame not located: {sp.reason[r]}" for r in rows[bad]]
        idx, rows = idx[~bad], rows[~bad]
        if not idx.size:
            continue
        urows, pose_i = np.unique(rows, return_inverse=True)
        g = georeferencer(
            sp.camera.model(), ground_surface(pc, sp.alt_ref, asset.frame), asset.frame,
            pc.max_range_m,
        )  # fmt: skip
        state = g.prepare(sp.camera_poses(urows))
        c = np.array([records[i]["centroid_px"] for i in idx], float)
        lp = locate_with_uncertainty(
            g, state, c[:, 0], c[:, 1], pose_i, errors=error_model(sp, urows, pc),
            velocity_ned_mps=sp.velocity(urows),
        )  # fmt: skip
        ok = lp.points.ok & np.isfinite(lp.cov_m2).all(axis=(1, 2))
        x[idx], y[idx], cov[idx] = lp.points.x_m, lp.points.y_m, lp.cov_m2
        gsd[idx] = gsd_at_pixels(g, state, c[:, 0], c[:, 1], pose_i)
        located[idx] = ok
        for j in np.flatnonzero(~ok):
            reason[idx[j]] = f"centre not on the ground: {status_reason(int(lp.points.status[j]))}"
        for j, i in enumerate(idx):
            ring = np.asarray(records[i]["ring"], float)
            if ok[j] and len(ring) >= 3:
                poly[i] = image_polygon_to_ground(g, state, ring, int(pose_i[j]))
    return Sightings(records, asset.crs.to_string(), x, y, cov, poly, gsd, t, located, reason)


def reference_to_asset(s: Sightings, asset: Any, cfg: Config) -> Sightings:
    """Chainage, interval, offset and side of every located sighting."""
    import shapely

    pc = cfg.process
    ref = asset.locate(s.x_m, s.y_m, max_offset_m=pc.max_offset_m)
    loc = ref.location
    n = len(s)
    a, b = np.full(n, np.nan), np.full(n, np.nan)
    for i in np.flatnonzero(np.isfinite(loc.chainage_m)):
        if s.polygon[i] is None:
            a[i] = b[i] = loc.chainage_m[i]
            continue
        xy = shapely.get_coordinates(s.polygon[i])
        r = asset.routes[str(loc.route_id[i])].locate(xy[:, 0], xy[:, 1], max_offset_m=np.inf)
        ch = r.chainage_m[np.isfinite(r.chainage_m)]
        a[i], b[i] = (ch.min(), ch.max()) if ch.size else (loc.chainage_m[i], loc.chainage_m[i])
    return replace(
        s,
        route_id=np.asarray(loc.route_id, dtype=object),
        chainage_m=np.asarray(loc.chainage_m, float),
        ch_start_m=a,
        ch_end_m=b,
        offset_m=np.asarray(loc.offset_m, float),
        side=np.asarray(loc.side, dtype=object),
    )


def gather_records(run_dir: Path) -> list[dict[str, Any]]:
    """Sighting records of the ``detect`` and ``thermal`` stages, in a stable order."""
    recs: list[dict[str, Any]] = []
    for stage, name in (("detect", "detections.json"), ("thermal", "anomalies.json")):
        p = run_dir / "stages" / stage / name
        if p.is_file():
            recs += load_json(p)
    return recs
