"""Camera poses as a struct-of-arrays: position, altitude reference, gimbal and vehicle angles.

This is the input record of geolocation. Any pose source (the telemetry pose track, DJI photo
XMP, the simulator) fills it with plain arrays; ``geo`` never reads logs itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.altitude import ALT_REFS, AltRef, convert_altitude
from geo.camera import Boresight
from geo.errors import GeoValueError
from geo.rotation import (
    GimbalMode,
    euler_zyx_from_matrix,
    matrix_from_euler_zyx,
    rotation_ned_from_cam,
    rotation_ned_from_gimbal,
)

__all__ = ["CameraPoses"]

_ARRAYS = (
    "lat_deg",
    "lon_deg",
    "alt_m",
    "yaw_deg",
    "pitch_deg",
    "roll_deg",
    "vehicle_yaw_deg",
    "vehicle_pitch_deg",
    "vehicle_roll_deg",
    "t_s",
)


def _arr(v: ArrayLike | None, n: int | None, name: str) -> NDArray[np.float64] | None:
    if v is None:
        return None
    a = np.atleast_1d(np.asarray(v, dtype=np.float64))
    if a.ndim != 1:
        raise GeoValueError(f"{name} must be 1-D, got shape {a.shape}")
    if n is not None and a.size == 1 and n > 1:
        a = np.full(n, a[0])
    if n is not None and a.size != n:
        raise GeoValueError(f"{name} has {a.size} values, expected {n}")
    return a


@dataclass(frozen=True, eq=False)
class CameraPoses:
    """N camera poses (parallel arrays).

    Parameters
    ----------
    lat_deg, lon_deg : array_like
        WGS84 position of the camera.
    alt_m : array_like
        Camera altitude in the reference ``alt_ref``.
    alt_ref : {"ellipsoid", "msl", "takeoff"}
        What ``alt_m`` is measured from.
    yaw_deg, pitch_deg, roll_deg : array_like
        Gimbal angles (Z-Y-X; see :mod:`geo.rotation`).
    gimbal_mode : {"absolute", "relative"}
        ``"absolute"``: gimbal angles relative to NED (DJI); ``"relative"``: relative to the
        vehicle body (then the ``vehicle_*`` angles are required).
    vehicle_yaw_deg, vehicle_pitch_deg, vehicle_roll_deg : array_like, optional
        Vehicle attitude (NED, yaw from true north).
    t_s : array_like, optional
        Time of each pose (UTC POSIX seconds, or a stated relative base).
    takeoff_alt_m : float, optional
        Absolute altitude of the take-off point, with ``takeoff_ref``; needed when
        ``alt_ref == "takeoff"`` and the ground is given in an absolute reference.
    takeoff_ref : {"ellipsoid", "msl"}, optional
        Reference of ``takeoff_alt_m``.

    Examples
    --------
    >>> p = CameraPoses.single(48.2, 15.6, 40.0, "takeoff", 0.0, -90.0, 0.0)
    >>> len(p), p.alt_ref
    (1, 'takeoff')
    """

    lat_deg: NDArray[np.float64]
    lon_deg: NDArray[np.float64]
    alt_m: NDArray[np.float64]
    alt_ref: AltRef
    yaw_deg: NDArray[np.float64]
    pitch_deg: NDArray[np.float64]
    roll_deg: NDArray[np.float64]
    gimbal_mode: GimbalMode = "absolute"
    vehicle_yaw_deg: NDArray[np.float64] | None = None
    vehicle_pitch_deg: NDArray[np.float64] | None = None
    vehicle_roll_deg: NDArray[np.float64] | None = None
    t_s: NDArray[np.float64] | None = None
    takeoff_alt_m: float | None = None
    takeoff_ref: AltRef | None = None

    def __post_init__(self) -> None:
        lat = _arr(self.lat_deg, None, "lat_deg")
        if lat is None:
            raise GeoValueError("lat_deg is required")
        n = lat.size
        for name in _ARRAYS:
            object.__setattr__(self, name, _arr(getattr(self, name), n, name))
        if self.alt_ref not in ALT_REFS:
            raise GeoValueError(f"alt_ref must be one of {ALT_REFS}, got {self.alt_ref!r}")
        if self.gimbal_mode not in ("absolute", "relative"):
            raise GeoValueError(
                f"gimbal_mode must be 'absolute' or 'relative', got {self.gimbal_mode!r}"
            )
        if self.gimbal_mode == "relative" and (
            self.vehicle_yaw_deg is None
            or self.vehicle_pitch_deg is None
            or self.vehicle_roll_deg is None
        ):
            raise GeoValueError("gimbal_mode 'relative' needs vehicle_yaw/pitch/roll_deg")
        bad_lat = np.abs(self.lat_deg) > 90
        bad_lon = np.abs(self.lon_deg) > 180
        if np.any(bad_lat | bad_lon):
            i = int(np.nonzero(bad_lat | bad_lon)[0][0])
            raise GeoValueError(
                f"pose {i}: lat/lon out of range ({self.lat_deg[i]}, {self.lon_deg[i]})"
            )

    # ------------------------------------------------------------------ construction
    @classmethod
    def single(
        cls,
        lat_deg: float,
        lon_deg: float,
        alt_m: float,
        alt_ref: AltRef,
        yaw_deg: float,
        pitch_deg: float,
        roll_deg: float,
        **kwargs: Any,
    ) -> CameraPoses:
        """One pose."""
        return cls(
            np.array([lat_deg]), np.array([lon_deg]), np.array([alt_m]), alt_ref,
            np.array([yaw_deg]), np.array([pitch_deg]), np.array([roll_deg]), **kwargs,
        )  # fmt: skip

    @classmethod
    def from_records(cls, records: Any, **kwargs: Any) -> CameraPoses:
        """From a mapping of columns or an object with array attributes (a pose track).

        Looks for ``lat_deg, lon_deg, alt_m`` and gimbal angles ``gimbal_yaw_deg`` ...
        (falling back to ``yaw_deg`` ...), ``vehicle_*`` or ``roll_deg/pitch_deg/yaw_deg`` for
        the vehicle, ``alt_ref`` and ``gimbal_mode``; keyword arguments override.
        """

        def get(*names: str) -> Any:
            for n in names:
                if isinstance(records, Mapping) and n in records:
                    return records[n]
                if not isinstance(records, Mapping) and getattr(records, n, None) is not None:
                    return getattr(records, n)
            return None

        vals: dict[str, Any] = {
            "lat_deg": get("lat_deg"),
            "lon_deg": get("lon_deg"),
            "alt_m": get("alt_m"),
            "alt_ref": get("alt_ref"),
            "yaw_deg": get("gimbal_yaw_deg", "yaw_deg"),
            "pitch_deg": get("gimbal_pitch_deg", "pitch_deg"),
            "roll_deg": get("gimbal_roll_deg", "roll_deg"),
            "gimbal_mode": get("gimbal_mode") or "absolute",
            "vehicle_yaw_deg": get("vehicle_yaw_deg"),
            "vehicle_pitch_deg": get("vehicle_pitch_deg"),
            "vehicle_roll_deg": get("vehicle_roll_deg"),
            "t_s": get("t_s"),
            "takeoff_alt_m": get("takeoff_alt_m"),
            "takeoff_ref": get("takeoff_ref"),
        }
        if vals["gimbal_mode"] == "relative" and vals["vehicle_yaw_deg"] is None:
            # a track whose yaw/pitch/roll are the vehicle's and gimbal_* are relative
            vals["vehicle_yaw_deg"] = get("yaw_deg")
            vals["vehicle_pitch_deg"] = get("pitch_deg")
            vals["vehicle_roll_deg"] = get("roll_deg")
        vals.update(kwargs)
        missing = [
            k
            for k in ("lat_deg", "lon_deg", "alt_m", "alt_ref", "yaw_deg", "pitch_deg", "roll_deg")
            if vals[k] is None
        ]
        if missing:
            raise GeoValueError(f"pose records lack {', '.join(missing)}")
        return cls(**vals)

    def __len__(self) -> int:
        return int(self.lat_deg.size)

    def subset(self, index: ArrayLike) -> CameraPoses:
        """Poses selected by an integer index array or a boolean mask."""
        idx = np.asarray(index)
        changes = {
            name: getattr(self, name)[idx] for name in _ARRAYS if getattr(self, name) is not None
        }
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (arrays as lists), for JSON."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.tolist() if isinstance(v, np.ndarray) else v
        return out

    # ------------------------------------------------------------------ derived values
    def rotation_ned_from_gimbal(self, boresight: Boresight | None = None) -> NDArray[np.float64]:
        """``(N, 3, 3)`` gimbal-to-NED rotations (with a second camera's boresight)."""
        R = rotation_ned_from_gimbal(
            self.yaw_deg, self.pitch_deg, self.roll_deg, self.gimbal_mode,
            self.vehicle_yaw_deg, self.vehicle_pitch_deg, self.vehicle_roll_deg,
        )  # fmt: skip
        if boresight is not None:
            R = np.matmul(R, boresight.rotation())
        return R

    def rotation_ned_from_cam(self, boresight: Boresight | None = None) -> NDArray[np.float64]:
        """``(N, 3, 3)`` camera-to-NED rotations (OpenCV camera axes)."""
        return rotation_ned_from_cam(self.rotation_ned_from_gimbal(boresight))

    def absolute_angles(self) -> tuple[NDArray[np.float64], ...]:
        """Gimbal yaw, pitch, roll relative to NED (converts relative mounts)."""
        if self.gimbal_mode == "absolute":
            return self.yaw_deg, self.pitch_deg, self.roll_deg
        return euler_zyx_from_matrix(self.rotation_ned_from_gimbal())

    def lever_arm_ned(self, boresight: Boresight | None) -> NDArray[np.float64]:
        """``(N, 3)`` NED offset of a boresighted camera from the pose position."""
        out = np.zeros((len(self), 3))
        if boresight is None:
            return out
        if any(boresight.lever_arm_m):
            R = self.rotation_ned_from_gimbal()
            out += np.einsum("nij,j->ni", R, np.asarray(boresight.lever_arm_m, dtype=np.float64))
        if any(boresight.body_lever_arm_m):
            if self.vehicle_yaw_deg is not None and self.vehicle_pitch_deg is not None:
                vroll = self.vehicle_roll_deg if self.vehicle_roll_deg is not None else 0.0
                Rb = matrix_from_euler_zyx(self.vehicle_yaw_deg, self.vehicle_pitch_deg, vroll)
            else:
                Rb = matrix_from_euler_zyx(self.absolute_angles()[0], 0.0, 0.0)
            out += np.einsum(
                "nij,j->ni", Rb, np.asarray(boresight.body_lever_arm_m, dtype=np.float64)
            )
        return out

    def altitude_in(self, ref: AltRef) -> NDArray[np.float64]:
        """Camera altitudes converted to another reference (see :mod:`geo.altitude`)."""
        return convert_altitude(
            self.alt_m, self.alt_ref, ref, self.lat_deg, self.lon_deg,
            takeoff_alt_m=self.takeoff_alt_m, takeoff_ref=self.takeoff_ref,
        )  # fmt: skip
