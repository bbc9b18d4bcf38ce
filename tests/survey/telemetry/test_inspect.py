"""``survey inspect`` on every file in ../shared/data/telemetry, and the [telemetry] config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from survey.cli import cli
from survey.config import load_config_text
from survey.inspect import UnknownFileKindError, describe
from survey.telemetry.errors import UnknownTelemetryError
from survey.telemetry.read import read_track

EXPECTED_KIND = {
    "erle_Loiter_RTL.bin": "ardupilot_dataflash",
    "test.BIN": "ardupilot_dataflash",
    "vtol.tlog": "mavlink_tlog",
    "P4P_2018-07-04_flightrecord.csv": "dji_flight_record_csv",
    "agung2_image_metadata.csv": "exiftool_csv",
    "agung2_issue_image_metadata.csv": "exiftool_csv",
    "agung2_aoi.geojson": "geojson",
    "GPS.jpg": "geotagged photo",
    "Geotag.gpx": "gpx",
    "Geotag.kml": "kml",
    "Geotag.log": "nmea",
    "Geotag_DJI_2020-12-02_07-50-31.csv": "csv",
    "Cheyenne.bin": "misb_klv",
    "sample_log_small.ulg": "px4_ulog",
    "sample_appended_multiple.ulg": "px4_ulog",
}


def test_every_data_file_is_described(tele: Path) -> None:
    files = sorted(p for p in tele.rglob("*") if p.is_file() and p.name != "SOURCES.md")
    assert len(files) == 27
    runner = CliRunner()
    r = runner.invoke(cli, ["inspect", "--json", *map(str, files)])
    out = [json.loads(line) for line in r.stdout.strip().splitlines()]
    assert len(out) == len(files)
    # every path is shown; the unreadable ones make the exit status 1 (issue #15)
    unreadable = sum(s.get("readable") is False for s in out)
    assert unreadable >= 2 and r.exit_code == 1, r.output
    assert f"{unreadable} of {len(files)} path(s) unreadable" in r.stderr
    for path, summary in zip(files, out, strict=True):
        want = EXPECTED_KIND.get(path.name, "dji_srt" if path.parent.name == "dji_srt" else None)
        assert summary["kind"] == want, path
        assert isinstance(summary["warnings"], list)
    by = {Path(s["path"]).name: s for s in out}
    assert by["MAVIC3.srt"]["samples"] == 12318 and by["MAVIC3.srt"]["video_fps"] == 50.0
    assert by["MAVIC3.srt"]["bbox"] == [-3.37937, 3.4109, -3.37242, 3.41601]
    assert (
        by["broken_empty2.SRT"]["readable"] is False
        and "line 1" in by["broken_empty2.SRT"]["error"]
    )
    assert by["mavic_air.SRT"]["usable_for_geolocation"] is False
    assert "local position only" in by["sample_appended_multiple.ulg"]["error"]
    assert by["vtol.tlog"]["flagged_samples"] == {"time_backwards": 3}
    assert by["Cheyenne.bin"]["gimbal_deg"]["mode"] == "relative"
    assert by["erle_Loiter_RTL.bin"]["position_rate_hz"] == pytest.approx(5.0, abs=0.3)


def test_human_readable_output(tele: Path) -> None:
    r = CliRunner().invoke(cli, ["inspect", str(tele / "dji_srt" / "p4_rtk.SRT")])
    assert r.exit_code == 0
    assert "p4_rtk.SRT: dji_srt\n  samples: 55\n" in r.output
    assert "gimbal_deg: mode=absolute" in r.output


def test_not_telemetry(tmp_path: Path) -> None:
    p = tmp_path / "notes.md"
    p.write_text("# hello\n")
    with pytest.raises(UnknownFileKindError):
        describe(p)
    with pytest.raises(UnknownTelemetryError, match=r"notes\.md: not a flight log survey reads"):
        read_track(p)


def test_config_section() -> None:
    cfg = load_config_text("[telemetry]\nmax_gap_s = 0.5\nmax_speed_mps = 25\n", source="t.toml")
    assert cfg.telemetry.max_gap_s == 0.5 and cfg.telemetry.max_speed_mps == 25.0
    assert cfg.telemetry.min_fix_type == 2
