"""One entry point for every flight-log kind: :func:`read_track`.

The kind is recognised from the file's first bytes (magic numbers, headers, XML roots), with
the extension only as a tie-breaker, then the matching reader runs and the sanity filters flag
what is implausible.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from survey.config import TelemetryConfig
from survey.telemetry.budget import bounded_enabled, run_bounded
from survey.telemetry.errors import NoPositionError, TelemetryFormatError, UnknownTelemetryError
from survey.telemetry.track import PoseTrack

__all__ = ["BOUNDED_KINDS", "READERS", "read_kind", "read_track", "sniff_kind"]

log = logging.getLogger(__name__)

_HEAD = 4096


def _reader(kind: str) -> Callable[[Path], PoseTrack]:
    if kind == "dji_srt":
        from survey.telemetry.srt import read_srt

        return read_srt
    if kind == "ardupilot_dataflash":
        from survey.telemetry.dataflash import read_dataflash

        return read_dataflash
    if kind == "mavlink_tlog":
        from survey.telemetry.tlog import read_tlog

        return read_tlog
    if kind == "px4_ulog":
        from survey.telemetry.ulog import read_ulog

        return read_ulog
    if kind in ("csv",):
        from survey.telemetry.csvlogs import read_csv_log

        return read_csv_log
    if kind == "gpx":
        from survey.telemetry.gpsformats import read_gpx

        return read_gpx
    if kind == "kml":
        from survey.telemetry.gpsformats import read_kml

        return read_kml
    if kind == "nmea":
        from survey.telemetry.gpsformats import read_nmea

        return read_nmea
    if kind == "misb_klv":
        from survey.telemetry.klv import read_klv

        return read_klv
    if kind == "gopro_gpmf":
        from survey.telemetry.gpmf import read_gpmf

        return read_gpmf
    if kind == "misb_klv_ts":
        from survey.telemetry.mpegts import read_klv_ts

        return read_klv_ts
    if kind == "dji_meta":
        from survey.telemetry.djmd import read_djmd

        return read_djmd
    if kind == "photo":
        from survey.telemetry.photos import read_photos

        return lambda p: read_photos([p], source=str(p))
    raise UnknownTelemetryError(f"no reader for kind {kind!r}")


#: Kinds :func:`read_track` reads.
READERS = (
    "dji_srt",
    "ardupilot_dataflash",
    "mavlink_tlog",
    "px4_ulog",
    "csv",
    "gpx",
    "kml",
    "nmea",
    "misb_klv",
    "gopro_gpmf",
    "misb_klv_ts",
    "dji_meta",
    "photo",
)


#: Kinds parsed by third-party libraries that can loop on a corrupt file: run under a time
#: and size budget in a child process (:mod:`survey.telemetry.budget`).
BOUNDED_KINDS = ("px4_ulog", "mavlink_tlog", "ardupilot_dataflash")


def read_kind(path: str | Path, kind: str) -> PoseTrack:
    """Read ``path`` with the reader of ``kind``, unchecked; third-party parsers under a budget.

    The kinds in :data:`BOUNDED_KINDS` run in a child process that is killed after
    :func:`survey.telemetry.budget.budget_s` seconds, so a corrupt file that makes the parser
    loop becomes a :class:`TelemetryFormatError` naming the file instead of a hang.
    """
    p = Path(path)
    if p.is_dir():
        raise UnknownTelemetryError("a folder, not a flight log", path=p)
    if not p.exists():
        raise UnknownTelemetryError("no such file", path=p)
    fn = _guarded(_reader(kind), kind)
    if kind in BOUNDED_KINDS and bounded_enabled():
        return run_bounded(fn, p, what=f"{kind} parser")
    return fn(p)


#: What parsers (ours, pyulog, pymavlink, xml, csv, struct, numpy) raise on damaged bytes.
_PARSER_ERRORS = (
    ValueError,
    LookupError,  # IndexError, KeyError, an XML file declaring an unknown encoding
    OverflowError,
    BufferError,
    ZeroDivisionError,
    TypeError,
    AttributeError,
    EOFError,
    MemoryError,
    RecursionError,
    OSError,
)


class _Guarded:
    """``fn(path)`` with any parser failure turned into a TelemetryFormatError (picklable)."""

    def __init__(self, fn: Callable[[Path], PoseTrack], kind: str) -> None:
        self.fn, self.kind = fn, kind

    def __call__(self, p: Path) -> PoseTrack:
        from survey.errors import SurveyError

        try:
            return self.fn(p)
        except SurveyError:
            raise
        except _PARSER_ERRORS as exc:
            raise TelemetryFormatError(
                f"damaged {self.kind} file: the parser failed ({type(exc).__name__}: {exc})",
                path=p,
            ) from exc


def _guarded(fn: Callable[[Path], PoseTrack], kind: str) -> Callable[[Path], PoseTrack]:
    return _Guarded(fn, kind)


def sniff_kind(path: str | Path) -> str | None:
    """The flight-log kind of a file from its first bytes, or None when it is none of them."""
    from survey.telemetry.dataflash import DATAFLASH_MAGIC
    from survey.telemetry.gpsformats import looks_like_nmea
    from survey.telemetry.klv import looks_like_klv
    from survey.telemetry.photos import looks_like_photo
    from survey.telemetry.srt import looks_like_srt
    from survey.telemetry.tlog import looks_like_tlog
    from survey.telemetry.ulog import ULOG_MAGIC

    p = Path(path)
    if not p.is_file():
        return None
    with p.open("rb") as fh:
        head = fh.read(_HEAD)
    ext = p.suffix.lower()
    if head.startswith(ULOG_MAGIC):
        return "px4_ulog"
    if head.startswith(DATAFLASH_MAGIC):
        return "ardupilot_dataflash"
    if looks_like_klv(head):
        return "misb_klv"
    if head[4:8] == b"ftyp" or (head[:1] == b"\x47" and head[188:189] == b"\x47"):
        from survey.telemetry.container import embedded_kind

        return embedded_kind(p)  # telemetry inside a video (GPMF, DJI meta, KLV in TS)
    if looks_like_tlog(head):
        return "mavlink_tlog"
    if looks_like_photo(head):
        return "photo"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<?xml") or text.startswith(b"<"):
        low = text[:2048].lower()
        if b"<gpx" in low:
            return "gpx"
        if b"<kml" in low:
            return "kml"
        return None
    if looks_like_nmea(head):
        return "nmea"
    if ext == ".srt" or looks_like_srt(head):
        return "dji_srt" if looks_like_srt(head) or ext == ".srt" else None
    if ext in (".csv", ".txt", ".tsv"):
        from survey.telemetry.csvlogs import csv_layout

        first = text.split(b"\n", 1)[0].decode("utf-8", errors="replace")
        for sep in (",", ";", "\t"):
            if csv_layout([h.strip().strip('"') for h in first.split(sep)]):
                return "csv"
    return None


def read_track(
    path: str | Path,
    *,
    kind: str | None = None,
    config: TelemetryConfig | None = None,
    check: bool = True,
    require_position: bool = True,
) -> PoseTrack:
    """Read any supported flight log into a :class:`PoseTrack`, sanity-checked.

    Parameters
    ----------
    path : str or Path
        The log: DJI SRT, ArduPilot ``.bin``, MAVLink ``.tlog``, PX4 ``.ulg``, DJI flight-record
        or labelled CSV, exiftool CSV, GPX, KML, NMEA, MISB KLV, or one geotagged photo.
    kind : str, optional
        Skip recognition (one of :data:`READERS`).
    config : TelemetryConfig, optional
        Sanity-filter thresholds.
    check : bool
        Run :func:`survey.telemetry.sanity.check_track` (flags glitches; drops nothing).
    require_position : bool
        Raise :class:`NoPositionError` when no sample has a usable position.

    Raises
    ------
    UnknownTelemetryError
        The file is none of the kinds above.
    TelemetryFormatError
        The file is of a known kind but cannot be read; the message says where and why.
    NoPositionError
        ``require_position`` and nothing to locate frames with.
    """
    from survey.telemetry.sanity import check_track

    p = Path(path)
    k = kind or sniff_kind(p)
    if k is None:
        raise UnknownTelemetryError(
            "not a flight log survey reads (DJI SRT, DataFlash .bin, .tlog, .ulg, CSV with "
            "latitude/longitude columns, GPX, KML, NMEA, MISB KLV, geotagged photo, video with GoPro GPMF or MISB KLV in MPEG-TS)",
            path=p,
        )
    track = read_kind(p, k)
    if check:
        track = check_track(track, config)
    if require_position and not track.position_ok.any():
        raise NoPositionError(
            f"no sample with a usable position ({len(track)} samples: "
            + (", ".join(f"{v} {k}" for k, v in track.flag_counts().items()) or "none")
            + ")",
            path=p,
        )
    return track
