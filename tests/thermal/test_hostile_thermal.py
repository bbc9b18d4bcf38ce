"""Damaged thermal files (generated from real ones into tmp_path): project errors, batch goes on."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from thermal.errors import CalibrationError, ThermalError, ThermalFormatError

#: Byte offset of IR_2412.jpg's air temperature (camera-info record + 0x2C, float32 LE, K).
IR_2412_AIR_TEMP_AT = 5898


def hot_air_bytes(ir_2412: Path) -> bytes:
    """IR_2412 with 4 changed bytes: an air temperature of 10,000 K (was an OverflowError)."""
    b = bytearray(ir_2412.read_bytes())
    assert struct.unpack_from("<f", b, IR_2412_AIR_TEMP_AT)[0] == pytest.approx(293.15)
    b[IR_2412_AIR_TEMP_AT : IR_2412_AIR_TEMP_AT + 4] = struct.pack("<f", 1.0e4)
    return bytes(b)


@pytest.fixture
def hot_air(thermal_data: Path, tmp_path: Path) -> Path:
    p = tmp_path / "IR_2412_hot_air.jpg"
    p.write_bytes(hot_air_bytes(thermal_data / "flir_rjpeg" / "IR_2412.jpg"))
    return p


def test_changed_air_temperature_names_file_and_field(hot_air: Path) -> None:
    from thermal import read_thermal

    with pytest.raises(ThermalFormatError) as e:
        read_thermal(hot_air)
    assert e.value.path == str(hot_air)
    assert "atmospheric_temp_c = 9726.85" in str(e.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [("atmospheric_temp_c", 1.0e4), ("atmospheric_temp_c", -150.0), ("atm_beta1", 3.0e3)],
)
def test_calibration_rejects_parameters_that_overflow(field: str, value: float) -> None:
    from thermal.radiometry import PlanckCalibration

    with pytest.raises(CalibrationError, match=field):
        PlanckCalibration(**{field: value})


def test_thermal_reader_given_a_folder(tmp_path: Path) -> None:
    from thermal import read_thermal

    with pytest.raises(ThermalError):
        read_thermal(tmp_path)


def _replay(name: str, seed: int, case: int, data: bytes) -> bytes:
    """The bytes of fuzz case ``case`` (survey.robustness.fuzz's seeding, copied here: thermal
    tests do not import survey)."""
    import random

    rng = random.Random(f"{name}:{seed}:{case}")
    how = rng.choice(
        ("truncate", "flip1", "flip10", "flip1pct", "zero_head", "huge_length", "splice")
    )
    b = bytearray(data)
    assert how == "flip1", how
    i = rng.randrange(len(b))
    b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def test_csq_bit_flip_is_a_format_error_not_a_buffer_error(
    thermal_data: Path, tmp_path: Path
) -> None:
    """Fuzz case 3 of SampleCSQ.csq (1 flipped bit) raised ``BufferError: cannot close
    exported pointers exist`` from seq.py, hiding the real error."""
    from thermal.read import iter_frames

    p = tmp_path / "flip.csq"
    p.write_bytes(
        _replay("csq", 0, 3, (thermal_data / "flir_seq_csq" / "SampleCSQ.csq").read_bytes())
    )
    with pytest.raises(ThermalError) as e:
        for frame in iter_frames(p):
            frame.temperature_c()
    assert e.value.path == str(p)


def test_damaged_tiff_is_a_format_error(thermal_data: Path, tmp_path: Path) -> None:
    """Bit flips in the strips made tifffile/imagecodecs raise IndexError or ImcdError."""
    from thermal import read_thermal

    b = bytearray((thermal_data / "flir_fff" / "example_radiometric.tiff").read_bytes())
    b[4:8] = b"\xff\xff\xff\x7f"  # first IFD offset far past the end
    p = tmp_path / "bad.tiff"
    p.write_bytes(b)
    with pytest.raises(ThermalFormatError) as e:
        read_thermal(p)
    assert e.value.path == str(p)


def test_any_decoder_failure_is_a_thermal_error(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The safety net: an unexpected exception type inside a decoder still names the file."""
    import thermal.read as tr

    def boom(path):  # type: ignore[no-untyped-def]
        raise OverflowError("int too large to convert")
        yield

    monkeypatch.setattr(tr, "_iter_frames", boom)
    p = tmp_path / "x.jpg"
    p.write_bytes(b"\xff\xd8")
    with pytest.raises(ThermalFormatError, match="OverflowError") as e:
        tr.read_thermal(p)
    assert e.value.path == str(p) and e.value.where == "frame 0"


def test_flipped_raw_bits_are_masked_not_leaks(thermal_data: Path) -> None:
    """Issue #15: single flipped bits in IR_2412's counts decoded to -102..443 degC in a scene of
    10-83 degC and became accepted leak anomalies. Outside the camera's calibrated range
    (-40..120 degC, from its metadata) they are now NaN, and the anomalies equal the clean ones."""
    import numpy as np

    from thermal import read_thermal
    from thermal.leaks import detect_anomalies

    clean = read_thermal(thermal_data / "flir_rjpeg" / "IR_2412.jpg")
    assert clean.camera_range_c == (-40.0, 120.0)
    t0 = clean.temperature_c()
    assert not np.isnan(t0).any() and 5 < np.nanmin(t0) and np.nanmax(t0) < 90

    rng = np.random.default_rng(15)
    raw = clean.raw.copy()
    hit = np.zeros(raw.shape, bool)
    for y, x in zip(rng.integers(40, 400, 4), rng.integers(40, 560, 4), strict=True):
        hit[y : y + 8, x : x + 8] = True  # a damaged block: one high bit in each of 64 counts
    raw[hit] ^= np.uint16(1 << 14)
    bad = clean.replace(raw=raw)
    unmasked = bad.temperature_c(mask_implausible=False)
    out = hit & ~((unmasked >= -50) & (unmasked <= 130))
    assert out.sum() >= 200  # the flips really leave the range (reference: unmasked decode)
    t = bad.temperature_c()
    assert np.isnan(t[out]).all() and int(np.isnan(t).sum()) == int(out.sum())
    np.testing.assert_array_equal(t[~out], unmasked[~out])

    a0, a1 = detect_anomalies(t0), detect_anomalies(t)
    assert int(a1.accepted.sum()) == int(a0.accepted.sum())
