"""DJI's own radiometric JPEGs ("DTAT3.0": Zenmuse H20T/H20N/H30T, M30T, M3T, M2EA, XT S).

These files keep 16-bit sensor counts in APP3 segments (APP4 on the XT S) and the calibration
in an undocumented, partly encrypted blob (APP4/APP5) that DJI decodes only in its native
Thermal SDK (``libdirp``). Planck constants are not written, so counts cannot be turned into
temperatures by the FLIR model. The FLIR-core DJI Zenmuse XT2 / XT is different: it writes
FLIR FFF segments and is read by :mod:`thermal.rjpeg` like any FLIR R-JPEG.

Decoding DTAT files needs DJI's SDK; we do not bundle or download it. The reader recognises
these files, reads the raw counts and their metadata, and refuses the temperature conversion
with an :class:`UnsupportedCameraError` that names the camera and what is needed.
"""

from __future__ import annotations

from typing import Any

from thermal.errors import UnsupportedCameraError
from thermal.frame import ThermalFrame
from thermal.jpeg import Segment

__all__ = ["dji_thermal_kind", "read_dji_dtat"]

#: EXIF model -> marketing name
DJI_MODELS = {
    "ZH20T": "Zenmuse H20T",
    "ZH20N": "Zenmuse H20N",
    "ZH30T": "Zenmuse H30T",
    "M30T": "Matrice 30T",
    "M3T": "Mavic 3 Thermal",
    "M3TD": "Matrice 3TD",
    "MAVIC2-ENTERPRISE-ADVANCED": "Mavic 2 Enterprise Advanced",
    "XT S": "Zenmuse XT S",
}


def dji_thermal_kind(segs: list[Segment], exif: dict[str, Any]) -> str | None:
    """``"dtat"`` when the JPEG is a DJI radiometric JPEG without FLIR segments, else None.

    DJI stores the counts (``W*H*2`` bytes, 640x512 -> 655,360) in consecutive APP3 segments
    (APP4 on the XT S): a DJI JPEG with at least 64 KiB of APP3 or APP4 payload is one.
    """
    if not exif.get("make", "").upper().startswith("DJI"):
        return None
    for marker in (0xE3, 0xE4):
        if sum(len(s.payload) for s in segs if s.marker == marker) >= 65536:
            return "dtat"
    return None


def camera_name(exif: dict[str, Any]) -> str:
    model = str(exif.get("model", "")).strip()
    return f"DJI {DJI_MODELS.get(model, model or 'thermal camera')} (EXIF model {model!r})"


def read_dji_dtat(
    src: str, buf: bytes, segs: list[Segment], exif: dict[str, Any], kind: str
) -> ThermalFrame:
    """Refuse a DJI DTAT R-JPEG with a message naming the camera and what is needed."""
    raise UnsupportedCameraError(
        f"{camera_name(exif)} radiometric JPEG (DJI 'DTAT3.0' format): its counts need DJI's "
        "calibration, which only the DJI Thermal SDK (native libdirp) decodes; no registry "
        "package here decodes it correctly (see the README, Thermal). Convert the file with the "
        "DJI Thermal SDK's dji_irp (-a measure -o out.raw --measurefmt float32) or DJI Thermal "
        "Analysis Tool to a float32 temperature image or R-JPEG/TIFF, or fly a FLIR-core camera "
        "(Zenmuse XT2) whose files carry Planck constants",
        path=src,
        where="APP3/APP4 DJI thermal segments",
    )
