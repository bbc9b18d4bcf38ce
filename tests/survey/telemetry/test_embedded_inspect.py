"""`survey inspect VIDEO` on each embedded-telemetry kind prints the track like any log;
a damaged track is reported like any damaged log (``readable: False`` and the error, naming
the file and the place)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from survey.cli import cli
from survey.telemetry.djmd import write_djmd_mp4
from survey.telemetry.gpmf import write_gpmf_mp4
from survey.telemetry.mpegts import encode_st0601, write_klv_ts

N = 30
T = np.arange(N) / 10.0
LAT = 52.0 + 1e-5 * np.arange(N)
LON = 4.5 + 1.5e-5 * np.arange(N)
YAW = np.linspace(80.0, 100.0, N)


def _gpmf(p: Path) -> Path:
    return write_gpmf_mp4(
        p, T, lat_deg=LAT, lon_deg=LON, alt_msl_m=np.full(N, 60.0), rel_alt_m=np.full(N, 30.0),
        vel_ned_mps=np.tile([0.0, 1.5, 0.0], (N, 1)), roll_deg=np.full(N, 1.0),
        pitch_deg=np.full(N, -3.0), yaw_deg=YAW, utc0_s=1.7e9,
    )  # fmt: skip


def _djmd(p: Path) -> Path:
    return write_djmd_mp4(
        p, T, lat_deg=LAT, lon_deg=LON, alt_m=np.full(N, 60.0), rel_alt_m=np.full(N, 30.0),
        vel_ned_mps=np.tile([0.0, 1.5, 0.0], (N, 1)), roll_deg=np.full(N, 1.0),
        pitch_deg=np.full(N, -3.0), yaw_deg=YAW, gimbal_pitch_deg=np.full(N, -90.0),
        gimbal_roll_deg=np.zeros(N), gimbal_yaw_deg=YAW, utc0_s=1.7e9, fps=10.0,
    )  # fmt: skip


def _klv(p: Path) -> Path:
    pk = [
        encode_st0601(
            {
                13: LAT[k],
                14: LON[k],
                15: 60.0,
                5: YAW[k],
                90: -3.0,
                91: 1.0,
                18: 0.0,
                19: -87.0,
                20: 0.0,
                23: LAT[k],
                24: LON[k],
                25: 30.0,
            },
            int((1.7e9 + T[k]) * 1e6),
            1.5,
        )  # fmt: skip
        for k in range(N)
    ]
    return write_klv_ts(p, pk, T.tolist(), video_pts_s=T.tolist())


@pytest.mark.parametrize(
    ("make", "name", "kind", "gimbal"),
    [(_gpmf, "GOPR0001.MP4", "gopro_gpmf", "mode=absolute"),
     (_djmd, "DJI_0001.MP4", "dji_meta", "mode=absolute"),
     (_klv, "flight.ts", "misb_klv_ts", "mode=relative")],
)  # fmt: skip
def test_inspect_prints_the_embedded_track(
    tmp_path: Path, make: object, name: str, kind: str, gimbal: str
) -> None:
    p = make(tmp_path / name)  # type: ignore[operator]
    r = CliRunner().invoke(cli, ["inspect", str(p)])
    assert r.exit_code == 0, r.output
    out = r.output
    assert out.startswith(f"{p}: {kind}\n"), out
    assert "  time_base: video\n" in out
    assert f"  positions: {N}\n" in out
    assert "  first_lon_lat: 4.5, 52.0\n" in out, out  # the bbox's order, named in the key
    assert "  last_lon_lat: 4.500435, 52.00029\n" in out, out
    assert "  attitude_deg: yaw=[80.0, 100.0], pitch=[-3.0, -3.0], roll=[1.0, 1.0]" in out, out
    assert f"  gimbal_deg: {gimbal}" in out
    r = CliRunner().invoke(cli, ["inspect", "--json", str(p)])
    assert r.exit_code == 0 and f'"kind": "{kind}"' in r.output


def _cut_moov(p: Path) -> str:
    data = p.read_bytes()
    cut = data.rindex(b"moov") - 4
    p.write_bytes(data[:cut])  # recording stopped before the index
    return f"byte {cut}: no 'moov' box"


def _bad_djmd_sample(p: Path) -> str:
    from survey.telemetry.container import read_mp4_tracks

    trk = next(t for t in read_mp4_tracks(p) if t.codec == "djmd")
    data = bytearray(p.read_bytes())
    off = int(trk.offset[0])
    data[off + 1 : off + 3] = b"\xff\x7f"
    p.write_bytes(bytes(data))
    return f"djmd sample 0 (file byte {off})"


def _lost_sync(p: Path) -> str:
    data = bytearray(p.read_bytes())
    data[188 * 5] = 0x00
    p.write_bytes(bytes(data))
    return f"byte {188 * 5} (packet 5)"


@pytest.mark.parametrize(
    ("make", "name", "damage"),
    [(_gpmf, "GOPR0001.MP4", _cut_moov), (_djmd, "DJI_0001.MP4", _cut_moov),
     (_djmd, "DJI_0002.MP4", _bad_djmd_sample), (_klv, "flight.ts", _lost_sync)],
)  # fmt: skip
def test_inspect_damaged_track_names_file_and_place(
    tmp_path: Path, make: object, name: str, damage: object
) -> None:
    p = make(tmp_path / name)  # type: ignore[operator]
    where = damage(p)  # type: ignore[operator]
    r = CliRunner().invoke(cli, ["inspect", str(p)])
    assert r.exit_code == 1, r.output  # an unreadable input fails the command (docs/robustness.md)
    assert "1 of 1 path(s) unreadable" in r.output, r.output
    assert r.output.startswith(f"{p}: "), r.output  # still recognised by its bytes
    assert "  readable: False\n" in r.output
    assert f"  error: {p}, {where}" in r.output, r.output
