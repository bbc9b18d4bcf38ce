"""Fly a simulated survey and write a flight folder in real formats, with exact ground truth.

Flight folder layout (paths relative to the folder; times are UTC POSIX seconds unless said)::

    asset.geojson                       the rendered asset centreline (WGS 84; properties:
                                        name, kind, chainage_start_m, chainage_crs, gauge_mm)
    DCIM/DJI_<YYYYMMDDHHMM>_001_SIM/
        DJI_<YYYYMMDDHHMMSS>_0001_V.MP4 RGB video (MPEG-4 part 2 in MP4, mp4v)
        DJI_<YYYYMMDDHHMMSS>_0001_V.SRT DJI subtitles, one block per frame: FrameCnt, DiffTime,
                                        camera wall-clock time, [latitude] [longitude]
                                        [rel_alt abs_alt] [gb_yaw gb_pitch gb_roll] (absolute)
        DJI_<YYYYMMDDHHMMSS>_<NNNN>_W.JPG RGB stills: EXIF (Make, Model, DateTimeOriginal,
                                        SubSecTimeOriginal, OffsetTimeOriginal, FocalLength,
                                        GPS lat/lon/MSL altitude) + DJI XMP (drone-dji:
                                        GpsLatitude/Longitude, AbsoluteAltitude,
                                        RelativeAltitude, Gimbal{Yaw,Pitch,Roll}Degree,
                                        Flight{Yaw,Pitch,Roll}Degree, Flight{X,Y,Z}Speed,
                                        RtkFlag, CalibratedFocalLength/OpticalCenter,
                                        DewarpData, LRFTargetDistance/Lon/Lat/Alt/AbsAlt)
    FLIR/IR_<NNNNN>.jpg                 FLIR radiometric JPEGs (raw uint16 counts + Planck
                                        calibration + object parameters; EXIF GPS; DJI XMP
                                        gimbal/flight angles), read by thermal.read_thermal
    logs/flight.tlog                    MAVLink 2 tlog (8-byte big-endian receive time in us +
                                        packet): HEARTBEAT, SYSTEM_TIME, GLOBAL_POSITION_INT,
                                        ATTITUDE, GPS_RAW_INT, VFR_HUD, CAMERA_FEEDBACK,
                                        GIMBAL_DEVICE_ATTITUDE_STATUS (earth frame = absolute)
    logs/flight_log.csv                 onboard log at 10 Hz (columns: see missions.sim.logs)
    truth/scenario.json                 everything needed to interpret the truth: config, CRS,
                                        altitude references, geoid, clocks (camera time = true
                                        UTC + offset), realised error model, cameras
                                        (intrinsics, boresight, lever arms), terrain, asset
    truth/defects.gpkg                  layers defects, lookalikes, asset, flight_path (UTM)
    truth/trajectory_true.csv           true aircraft state at 50 Hz (antenna position, vehicle
                                        attitude, absolute gimbal angles, NED velocity)
    truth/trajectory_logged.csv         the logged navigation solution at 10 Hz, by true time
    truth/frames_<camera>.csv           per frame: true capture time, camera-clock time, true
                                        camera centre, absolute camera angles (gimbal +
                                        boresight) and the quaternion of R_ned_from_cam,
                                        height above ground, GSD, chainage
    truth/coco_<camera>.json            COCO instance masks (RLE) of every defect visible in
                                        every frame; <camera> = rgb_video, rgb_still, thermal

Video frame i was captured at ``t0 + i / fps`` (true UTC); its COCO ``images`` entry has
``file_name`` = the MP4 and ``frame_index`` = i.
"""

from __future__ import annotations

import heapq
import json
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from missions.errors import SimulationError
from missions.sim.asset import Asset, load_asset
from missions.sim.camera import CameraModel
from missions.sim.config import SimConfig, parse_size, parse_video, start_time
from missions.sim.errormodel import ErrorModel, realize
from missions.sim.flight import FlightPlan, plan_trajectory
from missions.sim.formats.photo import camera_datetime
from missions.sim.formats.tables import asset_geojson
from missions.sim.logs import write_logs
from missions.sim.paint import Painter
from missions.sim.rig import Rig
from missions.sim.scene import build_scene
from missions.sim.stills import StillStream, ThermalStream
from missions.sim.streams import SimContext, VideoStream, still_times
from missions.sim.terrain import FlatTerrain, HillyTerrain, RasterTerrain, Terrain
from missions.sim.texture import ThermalScene
from missions.sim.tiles import TileCache
from missions.sim.truth import write_truth

__all__ = [
    "SimResult",
    "build_world",
    "flown_range",
    "make_terrain",
    "sim_asset",
    "simulate_flight",
]

log = logging.getLogger(__name__)


@dataclass
class SimResult:
    """What a simulation wrote."""

    out: Path
    files: dict[str, list[str]] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)
    defects: int = 0
    lookalikes: int = 0
    flight_s: float = 0.0
    elapsed_s: float = 0.0
    render_s: float = 0.0
    tiles_painted: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        d = asdict(self)
        d["out"] = str(self.out)
        return d


def make_terrain(cfg: SimConfig, asset: Asset) -> Terrain:
    """The terrain named by ``cfg.terrain``."""
    if cfg.terrain == "flat":
        return FlatTerrain(cfg.ground_msl_m)
    if cfg.terrain == "hilly":
        o = asset.corridor.xy[0]
        return HillyTerrain(
            cfg.ground_msl_m, cfg.hill_relief_m, 600.0, cfg.seed, (float(o[0]), float(o[1]))
        )
    xy = asset.corridor.xy
    # the nadir footprint; rays beyond the resampled DEM take its edge heights
    pad = max(30.0, 1.5 * float(cfg.altitude_agl_m or 25.0))
    bounds = (
        xy[:, 0].min() - pad,
        xy[:, 1].min() - pad,
        xy[:, 0].max() + pad,
        xy[:, 1].max() + pad,
    )
    c = xy.mean(axis=0)
    lon, lat = asset.grid.to_lonlat(c[0], c[1])
    geoid = (
        float(asset.grid.geoid_undulation_m(float(lon), float(lat)))
        if cfg.dem_vertical == "ellipsoid"
        else 0.0
    )
    return RasterTerrain(
        cfg.terrain, asset.grid.epsg, bounds, vertical=cfg.dem_vertical, geoid_m=geoid
    )


def sim_asset(cfg: SimConfig) -> Asset:
    """The asset stretch a (resolved) config flies."""
    return load_asset(
        cfg.asset,
        cfg.geometry or None,
        feature=cfg.feature or None,
        start_m=cfg.start_m,
        length_m=cfg.length_m,
        margin_m=max(80.0, 3.0 * (cfg.altitude_agl_m or 25.0)),
    )


def flown_range(cfg: SimConfig, asset: Asset) -> tuple[float, float]:
    """Distance along the asset's stretch (m) where the flight starts and ends."""
    return (
        cfg.start_m - asset.chainage_start_m,
        cfg.start_m + cfg.length_m - asset.chainage_start_m,
    )


def build_world(cfg: SimConfig, asset: Asset) -> tuple[Terrain, Any]:
    """Terrain and scene (every object, defect and material) of a config: the same seed gives
    the same world, so the truth of a written flight can be rebuilt from its scenario."""
    terrain = make_terrain(cfg, asset)
    scene_th = (
        ThermalScene(kind="day")
        if cfg.thermal_scene == "day"
        else ThermalScene(kind="night", air_c=-2.0, sky_c=-30.0, humidity_pct=80.0)
    )
    scene = build_scene(
        asset,
        terrain,
        seed=cfg.seed,
        flown_s=flown_range(cfg, asset),
        density=cfg.defect_density,
        thermal=scene_th,
        pipe_style=cfg.pipe_style,
    )
    return terrain, scene


def _prepare(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise SimulationError("the output folder is not empty (use --overwrite)", path=out)
        for name in ("DCIM", "FLIR", "logs", "truth", "asset.geojson"):
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    for sub in ("logs", "truth"):
        (out / sub).mkdir(parents=True, exist_ok=True)


def _events(
    cfg: SimConfig, t0: float, t1: float, traj: Any
) -> Iterator[tuple[float, int, str, int]]:
    """(true time, order, kind, index) of every capture, in time order, lazily."""

    def video() -> Iterator[tuple[float, int, str, int]]:
        if not cfg.video:
            return
        fps = parse_video(cfg.video)[2]
        n = int(np.floor((t1 - t0) * fps)) + 1
        for i in range(n):
            yield (t0 + i / fps, 0, "video", i)

    def stills() -> Iterator[tuple[float, int, str, int]]:
        if cfg.stills_every_m > 0:
            for i, t in enumerate(still_times(traj, cfg.stills_every_m)):
                yield (float(t), 1, "still", i)

    def thermal() -> Iterator[tuple[float, int, str, int]]:
        if cfg.thermal_every_s > 0:
            n = int(np.floor((t1 - t0) / cfg.thermal_every_s)) + 1
            for i in range(n):
                yield (t0 + i * cfg.thermal_every_s, 2, "thermal", i)

    return heapq.merge(video(), stills(), thermal())


def simulate_flight(
    config: SimConfig, out: str | Path, *, overwrite: bool = False, progress: bool = False
) -> SimResult:
    """Simulate one flight into folder ``out`` (see the module docstring for its layout)."""
    from importlib.metadata import version

    t_start = time.perf_counter()
    cfg = config.resolved()
    out = Path(out)
    asset = sim_asset(cfg)
    _prepare(out, overwrite)
    terrain, scene = build_world(cfg, asset)
    flown = flown_range(cfg, asset)
    t0 = start_time(cfg)
    plan = FlightPlan(
        altitude_agl_m=float(cfg.altitude_agl_m or 25.0),
        speed_m_s=float(cfg.speed_m_s or 4.0),
        offset_m=cfg.offset_m,
        gimbal_pitch_deg=cfg.gimbal_pitch_deg,
        gimbal_yaw_offset_deg=cfg.gimbal_yaw_offset_deg,
        direction=cfg.direction,
        wind_m_s=cfg.wind_m_s,
        turbulence=cfg.turbulence,
    )
    traj = plan_trajectory(asset, terrain, plan, flown, t0, cfg.seed)
    home = float(terrain.height(traj.knots.x_m[0], traj.knots.y_m[0]))
    model = ErrorModel(gnss=cfg.gnss) if cfg.errors == "realistic" else ErrorModel.perfect()
    nav = realize(model, traj, asset.grid, home, cfg.seed)
    rig = Rig()
    want = {"rgb"} if (cfg.video or cfg.stills_every_m > 0) else set()
    if cfg.thermal_every_s > 0:
        want |= {"temp", "emis"}
    tiles = TileCache(
        Painter(scene),
        base_res_m=cfg.texture_res_m,
        max_bytes=cfg.max_tile_mb * 2**20,
        paint_layers=frozenset(want),
    )
    info = {
        "description": f"railpipe-survey simulated flight, seed {cfg.seed}",
        "version": version("railpipe-survey"),
        "year": 2024,
    }
    ctx = SimContext(
        out,
        scene,
        traj,
        nav,
        rig,
        tiles,
        cfg.seed,
        cfg.camera_utc_offset_h,
        cfg.gnss == "rtk",
        info,
    )
    wall = camera_datetime(t0 + nav.errors.rgb_clock_offset_s, cfg.camera_utc_offset_h)
    dcim = out / "DCIM" / f"DJI_{wall.strftime('%Y%m%d%H%M')}_001_SIM"
    cameras: dict[str, CameraModel] = {}
    video = stills = thermal = None
    if cfg.video:
        w, h, fps = parse_video(cfg.video)
        dcim.mkdir(parents=True, exist_ok=True)
        cam = CameraModel.preset("rgb-still").video_mode(w, h)
        cameras["rgb_video"] = cam
        video = VideoStream(
            ctx,
            cam,
            rig.rgb,
            fps,
            dcim / f"DJI_{wall.strftime('%Y%m%d%H%M%S')}_0001_V.MP4",
            annotate_every=cfg.coco_every,
            telemetry=cfg.video_telemetry,
        )
    if cfg.stills_every_m > 0:
        dcim.mkdir(parents=True, exist_ok=True)
        sw, sh = parse_size(cfg.still_size)
        cam = CameraModel.preset("rgb-still").scaled(sw, sh, name="rgb-still")
        cameras["rgb_still"] = cam
        stills = StillStream(ctx, cam, rig.rgb, dcim, 2 if video else 1, cfg.jpeg_quality)
    if cfg.thermal_every_s > 0:
        (out / "FLIR").mkdir(parents=True, exist_ok=True)
        cam = CameraModel.preset("thermal-640")
        cameras["thermal"] = cam
        thermal = ThermalStream(ctx, cam, rig.thermal, out / "FLIR")
    t_render = time.perf_counter()
    n_total = _count_events(cfg, traj)
    bar = _progress(n_total, progress)
    try:
        for t, _, kind, idx in _events(cfg, traj.t_start_s, traj.t_end_s, traj):
            if kind == "video" and video is not None:
                video.frame(idx, t)
            elif kind == "still" and stills is not None:
                stills.frame(t)
            elif kind == "thermal" and thermal is not None:
                thermal.frame(t)
            bar.update(1)
    finally:
        bar.close()
        for s in (video, stills, thermal):
            if s is not None:
                s.close()
    render_s = time.perf_counter() - t_render
    logs = write_logs(nav, ctx.events, out / "logs", cfg.seed)
    write_truth(out, cfg, asset, scene, traj, nav, rig, cameras, plan, terrain, logs)
    (out / "asset.geojson").write_text(json.dumps(asset_geojson(asset), indent=1), encoding="utf-8")
    res = SimResult(
        out=out,
        frames={
            "rgb_video": video.count if video else 0,
            "rgb_still": stills.count if stills else 0,
            "thermal": thermal.count if thermal else 0,
        },
        defects=len(scene.defects()),
        lookalikes=len(scene.objects) - len(scene.defects()),
        flight_s=traj.t_end_s - traj.t_start_s,
        elapsed_s=time.perf_counter() - t_start,
        render_s=render_s,
        tiles_painted=tiles.painted,
    )
    res.files = _list_files(out)
    log.info("simulated %s in %.1f s", out, res.elapsed_s)
    return res


def _count_events(cfg: SimConfig, traj: Any) -> int:
    return sum(1 for _ in _events(cfg, traj.t_start_s, traj.t_end_s, traj))


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, show: bool) -> Any:
    if not show:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", desc="simulate", smoothing=0.05)


def _list_files(out: Path) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for p in sorted(out.rglob("*")):
        if p.is_file():
            top = p.relative_to(out).parts[0]
            kinds.setdefault(top, []).append(str(p.relative_to(out)))
    return kinds
