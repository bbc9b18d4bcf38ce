"""Flight telemetry: every log format read into one :class:`PoseTrack`, poses at any time, clock sync.

Read any log with :func:`read_track` (DJI SRT, ArduPilot DataFlash, MAVLink tlog, PX4 ULog,
DJI flight-record / exiftool / labelled CSV, GPX, KML, NMEA, MISB ST 0601 KLV, geotagged
photos), interpolate with :func:`pose_at`, and tie camera clocks to the log with
:func:`match_events`, :func:`estimate_offset_by_tracks`, :func:`estimate_offset_by_correlation`,
:func:`srt_frame_clock` and :func:`video_wall_clock`. Names are imported lazily.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "PoseTrack": "survey.telemetry.track",
    "CameraEvents": "survey.telemetry.track",
    "SampleFlag": "survey.telemetry.track",
    "POSITION_BAD": "survey.telemetry.track",
    "read_track": "survey.telemetry.read",
    "sniff_kind": "survey.telemetry.read",
    "check_track": "survey.telemetry.sanity",
    "pose_at": "survey.telemetry.interp",
    "interp_angles": "survey.telemetry.interp",
    "Poses": "survey.telemetry.interp",
    "ClockOffset": "survey.telemetry.sync",
    "FrameClock": "survey.telemetry.sync",
    "match_events": "survey.telemetry.sync",
    "assign_event_times": "survey.telemetry.sync",
    "offset_from_differences": "survey.telemetry.sync",
    "srt_frame_clock": "survey.telemetry.sync",
    "video_wall_clock": "survey.telemetry.sync",
    "estimate_offset_by_tracks": "survey.telemetry.sync_series",
    "estimate_offset_by_correlation": "survey.telemetry.sync_series",
    "video_motion": "survey.telemetry.motion",
    "sync_photos": "survey.telemetry.timesync",
    "sync_video": "survey.telemetry.timesync",
    "PhotoMeta": "survey.telemetry.photos",
    "read_photo": "survey.telemetry.photos",
    "read_photos": "survey.telemetry.photos",
    "photos_to_track": "survey.telemetry.photos",
    "read_srt": "survey.telemetry.srt",
    "parse_srt_text": "survey.telemetry.srt",
    "read_dataflash": "survey.telemetry.dataflash",
    "read_tlog": "survey.telemetry.tlog",
    "read_ulog": "survey.telemetry.ulog",
    "read_csv_log": "survey.telemetry.csvlogs",
    "read_gpx": "survey.telemetry.gpsformats",
    "read_kml": "survey.telemetry.gpsformats",
    "read_nmea": "survey.telemetry.gpsformats",
    "read_klv": "survey.telemetry.klv",
    "describe_telemetry": "survey.telemetry.inspect",
    "summarize_track": "survey.telemetry.inspect",
    "MetricFrame": "survey.telemetry.geodesy",
    "TelemetryError": "survey.telemetry.errors",
    "TelemetryFormatError": "survey.telemetry.errors",
    "UnknownTelemetryError": "survey.telemetry.errors",
    "NoPositionError": "survey.telemetry.errors",
    "TimeSyncError": "survey.telemetry.errors",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
