"""Still cameras of a simulated flight: DJI RGB stills (EXIF + XMP, laser range finder) and
FLIR radiometric JPEGs, each with its truth row and COCO annotations (see :mod:`streams`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from missions.sim.camera import CameraModel
from missions.sim.formats.photo import PhotoMeta, write_dji_jpeg
from missions.sim.render import CameraPose
from missions.sim.rig import Mount
from missions.sim.sensor import RgbSensor, ThermalSensor
from missions.sim.streams import SimContext, _Stream

__all__ = ["StillStream", "ThermalStream"]


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
