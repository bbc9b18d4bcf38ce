"""Upload a mission to a vehicle with the MAVLink mission protocol (pymavlink), and read it back.

Upload: ``MISSION_COUNT`` -> the vehicle asks for each item (``MISSION_REQUEST_INT``, or the
older ``MISSION_REQUEST``) -> ``MISSION_ITEM_INT`` -> ``MISSION_ACK``. Download (the check):
``MISSION_REQUEST_LIST`` -> ``MISSION_COUNT`` -> ``MISSION_REQUEST_INT`` per item ->
``MISSION_ITEM_INT`` -> our ``MISSION_ACK``. Item 0 is home (ArduPilot's convention; PX4 ignores
it). A lost item or request is answered by sending the item again (the count, before the
first request), up to ``retries`` times in a row. This is what dronekit's
``vehicle.commands.upload()`` does underneath; dronekit 2.9.2 itself does not import on
Python 3.11, so the link here is pymavlink's.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from missions.errors import PlanError
from missions.plan.mission import FRAME_GLOBAL, MissionItem

__all__ = ["download_mission", "upload_mission"]

log = logging.getLogger(__name__)


def _connect(link: Any) -> Any:
    if not isinstance(link, str):
        return link
    from pymavlink import mavutil

    return mavutil.mavlink_connection(link, source_system=255, source_component=190)


def _wait_heartbeat(m: Any, timeout_s: float) -> None:
    t_end = time.monotonic() + timeout_s
    while time.monotonic() < t_end:
        m.mav.heartbeat_send(6, 8, 0, 0, 0)  # GCS, autopilot invalid
        if m.recv_match(type="HEARTBEAT", blocking=True, timeout=0.5) is not None:
            return
    raise PlanError(f"no heartbeat from the vehicle within {timeout_s:.0f} s", where="link")


def _item_msg(m: Any, seq: int, it: MissionItem, ts: int, tc: int) -> Any:
    prm = [0.0 if not np.isfinite(v) else float(v) for v in it.params]
    is_pos = it.frame in (FRAME_GLOBAL, 3) or (it.lat_deg != 0 or it.lon_deg != 0)
    x = int(round(it.lat_deg * 1e7)) if is_pos else int(round(it.lat_deg))
    y = int(round(it.lon_deg * 1e7)) if is_pos else int(round(it.lon_deg))
    return m.mav.mission_item_int_encode(ts, tc, seq, it.frame, it.command, 1 if seq == 0 else 0,
                                         int(it.autocontinue), *prm, x, y, float(it.alt_m))  # fmt: skip


def upload_mission(
    link: Any,
    items: list[MissionItem],
    home: MissionItem | None = None,
    *,
    target: tuple[int, int] = (1, 1),
    timeout_s: float = 5.0,
    retries: int = 3,
) -> int:
    """Upload ``items`` (home first when given) over ``link`` (a pymavlink connection or a
    connection string, e.g. ``udpout:127.0.0.1:14550``); returns the number of items sent.

    Raises
    ------
    PlanError
        No heartbeat, no answer after ``retries`` re-sends, or a refusing ``MISSION_ACK``.
    """
    m = _connect(link)
    _wait_heartbeat(m, timeout_s)
    rows = ([home] if home is not None else []) + list(items)
    ts, tc = target
    n = len(rows)
    m.mav.mission_count_send(ts, tc, n, 0)
    sent: set[int] = set()
    tries, last = 0, -1
    while True:
        msg = m.recv_match(type=["MISSION_REQUEST_INT", "MISSION_REQUEST", "MISSION_ACK"],
                           blocking=True, timeout=timeout_s)  # fmt: skip
        if msg is None:
            tries += 1
            if tries > retries:
                raise PlanError(
                    f"the vehicle stopped answering after {len(sent)} of {n} items", where="link"
                )
            if last < 0:
                m.mav.mission_count_send(ts, tc, n, 0)
            else:  # the item (or the next request) was lost: send the item again
                m.mav.send(_item_msg(m, last, rows[last], ts, tc))
            continue
        if msg.get_type() == "MISSION_ACK":
            if msg.type != 0:
                raise PlanError(
                    f"the vehicle refused the mission (MAV_MISSION_RESULT {msg.type}) after "
                    f"{len(sent)} of {n} items",
                    where="link",
                )
            if len(sent) < n:
                raise PlanError(f"accepted after only {len(sent)} of {n} items", where="link")
            log.info("uploaded %d mission items", n)
            return n
        seq = int(msg.seq)
        if not 0 <= seq < n:
            raise PlanError(f"the vehicle asked for item {seq} of {n}", where="link")
        m.mav.send(_item_msg(m, seq, rows[seq], ts, tc))
        sent.add(seq)
        last = seq
        tries = 0


def download_mission(
    link: Any, *, target: tuple[int, int] = (1, 1), timeout_s: float = 5.0
) -> list[MissionItem]:
    """The vehicle's mission (home first on ArduPilot), for checking an upload."""
    m = _connect(link)
    ts, tc = target
    m.mav.mission_request_list_send(ts, tc, 0)
    msg = m.recv_match(type="MISSION_COUNT", blocking=True, timeout=timeout_s)
    if msg is None:
        raise PlanError("no MISSION_COUNT from the vehicle", where="link")
    out = []
    for seq in range(int(msg.count)):
        m.mav.mission_request_int_send(ts, tc, seq, 0)
        it = m.recv_match(type="MISSION_ITEM_INT", blocking=True, timeout=timeout_s)
        if it is None or it.seq != seq:
            raise PlanError(f"item {seq} did not come back", where="link")
        pos = it.x != 0 or it.y != 0
        out.append(MissionItem(it.command, it.frame, (it.param1, it.param2, it.param3, it.param4),
                               it.x / 1e7 if pos else 0.0, it.y / 1e7 if pos else 0.0, it.z,
                               bool(it.autocontinue)))  # fmt: skip
    m.mav.mission_ack_send(ts, tc, 0, 0)
    return out
