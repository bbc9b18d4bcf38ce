"""The radiometric model: exact inverse, hand-computed cases, per-pixel emissivity, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from thermal import CalibrationError, PlanckCalibration, raw_to_temperature, temperature_to_raw
from thermal.radiometry import atmospheric_transmission

IR_2412 = PlanckCalibration(
    planck_r1=21106.77,
    planck_r2=0.012545258,
    planck_b=1501.0,
    planck_f=1.0,
    planck_o=-7340.0,
    emissivity=0.95,
)


def test_bare_planck_curve_matches_hand_computation() -> None:
    # E = 1, no distance, no window: temperature is B / ln(R1 / (R2 (raw + O)) + F)
    cal = IR_2412.replace(emissivity=1.0, object_distance_m=0.0)
    raw = 18604.0
    expected = 1501.0 / math.log(21106.77 / (0.012545258 * (raw - 7340.0)) + 1.0) - 273.15
    assert raw_to_temperature(raw, cal) == pytest.approx(expected, abs=1e-9)
    assert temperature_to_raw(expected, cal) == pytest.approx(raw, abs=1e-7)


def test_emissivity_and_reflection_by_hand() -> None:
    # No atmosphere: raw = E * bb(T) + (1 - E) * bb(T_refl)
    cal = IR_2412.replace(emissivity=0.8, object_distance_m=0.0, reflected_temp_c=-10.0)

    def bb(t_c: float) -> float:
        return 21106.77 / (0.012545258 * (math.exp(1501.0 / (t_c + 273.15)) - 1.0)) + 7340.0

    assert temperature_to_raw(60.0, cal) == pytest.approx(
        0.8 * bb(60.0) + 0.2 * bb(-10.0), rel=1e-12
    )


def test_atmospheric_transmission_by_hand() -> None:
    h2o = 0.5 * math.exp(1.5587 + 0.06939 * 20 - 0.00027816 * 400 + 0.00000068455 * 8000)
    d = math.sqrt(50.0)
    tau = 1.9 * math.exp(-d * (0.006569 - 0.002276 * math.sqrt(h2o))) - 0.9 * math.exp(
        -d * (0.012620 - 0.006670 * math.sqrt(h2o))
    )
    assert atmospheric_transmission(50.0, 20.0, 50.0) == pytest.approx(tau, rel=1e-12)
    cal = PlanckCalibration(object_distance_m=100.0)
    assert cal.transmission() == pytest.approx((tau, tau))


@pytest.mark.parametrize("distance_m", [0.0, 1.0, 30.0, 120.0])
@pytest.mark.parametrize("rh", [0.0, 50.0, 95.0])
def test_forward_and_inverse_are_exact(distance_m: float, rh: float) -> None:
    cal = PlanckCalibration(
        emissivity=0.92,
        object_distance_m=distance_m,
        relative_humidity_pct=rh,
        reflected_temp_c=-20.0,
        atmospheric_temp_c=8.0,
        ir_window_transmission=0.9,
        ir_window_temp_c=15.0,
    )
    temps = np.linspace(-30.0, 150.0, 97)
    back = raw_to_temperature(temperature_to_raw(temps, cal), cal)
    np.testing.assert_allclose(back, temps, atol=1e-9)


def test_per_pixel_emissivity_matches_scalar_runs() -> None:
    cal = PlanckCalibration(object_distance_m=40.0, reflected_temp_c=-5.0)
    raw = np.full((4, 5), 9000, dtype=np.uint16)
    emis = np.full((4, 5), 0.95)
    emis[1:3, 1:4] = 0.80  # a steel pipe in soil
    t = raw_to_temperature(raw, cal, emissivity=emis)
    assert t[0, 0] == pytest.approx(raw_to_temperature(9000.0, cal, 0.95))
    assert t[2, 2] == pytest.approx(raw_to_temperature(9000.0, cal, 0.80))
    # lower emissivity + cold sky: the same counts mean a hotter object
    assert t[2, 2] > t[0, 0] + 3.0
    np.testing.assert_allclose(temperature_to_raw(t, cal, emissivity=emis), raw, atol=1e-8)


def test_lookup_table_path_equals_direct_formula() -> None:
    cal = PlanckCalibration(object_distance_m=25.0)
    rng = np.random.default_rng(1)
    raw = rng.integers(3000, 12000, size=(128, 160)).astype(np.uint16)
    lut = raw_to_temperature(raw, cal)  # uint16 + scalar emissivity -> table
    direct = raw_to_temperature(raw.astype(np.float64), cal)
    np.testing.assert_array_equal(lut, direct)


def test_counts_below_the_curve_floor_are_nan() -> None:
    cal = PlanckCalibration()
    assert np.isnan(raw_to_temperature(200.0, cal))  # raw + O <= 0


@pytest.mark.parametrize(
    "changes",
    [
        {"emissivity": 0.0},
        {"emissivity": 1.2},
        {"relative_humidity_pct": 150.0},
        {"object_distance_m": -1.0},
        {"ir_window_transmission": 0.0},
        {"planck_r1": float("nan")},
        {"planck_b": 0.0},
    ],
)
def test_invalid_parameters_are_refused(changes: dict[str, float]) -> None:
    with pytest.raises(CalibrationError) as err:
        PlanckCalibration(**changes)
    assert next(iter(changes)) in str(err.value) or "Planck" in str(err.value)


def test_invalid_emissivity_override_is_refused() -> None:
    with pytest.raises(CalibrationError, match="emissivity"):
        raw_to_temperature(np.array([9000.0]), PlanckCalibration(), emissivity=np.array([0.0]))
