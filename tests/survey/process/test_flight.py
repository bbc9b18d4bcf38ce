"""Flight-folder discovery: what each file is, pairing, what is ignored and why, the inspect plan."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from survey.cli import cli
from survey.flight import FlightError, describe_flight_dir, discover_flight

SRT_BLOCK = """{i}
00:00:00,{a:03d} --> 00:00:00,{b:03d}
<font size="28">FrameCnt: {i}, DiffTime: 33ms
2024-06-12 09:30:00.{a:03d}
[iso: 100] [shutter: 1/1000.0] [fnum: 2.8] [ev: 0] [focal_len: 26.51] [latitude: 48.335158] [longitude: 15.808020] [rel_alt: 24.526 abs_alt: 292.923] [gb_yaw: -68.4 gb_pitch: -90.0 gb_roll: -0.1] </font>

"""


def _video(path: Path, n: int = 5) -> None:
    import cv2

    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (64, 48))
    for i in range(n):
        w.write(np.full((48, 64, 3), 20 * i, np.uint8))
    w.release()


def _srt(path: Path, n: int = 5) -> None:
    path.write_text("".join(SRT_BLOCK.format(i=i + 1, a=33 * i, b=33 * (i + 1)) for i in range(n)))


def _rjpeg(path: Path) -> None:
    from thermal import PlanckCalibration, temperature_to_raw, write_flir_rjpeg

    cal = PlanckCalibration(emissivity=0.95, object_distance_m=30.0)
    raw = np.round(temperature_to_raw(np.full((8, 10), 12.0), cal)).astype(np.uint16)
    write_flir_rjpeg(path, raw, cal, gps=(48.3, 15.8, 290.0))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    import cv2

    f = tmp_path / "flight"
    (f / "DCIM" / "100MEDIA").mkdir(parents=True)
    (f / "logs").mkdir()
    _video(f / "DCIM" / "100MEDIA" / "DJI_0001.MP4")
    _srt(f / "DCIM" / "100MEDIA" / "DJI_0001.SRT")
    _video(f / "DCIM" / "100MEDIA" / "DJI_0003.MOV")  # no SRT beside it
    _srt(f / "DCIM" / "100MEDIA" / "DJI_0099.SRT")  # no video of that name
    cv2.imwrite(str(f / "DCIM" / "100MEDIA" / "DJI_0002.JPG"), np.zeros((30, 40, 3), np.uint8))
    _rjpeg(f / "DCIM" / "100MEDIA" / "IR_0001.jpg")
    (f / "logs" / "flight.csv").write_text(
        "time_utc,lat_deg,lon_deg,alt_m\n2024-06-12T09:30:00Z,48.3,15.8,300\n"
        "2024-06-12T09:30:01Z,48.30001,15.8,300\n"
    )
    (f / "logs" / "empty.tlog").write_bytes(b"")
    (f / "notes.txt").write_text("pilot: ann")
    (f / "asset.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    # the simulator's truth and an earlier processing run are not flight data
    (f / "truth").mkdir()
    (f / "truth" / "scenario.json").write_text("{}")
    cv2.imwrite(str(f / "truth" / "x.jpg"), np.zeros((4, 4, 3), np.uint8))
    (f / "run" / "stages").mkdir(parents=True)
    (f / "run" / "run.json").write_text("{}")
    cv2.imwrite(str(f / "run" / "frame.jpg"), np.zeros((4, 4, 3), np.uint8))
    return f


def test_discover_recognises_and_pairs(folder: Path) -> None:
    fl = discover_flight(folder)
    rel = {str(m.path.relative_to(folder)): m for m in fl.media}
    assert sorted(rel) == [
        "DCIM/100MEDIA/DJI_0001.MP4",
        "DCIM/100MEDIA/DJI_0002.JPG",
        "DCIM/100MEDIA/DJI_0003.MOV",
        "DCIM/100MEDIA/IR_0001.jpg",
    ]
    assert rel["DCIM/100MEDIA/DJI_0001.MP4"].sidecar == folder / "DCIM/100MEDIA/DJI_0001.SRT"
    assert rel["DCIM/100MEDIA/DJI_0003.MOV"].sidecar is None
    assert rel["DCIM/100MEDIA/IR_0001.jpg"].kind == "thermal"  # FLIR FFF records inside
    assert rel["DCIM/100MEDIA/DJI_0002.JPG"].kind == "still"
    assert rel["DCIM/100MEDIA/DJI_0002.JPG"].camera == "camera 40x30"
    assert [(lf.path.name, lf.kind) for lf in fl.logs] == [("flight.csv", "csv")]
    assert fl.asset == folder / "asset.geojson"
    assert fl.orphan_srts == (folder / "DCIM/100MEDIA/DJI_0099.SRT",)
    ignored = {p.name: why for p, why in fl.ignored}
    assert ignored == {
        "empty.tlog": "empty file",
        "notes.txt": "not media, telemetry or asset geometry",
    }
    w = "\n".join(fl.warnings)
    assert "DJI_0003.MOV: no SRT subtitle file" in w and "DJI_0099.SRT: SRT without a video" in w
    streams = {s.stream_id: s for s in fl.streams()}
    assert sorted(streams) == ["stills1", "thermal1", "video1", "video2"]
    assert streams["video1"].sync.startswith("SRT positions laid onto")
    assert streams["video2"].sync.startswith("image motion")  # no SRT: motion vs ground speed
    assert all(s.pose_source == "log" for s in streams.values())
    fl.check_locatable()  # a log exists: every stream can be located


def test_media_without_any_telemetry_is_an_error_naming_the_file(folder: Path) -> None:
    (folder / "logs" / "flight.csv").unlink()
    fl = discover_flight(folder)
    streams = {s.stream_id: s for s in fl.streams()}
    assert streams["video1"].pose_source == "media"
    with pytest.raises(
        FlightError, match="no SRT subtitle file and the folder has no flight log"
    ) as ei:
        fl.check_locatable()
    assert "DJI_0003.MOV" in str(ei.value) and ei.value.path == str(folder.absolute())


def test_not_a_flight(tmp_path: Path) -> None:
    with pytest.raises(FlightError, match="not a folder"):
        discover_flight(tmp_path / "nope")
    (tmp_path / "log.csv").write_text("lat,lon\n1,2\n")
    with pytest.raises(FlightError, match="no media found"):
        discover_flight(tmp_path)
    assert describe_flight_dir(tmp_path) is None


def test_inspect_shows_the_plan(folder: Path) -> None:
    r = CliRunner().invoke(cli, ["inspect", "--json", str(folder)])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["kind"] == "flight_folder"
    assert d["media"] == {"video": 2, "still": 1, "thermal": 1}
    assert d["reference_log"] == "logs/flight.csv" and d["asset"] == "asset.geojson"
    v1 = next(s for s in d["plan"] if s["stream"] == "video1")
    assert v1["srt"] == "DCIM/100MEDIA/DJI_0001.SRT" and v1["poses"] == "log flight.csv"
    assert d["stages"][0] == "discover" and d["stages"][-1] == "report"
    assert any("DJI_0003.MOV" in w for w in d["warnings"])
    r = CliRunner().invoke(cli, ["inspect", str(folder)])
    assert r.exit_code == 0 and f"{folder}: flight_folder" in r.output
    assert "video1: DCIM/100MEDIA/DJI_0001.MP4 + DCIM/100MEDIA/DJI_0001.SRT" in r.output
