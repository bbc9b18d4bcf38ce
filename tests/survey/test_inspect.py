from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from survey import inspect as insp
from survey.cli import cli
from survey.errors import SurveyError


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file or folder") as ei:
        insp.describe(tmp_path / "nope.srt")
    assert isinstance(ei.value, SurveyError) and ei.value.path == str(tmp_path / "nope.srt")


def test_unknown_kind_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    with pytest.raises(insp.UnknownFileKindError, match="not a file kind survey knows"):
        insp.describe(p)


def test_first_recognising_describer_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "x.bin"
    p.write_bytes(b"\0")
    monkeypatch.setattr(
        insp,
        "DESCRIBERS",
        ["survey.no_such_kind_module:fn", f"{__name__}:_never", f"{__name__}:_always"],
    )
    r = CliRunner().invoke(cli, ["inspect", "--json", str(p)])
    assert r.exit_code == 0, r.output
    assert '"kind": "test kind"' in r.output and '"warnings": ["w1"]' in r.output
    r = CliRunner().invoke(cli, ["inspect", str(p)])
    assert f"{p}: test kind\n  n: 3\n  warning: w1" in r.output


def _never(path: Path) -> None:
    return None


def _always(path: Path) -> dict[str, object]:
    return {"kind": "test kind", "n": 3, "warnings": ["w1"]}
