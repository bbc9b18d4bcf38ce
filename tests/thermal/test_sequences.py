"""FFF files, SEQ and CSQ sequences, radiometric TIFF, FPF."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from thermal import (
    LinearCalibration,
    NotRadiometricError,
    PlanckCalibration,
    ThermalFormatError,
    iter_frames,
    read_thermal,
)
from thermal.fff import build_fff
from thermal.flir import camera_info_from_calibration
from thermal.seq import count_fff_frames


def test_seq_matches_thermimage_reference(thermal_data: Path) -> None:
    ref = np.fromfile(
        thermal_data / "flir_seq_csq/SampleSEQ_tempC_W640_H480_F2_float32le.raw", "<f4"
    ).reshape(2, 480, 640)
    frames = list(iter_frames(thermal_data / "flir_seq_csq/SampleSEQ.seq"))
    assert [f.frame_index for f in frames] == [0, 1]
    assert count_fff_frames(thermal_data / "flir_seq_csq/SampleSEQ.seq") == 2
    for f, r in zip(frames, ref, strict=True):
        assert f.format == "flir-seq"
        assert np.abs(f.temperature_c() - r).max() <= 0.05
    assert frames[1].datetime_utc_s - frames[0].datetime_utc_s == pytest.approx(3.967, abs=1e-3)


def test_csq_jpeg_ls_frames_then_truncation(thermal_data: Path) -> None:
    path = thermal_data / "flir_seq_csq/SampleCSQ.csq"
    got = []
    with pytest.raises(ThermalFormatError, match="frame 7 .*truncated"):
        for f in iter_frames(path):
            got.append(f)
    # everything before the truncated last frame was delivered
    assert len(got) == 7
    f = got[0]
    assert f.format == "flir-csq" and f.metadata["raw_storage"] == "jpeg-ls"
    assert (f.height, f.width) == (768, 1024) and f.camera_model.startswith("FLIR T1030sc")
    assert f.calibration.planck_r1 == pytest.approx(21546.203, rel=1e-7)  # exiftool -ee
    t = f.temperature_c()
    assert 10.0 < np.percentile(t, 1) < np.percentile(t, 99) < 40.0


def test_fff_frames_big_and_little_endian(
    thermal_data: Path, exiftool_dump: Callable[[Path], dict[str, str]]
) -> None:
    dump = exiftool_dump(thermal_data / "flir_fff/frame_000000.exiftool.txt")
    f = read_thermal(thermal_data / "flir_fff/frame_000000.fff")
    assert f.format == "flir-fff"
    assert f.calibration.planck_r1 == pytest.approx(float(dump["Planck R1"]), rel=1e-7)
    assert f.calibration.planck_o == pytest.approx(float(dump["Planck O"]))
    assert (f.width, f.height) == (
        int(dump["Raw Thermal Image Width"]),
        int(dump["Raw Thermal Image Height"]),
    )
    le = read_thermal(thermal_data / "flir_fff/frame_000000_le.fff")
    assert le.metadata["raw_storage"] == "raw-le"
    for frame in (f, le):
        t = frame.temperature_c()
        assert np.isfinite(t).all() and -30 < np.median(t) < 60


def test_synthetic_sequence_round_trip(tmp_path: Path) -> None:
    cal = PlanckCalibration(emissivity=0.9, object_distance_m=12.0)
    rng = np.random.default_rng(3)
    raws = [rng.integers(2500, 6000, (24, 32)).astype(np.uint16) for _ in range(3)]
    info = camera_info_from_calibration(cal) | {"range_min_k": 248.15, "range_max_k": 408.15}
    blob = b"".join(build_fff(r, info | {"datetime_utc_s": 1000.0 + i}) for i, r in enumerate(raws))
    p = tmp_path / "s.seq"
    p.write_bytes(blob)
    frames = list(iter_frames(p))
    assert len(frames) == 3 and frames[2].datetime_utc_s == pytest.approx(1002.0)
    for f, r in zip(frames, raws, strict=True):
        np.testing.assert_array_equal(f.raw, r)
        assert f.calibration == cal
    # a sequence cut in the middle of frame 2: frames 0 and 1 arrive, then a clear error
    cut = tmp_path / "cut.seq"
    cut.write_bytes(blob[: len(blob) - 100])
    got = []
    with pytest.raises(ThermalFormatError, match="frame 2 at offset"):
        got.extend(iter_frames(cut))
    assert len(got) == 2


def test_radiometric_tiff(thermal_data: Path) -> None:
    f = read_thermal(thermal_data / "flir_fff/example_radiometric.tiff")
    assert f.format == "tiff-tlinear" and f.camera_model == "Duo Pro R"
    assert isinstance(f.calibration, LinearCalibration) and f.calibration.kelvin_per_count == 0.04
    assert np.median(f.raw) == 6994  # value from the file itself (tifffile)
    t = f.temperature_c()
    assert np.median(t) == pytest.approx(6994 * 0.04 - 273.15)
    assert f.gps is not None and f.gps.lon_deg == pytest.approx(
        -(2 + 48 / 60 + 44.17 / 3600), abs=1e-5
    )
    # emissivity override: a grey body at lower emissivity must be warmer than the scene above ambient
    hot = np.array([[8000]], np.uint16)  # 46.85 degC at E = 1
    corrected = LinearCalibration(0.04).to_celsius(hot, emissivity=0.8)
    assert corrected[0, 0] > 46.85 + 3.0


def test_eight_bit_tiff_is_not_radiometric(tmp_path: Path) -> None:
    import tifffile

    p = tmp_path / "rgb.tiff"
    tifffile.imwrite(p, np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(NotRadiometricError, match="16-bit"):
        read_thermal(p)


def test_fpf_stub_is_truncated(thermal_data: Path) -> None:
    with pytest.raises(
        ThermalFormatError, match="160x120 float32 temperature image.*expected 76800"
    ):
        read_thermal(thermal_data / "exiftool_stubs/FLIR.fpf")
