"""``survey inspect PATH...``: what each file or flight folder is, without processing it."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from survey.inspect import describe

__all__ = ["inspect"]


def _format(summary: dict[str, Any]) -> str:
    lines = [f"{summary['path']}: {summary['kind']}"]
    for key, value in summary.items():
        if key in ("path", "kind", "warnings"):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            value = ", ".join(map(str, value))
        lines.append(f"  {key}: {value}")
    lines += [f"  warning: {w}" for w in summary["warnings"]]
    return "\n".join(lines)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="One JSON object per path (JSON lines).")
def inspect(paths: tuple[str, ...], as_json: bool) -> None:
    """Say what each file or flight folder is: kind, duration, samples, span, fields, warnings.

    Exit status 1 when any path is unreadable or of no known kind (the others are still shown).
    """
    from survey.errors import SurveyError

    bad = 0
    for p in paths:
        try:
            summary = describe(p)
        except SurveyError as exc:
            bad += 1
            if as_json:
                click.echo(json.dumps({"path": p, "readable": False, "error": str(exc)}))
            else:
                click.echo(f"error: {exc}", err=True)
            continue
        if summary.get("readable") is False:
            bad += 1
        click.echo(json.dumps(summary, default=str) if as_json else _format(summary))
    if bad:
        click.echo(f"{bad} of {len(paths)} path(s) unreadable", err=True)
        sys.exit(1)
