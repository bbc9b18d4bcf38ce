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
