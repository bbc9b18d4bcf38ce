"""The vehicle link (dronekit) against the simulated autopilot, checked against the flight log."""

from __future__ import annotations

import csv
import math
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from missions.link.vehicle import LinkError, VehicleLink, open_link
from missions.sim.autopilot import SimAutopilot, load_replay


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(cond, timeout_s: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture()
def flying(small_flight):  # type: ignore[no-untyped-def]
    _, folder = small_flight
    port = free_udp_port()
    ap = SimAutopilot(folder, port=port, speed=3.0, start_s=15.0).start()
    link = open_link(f"udp:127.0.0.1:{port}", timeout_s=10)
    yield ap, link, folder
    link.close()
    ap.stop()


def log_columns(folder: Path) -> dict[str, np.ndarray]:
    with open(folder / "logs" / "flight_log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    keys = ["time_boot_ms", "lat_deg", "lon_deg", "alt_msl_m", "yaw_deg", "gimbal_pitch_deg"]
    return {k: np.array([float(r[k]) for r in rows]) for k in keys}


def test_live_state_equals_the_flight_log(flying) -> None:  # type: ignore[no-untyped-def]
    ap, link, folder = flying
    assert wait_for(lambda: link.latest() is not None and link.state().home is not None)
    time.sleep(1.0)
    st = link.state()
    assert st.mode == "GUIDED" and st.armed is True and not st.lost
    log = log_columns(folder)
    # the pose halfway between two 10 Hz samples is their mean (independent: the CSV itself)
    t_mid = st.pose.t_boot_s - 0.25
    p = link.pose_at(t_mid)
    assert p is not None
    tb = log["time_boot_ms"] / 1000.0
    for name, got, tol in [
        ("lat_deg", p.lat_deg, 2e-7),
        ("lon_deg", p.lon_deg, 2e-7),
        ("alt_msl_m", p.alt_msl_m, 2e-3),
        ("yaw_deg", p.yaw_deg, 0.02),
        ("gimbal_pitch_deg", p.gimbal_pitch_deg, 0.02),
    ]:
        assert got == pytest.approx(np.interp(t_mid, tb, log[name]), abs=tol), name
    home = load_replay(folder).home
    assert st.home == pytest.approx(home, abs=2e-3)
    # outside the buffer nothing is invented
    assert link.pose_at(tb[0] - 100.0) is None


def test_statustext_reaches_the_ground_station(flying) -> None:  # type: ignore[no-untyped-def]
    ap, link, _ = flying
    link.statustext("broken_rail km 0+912 L")
    assert wait_for(lambda: any("broken_rail" in t for _, _, t in ap.statustexts))
    (_, sev, text) = ap.statustexts[-1]
    assert (sev, text) == (4, "broken_rail km 0+912 L")


def test_camera_triggers_follow_the_log(flying) -> None:  # type: ignore[no-untyped-def]
    ap, link, folder = flying
    events = load_replay(folder).events
    assert events, "the fixture flight has stills and thermal frames"
    assert wait_for(lambda: len(link.triggers) >= 3, timeout_s=15)
    got = [(t.cam_idx, t.img_idx) for t in link.triggers]
    want = [(c, i) for _, c, i in events]
    start = want.index(got[0])
    assert got == want[start : start + len(got)]


def test_mission_upload_with_dronekit(flying) -> None:  # type: ignore[no-untyped-def]
    ap, link, _ = flying
    from pymavlink import mavutil

    from missions.link.vehicle import import_dronekit

    dk = import_dronekit()
    cmds = link.vehicle.commands
    cmds.clear()
    pts = [(48.3331, 15.8101, 25.0), (48.3335, 15.8110, 25.0), (48.3340, 15.8120, 30.0)]
    for lat, lon, alt in pts:
        cmds.add(
            dk.Command(
                0,
                0,
                0,
                mavutil.mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
                mavutil.mavlink.MAV_CMD_NAV_WAYPOINT,
                0,
                1,
                0,
                0,
                0,
                0,
                lat,
                lon,
                alt,
            )
        )
    cmds.upload(timeout=10)
    assert wait_for(lambda: len(ap.mission) == 3)
    got = [(m.lat_deg, m.lon_deg, m.alt_m) for m in ap.mission]
    np.testing.assert_allclose(got, pts, atol=1e-6)
    assert {m.command for m in ap.mission} == {mavutil.mavlink.MAV_CMD_NAV_WAYPOINT}


def test_nothing_answers_names_the_connection() -> None:
    conn = f"udp:127.0.0.1:{free_udp_port()}"
    t0 = time.monotonic()
    with pytest.raises(LinkError, match=conn.replace(".", r"\.")) as err:
        VehicleLink(conn, timeout_s=2).connect()
    assert time.monotonic() - t0 < 15.0  # bounded (generous: a loaded 2-core machine)
    assert "HEARTBEAT" in str(err.value)


def test_link_loss_then_reconnect(flying) -> None:  # type: ignore[no-untyped-def]
    ap, link, _ = flying
    link.reconnect_after_s = 1.5
    link.watchdog(backoff_s=0.5)
    assert wait_for(lambda: link.latest() is not None)
    ap.drop_link(4.0)
    assert wait_for(lambda: link.state().lost, timeout_s=6)
    t_lost = link.latest().t_boot_s
    # frames exposed during the outage cannot be located
    assert link.pose_at(t_lost + 2.0) is None
    assert wait_for(lambda: link.reconnects >= 1 and not link.state().lost, timeout_s=20)
    assert wait_for(lambda: link.latest().t_boot_s > t_lost + 3.0)


def test_pose_at_the_newest_sample_is_the_newest_sample() -> None:
    """A frame stamped a hair after the newest sample gets that sample, not the oldest one."""
    link = VehicleLink("udp:127.0.0.1:1")
    for k in range(3):
        link._pos.append((10.0 + 0.1 * k, 48.0 + k, 15.0, 300.0, 25.0))
        link._att.append((10.0 + 0.1 * k, 0.0, 0.0, 170.0 + 10.0 * k))
    p = link.pose_at(10.2 + 5e-8)
    assert p is not None and p.lat_deg == 48.0 + 2 and p.yaw_deg == 190.0
    assert link.pose_at(10.21) is None and link.pose_at(9.99) is None
    assert link.pose_at(10.15).lat_deg == pytest.approx(49.5)
    assert link.pose_at(10.05).yaw_deg == pytest.approx(175.0)
    # a gap longer than max_gap_s (telemetry lost) locates nothing
    link._pos.append((11.0, 51.0, 15.0, 300.0, 25.0))
    link._att.append((11.0, 0.0, 0.0, 0.0))
    assert link.pose_at(10.6) is None


def test_a_pose_is_known_once_both_channels_passed_it() -> None:
    """The attitude of a row may arrive before its position: until both are in, a pose at that
    time is not yet known (the runtime waits), not lost."""
    link = VehicleLink("udp:127.0.0.1:1")
    assert math.isnan(link.t_pose_newest_s)
    link._pos.append((10.0, 48.0, 15.0, 300.0, 25.0))
    link._att.append((10.0, 0.0, 0.0, 170.0))
    link._att.append((10.1, 0.0, 0.0, 171.0))
    link._t_last = 10.1
    assert link.t_boot_now_s == 10.1 and link.t_pose_newest_s == 10.0
    assert link.pose_at(10.05) is None  # asked now it would be lost; the runtime waits
    link._pos.append((10.1, 48.1, 15.0, 300.0, 25.0))
    assert link.t_pose_newest_s == 10.1
    assert link.pose_at(10.05).lat_deg == pytest.approx(48.05)


def test_a_held_sim_clock_starts_when_released() -> None:
    from missions.sim.autopilot import SimClock

    c = SimClock(100.0, speed=4.0, held=True)
    time.sleep(0.05)
    assert c.held and c.now() == 100.0 and c.wall_until(101.0) == pytest.approx(0.25)
    c.release()
    time.sleep(0.05)
    assert not c.held and 100.15 < c.now() < 101.0
