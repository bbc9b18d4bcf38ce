"""Settings of one simulated flight (``survey simulate``), loadable from a TOML ``[simulate]``
table with the project's typed loader (unknown keys and wrong types are errors naming the key).

Examples
--------
>>> cfg = SimConfig(asset="pipeline")
>>> cfg.resolved().altitude_agl_m, cfg.resolved().thermal_scene
(60.0, 'night')
>>> parse_video("1920x1080@30")
(1920, 1080, 30.0)
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from missions.errors import SimulationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (the Jetson's JetPack 6): the same parser from PyPI
    import tomli as tomllib

__all__ = ["SimConfig", "load_sim_config", "parse_size", "parse_video"]


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class SimConfig:
    """Everything a simulated flight depends on (``None`` = the asset kind's default)."""

    asset: Literal["rail", "pipeline"] = _f("rail", "Asset kind: rail or pipeline.")
    geometry: str = _f("", "Line file (GeoJSON/GPKG/SHP); empty = the default line.")
    feature: str = _f("", "Feature id/name/index in the file; empty = the longest line.")
    start_m: float = _f(200.0, "Chainage along the source line where the flown stretch starts.")
    length_m: float = _f(500.0, "Length of the flown stretch (m).")
    seed: int = _f(7, "Seed of everything random (scene, flight, errors, noise).")
    terrain: str = _f("flat", "flat, hilly, or the path of a GeoTIFF DEM.")
    ground_msl_m: float = _f(265.0, "Height of flat terrain / base of hills (m above MSL).")
    hill_relief_m: float = _f(20.0, "Height range of the synthetic hills (m).")
    dem_vertical: Literal["msl", "ellipsoid"] = _f("msl", "Vertical datum of a DEM file.")
    altitude_agl_m: float | None = _f(None, "Flight height above ground (25 rail, 60 pipeline).")
    speed_m_s: float | None = _f(None, "Ground speed (4 rail, 5 pipeline).")
    offset_m: float = _f(0.0, "Lateral offset of the flight line, positive left (m).")
    gimbal_pitch_deg: float = _f(-90.0, "Gimbal pitch, -90 nadir.")
    gimbal_yaw_offset_deg: float = _f(0.0, "Camera yaw relative to the direction of flight.")
    direction: int = _f(1, "+1 fly toward increasing chainage, -1 against.")
    wind_m_s: float = _f(3.0, "Wind speed (tilts the airframe).")
    turbulence: float = _f(1.0, "Scale of the path/attitude disturbances (0 = none).")
    gnss: Literal["standard", "rtk"] = _f("standard", "GNSS receiver: standard or rtk.")
    errors: Literal["realistic", "none"] = _f("realistic", "Logged-vs-true errors, or none.")
    video: str = _f("1280x720@30", "RGB video WxH@fps; empty = no video.")
    video_telemetry: Literal["srt", "gpmf", "djmd", "klv"] = _f(
        "srt",
        "srt = DJI .SRT beside the video; gpmf = a GoPro GPMF track inside the MP4; djmd = a "
        "DJI frame-metadata track (Mavic 3 protobuf layout) inside the MP4; klv = an MPEG-TS "
        "video (.TS) with a MISB ST 0601 KLV stream (corners, frame centre).",
    )
    stills_every_m: float = _f(20.0, "RGB still every N metres flown; 0 = none.")
    still_size: str = _f("4000x3000", "RGB still size WxH.")
    thermal_every_s: float = _f(1.0, "Thermal R-JPEG every N seconds; 0 = none.")
    thermal_scene: Literal["auto", "day", "night"] = _f(
        "auto", "auto = day for rail, night for pipelines."
    )
    pipe_style: Literal["buried", "above"] = _f("buried", "Pipeline: buried or above-ground.")
    defect_density: float = _f(1.0, "Scale of the default defect rates per 100 m.")
    start_time_utc: str = _f("", "ISO time of the first frame (UTC); empty = a fixed default.")
    camera_utc_offset_h: float = _f(0.0, "Time zone of the cameras' wall clock (SRT, EXIF).")
    texture_res_m: float = _f(0.01, "Finest texel of the ground texture (m).")
    coco_every: int = _f(1, "Annotate every N-th video frame in the COCO file.")
    jpeg_quality: int = _f(92, "JPEG quality of stills.")
    max_tile_mb: int = _f(512, "Memory for cached texture tiles (MiB).")

    def resolved(self) -> SimConfig:
        """Fill the kind-dependent defaults and check the values."""
        pipe = self.asset == "pipeline"
        cfg = dataclasses.replace(
            self,
            altitude_agl_m=self.altitude_agl_m
            if self.altitude_agl_m is not None
            else (60.0 if pipe else 25.0),
            speed_m_s=self.speed_m_s if self.speed_m_s is not None else (5.0 if pipe else 4.0),
            thermal_scene=self.thermal_scene
            if self.thermal_scene != "auto"
            else ("night" if pipe else "day"),
        )
        cfg.check()
        return cfg

    def check(self) -> None:
        """Raise :class:`SimulationError` naming the bad setting."""
        if self.asset not in ("rail", "pipeline"):
            raise SimulationError(
                f"asset must be rail or pipeline, got {self.asset!r}", where="asset"
            )
        if self.length_m <= 0:
            raise SimulationError(f"length_m must be > 0, got {self.length_m}", where="length_m")
        if self.start_m < 0:
            raise SimulationError(f"start_m must be >= 0, got {self.start_m}", where="start_m")
        if self.video:
            parse_video(self.video)
        parse_size(self.still_size)
        if self.stills_every_m < 0 or self.thermal_every_s < 0:
            raise SimulationError("stills_every_m and thermal_every_s must be >= 0")
        if not self.video and not self.stills_every_m and not self.thermal_every_s:
            raise SimulationError("nothing to record: no video, no stills, no thermal frames")
        if not 0.001 <= self.texture_res_m <= 0.2:
            raise SimulationError(f"texture_res_m must be 0.001..0.2 m, got {self.texture_res_m}")
        if self.coco_every < 1:
            raise SimulationError(f"coco_every must be >= 1, got {self.coco_every}")
        start_time(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dataclasses.asdict(self)


def parse_size(text: str) -> tuple[int, int]:
    """``"4000x3000"`` -> (4000, 3000)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or not (16 <= int(m.group(1)) <= 12000 and 16 <= int(m.group(2)) <= 9000):
        raise SimulationError(f"image size must look like 1920x1080, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def parse_video(text: str) -> tuple[int, int, float]:
    """``"1280x720@30"`` -> (1280, 720, 30.0)."""
    m = re.fullmatch(r"\s*(\d+\s*[xX]\s*\d+)\s*@\s*([\d.]+)\s*", text)
    if not m:
        raise SimulationError(f"video must look like 1280x720@30, got {text!r}")
    w, h = parse_size(m.group(1))
    fps = float(m.group(2))
    if not 1.0 <= fps <= 120.0:
        raise SimulationError(f"video frame rate must be 1..120 fps, got {fps}")
    return w, h, fps


def start_time(cfg: SimConfig) -> float:
    """UTC POSIX time of the first frame."""
    if not cfg.start_time_utc:
        default = (
            "2024-01-17T22:30:00+00:00"
            if cfg.thermal_scene == "night"
            else "2024-06-12T09:30:00+00:00"
        )
        return _dt.datetime.fromisoformat(default).timestamp()
    try:
        t = _dt.datetime.fromisoformat(cfg.start_time_utc.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SimulationError(
            f"start_time_utc is not an ISO time: {cfg.start_time_utc!r}", where="start_time_utc"
        ) from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    return t.timestamp()


def load_sim_config(path: str | Path, **overrides: Any) -> SimConfig:
    """Read the ``[simulate]`` table of a TOML file (typed), then apply ``overrides``."""
    from survey.config import ConfigError, load_section

    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SimulationError(f"cannot read the plan: {exc.strerror}", path=p) from exc
    except tomllib.TOMLDecodeError as exc:
        raise SimulationError(f"not valid TOML: {exc}", path=p) from exc
    table = data.get("simulate", {})
    try:
        cfg = load_section(SimConfig, table, source=str(p), prefix="simulate.")
    except ConfigError as exc:
        raise SimulationError(exc.message, path=p, where=exc.where) from exc
    return dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
