"""DJI SRT reader: every layout in ../shared/data/telemetry/dji_srt, values from the file text."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from survey.telemetry.errors import NoPositionError, TelemetryFormatError
from survey.telemetry.read import read_track
from survey.telemetry.srt import parse_srt_text, read_srt
from survey.telemetry.sync import srt_frame_clock
from survey.telemetry.track import SampleFlag

# (file, samples, first (lat, lon), last (lat, lon)): read off the files with head/tail
FIRST_LAST = [
    ("MAVIC3.srt", 12318, (3.41531, -3.37440), (3.41368, -3.37721)),
    ("m2zoom.SRT", 7113, (31.452012, 74.398751), (31.450438, 74.398905)),
    ("mavic_air2.srt", 25, (41.420684, 2.162162), (41.420686, 2.162162)),
    ("mavic_pro.SRT", 468, (-20.2533, 149.0251), (-20.2532, 149.0251)),
    ("old_format.SRT", 468, (-20.2533, 149.0251), (-20.2532, 149.0251)),
    ("mavic_2_style.SRT", 468, (-20.2533, 149.0251), (-20.2532, 149.0251)),
    ("mavic_pro_buggy.SRT", 546, (42.4668, -1.2218), (42.4668, -1.2217)),
    ("p4_rtk.SRT", 55, (-34.237922, -58.851745), (-34.232349, -58.849196)),
    ("p4p_sample.SRT", 5, (47.4692, 8.2090), (47.4692, 8.2090)),
    ("broken_incomplete.SRT", 19, (-34.7383, -58.4563), (-34.7383, -58.4563)),
]


@pytest.mark.parametrize(("name", "n", "first", "last"), FIRST_LAST)
def test_first_last_and_count(tele: Path, read, name: str, n: int, first, last) -> None:  # type: ignore[no-untyped-def]
    tr = read(tele / "dji_srt" / name)
    assert len(tr) == n
    ok = tr.position_ok
    assert (tr.lat_deg[ok][0], tr.lon_deg[ok][0]) == pytest.approx(first, abs=1e-9)
    assert (tr.lat_deg[ok][-1], tr.lon_deg[ok][-1]) == pytest.approx(last, abs=1e-9)
    assert tr.time_base == "video" and tr.kind == "dji_srt"
    # every complete subtitle is a sample: count the numbered blocks in the text
    text = (tele / "dji_srt" / name).read_text(encoding="utf-8")
    blocks = len(re.findall(r"(?m)^\d+\s*$\n(?=\S)", text))
    assert blocks - n == (1 if name == "broken_incomplete.SRT" else 0)


def test_mavic3_altitudes_and_frame_clock(tele: Path, read) -> None:  # type: ignore[no-untyped-def]
    tr = read(tele / "dji_srt" / "MAVIC3.srt")
    # [rel_alt: -2.400 abs_alt: 0.401] first, [rel_alt: 3.600 abs_alt: 6.401] last
    assert tr.alt_ref == "msl"
    assert (tr.rel_alt_m[0], tr.alt_m[0], tr.rel_alt_m[-1], tr.alt_m[-1]) == pytest.approx(
        (-2.4, 0.401, 3.6, 6.401)
    )
    fc = srt_frame_clock(tr)
    assert fc.fps == pytest.approx(50.0, abs=1e-6)  # DiffTime: 20ms
    assert fc.n_frames == 12318 and fc.dropped == 0 and fc.repeated == 0
    assert tr.t_s[-1] == pytest.approx(246.34)  # 00:04:06,340
    assert tr.extra["t_wall_s"][0] == pytest.approx(1640435272.373)  # 2021-12-25 12:27:52.373
    assert tr.extra["fnum"][0] == 3.2 and tr.extra["iso"][-1] == 170


def test_m2zoom_fps_fnum_and_unlabelled_altitude(tele: Path, read) -> None:  # type: ignore[no-untyped-def]
    tr = read(tele / "dji_srt" / "m2zoom.SRT")
    assert srt_frame_clock(tr).fps == pytest.approx(59.94, abs=0.01)
    # DJI_SRT_Parser's test: packets[0].FNUM == 2.8 in the Mavic 2 Zoom format
    assert tr.extra["fnum"][0] == pytest.approx(2.8)
    assert tr.extra["focal_len_mm"][0] == 24.0 and tr.extra["focal_len_mm"][-1] == 48.0
    assert tr.alt_ref == "unknown" and tr.alt_m[0] == pytest.approx(213.983002)
    assert any("reference" in w for w in tr.warnings)
    # 2020-04-02 15:19:58,720,764: milliseconds then microseconds
    assert tr.extra["t_wall_s"][0] == pytest.approx(1585840798.720764, abs=1e-6)


def test_p4_rtk_attitude_and_gimbal(tele: Path, read) -> None:  # type: ignore[no-untyped-def]
    tr = read(tele / "dji_srt" / "p4_rtk.SRT")
    # F.PRY (2.7°, -7.0°, 110.1°), G.PRY (-24.4°, 0.0°, 110.4°), H 85.80m, sats 15
    assert (tr.pitch_deg[0], tr.roll_deg[0], tr.yaw_deg[0]) == pytest.approx((2.7, -7.0, 110.1))
    assert tr.gimbal_mode == "absolute"
    assert (tr.gimbal_pitch_deg[0], tr.gimbal_roll_deg[0], tr.gimbal_yaw_deg[0]) == pytest.approx(
        (-24.4, 0.0, 110.4)
    )
    assert tr.alt_ref == "takeoff" and tr.alt_m[0] == pytest.approx(85.80)
    assert tr.sats[0] == 15 and tr.speed_mps[-1] == pytest.approx(13.07)
    assert tr.meta["home_lat_deg"] == pytest.approx(-34.232707)
    assert tr.meta["home_lon_deg"] == pytest.approx(-58.847509)
    # attitude ranges over the whole file
    assert np.nanmin(tr.gimbal_pitch_deg) >= -24.5 and np.nanmax(tr.yaw_deg) < 115


def test_mavic_pro_layouts_agree(tele: Path, read) -> None:  # type: ignore[no-untyped-def]
    pro = read(tele / "dji_srt" / "mavic_pro.SRT")
    old = read(tele / "dji_srt" / "old_format.SRT")
    two = read(tele / "dji_srt" / "mavic_2_style.SRT")
    # the three files are the same flight written in three layouts
    np.testing.assert_array_equal(pro.lat_deg, old.lat_deg)
    np.testing.assert_array_equal(pro.lon_deg, old.lon_deg)
    np.testing.assert_array_equal(pro.lat_deg, two.lat_deg)
    # BAROMETER:1.9 vs Hb:1.9; the files differ in one subtitle (331: 66.0 vs 63.0)
    assert np.flatnonzero(pro.rel_alt_m != old.rel_alt_m).tolist() == [330]
    assert pro.sats[0] == 16 and pro.rel_alt_m[0] == 1.9
    assert two.extra["fnum"][0] == pytest.approx(2.2)  # DJI_SRT_Parser's documented value
    assert any("no timecodes" in w for w in two.warnings)


def test_buggy_file_gives_partial_track_with_warnings(tele: Path) -> None:
    tr = read_track(tele / "dji_srt" / "mavic_pro_buggy.SRT")
    text = (tele / "dji_srt" / "mavic_pro_buggy.SRT").read_text()
    n_na = text.count("GPS(N/A,N/A")
    assert n_na == 16
    assert int(((tr.flags & SampleFlag.NO_POSITION) != 0).sum()) == n_na
    assert tr.position_ok.sum() == 546 - n_na
    assert tr.sats.max() == 18  # DJI_SRT_Parser's test: GPS.SATELLITES.max == 18
    assert any("N/A" in w and "line 85" in w for w in tr.warnings)


def test_truncated_and_empty_files(tele: Path) -> None:
    tr = read_srt(tele / "dji_srt" / "broken_incomplete.SRT")
    assert any("cut short" in w and "line 115" in w for w in tr.warnings)
    with pytest.raises(TelemetryFormatError, match=r"broken_empty2\.SRT, line 1: no subtitle"):
        read_srt(tele / "dji_srt" / "broken_empty2.SRT")


def test_srt_without_position_is_a_clear_error(tele: Path) -> None:
    tr = read_srt(tele / "dji_srt" / "mavic_air.SRT")  # camera settings only
    assert len(tr) == 2 and not tr.position_ok.any()
    with pytest.raises(NoPositionError, match="no sample with a usable position"):
        read_track(tele / "dji_srt" / "mavic_air.SRT")


# Matrice 300: first subtitles of DJI_SRT_Parser's samples/matrice_300.srt (MIT, J. Irache)
M300 = """1
00:00:00,000 --> 00:00:01,000
2022.06.21 16:06:17
GPS(36.6146,-6.1120,0.0M) BAROMETER:0.3M

2
00:00:01,000 --> 00:00:02,000
2022.06.21 16:06:18
GPS(36.6146,-6.1120,0.0M) BAROMETER:0.8M
"""


def test_matrice_gps_tuple_is_lat_lon() -> None:
    tr = parse_srt_text(M300, source="m300.srt")
    assert tr.lat_deg[0] == 36.6146 and tr.lon_deg[0] == -6.1120
    assert tr.rel_alt_m.tolist() == [0.3, 0.8] and tr.alt_ref == "takeoff"
    assert any("constant" in w for w in tr.warnings)


MODERN = """1
00:00:00,000 --> 00:00:00,033
<font size="28">SrtCnt : 1, DiffTime : 33ms
2023-05-01 10:00:00.100
[iso : 100] [shutter : 1/1000.0] [fnum : 1.7] [ev : 0] [dzoom_ratio: 10000, delta:0],[latitude: 47.123456] [longitude: 8.654321] [rel_alt: 50.200 abs_alt: 466.100] [gb_yaw: -12.3 gb_pitch: -90.0 gb_roll: 0.0] </font>

2
00:00:00,033 --> 00:00:00,066
<font size="28">SrtCnt : 2, DiffTime : 33ms
2023-05-01 10:00:00.133
[iso : 100] [shutter : 1/1000.0] [fnum : 1.7] [ev : 0] [dzoom_ratio: 10000, delta:0],[latitude: 47.123460] [longitude: 8.654330] [rel_alt: 50.300 abs_alt: 466.200] [gb_yaw: -12.0 gb_pitch: -89.9 gb_roll: 0.1] </font>
"""


def test_modern_layout_with_gimbal() -> None:
    tr = parse_srt_text(MODERN, source="mini3.srt")
    assert tr.lat_deg.tolist() == [47.123456, 47.12346] and tr.lon_deg[1] == 8.65433
    assert tr.alt_ref == "msl" and tr.alt_m.tolist() == [466.1, 466.2] and tr.rel_alt_m[0] == 50.2
    assert tr.gimbal_mode == "absolute"
    assert (tr.gimbal_yaw_deg[0], tr.gimbal_pitch_deg[0], tr.gimbal_roll_deg[1]) == (
        -12.3,
        -90.0,
        0.1,
    )
    assert tr.extra["frame"].tolist() == [1, 2] and tr.extra["dzoom_ratio"][0] == 10000


def test_unknown_layout_names_line_and_what_was_seen() -> None:
    text = "1\n00:00:00,000 --> 00:00:01,000\n[latitude: 191.5] [longitude: 47.2]\n"
    with pytest.raises(
        TelemetryFormatError, match=r"x\.srt, line 1: coordinates out of range.*lat=191\.5"
    ):
        parse_srt_text(text, source="x.srt")
    with pytest.raises(TelemetryFormatError, match=r"line 1: expected a subtitle number.*'hello'"):
        parse_srt_text("hello\nworld\n", source="y.srt")
