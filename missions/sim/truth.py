"""Ground-truth files of a simulated flight: ``truth/defects.gpkg``, ``trajectory_true.csv``,
``trajectory_logged.csv`` and ``scenario.json`` (see :mod:`missions.sim.simulate` for the layout)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from missions.sim.asset import Asset
from missions.sim.camera import CameraModel
from missions.sim.config import SimConfig
from missions.sim.flight import FlightPlan
from missions.sim.formats.tables import CsvStream, write_truth_gpkg
from missions.sim.rig import Rig
from missions.sim.terrain import Terrain

__all__ = ["FORMAT_VERSION", "write_truth"]

FORMAT_VERSION = 1


def write_truth(
    out: Path,
    cfg: SimConfig,
    asset: Asset,
    scene: Any,
    traj: Any,
    nav: Any,
    rig: Rig,
    cameras: dict[str, CameraModel],
    plan: FlightPlan,
    terrain: Terrain,
    logs: dict[str, Any],
) -> None:
    truth = out / "truth"
    k = traj.knots
    write_truth_gpkg(truth / "defects.gpkg", asset, scene.objects, np.column_stack([k.x_m, k.y_m]))
    lon, lat = asset.grid.to_lonlat(k.x_m, k.y_m)
    cols = [
        "t_utc_s",
        "x_m",
        "y_m",
        "lat_deg",
        "lon_deg",
        "alt_msl_m",
        "alt_ellipsoid_m",
        "agl_m",
        "chainage_m",
        "yaw_deg",
        "pitch_deg",
        "roll_deg",
        "gimbal_yaw_deg",
        "gimbal_pitch_deg",
        "gimbal_roll_deg",
        "vn_m_s",
        "ve_m_s",
        "vd_m_s",
    ]
    prec = {
        "t_utc_s": 3,
        "x_m": 4,
        "y_m": 4,
        "lat_deg": 9,
        "lon_deg": 9,
        "alt_msl_m": 4,
        "alt_ellipsoid_m": 4,
        "agl_m": 4,
        "chainage_m": 3,
    }
    w = CsvStream(truth / "trajectory_true.csv", cols, prec)
    w.write_many(
        {
            "t_utc_s": k.t_s,
            "x_m": k.x_m,
            "y_m": k.y_m,
            "lat_deg": lat,
            "lon_deg": lon,
            "alt_msl_m": k.alt_msl_m,
            "alt_ellipsoid_m": k.alt_msl_m + nav.geoid_m,
            "agl_m": traj.agl_m,
            "chainage_m": asset.chainage(traj.s_m),
            "yaw_deg": k.yaw_deg,
            "pitch_deg": k.pitch_deg,
            "roll_deg": k.roll_deg,
            "gimbal_yaw_deg": k.gimbal_yaw_deg,
            "gimbal_pitch_deg": k.gimbal_pitch_deg,
            "gimbal_roll_deg": k.gimbal_roll_deg,
            "vn_m_s": k.vn_m_s,
            "ve_m_s": k.ve_m_s,
            "vd_m_s": k.vd_m_s,
        }
    )
    w.close()
    ticks = traj.t_start_s + 0.1 * np.arange(
        int(np.floor((traj.t_end_s - traj.t_start_s) / 0.1 + 1e-6)) + 1
    )
    v = nav.at(ticks)
    lcols = [
        "t_s",
        "x_m",
        "y_m",
        "lat_deg",
        "lon_deg",
        "alt_msl_m",
        "alt_ellipsoid_m",
        "rel_alt_m",
        "yaw_deg",
        "pitch_deg",
        "roll_deg",
        "gimbal_yaw_deg",
        "gimbal_pitch_deg",
        "gimbal_roll_deg",
        "gnss_ok",
    ]
    w = CsvStream(truth / "trajectory_logged.csv", lcols, {"t_s": 3, "lat_deg": 9, "lon_deg": 9})
    w.write_many({c: v[c] for c in lcols})
    w.close()
    lon0, lat0 = asset.grid.to_lonlat(k.x_m[0], k.y_m[0])
    scenario = {
        "format": "railpipe-survey simulated flight",
        "format_version": FORMAT_VERSION,
        "config": cfg.to_dict(),
        "crs": {"epsg": asset.grid.epsg, "name": asset.grid.crs.name},
        "altitudes": {
            "alt_msl_m": "orthometric height above mean sea level (EGM96)",
            "alt_ellipsoid_m": "height above the WGS 84 ellipsoid = alt_msl_m + geoid_undulation_m",
            "rel_alt_m": "barometric height above the take-off point (logged, biased)",
            "agl_m": "height above the terrain right below",
            "geoid_undulation_m": nav.geoid_m,
        },
        "time": {
            "t_start_utc_s": traj.t_start_s,
            "t_end_utc_s": traj.t_end_s,
            "camera_utc_offset_h": cfg.camera_utc_offset_h,
            "clock_offsets_s": {
                "rgb_camera": nav.errors.rgb_clock_offset_s,
                "thermal_camera": nav.errors.thermal_clock_offset_s,
                "log": nav.errors.log_clock_offset_s,
            },
            "camera_minus_log_s": {
                "rgb_camera": nav.errors.rgb_clock_offset_s - nav.errors.log_clock_offset_s,
                "thermal_camera": nav.errors.thermal_clock_offset_s - nav.errors.log_clock_offset_s,
            },
            "rule": "a clock reads true UTC + its offset; camera files show their camera clock in "
            "the camera's wall-clock zone (camera_utc_offset_h)",
            "boot_utc_s": logs["boot_utc_s"],
        },
        "home": {
            "lon_deg": float(lon0),
            "lat_deg": float(lat0),
            "alt_msl_true_m": nav.home_alt_msl_true_m,
            "alt_msl_logged_m": nav.home_alt_msl_logged_m,
        },
        "asset": {
            "name": asset.name,
            "kind": asset.kind,
            "chainage_start_m": asset.chainage_start_m,
            "length_m": asset.length_m,
            "gauge_m": asset.gauge_m,
            "source": asset.source_path,
            "source_feature": asset.source_feature,
            "source_length_m": asset.source_length_m,
            "flown_chainage_m": [cfg.start_m, cfg.start_m + cfg.length_m],
        },
        "terrain": terrain.describe(),
        "thermal_scene": scene.thermal.to_dict(),
        "track_layout": asdict(scene.track) if asset.kind == "rail" else None,
        "pipe_layout": asdict(scene.pipe) if asset.kind == "pipeline" else None,
        "plan": asdict(plan),
        "error_model": {"parameters": asdict(nav.model), "realized": nav.errors.to_dict()},
        "rig": rig.to_dict(cameras),
        "conventions": {
            "attitude": "NED, yaw clockwise from true north, R = Rz(yaw) Ry(pitch) Rx(roll)",
            "gimbal": "absolute angles (gimbal_mode absolute); pitch -90 = nadir",
            "camera": "OpenCV axes; R_ned_from_cam = R(gimbal) R(boresight) R_gimbal_from_cam, "
            "R_gimbal_from_cam = [[0,0,1],[1,0,0],[0,1,0]]",
            "cam_angles": "frames_*.csv cam_yaw/pitch/roll_deg = gimbal + boresight, so that "
            "R_ned_from_cam = R(cam_yaw, cam_pitch, cam_roll) R_gimbal_from_cam",
            "intrinsics": "fx, fy, cx, cy in pixels, pixel centres at integers; Brown-Conrady "
            "(k1, k2, p1, p2, k3) as cv2.projectPoints",
            "offset": "positive to the left looking toward increasing chainage",
            "leak_polygon": "leak outline = the half-maximum contour of the warming; delta_t_k = peak",
        },
        "logs": logs,
        "counts": {"defects": len(scene.defects()), "objects": len(scene.objects)},
    }
    (truth / "scenario.json").write_text(
        json.dumps(scenario, indent=1, default=_json_default), encoding="utf-8"
    )


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
