"""``survey inspect`` on thermal files and ``survey thermal FILE... --out DIR``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from survey.cli import cli
from survey.inspect import describe
from survey.thermal_files import describe_thermal
from thermal import GpsFix, PlanckCalibration, temperature_to_raw, write_flir_rjpeg

CAL = PlanckCalibration(emissivity=0.95, object_distance_m=40.0)


@pytest.fixture()
def leak_jpeg(tmp_path: Path) -> Path:
    yy, xx = np.mgrid[0:128, 0:160]
    t = 8.0 + 0.01 * xx + 7.0 * np.exp(-0.5 * ((xx - 80) ** 2 + (yy - 64) ** 2) / 9.0**2)
    raw = np.round(temperature_to_raw(t, CAL)).astype(np.uint16)
    return write_flir_rjpeg(
        tmp_path / "leak.jpg",
        raw,
        CAL,
        gps=GpsFix(48.2, 15.6, 300.0, "msl", 40.0),
        gimbal=(0.0, -90.0, 0.0),
        field_of_view_deg=32.0,
        datetime_utc=1700000000.0,
    )


def test_describe_our_rjpeg(leak_jpeg: Path) -> None:
    s = describe(leak_jpeg)
    assert s["kind"] == "thermal image" and s["format"] == "flir-rjpeg"
    assert s["size"] == "160x128"
    assert s["calibration"]["object_distance_m"] == 40.0
    assert s["temperature_c"]["max"] == pytest.approx(8.0 + 0.8 + 7.0, abs=0.05)
    assert s["gps"]["rel_alt_m"] == 40.0 and s["gimbal"]["pitch_deg"] == -90.0
    assert s["time_utc"].startswith("2023-11-14T22:13:20")
    assert s["warnings"] == []


def test_describe_real_files(shared_data: Path) -> None:
    d = shared_data / "thermal"
    s = describe(d / "flir_seq_csq/SampleSEQ.seq")
    assert (s["kind"], s["frames"], s["size"]) == ("thermal sequence", 2, "640x480")
    vue = describe(d / "flir_rjpeg/FLIR_Vue_Pro_640.jpg")
    assert any("implausible" in w for w in vue["warnings"])
    dtat = describe(d / "dji_rjpeg/M30T/DJI_0001_R.JPG")
    assert (
        dtat["kind"] == "thermal (radiometric, unsupported)"
        and "Matrice 30T" in dtat["warnings"][0]
    )
    mp4 = describe(d / "video/FLIR_Thermal.mp4")
    assert mp4["kind"] == "thermal (not radiometric)"


def test_plain_files_are_not_thermal(tmp_path: Path) -> None:
    import cv2

    p = tmp_path / "photo.jpg"
    cv2.imwrite(str(p), np.zeros((8, 8, 3), np.uint8))
    assert describe_thermal(p) is None
    q = tmp_path / "notes.txt"
    q.write_text("hello")
    assert describe_thermal(q) is None


def test_survey_thermal_command(leak_jpeg: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(leak_jpeg.read_bytes()[:5000])
    res = CliRunner().invoke(
        cli, ["thermal", str(leak_jpeg), str(bad), "--out", str(out), "--json", "--npy"]
    )
    assert res.exit_code == 1, res.output  # one file failed, the other was processed
    summary = json.loads([ln for ln in res.stdout.splitlines() if ln.startswith("{")][0])
    assert summary["anomalies"] == 1
    doc = json.loads((out / "leak_anomalies.json").read_text())
    acc = [a for a in doc["anomalies"] if a["accepted"]]
    assert len(acc) == 1 and acc[0]["centroid_xy"] == pytest.approx([80, 64], abs=1)
    assert acc[0]["delta_max_c"] == pytest.approx(7.0, abs=0.4)
    # GSD from 40 m above take-off and a 32 deg FOV over 160 px
    assert doc["gsd_m"] == pytest.approx(2 * 40 * np.tan(np.radians(16)) / 160)
    assert acc[0]["area_m2"] is not None
    import rasterio

    with rasterio.open(out / "leak.tif") as src:
        t = src.read(1)
        assert json.loads(src.tags()["calibration"])["object_distance_m"] == 40.0
    assert t.max() == pytest.approx(15.8, abs=0.05)
    np.testing.assert_allclose(np.load(out / "leak.npy"), t)
    assert (out / "leak_color.png").stat().st_size > 1000
    assert "bad.jpg" in res.stderr and "truncated" in res.stderr


def test_survey_thermal_overrides(leak_jpeg: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli,
        [
            "thermal",
            str(leak_jpeg),
            "--out",
            str(out),
            "--emissivity",
            "0.8",
            "--reflected",
            "-20",
            "--no-detect",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout.strip().splitlines()[-1])
    # lower emissivity and a cold sky reflected: the same counts mean a warmer object
    assert s["max_c"] > 15.8 + 1.0
    assert not (out / "leak_anomalies.json").exists()
