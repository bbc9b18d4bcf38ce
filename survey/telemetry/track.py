"""The pose track: every flight log, whatever its format, becomes one :class:`PoseTrack`.

A pose track is a struct-of-arrays: parallel float64/int arrays, one element per sample, with
units in the names, plus a few labels that say how to read them:

* ``time_base``: ``"utc"`` (UTC POSIX seconds), ``"local"`` (a camera's wall clock read as if
  it were UTC: the zone, and so the offset to UTC, is unknown), ``"boot"`` (seconds since the
  autopilot booted), ``"video"`` (seconds since the first video frame), ``"relative"`` (seconds
  since an unknown start).
* ``alt_ref``: what ``alt_m`` is measured from: ``"ellipsoid"`` (WGS84), ``"msl"`` (geoid),
  ``"takeoff"`` (height above the take-off point) or ``"unknown"``. ``rel_alt_m`` is always
  height above take-off where the log has it.
* ``gimbal_mode``: ``"absolute"`` (gimbal yaw/pitch/roll relative to NED: yaw from true north,
  pitch 0 = horizontal, -90 = nadir; DJI's convention), ``"relative"`` (relative to the vehicle
  body, so ``R_cam = R_vehicle @ R_gimbal``) or ``"none"`` (no gimbal angles in the log).

GNSS quality: ``fix_type`` uses MAVLink's GPS_FIX_TYPE codes (0-1 no fix, 2 = 2D, 3 = 3D,
4 = DGPS, 5 = RTK float, 6 = RTK fixed), ``sats`` satellites used, ``hdop`` HDOP.

Angles are degrees; vehicle attitude is NED with yaw clockwise from true north, pitch positive
nose-up, roll positive right-wing-down, ``R_ned_from_body = Rz(yaw) Ry(pitch) Rx(roll)``.
Unknown values are NaN (floats) or -1 (integers). ``flags`` marks samples the sanity filters
found implausible (:class:`SampleFlag`); flagged samples stay in the track (nothing is silently
dropped) but are not used for interpolation.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ALT_BAD",
    "POSITION_BAD",
    "AltRef",
    "CameraEvents",
    "GimbalMode",
    "PoseTrack",
    "SampleFlag",
    "TimeBase",
]

AltRef = Literal["ellipsoid", "msl", "takeoff", "unknown"]
TimeBase = Literal["utc", "local", "boot", "video", "relative"]
GimbalMode = Literal["absolute", "relative", "none"]

F64 = NDArray[np.float64]


class SampleFlag(enum.IntFlag):
    """Why a sample is not trusted (bits of :attr:`PoseTrack.flags`)."""

    NO_POSITION = 1  #: position missing (``N/A``, empty, NaN)
    ZERO_POSITION = 2  #: lat = lon = 0: a receiver without a fix
    OUT_OF_RANGE = 4  #: latitude beyond +-90 or longitude beyond +-180
    SPEED_JUMP = 8  #: reaching it needs a speed above the configured maximum
    ALT_SPIKE = 16  #: altitude jump faster than the plausible climb rate
    TIME_BACKWARDS = 32  #: timestamp before the previous sample's
    TIME_DUPLICATE = 64  #: same timestamp as the previous sample
    NO_FIX = 128  #: the receiver reports no (or too poor a) fix


#: Flags that exclude a sample's position from interpolation.
POSITION_BAD = (
    SampleFlag.NO_POSITION
    | SampleFlag.ZERO_POSITION
    | SampleFlag.OUT_OF_RANGE
    | SampleFlag.SPEED_JUMP
    | SampleFlag.TIME_BACKWARDS
    | SampleFlag.TIME_DUPLICATE
    | SampleFlag.NO_FIX
)
#: Flags that exclude a sample's altitude (in addition to :data:`POSITION_BAD`).
ALT_BAD = POSITION_BAD | SampleFlag.ALT_SPIKE

_FLOAT_FIELDS = (
    "lat_deg",
    "lon_deg",
    "alt_m",
    "rel_alt_m",
    "roll_deg",
    "pitch_deg",
    "yaw_deg",
    "gimbal_roll_deg",
    "gimbal_pitch_deg",
    "gimbal_yaw_deg",
    "speed_mps",
    "hdop",
)
_INT_FIELDS = {"fix_type": np.int8, "sats": np.int16}


def _f64(x: ArrayLike | None, n: int, name: str) -> F64:
    if x is None:
        return np.full(n, np.nan)
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"{name} has shape {a.shape}, expected ({n},) like t_s")
    return a


@dataclass(frozen=True, eq=False)
class CameraEvents:
    """Camera trigger / capture events logged by the autopilot (struct-of-arrays).

    ``t_s`` is in the same time base as the track that carries the events. ``image_index`` is
    the autopilot's image counter (-1 when absent). Position and attitude are as logged with the
    event (NaN when absent); ``source`` names the message (``CAM``, ``TRIG``,
    ``CAMERA_FEEDBACK``, ``camera_capture``).
    """

    t_s: F64
    image_index: NDArray[np.int64]
    lat_deg: F64
    lon_deg: F64
    alt_m: F64
    roll_deg: F64
    pitch_deg: F64
    yaw_deg: F64
    source: str = ""
    #: events stamped at the next tick of a clock of this period (rows of a 10 Hz CSV: 0.1);
    #: 0 when the log times each event itself
    time_resolution_s: float = 0.0

    @classmethod
    def build(
        cls,
        t_s: ArrayLike,
        *,
        image_index: ArrayLike | None = None,
        source: str = "",
        time_resolution_s: float = 0.0,
        **arrays: ArrayLike | None,
    ) -> CameraEvents:
        """Events from arrays; any array left out is NaN (-1 for ``image_index``)."""
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        n = t.size
        idx = (
            np.full(n, -1, dtype=np.int64)
            if image_index is None
            else np.asarray(image_index, dtype=np.int64).reshape(n)
        )
        names = ("lat_deg", "lon_deg", "alt_m", "roll_deg", "pitch_deg", "yaw_deg")
        unknown = set(arrays) - set(names)
        if unknown:
            raise TypeError(f"unknown event arrays: {sorted(unknown)}")
        vals = {k: _f64(arrays.get(k), n, k) for k in names}
        return cls(
            t_s=t, image_index=idx, source=source, time_resolution_s=time_resolution_s, **vals
        )

    @classmethod
    def empty(cls, source: str = "") -> CameraEvents:
        return cls.build(np.zeros(0), source=source)

    def __len__(self) -> int:
        return int(self.t_s.size)

    def shifted(self, dt_s: float) -> CameraEvents:
        """The same events with ``dt_s`` added to every time."""
        return dataclasses.replace(self, t_s=self.t_s + dt_s)


@dataclass(frozen=True, eq=False)
class PoseTrack:
    """Aircraft (and gimbal) pose over time, from one flight log.

    Build one with :meth:`build`, which fills every array not given with NaN (or -1).

    Examples
    --------
    >>> tr = PoseTrack.build([0.0, 1.0, 2.0], lat_deg=[47.0, 47.0001, 47.0002],
    ...                      lon_deg=8.0, alt_m=[500, 501, 502], alt_ref="msl")
    >>> len(tr), tr.alt_ref, tr.duration_s
    (3, 'msl', 2.0)
    >>> bool(np.isnan(tr.yaw_deg).all()), tr.gimbal_mode
    (True, 'none')
    >>> tr[1:].t_s.tolist()
    [1.0, 2.0]
    """

    t_s: F64
    lat_deg: F64
    lon_deg: F64
    alt_m: F64
    rel_alt_m: F64
    roll_deg: F64
    pitch_deg: F64
    yaw_deg: F64
    gimbal_roll_deg: F64
    gimbal_pitch_deg: F64
    gimbal_yaw_deg: F64
    speed_mps: F64
    hdop: F64
    fix_type: NDArray[np.int8]
    sats: NDArray[np.int16]
    flags: NDArray[np.uint16]
    alt_ref: AltRef = "unknown"
    time_base: TimeBase = "utc"
    gimbal_mode: GimbalMode = "none"
    kind: str = ""
    source: str = ""
    warnings: tuple[str, ...] = ()
    #: Further per-sample arrays (same length): ``frame`` (SRT frame counter), ``t_wall_s``
    #: (camera wall clock of an SRT sample), ``file`` (photo names), ...
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)
    #: Camera trigger events logged beside the track (same time base), if any.
    events: CameraEvents | None = None
    #: Per-file facts: aircraft model, take-off altitude, home point, time zone, ...
    meta: Mapping[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        t_s: ArrayLike,
        *,
        fix_type: ArrayLike | None = None,
        sats: ArrayLike | None = None,
        flags: ArrayLike | None = None,
        alt_ref: AltRef = "unknown",
        time_base: TimeBase = "utc",
        gimbal_mode: GimbalMode | None = None,
        kind: str = "",
        source: str = "",
        warnings: Sequence[str] = (),
        extra: Mapping[str, ArrayLike] | None = None,
        events: CameraEvents | None = None,
        meta: Mapping[str, Any] | None = None,
        **arrays: ArrayLike | None,
    ) -> PoseTrack:
        """A track from arrays; every float array not given is NaN, integers -1.

        ``gimbal_mode`` defaults to ``"none"`` when no gimbal angle is given and must be
        stated otherwise.
        """
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        n = t.size
        unknown = set(arrays) - set(_FLOAT_FIELDS)
        if unknown:
            raise TypeError(f"unknown pose arrays: {sorted(unknown)}")
        vals: dict[str, Any] = {k: _f64(arrays.get(k), n, k) for k in _FLOAT_FIELDS}
        for name, dtype in _INT_FIELDS.items():
            src = fix_type if name == "fix_type" else sats
            a = np.full(n, -1, dtype=dtype) if src is None else np.asarray(src)
            if a.ndim == 0:
                a = np.full(n, int(a))
            if a.shape != (n,):
                raise ValueError(f"{name} has shape {a.shape}, expected ({n},)")
            vals[name] = a.astype(dtype)
        fl = np.zeros(n, np.uint16) if flags is None else np.asarray(flags, np.uint16).reshape(n)
        has_gimbal = any(
            arrays.get(k) is not None
            for k in ("gimbal_roll_deg", "gimbal_pitch_deg", "gimbal_yaw_deg")
        )
        if gimbal_mode is None:
            if has_gimbal:
                raise ValueError("gimbal angles given: say gimbal_mode='absolute' or 'relative'")
            gimbal_mode = "none"
        ex = {}
        for k, v in (extra or {}).items():
            a = np.asarray(v)
            if a.shape[:1] != (n,):
                raise ValueError(f"extra[{k!r}] has shape {a.shape}, expected ({n}, ...)")
            ex[k] = a
        return cls(
            t_s=t,
            flags=fl,
            alt_ref=alt_ref,
            time_base=time_base,
            gimbal_mode=gimbal_mode,
            kind=kind,
            source=str(source),
            warnings=tuple(warnings),
            extra=ex,
            events=events,
            meta=dict(meta or {}),
            **vals,
        )

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return int(self.t_s.size)

    def __getitem__(self, index: slice | NDArray[np.bool_] | NDArray[np.integer]) -> PoseTrack:
        """The samples selected by a slice, a boolean mask or an index array."""
        per_sample = {
            f.name: getattr(self, f.name)[index]
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }
        extra = {k: v[index] for k, v in self.extra.items()}
        return dataclasses.replace(self, extra=extra, **per_sample)

    def replace(self, **changes: Any) -> PoseTrack:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def with_warnings(self, *messages: str) -> PoseTrack:
        """A copy with ``messages`` added to :attr:`warnings` (duplicates skipped)."""
        out = list(self.warnings)
        for m in messages:
            if m not in out:
                out.append(m)
        return dataclasses.replace(self, warnings=tuple(out))

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if len(self) else 0.0

    @property
    def position_ok(self) -> NDArray[np.bool_]:
        """Samples whose position may be used (finite and not flagged)."""
        return (
            np.isfinite(self.lat_deg)
            & np.isfinite(self.lon_deg)
            & ((self.flags & np.uint16(POSITION_BAD)) == 0)
        )

    @property
    def altitude_ok(self) -> NDArray[np.bool_]:
        return np.isfinite(self.alt_m) & ((self.flags & np.uint16(ALT_BAD)) == 0)

    def has(self, name: str) -> bool:
        """Whether array ``name`` holds at least one known value."""
        a = getattr(self, name)
        if a.dtype.kind == "f":
            return bool(np.isfinite(a).any())
        return bool((a >= 0).any())

    def fields_present(self) -> list[str]:
        """Names of the pose arrays that hold at least one known value."""
        names = [*_FLOAT_FIELDS, *_INT_FIELDS]
        return [n for n in names if self.has(n)] + sorted(self.extra)

    def flag_counts(self) -> dict[str, int]:
        """How many samples carry each flag (only flags that occur)."""
        out = {}
        for fl in SampleFlag:
            c = int(((self.flags & np.uint16(fl)) != 0).sum())
            if c:
                out[str(fl.name).lower()] = c
        return out

    def shifted(self, dt_s: float, time_base: TimeBase | None = None) -> PoseTrack:
        """The same track with ``dt_s`` added to every time (and its events' times)."""
        ev = None if self.events is None else self.events.shifted(dt_s)
        return dataclasses.replace(
            self,
            t_s=self.t_s + dt_s,
            events=ev,
            time_base=self.time_base if time_base is None else time_base,
        )
