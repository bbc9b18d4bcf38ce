"""The recorder: an onboard run written as a flight folder that ``survey process`` reads.

::

    asset.geojson                     the asset file the run used (copied)
    DCIM/ONBOARD/DJI_<time>_<NNNN>_W.JPG   every analysed frame, with DJI EXIF/XMP written
                                      from the live pose (GPS, MSL and relative altitude,
                                      absolute gimbal angles, calibration)
    logs/flight.tlog                  every MAVLink packet received, stamped with GNSS time
    onboard/detections.jsonl          one line per sighting (frame, class, score, pixel,
                                      position, covariance, chainage or the reason it is
                                      unlocatable, defect id)
    onboard/defects.json              the merged defects at the end (and alerts sent)
    onboard/summary.json              counts, drops, faults, latencies; written on close

Disk full (or any OSError) while saving a frame stops saving frames (counted) and keeps the run
going; the JSONL and tlog are flushed after every write, so a killed run leaves readable files.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import struct
import threading
from pathlib import Path
from typing import Any

import numpy as np

from missions.link.vehicle import PoseSample
from missions.onboard.defects import OnlineDefect
from missions.onboard.geotag import Sighting

__all__ = ["Recorder"]

log = logging.getLogger(__name__)


class Recorder:
    """Writes the flight folder (see the module docstring)."""

    def __init__(
        self,
        out: str | Path,
        *,
        camera: Any,
        asset_path: str | Path | None = None,
        save_frames: bool = True,
        jpeg_quality: int = 90,
    ) -> None:
        self.out = Path(out)
        for sub in ("DCIM/ONBOARD", "logs", "onboard"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        if asset_path is not None and Path(asset_path).is_file():
            shutil.copyfile(asset_path, self.out / "asset.geojson")
        self.camera, self.save_frames, self.quality = camera, save_frames, jpeg_quality
        self._tlog = open(self.out / "logs" / "flight.tlog", "wb")
        self._jsonl = open(self.out / "onboard" / "detections.jsonl", "w")
        self._lock = threading.Lock()
        self.frames_saved = 0
        self.frame_errors = 0
        self.packets = 0
        self.closed = False

    # ------------------------------------------------------------------ telemetry
    def packet(self, buf: bytes, t_utc_s: float) -> None:
        """One received MAVLink packet with its GNSS receive time."""
        if not buf or not math.isfinite(t_utc_s) or self.closed:
            return
        with self._lock:
            self._tlog.write(struct.pack(">Q", int(round(t_utc_s * 1e6))) + buf)
            self.packets += 1
            if self.packets % 50 == 0:
                self._tlog.flush()

    # ------------------------------------------------------------------ frames
    def frame(self, index: int, image: np.ndarray, pose: PoseSample, t_utc_s: float) -> Path | None:
        """Save an analysed frame as a DJI-style JPEG with its live pose (None when not saved)."""
        from missions.sim.formats.photo import PhotoMeta, write_dji_jpeg

        if not self.save_frames or not math.isfinite(t_utc_s):
            return None
        cam = self.camera
        meta = PhotoMeta(
            camera_time_s=t_utc_s,
            utc_offset_h=0.0,
            lat_deg=pose.lat_deg,
            lon_deg=pose.lon_deg,
            alt_msl_m=pose.alt_msl_m,
            rel_alt_m=pose.rel_alt_m,
            gimbal_ypr_deg=(pose.gimbal_yaw_deg, pose.gimbal_pitch_deg, pose.gimbal_roll_deg),
            flight_ypr_deg=(pose.yaw_deg, pose.pitch_deg, pose.roll_deg),
            speed_ned_m_s=(0.0, 0.0, 0.0),
            make="DJI",
            model="M30T",
            focal_length_mm=4.5,
            focal_35mm=24,
            fnumber=2.8,
            width_px=int(image.shape[1]),
            height_px=int(image.shape[0]),
            calibration=(
                cam.fx_px,
                cam.fy_px,
                cam.cx_px,
                cam.cy_px,
                cam.k1,
                cam.k2,
                cam.p1,
                cam.p2,
                cam.k3,
            ),
            software="railpipe-survey onboard",
        )
        import datetime as dt

        stamp = dt.datetime.fromtimestamp(t_utc_s, dt.timezone.utc).strftime("%Y%m%d%H%M%S")
        path = self.out / "DCIM" / "ONBOARD" / f"DJI_{stamp}_{index + 1:04d}_W.JPG"
        try:
            write_dji_jpeg(path, image, meta, quality=self.quality)
        except OSError as exc:  # disk full: stop saving frames, keep detecting
            log.error("cannot save frame %s (%s); frames are no longer saved", path, exc)
            self.frame_errors += 1
            self.save_frames = False
            return None
        self.frames_saved += 1
        return path

    # ------------------------------------------------------------------ detections
    def sighting(self, s: Sighting, defect: OnlineDefect | None) -> None:
        """One line of ``detections.jsonl``."""
        row = dataclasses.asdict(s)
        row["defect_id"] = None if defect is None else defect.defect_id
        with self._lock:
            self._jsonl.write(json.dumps(_finite(row)) + "\n")
            self._jsonl.flush()

    def close(self, defects: list[OnlineDefect], summary: dict[str, Any]) -> None:
        """Write the defects and the summary; close the files (idempotent)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self._tlog.close()
            self._jsonl.close()
        rows = []
        for d in defects:
            r = dataclasses.asdict(d)
            r["cov_m2"] = np.asarray(d.cov_m2).ravel().tolist()
            rows.append(_finite(r))
        (self.out / "onboard" / "defects.json").write_text(json.dumps(rows, indent=1))
        summary = dict(
            summary,
            frames_saved=self.frames_saved,
            frame_save_errors=self.frame_errors,
            tlog_packets=self.packets,
        )
        (self.out / "onboard" / "summary.json").write_text(json.dumps(_finite(summary), indent=1))


def _finite(obj: Any) -> Any:
    """NaN/inf as null (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj
