"""Pick the best way to tie a camera's clock to the flight log, and say which one was used.

* Photos: matched to the log's camera events (``CAM`` / ``CAMERA_FEEDBACK`` /
  ``camera_capture`` / DJI ``isPhoto``) when the log has at least two, using the photos'
  positions to break ties; otherwise the photos' EXIF positions are laid onto the log's track.
* Video: the SRT's own positions (in video time) are laid onto the log's track; a video
  without positions in its SRT (or without SRT) is tied by correlating its image motion with the
  log's ground speed.

Every result is a :class:`~survey.telemetry.sync.ClockOffset` (``t_log = offset + rate * t``)
whose ``method`` and ``sigma_s`` say how it was found and how well it is known.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from survey.config import TelemetryConfig
from survey.telemetry.errors import TimeSyncError
from survey.telemetry.sync import ClockOffset, match_events
from survey.telemetry.sync_series import estimate_offset_by_correlation, estimate_offset_by_tracks
from survey.telemetry.track import PoseTrack

__all__ = ["sync_photos", "sync_video"]

log = logging.getLogger(__name__)


def sync_photos(
    photos: PoseTrack, flight_log: PoseTrack, config: TelemetryConfig | None = None
) -> ClockOffset:
    """Offset from the photos' clock (EXIF time, as read) to the log's clock.

    Raises
    ------
    TimeSyncError
        Neither camera events nor enough moving positions to tie the clocks.
    """
    cfg = config or TelemetryConfig()
    ev = flight_log.events
    errors = []
    if ev is not None and len(ev) >= 2 and len(photos) >= 2:
        has_pos = photos.position_ok.sum() >= 2 and np.isfinite(ev.lat_deg).sum() >= 2
        try:
            return match_events(
                photos.t_s,
                ev.t_s,
                camera_latlon=(photos.lat_deg, photos.lon_deg) if has_pos else None,
                log_latlon=(ev.lat_deg, ev.lon_deg) if has_pos else None,
                config=cfg,
                log_resolution_s=ev.time_resolution_s,
            )
        except TimeSyncError as exc:
            errors.append(f"event matching: {exc.message}")
            log.info("photo/event matching failed (%s); aligning positions instead", exc)
    try:
        return estimate_offset_by_tracks(photos, flight_log, config=cfg)
    except TimeSyncError as exc:
        errors.append(f"track alignment: {exc.message}")
    raise TimeSyncError(
        "cannot tie the photo clock to the log: " + "; ".join(errors), path=photos.source
    )


def sync_video(
    srt: PoseTrack | None,
    flight_log: PoseTrack,
    *,
    video_path: str | Path | None = None,
    config: TelemetryConfig | None = None,
) -> ClockOffset:
    """Offset from a video's time (seconds from its first frame) to the log's clock.

    Parameters
    ----------
    srt : PoseTrack or None
        The video's SRT track (``time_base="video"``), if it has one.
    flight_log : PoseTrack
        The autopilot's track (with ground speed for the motion method).
    video_path : str or Path, optional
        The video itself, for the image-motion method when the SRT has no positions.
    """
    cfg = config or TelemetryConfig()
    errors = []
    if srt is not None and srt.position_ok.sum() >= 3:
        if srt.time_base != "video":
            raise TimeSyncError(
                f"expected an SRT track in video time, got {srt.time_base!r}", path=srt.source
            )
        try:
            return estimate_offset_by_tracks(srt, flight_log, config=cfg)
        except TimeSyncError as exc:
            errors.append(f"track alignment: {exc.message}")
    if video_path is not None:
        from survey.telemetry.motion import video_motion

        t_v, motion, _fps = video_motion(video_path)
        speed = flight_log.speed_mps
        ok = np.isfinite(speed) & np.isfinite(flight_log.t_s)
        if ok.sum() < 10:
            errors.append("motion correlation: the log has no ground speed")
        else:
            # any offset that keeps the video inside the log
            lo = flight_log.t_s[ok].min() - t_v[0]
            hi = flight_log.t_s[ok].max() - t_v[-1]
            centre = 0.5 * (lo + hi)
            try:
                est = estimate_offset_by_correlation(
                    t_v + centre,
                    motion,
                    flight_log.t_s[ok],
                    speed[ok],
                    max_lag_s=max(0.5 * (hi - lo), 1.0),
                )
                return ClockOffset(
                    offset_s=est.offset_s + centre,
                    sigma_s=est.sigma_s,
                    n_used=est.n_used,
                    method="image motion vs ground speed",
                    details=est.details,
                )
            except TimeSyncError as exc:
                errors.append(f"motion correlation: {exc.message}")
    if not errors:
        errors.append("no SRT positions and no video to measure image motion")
    raise TimeSyncError("cannot tie the video time to the log: " + "; ".join(errors))
