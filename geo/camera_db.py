"""Camera models from EXIF/XMP tags and a small table of common drone cameras.

Sources of intrinsics, best first (:func:`camera_from_tags` picks the best one present):

1. DJI XMP ``drone-dji:DewarpData`` = ``"date;fx,fy,cx,cy,k1,k2,p1,p2,k3"``: a factory
   calibration at the capture resolution (EXIF ``ExifImageWidth``/``PixelXDimension``); ``cx,
   cy`` are offsets of the principal point from the image centre, so the principal point is
   ``(W/2 + cx, H/2 + cy)`` in OpenCV pixel coordinates (the project's reading, shared with the
   simulator; DJI does not document the half-pixel convention, which is 0.01 mrad on a 20 MP
   sensor). ``DewarpFlag = 1`` means the image is already undistorted.
2. DJI XMP ``CalibratedFocalLength`` / ``CalibratedOpticalCenterX/Y`` (pixels, capture size).
3. EXIF ``FocalLength`` with ``FocalPlaneXResolution`` / ``FocalPlaneResolutionUnit``.
4. EXIF ``FocalLength`` with the sensor size from :data:`CAMERA_TABLE` (by ``Model``).
5. EXIF ``FocalLengthIn35mmFilm`` (35 mm equivalent, by the 43.27 mm diagonal).

Tags are given as a flat mapping; names may carry exiftool group prefixes (``"EXIF:Model"``,
``"XMP:DewarpData"``, ``"drone-dji:GimbalYawDegree"``) and are matched case-insensitively.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from geo.camera import CameraKind, CameraModel
from geo.errors import CameraModelError

__all__ = [
    "CAMERA_TABLE",
    "SensorSpec",
    "camera_from_table",
    "camera_from_tags",
    "normalize_tags",
]

log = logging.getLogger(__name__)

_DIAG_35MM = math.hypot(36.0, 24.0)  # 43.27 mm


@dataclass(frozen=True)
class SensorSpec:
    """Nominal manufacturer data of a camera (not a calibration).

    ``focal_mm`` is the nominal lens focal length; ``width_px``/``height_px`` the native
    still-image size; ``pixel_pitch_um`` where the manufacturer states it.
    """

    model: str
    sensor_width_mm: float
    sensor_height_mm: float
    width_px: int
    height_px: int
    focal_mm: float
    kind: CameraKind = "rgb"
    label: str = ""

    @property
    def pixel_pitch_um(self) -> float:
        """Pixel size from the sensor width."""
        return 1000.0 * self.sensor_width_mm / self.width_px


def _t(w_px: int, h_px: int, pitch_um: float, f_mm: float, model: str, label: str) -> SensorSpec:
    return SensorSpec(
        model, w_px * pitch_um / 1000, h_px * pitch_um / 1000, w_px, h_px, f_mm, "thermal", label
    )


#: Nominal specs of common drone cameras, keyed by the EXIF ``Model`` string (upper case).
CAMERA_TABLE: dict[str, SensorSpec] = {
    s.model.upper(): s
    for s in (
        SensorSpec("FC6310", 13.2, 8.8, 5472, 3648, 8.8, label="DJI Phantom 4 Pro"),
        SensorSpec("FC6310S", 13.2, 8.8, 5472, 3648, 8.8, label="DJI Phantom 4 Pro V2"),
        SensorSpec("FC6310R", 13.2, 8.8, 5472, 3648, 8.8, label="DJI Phantom 4 RTK"),
        SensorSpec("FC330", 6.17, 4.55, 4000, 3000, 3.61, label="DJI Phantom 4"),
        SensorSpec("FC220", 6.17, 4.55, 4000, 3000, 4.73, label="DJI Mavic Pro"),
        SensorSpec("FC2103", 6.17, 4.55, 4056, 3040, 4.5, label="DJI Mavic Air"),
        SensorSpec("L1D-20C", 13.2, 8.8, 5472, 3648, 10.26, label="DJI Mavic 2 Pro"),
        SensorSpec("L2D-20C", 17.3, 13.0, 5280, 3956, 12.29, label="DJI Mavic 3"),
        SensorSpec("M3E", 17.3, 13.0, 5280, 3956, 12.29, label="DJI Mavic 3 Enterprise"),
        SensorSpec("FC7303", 6.17, 4.55, 4000, 3000, 4.49, label="DJI Mini 2"),
        SensorSpec("ZENMUSEP1", 35.9, 24.0, 8192, 5460, 35.0, label="DJI Zenmuse P1 35 mm"),
        SensorSpec("ZH20T", 6.17, 4.55, 4056, 3040, 4.5, label="DJI Zenmuse H20T wide"),
        SensorSpec("M30T", 6.4, 4.8, 4000, 3000, 4.5, label="DJI M30T wide"),
        _t(640, 512, 12.0, 13.5, "ZH20T-IR", "DJI Zenmuse H20T thermal"),
        _t(640, 512, 12.0, 9.1, "M30T-IR", "DJI M30T thermal"),
        _t(640, 512, 12.0, 9.1, "M3T-IR", "DJI Mavic 3 Thermal"),
        _t(640, 512, 17.0, 13.0, "XT2-IR", "DJI Zenmuse XT2 thermal 13 mm"),
        _t(640, 512, 17.0, 13.0, "FLIR VUE PRO R 640", "FLIR Vue Pro R 640, 13 mm"),
        _t(640, 512, 12.0, 9.1, "FLIR BOSON 640", "FLIR Boson 640, 9.1 mm"),
    )
}


def normalize_tags(tags: Mapping[str, object]) -> dict[str, object]:
    """Lower-case tag names without group prefixes (``"XMP:DewarpData"`` -> ``"dewarpdata"``).

    Examples
    --------
    >>> normalize_tags({"EXIF:Model": "FC6310R", "drone-dji:GimbalYawDegree": "+92.9"})
    {'model': 'FC6310R', 'gimbalyawdegree': '+92.9'}
    """
    out: dict[str, object] = {}
    for k, v in tags.items():
        name = str(k).rsplit(":", 1)[-1].strip().lower()
        out.setdefault(name, v)
    return out


def _num(tags: Mapping[str, object], *names: str) -> float | None:
    for n in names:
        if n in tags and tags[n] not in (None, ""):
            v = tags[n]
            try:
                if isinstance(v, tuple | list) and len(v) == 2:  # EXIF rational (num, den)
                    return float(v[0]) / float(v[1])
                text = str(v).strip().strip("()").split()[0]
                if "/" in text:
                    a, b = text.split("/", 1)
                    return float(a) / float(b)
                return float(text)
            except (ValueError, ZeroDivisionError, IndexError) as exc:
                raise CameraModelError(f"tag {n} = {v!r} is not a number", where=n) from exc
    return None


def _unit_mm(tags: Mapping[str, object]) -> float | None:
    unit = tags.get("focalplaneresolutionunit")
    table = {"2": 25.4, "inches": 25.4, "inch": 25.4, "3": 10.0, "cm": 10.0, "4": 1.0, "mm": 1.0}
    return table.get(str(unit).strip().lower()) if unit is not None else 25.4


def camera_from_table(
    model: str, width_px: int | None = None, height_px: int | None = None
) -> CameraModel:
    """Nominal pinhole (no distortion) from :data:`CAMERA_TABLE`, optionally resized.

    Examples
    --------
    >>> cam = camera_from_table("ZH20T-IR")
    >>> round(cam.fx_px, 1), cam.kind
    (1125.0, 'thermal')
    """
    spec = CAMERA_TABLE.get(model.strip().upper())
    if spec is None:
        raise CameraModelError(
            f"camera model {model!r} is not in the table; known: {', '.join(sorted(CAMERA_TABLE))}"
        )
    fx = spec.focal_mm / spec.sensor_width_mm * spec.width_px
    fy = spec.focal_mm / spec.sensor_height_mm * spec.height_px
    cam = CameraModel(
        spec.width_px,
        spec.height_px,
        fx,
        fy,
        (spec.width_px - 1) / 2,
        (spec.height_px - 1) / 2,
        name=spec.label or spec.model,
        kind=spec.kind,
        pixel_pitch_um=spec.pixel_pitch_um,
        source="table",
    )
    if width_px is not None and height_px is not None:
        cam = _rescale(cam, width_px, height_px, "table")
    return cam


def _rescale(cam: CameraModel, width_px: int, height_px: int, what: str) -> CameraModel:
    if (width_px, height_px) == (cam.width_px, cam.height_px):
        return cam
    a0, a1 = cam.width_px / cam.height_px, width_px / height_px
    if abs(a0 / a1 - 1.0) > 0.01:
        raise CameraModelError(
            f"image is {width_px}x{height_px} but the {what} intrinsics are for "
            f"{cam.width_px}x{cam.height_px} (another aspect ratio: a cropped mode); "
            "give a calibration for this image size"
        )
    return cam.scaled(width_px, height_px)


def _parse_dewarp(text: str) -> list[float]:
    body = text.split(";", 1)[-1]
    parts = [p for p in re.split(r"[,\s]+", body.strip()) if p]
    if len(parts) != 9:
        raise CameraModelError(
            f"DewarpData must hold 9 numbers after the date (fx,fy,cx,cy,k1,k2,p1,p2,k3), "
            f"got {len(parts)}: {text!r}",
            where="DewarpData",
        )
    try:
        return [float(p) for p in parts]
    except ValueError as exc:
        raise CameraModelError(
            f"DewarpData holds a non-number: {text!r}", where="DewarpData"
        ) from exc


def camera_from_tags(
    tags: Mapping[str, object],
    width_px: int | None = None,
    height_px: int | None = None,
    *,
    kind: CameraKind | None = None,
) -> CameraModel:
    """Build the best camera model the EXIF/XMP tags allow (see the module docstring).

    Parameters
    ----------
    tags : mapping
        Tag name -> value (exiftool-style names, any group prefix).
    width_px, height_px : int, optional
        Size of the image the model is for; defaults to ``ImageWidth``/``ImageHeight``
        (``ExifImageWidth``...) from the tags. A downsampled image gets scaled intrinsics.
    kind : {"rgb", "thermal"}, optional
        Overrides the kind guessed from the table.

    Raises
    ------
    CameraModelError
        When the tags hold no usable focal length, or a value is malformed.

    Examples
    --------
    >>> tags = {"Model": "X", "ImageWidth": 4000, "ImageHeight": 3000,
    ...         "FocalLength": "8.8", "FocalPlaneXResolution": "2000",
    ...         "FocalPlaneResolutionUnit": "4"}
    >>> round(camera_from_tags(tags).fx_px, 3)  # 8.8 mm at 2000 px/mm
    17600.0
    """
    t = normalize_tags(tags)
    model = str(t.get("model", "")).strip()
    make = str(t.get("make", "")).strip()
    name = f"{make} {model}".strip() or "camera"
    spec = CAMERA_TABLE.get(model.upper())
    ckind: CameraKind = kind or (spec.kind if spec else "rgb")
    w = width_px or _num(t, "imagewidth", "exifimagewidth", "pixelxdimension")
    h = height_px or _num(t, "imageheight", "imagelength", "exifimageheight", "pixelydimension")
    if w is None or h is None:
        raise CameraModelError(f"{name}: image size unknown (no ImageWidth/ImageHeight tags)")
    w, h = int(w), int(h)

    dewarp = t.get("dewarpdata")
    cal_f = _num(t, "calibratedfocallength")
    cal_cx = _num(t, "calibratedopticalcenterx")
    cal_cy = _num(t, "calibratedopticalcentery")
    # the size the factory calibration refers to: the capture size recorded in EXIF, else the
    # table's, else twice the calibrated optical centre
    ew = _num(t, "exifimagewidth", "pixelxdimension")
    eh = _num(t, "exifimageheight", "pixelydimension")
    native: tuple[int, int] | None = None
    if ew and eh:
        native = (int(ew), int(eh))
    elif spec is not None:
        native = (spec.width_px, spec.height_px)
    elif cal_cx is not None and cal_cy is not None:
        native = (round(2 * cal_cx), round(2 * cal_cy))
    pitch = 1000.0 * spec.sensor_width_mm / native[0] if (spec and native) else None

    if dewarp and native is not None:
        fx, fy, dcx, dcy, k1, k2, p1, p2, k3 = _parse_dewarp(str(dewarp))
        flag = _num(t, "dewarpflag")
        if flag == 1:  # image already undistorted by the camera
            k1 = k2 = p1 = p2 = k3 = 0.0
        nw, nh = native
        cam = CameraModel(
            nw, nh, fx, fy, nw / 2 + dcx, nh / 2 + dcy, k1, k2, p1, p2, k3,
            name=name, kind=ckind, pixel_pitch_um=pitch, source="dji-xmp-dewarp",
        )  # fmt: skip
        return _rescale(cam, w, h, "DewarpData")
    if cal_f is not None and native is not None:
        nw, nh = native
        cx = cal_cx if cal_cx is not None else nw / 2
        cy = cal_cy if cal_cy is not None else nh / 2
        cam = CameraModel(
            nw, nh, cal_f, cal_f, cx, cy, name=name, kind=ckind, pixel_pitch_um=pitch,
            source="dji-xmp-calibrated",
        )  # fmt: skip
        return _rescale(cam, w, h, "CalibratedFocalLength")

    f_mm = _num(t, "focallength")
    fpx = _num(t, "focalplanexresolution")
    fpy = _num(t, "focalplaneyresolution")
    unit = _unit_mm(t)
    centre = ((w - 1) / 2, (h - 1) / 2)
    if f_mm and fpx and unit:
        # FocalPlaneXResolution refers to the native (EXIF) pixel grid
        ew = _num(t, "exifimagewidth", "pixelxdimension") or w
        eh = _num(t, "exifimageheight", "pixelydimension") or h
        fx = f_mm * fpx / unit
        fy = f_mm * (fpy or fpx) / unit
        cam = CameraModel(
            int(ew), int(eh), fx, fy, (ew - 1) / 2, (eh - 1) / 2, name=name, kind=ckind,
            pixel_pitch_um=1000 * unit / fpx, source="exif-focal-plane",
        )  # fmt: skip
        return _rescale(cam, w, h, "EXIF focal-plane")
    if f_mm and spec is not None:
        fx = f_mm / spec.sensor_width_mm * spec.width_px
        fy = f_mm / spec.sensor_height_mm * spec.height_px
        cam = CameraModel(
            spec.width_px, spec.height_px, fx, fy, (spec.width_px - 1) / 2,
            (spec.height_px - 1) / 2, name=name, kind=ckind, pixel_pitch_um=pitch,
            source="exif-focal+table",
        )  # fmt: skip
        return _rescale(cam, w, h, "table")
    f35 = _num(t, "focallengthin35mmformat", "focallengthin35mmfilm")
    if f35:
        f = f35 / _DIAG_35MM * math.hypot(w, h)
        log.info("%s: intrinsics from the 35 mm equivalent focal length only (nominal)", name)
        return CameraModel(w, h, f, f, *centre, name=name, kind=ckind, source="exif-35mm")
    raise CameraModelError(
        f"{name}: no usable focal length in the tags (looked for DJI DewarpData, "
        "CalibratedFocalLength, FocalLength + FocalPlaneXResolution or a known Model, "
        "FocalLengthIn35mmFormat)"
    )
