"""Bad inputs to `survey process`: clear errors or warnings naming the file, nothing lost.

One short simulated rail flight is copied and damaged per test: no telemetry at all, a video
corrupt halfway and one that cannot be opened, a truncated flight log, an unreadable still, and
a run interrupted in the middle of a stage (resumed without redoing finished work).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from missions.sim.config import SimConfig
from missions.sim.simulate import simulate_flight
from survey.config import Config
from survey.pipeline import PipelineError
from survey.process.pipeline import process_flight

TINY = SimConfig(
    asset="rail",
    start_m=2900.0,
    length_m=60.0,
    seed=17,
    video="960x540@10",
    stills_every_m=30.0,
    still_size="1000x750",
    thermal_every_s=1.0,
    defect_density=3.0,
    coco_every=1000,
)


def cfg() -> Config:
    c = Config()
    return dataclasses.replace(
        c,
        pipeline=dataclasses.replace(c.pipeline, progress=False),
        process=dataclasses.replace(
            c.process, models=["none"], basemap="", exports=[], report=False, map=False
        ),
    )


@pytest.fixture(scope="module")
def flight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "flight"
    simulate_flight(TINY, out)
    return out


@pytest.fixture(scope="module")
def clean(flight: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("clean") / "run"
    process_flight(flight, run, config=cfg())
    return run


def copy(flight: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "flight"
    shutil.copytree(flight, dst)
    return dst


def summary(run: Path) -> dict[str, Any]:
    return json.loads((run / "summary.json").read_text())


def video(f: Path) -> Path:
    return next((f / "DCIM").rglob("*.MP4"))


def test_no_telemetry_at_all_names_the_video(flight: Path, tmp_path: Path) -> None:
    f = copy(flight, tmp_path)
    shutil.rmtree(f / "logs")
    next((f / "DCIM").rglob("*.SRT")).unlink()
    with pytest.raises(PipelineError) as ei:
        process_flight(f, tmp_path / "run", config=cfg())
    msg = str(ei.value)
    assert "stage 'discover' failed" in msg and video(f).name in msg
    assert "no SRT subtitle file and the folder has no flight log" in msg


def test_video_corrupt_halfway_keeps_every_good_frame(
    flight: Path, clean: Path, tmp_path: Path
) -> None:
    f = copy(flight, tmp_path)
    v = video(f)
    size = v.stat().st_size
    with v.open("r+b") as fh:
        fh.seek(size // 2)
        fh.write(np.random.default_rng(0).integers(0, 256, 200_000, np.uint8).tobytes())
    run = tmp_path / "run"
    res = process_flight(f, run, config=cfg())
    assert all(r.status == "ran" for r in res)
    bad = summary(run)["unreadable_frames"]
    assert bad and all(
        v.name in why and "ends or is corrupt at frame" in why for why in bad.values()
    )
    sel = json.loads((run / "stages/select/select.json").read_text())
    n_sel = sel["bands"]["rgb"]["streams"]["video1"]["selected"]
    assert 0 < len(bad) < n_sel  # the frames before the damage were analysed and saved
    saved = list((run / "stages/detect/frames/video1").glob("*.jpg"))
    assert len(saved) == n_sel - len(bad)
    # the thermal findings do not depend on the video
    a = json.loads((run / "stages/thermal/anomalies.json").read_text())
    b = json.loads((clean / "stages/thermal/anomalies.json").read_text())
    assert [x["centroid_px"] for x in a] == [x["centroid_px"] for x in b]


def test_video_that_cannot_be_opened_is_reported_and_the_rest_processed(
    flight: Path, tmp_path: Path
) -> None:
    f = copy(flight, tmp_path)
    v = video(f)
    with v.open("r+b") as fh:
        fh.truncate(v.stat().st_size // 2)  # the index (moov) is at the end: gone
    run = tmp_path / "run"
    process_flight(f, run, config=cfg())
    s = summary(run)
    assert "cannot open as a video" in s["frames"]["video1"]["error"]
    assert v.name in s["frames"]["video1"]["error"]
    assert s["frames"]["stills1"]["selected"] > 0 and s["frames"]["thermal1"]["selected"] > 0


def test_truncated_log_locates_what_it_covers(flight: Path, tmp_path: Path) -> None:
    import pandas as pd

    f = copy(flight, tmp_path)
    (f / "logs" / "flight_log.csv").unlink()
    tlog = f / "logs" / "flight.tlog"
    with tlog.open("r+b") as fh:
        fh.truncate(int(tlog.stat().st_size * 0.6) + 7)  # mid-message
    run = tmp_path / "run"
    process_flight(f, run, config=cfg())
    s = summary(run)
    assert s["reference_log"] == "logs/flight.tlog"
    from survey.process.records import StreamPoses
    from survey.telemetry import read_track

    last = read_track(tlog).t_s.max()
    sp = StreamPoses.load(run / "stages" / "poses", "video1")
    late = sp.t_s > last + 1.0
    assert late.any() and not sp.ok[late].any()
    assert all(r.startswith("position: after the last sample") for r in sp.reason[late])
    n_after = sum(
        n for why, n in s["unlocatable_frames"]["video1"].items() if "after the last sample" in why
    )
    assert n_after == int(
        np.char.find(sp.reason.astype(str), "after the last sample").__ge__(0).sum()
    )
    assert any("flight.tlog" in w and "truncated or stopped log" in w for w in s["warnings"])
    truth = pd.read_csv(f / "truth" / "frames_rgb_video.csv")
    early = truth.t_utc_s.to_numpy() < last - 1.0
    assert sp.ok[early].mean() > 0.7  # what the log covers is located (outage aside)


def test_unreadable_still_is_reported_and_the_others_used(flight: Path, tmp_path: Path) -> None:
    f = copy(flight, tmp_path)
    stills = sorted((f / "DCIM").rglob("*_W.JPG"))
    stills[1].write_bytes(os.urandom(5000))
    run = tmp_path / "run"
    process_flight(f, run, config=cfg())
    s = summary(run)
    assert any(stills[1].name in w and "not a readable image" in w for w in s["warnings"])
    bad = [k for k, v in s["frames"].items() if "error" in v]
    assert len(bad) == 1 and stills[1].name in s["frames"][bad[0]]["error"]
    good = [v for k, v in s["frames"].items() if v["kind"] == "still" and "error" not in v]
    assert sum(v["frames"] for v in good) == len(stills) - 1
    assert sum(v["located"] for v in good) >= 1


def test_interrupted_stage_resumes_without_redoing_work(
    flight: Path, clean: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import thermal

    real = thermal.detect_anomalies
    calls = {"n": 0}

    def flaky(*a: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # the operator pressed Ctrl-C in the thermal stage
        return real(*a, **kw)

    run = tmp_path / "run"
    monkeypatch.setattr(thermal, "detect_anomalies", flaky)
    with pytest.raises(KeyboardInterrupt):
        process_flight(flight, run, config=cfg())
    monkeypatch.setattr(thermal, "detect_anomalies", real)
    assert (run / "stages" / "thermal.partial" / "items").is_dir()
    res = process_flight(flight, run, config=cfg())
    status = {r.name: (r.status, r.resumed_items) for r in res}
    assert status["discover"][0] == status["poses"][0] == status["select"][0] == "skipped"
    assert status["detect"][0] == "skipped"  # finished before the interruption
    assert status["thermal"] == ("ran", 3)  # three frames were done and are not redone
    a = json.loads((run / "stages/thermal/anomalies.json").read_text())
    b = json.loads((clean / "stages/thermal/anomalies.json").read_text())
    assert a == b


def test_many_flights_on_a_process_pool_report_each(flight: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from survey.cli import cli

    good = tmp_path / "north"
    shutil.copytree(flight, good)
    bad = tmp_path / "south"
    shutil.copytree(flight, bad)
    shutil.rmtree(bad / "logs")
    next((bad / "DCIM").rglob("*.SRT")).unlink()
    conf = tmp_path / "survey.toml"
    conf.write_text(
        '[pipeline]\nprogress = false\n[process]\nmodels = ["none"]\nmap = false\n'
        "report = false\nexports = []\n"
    )
    out = tmp_path / "runs"
    r = CliRunner().invoke(
        cli, ["-c", str(conf), "process", str(good), str(bad), "--out", str(out), "--workers", "2"]
    )
    assert r.exit_code != 0 and "1 of 2 flights failed" in r.output
    lines = r.output.splitlines()
    north = next(ln for ln in lines if ln.startswith(str(good.resolve())))
    south = next(ln for ln in lines if ln.startswith(str(bad.resolve())))
    assert " defects (" in north and "FAILED" in south and video(bad).name in south
    assert json.loads((out / "north" / "summary.json").read_text())["run_id"] == "north"
    assert not (out / "south" / "summary.json").exists()


def test_a_flight_with_nothing_found_still_gives_every_output(flight: Path, tmp_path: Path) -> None:
    c = cfg()
    leaks = dataclasses.replace(c.process.leaks, delta_high_c=500.0, delta_low_c=400.0)
    c = dataclasses.replace(
        c,
        process=dataclasses.replace(c.process, leaks=leaks, map=True, report=True, exports=["csv"]),
    )
    run = tmp_path / "run"
    res = process_flight(flight, run, config=c)
    assert all(r.status == "ran" for r in res)
    s = summary(run)
    assert s["defects"] == 0 and s["detections"]["thermal"] == 0
    for name in ("map.html", "report.html", "defects.gpkg"):
        assert (run / name).is_file()
    assert list((run / "exports" / "csv").glob("*.csv"))


def test_a_missing_model_stops_at_detect_and_keeps_the_earlier_stages(
    flight: Path, tmp_path: Path
) -> None:
    c = cfg()
    bad = dataclasses.replace(c, process=dataclasses.replace(c.process, models=["nosuch.pth"]))
    run = tmp_path / "run"
    with pytest.raises(PipelineError, match="stage 'detect' failed: .*nosuch.pth.*no such model"):
        process_flight(flight, run, config=bad)
    hist = json.loads((run / "run.json").read_text())["runs"]
    assert [s["status"] for s in hist[0]["stages"]] == ["failed"]  # the failure is recorded
    for st in ("discover", "poses", "select"):
        assert (run / "stages" / st / "stage.json").is_file()
    res = process_flight(flight, run, config=c)  # fixed: the finished stages are not redone
    assert [r.status for r in res[:3]] == ["skipped"] * 3 and res[3].status == "ran"
