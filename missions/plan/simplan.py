"""Fly a QGroundControl ``.plan`` in the simulator (``survey simulate --plan FILE.plan``).

The simulator flies one line parallel to the asset (a lateral offset, a height above ground, a
speed, a gimbal pitch). A pass of the plan becomes that flight by reading its mission items:
the pass's waypoints (between the camera-on and camera-off commands) are projected onto the
simulator's centreline of the same asset, which gives the flown stretch (chainage of the
first and last waypoint), the direction and the offset (their median lateral distance; the
waypoints must lie within ``MAX_SPREAD_M`` of one offset line). The height is the waypoints'
altitude (relative frame) or the plan's height above ground (AMSL frame: terrain following
over the plan's DEM), the speed the ``DO_CHANGE_SPEED`` of the pass, the gimbal pitch the
``DO_MOUNT_CONTROL`` / ``DO_GIMBAL_MANAGER_PITCHYAW``, stills every ``DO_SET_CAM_TRIGG_DIST``
metres. What mission items cannot say (the asset file, the video mode, the still size) comes
from the plan's ``railpipeSurvey`` block, which ``survey plan`` writes.

A ``--plan`` file is a QGC plan when it ends in ``.plan`` or its text is a JSON object with
``"fileType": "Plan"``; anything else is the TOML settings file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from missions.errors import PlanError
from missions.plan.mission import CMD, FRAME_GLOBAL, MissionItem, read_qgc_plan

__all__ = ["MAX_SPREAD_M", "is_qgc_plan", "plan_passes", "sim_config_from_plan"]

#: Largest lateral spread of a pass's waypoints around their offset line that the
#: simulator's parallel-line flight reproduces.
MAX_SPREAD_M = 1.5


def is_qgc_plan(path: str | Path) -> bool:
    """Whether ``path`` is a QGroundControl plan (by extension, else by content)."""
    p = Path(path)
    if p.suffix.lower() == ".plan":
        return True
    if p.suffix.lower() == ".toml":
        return False
    try:
        head = p.read_text(encoding="utf-8", errors="replace")[:4096].lstrip()
    except OSError:
        return False
    return head.startswith("{") and '"fileType"' in head and '"Plan"' in head


def plan_passes(items: list[MissionItem]) -> list[dict[str, Any]]:
    """The passes of a mission: waypoints between camera on and off, with their speed."""
    on = {CMD["VIDEO_START_CAPTURE"]}
    off = {CMD["VIDEO_STOP_CAPTURE"]}
    passes: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    speed = float("nan")
    last_wp: MissionItem | None = None
    for it in items:
        c = it.command
        trig = c == CMD["DO_SET_CAM_TRIGG_DIST"]
        if c == CMD["DO_CHANGE_SPEED"]:
            speed = float(it.params[1])
        elif c in on or (trig and it.params[0] > 0):
            cur = {"wps": [last_wp] if last_wp is not None else [], "speed_m_s": speed,
                   "trigger_m": float(it.params[0]) if trig else 0.0}  # fmt: skip
        elif c in off or (trig and it.params[0] <= 0):
            if cur is not None:
                passes.append(cur)
            cur = None
        elif c == CMD["NAV_WAYPOINT"]:
            last_wp = it
            if cur is not None:
                cur["wps"].append(it)
    return passes


def _gimbal_pitch(items: list[MissionItem]) -> float | None:
    for it in items:
        if it.command in (CMD["DO_MOUNT_CONTROL"], CMD["DO_GIMBAL_MANAGER_PITCHYAW"]):
            return float(it.params[0])
    return None


def _source_distance(
    kind: str, geometry: str, feature: str | None, lon: Any, lat: Any
) -> tuple[Any, float]:
    """Distance of points along the simulator's source line (the measure of its ``start_m``),
    unsmoothed, and the line's length: how ``missions.sim.asset.load_asset`` reads it."""
    import shapely

    from missions.sim.asset import _longest_part, _pick, _read_lines
    from missions.sim.geodesy import LocalGrid

    lines = _read_lines(Path(geometry), None)
    _, row = _pick(lines, feature, Path(geometry))
    geom = _longest_part(row.geometry)
    c = geom.centroid
    grid = LocalGrid.for_lonlat(c.x, c.y)
    xy = np.asarray(geom.coords)[:, :2]
    line = shapely.LineString(np.column_stack(grid.to_grid(xy[:, 0], xy[:, 1])))
    px, py = grid.to_grid(np.asarray(lon), np.asarray(lat))
    return shapely.line_locate_point(line, shapely.points(px, py)), float(line.length)


def sim_config_from_plan(path: str | Path, pass_index: int | None = None, **overrides: Any) -> Any:
    """The :class:`missions.sim.config.SimConfig` flying one pass of the plan (the only pass,
    or ``pass_index``, 1-based); ``overrides`` (CLI options) win."""
    from missions.errors import MissionError
    from missions.sim.asset import load_asset
    from missions.sim.config import SimConfig

    p = Path(path)
    doc, items = read_qgc_plan(p)
    meta = doc.get("railpipeSurvey") or {}
    passes = plan_passes(items)
    if not passes:
        raise PlanError("the mission has no pass (no camera start/stop around waypoints)", path=p)
    if pass_index is None and len(passes) > 1:
        raise PlanError(
            f"the plan has {len(passes)} passes; the simulator flies one per flight: choose "
            "one with --plan-pass N",
            path=p,
        )
    k = (pass_index or 1) - 1
    if not 0 <= k < len(passes):
        raise PlanError(f"no pass {pass_index}: the plan has {len(passes)}", path=p)
    ps = passes[k]
    wps = ps["wps"]
    if len(wps) < 2:
        raise PlanError(f"pass {k + 1} has fewer than two waypoints", path=p)
    geometry = overrides.pop("geometry", None) or meta.get("asset", "")
    if not geometry:
        raise PlanError(
            "the plan does not name its asset line (no railpipeSurvey block): pass --geometry",
            path=p,
        )
    kind = overrides.pop("asset", None) or meta.get("asset_kind", "rail")
    feature = overrides.pop("feature", None)
    lat = np.array([w.lat_deg for w in wps])
    lon = np.array([w.lon_deg for w in wps])
    try:
        s_raw, src = _source_distance(kind, geometry, feature, lon, lat)
        a0 = max(0.0, float(s_raw.min()))
        local = load_asset(kind, geometry, feature=feature, start_m=a0,
                           length_m=max(float(s_raw.max()) - a0, 1.0), margin_m=50.0)  # fmt: skip
    except MissionError as exc:
        raise PlanError(f"cannot load the plan's asset: {exc}", path=p) from exc
    x, y = local.grid.to_grid(lon, lat)
    s, d, ok = local.corridor.to_corridor(x, y)
    if not ok.all() or s_raw.min() < 0 or s_raw.max() > src:
        raise PlanError(
            f"pass {k + 1} runs beyond the ends of {geometry} (feature "
            f"{local.source_feature}); name the feature with --feature",
            path=p,
        )
    full = local
    offset = float(np.median(d))
    spread = float(np.max(np.abs(d - offset)))
    if spread > MAX_SPREAD_M:
        raise PlanError(
            f"pass {k + 1} does not follow one offset line of {full.source_feature} "
            f"(waypoints spread {spread:.1f} m around {offset:+.1f} m; the simulator flies "
            f"parallel to the line within {MAX_SPREAD_M} m)",
            path=p,
        )
    ch = full.chainage(s)
    direction = 1 if ch[-1] >= ch[0] else -1
    terrain = "flat"
    if wps[0].frame == FRAME_GLOBAL:
        if not meta.get("dem"):
            raise PlanError("AMSL waypoints but no DEM in the plan", path=p)
        terrain = meta["dem"]
        alt = float(meta["altitude_agl_m"])
    else:
        alt = float(np.median([w.alt_m for w in wps]))
    video = meta.get("video", "1280x720@30") if ps["trigger_m"] <= 0 else ""
    cfg: dict[str, Any] = {
        "asset": kind,
        "geometry": str(geometry),
        "feature": feature or "",
        "start_m": float(ch.min()),
        "length_m": float(ch.max() - ch.min()),
        "altitude_agl_m": alt,
        "offset_m": offset,
        "direction": direction,
        "gimbal_pitch_deg": _gimbal_pitch(items) or -90.0,
        "video": video,
        "stills_every_m": ps["trigger_m"],
        "thermal_every_s": 0.0,
        "terrain": terrain,
    }
    if np.isfinite(ps["speed_m_s"]):
        cfg["speed_m_s"] = ps["speed_m_s"]
    if ps["trigger_m"] > 0 and meta.get("still_size"):
        cfg["still_size"] = meta["still_size"]
    cfg.update({k2: v for k2, v in overrides.items() if v is not None})
    try:
        return dataclasses.replace(SimConfig(), **cfg)
    except TypeError as exc:
        raise PlanError(f"cannot fly the plan: {exc}", path=p) from exc
