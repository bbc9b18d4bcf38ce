"""Frame choice, pose and ground position of detections, online (the post-flight rules, live).

:class:`Geotagger` turns a live :class:`~missions.link.vehicle.PoseSample` into a
:class:`geo.CameraPoses` (GNSS position, barometric height above take-off, absolute gimbal
angles), casts pixels onto flat ground at take-off height with their 2x2 covariance
(:func:`geo.uncertainty.locate_with_uncertainty`), and references them to the asset (chainage,
offset, side; :mod:`geo.linref`). :class:`FrameChooser` keeps a frame when the footprint centre
has moved ``spacing`` of the footprint length along the ground since the last kept frame and the
footprint reaches the corridor — the post-flight selection's ground-distance and corridor rules
applied one frame at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from missions.link.vehicle import PoseSample

__all__ = ["FrameChooser", "Geotagger", "Sighting"]


@dataclass(frozen=True)
class Sighting:
    """One detection of one frame, located (or not, with the reason)."""

    frame_index: int
    t_boot_s: float
    class_name: str
    score: float
    u_px: float
    v_px: float
    located: bool
    reason: str
    x_m: float = math.nan
    y_m: float = math.nan
    cov_m2: tuple[float, float, float, float] = (math.nan,) * 4
    lat_deg: float = math.nan
    lon_deg: float = math.nan
    chainage_m: float = math.nan
    offset_m: float = math.nan
    side: str = ""


class Geotagger:
    """Pixels of live frames to ground positions and chainage (see the module docstring).

    Parameters
    ----------
    camera : geo.camera.CameraModel
        The camera at the frames' size.
    asset : survey.process.asset.AssetModel
        Routes, metric frame and corridor half-width.
    errors : geo.uncertainty.PoseErrorModel, optional
        1-sigma pose errors (default: standard GNSS).
    """

    def __init__(self, camera: Any, asset: Any, errors: Any | None = None) -> None:
        from geo.georef import Georeferencer
        from geo.ground import FlatGround
        from geo.uncertainty import PoseErrorModel

        self.camera, self.asset = camera, asset
        self.errors = errors or PoseErrorModel()
        self.georef = Georeferencer(camera, FlatGround(0.0, "takeoff"), frame=asset.frame)

    def camera_pose(self, p: PoseSample) -> Any:
        """The live pose as a one-pose :class:`geo.pose.CameraPoses`."""
        from geo.pose import CameraPoses

        return CameraPoses.single(
            p.lat_deg,
            p.lon_deg,
            p.rel_alt_m,
            "takeoff",
            p.gimbal_yaw_deg,
            p.gimbal_pitch_deg,
            p.gimbal_roll_deg,
        )

    def footprint(self, p: PoseSample) -> tuple[float, float, float]:
        """Ground x, y of the image centre and the footprint's length along the view (m)."""
        w, h = self.camera.width_px, self.camera.height_px
        u = np.array([w / 2, w / 2, w / 2])
        v = np.array([h / 2, 0.0, h - 1.0])
        g = self.georef.pixels_to_ground(self.camera_pose(p), u, v)
        length = float(math.hypot(g.x_m[1] - g.x_m[2], g.y_m[1] - g.y_m[2]))
        return float(g.x_m[0]), float(g.y_m[0]), length

    def in_corridor(self, x_m: float, y_m: float, reach_m: float) -> bool:
        """A point within ``reach_m`` + the corridor half-width of the asset."""
        if not (math.isfinite(x_m) and math.isfinite(y_m)):
            return False
        ref = self.asset.routes.locate([x_m], [y_m], max_offset_m=self.asset.half_width_m + reach_m)
        return bool(np.isfinite(ref.location.chainage_m[0]))

    def locate(self, p: PoseSample, frame_index: int, dets: Any) -> list[Sighting]:
        """Every detection of a frame (its box centre) on the ground and on the asset."""
        from geo.ground import RayStatus
        from geo.uncertainty import locate_with_uncertainty

        n = len(dets.scores)
        if n == 0:
            return []
        b = np.asarray(dets.boxes_xyxy, np.float64)
        u, v = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        names = [
            dets.class_names[int(c)] if dets.class_names else str(int(c)) for c in dets.class_ids
        ]
        lp = locate_with_uncertainty(self.georef, self.camera_pose(p), u, v, errors=self.errors)
        pts = lp.points
        ok = pts.status == RayStatus.OK
        ref = self.asset.routes.locate(
            np.where(ok, pts.x_m, np.nan),
            np.where(ok, pts.y_m, np.nan),
            max_offset_m=self.asset.half_width_m * 3,
        )
        lon, lat = pts.lonlat()
        out = []
        for i in range(n):
            common = dict(
                frame_index=frame_index,
                t_boot_s=p.t_boot_s,
                class_name=names[i],
                score=float(dets.scores[i]),
                u_px=float(u[i]),
                v_px=float(v[i]),
            )
            if not ok[i]:
                out.append(
                    Sighting(located=False, reason=RayStatus(int(pts.status[i])).name, **common)
                )
                continue
            loc = ref.location
            out.append(
                Sighting(
                    located=True,
                    reason="",
                    x_m=float(pts.x_m[i]),
                    y_m=float(pts.y_m[i]),
                    cov_m2=tuple(float(c) for c in lp.cov_m2[i].ravel()),  # type: ignore[arg-type]
                    lat_deg=float(lat[i]),
                    lon_deg=float(lon[i]),
                    chainage_m=float(loc.chainage_m[i]),
                    offset_m=float(loc.offset_m[i]),
                    side=str(loc.side[i]),
                    **common,
                )
            )
        return out


class FrameChooser:
    """Keep a frame every ``spacing`` x footprint length of ground travel, in the corridor."""

    def __init__(self, geotagger: Geotagger, spacing: float = 0.5) -> None:
        self.g, self.spacing = geotagger, float(spacing)
        self._last: tuple[float, float] | None = None
        self.skipped_distance = 0
        self.skipped_corridor = 0

    def choose(self, p: PoseSample) -> bool:
        """Whether to analyse the frame exposed at pose ``p``."""
        x, y, length = self.g.footprint(p)
        if not math.isfinite(x):
            self.skipped_corridor += 1
            return False
        if self._last is not None:
            moved = math.hypot(x - self._last[0], y - self._last[1])
            if moved < self.spacing * length:
                self.skipped_distance += 1
                return False
        if not self.g.in_corridor(x, y, length / 2):
            self.skipped_corridor += 1
            return False
        self._last = (x, y)
        return True
