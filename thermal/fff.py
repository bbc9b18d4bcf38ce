"""FLIR FFF ("Flexible File Format") containers: parsing and writing.

An FFF blob is what FLIR cameras store in the APP1 ``FLIR`` segments of a radiometric JPEG, in
``.fff`` files, and frame after frame in ``.seq`` / ``.csq`` sequences. Layout (after exiftool's
``Image::ExifTool::FLIR``)::

    0x00  "FFF\\0" (or "AFF\\0")         0x14  int32u version (100..199; decides byte order)
    0x04  creator string[16]             0x18  int32u offset of the record directory
                                         0x1c  int32u number of directory entries
    directory entry (0x20 bytes): int16u type, int16u subtype, int32u version, int32u id,
    int32u offset, int32u length, int32u parent, int32u object number, int32u checksum

Record types used here: 0x01 raw thermal data, 0x20 camera info (calibration), 0x0e embedded
visual image. Each record carries its own byte order (its first int16u reads 2). Raw data is
16-bit little/big endian, PNG (byte-swapped by most FLIR cameras) or JPEG-LS (CSQ).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from thermal.errors import NotRadiometricError, ThermalFormatError, UnsupportedCameraError

__all__ = [
    "FFFRecord",
    "RECORD_CAMERA_INFO",
    "RECORD_RAW_DATA",
    "decode_raw_record",
    "parse_camera_info",
    "parse_fff",
]

RECORD_RAW_DATA = 0x01
RECORD_EMBEDDED_IMAGE = 0x0E
RECORD_CAMERA_INFO = 0x20
HEADER_LEN = 0x40
ENTRY_LEN = 0x20
KELVIN = 273.15

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_LS_MAGIC = b"\xff\xd8\xff\xf7"


@dataclass(frozen=True)
class FFFRecord:
    """One entry of an FFF record directory (offsets relative to the FFF start)."""

    type: int
    subtype: int
    version: int
    offset: int
    length: int


def parse_fff(
    buf: bytes | memoryview, *, path: str | None = None, where: str = "FFF"
) -> tuple[str, list[FFFRecord], int]:
    """Parse an FFF header and record directory.

    Returns
    -------
    creator : str
        The creator-software string of the header.
    records : list of FFFRecord
        Non-empty records, each checked to lie inside ``buf``.
    end : int
        Offset just past the furthest record (a SEQ frame's length).
    """
    if len(buf) < HEADER_LEN:
        raise ThermalFormatError(
            f"FFF header truncated: {len(buf)} bytes, expected at least {HEADER_LEN}",
            path=path,
            where=where,
        )
    magic = bytes(buf[:4])
    if magic not in (b"FFF\0", b"AFF\0"):
        raise ThermalFormatError(
            f"not an FFF block: starts with {magic!r}, expected b'FFF\\x00'", path=path, where=where
        )
    for bo in (">", "<"):
        version, dir_off, count = struct.unpack_from(bo + "III", buf, 0x14)
        if 100 <= version < 200:
            break
    else:
        raise ThermalFormatError(
            "unknown FFF version (expected 100..199 in either byte order)", path=path, where=where
        )
    creator = bytes(buf[4:20]).split(b"\0", 1)[0].decode("latin-1")
    if count > 4096 or dir_off + count * ENTRY_LEN > len(buf):
        raise ThermalFormatError(
            f"FFF record directory ({count} entries at offset {dir_off:#x}) runs past the end "
            f"of the data ({len(buf)} bytes): truncated file",
            path=path,
            where=where,
        )
    records: list[FFFRecord] = []
    end = dir_off + count * ENTRY_LEN
    for i in range(count):
        rtype, sub, ver, _id, off, length = struct.unpack_from(
            bo + "HHIIII", buf, dir_off + i * ENTRY_LEN
        )
        if rtype == 0:
            continue
        if off + length > len(buf):
            raise ThermalFormatError(
                f"FFF record {i} (type {rtype:#04x}) at {off:#x}+{length:#x} runs past the end of "
                f"the data ({len(buf)} bytes): truncated file",
                path=path,
                where=where,
            )
        records.append(FFFRecord(rtype, sub, ver, off, length))
        end = max(end, off + length)
    return creator, records, end


def find_record(records: Sequence[FFFRecord], rtype: int) -> FFFRecord | None:
    """The first record of type ``rtype``, or None."""
    return next((r for r in records if r.type == rtype), None)


def _record_order(rec: bytes | memoryview) -> str:
    # a record's first int16u is 2 in its own byte order
    return "<" if struct.unpack_from("<H", rec, 0)[0] < 0x100 else ">"


def _roughness(a: NDArray[np.uint16]) -> float:
    sub = a[:: max(1, a.shape[0] // 64)].astype(np.int32)
    return float(np.mean(np.abs(np.diff(sub, axis=1))))


def decode_raw_record(
    rec: bytes | memoryview,
    *,
    path: str | None = None,
    where: str = "FFF raw data",
) -> tuple[NDArray[np.uint16], str]:
    """Decode a raw-data record to a ``(H, W)`` uint16 array.

    Returns the array and how it was stored (``"raw-le"``, ``"raw-be"``, ``"png"``,
    ``"png-swapped"``, ``"jpeg-ls"``).
    """
    if len(rec) < 0x20:
        raise ThermalFormatError(
            "raw-data record shorter than its 32-byte header", path=path, where=where
        )
    bo = _record_order(rec)
    width, height = struct.unpack_from(bo + "HH", rec, 2)
    data = memoryview(rec)[0x20:]
    head = bytes(data[:8])
    if width == 0 or height == 0:
        raise ThermalFormatError(f"raw image size {width}x{height}", path=path, where=where)
    if head == PNG_MAGIC:
        import cv2

        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ThermalFormatError(
                "embedded raw-data PNG does not decode (corrupt)", path=path, where=where
            )
        if img.dtype != np.uint16 or img.shape != (height, width):
            raise NotRadiometricError(
                f"the raw thermal image is a {img.shape[1]}x{img.shape[0]} {img.dtype.itemsize * 8}-bit "
                f"placeholder, not the {width}x{height} 16-bit counts the record announces (image "
                "data stripped)",
                path=path,
                where=where,
            )
        as_is: NDArray[np.uint16] = np.asarray(img, dtype=np.uint16)
        swapped: NDArray[np.uint16] = as_is.byteswap()
        # Most FLIR cameras write little-endian values into the big-endian PNG. Decide by
        # smoothness: the wrong byte order turns a smooth thermal image into noise.
        if _roughness(as_is) < _roughness(swapped):
            return as_is, "png"
        return swapped, "png-swapped"
    if head[:4] == JPEG_LS_MAGIC:
        import imagecodecs

        try:
            img = imagecodecs.jpegls_decode(bytes(data))
        except Exception as exc:  # imagecodecs raises its own error types
            raise ThermalFormatError(
                f"JPEG-LS frame does not decode: {exc}", path=path, where=where
            ) from exc
        if img.shape != (height, width):
            raise ThermalFormatError(
                f"JPEG-LS frame is {img.shape}, the record says {height}x{width}",
                path=path,
                where=where,
            )
        return np.ascontiguousarray(img, dtype=np.uint16), "jpeg-ls"
    if head[:2] == b"\xff\xd8":
        raise UnsupportedCameraError(
            "raw thermal data is a lossy JPEG, not radiometric counts", path=path, where=where
        )
    need = width * height * 2
    if len(data) < need:
        raise ThermalFormatError(
            f"raw image data truncated: {len(data)} bytes, expected {need} for {width}x{height} "
            "16-bit",
            path=path,
            where=where,
        )
    arr = np.frombuffer(data[:need], dtype=bo + "u2").reshape(height, width)
    return arr.astype(np.uint16), "raw-le" if bo == "<" else "raw-be"


# CameraInfo fields: name -> (offset, struct format)
_CAMERA_FLOATS = {
    "emissivity": 0x20,
    "object_distance_m": 0x24,
    "reflected_temp_k": 0x28,
    "atmospheric_temp_k": 0x2C,
    "ir_window_temp_k": 0x30,
    "ir_window_transmission": 0x34,
    "relative_humidity": 0x3C,
    "planck_r1": 0x58,
    "planck_b": 0x5C,
    "planck_f": 0x60,
    "atm_alpha1": 0x70,
    "atm_alpha2": 0x74,
    "atm_beta1": 0x78,
    "atm_beta2": 0x7C,
    "atm_x": 0x80,
    "range_max_k": 0x90,
    "range_min_k": 0x94,
    "max_clip_k": 0x98,
    "min_clip_k": 0x9C,
    "max_warn_k": 0xA0,
    "min_warn_k": 0xA4,
    "max_saturated_k": 0xA8,
    "min_saturated_k": 0xAC,
    "planck_r2": 0x30C,
}
_CAMERA_OPTIONAL_FLOATS = {"field_of_view_deg": 0x1B4, "focus_distance_m": 0x45C}
_CAMERA_STRINGS = {
    "camera_model": (0xD4, 32),
    "camera_part_number": (0xF4, 16),
    "camera_serial_number": (0x104, 16),
    "camera_software": (0x114, 16),
    "lens_model": (0x170, 32),
}
CAMERA_INFO_REQUIRED_LEN = 0x310


def _f32(v: float) -> float:
    """The shortest decimal that reads back as this float32 (0.95f -> 0.95, not 0.9499999881)."""
    return float(str(np.float32(v)))


def parse_camera_info(
    rec: bytes | memoryview, *, path: str | None = None, where: str = "FFF camera info"
) -> dict[str, Any]:
    """Decode a camera-info record: Planck constants, object parameters, camera identity.

    Temperatures are returned in kelvin (``*_k``) as stored; humidity as stored (a fraction,
    sometimes a percentage).
    """
    if len(rec) < CAMERA_INFO_REQUIRED_LEN:
        raise ThermalFormatError(
            f"camera-info record is {len(rec)} bytes, expected at least "
            f"{CAMERA_INFO_REQUIRED_LEN} (Planck R2 lives at 0x30c)",
            path=path,
            where=where,
        )
    bo = _record_order(rec)
    out: dict[str, Any] = {}
    for name, off in _CAMERA_FLOATS.items():
        out[name] = _f32(struct.unpack_from(bo + "f", rec, off)[0])
    out["planck_o"] = struct.unpack_from(bo + "i", rec, 0x308)[0]
    for name, off in _CAMERA_OPTIONAL_FLOATS.items():
        if len(rec) >= off + 4:
            out[name] = _f32(struct.unpack_from(bo + "f", rec, off)[0])
    for name, (off, n) in _CAMERA_STRINGS.items():
        out[name] = bytes(rec[off : off + n]).split(b"\0", 1)[0].decode("latin-1").strip()
    if len(rec) >= 0x33E:
        lo, hi = struct.unpack_from(bo + "HH", rec, 0x310)
        out["raw_value_min"], out["raw_value_max"] = lo, hi
        out["raw_value_median"] = struct.unpack_from(bo + "H", rec, 0x338)[0]
        out["raw_value_range"] = struct.unpack_from(bo + "H", rec, 0x33C)[0]
    if len(rec) >= 0x38E:
        secs, ms, tz = struct.unpack_from(bo + "IIh", rec, 0x384)
        if secs:
            out["datetime_utc_s"] = secs + (ms & 0xFFFF) / 1000.0
            out["timezone_min"] = -tz
    if len(rec) >= 0x466:
        out["frame_rate_hz"] = struct.unpack_from(bo + "H", rec, 0x464)[0]
    return out


def build_fff(
    raw: NDArray[np.uint16],
    camera_info: dict[str, Any],
    *,
    raw_format: str = "raw",
    creator: str = "railpipe-survey",
) -> bytes:
    """Build an FFF blob with a raw-data record and a camera-info record.

    ``camera_info`` uses the keys of :func:`parse_camera_info` (temperatures in kelvin,
    humidity as a fraction). ``raw_format`` is ``"raw"`` (16-bit little endian, like the DJI
    XT2) or ``"png"`` (byte-swapped 16-bit PNG, like FLIR handhelds).
    """
    h, w = raw.shape
    rec_hdr = np.zeros(16, dtype="<u2")
    rec_hdr[:3] = (2, w, h)
    rec_hdr[6], rec_hdr[8] = w - 1, h - 1
    if raw_format == "png":
        import cv2

        ok, png = cv2.imencode(".png", raw.astype(np.uint16).byteswap())
        if not ok:
            raise ThermalFormatError("PNG encoding of the raw frame failed")
        raw_rec, subtype = rec_hdr.tobytes() + png.tobytes(), 3
    elif raw_format == "raw":
        raw_rec, subtype = rec_hdr.tobytes() + raw.astype("<u2").tobytes(), 2
    else:
        raise ValueError(f"raw_format must be 'raw' or 'png', got {raw_format!r}")

    cam = bytearray(0x9AC)
    struct.pack_into("<HHH", cam, 0, 2, w, h)
    struct.pack_into("<II", cam, 0x0C, w - 1, h - 1)
    for name, off in {**_CAMERA_FLOATS, **_CAMERA_OPTIONAL_FLOATS}.items():
        if name in camera_info:
            struct.pack_into("<f", cam, off, float(camera_info[name]))
    struct.pack_into("<i", cam, 0x308, int(round(camera_info["planck_o"])))
    for name, (off, n) in _CAMERA_STRINGS.items():
        s = str(camera_info.get(name, "")).encode("latin-1", "replace")[: n - 1]
        cam[off : off + len(s)] = s
    struct.pack_into("<HH", cam, 0x310, int(raw.min()), int(raw.max()))
    struct.pack_into("<H", cam, 0x338, int(np.median(raw)))
    struct.pack_into("<H", cam, 0x33C, int(raw.max()) - int(raw.min()))
    if camera_info.get("datetime_utc_s") is not None:
        t = float(camera_info["datetime_utc_s"])
        secs = int(np.floor(t))
        ms = min(int(round((t - secs) * 1000.0)), 999)
        struct.pack_into("<IIh", cam, 0x384, secs, ms, 0)
    struct.pack_into("<H", cam, 0x464, int(camera_info.get("frame_rate_hz", 0)))

    records = [(RECORD_RAW_DATA, subtype, raw_rec), (RECORD_CAMERA_INFO, 1, bytes(cam))]
    dir_off = HEADER_LEN
    data_off = dir_off + len(records) * ENTRY_LEN
    header = bytearray(HEADER_LEN)
    header[:4] = b"FFF\0"
    c = creator.encode("latin-1", "replace")[:15]
    header[4 : 4 + len(c)] = c
    struct.pack_into(">III", header, 0x14, 100, dir_off, len(records))
    struct.pack_into(">I", header, 0x20, len(records) + 1)
    directory = bytearray()
    body = bytearray()
    for i, (rtype, sub, payload) in enumerate(records):
        off = data_off + len(body)
        directory += struct.pack(">HHIIIIIII", rtype, sub, 100, i + 1, off, len(payload), 0, 0, 0)
        body += payload
    return bytes(header) + bytes(directory) + bytes(body)
