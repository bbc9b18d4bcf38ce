"""Clock sync on synthetic series with known offsets, and on the real SRTs' clocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from survey.telemetry.errors import TimeSyncError
from survey.telemetry.srt import parse_srt_text
from survey.telemetry.sync import (
    assign_event_times,
    match_events,
    offset_from_differences,
    srt_frame_clock,
    video_wall_clock,
)
from survey.telemetry.sync_series import estimate_offset_by_correlation, estimate_offset_by_tracks
from survey.telemetry.track import CameraEvents, PoseTrack

M_PER_DEG = 111_195.0


def _trigger_times(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1.7e9 + np.cumsum(rng.uniform(1.9, 2.4, n))


@pytest.mark.parametrize("offset", [0.37, -7200.62, 19800.05])  # incl. time zones (+5:30)
def test_match_events_subsecond_photos(offset: float) -> None:
    log = _trigger_times(60, 1)
    cam = np.round(log - offset + 0.012, 3)  # EXIF SubSecTime (ms), 12 ms shutter latency
    est = match_events(cam[5:], log[:-4])  # 5 photos lost at the start, 4 events at the end
    assert est.n_used == 51 and est.details["camera_resolution_s"] == 0.001
    assert est.offset_s == pytest.approx(offset - 0.012, abs=0.002)
    assert est.sigma_s < 0.005
    i_cam, i_log = est.pairs  # type: ignore[misc]
    np.testing.assert_array_equal(i_log, i_cam + 5)


def test_match_events_whole_second_photos_and_uncertainty() -> None:
    log = _trigger_times(80, 2)
    offset = 3600.0 + 0.437
    cam = np.floor(log - offset)  # EXIF without sub-seconds: truncated
    est = match_events(cam, log)
    assert est.n_used == 80
    assert abs(est.offset_s - offset) <= 2 * est.sigma_s + 1e-3
    assert est.sigma_s < 0.05  # 80 fractions narrow the 1 s interval down


def test_positions_break_the_regular_interval_tie() -> None:
    # perfectly regular 2 s triggers: every shift by 2 s pairs nearly as many photos
    n = 40
    log = 1.7e9 + np.arange(n) * 2.0
    lat = 47 + np.arange(n) * 20 / M_PER_DEG
    lon = np.full(n, 8.0)
    cam = np.floor(log - 15.3)
    est = match_events(cam[3:], log, camera_latlon=(lat[3:], lon[3:]), log_latlon=(lat, lon))
    assert est.offset_s == pytest.approx(15.3, abs=0.5)
    i_cam, i_log = est.pairs  # type: ignore[misc]
    np.testing.assert_array_equal(i_log, i_cam + 3)


def test_assign_event_times() -> None:
    log = _trigger_times(10, 3)
    ev = CameraEvents.build(log, image_index=np.arange(10))
    cam = np.round(log - 100.0, 3)
    est = match_events(cam, log)
    t, idx = assign_event_times(np.append(cam, cam[-1] + 50), ev, est)
    assert idx.tolist() == [*range(10), -1]
    np.testing.assert_allclose(t[:10], log)
    assert t[10] == pytest.approx(cam[-1] + 50 + est.offset_s)


def test_match_events_refuses_too_little() -> None:
    with pytest.raises(TimeSyncError, match="at least two photos"):
        match_events([1.0], [1.0, 2.0])


def test_interval_intersection() -> None:
    d = np.array([2.30, 2.95, 2.61])  # log - floor(camera), true offset in (1.95, 2.30]
    off, sigma, _ = offset_from_differences(d, resolution_s=1.0)
    assert 1.95 < off <= 2.30 and sigma == pytest.approx(0.35 / np.sqrt(12))


def test_correlation_recovers_lag_within_a_frame() -> None:
    t = np.arange(0, 200, 0.1)
    rng = np.random.default_rng(4)
    speed = 10 + 3 * np.sin(t / 9) + np.convolve(rng.normal(0, 1, t.size), np.ones(15) / 15, "same")
    fps = 29.97
    cam_t = np.arange(0, 150, 1 / fps)
    lag = 21.123
    motion = 37 * np.interp(cam_t + lag, t, speed) + rng.normal(0, 5, cam_t.size)
    est = estimate_offset_by_correlation(cam_t, motion, t, speed, max_lag_s=40)
    assert abs(est.offset_s - lag) < 1 / fps
    assert abs(est.offset_s - lag) < 3 * est.sigma_s + 1e-3
    assert est.details["peak_correlation"] > 0.9


def test_track_alignment_with_rounded_srt_positions() -> None:
    t = np.arange(0, 400, 0.2) + 1.7e9
    x = 8 * (t - t[0])
    y = 150 * np.sin((t - t[0]) / 30)
    log = PoseTrack.build(
        t, lat_deg=47 + y / M_PER_DEG, lon_deg=8 + x / (M_PER_DEG * np.cos(np.radians(47)))
    )
    offset = 7200 + 3.456  # camera clock: local time
    tc = np.arange(50, 300, 1.0) + 1.7e9 - offset
    lat = np.round(np.interp(tc + offset, t, log.lat_deg), 4)  # old SRTs: 1e-4 degrees
    lon = np.round(np.interp(tc + offset, t, log.lon_deg), 4)
    cam = PoseTrack.build(tc, lat_deg=lat, lon_deg=lon, time_base="local")
    est = estimate_offset_by_tracks(cam, log)
    assert abs(est.offset_s - offset) < 0.1 and abs(est.offset_s - offset) < 4 * est.sigma_s
    assert est.details["mean_speed_mps"] > 5


def test_hovering_aircraft_cannot_be_aligned() -> None:
    t = np.arange(0, 100, 1.0)
    still = PoseTrack.build(t, lat_deg=np.full(t.size, 47.0), lon_deg=8.0)
    with pytest.raises(TimeSyncError, match="does not move"):
        estimate_offset_by_tracks(still, still)


def test_srt_frame_clock_with_dropped_counters() -> None:
    blocks = []
    for k, frame in enumerate([1, 2, 3, 5, 6, 7]):  # counter 4 missing
        t0 = (frame - 1) / 29.97
        ms = lambda s: f"00:00:{int(s):02d},{int(round((s % 1) * 1000)):03d}"  # noqa: E731
        blocks.append(
            f"{k + 1}\n{ms(t0)} --> {ms(t0 + 1 / 29.97)}\n<font>FrameCnt: {frame}, DiffTime: 33ms\n"
            f"2023-01-01 10:00:{t0:06.3f}\n[latitude: 47.0] [longitude: 8.0] [rel_alt: 10 abs_alt: 400]</font>\n"
        )
    tr = parse_srt_text("\n".join(blocks), source="x.srt")
    fc = srt_frame_clock(tr)
    assert fc.fps == pytest.approx(29.97, abs=0.05) and fc.dropped == 1 and fc.repeated == 0
    assert fc.frame_at(fc.time_of(100)) == 100


def test_video_wall_clocks_of_real_srts(tele: Path, read) -> None:  # type: ignore[no-untyped-def]
    m3 = video_wall_clock(read(tele / "dji_srt" / "MAVIC3.srt"))
    # first subtitle: 00:00:00,000 at 2021-12-25 12:27:52.373 (ms resolution)
    assert m3.apply(0.0) == pytest.approx(1640435272.373, abs=0.005)
    assert m3.details["wall_clock_resolution_s"] == 0.001 and m3.sigma_s < 1e-3
    buggy = video_wall_clock(read(tele / "dji_srt" / "mavic_pro_buggy.SRT"))
    # whole seconds that stutter (08:06:36 twice, 08:06:39 missing): a robust fit, ~10 ms
    assert buggy.details["wall_clock_resolution_s"] == 1.0
    assert 0.005 < buggy.sigma_s < 0.05
    # subtitle 1 (00:00:01) reads 2018.08.19 08:00:36: the true time lies in [36, 37)
    t1 = buggy.apply(1.0)
    assert 1534665636.0 <= t1 < 1534665637.0


def _survey_log(offset_cam: float) -> tuple[PoseTrack, PoseTrack]:
    """A log with camera events and the photos a camera with a wrong clock took."""
    t = np.arange(0, 300, 0.1) + 1.7e9
    lat = 47 + 9 * (t - t[0]) / M_PER_DEG
    lon = 8 + 40 * np.sin((t - t[0]) / 25) / (M_PER_DEG * 0.68)
    ev_t = t[50::23][:100]
    ev = CameraEvents.build(
        ev_t,
        image_index=np.arange(ev_t.size),
        lat_deg=np.interp(ev_t, t, lat),
        lon_deg=np.interp(ev_t, t, lon),
    )
    log = PoseTrack.build(t, lat_deg=lat, lon_deg=lon, speed_mps=9.0, events=ev)
    cam_t = np.round(ev_t - offset_cam, 3)
    photos = PoseTrack.build(cam_t, lat_deg=ev.lat_deg, lon_deg=ev.lon_deg, time_base="local")
    return photos, log


def test_sync_photos_prefers_events_then_positions() -> None:
    from survey.telemetry.timesync import sync_photos

    photos, log = _survey_log(3600 - 0.2463)
    est = sync_photos(photos, log)
    assert est.method == "event matching with positions" and abs(est.offset_s - 3599.7537) < 0.002
    no_events = log.replace(events=None)
    est = sync_photos(photos, no_events)
    assert est.method == "track alignment" and abs(est.offset_s - 3599.7537) < 0.05


def test_sync_video_from_motion(tmp_path: Path) -> None:
    import cv2

    from survey.telemetry.timesync import sync_video

    rng = np.random.default_rng(5)
    tex = cv2.GaussianBlur((rng.random((200, 2600)) * 255).astype(np.uint8), (0, 0), 2)
    fps, n = 25.0, 250
    tv = np.arange(n) / fps
    speed_px = 50 + 30 * np.sin(tv / 1.3) + 20 * np.sin(tv / 0.45)
    pos = np.cumsum(speed_px / fps)
    path = tmp_path / "v.mp4"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (160, 120))
    for k in range(n):
        x = int(pos[k])
        w.write(cv2.cvtColor(tex[40:160, x : x + 160], cv2.COLOR_GRAY2BGR))
    w.release()
    start = 1.7e9 + 42.123  # log time of the first frame
    t = np.arange(-20, 40, 0.1)
    log = PoseTrack.build(
        t + 1.7e9 + 42.123, lat_deg=47.0, lon_deg=8.0, speed_mps=0.04 * np.interp(t, tv, speed_px)
    )
    est = sync_video(None, log, video_path=path)
    assert est.method == "image motion vs ground speed"
    assert abs(est.offset_s - start) < 1 / fps
