"""The thermal-frame record every reader returns: raw counts + calibration + metadata."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from thermal.radiometry import PlanckCalibration, raw_to_temperature

__all__ = ["RANGE_MARGIN_C", "Attitude", "GpsFix", "LinearCalibration", "ThermalFrame"]


@dataclass(frozen=True)
class GpsFix:
    """A position from the file's EXIF/XMP.

    ``alt_ref`` says what the altitude is measured from: ``"msl"`` (EXIF GPSAltitude, DJI
    AbsoluteAltitude), ``"ellipsoid"``, or ``"takeoff"``; ``rel_alt_m`` is DJI's
    RelativeAltitude (above the take-off point) when present.
    """

    lat_deg: float
    lon_deg: float
    alt_m: float | None = None
    alt_ref: str = "msl"
    rel_alt_m: float | None = None


@dataclass(frozen=True)
class Attitude:
    """Yaw, pitch, roll in degrees (DJI convention: absolute, NED, yaw from true north).

    For a gimbal: pitch 0 horizontal, -90 nadir; roll positive right side down.
    """

    yaw_deg: float
    pitch_deg: float
    roll_deg: float


class _Calibration(Protocol):
    def to_celsius(
        self, raw: ArrayLike, emissivity: ArrayLike | None = None
    ) -> NDArray[np.float64]: ...


@dataclass(frozen=True)
class LinearCalibration:
    """Counts linear in temperature (FLIR Tau/Boson "TLinear" radiometric TIFF).

    ``T_K = raw * kelvin_per_count + offset_k``. The camera has already applied its own object
    parameters (emissivity, reflected temperature) when it produced the counts; an emissivity
    override is applied as a grey-body correction with a nominal LWIR Planck curve
    (``nominal``), an approximation good to a few tenths of a degree near ambient.

    Examples
    --------
    >>> np.round(LinearCalibration(0.01).to_celsius(np.array([29815])), 6).tolist()
    [25.0]
    """

    kelvin_per_count: float
    offset_k: float = 0.0
    emissivity: float = 1.0
    reflected_temp_c: float = 20.0
    nominal: PlanckCalibration = field(
        default_factory=lambda: PlanckCalibration(emissivity=1.0, object_distance_m=0.0)
    )

    def to_celsius(
        self, raw: ArrayLike, emissivity: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        t_c: NDArray[np.float64] = (
            np.asarray(raw, dtype=np.float64) * self.kelvin_per_count + self.offset_k - 273.15
        )
        if emissivity is None:
            return t_c
        # back to the apparent radiance with the camera's own settings, then solve for the new E
        nom = self.nominal.replace(
            reflected_temp_c=self.reflected_temp_c,
            object_distance_m=0.0,
            ir_window_transmission=1.0,
        )
        apparent = self.emissivity * nom.blackbody_raw(t_c) + (
            1.0 - self.emissivity
        ) * nom.blackbody_raw(self.reflected_temp_c)
        return raw_to_temperature(apparent, nom, emissivity)


#: Degrees beyond the camera's calibrated range still accepted (edge pixels, a hot spot just
#: over the top of the range); further out a value is a decoding error, not a scene.
RANGE_MARGIN_C = 10.0


def _planck_to_celsius(
    cal: PlanckCalibration, raw: ArrayLike, emissivity: ArrayLike | None = None
) -> NDArray[np.float64]:
    return raw_to_temperature(raw, cal, emissivity)


@dataclass(frozen=True, eq=False)
class ThermalFrame:
    """One radiometric frame as read from a file.

    Attributes
    ----------
    raw : ndarray of uint16, shape (H, W)
        The sensor counts, as stored.
    calibration : PlanckCalibration or LinearCalibration
        How counts become degC (object parameters included, as written by the camera).
    source : str
        The file it came from.
    format : str
        ``"flir-rjpeg"``, ``"dji-flir-rjpeg"``, ``"flir-fff"``, ``"flir-seq"``, ``"flir-csq"``,
        ``"tiff-tlinear"``.
    frame_index : int
        Index in a sequence (0 for single images).
    camera_make, camera_model, lens_model : str
    datetime_utc_s : float or None
        UTC POSIX seconds of the capture, when the file says.
    gps : GpsFix or None
    gimbal, flight : Attitude or None
        DJI XMP ``GimbalYaw/Pitch/RollDegree`` (absolute) and ``FlightYaw/Pitch/RollDegree``.
    camera_range_c : (float, float) or None
        The calibrated range of the camera, degC.
    field_of_view_deg, focal_length_mm : float or None
    metadata : mapping
        Everything else decoded (raw-data storage, raw value statistics, serials).
    warnings : tuple of str
        Doubts about the file (implausible calibration, missing fields).
    """

    raw: NDArray[np.uint16]
    calibration: PlanckCalibration | LinearCalibration
    source: str
    format: str
    frame_index: int = 0
    camera_make: str = ""
    camera_model: str = ""
    lens_model: str = ""
    datetime_utc_s: float | None = None
    gps: GpsFix | None = None
    gimbal: Attitude | None = None
    flight: Attitude | None = None
    camera_range_c: tuple[float, float] | None = None
    field_of_view_deg: float | None = None
    focal_length_mm: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def height(self) -> int:
        return int(self.raw.shape[0])

    @property
    def width(self) -> int:
        return int(self.raw.shape[1])

    def temperature_c(
        self, emissivity: ArrayLike | None = None, *, mask_implausible: bool = True
    ) -> NDArray[np.float64]:
        """Object temperature of every pixel, degC; NaN where implausible for the camera.

        Parameters
        ----------
        emissivity : array_like, optional
            Overrides the file's emissivity: a scalar, or a ``(H, W)`` array for per-region
            values (e.g. from :func:`thermal.emissivity_map`).
        mask_implausible : bool
            NaN for pixels outside the camera's calibrated range (see :meth:`mask_implausible`).
        """
        if isinstance(self.calibration, PlanckCalibration):
            t = _planck_to_celsius(self.calibration, self.raw, emissivity)
        else:
            t = self.calibration.to_celsius(self.raw, emissivity)
        if mask_implausible:
            t = self.mask_implausible(t)
        return t

    def plausible_range_c(self) -> tuple[float, float] | None:
        """Temperatures this camera can report: its calibrated range widened by
        :data:`RANGE_MARGIN_C` on each side (None when the file gives no range)."""
        if self.camera_range_c is None:
            return None
        lo, hi = self.camera_range_c
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            return None
        return lo - RANGE_MARGIN_C, hi + RANGE_MARGIN_C

    def mask_implausible(self, temp_c: NDArray[np.float64]) -> NDArray[np.float64]:
        """``temp_c`` with pixels outside :meth:`plausible_range_c` (or not finite) set to NaN.

        A flipped bit in the raw counts decodes to hundreds of degrees outside the camera's
        range; as NaN it is never a leak (the detectors skip NaN) and is counted by callers
        with ``np.isnan``.
        """
        rng = self.plausible_range_c()
        if rng is None:
            return temp_c
        bad = ~((temp_c >= rng[0]) & (temp_c <= rng[1]))
        if bad.any():
            temp_c = np.where(bad, np.nan, temp_c)
        return temp_c

    def replace(self, **changes: Any) -> ThermalFrame:
        """A copy with some fields changed (e.g. ``calibration=cal.replace(...)``)."""
        return dataclasses.replace(self, **changes)
