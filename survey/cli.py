"""The ``survey`` command: one click group whose subcommands come from an entry-point group.

Subcommands are registered in the ``survey.commands`` entry-point group (``pyproject.toml``),
by this package and by others (``missions`` adds ``plan``, ``fly``, ``simulate``, ``demo``), so
``survey`` never imports ``missions``. A subcommand's module is imported only when that
command runs or when ``--help`` lists it; command modules import heavy libraries (torch,
detectron2, geopandas) inside their functions so that ``survey --help`` stays fast.
"""

from __future__ import annotations

import logging
import sys
from importlib.metadata import entry_points, version
from typing import Any

import click

from geo.errors import GeoError
from models.errors import ModelError
from survey.config import Config, load_config
from survey.errors import SurveyError
from thermal.errors import ThermalError

__all__ = ["ENTRY_POINT_GROUP", "cli", "get_config", "main"]

ENTRY_POINT_GROUP = "survey.commands"
log = logging.getLogger(__name__)


class _EntryPointGroup(click.Group):
    """A click group that lists and loads its subcommands from entry points, lazily."""

    def _entry_points(self) -> dict[str, Any]:
        return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._entry_points()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            return cmd
        ep = self._entry_points().get(cmd_name)
        if ep is None:
            return None
        try:
            loaded = ep.load()
        except ImportError as exc:
            # A command whose optional dependencies are missing must not break the others.
            return _unavailable(cmd_name, ep.value, exc)
        if not isinstance(loaded, click.Command):
            raise click.ClickException(
                f"entry point {cmd_name!r} ({ep.value}) in group {ENTRY_POINT_GROUP!r} "
                f"is a {type(loaded).__name__}, expected a click command"
            )
        return loaded


def _unavailable(name: str, target: str, exc: ImportError) -> click.Command:
    msg = f"`survey {name}` is unavailable: importing {target} failed ({exc})."

    @click.command(name=name, help=msg, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def _cmd(args: tuple[str, ...]) -> None:
        raise click.ClickException(msg + " Install the project with `make demo` or `make test`.")

    return _cmd


def _setup_logging(verbose: int, log_file: str | None) -> None:
    """Configure logging once, for the whole process (libraries never do)."""
    level = logging.WARNING - 10 * min(verbose, 2)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        try:
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError as exc:
            raise click.BadParameter(
                f"cannot write the log file {log_file}: {exc.strerror}", param_hint="--log-file"
            ) from exc
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )


@click.group(cls=_EntryPointGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version("railpipe-survey"), prog_name="survey")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("--log-file", type=click.Path(dir_okay=False), help="Also write the log here.")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="SURVEY_CONFIG",
    help="TOML config file (see `survey config example`); env SURVEY_CONFIG.",
)
@click.pass_context
def cli(ctx: click.Context, verbose: int, log_file: str | None, config_path: str | None) -> None:
    """Drone surveys of rail tracks and pipelines: from flight files to located defects."""
    _setup_logging(verbose, log_file)
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


def get_config(ctx: click.Context | None = None) -> Config:
    """The resolved config of this invocation (loaded once, on first use)."""
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    root.ensure_object(dict)
    if "config" not in root.obj:
        root.obj["config"] = load_config(root.obj.get("config_path"))
    cfg: Config = root.obj["config"]
    return cfg


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point; turns project errors into one clear line and exit code 1."""
    try:
        cli.main(args=argv, prog_name="survey", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (SurveyError, GeoError, ThermalError, ModelError) as exc:
        log.debug("error", exc_info=True)
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
