"""``survey review RUN_DIR``: the local review web app (see :mod:`survey.review.app`)."""

from __future__ import annotations

from pathlib import Path

import click

from survey.cli import get_config

__all__ = ["review"]


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", help="Address to bind (default [review] host, 127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="TCP port (default [review] port; 0 = any free port).",
)
@click.option("--store", "store_url", help="Store URL (default: the run's own, see store.json).")
@click.option(
    "--reviewer", help="Default reviewer name (default [review] reviewer, else the login name)."
)
def review(
    run_dir: Path, host: str | None, port: int | None, store_url: str | None, reviewer: str | None
) -> None:
    """Review a run's defects in the browser: map, filters, evidence, decisions.

    Decisions are saved in the run's store at once, with who and when.
    """
    from werkzeug.serving import make_server

    from survey.review.app import LOOPBACK, create_app
    from survey.store.base import open_run_store

    cfg = get_config()
    host = host or cfg.review.host
    port = cfg.review.port if port is None else port
    extra = () if host in LOOPBACK else (host,)
    if extra:
        click.echo(
            f"Warning: binding {host}: anyone who can reach it can record decisions.", err=True
        )
    with open_run_store(
        run_dir, store_url or cfg.store.url or None, schema=cfg.store.schema
    ) as store:
        app = create_app(
            store, run_dir, reviewer=reviewer or cfg.review.reviewer, allowed_hosts=extra
        )
        try:
            server = make_server(host, port, app, threaded=True)
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        shown = f"[{host}]" if ":" in host else host
        click.echo(
            f"Reviewing run {store.run_id} ({store.url}) at http://{shown}:{server.port}/  (Ctrl-C stops)"
        )
        try:
            server.serve_forever()  # werkzeug's returns on Ctrl-C
        except KeyboardInterrupt:
            pass  # stopping is what Ctrl-C asks for; nothing is lost (decisions are saved at once)
        finally:
            server.server_close()
        click.echo("stopped")
