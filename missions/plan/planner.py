"""Corridor mission planning: from the asset line, a chainage range, a camera and a target GSD
to passes, waypoints, speeds, sorties and flight times.

The geometry (all in the asset's metric frame, the one ``survey process`` uses):

- **Altitude.** The GSD at the principal point is ``R / fx`` with ``R`` the slant range, so a
  camera tilted ``theta`` from nadir (gimbal pitch ``-90 + theta``) flies at
  ``h = gsd * fx * cos(theta)``, lowered by the vertical hold error so that the target is a
  maximum. Nadir: ``h = gsd * fx``.
- **Passes.** The narrowest image row sees ``W * h * cos(a) / (fx * cos(theta - a))`` across
  the track (``a`` the half vertical field of view; ``W * gsd`` at nadir). Less twice the
  cross-track hold error and the side lap, that is the usable swath; ``n`` parallel passes,
  offset symmetrically from the line, cover the corridor width.
- **Speed.** Motion blur: ``v <= blur_px * g_along / exposure`` (``g_along`` = the along-track
  ground size of a pixel at the principal point); overlap: consecutive frames are at most
  ``(1 - overlap)`` of the along-track footprint apart, at the video frame rate or the
  camera's fastest still interval; and the aircraft's limit.
- **Waypoints.** Each pass is the asset line offset sideways (``shapely.offset_curve``),
  extended by the acceleration distance at both ends, and thinned by Douglas-Peucker to
  ``track_tolerance_m``: the straight legs between waypoints stay that close to the offset
  line, so curves get dense waypoints and straights few.
- **Terrain** (optional DEM): per-station AMSL altitude = ground + AGL, raised where needed so
  that no climb or descent is steeper than ``climb_rate / speed``; vertical knots are added
  where the profile bends by more than ``alt_tolerance_m``.
- **Sorties.** Passes are flown in a serpentine (turns at the ends). Flight time = take-off
  climb, transit, passes (trapezoidal speed profile per leg), turns (stop, yaw, side step),
  return, landing. The range is cut into the fewest equal chunks, overlapping by
  ``sortie_overlap_m``, whose sorties fit the usable battery (endurance less the reserve).
- **No-fly zones.** Every leg (transit included) is checked against the polygons; a plan that
  enters one is refused, naming the sortie, the leg and its chainage.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from missions.errors import PlanError
from missions.plan.camera import PlanCamera, plan_camera

__all__ = [
    "Aircraft",
    "CorridorPlan",
    "MissionPath",
    "Pass",
    "PlanRequest",
    "Sortie",
    "altitude_for_gsd",
    "blur_limited_speed",
    "pass_offsets",
    "plan_corridor",
]

log = logging.getLogger(__name__)
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Aircraft:
    """Speed, rate and endurance limits of the aircraft (a multirotor)."""

    max_speed_m_s: float = 12.0
    transit_speed_m_s: float = 10.0
    accel_m_s2: float = 1.0
    climb_rate_m_s: float = 3.0
    descent_rate_m_s: float = 2.0
    yaw_rate_deg_s: float = 60.0
    endurance_s: float = 1800.0
    reserve: float = 0.25  # fraction of the endurance kept for landing safely
    max_altitude_m: float = 120.0  # above ground (the open-category ceiling)

    @property
    def usable_s(self) -> float:
        """Flight time a sortie may use."""
        return self.endurance_s * (1.0 - self.reserve)


@dataclass(frozen=True)
class PlanRequest:
    """What to survey and how (see the module docstring for the geometry)."""

    asset: str
    from_m: float | None = None  # chainage; None = the route's start
    to_m: float | None = None  # chainage; None = the route's end
    asset_kind: str | None = None
    route_id: str | None = None
    camera: str = "M30T"
    video: str | None = "1280x720@30"  # None = stills
    still_size: str | None = None
    still_interval_s: float = 2.0
    gsd_m: float | None = 0.015
    altitude_m: float | None = None  # instead of gsd_m
    corridor_width_m: float | None = None  # default: the corridor survey process uses
    center_offset_m: float = 0.0  # centre of the corridor, left of the line (+)
    gimbal_pitch_deg: float = -90.0
    overlap: float | None = None  # forward overlap; default 0.8 video, 0.7 stills
    sidelap: float = 0.2
    exposure_s: float = 1.0 / 1000.0
    blur_px: float = 0.5
    track_tolerance_m: float = 0.5  # Douglas-Peucker tolerance of the waypoints
    xtrack_error_m: float = 0.5  # cross-track hold error kept out of the swath
    alt_error_m: float = 0.3  # vertical hold error (the plan flies this much lower)
    alt_tolerance_m: float = 0.5  # vertical knots where the DEM profile bends more
    sortie_overlap_m: float = 20.0
    home_lonlat: tuple[float, float] | None = None  # default: each sortie's start
    nofly: str | None = None  # polygon file
    dem: str | None = None  # GeoTIFF for terrain following
    dem_vertical: str = "msl"
    aircraft: Aircraft = field(default_factory=Aircraft)
    firmware: str = "ardupilot"  # or "px4"


@dataclass(frozen=True)
class Pass:
    """One survey pass: waypoints (grid x/y, altitude) along the line offset ``offset_m``
    (left +), flown toward increasing chainage when ``direction`` is +1."""

    index: int
    offset_m: float
    direction: int
    x_m: F64
    y_m: F64
    alt_m: F64  # relative to home (flat) or AMSL (with a DEM)
    ground_m: F64  # terrain under each waypoint (AMSL; 0 without a DEM)
    chainage_m: F64  # of the foot of each waypoint on the line
    length_m: float


@dataclass(frozen=True)
class MissionPath:
    """The whole sortie as legs between points (struct-of-arrays): ``kind`` is ``survey``
    (a leg of a pass), ``turn`` (between passes) or ``transit`` (to and from home)."""

    x_m: F64
    y_m: F64
    alt_m: F64
    kind: NDArray[np.str_]  # of the leg that ends at each point ("" for the first)
    pass_index: NDArray[np.intp]  # -1 outside passes


@dataclass(frozen=True)
class Sortie:
    """One battery: the passes over a chainage chunk, home, times and battery use."""

    index: int
    from_m: float
    to_m: float
    passes: tuple[Pass, ...]
    home_xy: tuple[float, float]
    home_ground_m: float
    path: MissionPath
    time_s: dict[str, float]
    distance_m: float
    battery: float  # fraction of the endurance

    @property
    def flight_s(self) -> float:
        """Total flight time."""
        return float(sum(self.time_s.values()))


@dataclass(frozen=True, eq=False)
class CorridorPlan:
    """A planned corridor survey (see :func:`plan_corridor`)."""

    request: PlanRequest
    camera: PlanCamera
    kind: str
    route: Any  # geo.Route
    frame: Any  # geo.LocalFrame
    from_m: float
    to_m: float
    altitude_agl_m: float
    gsd_m: float  # at the principal point, at the planned height
    swath_m: float  # narrowest image row on the ground
    footprint_along_m: float
    corridor_width_m: float
    offsets_m: tuple[float, ...]
    speed_m_s: float
    speed_limits_m_s: dict[str, float]
    frame_spacing_m: float  # video: metres between frames; stills: trigger distance
    gimbal_pitch_deg: float
    terrain: bool
    sorties: tuple[Sortie, ...]
    planning_s: float = 0.0
    warnings: tuple[str, ...] = ()

    @property
    def n_waypoints(self) -> int:
        """Survey waypoints of all passes of all sorties."""
        return sum(len(p.x_m) for s in self.sorties for p in s.passes)

    @property
    def flight_s(self) -> float:
        """Total flight time of all sorties."""
        return float(sum(s.flight_s for s in self.sorties))

    def lonlat(self, x: Any, y: Any) -> tuple[F64, F64]:
        """Grid to WGS 84."""
        return self.frame.to_lonlat(x, y)

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers."""
        length = self.to_m - self.from_m
        return {
            "asset": self.request.asset,
            "kind": self.kind,
            "route_id": self.route.route_id,
            "chainage_m": [round(self.from_m, 2), round(self.to_m, 2)],
            "length_m": round(length, 2),
            "camera": {"name": self.camera.name, "mode": self.camera.mode,
                       "size_px": [self.camera.width_px, self.camera.height_px],
                       "fx_px": round(self.camera.fx_px, 2), "fps": self.camera.fps},
            "altitude_agl_m": round(self.altitude_agl_m, 3),
            "gsd_m": round(self.gsd_m, 5),
            "swath_m": round(self.swath_m, 3),
            "footprint_along_m": round(self.footprint_along_m, 3),
            "corridor_width_m": self.corridor_width_m,
            "pass_offsets_m": [round(o, 3) for o in self.offsets_m],
            "speed_m_s": round(self.speed_m_s, 3),
            "speed_limits_m_s": {k: round(v, 3) for k, v in self.speed_limits_m_s.items()},
            "frame_spacing_m": round(self.frame_spacing_m, 3),
            "gimbal_pitch_deg": self.gimbal_pitch_deg,
            "terrain_following": self.terrain,
            "waypoints": self.n_waypoints,
            "waypoints_per_km": round(1000.0 * self.n_waypoints / max(length, 1e-9), 2),
            "flight_s": round(self.flight_s, 1),
            "sorties": [
                {"index": s.index, "chainage_m": [round(s.from_m, 2), round(s.to_m, 2)],
                 "flight_s": round(s.flight_s, 1), "battery": round(s.battery, 3),
                 "distance_m": round(s.distance_m, 1),
                 "waypoints": sum(len(p.x_m) for p in s.passes),
                 "time_s": {k: round(v, 1) for k, v in s.time_s.items()}}
                for s in self.sorties
            ],
            "planning_s": round(self.planning_s, 4),
            "warnings": list(self.warnings),
        }  # fmt: skip


# ---------------------------------------------------------------- closed-form pieces


def altitude_for_gsd(gsd_m: float, fx_px: float, tilt_deg: float = 0.0) -> float:
    """Height above ground giving ``gsd_m`` at the principal point of a camera tilted
    ``tilt_deg`` from nadir.

    >>> round(altitude_for_gsd(0.015, 900.0), 6)
    13.5
    """
    return gsd_m * fx_px * math.cos(math.radians(tilt_deg))


def blur_limited_speed(blur_px: float, pixel_ground_m: float, exposure_s: float) -> float:
    """Fastest ground speed smearing a pixel of ``pixel_ground_m`` by ``blur_px`` during the
    exposure.

    >>> blur_limited_speed(0.5, 0.015, 0.001)
    7.5
    """
    return blur_px * pixel_ground_m / exposure_s


def pass_offsets(
    corridor_width_m: float, usable_swath_m: float, center_m: float = 0.0
) -> tuple[float, ...]:
    """Offsets (left +) of the fewest passes whose usable swaths cover the corridor.

    >>> pass_offsets(12.0, 15.0), pass_offsets(40.0, 15.0)
    ((0.0,), (-12.5, 0.0, 12.5))
    """
    if usable_swath_m <= 0:
        raise PlanError("the usable swath is not positive: fly higher or lower the margins")
    if corridor_width_m <= usable_swath_m:
        return (center_m,)
    n = math.ceil((corridor_width_m - usable_swath_m) / usable_swath_m) + 1
    spacing = (corridor_width_m - usable_swath_m) / (n - 1)
    return tuple(center_m + (i - (n - 1) / 2) * spacing for i in range(n))


def _leg_time(length_m: float, v: float, a: float) -> float:
    """Stop-to-stop time of a straight leg with a trapezoidal (or triangular) speed profile."""
    if length_m <= 0:
        return 0.0
    if length_m < v * v / a:
        return 2.0 * math.sqrt(length_m / a)
    return length_m / v + v / a


# ---------------------------------------------------------------- geometry


def _extended_centreline(route: Any, d_a: float, d_b: float, step_m: float = 1.0) -> Any:
    """The route line from distance ``d_a`` to ``d_b``, extrapolated straight beyond its ends."""
    import shapely

    L = route.length_m
    coords = np.asarray(route.line.coords)[:, :2]
    cum = np.r_[0.0, np.cumsum(np.hypot(*np.diff(coords, axis=0).T))]
    inner = cum[(cum > max(d_a, 0.0)) & (cum < min(d_b, L))]
    ends = np.array([d_a, d_b])
    d = np.unique(np.r_[ends, inner, np.clip(ends, 0.0, L)])
    d = d[(d >= d_a) & (d <= d_b)]
    pts = shapely.line_interpolate_point(route.line, np.clip(d, 0.0, L))
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    tx, ty = route._tangent(np.clip(d, 0.0, L))
    extra = np.where(d < 0, d, np.where(d > L, d - L, 0.0))
    x, y = x + extra * tx, y + extra * ty
    keep = np.r_[True, np.hypot(np.diff(x), np.diff(y)) > 1e-6]
    return shapely.LineString(np.column_stack([x[keep], y[keep]]))


def _offset_line(center: Any, offset_m: float) -> Any:
    import shapely

    if abs(offset_m) < 1e-9:
        return center
    off = shapely.offset_curve(center, offset_m, quad_segs=8, join_style="round")
    if off.geom_type == "MultiLineString":
        off = max(off.geoms, key=lambda g: g.length)
    if off.is_empty or off.length <= 0:
        raise PlanError(f"the line cannot be offset by {offset_m:.1f} m (too tight a curve)")
    return off


def _vertex_subset(dense: F64, thinned: F64) -> NDArray[np.intp]:
    """Indices of ``thinned`` vertices in ``dense`` (simplify keeps a subset of vertices)."""
    from scipy.spatial import cKDTree

    _, idx = cKDTree(dense).query(thinned)
    return np.unique(np.asarray(idx, dtype=np.intp))


def _terrain_profile(s: F64, ground: F64, agl: float, max_grade: float) -> F64:
    """AMSL altitudes >= ground + agl whose grade never exceeds ``max_grade`` (both ways)."""
    z = ground + agl
    ds = np.diff(s)
    for i in range(1, len(z)):  # descending too steeply after a crest: hold altitude longer
        z[i] = max(z[i], z[i - 1] - max_grade * ds[i - 1])
    for i in range(len(z) - 2, -1, -1):  # climbing too steeply before a rise: start earlier
        z[i] = max(z[i], z[i + 1] - max_grade * ds[i])
    return z


# ---------------------------------------------------------------- the planner


def _load(req: PlanRequest) -> tuple[Any, Any, str, float]:
    """Route, frame, asset kind and default corridor width of the asset file."""
    from survey.config import ProcessConfig
    from survey.errors import SurveyError
    from survey.process.asset import load_asset

    try:
        model = load_asset(req.asset, ProcessConfig(), req.asset_kind)
    except SurveyError as exc:
        raise PlanError(exc.message, path=req.asset) from exc
    routes = model.routes.routes
    if req.route_id is not None:
        sel = [r for r in routes if r.route_id == req.route_id]
        if not sel:
            ids = ", ".join(r.route_id for r in routes)
            raise PlanError(f"no route {req.route_id!r}; routes: {ids}", path=req.asset)
        route = sel[0]
    else:
        route = None
        for r in routes:
            m0, m1 = (float(v) for v in r.measure_at([0.0, r.length_m]))
            lo, hi = min(m0, m1), max(m0, m1)
            a = lo if req.from_m is None else req.from_m
            b = hi if req.to_m is None else req.to_m
            if lo - 1e-6 <= a <= hi + 1e-6 and lo - 1e-6 <= b <= hi + 1e-6:
                route = r
                break
        if route is None:
            spans = "; ".join(
                f"{r.route_id}: {r.measure_at(0.0):.0f}..{r.measure_at(r.length_m):.0f} m"
                for r in routes
            )
            raise PlanError(
                f"no route holds chainage {req.from_m}..{req.to_m} m ({spans})",
                path=req.asset,
                where="--from/--to",
            )
    return route, model.frame, model.kind, 2.0 * model.half_width_m


def _nofly(req: PlanRequest, frame: Any) -> list[tuple[str, Any]]:
    if not req.nofly:
        return []
    import geopandas as gpd

    try:
        gdf = gpd.read_file(req.nofly)
    except Exception as exc:  # pyogrio raises several types
        raise PlanError(f"cannot read the no-fly zones ({exc})", path=req.nofly) from exc
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    gdf = gdf.to_crs(frame.crs)
    out = []
    for i, row in gdf.iterrows():
        g = row.geometry
        if g is None or g.geom_type not in ("Polygon", "MultiPolygon"):
            raise PlanError(
                f"feature {i} is a {getattr(g, 'geom_type', 'missing geometry')}, "
                "expected a polygon",
                path=req.nofly,
            )
        name = str(row.get("name") or f"zone {i}") if "name" in gdf.columns else f"zone {i}"
        out.append((name, g))
    return out


def plan_corridor(req: PlanRequest) -> CorridorPlan:
    """Plan the corridor survey ``req`` (see the module docstring).

    Raises
    ------
    PlanError
        Bad request (names the setting), unreadable inputs (names the file), an altitude above
        the aircraft's ceiling, or a leg through a no-fly zone (names the sortie and leg).
    """
    t0 = time.perf_counter()
    ac = req.aircraft
    if not -90.0 <= req.gimbal_pitch_deg <= -30.0:
        raise PlanError(
            f"gimbal pitch must be -90..-30 deg, got {req.gimbal_pitch_deg}", where="gimbal_pitch"
        )
    if not 0.0 <= req.sidelap < 0.9 or (req.overlap is not None and not 0 <= req.overlap < 0.95):
        raise PlanError("overlap must be 0..0.95 and sidelap 0..0.9", where="overlap")
    if req.exposure_s <= 0 or req.blur_px <= 0 or req.track_tolerance_m <= 0:
        raise PlanError("exposure, blur and track tolerance must be positive", where="exposure")
    cam = plan_camera(
        req.camera, video=req.video, still_size=req.still_size,
        min_interval_s=req.still_interval_s,
    )  # fmt: skip
    route, frame, kind, width_default = _load(req)
    width = req.corridor_width_m if req.corridor_width_m is not None else width_default
    if width <= 0:
        raise PlanError(f"corridor width must be positive, got {width}", where="corridor_width")
    m0, m1 = (float(v) for v in route.measure_at([0.0, route.length_m]))
    a_m = m0 if req.from_m is None else req.from_m
    b_m = m1 if req.to_m is None else req.to_m
    if b_m <= a_m:
        raise PlanError(f"--to ({b_m}) must be beyond --from ({a_m})", where="--from/--to")
    tilt = 90.0 + req.gimbal_pitch_deg
    th = math.radians(tilt)
    if req.altitude_m is not None:
        h = req.altitude_m
    elif req.gsd_m is not None and req.gsd_m > 0:
        h = altitude_for_gsd(req.gsd_m, cam.fx_px, tilt) - req.alt_error_m
    else:
        raise PlanError("give a target GSD or an altitude", where="gsd")
    if h < 2.0:
        raise PlanError(
            f"the target GSD needs {h:.1f} m above ground, below the 2 m minimum", where="gsd"
        )
    if h > ac.max_altitude_m:
        raise PlanError(
            f"the target GSD needs {h:.1f} m above ground, above the aircraft's ceiling of "
            f"{ac.max_altitude_m:.0f} m: choose a coarser GSD or a longer lens",
            where="gsd",
        )
    gsd = h / (cam.fx_px * math.cos(th))
    half_v = math.atan(cam.height_px / 2 / cam.fy_px)
    if th + half_v >= math.radians(85.0):
        raise PlanError("the image reaches the horizon at this gimbal pitch", where="gimbal_pitch")
    rows = np.array([th - half_v, th, th + half_v])
    widths = cam.width_px * h * np.cos(rows - th) / (cam.fx_px * np.cos(rows))
    swath = float(widths.min())
    along = h * (math.tan(th + half_v) - math.tan(th - half_v))
    usable = swath * (1.0 - req.sidelap) - 2.0 * req.xtrack_error_m
    offsets = pass_offsets(width, usable, req.center_offset_m)
    # speed
    overlap = req.overlap if req.overlap is not None else (0.8 if cam.mode == "video" else 0.7)
    spacing = (1.0 - overlap) * along
    g_along = h / (cam.fy_px * math.cos(th) ** 2)
    limits = {
        "blur": blur_limited_speed(req.blur_px, g_along, req.exposure_s),
        "overlap": spacing * cam.fps if cam.mode == "video" else spacing / cam.min_interval_s,
        "aircraft": ac.max_speed_m_s,
    }
    v = min(limits.values())
    if v < 0.5:
        raise PlanError(
            f"the limits allow only {v:.2f} m/s ({', '.join(f'{k} {x:.2f}' for k, x in limits.items())})",
            where="speed",
        )
    frame_spacing = v / cam.fps if cam.mode == "video" else spacing
    dem = None
    if req.dem:
        from geo.dem import Dem
        from geo.errors import GeoError

        try:
            dem = Dem.open(req.dem, req.dem_vertical, crs=frame.crs)  # type: ignore[arg-type]
        except GeoError as exc:
            raise PlanError(str(exc), path=req.dem) from exc
    zones = _nofly(req, frame)
    # sorties
    length = b_m - a_m
    ov = min(req.sortie_overlap_m, 0.5 * length)
    run_in = v * v / (2 * ac.accel_m_s2) + 1.0
    n = 1
    while True:
        chunk = (length + (n - 1) * ov) / n
        sorties = []
        for k in range(n):
            s_from = a_m + k * (chunk - ov)
            s_to = min(b_m, s_from + chunk)
            sorties.append(
                _sortie(k + 1, route, s_from, s_to, offsets, h, v, run_in, req, dem, zones, frame)
            )
        if all(s.flight_s <= ac.usable_s for s in sorties):
            break
        if n == 1 and sorties[0].flight_s - _variable_time(sorties[0]) > ac.usable_s:
            raise PlanError(
                f"even a sortie of no length exceeds the usable battery ({ac.usable_s:.0f} s)",
                where="endurance",
            )
        if chunk < 2 * ov + 10.0:
            raise PlanError(
                f"cannot fit a sortie in {ac.usable_s:.0f} s of battery", where="endurance"
            )
        est = sorties[0].flight_s
        fixed = est - _variable_time(sorties[0])
        per_m = _variable_time(sorties[0]) / max(chunk, 1e-9)
        fit = (ac.usable_s - fixed) / max(per_m, 1e-12)
        n = max(n + 1, math.ceil((length - ov) / max(fit - ov, 1.0)))
    warnings = []
    if len(offsets) > 1:
        warnings.append(
            f"{len(offsets)} passes: no single frame spans the {width:.0f} m corridor, and "
            "survey process counts a station as covered only when one frame spans the whole "
            "corridor there (its coverage report will show gaps; fly higher or narrow the "
            "corridor for one pass)"
        )
    plan = CorridorPlan(
        request=req, camera=cam, kind=kind, route=route, frame=frame, from_m=a_m, to_m=b_m,
        altitude_agl_m=h, gsd_m=gsd, swath_m=swath, footprint_along_m=along,
        corridor_width_m=width, offsets_m=offsets, speed_m_s=v, speed_limits_m_s=limits,
        frame_spacing_m=frame_spacing, gimbal_pitch_deg=req.gimbal_pitch_deg,
        terrain=dem is not None, sorties=tuple(sorties),
        planning_s=time.perf_counter() - t0, warnings=tuple(warnings),
    )  # fmt: skip
    log.info("planned %s: %d sorties, %d waypoints", req.asset, n, plan.n_waypoints)
    return plan


def _coords(geom: Any) -> list[tuple[float, float]]:
    """Every vertex of a (multi-part) geometry."""
    import shapely

    return [tuple(c) for c in shapely.get_coordinates(geom).tolist()]


def _variable_time(s: Sortie) -> float:
    return s.time_s["passes"] + s.time_s["transit"]


def _pass(
    index: int, route: Any, d_a: float, d_b: float, offset: float, direction: int,
    h: float, v: float, req: PlanRequest, dem: Any,
) -> Pass:  # fmt: skip
    import shapely

    center = _extended_centreline(route, d_a, d_b)
    line = _offset_line(center, offset)
    if direction < 0:
        line = line.reverse()
    tol = req.track_tolerance_m
    if dem is None:
        dense = np.asarray(line.coords)[:, :2]
        thin = np.asarray(shapely.simplify(line, tol, preserve_topology=False).coords)[:, :2]
        idx = _vertex_subset(dense, thin)
        xy = dense[idx]
        ground = np.zeros(len(xy))
        alt = np.full(len(xy), h)
    else:
        seg = shapely.segmentize(line, 2.0)
        dense = np.asarray(seg.coords)[:, :2]
        s = np.r_[0.0, np.cumsum(np.hypot(*np.diff(dense, axis=0).T))]
        g = dem.height_at(dense[:, 0], dense[:, 1])
        if np.isnan(g).any():
            i = int(np.flatnonzero(np.isnan(g))[0])
            raise PlanError(
                f"pass {index} leaves the DEM at {s[i]:.0f} m along the pass "
                f"(grid {dense[i, 0]:.1f}, {dense[i, 1]:.1f})",
                path=req.dem,
            )
        z = _terrain_profile(s, g, h, req.aircraft.climb_rate_m_s / v)
        thin = np.asarray(
            shapely.simplify(shapely.LineString(dense), tol, preserve_topology=False).coords
        )
        prof = np.asarray(
            shapely.simplify(
                shapely.LineString(np.column_stack([s, z])),
                req.alt_tolerance_m,
                preserve_topology=False,
            ).coords
        )
        idx = np.union1d(
            _vertex_subset(dense, thin), np.searchsorted(s, prof[:, 0]).clip(0, len(s) - 1)
        )
        xy, ground, alt = dense[idx], g[idx], z[idx]
    d_foot = shapely.line_locate_point(center, shapely.points(xy))
    ch = route.measure_at(d_foot + d_a)
    return Pass(index, offset, direction, xy[:, 0].copy(), xy[:, 1].copy(), alt, ground, ch,
                float(line.length))  # fmt: skip


def _sortie(
    index: int, route: Any, s_from: float, s_to: float, offsets: tuple[float, ...], h: float,
    v: float, run_in: float, req: PlanRequest, dem: Any, zones: list[tuple[str, Any]],
    frame: Any,
) -> Sortie:  # fmt: skip
    import shapely

    ac = req.aircraft
    d_a = route.distance_of(s_from) - run_in
    d_b = route.distance_of(s_to) + run_in
    passes = tuple(
        _pass(i + 1, route, d_a, d_b, o, 1 if i % 2 == 0 else -1, h, v, req, dem)
        for i, o in enumerate(offsets)
    )
    if req.home_lonlat is not None:
        ex, ny = frame.from_lonlat(*req.home_lonlat)
        hx, hy = float(ex), float(ny)
    else:
        hx, hy = route.point_at(s_from, 0.0)
    home_ground = float(dem.height_at(hx, hy)) if dem is not None else 0.0
    if dem is not None and not math.isfinite(home_ground):
        raise PlanError(f"sortie {index}: home is outside the DEM", path=req.dem)
    cruise = home_ground + h if dem is not None else h
    xs, ys, zs, kinds, pidx = [hx], [hy], [cruise], [""], [-1]
    for p in passes:
        k = "transit" if p.index == 1 else "turn"
        xs += p.x_m.tolist()
        ys += p.y_m.tolist()
        zs += p.alt_m.tolist()
        kinds += [k] + ["survey"] * (len(p.x_m) - 1)
        pidx += [p.index] * len(p.x_m)
    xs.append(hx)
    ys.append(hy)
    zs.append(cruise)
    kinds.append("transit")
    pidx.append(-1)
    path = MissionPath(np.array(xs), np.array(ys), np.array(zs), np.array(kinds), np.array(pidx))
    # no-fly check of every leg
    for name, poly in zones:
        legs = shapely.linestrings(
            np.stack([np.column_stack([xs[:-1], ys[:-1]]), np.column_stack([xs[1:], ys[1:]])], 1)
        )
        hit = np.flatnonzero(shapely.intersects(legs, poly))
        if hit.size:
            i = int(hit[0])
            foot = route.locate([xs[i], xs[i + 1]], [ys[i], ys[i + 1]]).chainage_m
            leg = shapely.LineString([(xs[i], ys[i]), (xs[i + 1], ys[i + 1])])
            d_in = min(leg.project(shapely.Point(c)) for c in _coords(leg.intersection(poly)))
            at = leg.interpolate(d_in)
            ch_in = float(route.locate([at.x], [at.y]).chainage_m[0])
            from geo.chainage import format_km

            what = f"pass {pidx[i + 1]}" if kinds[i + 1] == "survey" else kinds[i + 1]
            raise PlanError(
                f"sortie {index}, leg {i + 1} ({what}, {format_km(float(foot[0]))} to "
                f"{format_km(float(foot[1]))}) enters the no-fly zone {name!r} at chainage "
                f"{format_km(ch_in)}",
                path=req.nofly,
            )
    # times
    seg = np.hypot(np.diff(path.x_m), np.diff(path.y_m))
    kinds_a = path.kind[1:]
    t_pass = sum(p.length_m / v + v / ac.accel_m_s2 for p in passes)
    t_turn = sum(
        _leg_time(float(seg[i]), ac.transit_speed_m_s, ac.accel_m_s2) + 180.0 / ac.yaw_rate_deg_s
        for i in np.flatnonzero(kinds_a == "turn")
    )
    t_transit = sum(
        _leg_time(float(seg[i]), ac.transit_speed_m_s, ac.accel_m_s2)
        for i in np.flatnonzero(kinds_a == "transit")
    )
    times = {
        "takeoff": h / ac.climb_rate_m_s,
        "transit": t_transit,
        "passes": t_pass,
        "turns": t_turn,
        "landing": h / ac.descent_rate_m_s,
    }
    total = float(sum(times.values()))
    return Sortie(index, s_from, s_to, passes, (hx, hy), home_ground, path, times,
                  float(seg.sum()), total / ac.endurance_s)  # fmt: skip
