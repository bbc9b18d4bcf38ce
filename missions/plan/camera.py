"""The survey camera as the planner sees it: image size, focal length in pixels, capture mode.

A camera comes from ``geo``'s table of drone cameras (:data:`geo.camera_db.CAMERA_TABLE`, by
EXIF model, e.g. ``M30T`` — the simulator's RGB camera) or from a photo's EXIF/XMP
(:func:`geo.camera_db.camera_from_tags`). Video reads the full sensor width scaled to the video
width and crops rows to its aspect ratio (as DJI cameras and the simulator do), so its focal
length in pixels scales with ``video_width / still_width``.

Examples
--------
>>> cam = plan_camera("M30T", video="1280x720@30")
>>> cam.width_px, cam.height_px, cam.fx_px, cam.fps
(1280, 720, 900.0, 30.0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from missions.errors import PlanError

__all__ = ["PlanCamera", "parse_video_mode", "plan_camera"]


@dataclass(frozen=True)
class PlanCamera:
    """What the planner needs of a camera (a pinhole at nadir, principal point at the centre).

    ``fps`` is the video frame rate (0 for stills); ``min_interval_s`` the fastest still
    interval the camera sustains.
    """

    name: str
    width_px: int
    height_px: int
    fx_px: float
    fy_px: float
    mode: str  # "video" or "stills"
    fps: float = 0.0
    min_interval_s: float = 0.0

    @property
    def video_spec(self) -> str:
        """``WxH@fps`` (the simulator's notation)."""
        return f"{self.width_px}x{self.height_px}@{self.fps:g}"


def parse_video_mode(text: str) -> tuple[int, int, float]:
    """``"1280x720@30"`` -> (1280, 720, 30.0)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*@\s*([\d.]+)\s*", text)
    if not m or float(m.group(3)) <= 0:
        raise PlanError(f"video must look like 1280x720@30, got {text!r}", where="video")
    return int(m.group(1)), int(m.group(2)), float(m.group(3))


def plan_camera(
    camera: str = "M30T",
    *,
    video: str | None = None,
    still_size: str | None = None,
    min_interval_s: float = 2.0,
) -> PlanCamera:
    """The camera named by ``camera`` (a table model or the path of a photo), in video mode
    (``video="WxH@fps"``) or stills (``still_size="WxH"``, default the native size)."""
    from geo.camera_db import camera_from_table, camera_from_tags
    from geo.errors import GeoError

    p = Path(camera)
    try:
        if p.suffix.lower() in (".jpg", ".jpeg", ".tif", ".tiff", ".dng") and p.exists():
            from geo.imagemeta import read_image_tags

            base = camera_from_tags(read_image_tags(p))
        else:
            base = camera_from_table(camera)
    except GeoError as exc:
        raise PlanError(str(exc), path=p if p.exists() else None, where="camera") from exc
    if video:
        w, h, fps = parse_video_mode(video)
        s = w / base.width_px
        if h > base.height_px * s + 0.5:
            raise PlanError(
                f"video {w}x{h} is taller than the sensor's aspect ratio allows "
                f"({base.width_px}x{base.height_px})",
                where="video",
            )
        return PlanCamera(base.name, w, h, base.fx_px * s, base.fy_px * s, "video", fps)
    w, h = base.width_px, base.height_px
    if still_size:
        m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", still_size)
        if not m:
            raise PlanError(f"still size must look like 4000x3000, got {still_size!r}")
        w, h = int(m.group(1)), int(m.group(2))
    sx, sy = w / base.width_px, h / base.height_px
    return PlanCamera(
        base.name, w, h, base.fx_px * sx, base.fy_px * sy, "stills", 0.0, min_interval_s
    )
