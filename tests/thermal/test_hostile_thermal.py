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
