"""``survey config``: show the resolved configuration or the documented example file."""

from __future__ import annotations

import click

from survey.cli import get_config
from survey.config import Config, to_toml

__all__ = ["config"]


@click.group()
def config() -> None:
    """Show the configuration (defaults, or a file given with `survey -c FILE`)."""


@config.command("show")
def show() -> None:
    """Print the resolved configuration as TOML."""
    click.echo(to_toml(get_config()), nl=False)


@config.command("example")
def example() -> None:
    """Print the documented example file: every key, its default and what it does."""
    click.echo(to_toml(Config()), nl=False)
