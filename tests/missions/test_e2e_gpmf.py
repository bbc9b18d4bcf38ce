"""`survey process` on a folder holding only a video with telemetry inside (GoPro GPMF or DJI
``djmd``; no SRT, no log)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from missions.sim.config import SimConfig
from missions.sim.simulate import simulate_flight
from survey.config import Config
from survey.process.pipeline import process_flight

GPMF_FLIGHT = SimConfig(
    asset="rail",
    start_m=2900.0,
    length_m=40.0,
    seed=23,
    video="480x270@10",
    video_telemetry="gpmf",
    stills_every_m=30.0,
    still_size="800x600",
    thermal_every_s=0.0,
    coco_every=1000,
)


@pytest.fixture(scope="module", params=["gpmf", "djmd"])
def gpmf_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, Config]:
    sim = tmp_path_factory.mktemp(request.param) / "sim"
    simulate_flight(dataclasses.replace(GPMF_FLIGHT, video_telemetry=request.param), sim)
    video = next((sim / "DCIM").rglob("*.MP4"))
    assert not list((sim / "DCIM").rglob("*.SRT"))
    only = tmp_path_factory.mktemp("only") / "flight"
    only.mkdir()
    shutil.copy(video, only / video.name)
    shutil.copy(sim / "asset.geojson", only / "asset.geojson")  # the line, not telemetry
    c = Config()
    c = dataclasses.replace(
        c,
        pipeline=dataclasses.replace(c.pipeline, progress=False),
        process=dataclasses.replace(
            c.process, models=["none"], basemap="", exports=[], report=False, map=False
        ),
    )
    # the intrinsics: a still of the same camera, kept outside the flight folder (a GoPro
    # video has no SRT focal length)
    still = next((sim / "DCIM").rglob("*.JPG"))
    lens = tmp_path_factory.mktemp("lens") / still.name
    shutil.copy(still, lens)
    c = dataclasses.replace(c, process=dataclasses.replace(c.process, video_camera=str(lens)))
    run = tmp_path_factory.mktemp("run") / "run"
    process_flight(only, run, config=c)
    return sim, run, c


def test_video_only_gpmf_flight_is_located(gpmf_run: tuple[Path, Path, Config]) -> None:
    import pandas as pd

    from survey.process.records import StreamPoses

    sim, run, _ = gpmf_run
    sp = StreamPoses.load(run / "stages" / "poses", "video1")
    truth = pd.read_csv(sim / "truth" / "frames_rgb_video.csv")
    assert len(sp.t_s) == len(truth)
    # frame times on the video's own clock: frame i at i / fps
    np.testing.assert_allclose(sp.t_s, np.arange(len(truth)) / 10.0, atol=1e-6)
    assert sp.ok.mean() > 0.9
    # positions: the logged navigation solution at the frames' true times, to centimetres
    logged = pd.read_csv(sim / "truth" / "trajectory_logged.csv")
    t = truth.t_utc_s.to_numpy()[sp.ok]
    lat = np.interp(t, logged.t_s, logged.lat_deg)
    lon = np.interp(t, logged.t_s, logged.lon_deg)
    dn = (sp.lat_deg[sp.ok] - lat) * 111_200.0
    de = (sp.lon_deg[sp.ok] - lon) * 111_200.0 * np.cos(np.radians(lat))
    err = np.hypot(dn, de)
    kind = "gopro_gpmf" if sp.sync["method"].startswith("embedded gopro_gpmf") else "dji_meta"
    print(f"{kind}-only flight: position error vs logged nav p50 {np.median(err):.3f} m, "
          f"p95 {np.percentile(err, 95):.3f} m, max {err.max():.3f} m")  # fmt: skip
    # GPMF: measured 0.49 m p95 (0.34 m p50): the poses stage's interpolation of the 10 Hz
    # GLPI samples, not the decoding (the decoded GLPI positions equal the written ones to
    # 1 cm). DJI djmd: one message per frame, so the frame's own logged position
    assert np.percentile(err, 95) < (0.6 if kind == "gopro_gpmf" else 0.05)
    # against the true camera centre (GNSS errors of the simulated receiver included)
    tl, tn = truth.lat_deg.to_numpy()[sp.ok], truth.lon_deg.to_numpy()[sp.ok]
    et = np.hypot((sp.lat_deg[sp.ok] - tl) * 111_200.0,
                  (sp.lon_deg[sp.ok] - tn) * 111_200.0 * np.cos(np.radians(tl)))  # fmt: skip
    print(f"vs true camera centre p50 {np.median(et):.3f} m, p95 {np.percentile(et, 95):.3f} m")
    assert np.percentile(et, 95) < 5.0
    assert sp.sync["method"].startswith(f"embedded {kind}")


def test_embedded_track_used_when_the_log_clock_cannot_be_tied(
    gpmf_run: tuple[Path, Path, Config],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A flight log beside the video whose clock cannot be tied to the video's: the frames are
    still located, from the video's own embedded track (not all marked bad)."""
    import survey.telemetry.timesync as ts
    from survey.process.records import StreamPoses
    from survey.telemetry.errors import TimeSyncError

    sim, run_only, c = gpmf_run
    folder = tmp_path / "flight"
    (folder / "logs").mkdir(parents=True)
    video = next((sim / "DCIM").rglob("*.MP4"))
    shutil.copy(video, folder / video.name)
    shutil.copy(sim / "asset.geojson", folder / "asset.geojson")
    shutil.copy(sim / "logs" / "flight.tlog", folder / "logs" / "flight.tlog")

    def no_sync(*args: object, **kwargs: object) -> None:
        raise TimeSyncError("no shared motion between the video and the log (test)")

    monkeypatch.setattr(ts, "sync_video", no_sync)
    run = tmp_path / "run"
    process_flight(folder, run, config=c)
    sp = StreamPoses.load(run / "stages" / "poses", "video1")
    only = StreamPoses.load(run_only / "stages" / "poses", "video1")
    assert any("clock not tied to the log" in w and "embedded track is used" in w
               for w in sp.warnings)  # fmt: skip
    assert sp.ok.mean() > 0.9
    # the same poses as the video-only folder's (the embedded track on the video clock)
    np.testing.assert_array_equal(sp.ok, only.ok)
    np.testing.assert_allclose(sp.lat_deg[sp.ok], only.lat_deg[only.ok], atol=1e-9)
    np.testing.assert_allclose(sp.lon_deg[sp.ok], only.lon_deg[only.ok], atol=1e-9)
