"""Stages ``store`` and ``report``: the defect store, then the map, report, exports and summary.

``store`` writes the run record, defects, detections and the auxiliary layers (route, coverage
by camera, analysed frame footprints, flight path) into the run's GeoPackage, or PostGIS with
``--store postgresql://...``, records where in ``RUN_DIR/store.json``, and sends the
critical-defect webhook when one is configured. ``report`` reads the store back (so review
decisions made since are included) and writes ``map.html`` (opens offline), ``report.html``
(and ``report.pdf``), the GIS exports of ``[process] exports`` and ``summary.json``.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

import numpy as np

from survey.config import Config, to_toml
from survey.process.records import StreamPoses, load_json, stream_ids
from survey.process.select import Selection

__all__ = ["aux_layers", "write_outputs", "write_store"]

log = logging.getLogger(__name__)


def aux_layers(run_dir: Path, asset: Any, cfg: Config) -> dict[str, Any]:
    """Route, coverage (and gaps), footprints and flight path as GeoDataFrames."""
    import geopandas as gpd

    from geo.coverage import coverage_by_chainage
    from geo.layers import coverage_layers, flight_path_layer, routes_layer

    stages = run_dir / "stages"
    routes = asset.routes.routes
    layers: dict[str, Any] = {"route": routes_layer(routes, cfg.process.chainage_style)}
    fps, gsd, cams, rows_meta = [], [], [], []
    track: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    for sid in stream_ids(stages / "poses"):
        sp = StreamPoses.load(stages / "poses", sid)
        if sp.kind == "video" or track is None:
            ok = sp.ok
            if ok.sum() >= 2:
                x, y = asset.frame.from_lonlat(sp.lon_deg[ok], sp.lat_deg[ok])
                if track is None or sp.kind == "video":
                    track = (x, y, sp.t_s[ok])
        p = stages / "select" / f"{sid}.npz"
        if not p.is_file():
            continue
        sel = Selection.load(stages / "select", sid)
        cam = "thermal" if sp.kind == "thermal" else "rgb"
        for k, r in enumerate(sel.index):
            fps.append(sel.footprint[k])
            gsd.append(float(sel.gsd_m[k]))
            cams.append(cam)
            rows_meta.append((sid, sp.label(int(r)), float(sp.t_s[r])))
    if fps:
        layers["footprints"] = gpd.GeoDataFrame(
            {
                "stream": [m[0] for m in rows_meta],
                "frame": [m[1] for m in rows_meta],
                "t_s": [m[2] for m in rows_meta],
                "camera": cams,
                "gsd_m": gsd,
            },
            geometry=list(fps),
            crs=asset.crs,
        )
        covs, gaps = [], []
        half = min(asset.half_width_m, 2.5 if asset.kind == "rail" else 5.0)
        surveyed = load_json(stages / "select" / "select.json")
        for r in routes:
            rng = _surveyed_range(surveyed, r)
            if rng is None:
                continue
            cov = coverage_by_chainage(
                r, np.array(fps, dtype=object), np.array(gsd), np.array(cams),
                step_m=cfg.process.station_step_m, half_width_m=half, d_range_m=rng,
            )  # fmt: skip
            c, g = coverage_layers(cov, r, cfg.process.chainage_style)
            covs.append(c)
            gaps.append(g)
        if covs:
            import pandas as pd

            layers["coverage"] = gpd.GeoDataFrame(pd.concat(covs, ignore_index=True), crs=asset.crs)
            layers["gaps"] = gpd.GeoDataFrame(pd.concat(gaps, ignore_index=True), crs=asset.crs)
    if track is not None and len(track[0]) >= 2:
        layers["flight_path"] = flight_path_layer(*track, asset.crs, run_dir.name)
    return {k: v.to_crs(4326) for k, v in layers.items()}


def _surveyed_range(summary: dict[str, Any], route: Any) -> tuple[float, float] | None:
    """Distance range along ``route`` that the flight's frames could see (from ``select``)."""
    lo, hi = np.inf, -np.inf
    for band in summary.get("bands", {}).values():
        c = band.get("coverage", {}).get(route.route_id)
        if c:
            a, b = c["surveyed_chainage_m"]
            lo, hi = min(lo, a), max(hi, b)
    if not np.isfinite(lo):
        return None
    m0 = float(route.measure_at([0.0])[0])
    return (max(0.0, lo - m0), min(route.length_m, hi - m0))


def _surveyed(run_dir: Path, asset: Any) -> tuple[float, float]:
    """Chainage origin and length of the stretch the flight surveyed (any camera), else the
    first route's whole measure: the report's statistics and coverage refer to it."""
    sel = load_json(run_dir / "stages" / "select" / "select.json")
    lo, hi = np.inf, -np.inf
    for band in sel.get("bands", {}).values():
        for c in band.get("coverage", {}).values():
            lo, hi = min(lo, c["surveyed_chainage_m"][0]), max(hi, c["surveyed_chainage_m"][1])
    if np.isfinite(lo) and hi > lo:
        return float(lo), float(hi - lo)
    r0 = asset.routes.routes[0]
    m0, m1 = r0.measure_at([0.0, r0.length_m])
    return float(m0), float(m1 - m0)


def write_store(
    run_dir: Path, fuse_dir: Path, asset: Any, cfg: Config, params: dict[str, Any]
) -> dict[str, Any]:
    """The ``store`` stage body."""
    import hashlib

    from survey.pipeline.items import MISSING, read_item
    from survey.process.records import StageDataError
    from survey.store.base import RunInfo, open_store, write_store_pointer

    path = fuse_dir / "defects.pkl"
    obj = read_item(path)  # checked: length + sha256 (a damaged file is removed and re-fused)
    if obj is MISSING:
        raise StageDataError(
            "fused defects missing or damaged; run `survey process` again to re-fuse them",
            path=path,
        )
    defects, detections = obj
    blob = path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()  # the report re-runs whenever the defects change
    run_id = params["run_id"]
    url = params.get("store") or cfg.store.url or ""
    layers = aux_layers(run_dir, asset, cfg)
    origin, length = _surveyed(run_dir, asset)
    with open_store(url or None, run_dir=run_dir, run_id=run_id, schema=cfg.store.schema) as st:
        st.write_run(
            RunInfo(
                run_id,
                asset_id=asset.asset_id,
                asset_kind=asset.kind,
                asset_length_m=length,
                chainage_origin_m=origin,
                flight=str(params["flight_dir"]),
                config_toml=to_toml(cfg),
                extra={"asset": asset.describe()},
            )
        )
        st.write_defects(defects)
        st.write_detections(detections)
        for name in ("route", "coverage", "footprints", "flight_path"):
            if name in layers:
                st.write_layer(name, layers[name])
        pointer = write_store_pointer(run_dir, st.url, run_id=run_id, schema=cfg.store.schema)
        notified = 0
        if cfg.notify.webhook_url:
            from survey.report.notify import notify_critical

            notified = notify_critical(st, cfg.notify)
        return {"store": st.url, "pointer": str(pointer), "defects": len(defects), "sha256": digest,
                "detections": len(detections), "layers": sorted(layers), "notified": notified}  # fmt: skip


def write_outputs(
    run_dir: Path, asset: Any, cfg: Config, params: dict[str, Any], progress: Any = None
) -> dict[str, Any]:
    """The ``report`` stage body: map, report, exports (paths relative to ``run_dir``)."""
    from survey.report.export import FORMATS, export_run
    from survey.report.html import write_report
    from survey.store.base import open_run_store

    pc = cfg.process
    written: dict[str, Any] = {}
    steps = (["map"] if pc.map else []) + (["report"] if pc.report else [])
    steps += (["pdf"] if pc.report and pc.pdf else []) + [f"export_{f}" for f in pc.exports]
    bar = progress or (lambda it, **kw: it)
    url = params.get("store") or cfg.store.url or None
    with open_run_store(run_dir, url, schema=cfg.store.schema) as st:
        for step in bar(steps, total=len(steps), unit="output"):
            if step == "map":
                written["map"] = str(_write_map(st, run_dir, asset, cfg).relative_to(run_dir))
            elif step == "report":
                rep = write_report(st, run_dir, run_dir / "report.html", config=cfg)
                written["report"] = str(rep.relative_to(run_dir))
            elif step == "pdf":
                from survey.report.pdf import html_to_pdf

                pdf = html_to_pdf(run_dir / "report.html", run_dir / "report.pdf")
                written["pdf"] = str(pdf.relative_to(run_dir))
            else:
                fmt = step.removeprefix("export_")
                name = f"defects{FORMATS[fmt][1]}" if fmt in ("gpkg", "kml") else fmt
                files = export_run(st, run_dir / "exports" / name, fmt)
                written[step] = [str(p.relative_to(run_dir)) for p in files]
    mosaics = _export_mosaics(run_dir)
    if mosaics:
        written["imagery"] = mosaics
    return written


def _export_mosaics(run_dir: Path) -> list[str]:
    """The imagery stage's GeoTIFF mosaics as GIS exports (hard links; copies across disks)."""
    import os
    import shutil

    from survey.process.imagery import read_imagery_index

    stage = run_dir / "stages" / "imagery"
    out = []
    for la in read_imagery_index(stage):
        src = stage / la.geotiff
        if not la.geotiff or not src.is_file():
            continue
        dst = run_dir / "exports" / f"imagery_{la.name}.tif"
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.unlink(missing_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        out.append(str(dst.relative_to(run_dir)))
    return out


def _write_map(st: Any, run_dir: Path, asset: Any, cfg: Config) -> Path:
    from geo.maps import survey_map

    defects = st.read_defects().to_frame()
    routes = st.read_layer("route")
    flight = st.read_layer("flight_path")
    fps = st.read_layer("footprints")
    gaps = None
    gl = aux_layers(run_dir, asset, cfg).get("gaps")
    if gl is not None and len(gl):
        gaps = gl
    out = run_dir / "map.html"
    from geo.maps import LocalTiles
    from survey.process.imagery import read_imagery_index

    stage = run_dir / "stages" / "imagery"
    imagery = [
        LocalTiles(
            name=f"{la.name.upper() if la.name == 'rgb' else la.name.capitalize()} imagery "
            f"(this flight, {la.gsd_m * 100:.1f} cm)",
            url=(stage / la.url).relative_to(run_dir).as_posix(), min_zoom=la.min_zoom,
            max_zoom=la.max_zoom, bounds=la.bounds, attribution=html.escape(f"survey run {st.run_id}"),
        )
        for la in read_imagery_index(stage)
    ]  # fmt: skip
    survey_map(
        out,
        defects=defects if len(defects) else None,
        routes=routes,
        flight_path=flight,
        footprints=fps,
        gaps=gaps,
        title=f"Survey {st.run_id}: {asset.name}",
        basemap=cfg.process.basemap or None,
        base_dir=run_dir,
        imagery=imagery,
    )
    return out
