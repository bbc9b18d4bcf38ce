"""Telemetry tracks inside video containers: which a file carries, and their samples' times.

A small ISO base media file (MP4/MOV) reader: it walks the boxes (never reading ``mdat``), and
for each track gives the handler (``vide``, ``meta``, ``text``...), the sample entry's four-cc
(``gpmd`` = GoPro GPMF, ``djmd`` = DJI frame metadata, ``camm`` = camera motion metadata) and
the sample table (file offset, size, start time and duration of every sample, in seconds from
the start of the movie). :func:`embedded_kind` says from a file's bytes which embedded
telemetry it carries: ``"gopro_gpmf"`` (a ``gpmd`` track), ``"dji_meta"`` (a ``djmd`` track),
``"misb_klv_ts"`` (an MPEG transport stream with a KLV metadata stream, see
:mod:`survey.telemetry.mpegts`) or None.

Errors (:class:`~survey.telemetry.errors.TelemetryFormatError`) name the file and the byte
offset and box where the layout stopped making sense (a box running past the end of the file,
a sample table that disagrees with itself, a ``moov`` box missing because the file was cut
short).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

from survey.telemetry.errors import TelemetryFormatError

__all__ = ["Mp4Track", "embedded_kind", "read_mp4_tracks", "read_samples"]

#: sample-entry four-cc -> embedded telemetry kind
TELEMETRY_CODECS = {"gpmd": "gopro_gpmf", "djmd": "dji_meta"}
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta"}


@dataclass(frozen=True, eq=False)
class Mp4Track:
    """One track of an MP4/MOV file and its sample table (times in seconds from the start)."""

    track_id: int
    handler: str  #: ``vide``, ``soun``, ``meta``, ``text``, ``tmcd`` ...
    handler_name: str  #: e.g. ``"GoPro MET"``, ``"DJI meta"``
    codec: str  #: sample-entry four-cc (``avc1``, ``gpmd``, ``djmd`` ...)
    timescale: int
    offset: NDArray[np.int64]  #: file offset of each sample
    size: NDArray[np.int64]  #: bytes of each sample
    t_s: NDArray[np.float64]  #: decode (start) time of each sample
    duration_s: NDArray[np.float64]  #: duration of each sample
    width: int = 0
    height: int = 0

    def __len__(self) -> int:
        return int(self.offset.size)


def _fail(path: Path, msg: str, at: int, box: str = "") -> TelemetryFormatError:
    where = f"byte {at}" + (f" (box '{box}')" if box else "")
    return TelemetryFormatError(msg, path=path, where=where)


def _boxes(data: bytes, start: int, end: int, path: Path, base: int) -> list[tuple[str, int, int]]:
    """(type, payload start, payload end) of the boxes in ``data[start:end]``."""
    out = []
    i = start
    while i + 8 <= end:
        size, typ = struct.unpack_from(">I4s", data, i)
        hdr = 8
        if size == 1:
            if i + 16 > end:
                raise _fail(path, "64-bit box size cut short", base + i, typ.decode("latin-1"))
            size = struct.unpack_from(">Q", data, i + 8)[0]
            hdr = 16
        elif size == 0:
            size = end - i
        name = typ.decode("latin-1")
        if size < hdr or i + size > end:
            raise _fail(
                path,
                f"box of {size} bytes runs past its parent (which ends at byte {base + end})",
                base + i,
                name,
            )
        out.append((name, i + hdr, i + size))
        i += size
    return out


def _top_level(fh: BinaryIO, path: Path, file_size: int) -> dict[str, tuple[int, int]]:
    """Top-level boxes: type -> (payload offset, payload size); ``mdat`` is not read."""
    out: dict[str, tuple[int, int]] = {}
    i = 0
    while i + 8 <= file_size:
        fh.seek(i)
        head = fh.read(16)
        size, typ = struct.unpack_from(">I4s", head, 0)
        hdr = 8
        if size == 1:
            size = struct.unpack_from(">Q", head, 8)[0]
            hdr = 16
        elif size == 0:
            size = file_size - i
        name = typ.decode("latin-1")
        if size < hdr:
            raise _fail(path, f"box size {size} is smaller than its header", i, name)
        if i + size > file_size:
            if name == "moov":
                raise _fail(path, "the 'moov' box is cut short (file truncated?)", i, name)
            if name != "mdat":  # a cut-short mdat loses only its tail samples
                raise _fail(path, f"box of {size} bytes runs past the end of the file", i, name)
            size = file_size - i
        out.setdefault(name, (i + hdr, size - hdr))
        i += size
    return out


def read_mp4_tracks(path: str | Path) -> list[Mp4Track]:
    """The tracks of an MP4/MOV file with their sample tables.

    Raises
    ------
    TelemetryFormatError
        Not an ISO base media file, no ``moov`` box (cut short), or an inconsistent sample table.
    """
    p = Path(path)
    size = p.stat().st_size
    with p.open("rb") as fh:
        head = fh.read(12)
        if len(head) < 8 or head[4:8] not in (b"ftyp", b"moov", b"mdat", b"free", b"wide"):
            raise _fail(p, "not an MP4/MOV file (no 'ftyp' box at the start)", 0)
        top = _top_level(fh, p, size)
        if "moov" not in top:
            raise _fail(
                p,
                "no 'moov' box (the index of the samples): the file was cut short while "
                "recording or copying",
                size,
            )
        off, n = top["moov"]
        fh.seek(off)
        moov = fh.read(n)
    tracks = []
    for name, a, b in _boxes(moov, 0, len(moov), p, off):
        if name == "trak":
            t = _track(moov, a, b, p, off)
            if t is not None:
                tracks.append(t)
    return tracks


def _full(data: bytes, a: int) -> tuple[int, int]:
    """(version, payload start after version+flags)."""
    return data[a], a + 4


def _track(data: bytes, a: int, b: int, p: Path, base: int) -> Mp4Track | None:
    found: dict[str, tuple[int, int]] = {}

    def walk(s: int, e: int) -> None:
        for name, x, y in _boxes(data, s, e, p, base):
            found.setdefault(name, (x, y))
            if name.encode("latin-1") in _CONTAINERS:
                walk(x, y)

    walk(a, b)
    if "mdhd" not in found or "stsd" not in found:
        return None
    tid, width, height = 0, 0, 0
    if "tkhd" in found:
        x, _ = found["tkhd"]
        v, x = _full(data, x)
        tid = struct.unpack_from(">I", data, x + (16 if v == 1 else 8))[0]
        wh = found["tkhd"][1] - 8
        width, height = (w >> 16 for w in struct.unpack_from(">II", data, wh))
    x, _ = found["mdhd"]
    v, x = _full(data, x)
    timescale = struct.unpack_from(">I", data, x + (16 if v == 1 else 8))[0]
    if timescale == 0:
        raise _fail(p, "track timescale is 0", base + x, "mdhd")
    handler, hname = "", ""
    if "hdlr" in found:
        x, y = found["hdlr"]
        handler = data[x + 8 : x + 12].decode("latin-1")
        raw = data[x + 24 : y]
        if raw[:1] and raw[0] == len(raw) - 1:  # QuickTime: a Pascal string
            raw = raw[1:]
        hname = raw.split(b"\x00", 1)[0].decode("utf-8", errors="replace").strip()
    x, y = found["stsd"]
    codec = data[x + 12 : x + 16].decode("latin-1") if y - x >= 16 else ""
    # sample sizes
    if "stsz" in found:
        x, y = found["stsz"]
        fixed, count = struct.unpack_from(">II", data, x + 4)
        if fixed:
            sizes = np.full(count, fixed, np.int64)
        else:
            if x + 12 + 4 * count > y:
                raise _fail(
                    p, f"sample size table lists {count} samples but is shorter", base + x, "stsz"
                )
            sizes = np.frombuffer(data, ">u4", count, x + 12).astype(np.int64)
    else:
        return None
    n = sizes.size
    # chunk offsets
    if "stco" in found:
        x, y = found["stco"]
        (cn,) = struct.unpack_from(">I", data, x + 4)
        if x + 8 + 4 * cn > y:
            raise _fail(p, "chunk offset table cut short", base + x, "stco")
        chunks = np.frombuffer(data, ">u4", cn, x + 8).astype(np.int64)
    elif "co64" in found:
        x, y = found["co64"]
        (cn,) = struct.unpack_from(">I", data, x + 4)
        if x + 8 + 8 * cn > y:
            raise _fail(p, "chunk offset table cut short", base + x, "co64")
        chunks = np.frombuffer(data, ">u8", cn, x + 8).astype(np.int64)
    else:
        raise _fail(p, "track has no chunk offset table (stco/co64)", base + a, "trak")
    # samples per chunk
    x, y = found.get("stsc", (0, 0))
    if not y:
        raise _fail(p, "track has no sample-to-chunk table", base + a, "stsc")
    (en,) = struct.unpack_from(">I", data, x + 4)
    if x + 8 + 12 * en > y:
        raise _fail(p, "sample-to-chunk table cut short", base + x, "stsc")
    stsc = np.frombuffer(data, ">u4", 3 * en, x + 8).reshape(-1, 3).astype(np.int64)
    per_chunk = np.zeros(chunks.size, np.int64)
    for k in range(en):
        first = stsc[k, 0] - 1
        last = stsc[k + 1, 0] - 1 if k + 1 < en else chunks.size
        per_chunk[first:last] = stsc[k, 1]
    if per_chunk.sum() < n:
        raise _fail(
            p,
            f"sample-to-chunk table places {int(per_chunk.sum())} samples, the size table "
            f"lists {n}",
            base + x,
            "stsc",
        )
    chunk_of = np.repeat(np.arange(chunks.size), per_chunk)[:n]
    first_in_chunk = np.r_[0, np.cumsum(per_chunk)[:-1]]
    csum = np.r_[0, np.cumsum(sizes)]
    within = csum[:n] - csum[first_in_chunk[chunk_of]]
    offsets = chunks[chunk_of] + within
    # times
    x, y = found.get("stts", (0, 0))
    if not y:
        raise _fail(p, "track has no time-to-sample table", base + a, "stts")
    (tn,) = struct.unpack_from(">I", data, x + 4)
    if x + 8 + 8 * tn > y:
        raise _fail(p, "time-to-sample table cut short", base + x, "stts")
    stts = np.frombuffer(data, ">u4", 2 * tn, x + 8).reshape(-1, 2).astype(np.int64)
    durs = np.repeat(stts[:, 1], stts[:, 0])
    if durs.size < n:
        durs = np.r_[durs, np.full(n - durs.size, durs[-1] if durs.size else 0)]
    durs = durs[:n]
    t = np.r_[0, np.cumsum(durs)[:-1]] / timescale
    return Mp4Track(
        tid, handler, hname, codec, timescale, offsets, sizes, t.astype(np.float64),
        durs / timescale, width, height,
    )  # fmt: skip


def read_samples(path: str | Path, track: Mp4Track) -> list[bytes]:
    """The bytes of every sample of ``track``; a sample past the end of the file (a cut-short
    recording) ends the list."""
    p = Path(path)
    size = p.stat().st_size
    out = []
    with p.open("rb") as fh:
        for off, n in zip(track.offset.tolist(), track.size.tolist(), strict=True):
            if off + n > size:
                break
            fh.seek(off)
            out.append(fh.read(n))
    return out


def embedded_kind(path: str | Path) -> str | None:
    """The telemetry a video file carries inside, from its bytes, or None.

    ``"gopro_gpmf"``, ``"dji_meta"`` (MP4/MOV tracks) or ``"misb_klv_ts"`` (MPEG-TS with a KLV
    stream). A damaged file whose kind is clear from its boxes still gets its kind: reading it
    then says what is wrong.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(188 * 8)
    except OSError:
        return None
    if len(head) >= 188 and head[0] == 0x47:
        from survey.telemetry.mpegts import looks_like_klv_ts

        return "misb_klv_ts" if looks_like_klv_ts(p) else None
    if len(head) < 12 or head[4:8] not in (b"ftyp", b"moov", b"mdat", b"free", b"wide"):
        return None
    try:
        tracks = read_mp4_tracks(p)
    except TelemetryFormatError:
        return _scan_codec(p)
    for t in tracks:
        if t.codec in TELEMETRY_CODECS:
            return TELEMETRY_CODECS[t.codec]
    return None


def _scan_codec(p: Path) -> str | None:
    """A damaged MP4: look for a telemetry sample entry in its last 4 MiB (where moov is)."""
    size = p.stat().st_size
    with p.open("rb") as fh:
        fh.seek(max(0, size - (4 << 20)))
        tail = fh.read()
    for cc, kind in TELEMETRY_CODECS.items():
        if cc.encode() in tail and b"stsd" in tail:
            return kind
    with p.open("rb") as fh:
        head = fh.read(4 << 20)
    if b"DEVC\x00\x01" in head:  # GPMF payloads in an mdat whose index is lost
        return "gopro_gpmf"
    if b"dvtm_" in head and b".proto" in head:  # DJI's first djmd sample names its schema
        return "dji_meta"
    return None
