"""``survey export`` (GIS layers, COCO for retraining) and ``survey report`` (HTML/PDF)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from survey.cli import get_config

__all__ = ["export", "report"]

GIS_FORMATS = ("gpkg", "geojson", "shp", "kml", "csv", "fgb")
DECISION_CHOICES = ("unreviewed", "confirmed", "rejected", "needs_revisit")


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice([*GIS_FORMATS, "coco"]),
    default="gpkg",
    show_default=True,
    help="GIS format, or coco: reviewed detections as a training set.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    help="Output file (gpkg, kml) or folder; default RUN_DIR/exports/<format>.",
)
@click.option("--store", "store_url", help="Store URL (default: the run's own, see store.json).")
@click.option(
    "--decision",
    multiple=True,
    type=click.Choice(DECISION_CHOICES),
    help="Only defects with this review decision (repeatable).",
)
@click.option(
    "--min-severity",
    type=click.IntRange(1, 5),
    default=1,
    show_default=True,
    help="Only defects of at least this (final) severity.",
)
@click.option("--crs", help="Reproject to this CRS (e.g. EPSG:31256); not for GeoJSON/KML.")
@click.option(
    "--rejected",
    type=click.Choice(["false_positive", "background"]),
    default="false_positive",
    show_default=True,
    help="coco: rejected sightings as a false_positive class or as background.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def export(
    run_dir: Path,
    fmt: str,
    out: Path | None,
    store_url: str | None,
    decision: tuple[str, ...],
    min_severity: int,
    crs: str | None,
    rejected: str,
    as_json: bool,
) -> None:
    """Export a run's defects (with review decisions) to GIS formats or COCO."""
    from survey.store.base import open_run_store

    cfg = get_config()
    with open_run_store(
        run_dir, store_url or cfg.store.url or None, schema=cfg.store.schema
    ) as store:
        if fmt == "coco":
            from survey.report.coco import export_coco, inspector_instances

            defects = store.read_defects()
            info_run = store.read_run()
            res = export_coco(
                defects,
                store.read_detections(),
                run_dir,
                out or run_dir / "exports" / "coco",
                rejected=rejected,
                run_id=store.run_id,
                extra=inspector_instances(
                    defects, run_dir, info_run.config_toml if info_run else ""
                ),
            )
            info = {
                "annotations": str(res.annotations_path),
                "images": res.images,
                "instances": res.annotations,
                "skipped_frames": res.skipped_frames,
                "categories": list(res.categories),
            }
            if as_json:
                click.echo(json.dumps(info, indent=1))
            else:
                click.echo(
                    f"{res.annotations_path}: {res.images} images, {res.annotations} instances of "
                    f"{', '.join(res.categories) or 'no class'}; {res.skipped_frames} frames with "
                    "undecided sightings left out"
                )
            return
        from survey.report.export import FORMATS, export_run

        target = out or run_dir / "exports" / (
            f"defects{FORMATS[fmt][1]}" if fmt in ("gpkg", "kml") else fmt
        )
        files = export_run(
            store, target, fmt, decisions=decision, min_severity=min_severity, crs=crs
        )
    if as_json:
        click.echo(json.dumps({"format": fmt, "files": [str(p) for p in files]}, indent=1))
    else:
        for p in files:
            click.echo(str(p))


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML file; default RUN_DIR/report.html.",
)
@click.option(
    "--pdf",
    "pdf",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also print it to this PDF (needs Chromium).",
)
@click.option("--store", "store_url", help="Store URL (default: the run's own).")
@click.option(
    "--notify/--no-notify", default=False, help="Also send the critical-defect webhook ([notify])."
)
def report(
    run_dir: Path, out: Path | None, pdf: Path | None, store_url: str | None, notify: bool
) -> None:
    """Write the run's HTML report (statistics per km, severities, coverage, evidence)."""
    from survey.report.html import write_report
    from survey.store.base import open_run_store

    cfg = get_config()
    with open_run_store(
        run_dir, store_url or cfg.store.url or None, schema=cfg.store.schema
    ) as store:
        path = write_report(store, run_dir, out or run_dir / "report.html", config=cfg)
        click.echo(str(path))
        if pdf is not None:
            from survey.report.pdf import html_to_pdf

            click.echo(str(html_to_pdf(path, pdf)))
        if notify:
            from survey.report.notify import notify_critical

            sent = notify_critical(store, cfg.notify)
            click.echo(f"notified {sent} critical defect(s)")
