"""One damaged file in a batch or flight: reported and skipped, the rest processed (issue #15)."""

from __future__ import annotations

import struct
from pathlib import Path

from click.testing import CliRunner


def test_survey_thermal_goes_on_after_a_damaged_file(shared_data: Path, tmp_path: Path) -> None:
    from survey.cli_thermal import thermal

    good = shared_data / "thermal" / "flir_rjpeg" / "IR_2412.jpg"
    hot_air = tmp_path / "IR_2412_hot_air.jpg"
    b = bytearray(good.read_bytes())
    b[5898:5902] = struct.pack("<f", 1.0e4)  # the air temperature (see tests/thermal)
    hot_air.write_bytes(b)
    out = tmp_path / "out"
    r = CliRunner().invoke(thermal, [str(hot_air), str(good), "--out", str(out), "--no-detect"])
    assert r.exit_code == 1, r.output
    assert isinstance(r.exception, SystemExit)
    assert f"error: {hot_air}" in r.output and "1 of 2 file(s) failed" in r.output
    assert (out / "IR_2412.tif").is_file() and not (out / "IR_2412_hot_air.tif").exists()


def test_inspect_exits_1_on_an_unreadable_file_and_shows_the_others(
    shared_data: Path, tmp_path: Path
) -> None:
    from survey.cli_inspect import inspect

    good = shared_data / "telemetry" / "dji_srt" / "p4_rtk.SRT"
    bad = tmp_path / "cut.ulg"
    bad.write_bytes(
        (shared_data / "telemetry" / "px4" / "sample_log_small.ulg").read_bytes()[:3000]
    )
    junk = tmp_path / "junk.xyz"
    junk.write_bytes(b"\x00" * 100)
    r = CliRunner().invoke(inspect, [str(bad), str(junk), str(good)])
    assert r.exit_code == 1, r.output
    assert f"{good}: dji_srt" in r.output and f"{bad}: px4_ulog" in r.output
    assert "2 of 3 path(s) unreadable" in r.output
    r = CliRunner().invoke(inspect, [str(good)])
    assert r.exit_code == 0, r.output


def test_summary_lists_skipped_inputs_and_exit_status() -> None:
    from survey.process.summary import EXIT_SKIPPED, skipped_inputs

    poses = {
        "warnings": ["log skipped: a.ulg: damaged", "s1: clock not tied"],
        "streams": {"v1": {"kind": "video", "error": "cannot open"}, "t1": {"kind": "thermal"}},
    }
    got = skipped_inputs(poses, {"t1:3": "unreadable thermal frame: x.jpg"})
    assert got == [
        "log skipped: a.ulg: damaged",
        "stream v1 not analysed: cannot open",
        "frame t1:3: unreadable thermal frame: x.jpg",
    ]
    assert skipped_inputs({}, {}) == [] and EXIT_SKIPPED == 3
