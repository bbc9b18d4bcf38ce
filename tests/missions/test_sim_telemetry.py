"""The telemetry readers and clock sync on a simulated flight with known clocks.

The simulator (``missions.sim``) writes an MP4 + DJI SRT, DJI-style stills (EXIF + XMP), a
MAVLink tlog with CAMERA_FEEDBACK and gimbal messages, an onboard CSV, and the truth: frame
capture times, the camera and log clock offsets, and the logged navigation solution. Every
clock-offset estimate must land within one video frame interval of the truth.
"""

from __future__ import annotations

import csv
import json
from typing import Any

import numpy as np
import pytest

FPS = 30.0


@pytest.fixture(scope="module")
def flight(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from missions.sim.config import SimConfig
    from missions.sim.simulate import simulate_flight

    out = tmp_path_factory.mktemp("simflight")
    cfg = SimConfig(
        length_m=48.0,
        video=f"256x144@{FPS:g}",
        stills_every_m=8.0,
        still_size="640x480",
        thermal_every_s=0.0,
        camera_utc_offset_h=5.5,  # cameras set to local time (India): the zone must be found
        texture_res_m=0.05,
        coco_every=10_000,
        seed=11,
    )
    simulate_flight(cfg, out)
    scenario = json.loads((out / "truth" / "scenario.json").read_text())
    with (out / "truth" / "frames_rgb_video.csv").open() as fh:
        frames = list(csv.DictReader(fh))
    with (out / "truth" / "frames_rgb_still.csv").open() as fh:
        stills = list(csv.DictReader(fh))
    with (out / "truth" / "trajectory_logged.csv").open() as fh:
        logged = list(csv.DictReader(fh))
    return {
        "out": out,
        "time": scenario["time"],
        "frames": frames,
        "stills": stills,
        "logged": logged,
    }


def _col(rows: list[dict[str, str]], key: str) -> np.ndarray:
    return np.array([float(r[key]) for r in rows])


def _true_video_offset(f: dict[str, Any]) -> float:
    """Log time of video time 0: true UTC of frame 0 plus the log clock's offset."""
    return float(f["frames"][0]["t_utc_s"]) + f["time"]["clock_offsets_s"]["log"]


def test_logs_read_as_the_logged_navigation(flight: dict[str, Any]) -> None:
    from survey.telemetry import read_track

    out, time = flight["out"], flight["time"]
    tlog = read_track(out / "logs" / "flight.tlog")
    csvl = read_track(out / "logs" / "flight_log.csv")
    assert tlog.time_base == csvl.time_base == "utc"
    assert tlog.gimbal_mode == csvl.gimbal_mode == "absolute"
    assert (
        tlog.events is not None
        and csvl.events is not None
        and len(csvl.events) >= len(tlog.events) >= 2
    )
    # the logged solution by true time: log time = true UTC + log clock offset
    lg = flight["logged"]
    t_true = _col(lg, "t_s")
    ok_truth = _col(lg, "gnss_ok") > 0.5
    for tr, tol_deg in ((tlog, 2e-7), (csvl, 2e-8)):
        ok = tr.position_ok
        t = tr.t_s[ok] - time["clock_offsets_s"]["log"]
        lat = np.interp(t, t_true[ok_truth], _col(lg, "lat_deg")[ok_truth])
        inside = (t > t_true[0] + 0.2) & (t < t_true[-1] - 0.2)
        assert np.max(np.abs(tr.lat_deg[ok][inside] - lat[inside])) < tol_deg + 1e-6
        # gimbal angles: nadir, noisy by a few hundredths of a degree sample to sample
        g = np.isfinite(tr.gimbal_pitch_deg) & (tr.t_s > t_true[0]) & (tr.t_s < t_true[-1])
        ref = np.interp(
            tr.t_s[g] - time["clock_offsets_s"]["log"], t_true, _col(lg, "gimbal_pitch_deg")
        )
        assert g.sum() > 50 and np.max(np.abs(tr.gimbal_pitch_deg[g] - ref)) < 0.2


def test_srt_frame_clock_matches_the_video(flight: dict[str, Any]) -> None:
    from survey.telemetry import read_track, srt_frame_clock

    srt = read_track(next((flight["out"] / "DCIM").rglob("*.SRT")))
    fc = srt_frame_clock(srt)
    assert fc.fps == pytest.approx(FPS, abs=1e-3) and fc.n_frames == len(flight["frames"])
    assert fc.dropped == 0 and fc.repeated == 0


@pytest.mark.parametrize("log_name", ["flight.tlog", "flight_log.csv"])
def test_video_offset_within_one_frame(flight: dict[str, Any], log_name: str) -> None:
    from survey.telemetry import read_track, sync_video

    log = read_track(flight["out"] / "logs" / log_name)
    srt = read_track(next((flight["out"] / "DCIM").rglob("*.SRT")))
    est = sync_video(srt, log)
    err = est.offset_s - _true_video_offset(flight)
    assert est.method == "track alignment"
    assert abs(err) < 1 / FPS and est.sigma_s < 1 / FPS


def test_video_offset_from_image_motion(flight: dict[str, Any]) -> None:
    from survey.telemetry import read_track, sync_video

    log = read_track(flight["out"] / "logs" / "flight.tlog")
    est = sync_video(None, log, video_path=next((flight["out"] / "DCIM").rglob("*.MP4")))
    err = est.offset_s - _true_video_offset(flight)
    assert est.method == "image motion vs ground speed"
    assert abs(err) < 1 / FPS, (err, est)


@pytest.mark.parametrize("log_name", ["flight.tlog", "flight_log.csv"])
def test_photo_offset_within_one_frame(flight: dict[str, Any], log_name: str) -> None:
    from survey.telemetry import read_photos, read_track, sync_photos

    time = flight["time"]
    photos = read_photos(sorted((flight["out"] / "DCIM").rglob("*_W.JPG")))
    assert photos.time_base == "utc"  # OffsetTimeOriginal (+05:30) turned the EXIF times to UTC
    # EXIF camera time = true UTC + camera offset (to the ms)
    t_cam = _col(flight["stills"], "t_camera_s")
    np.testing.assert_allclose(np.sort(photos.t_s), np.sort(t_cam), atol=1.5e-3)
    log = read_track(flight["out"] / "logs" / log_name)
    est = sync_photos(photos, log)
    truth = time["clock_offsets_s"]["log"] - time["clock_offsets_s"]["rgb_camera"]
    assert est.method.startswith("event matching")
    assert abs(est.offset_s - truth) < 1 / FPS and est.sigma_s < 1 / FPS


def test_frame_poses_from_the_log(flight: dict[str, Any]) -> None:
    from survey.telemetry import pose_at, read_track, srt_frame_clock, sync_video

    log = read_track(flight["out"] / "logs" / "flight_log.csv")
    srt = read_track(next((flight["out"] / "DCIM").rglob("*.SRT")))
    off = sync_video(srt, log)
    fr = flight["frames"]
    idx = np.arange(len(fr))
    poses = pose_at(log, off.apply(srt_frame_clock(srt).time_of(idx)))
    ok = poses.ok
    assert ok.mean() > 0.5  # frames during the simulated GNSS outage are refused, with reasons
    assert all(r.startswith("position:") for r in poses.reason[~ok])
    # against the logged solution at the true frame times (the log's own errors excluded)
    lg = flight["logged"]
    t_true = _col(fr, "t_utc_s")
    lat_log = np.interp(t_true, _col(lg, "t_s"), _col(lg, "lat_deg"))
    err_m = np.abs(poses.lat_deg[ok] - lat_log[ok]) * 111_195
    assert np.median(err_m) < 0.05
    assert np.all(np.abs(poses.gimbal_pitch_deg[ok] - _col(fr, "gimbal_pitch_deg")[ok]) < 0.5)
