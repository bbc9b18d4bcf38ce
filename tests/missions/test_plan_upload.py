"""Mission upload over MAVLink against a minimal mission responder (a pymavlink vehicle stub
on UDP that stores what it is sent, as an autopilot does, and serves it back)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from missions.errors import PlanError
from missions.plan.mission import CMD, MissionItem, mission_items
from missions.plan.planner import PlanRequest, plan_corridor
from missions.plan.upload import download_mission, upload_mission

RAIL = str(Path(__file__).resolve().parents[2] / "missions/data/railway_tullnerfelder_bahn.geojson")


def _free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


class Responder(threading.Thread):
    """Vehicle side of the mission protocol; ``drop`` = request seqs whose first item it
    ignores (a lost packet), ``refuse`` = answer MISSION_ACK with this error code."""

    def __init__(self, port: int, drop: set[int] | None = None, refuse: int = 0) -> None:
        super().__init__(daemon=True)
        from pymavlink import mavutil

        self.m = mavutil.mavlink_connection(f"udpin:127.0.0.1:{port}", source_system=1,
                                            source_component=1)  # fmt: skip
        self.items: list[Any] = []
        self.drop = set(drop or ())
        self.refuse = refuse
        self.stop = threading.Event()
        self.requests: list[int] = []

    def run(self) -> None:
        m = self.m
        count, expect = 0, 0
        while not self.stop.is_set():
            msg = m.recv_match(blocking=True, timeout=0.1)
            if msg is None:
                continue
            t = msg.get_type()
            if t == "HEARTBEAT":  # answer the ground station's heartbeat
                m.mav.heartbeat_send(2, 3, 0, 0, 4)  # quadrotor, ArduPilot
            elif t == "MISSION_COUNT":
                count, expect, self.items = msg.count, 0, [None] * msg.count
                self._request(0)
            elif t == "MISSION_ITEM_INT" and count:
                if msg.seq in self.drop:
                    self.drop.discard(msg.seq)
                    continue  # lost: the uploader must re-send after our silence
                self.items[msg.seq] = msg
                if self.refuse and msg.seq == count // 2:
                    m.mav.mission_ack_send(255, 190, self.refuse, 0)
                    count = 0
                    continue
                expect = msg.seq + 1
                if expect < count:
                    self._request(expect)
                else:
                    m.mav.mission_ack_send(255, 190, 0, 0)
                    count = 0
            elif t == "MISSION_REQUEST_LIST":
                m.mav.mission_count_send(255, 190, len(self.items), 0)
            elif t == "MISSION_REQUEST_INT":
                it = self.items[msg.seq]
                m.mav.send(it)

    def _request(self, seq: int) -> None:
        self.requests.append(seq)
        self.m.mav.mission_request_int_send(255, 190, seq, 0)


@pytest.fixture()
def plan():  # type: ignore[no-untyped-def]
    return plan_corridor(PlanRequest(asset=RAIL, from_m=1000, to_m=1400, corridor_width_m=30.0))


def _home(p: Any) -> MissionItem:
    lon, lat = p.lonlat(*p.sorties[0].home_xy)
    return MissionItem(CMD["NAV_WAYPOINT"], 0, (0, 0, 0, 0), float(lat), float(lon), 265.0)


def test_upload_and_read_back(plan) -> None:  # type: ignore[no-untyped-def]
    port = _free_port()
    r = Responder(port, drop={3})
    r.start()
    try:
        items = mission_items(plan, plan.sorties[0])
        link = f"udpout:127.0.0.1:{port}"
        from pymavlink import mavutil

        m = mavutil.mavlink_connection(link, source_system=255, source_component=190)
        n = upload_mission(m, items, _home(plan), timeout_s=1.0)
        assert n == len(items) + 1
        assert r.requests.count(3) == 1 and len(r.items) == n  # item 3 was re-sent once
        back = download_mission(m, timeout_s=2.0)
    finally:
        r.stop.set()
        r.join(2)
    assert len(back) == n
    for a, b in zip(back[1:], items, strict=True):
        assert (a.command, a.frame) == (b.command, b.frame)
        assert a.lat_deg == pytest.approx(b.lat_deg, abs=1e-7)  # int32 degE7
        assert a.lon_deg == pytest.approx(b.lon_deg, abs=1e-7)
        assert a.alt_m == pytest.approx(b.alt_m, abs=1e-4)
        want = [0.0 if not np.isfinite(v) else v for v in b.params]
        assert list(a.params) == pytest.approx(want, abs=1e-4)
    assert back[0].alt_m == pytest.approx(265.0)


def test_refused_or_silent_vehicle_is_a_clear_error(plan) -> None:  # type: ignore[no-untyped-def]
    port = _free_port()
    r = Responder(port, refuse=1)  # MAV_MISSION_ERROR
    r.start()
    try:
        with pytest.raises(PlanError, match=r"refused the mission \(MAV_MISSION_RESULT 1\)"):
            upload_mission(f"udpout:127.0.0.1:{port}", mission_items(plan, plan.sorties[0]),
                           timeout_s=1.0)  # fmt: skip
    finally:
        r.stop.set()
        r.join(2)
    with pytest.raises(PlanError, match="no heartbeat"):
        upload_mission(f"udpout:127.0.0.1:{_free_port()}", [], timeout_s=0.6)


def test_survey_plan_uploads_a_sortie(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from survey.cli import cli

    port = _free_port()
    r = Responder(port)
    r.start()
    try:
        res = CliRunner().invoke(cli, ["plan", "--asset", RAIL, "--from", "1+000", "--to", "1+300",
                                       "--out", str(tmp_path / "p"), "--basemap", "none",
                                       "--upload", f"udpout:127.0.0.1:{port}"])  # fmt: skip
    finally:
        r.stop.set()
        r.join(2)
    assert res.exit_code == 0, res.output
    assert "uploaded sortie 1" in res.output
    from missions.plan.mission import read_wpl

    wpl = read_wpl(tmp_path / "p" / "sortie_01.waypoints")
    assert [i.command for i in r.items] == [w.command for w in wpl]
