"""Click options shared by the commands that run pipelines (``survey process``).

``@pipeline_options`` adds ``--rerun-from STAGE``, ``--until STAGE``, ``--scheduler URL``,
``--workers N``, ``--store URL`` and ``--no-progress``; :func:`apply_pipeline_options` folds the
ones that are config settings into the resolved config, so the saved ``config.toml`` of a run
says how it was run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import click

from survey.config import Config

__all__ = ["apply_pipeline_options", "pipeline_options"]

F = TypeVar("F", bound=Callable[..., Any])


def pipeline_options(fn: F) -> F:
    """Decorate a click command with the pipeline options (see the module docstring)."""
    opts = [
        click.option(
            "--rerun-from", metavar="STAGE", help="Run this stage and every later one again."
        ),
        click.option("--until", metavar="STAGE", help="Stop after this stage."),
        click.option(
            "--scheduler",
            metavar="URL",
            help="Dask scheduler (tcp://host:8786) for many flights; default: local processes.",
        ),
        click.option(
            "--workers",
            type=click.IntRange(0),
            help="Flights at once in the local pool (0 = CPU cores).",
        ),
        click.option(
            "--store",
            "store_url",
            metavar="URL",
            help="postgresql://user@host/db for PostGIS; default RUN_DIR/defects.gpkg.",
        ),
        click.option("--progress/--no-progress", default=None, help="Progress bars per stage."),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


def apply_pipeline_options(
    cfg: Config,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    store_url: str | None = None,
    progress: bool | None = None,
    **_: Any,
) -> Config:
    """``cfg`` with the command-line values of the pipeline options written into it.

    >>> c = apply_pipeline_options(Config(), scheduler="tcp://h:8786", workers=3)
    >>> c.pipeline.scheduler, c.pipeline.workers, c.store.url
    ('tcp://h:8786', 3, '')
    """
    pipe = cfg.pipeline
    pipe = dataclasses.replace(
        pipe,
        scheduler=pipe.scheduler if scheduler is None else scheduler,
        workers=pipe.workers if workers is None else workers,
        progress=pipe.progress if progress is None else progress,
    )
    store = cfg.store if store_url is None else dataclasses.replace(cfg.store, url=store_url)
    return dataclasses.replace(cfg, pipeline=pipe, store=store)
