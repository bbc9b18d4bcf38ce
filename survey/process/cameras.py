"""Camera intrinsics of each media stream.

* **Stills**: the best model their EXIF/XMP allow (:func:`geo.camera_from_tags`: DJI
  ``DewarpData`` first).
* **Video**: a video file carries no calibration. A DJI camera records video from the full
  sensor width scaled to the video width, cropping rows to 16:9; so a still of the same camera
  in the folder gives the video's intrinsics ("video mode": scaled, centred crop). Without
  such a still, the SRT's ``focal_len`` (35 mm equivalent of the video frame) gives a nominal
  pinhole. ``[process] video_camera`` can name an image whose tags describe the same lens.
* **Thermal**: tags when the camera is known (``geo.CAMERA_TABLE``), else the field of view the
  file states (FLIR ``FieldOfView``), or ``[process] thermal_hfov_deg``.

Examples
--------
>>> from geo.camera import CameraModel
>>> still = CameraModel(4000, 3000, 2812.5, 2812.5, 2006.3, 1491.8)
>>> v = video_mode(still, 1280, 720)
>>> round(v.fx_px, 1), round(v.cy_px, 2)
(900.0, 357.04)
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Any

from survey.errors import SurveyError

__all__ = [
    "CameraError",
    "VideoInfo",
    "camera_from_fov",
    "camera_from_f35",
    "video_info",
    "video_mode",
]

log = logging.getLogger(__name__)
DIAG_35MM = math.hypot(36.0, 24.0)


class CameraError(SurveyError, ValueError):
    """No usable intrinsics for a stream, or a video that cannot be opened."""


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video."""

    width_px: int
    height_px: int
    fps: float
    n_frames: int


def video_info(path: Path) -> VideoInfo:
    """Size, frame rate and frame count of a video (reads the header only).

    Raises
    ------
    CameraError
        The file cannot be opened as a video, or it has no frames.
    """
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise CameraError("cannot open as a video (corrupt or unsupported codec)", path=path)
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    if w <= 0 or h <= 0 or n <= 0:
        raise CameraError(f"the video has no readable frames ({w}x{h}, {n} frames)", path=path)
    return VideoInfo(w, h, fps if fps > 0 else float("nan"), n)


def video_mode(still: Any, width_px: int, height_px: int) -> Any:
    """A still camera's model read out as video: full width scaled, rows cropped centrally."""
    s = width_px / still.width_px
    full_h = still.height_px * s
    if height_px > full_h + 0.5:
        raise CameraError(
            f"a {width_px}x{height_px} video is taller than the {still.width_px}x"
            f"{still.height_px} sensor scaled to its width: not a crop of this camera"
        )
    crop = (full_h - height_px) / 2.0
    scaled = still.scaled(width_px, int(round(full_h)))
    return dataclasses.replace(
        scaled,
        height_px=height_px,
        cy_px=scaled.cy_px - crop,
        name=f"{still.name} video {width_px}x{height_px}",
        source=f"{still.source} (video mode)",
    )


def camera_from_f35(width_px: int, height_px: int, f35_mm: float, name: str) -> Any:
    """Nominal pinhole from a 35 mm-equivalent focal length (by the frame diagonal)."""
    from geo.camera import CameraModel

    f = f35_mm / DIAG_35MM * math.hypot(width_px, height_px)
    return CameraModel(
        width_px, height_px, f, f, (width_px - 1) / 2, (height_px - 1) / 2, name=name,
        source="srt-35mm",
    )  # fmt: skip


def camera_from_fov(width_px: int, height_px: int, hfov_deg: float, name: str) -> Any:
    """Nominal pinhole (square pixels) from the horizontal field of view."""
    from geo.camera import CameraModel

    if not 1.0 < hfov_deg < 179.0:
        raise CameraError(f"implausible field of view {hfov_deg} deg")
    f = (width_px / 2) / math.tan(math.radians(hfov_deg) / 2)
    return CameraModel(
        width_px, height_px, f, f, (width_px - 1) / 2, (height_px - 1) / 2, name=name,
        kind="thermal", source="field-of-view",
    )  # fmt: skip


def still_camera(path: Path) -> Any:
    """The camera model of an RGB still (see :func:`geo.camera_from_tags`)."""
    from geo.camera_db import camera_from_tags
    from geo.errors import GeoError
    from geo.imagemeta import read_image_tags

    try:
        return camera_from_tags(read_image_tags(path))
    except GeoError as exc:
        raise CameraError(f"no camera model from the image tags: {exc}", path=path) from exc


def thermal_camera(path: Path, frame: Any, hfov_deg: float = 0.0) -> Any:
    """The camera model of a thermal frame read from ``path``."""
    from geo.camera_db import camera_from_tags
    from geo.errors import GeoError
    from geo.imagemeta import read_image_tags

    name = " ".join(x for x in (frame.camera_make, frame.camera_model) if x) or "thermal"
    if hfov_deg > 0:
        return camera_from_fov(frame.width, frame.height, hfov_deg, name)
    if path.suffix.lower() in (".jpg", ".jpeg", ".tif", ".tiff"):
        try:
            cam = camera_from_tags(read_image_tags(path), frame.width, frame.height, kind="thermal")
            if cam.source != "exif-35mm":
                return cam
        except GeoError:
            pass  # no usable focal length in the tags: the field of view below
    if frame.field_of_view_deg:
        return camera_from_fov(frame.width, frame.height, float(frame.field_of_view_deg), name)
    raise CameraError(
        "the thermal file states neither a known camera nor its field of view; set "
        "[process] thermal_hfov_deg",
        path=path,
    )


def video_camera(
    info: VideoInfo,
    video: Path,
    *,
    stills: list[Path],
    srt_f35_mm: float | None,
    setting: str = "auto",
    flight_root: Path | None = None,
) -> tuple[Any, list[str]]:
    """The video's camera model and warnings (see the module docstring)."""
    warnings: list[str] = []
    name = video.name
    if setting and setting != "auto":
        p = Path(setting)
        if not p.is_absolute() and flight_root is not None:
            p = flight_root / p
        if not p.is_file():
            raise CameraError("process.video_camera names no image file", path=p)
        return video_mode(still_camera(p), info.width_px, info.height_px), warnings
    for s in stills:
        try:
            base = still_camera(s)
            cam = video_mode(base, info.width_px, info.height_px)
        except CameraError as exc:
            warnings.append(f"{s}: not usable for the video's intrinsics ({exc.message})")
            continue
        if srt_f35_mm and math.isfinite(srt_f35_mm):
            f35 = cam.fx_px * DIAG_35MM / math.hypot(info.width_px, info.height_px)
            if abs(f35 / srt_f35_mm - 1.0) > 0.08:
                warnings.append(
                    f"{s}: its lens ({f35:.1f} mm equivalent as video) differs from the SRT's "
                    f"focal length ({srt_f35_mm:.1f} mm): another camera, not used"
                )
                continue
        return cam, warnings
    if srt_f35_mm and math.isfinite(srt_f35_mm) and srt_f35_mm > 0:
        warnings.append(
            f"{name}: intrinsics from the SRT's 35 mm focal length only (nominal, no lens "
            "distortion); put a still of the same camera in the folder for its calibration"
        )
        return camera_from_f35(info.width_px, info.height_px, srt_f35_mm, name), warnings
    raise CameraError(
        "no intrinsics for this video: no still of the same camera in the folder and no focal "
        "length in its SRT; set [process] video_camera to an image taken with the same lens",
        path=video,
    )
