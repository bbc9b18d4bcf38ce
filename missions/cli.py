"""Commands that ``missions`` adds to ``survey`` through the ``survey.commands`` entry points."""

from __future__ import annotations

import time

import click

__all__ = ["demo"]


@click.command()
def demo() -> None:
    """Run the built-in demonstration and say what it did."""
    t0 = time.perf_counter()
    click.echo("survey demo: checking the installed stack (the simulator and pipeline come next)")
    from models.check import build_check_model

    summary = build_check_model()
    click.echo(f"  detectron2: {summary}")
    click.echo(f"done in {time.perf_counter() - t0:.1f} s")
