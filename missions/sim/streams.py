"""Camera streams of a simulated flight: the common base and the RGB video (+ SRT); the still
cameras (DJI RGB stills, FLIR R-JPEGs) are in :mod:`missions.sim.stills`.

Each stream renders its frames at their true capture times, writes the files the camera would
write (with the *logged* pose and the camera's own clock in the metadata), one ground-truth row
per frame (true camera pose) and the COCO annotations of the instances visible in the frame.
"""

from __future__ import annotations

import os
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
from missions.sim.formats.srt import SrtWriter
from missions.sim.formats.tables import CsvStream
from missions.sim.masks import project_instances
from missions.sim.render import CameraPose, Renderer
from missions.sim.rig import Mount, Rig, camera_poses
from missions.sim.scene import Scene
from missions.sim.sensor import RgbSensor
from missions.sim.tiles import TileCache

__all__ = ["FRAME_COLUMNS", "SimContext", "VideoStream", "still_times"]

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
        telemetry: str = "srt",
    ) -> None:
        super().__init__(ctx, cam, mount, "rgb_video", annotate_every)
        if telemetry == "klv":  # MISB ST 0601 KLV needs a transport stream
            path = path.with_suffix(".TS")
        self.fps, self.path = fps, path
        self.telemetry = telemetry
        self._times: list[float] = []
        self._ground: list[np.ndarray] = []  # klv: (5, 3) corner + centre ground points
        self.writer = cv2.VideoWriter(
            str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (cam.width_px, cam.height_px)
        )
        if not self.writer.isOpened():
            raise OSError(f"cannot open a video writer for {path}")
        srt_path = path.with_suffix(".SRT") if telemetry == "srt" else Path(os.devnull)
        self._srt_f = open(srt_path, "w", encoding="utf-8", newline="\n")
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
        self._times.append(t)
        if self.telemetry == "klv":
            self._frame_ground(v)
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
        if self.telemetry == "gpmf" and self._times:
            self._write_gpmf()
        if self.telemetry == "djmd" and self._times:
            self._write_djmd()
        if self.telemetry == "klv" and self._times:
            self._write_klv()
        super().close()

    def _write_gpmf(self) -> None:
        """Add a Karma-style GPMF track (GLPI, ATTD, GPS5) to the MP4, at 10 Hz on the video
        clock (frame i at i / fps), from the logged navigation solution."""
        from survey.telemetry.gpmf import write_gpmf_mp4

        t0 = self._times[0]
        t_true = np.arange(t0, self._times[-1] + 1e-9, 0.1)
        v = self.ctx.nav.at(t_true)
        write_gpmf_mp4(
            self.path,
            t_true - t0,
            lat_deg=v["lat_deg"],
            lon_deg=v["lon_deg"],
            alt_msl_m=v["alt_msl_m"],
            rel_alt_m=v["rel_alt_m"],
            vel_ned_mps=np.column_stack([v["vn_m_s"], v["ve_m_s"], v["vd_m_s"]]),
            roll_deg=v["roll_deg"],
            pitch_deg=v["pitch_deg"],
            yaw_deg=v["yaw_deg"],
            utc0_s=t0,
        )

    def _frame_ground(self, v: dict[str, np.ndarray]) -> None:
        """Where the image corners (top-left, top-right, bottom-right, bottom-left pixel
        edges) and the centre meet the terrain, as the aircraft's KLV encoder computes them:
        from its logged position and gimbal angles, the camera's lens model and the terrain
        (NaN where a ray misses)."""
        from geo.rotation import matrix_from_euler_zyx, rotation_ned_from_cam

        R = rotation_ned_from_cam(
            matrix_from_euler_zyx(v["gimbal_yaw_deg"][0], v["gimbal_pitch_deg"][0],
                                  v["gimbal_roll_deg"][0])
        )  # fmt: skip
        pose = CameraPose(float(v["x_m"][0]), float(v["y_m"][0]), float(v["alt_msl_m"][0]), R)
        w, h = self.cam.width_px, self.cam.height_px
        u = np.array([-0.5, w - 0.5, w - 0.5, -0.5, (w - 1) / 2])
        vv = np.array([-0.5, -0.5, h - 0.5, h - 0.5, (h - 1) / 2])
        pts, hit = self.renderer.pixel_ground(pose, u, vv)
        pts = np.where(hit[:, None], pts, np.nan)
        cam = np.array([pose.x_m, pose.y_m, pose.z_msl_m])
        self._ground.append(np.c_[pts, np.linalg.norm(pts - cam, axis=1)])

    def _write_klv(self) -> None:
        """Add a MISB ST 0601 KLV stream to the transport stream: one UAS Local Set per frame
        at its video time (i / fps): the logged navigation solution (platform position, MSL
        altitude, heading/pitch/roll), the gimbal angles relative to the platform, the FOV,
        and the frame centre, corners and slant range the encoder casts from that logged pose
        over the terrain (see :meth:`_frame_ground`)."""
        from geo.rotation import euler_zyx_from_matrix, matrix_from_euler_zyx
        from survey.telemetry.mpegts import add_klv_to_ts, encode_st0601

        t_true = np.asarray(self._times)
        v = self.ctx.nav.at(t_true)
        R_abs = matrix_from_euler_zyx(v["gimbal_yaw_deg"], v["gimbal_pitch_deg"],
                                      v["gimbal_roll_deg"])  # fmt: skip
        R_veh = matrix_from_euler_zyx(v["yaw_deg"], v["pitch_deg"], v["roll_deg"])
        rel_yaw, rel_pitch, rel_roll = euler_zyx_from_matrix(
            np.matmul(np.swapaxes(R_veh, -1, -2), R_abs)
        )
        hfov = float(np.degrees(2 * np.arctan(self.cam.width_px / 2 / self.cam.fx_px)))
        vfov = float(np.degrees(2 * np.arctan(self.cam.height_px / 2 / self.cam.fy_px)))
        g = self.ctx.grid
        packets = []
        for k in range(t_true.size):
            pts = self._ground[k]
            lon, lat = g.to_lonlat(pts[:, 0], pts[:, 1])
            items = {
                13: v["lat_deg"][k], 14: v["lon_deg"][k], 15: v["alt_msl_m"][k],
                5: v["yaw_deg"][k] % 360.0, 90: v["pitch_deg"][k], 91: v["roll_deg"][k],
                18: rel_yaw[k] % 360.0, 19: rel_pitch[k], 20: rel_roll[k] % 360.0,
                16: hfov, 17: vfov, 23: lat[4], 24: lon[4], 25: pts[4, 2], 21: pts[4, 3],
                82: lat[0], 83: lon[0], 84: lat[1], 85: lon[1],
                86: lat[2], 87: lon[2], 88: lat[3], 89: lon[3],
            }  # fmt: skip
            speed = float(np.hypot(v["vn_m_s"][k], v["ve_m_s"][k]))
            packets.append(
                encode_st0601(
                    {t: float(x) for t, x in items.items()}, int(round(t_true[k] * 1e6)), speed
                )  # fmt: skip
            )
        add_klv_to_ts(self.path, packets, np.arange(t_true.size) / self.fps)

    def _write_djmd(self) -> None:
        """Add a DJI ``djmd`` track (Mavic 3 layout) to the MP4: one message per frame, at the
        frame's video time (i / fps), from the logged navigation solution and gimbal angles."""
        from survey.telemetry.djmd import write_djmd_mp4

        t_true = np.asarray(self._times)
        v = self.ctx.nav.at(t_true)
        write_djmd_mp4(
            self.path,
            np.arange(t_true.size) / self.fps,
            lat_deg=v["lat_deg"],
            lon_deg=v["lon_deg"],
            alt_m=v["alt_msl_m"],
            rel_alt_m=v["rel_alt_m"],
            vel_ned_mps=np.column_stack([v["vn_m_s"], v["ve_m_s"], v["vd_m_s"]]),
            roll_deg=v["roll_deg"],
            pitch_deg=v["pitch_deg"],
            yaw_deg=v["yaw_deg"],
            gimbal_pitch_deg=v["gimbal_pitch_deg"],
            gimbal_roll_deg=v["gimbal_roll_deg"],
            gimbal_yaw_deg=v["gimbal_yaw_deg"],
            utc0_s=float(t_true[0]),
            fps=self.fps,
        )


def still_times(traj: Trajectory, every_m: float) -> np.ndarray:
    """True times at which the aircraft has flown multiples of ``every_m`` (from 0)."""
    k = traj.knots
    step = np.hypot(np.diff(k.x_m), np.diff(k.y_m))
    dist = np.r_[0.0, np.cumsum(step)]
    marks = np.arange(0.0, dist[-1] + 1e-9, every_m)
    return np.interp(marks, dist, k.t_s)
