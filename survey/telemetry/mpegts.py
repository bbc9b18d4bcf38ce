"""MISB ST 0601 KLV demuxed from an MPEG transport stream (STANAG 4609 full-motion video).

A small transport-stream demuxer: 188-byte packets, the PAT and PMT (which PID carries what),
PES packets with their presentation timestamps (PTS, 90 kHz). The KLV metadata stream is the
one of stream type 0x06 with a ``KLVA`` registration descriptor (asynchronous carriage, ST
1402) or stream type 0x15 (synchronous metadata in PES, with its 5-byte access-unit cells).
Each UAS Local Set is decoded by :func:`survey.telemetry.klv.decode_local_set`, and here also
the frame corners (tags 26-33 offsets from the frame centre, 82-89 full corners), slant range
(21) and frame-centre elevation (25).

The track's clock is the video's: ``t_s`` = (KLV PTS - first video PTS) / 90 kHz, so a frame
``i`` at ``i / fps`` needs no sync (``time_base="video"``); the precision time stamp (tag 2,
UTC) is kept in ``extra["t_utc_s"]``. Without a video stream the first KLV PTS is time 0.

:func:`write_klv_ts` writes such a stream (PAT, PMT, KLV PES with PTS, optionally a video PID
of empty access units): the test fixtures and the simulator use it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from survey.telemetry.errors import TelemetryFormatError
from survey.telemetry.klv import UAS_LS_KEY, _ber, _checksum_ok, _int, _map, decode_local_set
from survey.telemetry.track import PoseTrack, SampleFlag

__all__ = [
    "add_klv_to_ts",
    "demux_klv",
    "encode_st0601",
    "looks_like_klv_ts",
    "read_klv_ts",
    "write_klv_ts",
]

TS = 188
_VIDEO_TYPES = {0x01, 0x02, 0x10, 0x1B, 0x24, 0x42}
_PTS_WRAP = 1 << 33


def _crc32_mpeg(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def looks_like_klv_ts(path: str | Path) -> bool:
    """A transport stream whose PMT lists a KLV metadata stream (reads the first 1 MiB)."""
    try:
        with Path(path).open("rb") as fh:
            data = fh.read(1 << 20)
    except OSError:
        return False
    if len(data) < TS or data[0] != 0x47 or (len(data) >= 2 * TS and data[TS] != 0x47):
        return False
    try:
        pmt = _find_pmt(data, Path(path))
    except TelemetryFormatError:
        return False
    return pmt is not None and pmt[0] is not None


def _payload(pkt: bytes) -> tuple[int, bool, bytes]:
    pid = ((pkt[1] & 0x1F) << 8) | pkt[2]
    pusi = bool(pkt[1] & 0x40)
    afc = (pkt[3] >> 4) & 3
    i = 4
    if afc in (2, 3):
        i += 1 + pkt[4]
    if afc in (0, 2) or i > TS:
        return pid, pusi, b""
    return pid, pusi, pkt[i:]


def _section(pl: bytes) -> bytes:
    ptr = pl[0]
    sec = pl[1 + ptr :]
    n = ((sec[1] & 0x0F) << 8) | sec[2]
    return sec[: 3 + n]


def _find_pmt(data: bytes, p: Path) -> tuple[tuple[int, int] | None, int | None] | None:
    """((klv pid, stream type) or None, video pid or None) from the first PAT/PMT, or None."""
    pmt_pids: set[int] = set()
    for k in range(0, len(data) - TS + 1, TS):
        pkt = data[k : k + TS]
        if pkt[0] != 0x47:
            raise TelemetryFormatError(
                "lost MPEG-TS sync (byte 0x47 expected)", path=p, where=f"byte {k}"
            )
        pid, pusi, pl = _payload(pkt)
        if not pusi or not pl:
            continue
        if pid == 0:
            sec = _section(pl)
            for j in range(8, len(sec) - 4, 4):
                prog, ppid = struct.unpack_from(">HH", sec, j)
                if prog:
                    pmt_pids.add(ppid & 0x1FFF)
        elif pid in pmt_pids:
            sec = _section(pl)
            if len(sec) < 16 or sec[0] != 0x02:
                continue
            info = ((sec[10] & 0x0F) << 8) | sec[11]
            j = 12 + info
            klv, video = None, None
            while j + 5 <= len(sec) - 4:
                st, epid, esl = (
                    sec[j],
                    struct.unpack_from(">H", sec, j + 1)[0] & 0x1FFF,
                    (struct.unpack_from(">H", sec, j + 3)[0] & 0x0FFF),
                )
                desc = sec[j + 5 : j + 5 + esl]
                if st == 0x15 or (st == 0x06 and b"KLVA" in desc):
                    klv = klv or (epid, st)
                elif st in _VIDEO_TYPES and video is None:
                    video = epid
                j += 5 + esl
            return klv, video
    return None


def _pts(pes: bytes) -> int | None:
    if len(pes) < 14 or pes[:3] != b"\x00\x00\x01" or not (pes[7] & 0x80):
        return None
    b = pes[9:14]
    return ((b[0] >> 1) & 0x07) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | (b[4] >> 1)


def demux_klv(path: str | Path) -> tuple[list[tuple[int | None, bytes, int]], int | None, int]:
    """(KLV PES payloads as (PTS, bytes, byte offset), first video PTS, stream type)."""
    p = Path(path)
    data = p.read_bytes()
    if len(data) < TS or data[0] != 0x47:
        raise TelemetryFormatError(
            "not an MPEG transport stream (no 0x47 sync byte)", path=p, where="byte 0"
        )
    found = _find_pmt(data, p)
    if found is None or found[0] is None:
        raise TelemetryFormatError(
            "no KLV metadata stream in the PMT (stream type 0x06 with a KLVA registration "
            "descriptor, or 0x15)",
            path=p,
        )
    klv_entry, vpid = found
    assert klv_entry is not None
    kpid, stype = klv_entry
    pes: list[tuple[int | None, bytes, int]] = []
    cur: bytearray | None = None
    cur_at = 0
    v0: int | None = None
    usable = len(data) - len(data) % TS
    for k in range(0, usable, TS):
        if data[k] != 0x47:
            j = data.find(b"\x47", k)
            raise TelemetryFormatError(
                "lost MPEG-TS sync (byte 0x47 expected)"
                + (f"; next candidate at byte {j}" if j >= 0 else ""),
                path=p,
                where=f"byte {k} (packet {k // TS})",
            )
        pid, pusi, pl = _payload(data[k : k + TS])
        if pid == vpid and pusi and v0 is None:
            v0 = _pts(pl)
        if pid != kpid:
            continue
        if pusi:
            if cur is not None:
                pes.append(_pes_body(bytes(cur), cur_at, p))
            cur, cur_at = bytearray(pl), k
        elif cur is not None:
            cur += pl
    if cur is not None:
        pes.append(_pes_body(bytes(cur), cur_at, p))
    return pes, v0, stype


def _pes_body(pes: bytes, at: int, p: Path) -> tuple[int | None, bytes, int]:
    if pes[:3] != b"\x00\x00\x01" or len(pes) < 9:
        raise TelemetryFormatError("PES packet without start code", path=p, where=f"byte {at}")
    hl = pes[8]
    n = struct.unpack_from(">H", pes, 4)[0]
    body = pes[9 + hl : 6 + n] if n else pes[9 + hl :]
    return _pts(pes), body, at


def _strip_au_cells(body: bytes) -> bytes:
    """Stream type 0x15: metadata access-unit cells (5-byte header) -> their payloads."""
    out = bytearray()
    i = 0
    while i + 5 <= len(body):
        n = struct.unpack_from(">H", body, i + 3)[0]
        out += body[i + 5 : i + 5 + n]
        i += 5 + n
    return bytes(out)


# corner items: tag -> (name, signed, lo, hi)
_CORNERS = {
    21: ("slant_range_m", False, 0.0, 5e6),
    25: ("frame_elev_m", False, -900.0, 19000.0),
    26: ("off_lat1", True, -0.075, 0.075),
    27: ("off_lon1", True, -0.075, 0.075),
    28: ("off_lat2", True, -0.075, 0.075),
    29: ("off_lon2", True, -0.075, 0.075),
    30: ("off_lat3", True, -0.075, 0.075),
    31: ("off_lon3", True, -0.075, 0.075),
    32: ("off_lat4", True, -0.075, 0.075),
    33: ("off_lon4", True, -0.075, 0.075),
    82: ("lat1", True, -90.0, 90.0),
    83: ("lon1", True, -180.0, 180.0),
    84: ("lat2", True, -90.0, 90.0),
    85: ("lon2", True, -180.0, 180.0),
    86: ("lat3", True, -90.0, 90.0),
    87: ("lon3", True, -180.0, 180.0),
    88: ("lat4", True, -90.0, 90.0),
    89: ("lon4", True, -180.0, 180.0),
}


def _extra_items(value: bytes) -> dict[str, float]:
    out: dict[str, float] = {}
    i = 0
    while i < len(value):
        tag = value[i]
        length, j = _ber(value, i + 1)
        if tag in _CORNERS and length:
            name, signed, lo, hi = _CORNERS[tag]
            out[name] = _map(_int(value[j : j + length], signed), 8 * length, signed, lo, hi)
        i = j + length
    return out


def read_klv_ts(path: str | Path) -> PoseTrack:
    """Read the MISB ST 0601 metadata of a transport stream into a :class:`PoseTrack`.

    ``extra`` holds ``t_utc_s`` (tag 2), ``pts_s``, ``hfov_deg``/``vfov_deg``,
    ``frame_center_lat_deg``/``_lon_deg``/``frame_center_elev_m``, ``slant_range_m`` and the
    frame corners ``corner_lat_deg`` / ``corner_lon_deg`` (n, 4) (full corners, else the
    offsets added to the frame centre; NaN when absent).
    """
    p = Path(path)
    pes, v0, stype = demux_klv(p)
    rows: list[dict[str, Any]] = []
    pts: list[float] = []
    bad = 0
    warnings: list[str] = []
    for t90, body, at in pes:
        if stype == 0x15:
            body = _strip_au_cells(body)
        i = 0
        while i + 17 <= len(body):
            if body[i : i + 16] != UAS_LS_KEY:
                j = body.find(UAS_LS_KEY, i + 1)
                if j < 0:
                    break
                i = j
                continue
            try:
                length, j = _ber(body, i + 16)
                if j + length > len(body):
                    raise ValueError(f"packet of {length} bytes runs past its PES packet")
                packet = body[i : j + length]
                if _checksum_ok(packet) is False:
                    bad += 1
                    i = j + length
                    continue
                r = decode_local_set(body[j : j + length])
                r.update(_extra_items(body[j : j + length]))
            except (ValueError, IndexError) as exc:
                msg = f"damaged ST 0601 packet ({exc})"
                where = f"PES packet at byte {at}"
                if not rows:
                    raise TelemetryFormatError(msg, path=p, where=where) from exc
                warnings.append(f"{where}: {msg}; skipped")
                break
            rows.append(r)
            pts.append(np.nan if t90 is None else float(t90))
            i = j + length
    if bad:
        warnings.append(f"{bad} KLV packets with a wrong checksum skipped")
    if not rows:
        raise TelemetryFormatError("the KLV stream holds no ST 0601 UAS Local Set", path=p)

    def col(k: str) -> np.ndarray:
        return np.array([r.get(k, np.nan) for r in rows], np.float64)

    pts_a = np.array(pts)
    if np.isfinite(pts_a).any():
        f = np.isfinite(pts_a)
        ref = float(v0) if v0 is not None else float(pts_a[f][0])
        d = pts_a - ref
        d = np.where(d < -_PTS_WRAP / 2, d + _PTS_WRAP, d)  # 33-bit wrap
        t = d / 90000.0
        time_base = "video"
        if v0 is None:
            warnings.append("no video stream: time 0 is the first KLV packet")
    else:
        t = (col("t_us") - np.nanmin(col("t_us"))) * 1e-6
        time_base = "video"
        warnings.append("KLV PES packets carry no PTS: times from the precision time stamp")
    lat, lon = col("lat"), col("lon")
    flags = np.zeros(lat.size, np.uint16)
    flags[~(np.isfinite(lat) & np.isfinite(lon))] |= np.uint16(SampleFlag.NO_POSITION)
    pitch = np.where(np.isfinite(col("pitch_full")), col("pitch_full"), col("pitch"))
    roll = np.where(np.isfinite(col("roll_full")), col("roll_full"), col("roll"))
    alt, alt_ref = col("alt_msl"), "msl"
    if not np.isfinite(alt).any() and np.isfinite(col("alt_hae")).any():
        alt, alt_ref = col("alt_hae"), "ellipsoid"
    has_g = bool(np.isfinite(col("rel_az")).any())
    fc_lat, fc_lon = col("frame_lat"), col("frame_lon")
    clat = np.stack([col(f"lat{k}") for k in range(1, 5)], 1)
    clon = np.stack([col(f"lon{k}") for k in range(1, 5)], 1)
    olat = np.stack([col(f"off_lat{k}") for k in range(1, 5)], 1) + fc_lat[:, None]
    olon = np.stack([col(f"off_lon{k}") for k in range(1, 5)], 1) + fc_lon[:, None]
    clat = np.where(np.isfinite(clat), clat, olat)
    clon = np.where(np.isfinite(clon), clon, olon)
    texts: dict[str, str] = {
        k: str(r[k])
        for r in rows
        for k in ("mission_id", "tail_number", "platform", "sensor")
        if k in r
    }
    texts["container"] = "mpegts"
    texts["klv_stream_type"] = f"0x{stype:02X}"
    # ST 0601 has no height above take-off: the height above the ground at the frame centre
    # (sensor altitude minus tag 25) stands in for it, so flat-ground georeferencing puts each
    # frame's ground through its own centre
    elev = col("frame_elev_m")
    rel = alt - elev if alt_ref == "msl" else np.full(alt.size, np.nan)
    if np.isfinite(rel).any():
        warnings.append(
            "rel_alt_m is the height above the frame centre's ground (sensor altitude minus "
            "ST 0601 tag 25): KLV carries no take-off height"
        )
    o = np.argsort(t, kind="stable")
    tr = PoseTrack.build(
        t,
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        rel_alt_m=rel,
        roll_deg=roll,
        pitch_deg=pitch,
        yaw_deg=col("heading"),
        gimbal_yaw_deg=col("rel_az") if has_g else None,
        gimbal_pitch_deg=col("rel_el") if has_g else None,
        gimbal_roll_deg=col("rel_roll") if has_g else None,
        gimbal_mode="relative" if has_g else "none",
        speed_mps=col("ground_speed"),
        flags=flags,
        alt_ref=alt_ref,  # type: ignore[arg-type]
        time_base=time_base,  # type: ignore[arg-type]
        kind="misb_klv_ts",
        source=str(p),
        warnings=warnings,
        meta=texts,
        extra={
            "t_utc_s": col("t_us") * 1e-6,
            "pts_s": pts_a / 90000.0,
            "hfov_deg": col("hfov"),
            "vfov_deg": col("vfov"),
            "frame_center_lat_deg": fc_lat,
            "frame_center_lon_deg": fc_lon,
            "frame_center_elev_m": col("frame_elev_m"),
            "slant_range_m": col("slant_range_m"),
            "corner_lat_deg": clat,
            "corner_lon_deg": clon,
        },
    )
    return tr[o]


# ------------------------------------------------------------------------------ writer


def _ts_packets(pid: int, payload: bytes, cc: list[int], pusi: bool = True) -> bytes:
    out = bytearray()
    first = True
    while payload or first:
        chunk = payload[:184]
        payload = payload[184:]
        head = bytes([0x47, (0x40 if (first and pusi) else 0) | (pid >> 8), pid & 0xFF])
        if len(chunk) < 184:  # stuff with an adaptation field
            pad = 184 - len(chunk) - 1
            af = bytes([pad]) + (bytes([0x00]) + b"\xff" * (pad - 1) if pad > 0 else b"")
            out += head + bytes([0x30 | cc[0]]) + af + chunk
        else:
            out += head + bytes([0x10 | cc[0]]) + chunk
        cc[0] = (cc[0] + 1) & 0x0F
        first = False
    return bytes(out)


def _psi(table_id: int, ext: int, body: bytes) -> bytes:
    n = len(body) + 5 + 4
    sec = (
        bytes([table_id, 0xB0 | (n >> 8), n & 0xFF])
        + struct.pack(">H", ext)
        + b"\xc1\x00\x00"
        + body
    )
    return b"\x00" + sec + struct.pack(">I", _crc32_mpeg(sec))


def _pes(stream_id: int, pts: int, body: bytes) -> bytes:
    p = bytes(
        [
            0x21 | ((pts >> 29) & 0x0E),
            (pts >> 22) & 0xFF,
            0x01 | ((pts >> 14) & 0xFE),
            (pts >> 7) & 0xFF,
            0x01 | ((pts << 1) & 0xFE),
        ]
    )
    hdr = bytes([0x80, 0x80, 5]) + p
    n = len(hdr) + len(body)
    return (
        b"\x00\x00\x01" + bytes([stream_id]) + struct.pack(">H", n if n < 65536 else 0) + hdr + body
    )


def write_klv_ts(
    path: str | Path,
    packets: Sequence[bytes],
    pts_s: Sequence[float],
    *,
    video_pts_s: Sequence[float] | None = None,
    video_pid: int = 0x100,
    klv_pid: int = 0x101,
) -> Path:
    """Write KLV ``packets`` (each a whole UAS Local Set) at ``pts_s`` into a transport stream.

    With ``video_pts_s`` a video PID (H.264 stream type, empty access units) gives the video
    clock: time 0 is its first PTS. PTS are offset by 10 s (as real encoders start above 0).
    """
    p = Path(path)
    cc: dict[int, list[int]] = {0: [0], 0x1000: [0], video_pid: [0], klv_pid: [0]}
    pat = _psi(0x00, 1, struct.pack(">HH", 1, 0xE000 | 0x1000))
    es = b""
    if video_pts_s is not None:
        es += bytes([0x1B]) + struct.pack(">HH", 0xE000 | video_pid, 0xF000)
    reg = b"\x05\x04KLVA"
    es += bytes([0x06]) + struct.pack(">HH", 0xE000 | klv_pid, 0xF000 | len(reg)) + reg
    pcr = video_pid if video_pts_s is not None else klv_pid
    pmt = _psi(0x02, 1, struct.pack(">HH", 0xE000 | pcr, 0xF000) + es)
    base = 900000
    events: list[tuple[float, int, bytes]] = []
    for t, pk in zip(pts_s, packets, strict=True):
        events.append((float(t), 1, pk))
    for t in () if video_pts_s is None else video_pts_s:
        events.append((float(t), 0, b"\x00\x00\x00\x01\x09\xf0"))
    events.sort(key=lambda e: (e[0], e[1]))
    out = bytearray()
    out += _ts_packets(0, pat, cc[0]) + _ts_packets(0x1000, pmt, cc[0x1000])
    for t, kind, body in events:
        pts = (base + round(t * 90000)) % _PTS_WRAP
        if kind == 0:
            out += _ts_packets(video_pid, _pes(0xE0, pts, body), cc[video_pid])
        else:
            out += _ts_packets(klv_pid, _pes(0xBD, pts, body), cc[klv_pid])
    p.write_bytes(bytes(out))
    return p


#: ST 0601 item sizes (bytes) the encoder writes
_SIZES = {5: 2, 13: 4, 14: 4, 15: 2, 16: 2, 17: 2, 18: 4, 19: 4, 20: 4, 21: 4, 23: 4, 24: 4,
          25: 2, 82: 4, 83: 4, 84: 4, 85: 4, 86: 4, 87: 4, 88: 4, 89: 4, 90: 4, 91: 4}  # fmt: skip


def _ber_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def encode_st0601(items: dict[int, float], t_utc_us: int, ground_speed_mps: float | None = None
                  ) -> bytes:  # fmt: skip
    """One UAS Local Set packet (key, BER length, tag 2 time stamp, ``items`` by tag with the
    standard's linear mappings, ground speed, tag 1 checksum): the inverse of
    :func:`survey.telemetry.klv.decode_local_set` and this module's corner items. NaN values
    are left out. For tests and the simulator."""
    from survey.telemetry.klv import _MAPPED

    body = bytearray(b"\x02\x08" + struct.pack(">Q", int(t_utc_us)))
    for tag, val in items.items():
        if not np.isfinite(val):
            continue
        name, signed, lo, hi = _MAPPED.get(tag) or _CORNERS[tag]
        n = _SIZES[tag]
        bits = 8 * n
        if signed:
            raw = int(round(val * ((1 << (bits - 1)) - 1) / ((hi - lo) / 2)))
            raw = max(-(1 << (bits - 1)) + 1, min((1 << (bits - 1)) - 1, raw))
        else:
            raw = int(round((val - lo) * ((1 << bits) - 1) / (hi - lo)))
            raw = max(0, min((1 << bits) - 1, raw))
        body += bytes([tag, n]) + raw.to_bytes(n, "big", signed=signed)
    if ground_speed_mps is not None and np.isfinite(ground_speed_mps):
        body += bytes([56, 1, max(0, min(255, int(round(ground_speed_mps))))])
    body += b"\x01\x02"
    head = UAS_LS_KEY + _ber_len(len(body) + 2)
    pkt = head + bytes(body)
    s = 0
    for k, b in enumerate(pkt):
        s += b << (8 * ((k + 1) % 2))
    return pkt + struct.pack(">H", s & 0xFFFF)


def add_klv_to_ts(
    path: str | Path, packets: Sequence[bytes], t_s: Sequence[float] | np.ndarray
) -> Path:
    """Add a KLV metadata stream (stream type 0x06, ``KLVA`` registration descriptor) to an
    existing single-program transport stream (as OpenCV/FFmpeg write it): KLV packet ``k`` is
    given the PTS of the first video PES plus ``t_s[k]`` and is interleaved before the first
    video PES at or after that time. The PMT is rewritten to list the new PID."""
    p = Path(path)
    data = p.read_bytes()
    n_pk = len(data) // TS
    pmt_pid: int | None = None
    pmt_sec: bytes | None = None
    vpid: int | None = None
    v0: int | None = None
    for k in range(n_pk):
        pid, pusi, pl = _payload(data[k * TS : (k + 1) * TS])
        if not pusi or not pl:
            continue
        if pid == 0 and pmt_pid is None:
            sec = _section(pl)
            for j in range(8, len(sec) - 4, 4):
                prog, ppid = struct.unpack_from(">HH", sec, j)
                if prog:
                    pmt_pid = ppid & 0x1FFF
                    break
        elif pid == pmt_pid and pmt_sec is None:
            pmt_sec = _section(pl)
            info = ((pmt_sec[10] & 0x0F) << 8) | pmt_sec[11]
            j = 12 + info
            while j + 5 <= len(pmt_sec) - 4:
                st = pmt_sec[j]
                epid = struct.unpack_from(">H", pmt_sec, j + 1)[0] & 0x1FFF
                if st in _VIDEO_TYPES and vpid is None:
                    vpid = epid
                j += 5 + (struct.unpack_from(">H", pmt_sec, j + 3)[0] & 0x0FFF)
        elif pid == vpid and v0 is None:
            v0 = _pts(pl)
        if v0 is not None:
            break
    if pmt_pid is None or pmt_sec is None or vpid is None or v0 is None:
        raise ValueError(f"{p}: not a transport stream with a PAT, a PMT and a video PID")
    used = {_payload(data[k * TS : (k + 1) * TS])[0] for k in range(n_pk)}
    kpid = next(x for x in range(0x101, 0x1FFF) if x not in used)
    reg = b"\x05\x04KLVA"
    es = bytes([0x06]) + struct.pack(">HH", 0xE000 | kpid, 0xF000 | len(reg)) + reg
    n_sec = ((pmt_sec[1] & 0x0F) << 8) | pmt_sec[2]
    body = pmt_sec[3 : 3 + n_sec - 4]  # program number .. last ES entry, without CRC
    new_pmt = _psi(0x02, struct.unpack_from(">H", body, 0)[0], body[5:] + es)
    cc_pmt, cc_klv = [0], [0]
    order = np.argsort(np.asarray(t_s, np.float64), kind="stable")
    queue = [(v0 + round(float(t_s[i]) * 90000), packets[i]) for i in order]
    qi = 0
    out = bytearray()
    for k in range(n_pk):
        pkt = data[k * TS : (k + 1) * TS]
        pid, pusi, pl = _payload(pkt)
        if pid == pmt_pid:
            if pusi:
                out += _ts_packets(pmt_pid, new_pmt, cc_pmt)
            continue
        if pid == vpid and pusi:
            pts = _pts(pl)
            while qi < len(queue) and pts is not None and queue[qi][0] <= pts:
                t90, body_k = queue[qi]
                out += _ts_packets(kpid, _pes(0xBD, t90 % _PTS_WRAP, body_k), cc_klv)
                qi += 1
        out += pkt
    for t90, body_k in queue[qi:]:
        out += _ts_packets(kpid, _pes(0xBD, t90 % _PTS_WRAP, body_k), cc_klv)
    p.write_bytes(bytes(out))
    return p
