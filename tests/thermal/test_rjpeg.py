"""FLIR radiometric JPEG: writer round trip (ours and exiftool), real files, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from thermal import (
    Attitude,
    GpsFix,
    NotRadiometricError,
    PlanckCalibration,
    ThermalFileNotFoundError,
    ThermalFormatError,
    UnsupportedCameraError,
    read_thermal,
    temperature_to_raw,
    write_flir_rjpeg,
)

CAL = PlanckCalibration(
    emissivity=0.93,
    object_distance_m=35.0,
    reflected_temp_c=-5.0,
    atmospheric_temp_c=12.0,
    relative_humidity_pct=63.0,
)


def _scene(shape: tuple[int, int] = (96, 128)) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = 10.0 + 4.0 * rng.random(shape)
    t[40:48, 60:80] = 45.0
    return t


@pytest.mark.parametrize("raw_format", ["raw", "png"])
def test_written_rjpeg_reads_back_exactly(tmp_path: Path, raw_format: str) -> None:
    temp = _scene()
    raw = np.round(temperature_to_raw(temp, CAL)).astype(np.uint16)
    path = write_flir_rjpeg(
        tmp_path / "f.jpg",
        raw,
        CAL,
        camera_model="FLIR Tau 2 640 (sim)",
        datetime_utc=1717000000.25,
        gps=GpsFix(48.2, 15.6, 320.5, "msl", 60.0),
        gimbal=(123.4, -90.0, 0.0),
        flight=Attitude(120.0, 2.0, -1.0),
        focal_length_mm=19.0,
        field_of_view_deg=32.0,
        raw_format=raw_format,
    )
    f = read_thermal(path)
    np.testing.assert_array_equal(f.raw, raw)
    assert f.calibration == CAL
    assert f.format == "flir-rjpeg" and f.camera_model == "FLIR Tau 2 640 (sim)"
    assert f.datetime_utc_s == pytest.approx(1717000000.25)
    assert f.gps is not None
    assert (f.gps.lat_deg, f.gps.lon_deg) == pytest.approx((48.2, 15.6), abs=1e-9)
    assert (f.gps.alt_m, f.gps.rel_alt_m) == pytest.approx((320.5, 60.0))
    assert f.gimbal == Attitude(123.4, -90.0, 0.0)
    assert f.flight == Attitude(120.0, 2.0, -1.0)
    assert f.focal_length_mm == pytest.approx(19.0) and f.field_of_view_deg == pytest.approx(32.0)
    assert f.warnings == ()
    # one count is ~0.03 degC for this core: rounding to integers is the only loss
    assert np.abs(f.temperature_c() - temp).max() < 0.03
    assert f.metadata["raw_storage"] == ("raw-le" if raw_format == "raw" else "png-swapped")


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")
def test_exiftool_reads_our_rjpeg(tmp_path: Path) -> None:
    raw = np.round(temperature_to_raw(_scene(), CAL)).astype(np.uint16)
    path = write_flir_rjpeg(
        tmp_path / "f.jpg",
        raw,
        CAL,
        gps=(51.25, -0.5, 80.0),
        gimbal=(10.0, -60.0, 1.5),
        datetime_utc=1600000000.0,
        raw_format="png",
    )
    out = subprocess.run(
        ["exiftool", "-j", "-n", "-G1", str(path)], capture_output=True, check=True
    )
    tags = json.loads(out.stdout)[0]
    assert tags["FLIR:PlanckR1"] == pytest.approx(CAL.planck_r1, rel=1e-7)
    assert tags["FLIR:PlanckR2"] == pytest.approx(CAL.planck_r2, rel=1e-7)
    assert tags["FLIR:PlanckB"] == pytest.approx(CAL.planck_b)
    assert tags["FLIR:PlanckO"] == CAL.planck_o
    assert tags["FLIR:Emissivity"] == pytest.approx(0.93, abs=1e-6)
    assert tags["FLIR:ObjectDistance"] == pytest.approx(35.0)
    assert tags["FLIR:RelativeHumidity"] == pytest.approx(0.63, abs=1e-6)
    assert tags["FLIR:ReflectedApparentTemperature"] == pytest.approx(-5.0, abs=1e-3)
    assert tags["FLIR:RawThermalImageType"] == "PNG"
    assert (tags["FLIR:RawThermalImageWidth"], tags["FLIR:RawThermalImageHeight"]) == (128, 96)
    assert tags["Composite:GPSLatitude"] == pytest.approx(51.25, abs=1e-7)
    assert tags["Composite:GPSLongitude"] == pytest.approx(-0.5, abs=1e-7)
    assert float(tags["XMP-drone-dji:GimbalPitchDegree"]) == pytest.approx(-60.0)
    assert float(tags["XMP-drone-dji:GimbalRollDegree"]) == pytest.approx(1.5)  # DJI writes "+1.50"
    # the raw image exiftool extracts is our counts, byte-swapped like a FLIR camera's PNG
    png = subprocess.run(
        ["exiftool", "-b", "-RawThermalImage", str(path)], capture_output=True, check=True
    )
    import cv2

    img = cv2.imdecode(np.frombuffer(png.stdout, np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(img.byteswap(), raw)


def test_ir_2412_matches_thermimage_reference(thermal_data: Path) -> None:
    f = read_thermal(thermal_data / "flir_rjpeg/IR_2412.jpg")
    ref = np.fromfile(
        thermal_data / "flir_rjpeg/IR_2412_tempC_W640_H480_float32le.raw", "<f4"
    ).reshape(480, 640)
    assert np.abs(f.temperature_c() - ref).max() <= 0.05
    assert f.camera_model == "FLIR SC660" and f.format == "flir-rjpeg"
    assert f.warnings == ()


@pytest.mark.parametrize("name", ["FLIR", "FLIR_AX8", "FLIR_B60"])
def test_calibration_matches_exiftool_dump(
    thermal_data: Path, name: str, exiftool_dump: Callable[[Path], dict[str, str]]
) -> None:
    dump = exiftool_dump(thermal_data / f"flir_rjpeg/{name}.exiftool.txt")
    f = read_thermal(thermal_data / f"flir_rjpeg/{name}.jpg")
    cal = f.calibration
    assert isinstance(cal, PlanckCalibration)
    assert cal.planck_r1 == pytest.approx(float(dump["Planck R1"]), rel=1e-7)
    assert cal.planck_r2 == pytest.approx(float(dump["Planck R2"]), rel=1e-7)
    assert cal.planck_b == pytest.approx(float(dump["Planck B"]))
    assert cal.planck_o == pytest.approx(float(dump["Planck O"]))
    assert cal.emissivity == pytest.approx(float(dump["Emissivity"]))
    assert cal.relative_humidity_pct == pytest.approx(float(dump["Relative Humidity"].split()[0]))
    assert (f.height, f.width) == (
        int(dump["Raw Thermal Image Height"]),
        int(dump["Raw Thermal Image Width"]),
    )
    # the PNG byte order was picked right: a smooth image within the camera's counts
    assert (
        int(dump["Raw Value Range Min"])
        <= int(np.median(f.raw))
        <= int(dump["Raw Value Range Max"])
    )


def test_dji_xt2_is_read_through_planck(
    thermal_data: Path, exiftool_dump: Callable[[Path], dict[str, str]]
) -> None:
    dump = exiftool_dump(thermal_data / "dji_rjpeg/DJI_XT2.exiftool.txt")
    f = read_thermal(thermal_data / "dji_rjpeg/DJI_XT2.jpg")
    assert f.format == "dji-flir-rjpeg" and f.camera_make == "DJI"
    assert f.calibration.planck_r1 == pytest.approx(float(dump["Planck R1"]), rel=1e-7)
    assert f.gimbal is not None and f.gimbal.yaw_deg == pytest.approx(82.4, abs=1e-5)
    assert f.flight == Attitude(
        pytest.approx(81.9, abs=1e-5), pytest.approx(1.2, abs=1e-5), pytest.approx(-0.9, abs=1e-5)
    )
    assert f.gps is not None
    assert f.gps.lat_deg == pytest.approx(9 + 58 / 60 + 19.77 / 3600, abs=1e-5)
    assert f.gps.rel_alt_m == pytest.approx(1.9)
    t = f.temperature_c()
    # SOURCES.md (checked with exiftool + Planck): 23-81 degC at the file's E = 1
    assert 20.0 < np.percentile(t, 1) and np.percentile(t, 99.9) < 85.0


def test_vue_pro_calibration_is_flagged(thermal_data: Path) -> None:
    f = read_thermal(thermal_data / "flir_rjpeg/FLIR_Vue_Pro_640.jpg")
    assert any("Planck R2 = 1" in w for w in f.warnings)
    assert any("median decodes to 10" in w for w in f.warnings)  # 99-107 degC scene
    assert f.gps is None  # (0, 0) is no fix


@pytest.mark.parametrize(
    "rel, err, text",
    [
        ("exiftool_stubs/FLIR.jpg", NotRadiometricError, "placeholder"),
        ("exiftool_stubs/InfiRay.jpg", NotRadiometricError, "without radiometric data"),
        ("video/FLIR_Thermal.mp4", NotRadiometricError, "video"),
        ("dji_rjpeg/DJI_H20T.jpg", UnsupportedCameraError, "Zenmuse H20T"),
        ("dji_rjpeg/M30T/DJI_0001_R.JPG", UnsupportedCameraError, "Matrice 30T"),
        ("dji_rjpeg/M3T/DJI_0001_R.JPG", UnsupportedCameraError, "Mavic 3 Thermal"),
        ("dji_rjpeg/M2EA/DJI_0001_R.JPG", UnsupportedCameraError, "Mavic 2 Enterprise Advanced"),
        ("dji_rjpeg/XTS/DJI_0001_R.JPG", UnsupportedCameraError, "XT S"),
    ],
)
def test_non_radiometric_and_unsupported_files(
    thermal_data: Path, rel: str, err: type, text: str
) -> None:
    with pytest.raises(err, match=text) as exc:
        read_thermal(thermal_data / rel)
    assert str(thermal_data / rel) in str(exc.value)


def test_plain_jpeg_is_refused(tmp_path: Path) -> None:
    import cv2

    p = tmp_path / "photo.jpg"
    cv2.imwrite(str(p), np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(NotRadiometricError, match="without radiometric data"):
        read_thermal(p)


def test_truncated_and_corrupt_rjpeg(tmp_path: Path) -> None:
    raw = np.round(temperature_to_raw(_scene((256, 320)), CAL)).astype(np.uint16)
    good = write_flir_rjpeg(tmp_path / "good.jpg", raw, CAL).read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(ThermalFormatError, match="truncated") as exc:
        read_thermal(cut)
    assert "offset 0x" in str(exc.value)
    # drop one FLIR chunk: the message says which is missing
    from thermal.jpeg import read_segments

    segs = [s for s in read_segments(good) if s.payload.startswith(b"FLIR\0")]
    s = segs[1]
    gap = tmp_path / "gap.jpg"
    gap.write_bytes(good[: s.offset] + good[s.offset + 4 + len(s.payload) :])
    with pytest.raises(ThermalFormatError, match=r"chunk\(s\) \[1\] of 3 missing"):
        read_thermal(gap)
    with pytest.raises(ThermalFileNotFoundError):
        read_thermal(tmp_path / "absent.jpg")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"hello world, not a thermal file")
    with pytest.raises(ThermalFormatError, match="not a thermal file"):
        read_thermal(junk)


def test_writer_refuses_bad_counts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="0..65535"):
        write_flir_rjpeg(tmp_path / "x.jpg", np.full((4, 4), -3.0), CAL)
    with pytest.raises(ValueError, match="2-D"):
        write_flir_rjpeg(tmp_path / "x.jpg", np.zeros(8, np.uint16), CAL)


def test_why_flirpy_is_0_6_degc_off_on_ir_2412(thermal_data: Path) -> None:
    """flirpy divides humidity by 100 only when it exceeds 100 %: exiftool's "50.0 %" stays 50,
    so its water-vapour term is 100x too large and the transmission too low (0.958, not
    0.996 over 0.5 m): everything comes out ~0.6 degC warm. Given the fraction, it is exact."""
    from flirpy.util.raw import raw2temp

    f = read_thermal(thermal_data / "flir_rjpeg/IR_2412.jpg")
    ref = np.fromfile(
        thermal_data / "flir_rjpeg/IR_2412_tempC_W640_H480_float32le.raw", "<f4"
    ).reshape(480, 640)
    c = f.calibration
    meta = {
        "Atmospheric Trans Alpha 1": c.atm_alpha1,
        "Atmospheric Trans Alpha 2": c.atm_alpha2,
        "Atmospheric Trans Beta 1": c.atm_beta1,
        "Atmospheric Trans Beta 2": c.atm_beta2,
        "Atmospheric Trans X": c.atm_x,
        "Planck R1": c.planck_r1,
        "Planck R2": c.planck_r2,
        "Planck O": c.planck_o,
        "Planck B": c.planck_b,
        "Planck F": c.planck_f,
        "Emissivity": c.emissivity,
        "IR Window Transmission": c.ir_window_transmission,
        "IR Window Temperature": "20.0 C",
        "Object Distance": "1.00 m",
        "Atmospheric Temperature": "20.0 C",
        "Reflected Apparent Temperature": "20.0 C",
    }
    as_exiftool_prints = raw2temp(f.raw.astype(np.float64), meta | {"Relative Humidity": "50.0 %"})
    as_fraction = raw2temp(f.raw.astype(np.float64), meta | {"Relative Humidity": "0.5"})
    assert (as_exiftool_prints - ref).mean() == pytest.approx(0.63, abs=0.03)
    assert np.abs(as_fraction - ref).max() <= 0.05
