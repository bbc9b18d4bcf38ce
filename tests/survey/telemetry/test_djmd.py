"""DJI ``djmd`` frame metadata: the wire reader against Google's protobuf encoder, the MP4
reader against what was written, damaged samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from survey.telemetry.djmd import DjmdError, decode_djmd_sample, write_djmd_mp4
from survey.telemetry.errors import TelemetryFormatError
from survey.telemetry.read import read_track, sniff_kind

pb = pytest.importorskip("google.protobuf")


def _schema(drone_at: int, gimbal_at: int) -> dict[str, type]:
    """Message classes built by protobuf from dvtm_library.proto's field numbers (a subset of
    each message), with the product's drone / gimbal positions in FrameMeta."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name=f"dvtm_test_{drone_at}{gimbal_at}.proto", package=f"t{drone_at}{gimbal_at}",
        syntax="proto3",
    )  # fmt: skip
    pkg = fdp.package

    def msg(name: str, *fields: tuple[str, int, int, str]) -> None:
        m = fdp.message_type.add(name=name)
        for fname, num, typ, tname in fields:
            f = m.field.add(name=fname, number=num, type=typ, label=F.LABEL_OPTIONAL)
            if tname:
                f.type_name = f".{pkg}.{tname}"

    M = F.TYPE_MESSAGE
    msg("PositionCoord", ("unit", 1, F.TYPE_INT32, ""), ("latitude", 2, F.TYPE_DOUBLE, ""),
        ("longitude", 3, F.TYPE_DOUBLE, ""))  # fmt: skip
    msg("GpsTime", ("time", 1, F.TYPE_STRING, ""))
    msg("GpsBasic", ("gps_coordinates", 1, M, "PositionCoord"),
        ("gps_altitude_mm", 2, F.TYPE_INT32, ""), ("gps_status", 3, F.TYPE_INT32, ""),
        ("gps_altitude_type", 4, F.TYPE_INT32, ""), ("has_gps_time", 5, F.TYPE_BOOL, ""),
        ("gps_time", 6, M, "GpsTime"))  # fmt: skip
    msg("EulerAngle", ("pitch_decidegree", 1, F.TYPE_INT32, ""),
        ("roll_decidegree", 2, F.TYPE_INT32, ""), ("yaw_decidegree", 3, F.TYPE_INT32, ""))  # fmt: skip
    msg("Velocity", ("velocity_x", 1, F.TYPE_FLOAT, ""), ("velocity_y", 2, F.TYPE_FLOAT, ""),
        ("velocity_z", 3, F.TYPE_FLOAT, ""))  # fmt: skip
    msg("RelativeAltitude", ("relative_altitude_mm", 1, F.TYPE_FLOAT, ""),
        ("is_relative_altitude_valid", 2, F.TYPE_BOOL, ""))  # fmt: skip
    msg("MetaHeaderOfDevice", ("device_id", 1, F.TYPE_UINT32, ""),
        ("device_name", 4, F.TYPE_STRING, ""), ("device_timestamp", 6, F.TYPE_UINT64, ""))  # fmt: skip
    msg("FrameMetaHeader", ("frame_seq_num", 1, F.TYPE_UINT64, ""),
        ("frame_timestamp", 2, F.TYPE_UINT64, ""))  # fmt: skip
    msg("FrameMetaOfDrone", ("drone_dev_header", 1, M, "MetaHeaderOfDevice"),
        ("velocity", 2, M, "Velocity"), ("attitude", 3, M, "EulerAngle"),
        ("gps", 4, M, "GpsBasic"), ("relative_altitude", 5, M, "RelativeAltitude"))  # fmt: skip
    msg("FrameMetaOfGimbal", ("gimbal_dev_header", 1, M, "MetaHeaderOfDevice"),
        ("gimbal_attitude", 3, M, "EulerAngle"))  # fmt: skip
    fm = [("frame_meta_header", 1, M, "FrameMetaHeader"),
          ("drone_frame_meta", drone_at, M, "FrameMetaOfDrone")]  # fmt: skip
    if gimbal_at:
        fm.append(("gimbal_frame_meta", gimbal_at, M, "FrameMetaOfGimbal"))
    msg("FrameMeta", ("camera_frame_meta", 2, M, "MetaHeaderOfDevice"), *fm)
    msg("ClipMetaHeader", ("proto_file_name", 1, F.TYPE_STRING, ""),
        ("product_sn", 5, F.TYPE_STRING, ""), ("product_name", 10, F.TYPE_STRING, ""))  # fmt: skip
    msg("ClipMeta", ("clip_meta_header", 1, M, "ClipMetaHeader"))
    msg("ProductMeta", ("clip_meta", 1, M, "ClipMeta"), ("frame_meta", 3, M, "FrameMeta"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {
        m.name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{pkg}.{m.name}"))
        for m in fdp.message_type
    }


def _encode(S: dict[str, type], proto: str, gimbal: bool = True) -> bytes:
    m = S["ProductMeta"]()
    h = m.clip_meta.clip_meta_header
    h.proto_file_name, h.product_name, h.product_sn = proto, "DJI Test", "1ABC"
    f = m.frame_meta
    f.frame_meta_header.frame_seq_num = 17
    f.frame_meta_header.frame_timestamp = 123_456_789
    d = f.drone_frame_meta
    d.drone_dev_header.device_name = "drone"
    d.velocity.velocity_x, d.velocity.velocity_y, d.velocity.velocity_z = 3.0, -4.0, 0.25
    d.attitude.pitch_decidegree, d.attitude.roll_decidegree = -123, 45
    d.attitude.yaw_decidegree = -1795  # negative int32: a 10-byte varint
    g = d.gps
    g.gps_coordinates.unit = 1
    g.gps_coordinates.latitude, g.gps_coordinates.longitude = 47.397742123, -122.30123456
    g.gps_altitude_mm, g.gps_altitude_type, g.gps_status = -12_345, 1, 2
    g.gps_time.time = "2024-05-06 07-08-09"
    d.relative_altitude.relative_altitude_mm = 81_500.0
    if gimbal:
        f.gimbal_frame_meta.gimbal_attitude.pitch_decidegree = -900
        f.gimbal_frame_meta.gimbal_attitude.yaw_decidegree = 1234
    return m.SerializeToString()


@pytest.mark.parametrize(
    ("proto", "drone_at", "gimbal_at"),
    [
        ("dvtm_wm265e.proto", 3, 4),
        ("dvtm_Mini4_Pro.proto", 3, 4),
        ("dvtm_eagle4_wa530.proto", 4, 0),
    ],
)
def test_wire_reader_against_google_protobuf(proto: str, drone_at: int, gimbal_at: int) -> None:
    S = _schema(drone_at, gimbal_at)
    fr = decode_djmd_sample(_encode(S, proto, gimbal=bool(gimbal_at)))
    assert (fr.proto, fr.product, fr.seq, fr.boot_us) == (proto, "DJI Test", 17, 123_456_789)
    assert fr.lat_deg == 47.397742123 and fr.lon_deg == -122.30123456  # doubles, bit-exact
    assert fr.alt_m == pytest.approx(-12.345) and (fr.alt_type, fr.gps_status) == (1, 2)
    assert (fr.pitch_deg, fr.roll_deg, fr.yaw_deg) == (-12.3, 4.5, -179.5)
    assert fr.vel_ned == (3.0, -4.0, 0.25)
    assert fr.rel_alt_m == pytest.approx(81.5)
    assert fr.gps_time == "2024-05-06 07-08-09"
    if gimbal_at:
        assert (fr.gimbal_pitch_deg, fr.gimbal_roll_deg, fr.gimbal_yaw_deg) == (-90.0, 0.0, 123.4)
    else:
        assert np.isnan(fr.gimbal_pitch_deg)


@pytest.mark.parametrize(
    ("proto", "stored", "expect"),
    [("dvtm_Mini4_Pro.proto", 0.8278, np.degrees(0.8278)),  # unit field absent = radians
     ("dvtm_Mavic4.proto", 47.43, 47.43)],  # Mavic 4 Pro: degrees whatever the unit says
)  # fmt: skip
def test_coordinate_units(proto: str, stored: float, expect: float) -> None:
    S = _schema(3, 4)
    m = S["ProductMeta"]()
    m.clip_meta.clip_meta_header.proto_file_name = proto
    c = m.frame_meta.drone_frame_meta.gps.gps_coordinates
    c.latitude, c.longitude = stored, stored / 2  # unit left at 0 (not written)
    fr = decode_djmd_sample(m.SerializeToString())
    assert fr.lat_deg == pytest.approx(expect, abs=1e-12)
    assert fr.lon_deg == pytest.approx(expect / 2, abs=1e-12)


def _flight(n: int = 40, fps: float = 10.0) -> dict[str, Any]:
    rng = np.random.default_rng(4)
    return dict(
        lat_deg=51.5 + 1e-5 * np.arange(n),
        lon_deg=-0.12 + 2e-5 * np.arange(n),
        alt_m=80.0 + rng.normal(0, 0.3, n),
        rel_alt_m=40.0 + rng.normal(0, 0.3, n),
        vel_ned_mps=np.column_stack([np.full(n, 1.1), np.full(n, 1.5), rng.normal(0, 0.1, n)]),
        roll_deg=rng.normal(0, 2, n),
        pitch_deg=rng.normal(-4, 2, n),
        yaw_deg=np.linspace(350.0, 370.0, n) % 360,  # crosses north
        gimbal_pitch_deg=np.full(n, -88.0),
        gimbal_roll_deg=np.zeros(n),
        gimbal_yaw_deg=np.linspace(350.0, 370.0, n) % 360,
    )


def test_djmd_mp4_values_and_clock(tmp_path: Path) -> None:
    v = _flight()
    n = v["lat_deg"].size
    t = np.arange(n) / 10.0
    p = write_djmd_mp4(tmp_path / "DJI_0001.MP4", t, **v, utc0_s=1_714_979_289.62, fps=10.0)
    assert sniff_kind(p) == "dji_meta"
    tr = read_track(p)
    assert tr.kind == "dji_meta" and tr.time_base == "video" and tr.gimbal_mode == "absolute"
    np.testing.assert_allclose(tr.t_s, t, atol=1e-9)  # the track's own sample times
    np.testing.assert_array_equal(tr.lat_deg, v["lat_deg"])
    np.testing.assert_array_equal(tr.lon_deg, v["lon_deg"])
    np.testing.assert_allclose(tr.alt_m, v["alt_m"], atol=5e-4)  # stored in mm
    np.testing.assert_allclose(tr.rel_alt_m, v["rel_alt_m"], atol=1e-3)  # float mm
    for k in ("roll_deg", "pitch_deg"):  # deci-degrees
        np.testing.assert_allclose(getattr(tr, k), v[k], atol=0.05 + 1e-9)
    dyaw = (tr.yaw_deg - v["yaw_deg"] + 180) % 360 - 180
    assert np.abs(dyaw).max() <= 0.05 + 1e-9
    np.testing.assert_allclose(tr.gimbal_pitch_deg, -88.0)
    dg = (tr.gimbal_yaw_deg - v["gimbal_yaw_deg"] + 180) % 360 - 180
    assert np.abs(dg).max() <= 0.05 + 1e-9
    np.testing.assert_allclose(tr.speed_mps, np.hypot(1.1, 1.5), atol=1e-6)
    np.testing.assert_allclose(tr.extra["t_boot_s"], 100.0 + t, atol=1e-6)
    # UTC from whole-second GPS time strings, fitted to the frame clock: 4 s of 10 Hz frames
    # pin the fraction to one frame interval
    np.testing.assert_allclose(tr.extra["t_utc_s"], 1_714_979_289.62 + t, atol=0.1)
    assert tr.alt_ref == "msl" and any("barometric" in w for w in tr.warnings)
    assert tr.meta["schema"] == "dvtm_wm265e.proto"


def _damage(p: Path, sample: int) -> None:
    """Make the first length-delimited field of ``sample`` claim more bytes than it holds."""
    from survey.telemetry.container import read_mp4_tracks

    trk = next(t for t in read_mp4_tracks(p) if t.codec == "djmd")
    data = bytearray(p.read_bytes())
    off = int(trk.offset[sample])
    assert data[off] in (0x0A, 0x1A)  # field 1 or 3, wire type 2
    data[off + 1 : off + 3] = b"\xff\x7f"  # length 16383: past this sample's end
    p.write_bytes(bytes(data))


def test_damaged_djmd_names_file_sample_and_byte(tmp_path: Path) -> None:
    v = _flight()
    t = np.arange(v["lat_deg"].size) / 10.0
    p = write_djmd_mp4(tmp_path / "first.MP4", t, **v, utc0_s=1.7e9, fps=10.0)
    _damage(p, 0)
    with pytest.raises(DjmdError) as ei:
        read_track(p)
    e = ei.value
    assert (
        str(e.path) == str(p) and "djmd sample 0" in str(e.where) and "past its message" in str(e)
    )
    assert "first.MP4" in str(e)
    # a damaged sample later on: what came before is kept, with a warning naming the place
    q = write_djmd_mp4(tmp_path / "third.MP4", t, **v, utc0_s=1.7e9, fps=10.0)
    _damage(q, 3)
    tr = read_track(q)
    assert len(tr) == 3
    np.testing.assert_array_equal(tr.lat_deg, v["lat_deg"][:3])
    assert any("djmd sample 3" in w and "third.MP4" in w for w in tr.warnings)


def test_djmd_without_positions(tmp_path: Path) -> None:
    v = _flight(8)
    v["lat_deg"] = np.zeros(8)  # no fix: DJI writes 0, 0
    v["lon_deg"] = np.zeros(8)
    t = np.arange(8) / 10.0
    p = write_djmd_mp4(tmp_path / "nofix.MP4", t, **v, utc0_s=1.7e9, fps=10.0)
    with pytest.raises(TelemetryFormatError, match="holds no GPS position") as ei:
        read_track(p)
    assert str(ei.value.path) == str(p)


def test_a_drone_message_off_the_layout_is_noted_not_fatal() -> None:
    """Another product's message where the layout expects the drone one: its values stay
    unknown and the sample says why; the gimbal message beside it is still read."""
    S = _schema(3, 4)
    m = S["ProductMeta"]()
    m.clip_meta.clip_meta_header.proto_file_name = "dvtm_wm265e.proto"
    m.frame_meta.frame_meta_header.frame_seq_num = 5
    m.frame_meta.gimbal_frame_meta.gimbal_attitude.pitch_decidegree = -450
    good = m.SerializeToString()
    # frame_meta (field 3) gets a field 3 whose bytes use wire type 7
    frame = next(v for n, _, v, _ in _fields_of(good) if n == 3)
    body = good[frame[0] : frame[1]] + b"\x1a\x02\x0f\x00"
    msg = good[: frame[0] - 2] + b"\x1a" + bytes([len(body)]) + body
    fr = decode_djmd_sample(msg)
    assert fr.seq == 5 and np.isnan(fr.lat_deg) and fr.gimbal_pitch_deg == -45.0
    assert fr.unknown and "not the drone message" in fr.unknown[0]
    assert "wire type 7" in fr.unknown[0]


def _fields_of(buf: bytes) -> list[tuple[int, int, object, int]]:
    from survey.telemetry.djmd import _fields

    return list(_fields(buf, 0, len(buf)))
