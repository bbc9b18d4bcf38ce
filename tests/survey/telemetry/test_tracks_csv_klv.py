"""CSV logs, exiftool exports, GPX, KML, NMEA and MISB KLV readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from survey.telemetry.csvlogs import read_csv_log
from survey.telemetry.errors import TelemetryFormatError
from survey.telemetry.gpsformats import read_gpx, read_kml, read_nmea
from survey.telemetry.klv import decode_local_set, read_klv
from survey.telemetry.track import SampleFlag


def _utc(text: str) -> float:
    # numpy reads any number of fractional digits (Python 3.10's fromisoformat only 3 or 6)
    return float(np.datetime64(text, "us").astype(np.int64)) / 1e6


def test_dji_flight_record(tele: Path, read) -> None:  # type: ignore[no-untyped-def]
    tr = read(tele / "dji_flightlog_csv" / "P4P_2018-07-04_flightrecord.csv")
    assert tr.kind == "dji_flight_record_csv" and len(tr) == 2437
    assert (tr.lat_deg[0], tr.lon_deg[0]) == (55.507158, 10.717078)
    assert (tr.lat_deg[-1], tr.lon_deg[-1]) == (55.507157, 10.717069)
    # the file's own summary columns: DETAILS.maxHeight [m] = 64.5, photoNum = 1
    assert tr.alt_ref == "takeoff" and np.nanmax(tr.alt_m) == 64.5
    assert len(tr.events) == 1
    assert tr.meta["aircraft"] == "P4 Professional" and tr.meta["takeoff_altitude_m"] == 21.17
    # first row: OSD.pitch 1, roll 3.5, yaw 131; GIMBAL.yaw 135.4 (YawFollow: absolute)
    assert (tr.pitch_deg[0], tr.roll_deg[0], tr.yaw_deg[0], tr.gimbal_yaw_deg[0]) == (
        1.0,
        3.5,
        131.0,
        135.4,
    )
    assert np.nanmin(tr.gimbal_pitch_deg) == -90.0 and tr.gimbal_mode == "absolute"
    assert tr.time_base == "local" and tr.t_s[0] == pytest.approx(_utc("2018-07-04T09:19:31.701"))
    # CUSTOM.updateTime repeats in 145 rows: flagged, not dropped
    assert int(((tr.flags & SampleFlag.TIME_DUPLICATE) != 0).sum()) == 145
    assert len(tr.meta["video_recording_s"]) == 2


def test_exiftool_photo_export(tele: Path, read) -> None:  # type: ignore[no-untyped-def]
    tr = read(tele / "dji_image_metadata" / "agung2_image_metadata.csv")
    assert len(tr) == 1817 and tr.position_ok.all()
    i = int(np.flatnonzero(tr.extra["file"] == "DJI_20251002120847_0345_D.JPG")[0])
    # "8 deg 17' 39.30"" S","115 deg 27' 42.59"" E",+1131.876,-80.00,-90.10
    assert tr.lat_deg[i] == pytest.approx(-(8 + 17 / 60 + 39.30 / 3600))
    assert tr.lon_deg[i] == pytest.approx(115 + 27 / 60 + 42.59 / 3600)
    assert (tr.alt_m[i], tr.gimbal_pitch_deg[i], tr.yaw_deg[i]) == (1131.876, -80.0, -90.1)
    assert tr.t_s[i] == _utc("2025-10-02T12:08:47") and tr.time_base == "local"
    assert np.all(np.diff(tr.t_s) >= 0)  # sorted by time


def test_exiftool_faulty_photos_are_flagged_by_name(tele: Path, read) -> None:  # type: ignore[no-untyped-def]
    tr = read(tele / "dji_image_metadata" / "agung2_issue_image_metadata.csv")
    names = tr.extra["file"].tolist()
    for name, fl in zip(names, tr.flags, strict=True):
        if "MISSING_COORDS" in name:
            assert fl & SampleFlag.NO_POSITION, name
        elif "INVALID_COORD" in name:  # "250 deg 0' 0.00"" N" is kept, flagged
            assert fl & SampleFlag.OUT_OF_RANGE, name
        elif "FAR_AWAY" in name:  # Paris, seconds after Bali
            assert fl & SampleFlag.SPEED_JUMP, name
        elif "DUP" in name or "LENS_CAP" in name or "HORIZON" in name:
            assert fl == 0, name
    assert any("above the horizon" in w for w in tr.warnings)


def test_labelled_csv_with_units(tmp_path: Path) -> None:
    p = tmp_path / "log.csv"
    p.write_text(
        "datetime(utc),latitude,longitude,altitude_above_seaLevel(feet),speed(mph),gimbal_pitch(degrees),event\n"
        "2021-05-01 10:00:00.000,47.1,8.2,1000,10,-90,\n"
        "2021-05-01 10:00:00.100,47.1001,8.2001,1010,20,-89,photo:0:17\n"
    )
    tr = read_csv_log(p)
    assert len(tr.events) == 1 and tr.events.image_index.tolist() == [17]  # type: ignore[union-attr]
    assert tr.events.t_s[0] == tr.t_s[1] and tr.events.lat_deg[0] == 47.1001  # type: ignore[union-attr]
    assert tr.time_base == "utc" and tr.t_s[1] - tr.t_s[0] == pytest.approx(0.1)
    assert tr.alt_m[0] == pytest.approx(304.8) and tr.speed_mps[1] == pytest.approx(8.9408)
    assert tr.gimbal_pitch_deg.tolist() == [-90.0, -89.0] and tr.gimbal_mode == "absolute"


def test_csv_without_labels_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("a,b,c\n1,47.1,8.2\n")
    with pytest.raises(
        TelemetryFormatError,
        match=r"x\.csv, line 1: CSV header names no latitude and longitude columns \(saw a, b, c\)",
    ):
        read_csv_log(p)


def test_geotag_csv_relative_time(tele: Path, read) -> None:  # type: ignore[no-untyped-def]
    tr = read(tele / "geotag" / "Geotag_DJI_2020-12-02_07-50-31.csv")
    assert len(tr) == 92 and tr.time_base == "relative"
    assert (tr.t_s[0], tr.lat_deg[0], tr.lon_deg[0]) == (0.3, -44.69009395, 170.42456545)
    assert (tr.t_s[-1], tr.lat_deg[-1], tr.lon_deg[-1]) == (10.0, -44.69008766, 170.4245683)


def test_gpx_kml_nmea(tele: Path) -> None:
    g = read_gpx(tele / "geotag" / "Geotag.gpx")
    assert len(g) == 9 and np.all(np.diff(g.t_s) > 0)  # the file lists newest first: sorted
    assert (g.lat_deg[0], g.lon_deg[0], g.alt_m[0]) == (43.642824, -116.061502, 1507.003906)
    assert g.t_s[0] == _utc("2003-05-24T17:09:04")
    k = read_kml(tele / "geotag" / "Geotag.kml")
    # <when>2013-11-13T01:03:34.245-08:00</when> <gx:coord>-106.026069 34.166232 0</gx:coord>
    assert len(k) == 3 and (k.lat_deg[0], k.lon_deg[0]) == (34.166232, -106.026069)
    assert k.t_s[0] == pytest.approx(_utc("2013-11-13T09:03:34.245")) and k.time_base == "utc"
    n = read_nmea(tele / "geotag" / "Geotag.log")
    # $PMGNTRK,4415.163,N,07631.126,W,00095,M,110833.53,A,,030409
    assert len(n) == 12
    assert n.lat_deg[0] == pytest.approx(44 + 15.163 / 60) and n.lon_deg[0] == pytest.approx(
        -(76 + 31.126 / 60)
    )
    assert n.alt_m[0] == 95 and n.t_s[0] == pytest.approx(_utc("2009-04-03T11:08:33.53"))


def test_nmea_gga_rmc_and_checksums(tmp_path: Path) -> None:
    p = tmp_path / "a.nmea"
    lines = [
        "GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W",
        "GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
        "GPGGA,123520,4807.100,N,01131.100,E,4,12,0.6,546.0,M,46.9,M,,",
    ]

    def cs(s: str) -> str:
        x = 0
        for ch in s.encode():
            x ^= ch
        return f"${s}*{x:02X}"

    text = (
        "\n".join(cs(s) for s in lines)
        + "\n$GPGGA,123521,4807.2,N,01131.2,E,1,08,0.9,547,M,,M,,*00\n"
    )
    p.write_text(text)
    tr = read_nmea(p)
    assert len(tr) == 2 and tr.t_s[0] == _utc("1994-03-23T12:35:19")
    assert tr.lat_deg[0] == pytest.approx(48 + 7.038 / 60) and tr.alt_m[0] == 545.4
    # GGA quality 4 (RTK fixed) is MAVLink fix type 6
    assert (
        tr.sats.tolist() == [8, 12]
        and tr.hdop.tolist() == [0.9, 0.6]
        and tr.fix_type.tolist() == [3, 6]
    )
    assert tr.speed_mps[0] == pytest.approx(22.4 * 0.514444)
    assert any("checksum" in w for w in tr.warnings)


def test_gpx_malformed(tmp_path: Path) -> None:
    p = tmp_path / "bad.gpx"
    p.write_text('<?xml version="1.0"?>\n<gpx><trk><trkseg><trkpt lat="1" lon="2">\n</gpx>')
    with pytest.raises(
        TelemetryFormatError, match=r"bad\.gpx, line 3, column \d+: not well-formed XML"
    ):
        read_gpx(p)


def test_klv_standard_examples() -> None:
    # MISB ST 0601 "Conversions and Mappings" example values (as in klvdata's tests)
    d = decode_local_set(bytes.fromhex("0D045595B66D0E045B5360C4050271C20602FD3D070208B80F02C221"))
    assert d["lat"] == pytest.approx(60.1768229669783, abs=1e-9)
    assert d["lon"] == pytest.approx(128.426759042045, abs=1e-9)
    assert d["heading"] == pytest.approx(159.9744, abs=1e-3)
    assert d["pitch"] == pytest.approx(-0.4315, abs=1e-4)
    assert d["roll"] == pytest.approx(3.405814, abs=1e-4)
    assert d["alt_msl"] == pytest.approx(14190.72, abs=0.2)
    d = decode_local_set(
        bytes.fromhex(
            "1204724A0A20 130487F84B86 14047DC55ECE 0208000459F4A6AA4AA8".replace(" ", "")
        )
    )
    assert d["rel_az"] == pytest.approx(160.719211474396, abs=1e-6)
    assert d["rel_el"] == pytest.approx(-168.792324833941, abs=1e-6)
    assert d["rel_roll"] == pytest.approx(176.865437690572, abs=1e-6)
    assert d["t_us"] * 1e-6 == pytest.approx(_utc("2008-10-24T00:13:29.913"))  # ST 0601.9 example
    with pytest.raises(ValueError, match="runs past the end"):
        decode_local_set(bytes.fromhex("0D0455"))


def test_klv_cheyenne(tele: Path, read, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tr = read(tele / "misb_klv" / "Cheyenne.bin")
    assert tr.kind == "misb_klv" and len(tr) == 407 and not tr.warnings
    # SOURCES.md: real aircraft N97826 (a Cessna 208B) near Cheyenne, Wyoming
    assert tr.meta["tail_number"] == "N97826" and tr.meta["platform"] == "C208B"
    assert np.all(np.abs(tr.lat_deg - 41.14) < 0.1) and np.all(np.abs(tr.lon_deg + 104.8) < 0.1)
    assert tr.gimbal_mode == "relative" and tr.alt_ref == "msl"
    assert np.all(np.diff(tr.t_s) > 0) and 0.19 < np.median(np.diff(tr.t_s)) < 0.23
    # a cut packet at the end is dropped, the rest kept
    cut = tmp_path / "cut.bin"
    data = (tele / "misb_klv" / "Cheyenne.bin").read_bytes()
    cut.write_bytes(data[: len(data) - 40])
    assert len(read_klv(cut)) == 406
