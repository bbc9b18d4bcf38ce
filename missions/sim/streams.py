"""Camera streams of a simulated flight: RGB video (+ SRT), RGB stills, thermal R-JPEGs.

Each stream renders its frames at their true capture times, writes the files the camera would
write (with the *logged* pose and the camera's own clock in the metadata), one ground-truth row
per frame (true camera pose) and the COCO annotations of the instances visible in the frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from missions.sim.camera import CameraModel
from missions.sim.classes import CLASSES, categories
from missions.sim.errormodel import LoggedNav
from missions.sim.flight import Trajectory
from missions.sim.formats.coco import CocoWriter
from missions.sim.formats.photo import PhotoMeta, write_dji_jpeg
from missions.sim.formats.srt import SrtWriter
from missions.sim.formats.tables import CsvStream
from missions.sim.masks import project_instances
from missions.sim.render import CameraPose, Renderer
from missions.sim.rig import Mount, Rig, camera_poses
from missions.sim.scene import Scene
from missions.sim.sensor import RgbSensor, ThermalSensor
from missions.sim.tiles import TileCache

__all__ = ["FRAME_COLUMNS", "SimContext", "StillStream", "ThermalStream", "VideoStream"]

#: Columns of the truth/frames_*.csv files.
FRAME_COLUMNS = [
    "frame",
    "file",
    "frame_index",
    "t_utc_s",
    "t_camera_s",
    "x_m",
    "y_m",
    "lat_deg",
    "lon_deg",
    "alt_msl_m",
    "alt_ellipsoid_m",
    "cam_yaw_deg",
    "cam_pitch_deg",
    "cam_roll_deg",
    "gimbal_yaw_deg",
    "gimbal_pitch_deg",
    "gimbal_roll_deg",
    "yaw_deg",
    "pitch_deg",
    "roll_deg",
    "q_w",
    "q_x",
    "q_y",
    "q_z",
    "agl_m",
    "gsd_m",
    "chainage_m",
    "instances",
]
_PREC = {
    "q_w": 9,
    "q_x": 9,
    "q_y": 9,
    "q_z": 9,
    "t_utc_s": 6,
    "t_camera_s": 6,
    "x_m": 4,
    "y_m": 4,
    "lat_deg": 9,
    "lon_deg": 9,
    "alt_msl_m": 4,
    "alt_ellipsoid_m": 4,
    "agl_m": 3,
    "gsd_m": 5,
    "chainage_m": 3,
}


def _quat(R: np.ndarray) -> tuple[float, float, float, float]:
    """Unit quaternion (w, x, y, z), w >= 0, of a rotation matrix (here R_ned_from_cam)."""
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(R).as_quat()
    sgn = 1.0 if w >= 0 else -1.0
    return sgn * w, sgn * x, sgn * y, sgn * z


@dataclass
class SimContext:
    """What every stream needs."""

    out: Path
    scene: Scene
    traj: Trajectory
    nav: LoggedNav
    rig: Rig
    tiles: TileCache
    seed: int
    utc_offset_h: float
    rtk: bool
    coco_info: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)  # camera triggers for the logs

    @property
    def grid(self) -> Any:
        return self.scene.asset.grid


class _Stream:
    band = "rgb"

    def __init__(
        self, ctx: SimContext, cam: CameraModel, mount: Mount, name: str, annotate_every: int = 1
    ) -> None:
        self.ctx, self.cam, self.mount, self.name = ctx, cam, mount, name
        self.renderer = Renderer(cam, ctx.scene.terrain, ctx.grid, ctx.tiles, band=self.band)
        truth = ctx.out / "truth"
        self.csv = CsvStream(truth / f"frames_{name}.csv", FRAME_COLUMNS, _PREC)
        self.coco = CocoWriter(
            truth / f"coco_{name}.json",
            categories(self.band),
            {**ctx.coco_info, "camera": name, "band": self.band},
        )
        self.every = annotate_every
        self.count = 0

    def _pose(self, t: float) -> tuple[CameraPose, Any, Any]:
        p = self.ctx.traj.sample([t])
        cp = camera_poses(p, self.mount, self.ctx.rig, self.ctx.grid)
        pose = CameraPose(
            float(cp.x_m[0]), float(cp.y_m[0]), float(cp.alt_msl_m[0]), cp.R_ned_from_cam[0]
        )
        return pose, p, cp

    def _truth(
        self,
        file: str,
        index: int,
        t: float,
        t_cam: float,
        pose: CameraPose,
        p: Any,
        cp: Any,
        gsd: float,
        n_inst: int,
    ) -> None:
        g = self.ctx.grid
        lon, lat = g.to_lonlat(pose.x_m, pose.y_m)
        cy, cpitch, cr = (float(a[0]) for a in cp.angles_deg())
        qw, qx, qy, qz = _quat(pose.R_ned_from_cam)
        ground = float(self.ctx.scene.terrain.height(pose.x_m, pose.y_m))
        s, _, _ = self.ctx.scene.asset.corridor.to_corridor([pose.x_m], [pose.y_m])
        self.csv.write(
            frame=self.count,
            file=file,
            frame_index=index,
            t_utc_s=t,
            t_camera_s=t_cam,
            x_m=pose.x_m,
            y_m=pose.y_m,
            lat_deg=float(lat),
            lon_deg=float(lon),
            alt_msl_m=pose.z_msl_m,
            alt_ellipsoid_m=pose.z_msl_m + self.ctx.nav.geoid_m,
            cam_yaw_deg=cy,
            cam_pitch_deg=cpitch,
            cam_roll_deg=cr,
            q_w=qw,
            q_x=qx,
            q_y=qy,
            q_z=qz,
            gimbal_yaw_deg=float(p.gimbal_yaw_deg[0]),
            gimbal_pitch_deg=float(p.gimbal_pitch_deg[0]),
            gimbal_roll_deg=float(p.gimbal_roll_deg[0]),
            yaw_deg=float(p.yaw_deg[0]),
            pitch_deg=float(p.pitch_deg[0]),
            roll_deg=float(p.roll_deg[0]),
            agl_m=pose.z_msl_m - ground,
            gsd_m=gsd,
            chainage_m=float(self.ctx.scene.asset.chainage(s[0])),
            instances=n_inst,
        )

    def _annotate(
        self,
        pose: CameraPose,
        ground_xy: np.ndarray,
        file: str,
        index: int,
        t: float,
        extra: dict[str, Any],
    ) -> int:
        """COCO entries of the frame: every object of this band projected into it."""
        img_id = self.coco.add_image(
            file,
            self.cam.width_px,
            self.cam.height_px,
            frame_index=index,
            t_utc_s=round(t, 6),
            **extra,
        )
        found = project_instances(
            self.cam,
            pose,
            self.ctx.grid,
            self.ctx.scene.terrain,
            self.ctx.scene.objects,
            self.band,
            ground_xy,
        )
        for o, inst in found:
            self.coco.add_annotation(
                img_id,
                CLASSES[o.cls].id,
                inst,
                instance_id=o.id,
                severity=o.severity,
                variant=o.variant,
            )
        return len(found)

    def close(self) -> None:
        self.csv.close()
        self.coco.close()


class VideoStream(_Stream):
    """RGB video (MP4, mp4v) with a DJI ``.SRT`` beside it."""

    def __init__(
        self,
        ctx: SimContext,
        cam: CameraModel,
        mount: Mount,
        fps: float,
        path: Path,
        annotate_every: int = 1,
    ) -> None:
        super().__init__(ctx, cam, mount, "rgb_video", annotate_every)
        self.fps, self.path = fps, path
        self.writer = cv2.VideoWriter(
            str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (cam.width_px, cam.height_px)
        )
        if not self.writer.isOpened():
            raise OSError(f"cannot open a video writer for {path}")
        self._srt_f = open(path.with_suffix(".SRT"), "w", encoding="utf-8", newline="\n")
        self.srt = SrtWriter(self._srt_f, fps, focal_35mm=cam.focal_35mm)
        self.sensor = RgbSensor(cam.width_px, cam.height_px, ctx.seed + 1)
        self.rel = str(path.relative_to(ctx.out))

    def frame(self, index: int, t: float) -> None:
        """Render and write video frame ``index`` captured at true time ``t``."""
        pose, p, cp = self._pose(t)
        annotate = index % self.every == 0
        r = self.renderer.render(pose)
        if r.image is None:
            raise RuntimeError("the RGB renderer returned no image")
        self.writer.write(self.sensor.apply(r.image))
        v = self.ctx.nav.at([t])
        t_cam = t + self.ctx.nav.errors.rgb_clock_offset_s
        self.srt.frame(
            index,
            camera_time_s=t_cam,
            utc_offset_h=self.ctx.utc_offset_h,
            lat_deg=float(v["lat_deg"][0]),
            lon_deg=float(v["lon_deg"][0]),
            rel_alt_m=float(v["rel_alt_m"][0]),
            abs_alt_m=float(v["alt_msl_m"][0]),
            gimbal_ypr_deg=(
                float(v["gimbal_yaw_deg"][0]),
                float(v["gimbal_pitch_deg"][0]),
                float(v["gimbal_roll_deg"][0]),
            ),
        )
        n = (
            self._annotate(pose, r.ground_xy[r.ground_hit], self.rel, index, t, {"video": True})
            if annotate
            else -1
        )
        self._truth(self.rel, index, t, t_cam, pose, p, cp, r.gsd_m, n)
        self.count += 1

    def close(self) -> None:
        self.writer.release()
        self._srt_f.close()
        super().close()


class StillStream(_Stream):
    """RGB stills: DJI JPEGs with EXIF GPS and ``drone-dji`` XMP."""

    def __init__(
        self,
        ctx: SimContext,
        cam: CameraModel,
        mount: Mount,
        folder: Path,
        first_number: int,
        quality: int,
    ) -> None:
        super().__init__(ctx, cam, mount, "rgb_still")
        self.folder, self.number, self.quality = folder, first_number, quality
        self.sensor = RgbSensor(cam.width_px, cam.height_px, ctx.seed + 2)

    def frame(self, t: float) -> str:
        """Render and write one still taken at true time ``t``; returns its relative path."""
        ctx = self.ctx
        pose, p, cp = self._pose(t)
        r = self.renderer.render(pose)
        if r.image is None:
            raise RuntimeError("the RGB renderer returned no image")
        t_cam = t + ctx.nav.errors.rgb_clock_offset_s
        from missions.sim.formats.photo import camera_datetime

        stamp = camera_datetime(t_cam, ctx.utc_offset_h).strftime("%Y%m%d%H%M%S")
        path = self.folder / f"DJI_{stamp}_{self.number:04d}_W.JPG"
        v = {k: float(a[0]) for k, a in ctx.nav.at([t]).items()}
        meta = PhotoMeta(
            camera_time_s=t_cam,
            utc_offset_h=ctx.utc_offset_h,
            lat_deg=v["lat_deg"],
            lon_deg=v["lon_deg"],
            alt_msl_m=v["alt_msl_m"],
            rel_alt_m=v["rel_alt_m"],
            gimbal_ypr_deg=(v["gimbal_yaw_deg"], v["gimbal_pitch_deg"], v["gimbal_roll_deg"]),
            flight_ypr_deg=(v["yaw_deg"], v["pitch_deg"], v["roll_deg"]),
            speed_ned_m_s=(v["vn_m_s"], v["ve_m_s"], v["vd_m_s"]),
            make=self.cam.make,
            model=self.cam.model,
            focal_length_mm=self.cam.focal_length_mm,
            focal_35mm=self.cam.focal_35mm,
            fnumber=self.cam.fnumber,
            width_px=self.cam.width_px,
            height_px=self.cam.height_px,
            rtk=ctx.rtk,
            rtk_std_m=(0.01, 0.01, 0.02) if ctx.rtk else (0.0, 0.0, 0.0),
            calibration=(
                self.cam.fx_px,
                self.cam.fy_px,
                self.cam.cx_px,
                self.cam.cy_px,
                self.cam.k1,
                self.cam.k2,
                self.cam.p1,
                self.cam.p2,
                self.cam.k3,
            ),
            lrf=self._lrf(pose, v),
        )
        write_dji_jpeg(path, self.sensor.apply(r.image), meta, quality=self.quality)
        rel = str(path.relative_to(ctx.out))
        n = self._annotate(pose, r.ground_xy[r.ground_hit], rel, 0, t, {})
        self._truth(rel, 0, t, t_cam, pose, p, cp, r.gsd_m, n)
        ctx.events.append(
            {"t": t, "cam_idx": 0, "img_idx": self.count, "focal_mm": self.cam.focal_length_mm}
        )
        self.count += 1
        self.number += 1
        return rel

    def _lrf(
        self, pose: CameraPose, v: dict[str, float]
    ) -> tuple[float, float, float, float, float] | None:
        """Laser range finder along the optical axis: true range (+-0.1 m), target computed
        from the *logged* pose and gimbal angles, as the aircraft does."""
        from missions.sim.camera import rotation_ypr

        M = self.ctx.grid.grid_from_ned(pose.x_m, pose.y_m)
        axis = M @ pose.R_ned_from_cam @ np.array([0.0, 0.0, 1.0])
        pts, hit = self.ctx.scene.terrain.intersect(
            np.array([pose.x_m, pose.y_m, pose.z_msl_m]), axis[None, :], 1200.0
        )
        if not hit[0]:
            return None
        rng = float(np.linalg.norm(pts[0] - [pose.x_m, pose.y_m, pose.z_msl_m]))
        rng += float(np.random.default_rng([self.ctx.seed, self.count, 0x1F]).normal(0, 0.1))
        d_ned = rotation_ypr(v["gimbal_yaw_deg"], v["gimbal_pitch_deg"], v["gimbal_roll_deg"]) @ [
            1.0,
            0.0,
            0.0,
        ]
        tgt = np.array([v["x_m"], v["y_m"], v["alt_msl_m"]]) + (M @ d_ned) * rng
        lon, lat = self.ctx.grid.to_lonlat(tgt[0], tgt[1])
        rel = tgt[2] - self.ctx.nav.home_alt_msl_logged_m
        return rng, float(lon), float(lat), float(rel), float(tgt[2])


class ThermalStream(_Stream):
    """Thermal frames as FLIR-style radiometric JPEGs (``thermal.write_flir_rjpeg``)."""

    band = "thermal"

    def __init__(self, ctx: SimContext, cam: CameraModel, mount: Mount, folder: Path) -> None:
        super().__init__(ctx, cam, mount, "thermal")
        self.folder = folder
        self.sensor = ThermalSensor(ctx.scene.thermal, cam.width_px, cam.height_px, ctx.seed + 3)

    def frame(self, t: float) -> str:
        """Render and write one radiometric frame at true time ``t``."""
        from thermal import write_flir_rjpeg

        ctx = self.ctx
        pose, p, cp = self._pose(t)
        r = self.renderer.render(pose)
        if r.temp_c is None or r.emissivity is None:
            raise RuntimeError("the thermal renderer returned no temperatures")
        agl = pose.z_msl_m - float(ctx.scene.terrain.height(pose.x_m, pose.y_m))
        raw = self.sensor.raw(r.temp_c, r.emissivity, distance_m=agl)
        v = {k: float(a[0]) for k, a in ctx.nav.at([t]).items()}
        t_cam = t + ctx.nav.errors.thermal_clock_offset_s
        path = self.folder / f"IR_{self.count + 1:05d}.jpg"
        write_flir_rjpeg(
            path,
            raw,
            self.sensor.file_calibration(round(agl, 1)),
            camera_model=self.cam.model,
            camera_make=self.cam.make,
            datetime_utc=t_cam,
            gps=(v["lat_deg"], v["lon_deg"], v["alt_msl_m"], "msl", v["rel_alt_m"]),
            gimbal=(v["gimbal_yaw_deg"], v["gimbal_pitch_deg"], v["gimbal_roll_deg"]),
            flight=(v["yaw_deg"], v["pitch_deg"], v["roll_deg"]),
            focal_length_mm=self.cam.focal_length_mm,
            field_of_view_deg=self.cam.hfov_deg,
        )
        rel = str(path.relative_to(ctx.out))
        n = self._annotate(pose, r.ground_xy[r.ground_hit], rel, 0, t, {})
        self._truth(rel, 0, t, t_cam, pose, p, cp, r.gsd_m, n)
        ctx.events.append(
            {"t": t, "cam_idx": 1, "img_idx": self.count, "focal_mm": self.cam.focal_length_mm}
        )
        self.count += 1
        return rel


def still_times(traj: Trajectory, every_m: float) -> np.ndarray:
    """True times at which the aircraft has flown multiples of ``every_m`` (from 0)."""
    k = traj.knots
    step = np.hypot(np.diff(k.x_m), np.diff(k.y_m))
    dist = np.r_[0.0, np.cumsum(step)]
    marks = np.arange(0.0, dist[-1] + 1e-9, every_m)
    return np.interp(marks, dist, k.t_s)
