"""What a flight folder holds, and how its media will be paired with telemetry.

An operator copies a flight's files to disk as the aircraft and cameras wrote them: videos with
their DJI ``.SRT`` subtitles, RGB stills, radiometric thermal files (FLIR/DJI R-JPEG, SEQ/CSQ/
FFF, radiometric TIFF), autopilot logs (``.tlog``, DataFlash ``.bin``, ``.ulg``, CSV, GPX, KML,
NMEA, KLV) and, optionally, the asset line (``asset.geojson``). :func:`discover_flight` walks
the folder (recursively, hidden folders and processing runs left out), recognises each file
from its first bytes, groups media into **streams** (one per video; stills and thermal files
per camera) and pairs each stream with its pose source:

* a **flight log** when there is one (the one with the most usable positions and attitude
  channels is the reference), with the stream's clock tied to it: videos by laying the SRT's
  positions onto the log's track (or image motion against ground speed when there is no
  SRT), stills and thermal files by matching them to the log's camera events (or their EXIF
  positions onto the track);
* else the media's **own metadata**: the SRT of a video, the EXIF/XMP of stills and R-JPEGs.

A stream with neither (a video without SRT in a folder without logs) cannot be located: that
is an error naming the file. :func:`describe_flight_dir` is the ``survey inspect`` describer of
flight folders: it shows this plan without processing anything.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> describe_flight_dir(d) is None   # an empty folder is not a flight
True
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from survey.errors import SurveyError

__all__ = [
    "FlightError",
    "FlightFolder",
    "LogFile",
    "MediaFile",
    "MediaStream",
    "describe_flight_dir",
    "discover_flight",
]

log = logging.getLogger(__name__)

MediaKind = Literal["video", "still", "thermal"]
VIDEO_EXT = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".ts", ".mts"}
IMAGE_EXT = {".jpg", ".jpeg", ".tif", ".tiff", ".dng"}
THERMAL_SEQ_EXT = {".seq", ".csq", ".fff"}
ASSET_NAMES = {"asset.geojson", "asset.gpkg", "asset.shp", "asset.fgb", "asset.kml"}
#: folders never looked into: processing runs and the simulator's ground truth
_SKIP_MARKERS = ("stages", "run.json")
_HEAD = 256 * 1024
UNREADABLE = "unreadable image"


class FlightError(SurveyError, ValueError):
    """The folder is not a flight, or some of its media cannot be located."""


@dataclass(frozen=True)
class MediaFile:
    """One media file: a video, an RGB still or a radiometric thermal file."""

    path: Path
    kind: MediaKind
    size_bytes: int
    camera: str = ""  #: "Make Model" when the file says (stills, thermal)
    sidecar: Path | None = None  #: a video's SRT
    #: telemetry inside the video (``gopro_gpmf``, ``misb_klv_ts``, ``dji_meta``), if any
    embedded: str | None = None


@dataclass(frozen=True)
class LogFile:
    """A telemetry file and its kind (``survey.telemetry.sniff_kind``)."""

    path: Path
    kind: str
    size_bytes: int


@dataclass(frozen=True)
class MediaStream:
    """Media analysed together: one video, or the stills (or thermal files) of one camera.

    ``pose_source`` is ``"log"`` (poses from the reference log, clock tied by ``sync``) or
    ``"media"`` (the stream's own SRT/EXIF positions and angles).
    """

    stream_id: str
    kind: MediaKind
    files: tuple[MediaFile, ...]
    camera: str
    pose_source: Literal["log", "media"]
    sync: str

    @property
    def n_files(self) -> int:
        return len(self.files)


@dataclass(frozen=True)
class FlightFolder:
    """What :func:`discover_flight` found (paths are absolute)."""

    root: Path
    media: tuple[MediaFile, ...]
    logs: tuple[LogFile, ...]
    orphan_srts: tuple[Path, ...] = ()
    asset: Path | None = None
    ignored: tuple[tuple[Path, str], ...] = ()
    warnings: tuple[str, ...] = ()

    def of_kind(self, kind: MediaKind) -> tuple[MediaFile, ...]:
        """The media files of one kind, in path order."""
        return tuple(m for m in self.media if m.kind == kind)

    @property
    def reference_log(self) -> LogFile | None:
        """The log poses come from by default: autopilot logs before track-only formats,
        larger files (more samples) first. The poses stage re-checks it by reading."""
        if not self.logs:
            return None
        rank = {
            "mavlink_tlog": 0,
            "ardupilot_dataflash": 0,
            "px4_ulog": 0,
            "csv": 1,
            "misb_klv": 2,
            "gpx": 3,
            "kml": 3,
            "nmea": 3,
        }
        return sorted(self.logs, key=lambda lf: (rank.get(lf.kind, 4), -lf.size_bytes))[0]

    def streams(self) -> list[MediaStream]:
        """Media grouped into streams, each with its planned pose source and clock sync."""
        has_log = bool(self.logs)
        out: list[MediaStream] = []
        for i, v in enumerate(self.of_kind("video")):
            emb = f"; its embedded {v.embedded} track is not used" if v.embedded else ""
            if has_log:
                if v.sidecar is not None:
                    sync = "SRT positions laid onto the log's track" + emb
                elif v.embedded:
                    sync = f"the embedded {v.embedded} track's positions laid onto the log's track"
                else:
                    sync = "image motion against the log's ground speed (no SRT)"
            elif v.sidecar is not None:
                sync = "the SRT's own positions and gimbal angles (no flight log)" + emb
            else:
                sync = (
                    f"the video's embedded {v.embedded} track (no SRT, no flight log; frames "
                    "on the camera's own clock)"
                )
            out.append(
                MediaStream(
                    f"video{i + 1}",
                    "video",
                    (v,),
                    v.camera,
                    "log" if has_log else "media",
                    sync,
                )
            )
        for kind in ("still", "thermal"):
            groups: dict[str, list[MediaFile]] = {}
            for m in self.of_kind(kind):
                groups.setdefault(m.camera, []).append(m)
            for j, (cam, files) in enumerate(sorted(groups.items())):
                sync = (
                    "camera trigger events in the log (else EXIF positions onto the track)"
                    if has_log
                    else "EXIF/XMP positions and gimbal angles (no flight log)"
                )
                out.append(
                    MediaStream(
                        f"{kind}s{j + 1}" if kind == "still" else f"thermal{j + 1}",
                        kind,
                        tuple(files),
                        cam,
                        "log" if has_log else "media",
                        sync,
                    )
                )
        return out

    def check_locatable(self) -> None:
        """Raise :class:`FlightError` naming every stream that has no pose source at all."""
        if self.logs:
            return
        bad = [
            str(v.path)
            for v in self.of_kind("video")
            if v.sidecar is None and v.embedded not in ("gopro_gpmf", "misb_klv_ts", "dji_meta")
        ]
        if bad:
            raise FlightError(
                "these videos have no SRT subtitle file and the folder has no flight log, so "
                f"their frames cannot be located: {', '.join(bad)}; copy the SRT files or the "
                "autopilot log (.tlog, .bin, .ulg, flight-record CSV) into the folder",
                path=self.root,
            )


# ---------------------------------------------------------------------------------------------
# recognising files


def _walk(root: Path) -> Iterator[Path]:
    for p in sorted(root.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_dir():
            if all((p / m).exists() for m in _SKIP_MARKERS):
                continue  # a processing run
            if p.name == "truth" and (p / "scenario.json").is_file():
                continue  # the simulator's ground truth is not flight data
            yield from _walk(p)
        elif p.is_file():
            yield p


def _jpeg_kind(head: bytes) -> Literal["still", "thermal"]:
    """A JPEG with FLIR FFF records or DJI thermal data is a radiometric thermal file."""
    if b"FLIR\x00\x01" in head or b"DTAT" in head[:65536]:
        return "thermal"
    return "still"


def _tiff_kind(path: Path) -> Literal["still", "thermal"]:
    """A single-band 16-bit TIFF is radiometric (TLinear); anything else is a still."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tf:
            page = tf.pages[0]
            shape, dtype = page.shape, page.dtype
    except (tifffile.TiffFileError, OSError, ValueError, IndexError):
        return "still"
    return "thermal" if len(shape) == 2 and dtype is not None and dtype.itemsize == 2 else "still"


def _camera_of(path: Path) -> str:
    """``Make Model`` from a photo's EXIF (cheap: Pillow reads only the header)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            exif = im.getexif()
            w, h = im.size
    except (UnidentifiedImageError, OSError, ValueError):
        return UNREADABLE
    name = " ".join(str(exif.get(t, "")).strip("\x00 ") for t in (271, 272)).strip()
    return f"{name or 'camera'} {w}x{h}"


def discover_flight(path: str | Path) -> FlightFolder:
    """Walk a flight folder and recognise every file (see the module docstring).

    Raises
    ------
    FlightError
        The path is not a folder, or it holds no media (video, stills, thermal files).
    """
    from survey.telemetry.read import sniff_kind

    root = Path(path).absolute()
    if not root.is_dir():
        raise FlightError("not a folder; expected a flight folder", path=root)
    media: list[MediaFile] = []
    logs: list[LogFile] = []
    srts: dict[str, Path] = {}
    ignored: list[tuple[Path, str]] = []
    asset: Path | None = None
    warnings: list[str] = []
    for p in _walk(root):
        ext = p.suffix.lower()
        size = p.stat().st_size
        if size == 0:
            ignored.append((p, "empty file"))
            warnings.append(f"{p}: empty file, ignored")
            continue
        if p.name.lower() in ASSET_NAMES:
            asset = p
            continue
        if ext == ".srt":
            srts[str(p.with_suffix("")).lower()] = p
            continue
        if ext in VIDEO_EXT:
            from survey.telemetry.container import embedded_kind

            media.append(
                MediaFile(
                    p, "video", size, camera=f"video {p.suffix.upper()[1:]}",
                    embedded=embedded_kind(p),
                )
            )  # fmt: skip
            continue
        if ext in THERMAL_SEQ_EXT:
            media.append(MediaFile(p, "thermal", size, camera="FLIR sequence"))
            continue
        if ext in IMAGE_EXT:
            with p.open("rb") as fh:
                head = fh.read(_HEAD)
            if head[:2] == b"\xff\xd8":
                kind = _jpeg_kind(head)
            elif ext in (".tif", ".tiff"):
                kind = _tiff_kind(p)
            else:
                kind = "still"
            cam = _camera_of(p)
            if cam == UNREADABLE:
                warnings.append(f"{p}: not a readable image (corrupt or not JPEG/TIFF data)")
            media.append(MediaFile(p, kind, size, camera=cam))
            continue
        try:
            k = sniff_kind(p)
        except OSError as exc:
            ignored.append((p, f"unreadable: {exc.strerror}"))
            warnings.append(f"{p}: unreadable ({exc.strerror}), ignored")
            continue
        if k is not None and k not in ("photo", "dji_srt"):
            logs.append(LogFile(p, k, size))
        else:
            ignored.append((p, "not media, telemetry or asset geometry"))
    # pair videos with their SRT by name (DJI_0001.MP4 + DJI_0001.SRT)
    paired: set[Path] = set()
    out_media: list[MediaFile] = []
    for m in media:
        if m.kind == "video":
            srt = srts.get(str(m.path.with_suffix("")).lower())
            if srt is not None:
                paired.add(srt)
                m = MediaFile(m.path, m.kind, m.size_bytes, m.camera, srt, m.embedded)
            elif m.embedded:
                pass  # located by its own embedded track
            else:
                warnings.append(f"{m.path}: no SRT subtitle file beside the video")
        out_media.append(m)
    orphans = tuple(sorted(set(srts.values()) - paired))
    for s in orphans:
        warnings.append(f"{s}: SRT without a video of the same name (its positions are unused)")
    if not out_media:
        raise FlightError(
            "no media found (videos, RGB stills or radiometric thermal files)"
            + (f"; found {len(logs)} log file(s)" if logs else ""),
            path=root,
        )
    return FlightFolder(
        root, tuple(out_media), tuple(logs), orphans, asset, tuple(ignored), tuple(warnings)
    )


def describe_flight_dir(path: Path) -> dict[str, Any] | None:
    """``survey inspect`` describer: a flight folder's media, logs and processing plan."""
    p = Path(path)
    if not p.is_dir():
        return None
    try:
        flight = discover_flight(p)
    except FlightError:
        return None
    warnings = list(flight.warnings)
    try:
        flight.check_locatable()
    except FlightError as exc:
        warnings.append(exc.message)
    ref = _reference_log(flight, warnings)
    streams, plan = [], []
    for s in flight.streams():
        total = sum(f.size_bytes for f in s.files)
        poses = f"log {ref.path.name}" if s.pose_source == "log" and ref else "own metadata"
        entry: dict[str, Any] = {
            "stream": s.stream_id,
            "kind": s.kind,
            "files": s.n_files,
            "camera": s.camera,
            "size_mb": round(total / 1e6, 1),
            "poses": poses,
            "clock": s.sync,
        }
        what = f"{s.n_files} {s.kind} file(s), {s.camera}"
        if s.kind == "video":
            v = s.files[0]
            entry["file"] = str(v.path.relative_to(flight.root))
            entry["srt"] = str(v.sidecar.relative_to(flight.root)) if v.sidecar else None
            entry["embedded_telemetry"] = v.embedded
            what = f"{entry['file']}" + (f" + {entry['srt']}" if entry["srt"] else " (no SRT)")
            if v.embedded:
                what += f", embedded {v.embedded} track"
            if s.pose_source == "media":
                poses = "SRT" if v.sidecar else f"embedded {v.embedded} track"
                entry["poses"] = poses
        plan.append(entry)
        streams.append(f"{s.stream_id}: {what}, {total / 1e6:.1f} MB; poses from {poses}; "
                       f"clock: {s.sync}")  # fmt: skip
    return {
        "kind": "flight_folder",
        "media": {k: len(flight.of_kind(k)) for k in ("video", "still", "thermal")},
        "logs": [f"{lf.path.relative_to(flight.root)} ({lf.kind})" for lf in flight.logs],
        "reference_log": str(ref.path.relative_to(flight.root)) if ref else None,
        "asset": str(flight.asset.relative_to(flight.root)) if flight.asset else None,
        "streams": streams,
        "plan": plan,
        "ignored": [f"{q.relative_to(flight.root)}: {why}" for q, why in flight.ignored],
        "stages": list(STAGE_NAMES),
        "warnings": warnings,
    }


def _reference_log(flight: FlightFolder, warnings: list[str]) -> LogFile | None:
    """The log ``survey process`` would use (it reads the logs; unreadable ones are warned)."""
    from survey.config import Config
    from survey.process.poses import read_reference_log

    found = read_reference_log(flight, Config(), warnings)
    return found[0] if found else None


#: the stages ``survey process`` runs (kept here so ``inspect`` needs no heavy import)
STAGE_NAMES: tuple[str, ...] = (
    "discover",
    "poses",
    "select",
    "detect",
    "thermal",
    "imagery",
    "georef",
    "chainage",
    "fuse",
    "store",
    "report",
)
