"""``survey process FLIGHT_DIR... --asset GEOMETRY --out RUN_DIR``: flights to located defects."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from survey.cli import get_config

__all__ = ["process"]


@click.command()
@click.argument(
    "flight_dirs", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path)
)
@click.option(
    "--asset",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Line file of the railway or pipeline (GeoJSON, GPKG, SHP, ...); default: the flight "
    "folder's asset.geojson.",
)
@click.option(
    "--asset-kind",
    type=click.Choice(["rail", "pipeline"]),
    help="Asset kind when the file does not say (railway=*, man_made=pipeline, kind).",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Run folder (one flight), or the parent of one run folder per flight (several).",
)
@click.option(
    "--store",
    "store_url",
    default="",
    help="postgresql://user@host/db to write defects to PostGIS (password from PGPASSWORD or "
    "~/.pgpass); default a GeoPackage in the run folder.",
)
@click.option("--run-id", help="Run id in the store (default: the run folder's name).")
@click.option(
    "--rerun-from",
    type=click.Choice(
        [
            "discover",
            "poses",
            "select",
            "detect",
            "thermal",
            "georef",
            "chainage",
            "fuse",
            "store",
            "report",
        ]
    ),  # fmt: skip
    help="Run this stage and every later one again even if nothing changed.",
)
@click.option("--until", help="Stop after this stage.")
@click.option(
    "--scheduler",
    default=None,
    help="Dask scheduler tcp://host:8786 for several flights (default: a local process pool).",
)
@click.option("--workers", type=int, default=None, help="Flights at once on the local pool.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.option(
    "--force",
    is_flag=True,
    help="Write the run into a non-empty folder that is not a run folder (its other files stay).",
)
def process(
    flight_dirs: tuple[Path, ...],
    asset: Path | None,
    asset_kind: str | None,
    out: Path,
    store_url: str,
    run_id: str | None,
    rerun_from: str | None,
    until: str | None,
    scheduler: str | None,
    workers: int | None,
    as_json: bool,
    force: bool,
) -> None:
    """Process flight folders into located defects: map, GeoPackage, report, exports.

    Stages (each skipped when unchanged, resumable): discover, poses, select, detect, thermal,
    georef, chainage, fuse, store, report. With several FLIGHT_DIRS, each flight runs into
    OUT/<folder name> on a process pool (or a Dask cluster with --scheduler).

    OUT must be new, empty or a run folder (--force for any other folder); it is locked while
    the stages run, so a second process on the same OUT is refused with the holder named.
    """
    from survey.process.pipeline import process_flight
    from survey.process.summary import format_summary

    cfg = get_config()
    _check_store(store_url)
    if len(flight_dirs) > 1 or scheduler:
        _many(flight_dirs, asset, asset_kind, out, store_url, rerun_from, scheduler, workers,
              as_json, cfg, force)  # fmt: skip
        return
    fd = flight_dirs[0]
    results = process_flight(
        fd, out, asset=asset, asset_kind=asset_kind, config=cfg, store=store_url,
        run_id=run_id, rerun_from=rerun_from, until=until, force=force,
    )  # fmt: skip
    summary_path = out / "summary.json"
    if until and until != "report":
        done = ", ".join(f"{r.name} ({r.status})" for r in results)
        click.echo(f"stopped after {until}: {done}")
        return
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    summary["stages"] = {r.name: r.status for r in results}
    if as_json:
        click.echo(json.dumps(summary, indent=1, default=str))
    else:
        click.echo(format_summary(summary, out))
        ran = [r.name for r in results if r.status == "ran"]
        skipped = [r.name for r in results if r.status == "skipped"]
        click.echo(
            f"stages run: {', '.join(ran) or 'none'}; unchanged: {', '.join(skipped) or 'none'}"
        )
    if summary.get("skipped_inputs"):
        from survey.process.summary import EXIT_SKIPPED

        sys.exit(EXIT_SKIPPED)  # finished, but an unreadable input was reported and skipped


def _check_store(url: str) -> None:
    if not url:
        return
    from urllib.parse import urlsplit

    if not url.startswith(("postgresql://", "postgres://")):
        raise click.BadParameter("expected postgresql://user@host/db", param_hint="--store")
    if urlsplit(url).password:
        raise click.BadParameter(
            "put the password in PGPASSWORD or ~/.pgpass, not in the URL (it would be saved "
            "in the run's records)",
            param_hint="--store",
        )


def _many(
    flight_dirs: tuple[Path, ...], asset: Path | None, asset_kind: str | None, out: Path,
    store_url: str, rerun_from: str | None, scheduler: str | None, workers: int | None,
    as_json: bool, cfg: object, force: bool = False,
) -> None:  # fmt: skip
    from survey.pipeline import FlightJob, run_jobs
    from survey.process.pipeline import process_job

    names = [f.resolve().name for f in flight_dirs]
    if len(set(names)) != len(names):
        raise click.BadParameter("flight folders must have distinct names (they name the runs)")
    jobs = [
        FlightJob(
            str(f.resolve()),
            str((out / n).resolve()),
            {
                "asset": str(asset.resolve()) if asset else None,
                "asset_kind": asset_kind,
                "store": store_url,
                "run_id": n,
                "rerun_from": rerun_from,
                "force": force,
            },
        )  # fmt: skip
        for f, n in zip(flight_dirs, names, strict=True)
    ]
    results = run_jobs(process_job, jobs, config=cfg, scheduler=scheduler, workers=workers)
    rows = []
    for r in results:
        row = {"flight": r.job.flight_dir, "run": r.job.run_dir, "ok": r.ok,
               "seconds": round(r.seconds, 1), "worker": r.worker}  # fmt: skip
        if r.ok:
            s = r.value["summary"]
            row.update(defects=s["defects"], by_severity=s["defects_by_severity"])
        else:
            row["error"] = r.error
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=1, default=str))
    else:
        for row in rows:
            state = f"{row['defects']} defects" if row["ok"] else f"FAILED: {row['error']}"
            click.echo(f"{row['flight']} -> {row['run']}: {state} ({row['seconds']} s)")
    if not all(r.ok for r in results):
        raise click.ClickException(
            f"{sum(not r.ok for r in results)} of {len(results)} flights failed"
        )
