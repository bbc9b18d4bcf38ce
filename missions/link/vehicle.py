"""The vehicle link: dronekit over a UDP, TCP or serial connection string.

:func:`open_link` connects (bounded by ``timeout_s``; a clear :class:`LinkError` naming the
connection string when nothing answers) and returns a :class:`VehicleLink` that keeps

- the live state (:meth:`VehicleLink.state`: position, attitude, gimbal, home, mode, armed),
- a bounded buffer of timed pose samples (:meth:`VehicleLink.pose_at` interpolates one at any
  autopilot boot time: the latency compensation of the runtime),
- the camera-trigger events (CAMERA_FEEDBACK),
- every raw MAVLink packet to listeners (the recorder writes them as a tlog),

sends STATUSTEXT to the ground station (:meth:`VehicleLink.statustext`) and reconnects with
exponential backoff when the link has been silent for ``reconnect_after_s``
(:meth:`VehicleLink.watchdog`).

dronekit 2.9.2 needs ``collections.MutableMapping`` on Python >= 3.10 (:func:`import_dronekit`).
Connection strings are dronekit's: ``udp:127.0.0.1:14550`` (listen), ``udpout:HOST:PORT``,
``tcp:HOST:PORT``, ``/dev/ttyUSB0`` or ``/dev/ttyTHS1`` with ``baud``.
"""

from __future__ import annotations

import collections
import collections.abc
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from missions.errors import MissionError

__all__ = [
    "CameraTrigger",
    "LinkError",
    "LinkState",
    "PoseSample",
    "VehicleLink",
    "import_dronekit",
    "open_link",
]

log = logging.getLogger(__name__)


class LinkError(MissionError, ConnectionError):
    """The vehicle cannot be reached or the link is unusable."""


def import_dronekit() -> ModuleType:
    """``dronekit`` with the Python >= 3.10 shim and pymavlink on MAVLink 2."""
    from missions.link.mav import mavutil

    mavutil()
    if not hasattr(collections, "MutableMapping"):
        collections.MutableMapping = collections.abc.MutableMapping  # type: ignore[attr-defined]
    try:
        import dronekit
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise LinkError(
            f"dronekit cannot be imported ({exc}); it needs the `future` package"
        ) from exc
    return dronekit


@dataclass(frozen=True)
class PoseSample:
    """The aircraft's logged state at one autopilot time (degrees, metres)."""

    t_boot_s: float
    lat_deg: float
    lon_deg: float
    alt_msl_m: float
    rel_alt_m: float
    roll_deg: float
    pitch_deg: float
    yaw_deg: float
    gimbal_pitch_deg: float
    gimbal_roll_deg: float
    gimbal_yaw_deg: float  # absolute (from north)


@dataclass(frozen=True)
class CameraTrigger:
    """A camera-trigger event (CAMERA_FEEDBACK)."""

    t_utc_s: float
    cam_idx: int
    img_idx: int
    lat_deg: float
    lon_deg: float
    alt_msl_m: float


@dataclass(frozen=True)
class LinkState:
    """A snapshot of the vehicle (None where nothing has arrived yet)."""

    connection: str
    pose: PoseSample | None
    home: tuple[float, float, float] | None
    mode: str | None
    armed: bool | None
    last_message_age_s: float  # wall seconds since the last message
    messages: int
    reconnects: int

    @property
    def lost(self) -> bool:
        """No message for more than 2 s."""
        return self.last_message_age_s > 2.0


class VehicleLink:
    """A dronekit vehicle plus the buffers the onboard runtime needs (see the module docstring)."""

    def __init__(
        self,
        connection: str,
        *,
        timeout_s: float = 15.0,
        baud: int = 57600,
        buffer_s: float = 120.0,
        reconnect_after_s: float = 5.0,
    ) -> None:
        self.connection = connection
        self.timeout_s, self.baud = float(timeout_s), int(baud)
        self.reconnect_after_s = float(reconnect_after_s)
        self._lock = threading.Lock()
        n = int(buffer_s * 50)
        self._pos: deque[tuple[float, ...]] = deque(maxlen=n)  # t, lat, lon, alt, rel_alt
        self._att: deque[tuple[float, ...]] = deque(maxlen=n)  # t, roll, pitch, yaw
        self._gim: deque[tuple[float, ...]] = deque(maxlen=n)  # t, pitch, roll, yaw
        self._t_last = math.nan
        self.utc_minus_boot_s = math.nan  # from SYSTEM_TIME (GNSS time minus time since boot)
        self.triggers: deque[CameraTrigger] = deque(maxlen=10_000)
        self._raw_listeners: list[Callable[[bytes, Any], None]] = []
        self._last_wall = time.monotonic()
        self.messages = 0
        self.reconnects = 0
        self.vehicle: Any = None
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    # ------------------------------------------------------------------ connect
    def connect(self) -> VehicleLink:
        """Connect (bounded by ``timeout_s``); raises :class:`LinkError` when nothing answers."""
        dk = import_dronekit()
        box: dict[str, Any] = {}

        def go() -> None:
            try:
                box["v"] = dk.connect(
                    self.connection,
                    wait_ready=False,
                    baud=self.baud,
                    heartbeat_timeout=max(1, int(math.ceil(self.timeout_s))),
                )
            except BaseException as exc:  # dronekit raises APIException, OSError, SystemExit
                box["e"] = exc

        th = threading.Thread(target=go, name="dronekit-connect", daemon=True)
        th.start()
        th.join(self.timeout_s + 2.0)
        if "v" not in box:
            why = box.get("e", "no heartbeat and no parameters")
            raise LinkError(
                f"no vehicle answered within {self.timeout_s:g} s ({why}); expected a MAVLink "
                "autopilot sending HEARTBEAT and answering PARAM_REQUEST_LIST",
                where=self.connection,
            )
        self.vehicle = box["v"]
        self._last_wall = time.monotonic()
        self._attach(self.vehicle)
        log.info("connected to %s", self.connection)
        return self

    def _attach(self, v: Any) -> None:
        v.add_message_listener("*", self._on_message)

    def _on_message(self, _vehicle: Any, name: str, msg: Any) -> None:
        self._last_wall = time.monotonic()
        self.messages += 1
        if self._raw_listeners:
            try:
                buf = bytes(msg.get_msgbuf())
            except Exception:  # a message dronekit built itself has no buffer
                buf = b""
            for cb in list(self._raw_listeners):
                cb(buf, msg)
        # each channel is buffered with its own autopilot time (messages arrive in any order);
        # MOUNT_STATUS has no time field: it takes the newest time seen (at most one tick late)
        if name == "ATTITUDE":
            self._t_last = msg.time_boot_ms / 1000.0
            row = (self._t_last, *(math.degrees(x) for x in (msg.roll, msg.pitch, msg.yaw)))
            with self._lock:
                self._att.append(row)
        elif name == "MOUNT_STATUS":
            row = (
                self._t_last,
                msg.pointing_a / 100.0,
                msg.pointing_b / 100.0,
                msg.pointing_c / 100.0,
            )
            with self._lock:
                self._gim.append(row)
        elif name == "GLOBAL_POSITION_INT":
            self._t_last = msg.time_boot_ms / 1000.0
            row = (
                self._t_last,
                msg.lat * 1e-7,
                msg.lon * 1e-7,
                msg.alt / 1000.0,
                msg.relative_alt / 1000.0,
            )
            with self._lock:
                self._pos.append(row)
        elif name == "SYSTEM_TIME" and msg.time_unix_usec > 0:
            self.utc_minus_boot_s = msg.time_unix_usec / 1e6 - msg.time_boot_ms / 1000.0
        elif name == "CAMERA_FEEDBACK":
            self.triggers.append(
                CameraTrigger(
                    msg.time_usec / 1e6,
                    msg.cam_idx,
                    msg.img_idx,
                    msg.lat * 1e-7,
                    msg.lng * 1e-7,
                    float(msg.alt_msl),
                )
            )

    @property
    def t_boot_now_s(self) -> float:
        """The newest autopilot time received (NaN before the first timed message)."""
        return self._t_last

    @property
    def t_pose_newest_s(self) -> float:
        """The newest autopilot time up to which both position and attitude are buffered (NaN
        before both have a sample): a pose at a time past it is not yet known, not lost."""
        with self._lock:
            if not self._pos or not self._att:
                return math.nan
            return min(self._pos[-1][0], self._att[-1][0])

    def add_raw_listener(self, cb: Callable[[bytes, Any], None]) -> None:
        """Call ``cb(packet_bytes, message)`` for every message received."""
        self._raw_listeners.append(cb)

    # ------------------------------------------------------------------ state
    def state(self) -> LinkState:
        """The vehicle's live state."""
        v = self.vehicle
        home = None
        mode = armed = None
        if v is not None:
            h = v.home_location
            home = None if h is None else (h.lat, h.lon, h.alt)
            mode = v.mode.name if v.mode is not None else None
            armed = bool(v.armed)
        return LinkState(
            self.connection,
            self.latest(),
            home,
            mode,
            armed,
            time.monotonic() - self._last_wall,
            self.messages,
            self.reconnects,
        )

    def latest(self) -> PoseSample | None:
        """The pose at the newest position sample (None before the first)."""
        with self._lock:
            if not self._pos:
                return None
            t = self._pos[-1][0]
        return self.pose_at(t) or PoseSample(t, *self._pos[-1][1:], *(math.nan,) * 6)

    def pose_at(self, t_boot_s: float, *, max_gap_s: float = 0.5) -> PoseSample | None:
        """The pose interpolated at autopilot time ``t_boot_s`` (angles the short way round).

        Each channel (position, attitude, gimbal) is interpolated on its own time stamps. None
        when ``t_boot_s`` is outside the buffer or in a gap longer than ``max_gap_s`` of the
        position or attitude (telemetry lost: the frame is unlocatable); gimbal angles are NaN
        when the gimbal channel has none.
        """
        with self._lock:
            pos, att, gim = (np.asarray(c, np.float64) for c in (self._pos, self._att, self._gim))
        p = _interp(pos, t_boot_s, max_gap_s, ())
        a = _interp(att, t_boot_s, max_gap_s, (3,))
        if p is None or a is None:
            return None
        g = _interp(gim, t_boot_s, max_gap_s, (3,))
        g3 = (math.nan,) * 3 if g is None else tuple(g)
        return PoseSample(float(t_boot_s), *map(float, p), *map(float, a), *map(float, g3))

    # ------------------------------------------------------------------ commands
    def statustext(self, text: str, severity: int = 4) -> None:
        """Send a STATUSTEXT (50 characters at most; severity 4 = WARNING) to the ground station."""
        v = self.vehicle
        if v is None:
            raise LinkError("not connected", where=self.connection)
        msg = v.message_factory.statustext_encode(int(severity), text.encode()[:50])
        v.send_mavlink(msg)

    # ------------------------------------------------------------------ reconnect
    def watchdog(self, *, backoff_s: float = 1.0, max_backoff_s: float = 30.0) -> None:
        """Start a thread that reconnects with exponential backoff after ``reconnect_after_s``
        of silence (dronekit's own link stays open; a silent one is closed and reopened)."""

        def run() -> None:
            delay = backoff_s
            while not self._stop.wait(0.5):
                if time.monotonic() - self._last_wall < self.reconnect_after_s:
                    delay = backoff_s
                    continue
                log.warning("%s silent; reconnecting (backoff %.1f s)", self.connection, delay)
                old = self.vehicle
                try:
                    if old is not None:
                        old.close()
                    self.connect()
                    self.reconnects += 1
                    delay = backoff_s
                except LinkError:
                    self._stop.wait(delay)
                    delay = min(delay * 2.0, max_backoff_s)

        self._watchdog = threading.Thread(target=run, name="link-watchdog", daemon=True)
        self._watchdog.start()

    def close(self) -> None:
        """Close the link and stop the watchdog."""
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=5.0)
        if self.vehicle is not None:
            try:
                self.vehicle.close()
            except Exception:  # closing a dead link must not raise
                pass
            self.vehicle = None

    def __enter__(self) -> VehicleLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _interp(
    arr: np.ndarray, t: float, max_gap_s: float, angle_cols: tuple[int, ...]
) -> np.ndarray | None:
    """Columns 1.. of ``arr`` (time in column 0) linearly at ``t``; None outside or in a gap."""
    if arr.ndim != 2 or len(arr) == 0:
        return None
    ts = arr[:, 0]
    eps = 1e-3  # frame times carry float rounding; a sample within 1 ms is "at" the frame
    if t > ts[-1]:
        return arr[-1, 1:].copy() if t - ts[-1] < eps else None
    if t < ts[0]:
        return arr[0, 1:].copy() if ts[0] - t < eps else None
    if len(arr) == 1:
        return arr[0, 1:].copy()
    j = int(np.clip(np.searchsorted(ts, t), 1, len(ts) - 1))
    i = j - 1
    dt = ts[j] - ts[i]
    if dt > max_gap_s:
        return None
    if dt <= 0:
        return arr[j, 1:].copy()
    w = (t - ts[i]) / dt
    a, b = arr[i, 1:], arr[j, 1:]
    out = a + w * (b - a)
    for k in angle_cols:
        out[k - 1] = a[k - 1] + w * ((b[k - 1] - a[k - 1] + 180.0) % 360.0 - 180.0)
    return out


def open_link(connection: str, **kwargs: Any) -> VehicleLink:
    """Connect to a vehicle (see :class:`VehicleLink` for the keyword arguments)."""
    return VehicleLink(connection, **kwargs).connect()
