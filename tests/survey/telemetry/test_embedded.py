"""Telemetry inside videos: GoPro GPMF payloads and MISB ST 0601 KLV demuxed from MPEG-TS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from survey.telemetry.errors import TelemetryFormatError
from survey.telemetry.gpmf import gpmf_payloads
from survey.telemetry.klv import _ber, read_klv
from survey.telemetry.mpegts import looks_like_klv_ts, read_klv_ts, write_klv_ts
from survey.telemetry.read import read_track, sniff_kind

DATA = Path(__file__).resolve().parents[2] / "data" / "gpmf"


def _streams(name: str) -> dict[str, np.ndarray]:
    return {s.key: s.rows for s in gpmf_payloads((DATA / name).read_bytes())}


def test_gpmf_karma_drone_records() -> None:
    s = _streams("karma.raw")
    glpi, attd, gpri = s["GLPI"], s["ATTD"], s["GPRI"]
    # raw bytes 13 BE 87 B8 / BA 10 B3 34 = 331253688, -1173310668 (scale 1e7)
    assert glpi[0, 1] == pytest.approx(33.1253688, abs=1e-9)
    assert glpi[0, 2] == pytest.approx(-117.3310668, abs=1e-9)
    assert glpi.shape == (4, 9) and attd.shape == (4, 8) and gpri.shape == (4, 10)
    # independent check: ATTD yaw (rad) agrees with GLPI heading (centidegrees) and GPRI course
    yaw = np.degrees(attd[:, 3]) % 360
    assert np.abs(yaw - glpi[:, 8]).max() < 1.0
    assert abs(gpri[0, 7] - glpi[0, 8]) < 5.0
    assert gpri[0, 8] == 3 and gpri[0, 9] == 20  # 3D fix, 20 satellites
    # the GNSS fix lies within a few metres of the fused position
    assert abs(gpri[0, 1] - glpi[0, 1]) * 111e3 < 5


def test_gpmf_hero5_gps5_matches_telemetry_parser_scaling() -> None:
    s = _streams("hero5.raw")
    g = s["GPS5"]
    assert g.shape == (18, 5)
    assert g[0, :3] == pytest.approx([33.1264969, -117.3273542, -20.184], abs=1e-7)
    assert np.all(np.abs(np.diff(g[:, 0])) < 1e-4)  # 18 Hz samples, metres apart


def test_gpmf_damaged_payload_names_the_byte() -> None:
    raw = bytearray((DATA / "karma.raw").read_bytes())
    raw[8 + 8 + 4] = 0x01  # the first STRM's first item: key bytes become unprintable
    with pytest.raises(ValueError, match="byte"):
        gpmf_payloads(bytes(raw))
    cut = (DATA / "karma.raw").read_bytes()[:3000]
    with pytest.raises(ValueError, match="parent ends"):
        gpmf_payloads(cut)


def _cheyenne_packets(shared: Path) -> tuple[list[bytes], np.ndarray, object]:
    path = shared / "telemetry" / "misb_klv" / "Cheyenne.bin"
    d = path.read_bytes()
    out, i = [], 0
    while i < len(d):
        n, j = _ber(d, i + 16)
        out.append(d[i : j + n])
        i = j + n
    ref = read_klv(path)
    return out, ref.t_s - ref.t_s[0], ref


def test_klv_in_ts_round_trip_against_raw_reader(shared_data: Path, tmp_path: Path) -> None:
    pk, t, ref = _cheyenne_packets(shared_data)
    ts = write_klv_ts(tmp_path / "c.ts", pk, t + 0.5, video_pts_s=np.arange(0, t[-1] + 1, 1 / 30))
    assert looks_like_klv_ts(ts) and sniff_kind(ts) == "misb_klv_ts"
    tr = read_track(ts)
    assert tr.kind == "misb_klv_ts" and tr.time_base == "video" and len(tr) == len(ref) == 407
    assert np.abs(tr.t_s - (t + 0.5)).max() < 2e-5  # PTS is 90 kHz
    np.testing.assert_allclose(tr.lat_deg, ref.lat_deg)
    np.testing.assert_allclose(tr.yaw_deg, ref.yaw_deg)
    np.testing.assert_allclose(tr.extra["t_utc_s"], ref.t_s)
    assert tr.gimbal_mode == "relative"
    # the frame corners surround the frame centre, and the centre lies within ~ slant range
    c_lat, c_lon = tr.extra["corner_lat_deg"], tr.extra["corner_lon_deg"]
    fc_lat, fc_lon = tr.extra["frame_center_lat_deg"], tr.extra["frame_center_lon_deg"]
    ok = np.isfinite(c_lat).all(1) & np.isfinite(fc_lat)
    assert ok.sum() > 300
    assert np.all(c_lat[ok].min(1) <= fc_lat[ok]) and np.all(c_lat[ok].max(1) >= fc_lat[ok])
    assert np.all(c_lon[ok].min(1) <= fc_lon[ok]) and np.all(c_lon[ok].max(1) >= fc_lon[ok])
    d_m = np.hypot(
        (fc_lat - tr.lat_deg) * 111.2e3, (fc_lon - tr.lon_deg) * 111.2e3 * np.cos(np.radians(41.1))
    )
    rng = tr.extra["slant_range_m"]
    good = np.isfinite(d_m) & np.isfinite(rng)
    assert np.all(d_m[good] <= rng[good] * 1.05)


def _tiny_ts(tmp_path: Path) -> Path:
    # a hand-built Local Set: time stamp, heading, lat, lon (ST 0601 example values)
    from survey.telemetry.klv import UAS_LS_KEY

    def ls(t_us: int) -> bytes:
        body = (
            bytes.fromhex("0208") + t_us.to_bytes(8, "big")
            + bytes.fromhex("050271C2" "0D045595B66D" "0E045B5360C4")
        )  # fmt: skip
        return UAS_LS_KEY + bytes([len(body)]) + body

    pk = [ls(1_700_000_000_000_000 + k * 100_000) for k in range(20)]
    return write_klv_ts(tmp_path / "t.ts", pk, np.arange(20) * 0.1)


def test_klv_ts_tiny_values(tmp_path: Path) -> None:
    tr = read_track(_tiny_ts(tmp_path), check=False)
    assert tr.lat_deg[0] == pytest.approx(60.17682297, abs=1e-8)
    assert tr.lon_deg[0] == pytest.approx(128.42675904, abs=1e-8)
    np.testing.assert_allclose(tr.t_s, np.arange(20) * 0.1, atol=2e-5)
    assert "no video stream" in " ".join(tr.warnings)


def test_klv_ts_truncated_and_bit_flipped(tmp_path: Path) -> None:
    p = _tiny_ts(tmp_path)
    data = p.read_bytes()
    cut = tmp_path / "cut.ts"
    cut.write_bytes(data[: 188 * 6 + 100])  # a partial last packet is ignored
    tr = read_klv_ts(cut)
    assert 0 < len(tr) < 20
    flip = bytearray(data)
    flip[188 * 5] = 0x00  # a sync byte
    (tmp_path / "flip.ts").write_bytes(bytes(flip))
    with pytest.raises(TelemetryFormatError, match=r"flip\.ts, byte 940 \(packet 5\).*sync"):
        read_klv_ts(tmp_path / "flip.ts")
    nopmt = tmp_path / "nopmt.ts"
    nopmt.write_bytes(data[188 * 2 :])  # PAT and PMT gone
    with pytest.raises(TelemetryFormatError, match="no KLV metadata stream"):
        read_klv_ts(nopmt)


def test_mp4_without_moov_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "GOPR0001.MP4"
    p.write_bytes(b"\x00\x00\x00\x18ftypmp41\x00\x00\x00\x00mp41isom" + b"\x00\x00\x10\x00mdat"
                  + b"DEVC\x00\x01\x00\x10" + bytes(4096))  # fmt: skip
    assert sniff_kind(p) == "gopro_gpmf"
    with pytest.raises(TelemetryFormatError, match="GOPR0001.MP4, byte .*no 'moov' box"):
        read_track(p)


def test_flight_plan_uses_the_embedded_track(tmp_path: Path) -> None:
    from survey.flight import describe_flight_dir, discover_flight

    d = tmp_path / "flight"
    d.mkdir()
    ts = _tiny_ts(tmp_path)
    (d / "FMV_0001.ts").write_bytes(ts.read_bytes())
    f = discover_flight(d)
    (v,) = f.of_kind("video")
    assert v.embedded == "misb_klv_ts" and v.sidecar is None
    f.check_locatable()  # no SRT and no log, yet locatable
    desc = describe_flight_dir(d)
    assert desc is not None
    (entry,) = desc["plan"]
    assert entry["poses"] == "embedded misb_klv_ts track"
    assert "embedded misb_klv_ts track" in entry["clock"]
    assert not any("cannot be located" in w for w in desc["warnings"])
    # with an SRT beside it, the SRT wins and the plan says the embedded track is unused
    (d / "FMV_0001.SRT").write_text("1\n00:00:00,000 --> 00:00:00,033\nx\n")
    (entry,) = describe_flight_dir(d)["plan"]  # type: ignore[index]
    assert entry["poses"] == "SRT" and "embedded misb_klv_ts track is not used" in entry["clock"]


def _gpmf_mp4(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray]:
    from survey.telemetry.gpmf import write_gpmf_mp4

    t = np.arange(0, 5, 0.1)
    lat, lon = 48.2 + 2e-6 * t, 15.6 + 3e-6 * t
    z = np.zeros_like(t)
    p = write_gpmf_mp4(
        tmp_path / "GOPR0002.MP4", t, lat_deg=lat, lon_deg=lon, alt_msl_m=300 + z,
        rel_alt_m=25 + z, vel_ned_mps=np.column_stack([z + 0.2, z + 0.2, z]),
        roll_deg=2 + z, pitch_deg=-3 + z, yaw_deg=200 + 10 * t, utc0_s=1.7e9,
    )  # fmt: skip
    return p, t, lat, lon


def test_gpmf_mp4_values_and_clock(tmp_path: Path) -> None:
    p, t, lat, lon = _gpmf_mp4(tmp_path)
    assert sniff_kind(p) == "gopro_gpmf"
    tr = read_track(p)
    assert tr.kind == "gopro_gpmf" and tr.time_base == "video" and len(tr) == t.size
    np.testing.assert_allclose(tr.t_s, t, atol=1e-9)
    assert np.abs(tr.lat_deg - lat).max() < 1e-7 and np.abs(tr.lon_deg - lon).max() < 1e-7
    np.testing.assert_allclose(tr.yaw_deg, (200 + 10 * t) % 360, atol=1e-4)
    np.testing.assert_allclose(tr.roll_deg, 2, atol=1e-5)
    np.testing.assert_allclose(tr.rel_alt_m, 25, atol=1e-3)
    assert tr.gimbal_mode == "absolute" and np.all(tr.gimbal_pitch_deg == -90)
    np.testing.assert_allclose(tr.extra["t_utc_s"], 1.7e9 + t, atol=1e-3)
    assert tr.meta["position_source"].startswith("GLPI") and tr.meta["yaw_source"] == "ATTD"


def test_gpmf_mp4_truncated_and_bit_flipped(tmp_path: Path) -> None:
    p, t, *_ = _gpmf_mp4(tmp_path)
    data = p.read_bytes()
    # a key byte of the third payload made unprintable: the first two payloads are kept
    from survey.telemetry.container import read_mp4_tracks

    (gp,) = read_mp4_tracks(p)
    flip = bytearray(data)
    flip[int(gp.offset[2]) + 8] = 0x01
    q = tmp_path / "flip.MP4"
    q.write_bytes(bytes(flip))
    tr = read_track(q)
    assert len(tr) == 20
    assert any("GPMF sample 2 at byte" in w and "bad GPMF key" in w for w in tr.warnings)
    # the first payload damaged: nothing to keep, an error naming the file and the sample
    flip0 = bytearray(data)
    flip0[int(gp.offset[0]) + 8] = 0x01
    q.write_bytes(bytes(flip0))
    with pytest.raises(TelemetryFormatError, match=r"flip\.MP4, GPMF sample 0 at byte \d+"):
        read_track(q)
    # the moov box cut short
    cut = tmp_path / "cut.MP4"
    cut.write_bytes(data[:-40])
    with pytest.raises(TelemetryFormatError, match=r"cut\.MP4, byte \d+ \(box 'moov'\).*cut short"):
        read_track(cut)


def test_klv_added_to_an_opencv_transport_stream(tmp_path: Path) -> None:
    """encode_st0601 / add_klv_to_ts (the simulator's writer) against the reader, and the video
    still decodes frame for frame after the KLV PID is muxed in."""
    import cv2

    from survey.telemetry.mpegts import add_klv_to_ts, encode_st0601

    p = tmp_path / "v.TS"
    w = cv2.VideoWriter(str(p), cv2.VideoWriter.fourcc(*"mp4v"), 10, (96, 64))
    if not w.isOpened():
        pytest.skip("this OpenCV cannot write MPEG-TS")
    for i in range(12):
        w.write(np.full((64, 96, 3), 20 * i, np.uint8))
    w.release()
    t = np.arange(12) / 10.0
    items = {13: 48.3, 14: 15.7, 15: 301.5, 5: 123.4, 90: -3.2, 91: 2.1, 18: 10.0, 19: -88.0,
             20: 359.0, 23: 48.3001, 24: 15.7002, 25: 250.0, 82: 48.3002, 89: 15.6998}  # fmt: skip
    add_klv_to_ts(p, [encode_st0601(items, int((1.7e9 + x) * 1e6), 7.4) for x in t], t)
    assert looks_like_klv_ts(p)
    tr = read_track(p)
    assert tr.kind == "misb_klv_ts" and len(tr) == 12
    np.testing.assert_allclose(tr.t_s, t, atol=1e-4)  # PTS - first video PTS
    np.testing.assert_allclose(tr.extra["t_utc_s"], 1.7e9 + t, atol=1e-6)
    assert tr.lat_deg[0] == pytest.approx(48.3, abs=1e-7)  # 4-byte mapping: 4e-8 deg
    assert tr.alt_m[0] == pytest.approx(301.5, abs=0.16)  # 2-byte mapping: 0.30 m steps
    assert tr.yaw_deg[0] == pytest.approx(123.4, abs=0.003)
    assert (tr.pitch_deg[0], tr.roll_deg[0]) == pytest.approx((-3.2, 2.1), abs=1e-6)
    assert tr.gimbal_pitch_deg[0] == pytest.approx(-88.0, abs=1e-6)
    assert tr.extra["corner_lat_deg"][0, 0] == pytest.approx(48.3002, abs=1e-7)
    assert tr.extra["corner_lon_deg"][0, 3] == pytest.approx(15.6998, abs=1e-7)
    assert tr.rel_alt_m[0] == pytest.approx(301.5 - 250.0, abs=0.4)  # above the centre's ground
    assert tr.speed_mps[0] == 7.0
    cap = cv2.VideoCapture(str(p))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 12
