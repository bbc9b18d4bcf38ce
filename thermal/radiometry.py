"""Raw sensor counts <-> object temperature: the full FLIR radiometric model.

A FLIR-core camera reports, per pixel, a raw count that is (after the camera's own
non-uniformity correction) linear in the radiance reaching the detector. The camera's Planck
constants map radiance of a black body at temperature ``T`` (kelvin) to counts::

    raw_bb(T) = R1 / (R2 * (exp(B / T) - F)) - O

The radiance reaching the detector is not the object's alone. Along the path object ->
atmosphere -> external window (optics) -> atmosphere -> camera it is::

    raw = tau1 * IRT * tau2 * (E * raw_bb(T_obj) + (1 - E) * raw_bb(T_refl))
        + IRT * tau2 * (1 - tau1) * raw_bb(T_atm)          # air between object and window
        + tau2 * (1 - IRT) * raw_bb(T_window)              # the window's own emission
        + (1 - tau2) * raw_bb(T_atm)                        # air between window and camera

with emissivity ``E``, window transmission ``IRT`` and the atmospheric transmissions ``tau1``,
``tau2`` of each half of the object distance (the window is assumed half way, as in FLIR's and
Thermimage's model). Atmospheric transmission follows FLIR's two-term model of the water
vapour content::

    h2o  = RH/100 * exp(1.5587 + 0.06939 t - 0.00027816 t^2 + 0.00000068455 t^3)   (t in degC)
    tau  = X exp(-sqrt(d) (a1 + b1 sqrt(h2o))) + (1 - X) exp(-sqrt(d) (a2 + b2 sqrt(h2o)))

with ``d`` = half the object distance in metres. :func:`raw_to_temperature` solves this for
``T_obj`` and :func:`temperature_to_raw` evaluates it; the two are exact inverses.

Relative humidity is a **percentage** here. FLIR files store it as a fraction (exiftool shows
``50.0 %``); passing the percentage where a fraction is expected (or the reverse) changes
``h2o`` a hundredfold: that is the 0.6 degC error of flirpy's route on ``IR_2412.jpg``
(see the README).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from thermal.errors import CalibrationError

__all__ = [
    "PlanckCalibration",
    "atmospheric_transmission",
    "raw_to_temperature",
    "temperature_to_raw",
]

KELVIN = 273.15


def _f(default: float, help: str) -> Any:
    return field(default=default, metadata={"help": help})


#: Object/path parameters outside these ranges are rejected (a damaged file, not a scene): the
#: atmospheric model overflows above ~1,100 degC air and is only fitted for ordinary air.
_PARAM_BOUNDS: dict[str, tuple[float, float]] = {
    "atmospheric_temp_c": (-100.0, 200.0),
    "reflected_temp_c": (-273.15, 3000.0),
    "ir_window_temp_c": (-273.15, 3000.0),
    "object_distance_m": (0.0, 1.0e5),
    "atm_alpha1": (-1.0, 1.0),
    "atm_alpha2": (-1.0, 1.0),
    "atm_beta1": (-1.0, 1.0),
    "atm_beta2": (-1.0, 1.0),
    "atm_x": (-10.0, 10.0),
}


@dataclass(frozen=True)
class PlanckCalibration:
    """FLIR camera calibration (Planck constants) and the object / path parameters.

    The defaults are a DJI Zenmuse XT2 (FLIR Tau 2 core, 640x512) with FLIR's default object
    parameters (emissivity 0.95, 1 m, 20 degC, 50 % humidity, no window).

    Examples
    --------
    >>> cal = PlanckCalibration()
    >>> cal.planck_b
    1428.0
    >>> cal.replace(emissivity=0.9).emissivity
    0.9
    """

    planck_r1: float = _f(
        17096.453, "Planck R1 (counts x R2 scale), from the camera's calibration."
    )
    planck_r2: float = _f(0.046582058, "Planck R2.")
    planck_b: float = _f(1428.0, "Planck B (kelvin).")
    planck_f: float = _f(1.0, "Planck F.")
    planck_o: float = _f(-267.0, "Planck O (counts offset).")
    emissivity: float = _f(0.95, "Object emissivity, in (0, 1].")
    object_distance_m: float = _f(1.0, "Distance from the camera to the object, metres.")
    reflected_temp_c: float = _f(20.0, "Reflected apparent temperature (sky/surroundings), degC.")
    atmospheric_temp_c: float = _f(20.0, "Air temperature along the path, degC.")
    ir_window_temp_c: float = _f(20.0, "Temperature of the external optics/window, degC.")
    ir_window_transmission: float = _f(1.0, "Transmission of the external optics, in (0, 1].")
    relative_humidity_pct: float = _f(50.0, "Relative humidity of the air, percent (0-100).")
    atm_alpha1: float = _f(0.006569, "Atmospheric transmission constant alpha1.")
    atm_alpha2: float = _f(0.012620, "Atmospheric transmission constant alpha2.")
    atm_beta1: float = _f(-0.002276, "Atmospheric transmission constant beta1.")
    atm_beta2: float = _f(-0.006670, "Atmospheric transmission constant beta2.")
    atm_x: float = _f(1.9, "Atmospheric transmission mixing constant X.")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int | float) or not math.isfinite(v):
                raise CalibrationError(f"{f.name} must be a finite number, got {v!r}")
        if not 0.0 < self.emissivity <= 1.0:
            raise CalibrationError(f"emissivity must be in (0, 1], got {self.emissivity}")
        if not 0.0 < self.ir_window_transmission <= 1.0:
            raise CalibrationError(
                f"ir_window_transmission must be in (0, 1], got {self.ir_window_transmission}"
            )
        if self.object_distance_m < 0.0:
            raise CalibrationError(f"object_distance_m must be >= 0, got {self.object_distance_m}")
        if not 0.0 <= self.relative_humidity_pct <= 100.0:
            raise CalibrationError(
                "relative_humidity_pct is a percentage in [0, 100], got "
                f"{self.relative_humidity_pct}"
            )
        for name, (lo, hi) in _PARAM_BOUNDS.items():
            v = getattr(self, name)
            if not lo <= v <= hi:
                raise CalibrationError(
                    f"{name} = {v:g} is outside the physically usable range [{lo:g}, {hi:g}]"
                )
        if self.planck_r1 == 0.0 or self.planck_r2 == 0.0 or self.planck_b <= 0.0:
            raise CalibrationError(
                f"Planck constants R1={self.planck_r1}, R2={self.planck_r2}, B={self.planck_b}: "
                "R1 and R2 must be non-zero and B positive"
            )

    def replace(self, **changes: Any) -> PlanckCalibration:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def blackbody_raw(self, temp_c: ArrayLike) -> NDArray[np.float64]:
        """Raw counts of a black body at ``temp_c`` seen with no atmosphere (the Planck curve).

        Examples
        --------
        >>> round(float(PlanckCalibration().blackbody_raw(20.0)), 2)
        3101.54
        """
        t_k = np.asarray(temp_c, dtype=np.float64) + KELVIN
        r: NDArray[np.float64] = (
            self.planck_r1 / (self.planck_r2 * (np.exp(self.planck_b / t_k) - self.planck_f))
            - self.planck_o
        )
        return r

    def blackbody_temperature(self, raw: ArrayLike) -> NDArray[np.float64]:
        """Inverse of :meth:`blackbody_raw`: the apparent (black-body) temperature in degC.

        Counts at or below the curve's floor (``raw + O <= 0``) give NaN.

        Examples
        --------
        >>> cal = PlanckCalibration()
        >>> round(float(cal.blackbody_temperature(cal.blackbody_raw(55.5))), 9)
        55.5
        """
        r = np.asarray(raw, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            arg = self.planck_r1 / (self.planck_r2 * (r + self.planck_o)) + self.planck_f
            t: NDArray[np.float64] = self.planck_b / np.log(arg) - KELVIN
        return np.where((r + self.planck_o > 0) & (arg > 1.0), t, np.nan)

    def transmission(self) -> tuple[float, float]:
        """Atmospheric transmissions ``(tau1, tau2)`` of the two halves of the path."""
        tau = atmospheric_transmission(
            self.object_distance_m / 2.0,
            self.atmospheric_temp_c,
            self.relative_humidity_pct,
            alpha1=self.atm_alpha1,
            alpha2=self.atm_alpha2,
            beta1=self.atm_beta1,
            beta2=self.atm_beta2,
            x=self.atm_x,
        )
        return tau, tau

    def _terms(self, emissivity: ArrayLike | None) -> tuple[Any, Any, Any]:
        """``(E, gain, offset)`` with ``raw = gain * raw_bb(T_obj) + offset``."""
        e = self.emissivity if emissivity is None else np.asarray(emissivity, dtype=np.float64)
        if emissivity is not None and (np.any(~(e > 0.0)) or np.any(e > 1.0)):
            raise CalibrationError("emissivity overrides must be in (0, 1]")
        tau1, tau2 = self.transmission()
        irt = self.ir_window_transmission
        raw_refl = float(self.blackbody_raw(self.reflected_temp_c))
        raw_atm = float(self.blackbody_raw(self.atmospheric_temp_c))
        raw_win = float(self.blackbody_raw(self.ir_window_temp_c))
        path = tau1 * irt * tau2
        constant = (
            irt * tau2 * (1.0 - tau1) * raw_atm
            + tau2 * (1.0 - irt) * raw_win
            + (1.0 - tau2) * raw_atm
        )
        gain = path * e
        offset = path * (1.0 - e) * raw_refl + constant
        return e, gain, offset


def atmospheric_transmission(
    distance_m: ArrayLike,
    air_temp_c: float,
    relative_humidity_pct: float,
    *,
    alpha1: float = 0.006569,
    alpha2: float = 0.012620,
    beta1: float = -0.002276,
    beta2: float = -0.006670,
    x: float = 1.9,
) -> Any:
    """FLIR's atmospheric transmission over ``distance_m`` of air.

    Examples
    --------
    >>> round(float(atmospheric_transmission(0.5, 20.0, 50.0)), 6)
    0.995722
    >>> float(atmospheric_transmission(0.0, 20.0, 50.0))
    1.0
    """
    t = air_temp_c
    h2o = (relative_humidity_pct / 100.0) * math.exp(
        1.5587 + 0.06939 * t - 0.00027816 * t**2 + 0.00000068455 * t**3
    )
    s = np.sqrt(np.asarray(distance_m, dtype=np.float64))
    sh = math.sqrt(h2o)
    return x * np.exp(-s * (alpha1 + beta1 * sh)) + (1.0 - x) * np.exp(-s * (alpha2 + beta2 * sh))


def temperature_to_raw(
    temp_c: ArrayLike, cal: PlanckCalibration, emissivity: ArrayLike | None = None
) -> NDArray[np.float64]:
    """Raw counts the camera reports for objects at ``temp_c`` (the forward model).

    Parameters
    ----------
    temp_c : array_like
        Object temperatures in degC (any shape).
    cal : PlanckCalibration
        Camera constants and object / path parameters.
    emissivity : array_like, optional
        Emissivity overriding ``cal.emissivity``; may be a per-pixel array broadcastable
        against ``temp_c`` (e.g. 0.8 on a steel pipe, 0.95 on soil).

    Returns
    -------
    ndarray of float64
        Raw counts (not rounded; round and clip to uint16 to make a frame).

    Examples
    --------
    >>> cal = PlanckCalibration(emissivity=0.9, object_distance_m=40.0)
    >>> raw = temperature_to_raw([10.0, 35.0], cal)
    >>> np.round(raw_to_temperature(raw, cal), 9).tolist()
    [10.0, 35.0]
    """
    _, gain, offset = cal._terms(emissivity)
    out: NDArray[np.float64] = gain * cal.blackbody_raw(temp_c) + offset
    return out


def raw_to_temperature(
    raw: ArrayLike, cal: PlanckCalibration, emissivity: ArrayLike | None = None
) -> NDArray[np.float64]:
    """Object temperature in degC from raw counts (inverse of :func:`temperature_to_raw`).

    A ``uint16`` frame with a scalar emissivity goes through a look-up table over the counts
    present in the frame (exact: the same formula evaluated once per distinct count), which is
    several times faster than evaluating the model per pixel.

    Parameters
    ----------
    raw : array_like
        Raw counts (any shape), e.g. a ``(H, W)`` ``uint16`` frame.
    cal : PlanckCalibration
        Camera constants and object / path parameters.
    emissivity : array_like, optional
        Emissivity overriding ``cal.emissivity``, scalar or per pixel (broadcastable).

    Returns
    -------
    ndarray of float64
        degC; NaN where the counts lie below what any object temperature can produce.

    Examples
    --------
    >>> cal = PlanckCalibration()
    >>> t = raw_to_temperature(np.array([[2700, 4000]], dtype=np.uint16), cal)
    >>> np.round(t, 3).tolist()
    [[10.574, 38.387]]
    >>> float(np.round(raw_to_temperature(4000.0, cal, emissivity=0.5), 3))
    52.745
    """
    arr = np.asarray(raw)
    scalar_e = emissivity is None or np.ndim(emissivity) == 0
    if arr.dtype == np.uint16 and scalar_e and arr.size > 4096:
        lo, hi = int(arr.min()), int(arr.max())
        lut = _invert(np.arange(lo, hi + 1, dtype=np.float64), cal, emissivity)
        return lut[arr - np.uint16(lo)] if lo else lut[arr]
    return _invert(arr.astype(np.float64, copy=False), cal, emissivity)


def _invert(
    raw: NDArray[np.float64], cal: PlanckCalibration, emissivity: ArrayLike | None
) -> NDArray[np.float64]:
    _, gain, offset = cal._terms(emissivity)
    return cal.blackbody_temperature((raw - offset) / gain)
