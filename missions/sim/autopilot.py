"""A simulated autopilot: a MAVLink vehicle on loopback UDP that flies a simulated flight.

ArduPilot SITL cannot be installed here (it downloads binaries), so this is the stand-in used by
the link and runtime tests and by ``survey demo --live``. It replays the *logged* navigation
solution of a ``survey simulate`` flight folder (``logs/flight_log.csv``, 10 Hz) on a clock that
runs ``speed`` times faster than the wall clock, as an ArduCopter would send it:

========================  ======  =====================================================
message                   rate    content
========================  ======  =====================================================
HEARTBEAT                 1 Hz    quadrotor, ArduPilot, GUIDED (custom mode 4), armed
SYSTEM_TIME               1 Hz    GNSS UNIX time and time since boot
GLOBAL_POSITION_INT       10 Hz   lat, lon, MSL and relative altitude, NED velocity
ATTITUDE                  10 Hz   vehicle roll, pitch, yaw
GPS_RAW_INT               10 Hz   fix type, satellites, HDOP
MOUNT_STATUS              10 Hz   gimbal pitch/roll/yaw (centidegrees, absolute yaw)
GIMBAL_DEVICE_ATTITUDE_   10 Hz   component 154, earth-frame quaternion
STATUS
HOME_POSITION             1 Hz    the take-off point of ``truth/scenario.json``
CAMERA_FEEDBACK           event   one per ``photo:<cam>:<img>`` row of the log
PARAM_VALUE               asked   answers PARAM_REQUEST_LIST / PARAM_REQUEST_READ / PARAM_SET
MISSION_*                 asked   takes uploads (COUNT -> REQUEST_INT ... -> ACK) and serves
                                  downloads (REQUEST_LIST -> COUNT, REQUEST[_INT] -> ITEM[_INT])
COMMAND_ACK               asked   every COMMAND_LONG is accepted (arm/disarm is honoured)
========================  ======  =====================================================

STATUSTEXT messages received from the companion computer are kept in
:attr:`SimAutopilot.statustexts` (what the ground station would show). Mission items uploaded
are in :attr:`SimAutopilot.mission`. :meth:`SimAutopilot.drop_link` silences the vehicle for a
while (a telemetry-link fault). :class:`SimFrameSource` serves the simulated video frames in step
with the same clock, each stamped with the autopilot's boot time of its exposure.

Examples
--------
>>> from missions.sim.autopilot import SimAutopilot              # doctest: +SKIP
>>> with SimAutopilot("flight1", port=14560, speed=4.0) as ap:    # doctest: +SKIP
...     frames = ap.frame_source()
...     ...  # dronekit.connect("udp:127.0.0.1:14560")
"""

from __future__ import annotations

import csv
import json
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from missions.errors import SimInputNotFoundError, SimulationError
from missions.sim.formats.tlog import quaternion_from_ypr

__all__ = [
    "DEFAULT_PARAMS",
    "ReplayTrack",
    "SimAutopilot",
    "SimClock",
    "SimFrame",
    "SimFrameSource",
    "UploadedItem",
    "load_replay",
]

#: Parameters the vehicle reports (dronekit waits for all of them before ``connect`` returns).
DEFAULT_PARAMS: dict[str, float] = {
    "SYSID_THISMAV": 1.0,
    "FRAME_CLASS": 1.0,
    "WPNAV_SPEED": 500.0,
    "RTL_ALT": 3000.0,
    "CAM_TRIGG_TYPE": 1.0,
    "MNT1_TYPE": 6.0,
    "FENCE_ENABLE": 0.0,
    "BATT_CAPACITY": 10000.0,
}

GUIDED = 4  # ArduCopter custom mode

#: Log seconds of telemetry rows the vehicle catches up on after the host stalled its loop.
MAX_CATCH_UP_S = 3.0


@dataclass(frozen=True)
class ReplayTrack:
    """The logged navigation solution of a simulated flight (parallel arrays, log clock)."""

    t_s: np.ndarray  # UTC POSIX seconds (log clock)
    boot_ms: np.ndarray  # autopilot time since boot
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    alt_msl_m: np.ndarray
    rel_alt_m: np.ndarray
    roll_deg: np.ndarray
    pitch_deg: np.ndarray
    yaw_deg: np.ndarray
    gimbal_roll_deg: np.ndarray
    gimbal_pitch_deg: np.ndarray
    gimbal_yaw_deg: np.ndarray
    vn_m_s: np.ndarray
    ve_m_s: np.ndarray
    vd_m_s: np.ndarray
    fix_type: np.ndarray
    sats: np.ndarray
    hdop: np.ndarray
    events: tuple[tuple[int, int, int], ...]  # (row, cam_idx, img_idx)
    home: tuple[float, float, float]  # lat, lon, MSL altitude (logged)
    boot_utc_s: float  # log-clock UTC of boot

    def __len__(self) -> int:
        return len(self.t_s)


def load_replay(flight_dir: str | Path) -> ReplayTrack:
    """Read ``logs/flight_log.csv`` and ``truth/scenario.json`` of a simulated flight folder."""
    root = Path(flight_dir)
    path = root / "logs" / "flight_log.csv"
    if not path.is_file():
        raise SimInputNotFoundError(
            "no onboard log: expected a `survey simulate` flight folder", path=path
        )
    cols: dict[str, list[str]] = {}
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            for k, v in row.items():
                cols.setdefault(k, []).append(v)
    need = ["t_s", "time_boot_ms", "lat_deg", "lon_deg", "alt_msl_m", "rel_alt_m", "yaw_deg"]
    missing = [k for k in need if k not in cols]
    if missing:
        raise SimulationError(f"columns {missing} missing", path=path, where="header")

    def f(name: str) -> np.ndarray:
        return np.asarray(cols[name], np.float64)

    events = []
    for i, ev in enumerate(cols.get("event", [])):
        for one in ev.split(";"):  # several triggers in one 10 Hz tick are ';'-separated
            if one.startswith("photo:"):
                _, cam, img = one.split(":")
                events.append((i, int(cam), int(img)))
    t = f("t_s")
    boot = f("time_boot_ms")
    home = (float(f("lat_deg")[0]), float(f("lon_deg")[0]), float(f("alt_msl_m")[0]))
    scen = root / "truth" / "scenario.json"
    if scen.is_file():
        h = json.loads(scen.read_text()).get("home", {})
        if "lat_deg" in h:
            home = (h["lat_deg"], h["lon_deg"], h.get("alt_msl_logged_m", home[2]))
    return ReplayTrack(
        t_s=t,
        boot_ms=boot,
        lat_deg=f("lat_deg"),
        lon_deg=f("lon_deg"),
        alt_msl_m=f("alt_msl_m"),
        rel_alt_m=f("rel_alt_m"),
        roll_deg=f("roll_deg"),
        pitch_deg=f("pitch_deg"),
        yaw_deg=f("yaw_deg"),
        gimbal_roll_deg=f("gimbal_roll_deg"),
        gimbal_pitch_deg=f("gimbal_pitch_deg"),
        gimbal_yaw_deg=f("gimbal_yaw_deg"),
        vn_m_s=f("vn_m_s"),
        ve_m_s=f("ve_m_s"),
        vd_m_s=f("vd_m_s"),
        fix_type=f("fix_type").astype(int),
        sats=f("sats").astype(int),
        hdop=f("hdop"),
        events=tuple(events),
        home=home,
        boot_utc_s=float(t[0] - boot[0] / 1000.0),
    )


class SimClock:
    """Log-clock time that starts at ``t0_s`` and runs ``speed`` times the wall clock.

    A ``held`` clock stands at ``t0_s`` until :meth:`release` (the vehicle waiting on the pad
    for its ground station).
    """

    def __init__(self, t0_s: float, speed: float = 1.0, *, held: bool = False) -> None:
        if not speed > 0:
            raise SimulationError(f"speed must be > 0, got {speed}")
        self.t0_s, self.speed = float(t0_s), float(speed)
        self._m0: float | None = None if held else time.monotonic()

    @property
    def held(self) -> bool:
        """Whether the clock still stands at its start."""
        return self._m0 is None

    def release(self) -> None:
        """Start a held clock now (no-op when running)."""
        if self._m0 is None:
            self._m0 = time.monotonic()

    def now(self) -> float:
        """The simulated log-clock time (UTC POSIX seconds)."""
        if self._m0 is None:
            return self.t0_s
        return self.t0_s + (time.monotonic() - self._m0) * self.speed

    def wall_until(self, t_s: float) -> float:
        """Wall seconds until simulated time ``t_s`` (negative when it has passed)."""
        return (t_s - self.now()) / self.speed


@dataclass(frozen=True)
class UploadedItem:
    """One mission item received by the vehicle (MISSION_ITEM_INT fields)."""

    seq: int
    frame: int
    command: int
    lat_deg: float
    lon_deg: float
    alt_m: float
    params: tuple[float, float, float, float]


@dataclass
class _State:
    armed: bool = True
    mode: int = GUIDED
    mission: list[UploadedItem] = field(default_factory=list)
    upload_count: int = 0
    upload_items: dict[int, UploadedItem] = field(default_factory=dict)
    statustexts: list[tuple[float, int, str]] = field(default_factory=list)
    link_down_until: float = 0.0  # wall monotonic


class SimAutopilot:
    """The vehicle: a thread that replays a simulated flight over MAVLink 2 on loopback UDP.

    Parameters
    ----------
    flight_dir : path
        A ``survey simulate`` flight folder.
    port : int
        UDP port on 127.0.0.1 the ground side listens on (``dronekit.connect("udp:127.0.0.1:PORT")``).
    speed : float
        Simulated seconds per wall second (1 = real time).
    start_s : float
        Seconds into the log to start from (default: the first frame minus 2 s).
    params : dict, optional
        Parameters reported (default :data:`DEFAULT_PARAMS`).
    loop : bool
        Start again at the end of the log instead of holding the last sample.
    hold_until_ground : bool
        Keep the flight clock at ``start_s`` until the first message from the ground side
        arrives, so the ground side's telemetry buffer starts before the first frame however
        long it takes to connect (tests and ``fly_simulated``; a real vehicle does not wait).
    """

    def __init__(
        self,
        flight_dir: str | Path,
        *,
        port: int = 14550,
        speed: float = 1.0,
        start_s: float | None = None,
        params: dict[str, float] | None = None,
        loop: bool = False,
        hold_until_ground: bool = False,
    ) -> None:
        from missions.link.mav import mavutil

        self.flight_dir = Path(flight_dir)
        self.track = load_replay(self.flight_dir)
        self.port = int(port)
        if start_s is None:
            start_s = max(0.0, _first_frame_t(self.flight_dir, self.track) - 2.0)
        self.clock = SimClock(float(self.track.t_s[0]) + start_s, speed, held=hold_until_ground)
        self.params = dict(DEFAULT_PARAMS if params is None else params)
        self.loop = loop
        self._mu = mavutil()
        self._conn: Any = None
        self._gimbal: Any = None
        self._state = _State()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        dt = float(np.median(np.diff(self.track.t_s))) if len(self.track.t_s) > 1 else 0.1
        self._catch_up_rows = max(1, int(math.ceil(MAX_CATCH_UP_S / max(dt, 1e-3))))

    # ------------------------------------------------------------------ public API
    def start(self) -> SimAutopilot:
        """Open the UDP link and start flying (returns self)."""
        mu = self._mu
        self._conn = mu.mavlink_connection(
            f"udpout:127.0.0.1:{self.port}", source_system=1, source_component=1
        )
        self._gimbal = mu.mavlink.MAVLink(self._conn, srcSystem=1, srcComponent=154)
        self._thread = threading.Thread(target=self._run, name="sim-autopilot", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the vehicle and close the link."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        if self._conn is not None:
            self._conn.close()

    def __enter__(self) -> SimAutopilot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def drop_link(self, wall_s: float) -> None:
        """Send nothing and ignore everything for ``wall_s`` wall seconds (a link fault)."""
        with self._lock:
            self._state.link_down_until = time.monotonic() + wall_s

    @property
    def statustexts(self) -> list[tuple[float, int, str]]:
        """STATUSTEXTs received: (simulated time, severity, text)."""
        with self._lock:
            return list(self._state.statustexts)

    @property
    def mission(self) -> list[UploadedItem]:
        """The last completely uploaded mission."""
        with self._lock:
            return list(self._state.mission)

    @property
    def finished(self) -> bool:
        """The replay has reached the end of the log."""
        return self.clock.now() >= float(self.track.t_s[-1])

    def boot_s(self, t_s: float) -> float:
        """Autopilot time since boot at simulated log-clock time ``t_s``."""
        return t_s - self.track.boot_utc_s

    def frame_source(self, max_frames: int | None = None) -> SimFrameSource:
        """The simulated video camera, in step with this vehicle's clock."""
        return SimFrameSource(self.flight_dir, self, max_frames=max_frames)

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        tr = self.track
        last_row = -1
        next_hb = 0.0
        try:
            while not self._stop.is_set():
                now = self.clock.now()
                if self.loop and now > tr.t_s[-1]:
                    self.clock = SimClock(float(tr.t_s[0]), self.clock.speed)
                    now, last_row = self.clock.now(), -1
                row = int(np.searchsorted(tr.t_s, now, side="right")) - 1
                down = time.monotonic() < self._state.link_down_until
                self._receive(now, down)
                if not down:
                    if time.monotonic() >= next_hb:
                        next_hb = time.monotonic() + 1.0 / min(self.clock.speed, 5.0)
                        self._send_slow(max(row, 0), now)
                    if row > last_row:
                        # every row since the last pass: a host too busy to run this loop for a
                        # while must not turn into a telemetry gap (an autopilot does not stall
                        # with its companion computer); only a stall longer than
                        # MAX_CATCH_UP_S of log time (or drop_link) loses rows
                        first = max(last_row + 1, row - self._catch_up_rows, 0)
                        for r in range(first, row + 1):
                            self._send_row(r)
                else:
                    pass
                last_row = max(last_row, row)
                self._stop.wait(0.01)
        except Exception:  # pragma: no cover - logged, the thread must not die silently
            import logging

            logging.getLogger(__name__).exception("simulated autopilot stopped")

    def _send(self, msg: Any, gimbal: bool = False) -> None:
        (self._gimbal if gimbal else self._conn.mav).send(msg)
        self.sent += 1

    def _send_slow(self, r: int, now: float) -> None:
        m = self._conn.mav
        st = self._state
        mu = self._mu.mavlink
        base = mu.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | (
            mu.MAV_MODE_FLAG_SAFETY_ARMED if st.armed else 0
        )
        self._send(
            m.heartbeat_encode(
                mu.MAV_TYPE_QUADROTOR,
                mu.MAV_AUTOPILOT_ARDUPILOTMEGA,
                base,
                st.mode,
                mu.MAV_STATE_ACTIVE,
            )
        )
        self._send(m.system_time_encode(int(now * 1e6), int(self.boot_s(now) * 1000)))
        lat, lon, alt = self.track.home
        self._send(
            m.home_position_encode(
                int(round(lat * 1e7)),
                int(round(lon * 1e7)),
                int(round(alt * 1000)),
                0,
                0,
                0,
                [1.0, 0.0, 0.0, 0.0],
                0,
                0,
                0,
            )
        )

    def _send_row(self, r: int) -> None:
        tr = self.track
        m = self._conn.mav
        mu = self._mu.mavlink
        boot = int(tr.boot_ms[r])
        self._send(
            m.global_position_int_encode(
                boot,
                int(round(tr.lat_deg[r] * 1e7)),
                int(round(tr.lon_deg[r] * 1e7)),
                int(round(tr.alt_msl_m[r] * 1000)),
                int(round(tr.rel_alt_m[r] * 1000)),
                int(round(tr.vn_m_s[r] * 100)),
                int(round(tr.ve_m_s[r] * 100)),
                int(round(tr.vd_m_s[r] * 100)),
                int(round((tr.yaw_deg[r] % 360.0) * 100)) % 36000,
            )
        )
        self._send(
            m.attitude_encode(
                boot,
                math.radians(tr.roll_deg[r]),
                math.radians(tr.pitch_deg[r]),
                math.radians(tr.yaw_deg[r]),
                0.0,
                0.0,
                0.0,
            )
        )
        self._send(
            m.gps_raw_int_encode(
                int(boot * 1000),
                int(tr.fix_type[r]),
                int(round(tr.lat_deg[r] * 1e7)),
                int(round(tr.lon_deg[r] * 1e7)),
                int(round(tr.alt_msl_m[r] * 1000)),
                int(round(tr.hdop[r] * 100)),
                65535,
                int(round(math.hypot(tr.vn_m_s[r], tr.ve_m_s[r]) * 100)),
                65535,
                int(tr.sats[r]),
            )
        )
        gp, gr, gy = tr.gimbal_pitch_deg[r], tr.gimbal_roll_deg[r], tr.gimbal_yaw_deg[r]
        self._send(
            m.mount_status_encode(
                1, 1, int(round(gp * 100)), int(round(gr * 100)), int(round(gy * 100))
            )
        )
        flags = mu.GIMBAL_DEVICE_FLAGS_YAW_IN_EARTH_FRAME
        q = quaternion_from_ypr(gy, gp, gr)
        self._send(
            m.gimbal_device_attitude_status_encode(
                0, 0, boot, flags, q, math.nan, math.nan, math.nan, 0
            ),
            gimbal=True,
        )
        for row, cam, img in tr.events:
            if row == r:
                self._send(
                    m.camera_feedback_encode(
                        int(round((tr.t_s[r]) * 1e6)),
                        1,
                        cam,
                        img,
                        int(round(tr.lat_deg[r] * 1e7)),
                        int(round(tr.lon_deg[r] * 1e7)),
                        float(tr.alt_msl_m[r]),
                        float(tr.rel_alt_m[r]),
                        float(tr.roll_deg[r]),
                        float(tr.pitch_deg[r]),
                        float(tr.yaw_deg[r]),
                        0.0,
                        0,
                    )
                )

    # ------------------------------------------------------------------ requests
    def _param(self, idx: int) -> Any:
        names = list(self.params)
        name = names[idx]
        mu = self._mu.mavlink
        return self._conn.mav.param_value_encode(
            name.encode(), float(self.params[name]), mu.MAV_PARAM_TYPE_REAL32, len(names), idx
        )

    def _receive(self, now: float, down: bool) -> None:
        while True:
            msg = self._conn.recv_msg()
            if msg is None:
                return
            if down:
                continue
            self.clock.release()
            self._handle(msg, now)

    def _handle(self, msg: Any, now: float) -> None:
        kind = msg.get_type()
        m = self._conn.mav
        mu = self._mu.mavlink
        st = self._state
        if kind == "PARAM_REQUEST_LIST":
            for i in range(len(self.params)):
                self._send(self._param(i))
        elif kind == "PARAM_REQUEST_READ":
            names = list(self.params)
            pid = msg.param_id if isinstance(msg.param_id, str) else msg.param_id.decode()
            idx = (
                msg.param_index
                if msg.param_index >= 0
                else names.index(pid)
                if pid in names
                else -1
            )
            if 0 <= idx < len(names):
                self._send(self._param(idx))
        elif kind == "PARAM_SET":
            pid = msg.param_id if isinstance(msg.param_id, str) else msg.param_id.decode()
            self.params[pid] = float(msg.param_value)
            self._send(self._param(list(self.params).index(pid)))
        elif kind == "STATUSTEXT":
            text = msg.text if isinstance(msg.text, str) else msg.text.decode(errors="replace")
            with self._lock:
                st.statustexts.append((now, int(msg.severity), text.rstrip("\x00")))
        elif kind == "MISSION_COUNT":
            st.upload_count, st.upload_items = int(msg.count), {}
            if st.upload_count == 0:
                with self._lock:
                    st.mission = []
                self._send(m.mission_ack_encode(msg.get_srcSystem(), msg.get_srcComponent(), 0))
            else:  # ask in both styles: dronekit answers MISSION_REQUEST, QGC-style clients _INT
                self._send(
                    m.mission_request_int_encode(msg.get_srcSystem(), msg.get_srcComponent(), 0)
                )
                self._send(m.mission_request_encode(msg.get_srcSystem(), msg.get_srcComponent(), 0))
        elif kind in ("MISSION_ITEM_INT", "MISSION_ITEM"):
            scale = 1e-7 if kind == "MISSION_ITEM_INT" else 1.0
            item = UploadedItem(
                int(msg.seq),
                int(msg.frame),
                int(msg.command),
                msg.x * scale,
                msg.y * scale,
                float(msg.z),
                (msg.param1, msg.param2, msg.param3, msg.param4),
            )
            if item.seq in st.upload_items or st.upload_count == 0:
                return  # a duplicate (both request styles answered) or no upload under way
            st.upload_items[item.seq] = item
            nxt = item.seq + 1
            if nxt < st.upload_count:
                req = m.mission_request_int_encode if scale != 1.0 else m.mission_request_encode
                self._send(req(msg.get_srcSystem(), msg.get_srcComponent(), nxt))
            else:
                ok = sorted(st.upload_items) == list(range(st.upload_count))
                if ok:
                    with self._lock:
                        st.mission = [st.upload_items[i] for i in range(st.upload_count)]
                res = mu.MAV_MISSION_ACCEPTED if ok else mu.MAV_MISSION_INVALID_SEQUENCE
                st.upload_count = 0
                self._send(m.mission_ack_encode(msg.get_srcSystem(), msg.get_srcComponent(), res))
        elif kind == "MISSION_REQUEST_LIST":
            self._send(
                m.mission_count_encode(msg.get_srcSystem(), msg.get_srcComponent(), len(st.mission))
            )
        elif kind in ("MISSION_REQUEST_INT", "MISSION_REQUEST"):
            if 0 <= msg.seq < len(st.mission):
                it = st.mission[msg.seq]
                if kind == "MISSION_REQUEST_INT":
                    out = m.mission_item_int_encode(
                        msg.get_srcSystem(),
                        msg.get_srcComponent(),
                        it.seq,
                        it.frame,
                        it.command,
                        0,
                        1,
                        *it.params,
                        int(round(it.lat_deg * 1e7)),
                        int(round(it.lon_deg * 1e7)),
                        it.alt_m,
                    )
                else:
                    out = m.mission_item_encode(
                        msg.get_srcSystem(),
                        msg.get_srcComponent(),
                        it.seq,
                        it.frame,
                        it.command,
                        0,
                        1,
                        *it.params,
                        it.lat_deg,
                        it.lon_deg,
                        it.alt_m,
                    )
                self._send(out)
        elif kind == "COMMAND_LONG":
            if msg.command == mu.MAV_CMD_COMPONENT_ARM_DISARM:
                st.armed = msg.param1 > 0.5
            self._send(m.command_ack_encode(msg.command, mu.MAV_RESULT_ACCEPTED))
        elif kind == "SET_MODE":
            st.mode = int(msg.custom_mode)


def _first_frame_t(flight_dir: Path, track: ReplayTrack) -> float:
    """Seconds from the log start to the first video frame (log clock)."""
    scen = flight_dir / "truth" / "scenario.json"
    if scen.is_file():
        tm = json.loads(scen.read_text())["time"]
        return float(tm["t_start_utc_s"] + tm["clock_offsets_s"].get("log", 0.0) - track.t_s[0])
    return 0.0


@dataclass(frozen=True)
class SimFrame:
    """One camera frame: BGR pixels and the autopilot boot time of its exposure."""

    index: int
    image: np.ndarray
    t_boot_s: float
    t_arrival_s: float = math.nan  # time.monotonic() when the camera delivered it


class SimFrameSource:
    """The simulated RGB video camera, in step with a :class:`SimAutopilot`'s clock.

    Iterating yields :class:`SimFrame` s at the moment (scaled wall time) each was exposed;
    frames whose time is already past are still yielded (a camera does not skip; the runtime's
    queue drops under load). ``camera_model`` gives the video intrinsics from
    ``truth/scenario.json`` (``rig.rgb_video.intrinsics``).
    """

    def __init__(
        self, flight_dir: str | Path, autopilot: SimAutopilot, *, max_frames: int | None = None
    ) -> None:
        self.flight_dir = Path(flight_dir)
        self.autopilot = autopilot
        scen = json.loads((self.flight_dir / "truth" / "scenario.json").read_text())
        self.scenario = scen
        tm = scen["time"]
        self.t_start_log_s = tm["t_start_utc_s"] + tm["clock_offsets_s"].get("log", 0.0)
        cfg = scen["config"]
        self.fps = float(str(cfg["video"]).split("@")[1])
        vids = sorted((self.flight_dir / "DCIM").glob("*/*_V.MP4"))
        if not vids:
            raise SimInputNotFoundError(
                "no simulated video (*_V.MP4)", path=self.flight_dir / "DCIM"
            )
        self.video = vids[0]
        self.max_frames = max_frames
        self.closed = False

    @property
    def intrinsics(self) -> dict[str, Any]:
        """The video camera's intrinsics (pixels, OpenCV convention)."""
        return dict(self.scenario["rig"]["rgb_video"]["intrinsics"])

    def __iter__(self) -> Iterator[SimFrame]:
        import cv2

        cap = cv2.VideoCapture(str(self.video))
        if not cap.isOpened():
            raise SimInputNotFoundError("OpenCV cannot open the video", path=self.video)
        i = 0
        try:
            while not self.closed and (self.max_frames is None or i < self.max_frames):
                ok, img = cap.read()
                if not ok:
                    return
                t_log = self.t_start_log_s + i / self.fps
                # in short sleeps: a held clock (the vehicle on the pad) does not run yet
                while not self.closed and (wait := self.autopilot.clock.wall_until(t_log)) > 0:
                    time.sleep(min(wait, 0.05))
                yield SimFrame(i, img, self.autopilot.boot_s(t_log), time.monotonic())
                i += 1
        finally:
            cap.release()

    def close(self) -> None:
        """Stop after the current frame."""
        self.closed = True
