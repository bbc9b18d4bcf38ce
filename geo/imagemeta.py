"""Read the EXIF and XMP tags a camera model needs from a JPEG or TIFF file.

Only what :func:`geo.camera_db.camera_from_tags` uses is guaranteed (make, model, image size,
focal lengths, focal-plane resolution, DJI XMP calibration and gimbal tags); every XMP
attribute found is returned. TIFFs written by GDAL keep EXIF as ``EXIF_*`` items in the
``GDAL_METADATA`` tag; those are read as well.
"""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path

from geo.errors import GeoFileNotFoundError, GeoFormatError

__all__ = ["read_image_tags"]

_XMP_ATTR = re.compile(r'([A-Za-z][\w.-]*):([A-Za-z][\w.-]*)\s*=\s*"([^"]*)"')
_XMP_ELEM = re.compile(r"<([A-Za-z][\w.-]*):([A-Za-z][\w.-]*)>([^<]*)</\1:\2>")
_GDAL_ITEM = re.compile(r'<Item name="EXIF_(\w+)"[^>]*>([^<]*)</Item>')

# EXIF tag ids -> exiftool names (only the ones we use)
_EXIF_NAMES = {
    0x010F: "Make",
    0x0110: "Model",
    0x920A: "FocalLength",
    0xA405: "FocalLengthIn35mmFormat",
    0xA20E: "FocalPlaneXResolution",
    0xA20F: "FocalPlaneYResolution",
    0xA210: "FocalPlaneResolutionUnit",
    0xA002: "ExifImageWidth",
    0xA003: "ExifImageHeight",
    0x9003: "DateTimeOriginal",
    0x9291: "SubSecTimeOriginal",
}


def _xmp_tags(data: bytes) -> dict[str, str]:
    start = data.find(b"<x:xmpmeta")
    end = data.find(b"</x:xmpmeta>", start)
    if start < 0 or end < 0:
        return {}
    text = data[start:end].decode("utf-8", errors="replace")
    out: dict[str, str] = {}
    for ns, name, value in _XMP_ATTR.findall(text):
        if ns not in ("xmlns", "rdf", "x"):
            out[f"{ns}:{name}"] = value.strip()
    for ns, name, value in _XMP_ELEM.findall(text):
        out.setdefault(f"{ns}:{name}", value.strip())
    return out


def read_image_tags(path: str | PathLike[str]) -> dict[str, object]:
    """EXIF + XMP tags of an image as a flat ``{"Group:Name": value}`` mapping.

    ``ImageWidth``/``ImageHeight`` are the size of the stored pixels (not the EXIF claim).

    Raises
    ------
    GeoFileNotFoundError
        The file does not exist.
    GeoFormatError
        The file is not an image Pillow can open.
    """
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        raise GeoFileNotFoundError("image file not found", path=p)
    try:
        with Image.open(p) as im:
            tags: dict[str, object] = {"File:ImageWidth": im.width, "File:ImageHeight": im.height}
            exif = im.getexif()
            ifds = [dict(exif)]
            try:
                ifds.append(dict(exif.get_ifd(0x8769)))
            except (KeyError, ValueError):
                pass
            for ifd in ifds:
                for tag_id, value in ifd.items():
                    name = _EXIF_NAMES.get(tag_id)
                    if name is not None:
                        tags[f"EXIF:{name}"] = _plain(value)
            gdal = getattr(im, "tag_v2", {}).get(42112) if hasattr(im, "tag_v2") else None
    except UnidentifiedImageError as exc:
        raise GeoFormatError("not an image file (JPEG/TIFF expected)", path=p) from exc
    except OSError as exc:
        raise GeoFormatError(f"image cannot be read: {exc}", path=p) from exc
    if gdal:
        for name, value in _GDAL_ITEM.findall(str(gdal)):
            tags.setdefault(f"EXIF:{name}", value.strip().strip("()"))
    with p.open("rb") as fh:
        head = fh.read(4 << 20)  # XMP sits in the first MB of every drone photo
    for k, v in _xmp_tags(head).items():
        tags[k] = v
    return tags


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return value.rstrip(b"\x00").decode("latin-1", errors="replace")
    if hasattr(value, "numerator") and hasattr(value, "denominator"):
        den = value.denominator
        return float(value.numerator) / float(den) if den else float("nan")
    if isinstance(value, str):
        return value.rstrip("\x00").strip()
    return value
