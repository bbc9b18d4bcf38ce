"""Damaged flight logs (generated from real ones into tmp_path): no hang, only project errors.

The corrupt ULog below is built so that pyulog's ``_read_file_definitions`` loops for ever: an
unknown message whose size runs past the end of the file makes pyulog seek back to an earlier
message boundary and read the same bytes again (the hang of issue #15).
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from survey.telemetry.errors import TelemetryError, TelemetryFormatError


def looping_ulog(src: bytes) -> bytes:
    """``src`` cut after its definitions, plus one message that makes pyulog loop."""
    pos, bounds = 16, []
    while True:
        size, typ = struct.unpack_from("<HB", src, pos)
        if chr(typ) in "AL":  # first subscription / logged string: end of the definitions
            break
        bounds.append(pos)
        pos += 3 + size
    size = pos + 11 - bounds[5]  # seeking back -2-size after a short read lands on bounds[5]
    return src[:pos] + struct.pack("<HB", size, ord("Z")) + b"\0" * 10


@pytest.fixture
def hang_ulog(tele: Path, tmp_path: Path) -> Path:
    p = tmp_path / "flight" / "corrupt.ulg"
    p.parent.mkdir()
    p.write_bytes(looping_ulog((tele / "px4" / "sample_log_small.ulg").read_bytes()))
    return p


def test_corrupt_ulog_really_hangs_pyulog_without_the_budget(hang_ulog: Path) -> None:
    """The reference: in this process (no budget) pyulog does not return within 3 s."""
    env = dict(os.environ, SURVEY_PARSER_INPROCESS="1", PYTHONPATH=os.getcwd())
    code = f"from survey.telemetry.read import read_track; read_track({str(hang_ulog)!r})"
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", code], env=env, timeout=3, capture_output=True)


def test_corrupt_ulog_is_a_format_error_naming_the_file(
    hang_ulog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from survey.telemetry.read import read_track

    monkeypatch.setenv("SURVEY_PARSER_BUDGET_S", "1.5")
    with pytest.raises(TelemetryFormatError) as e:
        read_track(hang_ulog)
    assert e.value.path == str(hang_ulog)
    assert "budget" in str(e.value) and "px4_ulog" in str(e.value)


def test_inspect_reports_the_corrupt_ulog_unreadable(
    hang_ulog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from survey.inspect import describe

    monkeypatch.setenv("SURVEY_PARSER_BUDGET_S", "1.5")
    d = describe(hang_ulog)
    assert d["kind"] == "px4_ulog" and d["readable"] is False
    assert "budget" in d["error"]


def test_budgeted_ulog_equals_the_in_process_read(tele: Path, read, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The child process hands back exactly the track the parser gives in this process."""
    from survey.telemetry.read import read_track

    p = tele / "px4" / "sample_log_small.ulg"
    monkeypatch.delenv("SURVEY_PARSER_INPROCESS", raising=False)
    got = read_track(p)
    ref = read(p)
    assert len(got) == len(ref) > 100
    np.testing.assert_array_equal(got.lat_deg, ref.lat_deg)
    np.testing.assert_array_equal(got.t_s, ref.t_s)


def test_budget_scales_with_size_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from survey.telemetry.budget import budget_s

    monkeypatch.setenv("SURVEY_PARSER_BUDGET_S", "3")
    assert budget_s(0) == 3.0
    assert budget_s(10 << 20) == pytest.approx(3.0 + 10 * 0.2)
    monkeypatch.setenv("SURVEY_PARSER_BUDGET_S", "nonsense")
    assert budget_s(0) == 30.0


def test_folder_given_as_a_log_is_a_project_error(tmp_path: Path) -> None:
    from survey.telemetry.read import read_kind

    for kind in ("px4_ulog", "mavlink_tlog", "dji_srt", "csv"):
        with pytest.raises(TelemetryError, match="folder"):
            read_kind(tmp_path, kind)


@pytest.fixture
def flight_csv(tele: Path) -> bytes:
    return (tele / "dji_flightlog_csv" / "P4P_2018-07-04_flightrecord.csv").read_bytes()


def test_csv_with_a_lone_cr_is_read(flight_csv: bytes, tmp_path: Path, read, tele) -> None:  # type: ignore[no-untyped-def]
    from survey.telemetry.read import read_track

    ref = read(tele / "dji_flightlog_csv" / "P4P_2018-07-04_flightrecord.csv")
    mid = flight_csv.index(b"\n", len(flight_csv) // 2) + 20  # inside a row
    p = tmp_path / "cr.csv"
    p.write_bytes(flight_csv[:mid] + b"\r" + flight_csv[mid:])
    tr = read_track(p)
    # the CR splits one row in two: at most two samples differ from the undamaged log
    assert abs(len(tr) - len(ref)) <= 1
    assert np.isfinite(tr.lat_deg).sum() >= np.isfinite(ref.lat_deg).sum() - 2


def test_csv_with_a_huge_field_is_a_format_error(flight_csv: bytes, tmp_path: Path) -> None:
    from survey.telemetry.read import read_track

    lines = flight_csv.split(b"\n")
    lines[50] = lines[50].replace(b",", b"," + b"7" * (140 << 10), 1)
    p = tmp_path / "huge.csv"
    p.write_bytes(b"\n".join(lines))
    with pytest.raises(TelemetryFormatError, match="field larger than field limit") as e:
        read_track(p)
    assert e.value.path == str(p) and (e.value.where or "").startswith("line ")


def test_srt_with_a_21_digit_frame_count(tele: Path, tmp_path: Path, read) -> None:  # type: ignore[no-untyped-def]
    """Was an OverflowError (int64) in srt.py; now the damaged count is ignored for that block."""
    from survey.telemetry.read import read_track

    src = tele / "dji_srt" / "MAVIC3.srt"
    text = src.read_text()
    assert "FrameCnt: 1," in text
    p = tmp_path / "frames.srt"
    p.write_text(text.replace("FrameCnt: 1,", "FrameCnt: 123456789012345678901,", 1))
    tr, ref = read_track(p), read(src)
    assert len(tr) == len(ref)
    np.testing.assert_array_equal(tr.extra["frame"], ref.extra["frame"])  # block index 1
    np.testing.assert_array_equal(tr.lat_deg, ref.lat_deg)


def test_klv_local_set_with_a_tag_cut_off() -> None:
    """Was an IndexError (klv.py): a BER-OID tag whose continuation bytes run to the end."""
    from survey.telemetry.klv import decode_local_set

    d = decode_local_set(bytes.fromhex("0D045595B66D8181"))
    assert round(d["lat"], 8) == 60.17682297


@pytest.mark.parametrize("kind", ["px4_ulog", "misb_klv", "gpx", "nmea", "ardupilot_dataflash"])
def test_parser_failures_become_format_errors(kind: str, tmp_path: Path) -> None:
    """Whatever the parser raises on garbage, the caller sees a TelemetryError naming the file."""
    from survey.telemetry.read import read_kind

    p = tmp_path / "garbage.bin"
    p.write_bytes(bytes(range(256)) * 3)
    with pytest.raises(TelemetryError) as e:
        read_kind(p, kind)
    assert e.value.path == str(p)


def test_budget_child_does_not_outlive_a_killed_parent(hang_ulog: Path) -> None:
    """Killing `survey process` while pyulog loops must not leave the loop running."""
    import time

    env = dict(os.environ, SURVEY_PARSER_BUDGET_S="120", PYTHONPATH=os.getcwd())
    env.pop("SURVEY_PARSER_INPROCESS", None)
    code = f"from survey.telemetry.read import read_track; read_track({str(hang_ulog)!r})"
    parent = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        child = None
        for _ in range(100):  # the child appears once imports are done
            time.sleep(0.1)
            kids = Path(f"/proc/{parent.pid}/task/{parent.pid}/children")
            ids = kids.read_text().split() if kids.exists() else []
            if ids:
                child = int(ids[0])
                break
        assert child is not None, "no parser child started"
    finally:
        parent.kill()
        parent.wait()
    for _ in range(40):
        if not Path(f"/proc/{child}").exists() or "Z" in _state(child):
            break
        time.sleep(0.1)
    assert not Path(f"/proc/{child}").exists() or "Z" in _state(child)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "gone"
