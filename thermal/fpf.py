"""FLIR Public image Format (FPF): recognised and described, not converted.

An FPF file is an export of FLIR ThermaCAM/ResearchIR: an 892-byte header (camera, object
parameters, image type and pixel format) followed by an image of already-computed values
(temperature, temperature difference or object signal). It holds no raw counts and no Planck
constants, so it cannot give a calibrated frame of this package's kind; we read its header so
the error (and ``survey inspect``) can say what it is.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

from thermal.errors import ThermalFileNotFoundError, ThermalFormatError, UnsupportedCameraError
from thermal.frame import ThermalFrame

__all__ = ["read_fpf", "read_fpf_header"]

HEADER_LEN = 892
_TYPES = {
    0: "temperature",
    1: "temperature difference",
    2: "object signal",
    3: "object signal difference",
}
_PIXEL = {0: ("int16", 2), 1: ("int32", 4), 2: ("float32", 4), 3: ("float64", 8)}


def read_fpf_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Header fields of an FPF file (image type, pixel format, size, camera, data size check)."""
    p = Path(path)
    try:
        buf = p.read_bytes()
    except FileNotFoundError as exc:
        raise ThermalFileNotFoundError("no such file", path=p) from exc
    if len(buf) < HEADER_LEN or not buf.startswith(b"FPF Public Image Format\0"):
        raise ThermalFormatError(
            f"FPF header truncated or wrong: {len(buf)} bytes, expected {HEADER_LEN}",
            path=p,
            where="offset 0",
        )
    bo = "<" if struct.unpack_from("<I", buf, 0x20)[0] & 0xFFFF else ">"
    version, data_off = struct.unpack_from(bo + "II", buf, 0x20)
    itype, pfmt, w, h = struct.unpack_from(bo + "HHHH", buf, 0x28)
    model = buf[0x78:0x98].split(b"\0", 1)[0].decode("latin-1")
    dtype, size = _PIXEL.get(pfmt, ("unknown", 0))
    need = data_off + w * h * size
    return {
        "fpf_version": version,
        "image_type": _TYPES.get(itype, f"unknown ({itype})"),
        "pixel_format": dtype,
        "width": w,
        "height": h,
        "camera_model": model,
        "data_bytes_expected": w * h * size,
        "data_bytes_present": max(len(buf) - data_off, 0),
        "complete": len(buf) >= need and size > 0,
    }


def read_fpf(path: str | os.PathLike[str]) -> ThermalFrame:
    """Refuse an FPF file with a message saying what it holds and what is needed instead."""
    hdr = read_fpf_header(path)
    if not hdr["complete"]:
        raise ThermalFormatError(
            f"FPF {hdr['width']}x{hdr['height']} {hdr['pixel_format']} {hdr['image_type']} image: "
            f"{hdr['data_bytes_present']} bytes of image data, expected {hdr['data_bytes_expected']} "
            "(truncated or stripped)",
            path=path,
            where="FPF image data",
        )
    raise UnsupportedCameraError(
        f"FLIR Public image Format export ({hdr['camera_model'] or 'unknown camera'}, "
        f"{hdr['image_type']} as {hdr['pixel_format']}): computed values without raw counts or "
        "Planck constants; export the original radiometric JPEG/SEQ/CSQ from FLIR Tools instead",
        path=path,
        where="FPF header",
    )
