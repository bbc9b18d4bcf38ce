"""ArduPilot DataFlash, MAVLink tlog and PX4 ULog readers, against pymavlink/pyulog's raw values."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from survey.telemetry.dataflash import read_dataflash
from survey.telemetry.errors import NoPositionError, TelemetryFormatError
from survey.telemetry.tlog import read_tlog
from survey.telemetry.track import SampleFlag
from survey.telemetry.ulog import read_ulog


def _utc(text: str) -> float:
    # numpy reads any number of fractional digits (Python 3.10's fromisoformat only 3 or 6)
    return float(np.datetime64(text, "us").astype(np.int64)) / 1e6


def test_dataflash_2014_copter(tele: Path, read) -> None:  # type: ignore[no-untyped-def]
    tr = read(tele / "ardupilot" / "erle_Loiter_RTL.bin")
    assert tr.kind == "ardupilot_dataflash" and tr.time_base == "utc" and tr.alt_ref == "msl"
    # 992 GPS messages, 990 with a 3D fix (pymavlink dump); first GPS: Lat 42.845769,
    # Lng -2.6885322, Alt 521.31, NSats 7, HDop 2.54
    ok = tr.position_ok
    assert ok.sum() == 990
    assert (tr.lat_deg[ok][0], tr.lon_deg[ok][0], tr.alt_m[ok][0]) == pytest.approx(
        (42.845769, -2.6885322, 521.31)
    )
    assert tr.sats[ok][0] == 7 and tr.hdop[ok][0] == pytest.approx(2.54)
    # GPS week 1817 + 403369.800 s is 2014-11-06 16:02:33.8 UTC (16 leap seconds)
    assert tr.meta["boot_clock_rate"] == pytest.approx(1.083, abs=0.002)
    assert any("slow" in w for w in tr.warnings)
    # (this board logs GPS messages with up to ~1 s of jitter: the clock model is a robust fit)
    assert tr.t_s[ok][0] == pytest.approx(_utc("2014-11-06T16:02:33.8"), abs=0.5)
    # ATT: 2356 attitude samples, yaw over the full circle
    assert np.isfinite(tr.yaw_deg).sum() == 2356
    assert np.nanmin(tr.yaw_deg) >= 0 and np.nanmax(tr.yaw_deg) > 359


def test_dataflash_pymavlink_test_log(tele: Path, read) -> None:  # type: ignore[no-untyped-def]
    tr = read(tele / "ardupilot" / "test.BIN")
    assert tr.meta["position_source"] == "POS"
    ok = tr.position_ok
    assert ok.sum() == 23  # 23 POS messages
    assert (tr.lat_deg[ok][0], tr.lon_deg[ok][0]) == pytest.approx((-35.3626298, 149.1653055))
    # first ATT: Roll -7.18, Pitch 2.58, Yaw 337.1
    i = int(np.flatnonzero(np.isfinite(tr.yaw_deg))[0])
    assert (tr.roll_deg[i], tr.pitch_deg[i], tr.yaw_deg[i]) == pytest.approx((-7.18, 2.58, 337.1))
    # GPS week 1973, GMS 6448000 logged at TimeUS 81855471 -> 2017-10-29 01:47:10 UTC
    utc = tr.meta["boot_to_utc_s"] + tr.meta["boot_clock_rate"] * 81.855471
    assert utc == pytest.approx(_utc("2017-10-29T01:47:10"), abs=0.01)
    np.testing.assert_allclose(tr.t_s - tr.extra["t_boot_s"], tr.meta["boot_to_utc_s"])


def test_dataflash_truncated_and_wrong_kind(tele: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.bin"
    cut.write_bytes((tele / "ardupilot" / "erle_Loiter_RTL.bin").read_bytes()[:300_000])
    tr = read_dataflash(cut)  # the part before the cut is kept
    assert 0 < tr.position_ok.sum() < 990
    bad = tmp_path / "notes.bin"
    bad.write_bytes(b"hello world")
    with pytest.raises(
        TelemetryFormatError, match=r"notes\.bin, offset 0: not an ArduPilot DataFlash log"
    ):
        read_dataflash(bad)


def test_tlog_vtol(tele: Path, read) -> None:  # type: ignore[no-untyped-def]
    tr = read(tele / "ardupilot" / "vtol.tlog")
    assert tr.kind == "mavlink_tlog" and tr.meta["utc_source"] == "SYSTEM_TIME"
    # 807 GLOBAL_POSITION_INT; 3 of them go back in time (611741 ms -> 610541 ms)
    assert np.isfinite(tr.lat_deg).sum() == 807
    back = (tr.flags & SampleFlag.TIME_BACKWARDS) != 0
    assert back.sum() == 3
    ok = tr.position_ok
    assert (tr.lat_deg[ok][0], tr.lon_deg[ok][0], tr.alt_m[ok][0]) == pytest.approx(
        (-35.3629904, 149.1649392, 587.85)
    )
    assert (tr.lat_deg[ok][-1], tr.lon_deg[ok][-1], tr.alt_m[ok][-1]) == pytest.approx(
        (-35.3609623, 149.16503, 586.64)
    )
    # SYSTEM_TIME: time_unix_usec 1533737145465009 at time_boot_ms 608582 (= first GPI)
    assert tr.t_s[ok][0] == pytest.approx(1533737145.465009, abs=1e-3)
    assert tr.rel_alt_m[ok][0] == pytest.approx(6.75)
    # ATTITUDE yaw 2.4500 rad = 140.4 deg at the first sample
    i = int(np.flatnonzero(np.isfinite(tr.yaw_deg))[0])
    assert tr.yaw_deg[i] == pytest.approx(np.degrees(2.4500322341918945))
    assert set(np.unique(tr.fix_type[ok])) == {6} and tr.sats[ok][0] == 10


def test_tlog_wrong_kind(tmp_path: Path) -> None:
    p = tmp_path / "x.tlog"
    p.write_bytes(b"\x00" * 64)
    with pytest.raises(TelemetryFormatError, match="not a MAVLink tlog"):
        read_tlog(p)


def test_ulog_small(tele: Path, read) -> None:  # type: ignore[no-untyped-def]
    tr = read(tele / "px4" / "sample_log_small.ulg")
    assert tr.kind == "px4_ulog" and tr.time_base == "utc"
    ok = tr.position_ok
    # vehicle_gps_position: 32 samples; lat 634170622e-7, lon 104082151e-7, alt 66814 mm,
    # time_utc_usec 1618986658600345 at timestamp 20471648 us
    assert ok.sum() == 32
    assert (tr.lat_deg[ok][0], tr.lon_deg[ok][0], tr.alt_m[ok][0]) == pytest.approx(
        (63.4170622, 10.4082151, 66.814)
    )
    assert (tr.lat_deg[ok][-1], tr.lon_deg[ok][-1]) == pytest.approx((63.4170457, 10.4082271))
    # (the receiver's message is published some ms after its fix: tens of ms of latency)
    assert tr.t_s[ok][0] == pytest.approx(1618986658.600345, abs=0.02)
    assert tr.sats[ok][0] == 15 and tr.hdop[ok][0] == pytest.approx(0.7)
    # vehicle_attitude: 1298 quaternions; the vehicle sits level
    assert np.isfinite(tr.roll_deg).sum() == 1298
    assert np.nanmax(np.abs(tr.roll_deg)) < 5 and np.nanmax(np.abs(tr.pitch_deg)) < 5


def test_ulog_without_global_position(tele: Path, tmp_path: Path) -> None:
    with pytest.raises(NoPositionError, match="local position only"):
        read_ulog(tele / "px4" / "sample_appended_multiple.ulg")
    p = tmp_path / "fake.ulg"
    shutil.copy(tele / "ardupilot" / "test.BIN", p)
    with pytest.raises(TelemetryFormatError, match=r"fake\.ulg, offset 0: not a PX4 ULog"):
        read_ulog(p)


def _fmt(mid: int, name: str, fmt: str, cols: str) -> bytes:
    """A DataFlash FMT message (id 128) describing message ``mid``."""
    sizes = {"Q": 8, "B": 1, "I": 4, "H": 2, "f": 4, "L": 4}
    length = 3 + sum(sizes[c] for c in fmt)
    return b"\xa3\x95\x80" + struct.pack(
        "<BB4s16s64s", mid, length, name.encode(), fmt.encode(), cols.encode()
    )


def _msg(mid: int, fmt: str, *vals: float) -> bytes:
    return b"\xa3\x95" + bytes([mid]) + struct.pack("<" + fmt, *vals)


@pytest.mark.parametrize("mount", ["4.3+", "older"])
def test_dataflash_camera_events_and_mount(tmp_path: Path, mount: str) -> None:
    data = _fmt(130, "GPS", "QBIHBfLLff", "TimeUS,Status,GMS,GWk,NSats,HDop,Lat,Lng,Alt,Spd")
    data += _fmt(131, "ATT", "Qfff", "TimeUS,Roll,Pitch,Yaw")
    data += _fmt(
        132, "CAM", "QBHIHLLffffff", "TimeUS,I,Img,GPSTime,GPSWeek,Lat,Lng,Alt,RelAlt,GPSAlt,R,P,Y"
    )
    if mount == "4.3+":
        data += _fmt(
            133, "MNT", "QBffffffff", "TimeUS,I,DRoll,Roll,DPitch,Pitch,DYawB,YawB,DYawE,YawE"
        )
    else:
        data += _fmt(133, "MNT", "Qffffff", "TimeUS,DesRoll,Roll,DesPitch,Pitch,DesYaw,Yaw")
    for k in range(100):
        t_us = 10_000_000 + k * 200_000
        lat = int((47 + k * 1e-5) * 1e7)
        data += _msg(
            130,
            "QBIHBfLLff",
            t_us,
            3,
            100_000_000 + k * 200,
            2300,
            12,
            0.8,
            lat,
            80_000_000,
            500.0,
            5.0,
        )
        data += _msg(131, "Qfff", t_us + 1000, 1.0, 2.0, 90.0)
        if mount == "4.3+":  # earth-frame yaw 95
            data += _msg(133, "QBffffffff", t_us + 2000, 0, 0, 0.5, 0, -90.0, 0, 5.0, 0, 95.0)
        else:  # yaw 5 relative to the vehicle heading (90)
            data += _msg(133, "Qffffff", t_us + 2000, 0, 0.5, 0, -90.0, 0, 5.0)
        if k % 10 == 5:
            data += _msg(
                132,
                "QBHIHLLffffff",
                t_us + 500,
                0,
                k // 10,
                0,
                2300,
                lat,
                80_000_000,
                500.0,
                50.0,
                500.0,
                1.0,
                2.0,
                90.0,
            )
    p = tmp_path / "synth.bin"
    p.write_bytes(data)
    tr = read_dataflash(p)
    # GPS week 2300 + 100000.000 s at boot 10.0 s: boot -> UTC offset exactly
    utc0 = 315964800 + 2300 * 604800 + 100_000 - 18 - 10.0
    assert tr.meta["boot_to_utc_s"] == pytest.approx(utc0, abs=1e-6)
    ev = tr.events
    assert ev is not None and ev.source == "CAM" and len(ev) == 10
    assert ev.image_index.tolist() == list(range(10))
    np.testing.assert_allclose(
        ev.t_s, utc0 + 10.0 + 0.2 * np.arange(5, 100, 10) + 0.0005, atol=1e-6
    )
    assert ev.lat_deg[0] == pytest.approx(47.00005) and ev.yaw_deg[0] == 90.0
    g = np.isfinite(tr.gimbal_yaw_deg)
    assert tr.gimbal_mode == "absolute" and g.sum() == 100
    np.testing.assert_allclose(tr.gimbal_yaw_deg[g], 95.0, atol=1e-6)
    np.testing.assert_allclose(tr.gimbal_pitch_deg[g], -90.0)
    assert (mount == "older") == any("relative to the vehicle heading" in w for w in tr.warnings)
