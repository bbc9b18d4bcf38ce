from __future__ import annotations

import logging
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from survey import cli as cli_mod


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "survey", *args], capture_output=True, text=True)


def test_help_lists_commands_without_heavy_imports() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from survey.cli import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\n"
        "print(r.output)\n"
        "heavy = [m for m in ('torch', 'detectron2', 'geopandas', 'rasterio', 'dronekit', 'folium')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout, out.stdout
    for name in ("config", "demo"):
        assert f"  {name}" in out.stdout


def test_version_and_module_entry() -> None:
    r = _run("--version")
    assert r.returncode == 0 and r.stdout.startswith("survey, version ")


def test_unknown_command_fails_clearly() -> None:
    r = _run("no-such-command")
    assert r.returncode == 2 and "No such command" in r.stderr


def test_config_show_uses_given_file(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("[general]\nseed = 123\n")
    r = CliRunner().invoke(cli_mod.cli, ["-c", str(p), "config", "show"])
    assert r.exit_code == 0, r.output
    assert "seed = 123" in r.output


def test_bad_config_file_is_one_clear_line(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("[general]\nseed = 'x'\n")
    r = _run("-c", str(p), "config", "show")
    assert r.returncode == 1
    assert r.stderr.strip() == f"Error: {p}, general.seed: expected int, got str 'x'"


def test_verbose_and_log_file(tmp_path: Path) -> None:
    log_file = tmp_path / "run.log"

    @cli_mod.cli.command("_logtest")
    def _logtest() -> None:
        logging.getLogger("survey.test").info("hello from the test")

    try:
        r = CliRunner().invoke(cli_mod.cli, ["-v", "--log-file", str(log_file), "_logtest"])
        assert r.exit_code == 0, r.output
        assert logging.getLogger().level == logging.INFO
        assert "hello from the test" in log_file.read_text()
    finally:
        cli_mod.cli.commands.pop("_logtest")
        for h in logging.getLogger().handlers[:]:
            h.close()
            logging.getLogger().removeHandler(h)


def test_command_with_missing_dependency_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = [EntryPoint("broken", "no_such_module_xyz:cmd", cli_mod.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(cli_mod, "entry_points", lambda group: eps)
    r = CliRunner().invoke(cli_mod.cli, ["broken"])
    assert r.exit_code == 1
    assert "`survey broken` is unavailable: importing no_such_module_xyz:cmd failed" in r.output


def test_entry_point_that_is_not_a_command(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = [EntryPoint("odd", "os.path:join", cli_mod.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(cli_mod, "entry_points", lambda group: eps)
    r = CliRunner().invoke(cli_mod.cli, ["odd"])
    assert r.exit_code == 1 and "expected a click command" in r.output
    assert isinstance(r.exception, click.ClickException | SystemExit)
