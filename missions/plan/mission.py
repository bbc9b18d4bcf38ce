"""Mission items of a planned sortie, written as a QGroundControl ``.plan`` and as MAVLink
WPL 110 text, and read back.

Items of a sortie, in order: ``NAV_TAKEOFF`` (22) to the survey height; the gimbal pitch
(``DO_MOUNT_CONTROL``, 205, mount mode MAVLINK_TARGETING for ArduPilot;
``DO_GIMBAL_MANAGER_PITCHYAW``, 1000, for PX4); then per pass: ``DO_CHANGE_SPEED`` (178, ground
speed) to the transit speed, the first waypoint (``NAV_WAYPOINT``, 16), ``DO_CHANGE_SPEED`` to
the survey speed, the camera on (``VIDEO_START_CAPTURE``, 2500, or
``DO_SET_CAM_TRIGG_DIST``, 206, with the trigger distance and one shot at once), the pass's
waypoints, the camera off (2501, or 206 with distance 0); finally ``NAV_RETURN_TO_LAUNCH`` (20).
Waypoints use ``MAV_FRAME_GLOBAL_RELATIVE_ALT`` (3, height above home) on flat plans and
``MAV_FRAME_GLOBAL`` (0, AMSL) with terrain following; DO commands ``MAV_FRAME_MISSION`` (2).

The ``.plan`` is QGC's JSON (``fileType`` Plan, ``version`` 1, ``mission`` version 2 with
``plannedHomePosition`` and ``SimpleItem`` items, ``geoFence`` with the no-fly polygons as
exclusion zones, ``rallyPoints``), plus one key QGC does not read, ``railpipeSurvey``: what
``survey simulate --plan`` needs to fly it (asset file, camera mode, chainage of each pass).
The WPL file is written and read by pymavlink's ``mavwp`` (item 0 is home, AMSL).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from missions.errors import PlanError
from missions.plan.planner import CorridorPlan, Sortie

__all__ = [
    "CMD",
    "MissionItem",
    "check_qgc_plan",
    "home_item",
    "mission_items",
    "read_qgc_plan",
    "read_wpl",
    "write_qgc_plan",
    "write_wpl",
]

#: MAV_CMD values used (common.xml).
CMD = {
    "NAV_WAYPOINT": 16,
    "NAV_RETURN_TO_LAUNCH": 20,
    "NAV_TAKEOFF": 22,
    "DO_CHANGE_SPEED": 178,
    "DO_MOUNT_CONTROL": 205,
    "DO_SET_CAM_TRIGG_DIST": 206,
    "DO_GIMBAL_MANAGER_PITCHYAW": 1000,
    "VIDEO_START_CAPTURE": 2500,
    "VIDEO_STOP_CAPTURE": 2501,
}
FRAME_GLOBAL, FRAME_MISSION, FRAME_RELATIVE = 0, 2, 3
_NAV = {CMD["NAV_WAYPOINT"], CMD["NAV_TAKEOFF"], CMD["NAV_RETURN_TO_LAUNCH"]}
_FIRMWARE = {"ardupilot": 3, "px4": 12}


@dataclass(frozen=True)
class MissionItem:
    """One MAVLink mission item (``MISSION_ITEM_INT`` fields, coordinates in degrees)."""

    command: int
    frame: int
    params: tuple[float, float, float, float]
    lat_deg: float = 0.0
    lon_deg: float = 0.0
    alt_m: float = 0.0
    autocontinue: bool = True


def mission_items(plan: CorridorPlan, sortie: Sortie) -> list[MissionItem]:
    """The items of one sortie (home not included; see the module docstring)."""
    ac = plan.request.aircraft
    terrain = plan.terrain
    nav_frame = FRAME_GLOBAL if terrain else FRAME_RELATIVE
    h = plan.altitude_agl_m
    hx, hy = sortie.home_xy
    hlon, hlat = (float(v) for v in plan.lonlat(hx, hy))
    to_alt = sortie.home_ground_m + h if terrain else h
    out = [MissionItem(CMD["NAV_TAKEOFF"], nav_frame, (0, 0, 0, float("nan")), hlat, hlon, to_alt)]
    pitch = plan.gimbal_pitch_deg
    if plan.request.firmware == "px4":
        out.append(MissionItem(CMD["DO_GIMBAL_MANAGER_PITCHYAW"], FRAME_MISSION,
                               (pitch, float("nan"), float("nan"), float("nan")),
                               0.0, 0.0, 0.0))  # fmt: skip
    else:
        # DO_MOUNT_CONTROL: pitch, roll, yaw; param7 (the alt field) = MAV_MOUNT_MODE 2
        out.append(MissionItem(CMD["DO_MOUNT_CONTROL"], FRAME_MISSION, (pitch, 0, 0, 0), 0, 0, 2))
    video = plan.camera.mode == "video"
    for p in sortie.passes:
        lon, lat = plan.lonlat(p.x_m, p.y_m)
        out.append(MissionItem(CMD["DO_CHANGE_SPEED"], FRAME_MISSION,
                               (1, ac.transit_speed_m_s, -1, 0)))  # fmt: skip
        out.append(MissionItem(CMD["NAV_WAYPOINT"], nav_frame, (0, 0, 0, float("nan")),
                               float(lat[0]), float(lon[0]), float(p.alt_m[0])))  # fmt: skip
        out.append(MissionItem(CMD["DO_CHANGE_SPEED"], FRAME_MISSION, (1, plan.speed_m_s, -1, 0)))
        if video:
            out.append(MissionItem(CMD["VIDEO_START_CAPTURE"], FRAME_MISSION, (0, 0, 0, 0)))
        else:
            out.append(MissionItem(CMD["DO_SET_CAM_TRIGG_DIST"], FRAME_MISSION,
                                   (plan.frame_spacing_m, 0, 1, 0)))  # fmt: skip
        for i in range(1, len(p.x_m)):
            out.append(MissionItem(CMD["NAV_WAYPOINT"], nav_frame, (0, 0, 0, float("nan")),
                                   float(lat[i]), float(lon[i]), float(p.alt_m[i])))  # fmt: skip
        if video:
            out.append(MissionItem(CMD["VIDEO_STOP_CAPTURE"], FRAME_MISSION, (0, 0, 0, 0)))
        else:
            out.append(MissionItem(CMD["DO_SET_CAM_TRIGG_DIST"], FRAME_MISSION, (0, 0, 0, 0)))
    out.append(MissionItem(CMD["NAV_RETURN_TO_LAUNCH"], FRAME_MISSION, (0, 0, 0, 0)))
    return out


def _home(plan: CorridorPlan, sortie: Sortie) -> tuple[float, float, float]:
    lon, lat = plan.lonlat(*sortie.home_xy)
    return float(lat), float(lon), float(sortie.home_ground_m)


def home_item(plan: CorridorPlan, sortie: Sortie) -> MissionItem:
    """Mission item 0 (home, AMSL; 0 m on flat plans, where the vehicle sets it on arming)."""
    lat, lon, alt = _home(plan, sortie)
    return MissionItem(CMD["NAV_WAYPOINT"], FRAME_GLOBAL, (0, 0, 0, 0), lat, lon, alt)


def _jnum(v: float) -> float | None:
    return None if not np.isfinite(v) else float(v)


def _sim_meta(plan: CorridorPlan, sortie: Sortie) -> dict[str, Any]:
    r = plan.request
    return {
        "version": 1,
        "asset": str(Path(r.asset).resolve()),
        "asset_kind": plan.kind,
        "route_id": plan.route.route_id,
        "sortie": sortie.index,
        "chainage_m": [sortie.from_m, sortie.to_m],
        "camera": plan.camera.name,
        "capture": plan.camera.mode,
        "video": plan.camera.video_spec if plan.camera.mode == "video" else "",
        "still_size": ""
        if plan.camera.mode == "video"
        else f"{plan.camera.width_px}x{plan.camera.height_px}",
        "frame_spacing_m": plan.frame_spacing_m,
        "altitude_agl_m": plan.altitude_agl_m,
        "gsd_m": plan.gsd_m,
        "speed_m_s": plan.speed_m_s,
        "gimbal_pitch_deg": plan.gimbal_pitch_deg,
        "terrain_following": plan.terrain,
        "dem": str(Path(r.dem).resolve()) if r.dem else "",
        "passes": [
            {"index": p.index, "offset_m": p.offset_m, "direction": p.direction,
             "chainage_m": [float(p.chainage_m[0]), float(p.chainage_m[-1])]}
            for p in sortie.passes
        ],
    }  # fmt: skip


def write_qgc_plan(plan: CorridorPlan, sortie: Sortie, path: str | Path) -> Path:
    """Write one sortie as a QGroundControl ``.plan`` file."""
    items = []
    for k, it in enumerate(mission_items(plan, sortie), start=1):
        d: dict[str, Any] = {
            "autoContinue": it.autocontinue,
            "command": it.command,
            "doJumpId": k,
            "frame": it.frame,
            "params": [_jnum(v) for v in (*it.params, it.lat_deg, it.lon_deg, it.alt_m)],
            "type": "SimpleItem",
        }
        if it.command in (CMD["NAV_WAYPOINT"], CMD["NAV_TAKEOFF"]):
            d = {"AMSLAltAboveTerrain": None, "Altitude": it.alt_m,
                 "AltitudeMode": 2 if it.frame == FRAME_GLOBAL else 1, **d}  # fmt: skip
        items.append(d)
    zones = []
    if plan.request.nofly:
        for _, poly in _nofly_wgs84(plan):
            zones.append({"inclusion": False, "polygon": poly, "version": 1})
    doc = {
        "fileType": "Plan",
        "geoFence": {"circles": [], "polygons": zones, "version": 2},
        "groundStation": "QGroundControl",
        "mission": {
            "cruiseSpeed": plan.request.aircraft.transit_speed_m_s,
            "firmwareType": _FIRMWARE.get(plan.request.firmware, 3),
            "globalPlanAltitudeMode": 2 if plan.terrain else 1,
            "hoverSpeed": plan.speed_m_s,
            "items": items,
            "plannedHomePosition": list(_home(plan, sortie)),
            "vehicleType": 2,
            "version": 2,
        },
        "rallyPoints": {"points": [], "version": 2},
        "version": 1,
        "railpipeSurvey": _sim_meta(plan, sortie),
    }
    p = Path(path)
    p.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return p


def _nofly_wgs84(plan: CorridorPlan) -> list[tuple[str, list[list[float]]]]:
    import geopandas as gpd

    gdf = gpd.read_file(plan.request.nofly)
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    gdf = gdf.to_crs(4326)
    out = []
    for g in gdf.geometry:
        for part in getattr(g, "geoms", [g]):
            ring = np.asarray(part.exterior.coords)[:-1]
            out.append(("", [[float(y), float(x)] for x, y in ring]))
    return out


def check_qgc_plan(doc: Any, path: str | Path | None = None) -> None:
    """Raise :class:`PlanError` unless ``doc`` has the structure QGroundControl loads
    (the keys and types its plan loader requires; see the module docstring)."""

    def need(ok: bool, where: str, what: str) -> None:
        if not ok:
            raise PlanError(what, path=path, where=where)

    need(isinstance(doc, dict), "top level", "expected a JSON object")
    need(doc.get("fileType") == "Plan", "fileType", "expected 'Plan'")
    need(doc.get("version") == 1, "version", "expected 1")
    m = doc.get("mission")
    need(isinstance(m, dict), "mission", "expected an object")
    need(m.get("version") == 2, "mission.version", "expected 2")
    for k in ("firmwareType", "vehicleType", "cruiseSpeed", "hoverSpeed"):
        need(isinstance(m.get(k), int | float), f"mission.{k}", "expected a number")
    home = m.get("plannedHomePosition")
    need(isinstance(home, list) and len(home) == 3, "mission.plannedHomePosition",
         "expected [lat, lon, alt]")  # fmt: skip
    items = m.get("items")
    need(isinstance(items, list) and len(items) > 0, "mission.items", "expected items")
    for i, it in enumerate(items):
        w = f"mission.items[{i}]"
        need(it.get("type") == "SimpleItem", f"{w}.type", "expected SimpleItem")
        for k, t in (("command", int), ("frame", int), ("doJumpId", int),
                     ("autoContinue", bool)):  # fmt: skip
            need(isinstance(it.get(k), t), f"{w}.{k}", f"expected {t.__name__}")
        prm = it.get("params")
        need(isinstance(prm, list) and len(prm) == 7, f"{w}.params", "expected 7 params")
        need(all(v is None or isinstance(v, int | float) for v in prm), f"{w}.params",
             "expected numbers or null")  # fmt: skip
        if it["command"] in (CMD["NAV_WAYPOINT"], CMD["NAV_TAKEOFF"]):
            need(it["frame"] in (FRAME_GLOBAL, FRAME_RELATIVE), f"{w}.frame",
                 "expected 0 (global) or 3 (relative altitude)")  # fmt: skip
            need(-90 <= (prm[4] or 0) <= 90 and -180 <= (prm[5] or 0) <= 180, f"{w}.params",
                 "expected latitude and longitude")  # fmt: skip
            need("Altitude" in it and "AltitudeMode" in it, w, "expected Altitude/AltitudeMode")
        need(it["doJumpId"] == i + 1, f"{w}.doJumpId", f"expected {i + 1}")
    gf = doc.get("geoFence", {})
    need(isinstance(gf.get("polygons", []), list), "geoFence.polygons", "expected a list")


def read_qgc_plan(path: str | Path) -> tuple[dict[str, Any], list[MissionItem]]:
    """The document and its mission items (checked with :func:`check_qgc_plan`)."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanError(f"cannot read the plan: {exc.strerror}", path=p) from exc
    except json.JSONDecodeError as exc:
        raise PlanError(f"not JSON: {exc.msg}", path=p, where=f"line {exc.lineno}") from exc
    check_qgc_plan(doc, p)

    def num(v: Any) -> float:
        return float("nan") if v is None else float(v)

    items = [
        MissionItem(
            it["command"],
            it["frame"],
            tuple(num(v) for v in it["params"][:4]),  # type: ignore[arg-type]
            num(it["params"][4]),
            num(it["params"][5]),
            num(it["params"][6]),
            bool(it["autoContinue"]),
        )  # fmt: skip
        for it in doc["mission"]["items"]
    ]
    return doc, items


def write_wpl(plan: CorridorPlan, sortie: Sortie, path: str | Path) -> Path:
    """Write one sortie as MAVLink WPL 110 text with pymavlink's ``mavwp`` (item 0 = home)."""
    from pymavlink import mavutil, mavwp

    loader = mavwp.MAVWPLoader()
    rows = [home_item(plan, sortie), *mission_items(plan, sortie)]
    for seq, it in enumerate(rows):
        prm = [0.0 if not np.isfinite(v) else float(v) for v in it.params]
        loader.add(
            mavutil.mavlink.MAVLink_mission_item_message(
                1, 1, seq, it.frame, it.command, 1 if seq == 0 else 0, int(it.autocontinue),
                *prm, it.lat_deg, it.lon_deg, it.alt_m,
            )
        )  # fmt: skip
    p = Path(path)
    loader.save(str(p))
    return p


def read_wpl(path: str | Path) -> list[MissionItem]:
    """Items of a WPL file (home first), read with ``mavwp``."""
    from pymavlink import mavwp

    loader = mavwp.MAVWPLoader()
    try:
        loader.load(str(path))
    except Exception as exc:  # mavwp raises bare Exception / MAVWPError
        raise PlanError(f"not a QGC WPL file ({exc})", path=path) from exc
    return [
        MissionItem(
            w.command,
            w.frame,
            (w.param1, w.param2, w.param3, w.param4),
            w.x,
            w.y,
            w.z,
            bool(w.autocontinue),
        )  # fmt: skip
        for w in (loader.wp(i) for i in range(loader.count()))
    ]
