"""JPEG container: walk the marker segments of a (radiometric) JPEG and assemble FLIR chunks.

Only the header segments (everything before the first SOS) are read; the compressed preview
image is never decoded. A FLIR R-JPEG stores its FFF blob in APP1 segments that start with
``b"FLIR\\0"`` followed by a byte (1), the chunk number and the last chunk number; the chunks
concatenated in order are the FFF blob.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from thermal.errors import ThermalFormatError

__all__ = ["Segment", "flir_fff", "read_segments", "segments_to_jpeg"]

SOI = b"\xff\xd8"
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
EXIF_ID = b"Exif\0\0"
XMP_ID = b"http://ns.adobe.com/xap/1.0/\0"
FLIR_ID = b"FLIR\0"
MAX_PAYLOAD = 0xFFFF - 2


@dataclass(frozen=True)
class Segment:
    """One marker segment: ``marker`` (0xE1 for APP1 ...), file ``offset`` of the marker,
    and its ``payload`` (after the length field)."""

    marker: int
    offset: int
    payload: bytes


def read_segments(buf: bytes, *, path: str | None = None) -> list[Segment]:
    """The header segments of a JPEG, up to (not including) the first SOS.

    Raises
    ------
    ThermalFormatError
        Not a JPEG, or a segment length runs past the end of the file (truncated).
    """
    if buf[:2] != SOI:
        raise ThermalFormatError(
            f"not a JPEG: starts with {buf[:4]!r}, expected FF D8", path=path, where="offset 0"
        )
    segs: list[Segment] = []
    pos = 2
    n = len(buf)
    while pos < n:
        if buf[pos] != 0xFF:
            raise ThermalFormatError(
                f"expected a JPEG marker (FF xx), found {buf[pos]:#04x}",
                path=path,
                where=f"offset {pos:#x}",
            )
        marker = buf[pos + 1] if pos + 1 < n else -1
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker in (0xDA, 0xD9) or marker < 0:
            return segs
        if pos + 4 > n:
            break
        (length,) = struct.unpack_from(">H", buf, pos + 2)
        if length < 2 or pos + 2 + length > n:
            raise ThermalFormatError(
                f"JPEG segment FF{marker:02X} of length {length} runs past the end of the file "
                f"({n} bytes): truncated file",
                path=path,
                where=f"offset {pos:#x}",
            )
        segs.append(Segment(marker, pos, buf[pos + 4 : pos + 2 + length]))
        pos += 2 + length
    raise ThermalFormatError(
        "JPEG ends before its image data (no SOS marker): truncated file",
        path=path,
        where=f"offset {pos:#x}",
    )


def flir_fff(segs: list[Segment], *, path: str | None = None) -> bytes | None:
    """Concatenate the FLIR APP1 chunks into the FFF blob; None when there are none.

    Raises
    ------
    ThermalFormatError
        Chunks missing, duplicated or with inconsistent counts.
    """
    chunks: dict[int, bytes] = {}
    total: int | None = None
    for s in segs:
        if s.marker != 0xE1 or not s.payload.startswith(FLIR_ID) or len(s.payload) < 8:
            continue
        num, last = s.payload[6], s.payload[7]
        if total is None:
            total = last + 1
        elif total != last + 1:
            raise ThermalFormatError(
                f"FLIR chunk {num} says {last + 1} chunks, an earlier one said {total}",
                path=path,
                where=f"APP1 FLIR segment at offset {s.offset:#x}",
            )
        if num in chunks:
            raise ThermalFormatError(
                f"FLIR chunk {num} appears twice", path=path, where=f"offset {s.offset:#x}"
            )
        chunks[num] = s.payload[8:]
    if total is None:
        return None
    missing = sorted(set(range(total)) - set(chunks))
    if missing:
        raise ThermalFormatError(
            f"FLIR data incomplete: chunk(s) {missing} of {total} missing (truncated file?)",
            path=path,
            where="APP1 FLIR segments",
        )
    return b"".join(chunks[i] for i in range(total))


def find_payload(segs: list[Segment], marker: int, prefix: bytes) -> bytes | None:
    """Payload (without ``prefix``) of the first segment ``marker`` starting with ``prefix``."""
    for s in segs:
        if s.marker == marker and s.payload.startswith(prefix):
            return s.payload[len(prefix) :]
    return None


def flir_segments(fff: bytes) -> list[tuple[int, bytes]]:
    """Split an FFF blob into APP1 ``FLIR`` segments (marker, payload)."""
    room = MAX_PAYLOAD - 8
    parts = [fff[i : i + room] for i in range(0, len(fff), room)] or [b""]
    if len(parts) > 256:
        raise ValueError(f"FFF blob of {len(fff)} bytes needs more than 256 APP1 chunks")
    last = len(parts) - 1
    return [(0xE1, FLIR_ID + bytes((1, i, last)) + p) for i, p in enumerate(parts)]


def segments_to_jpeg(jpeg: bytes, extra: list[tuple[int, bytes]]) -> bytes:
    """Insert ``extra`` segments (marker, payload) after SOI and any APP0 of ``jpeg``."""
    if jpeg[:2] != SOI:
        raise ValueError("not a JPEG")
    pos = 2
    while jpeg[pos] == 0xFF and jpeg[pos + 1] == 0xE0:
        pos += 2 + struct.unpack_from(">H", jpeg, pos + 2)[0]
    out = bytearray(jpeg[:pos])
    for marker, payload in extra:
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"segment payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
        out += bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload
    out += jpeg[pos:]
    return bytes(out)
