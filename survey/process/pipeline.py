"""The ``survey process`` pipeline: eleven resumable stages from a flight folder to a report.

Stages (``RUN_DIR/stages/<name>/``; each skipped when its inputs, the config keys it uses and
its upstream outputs are unchanged; see :mod:`survey.pipeline`):

============  ================================================================================
discover      what the folder holds, media paired with telemetry, the asset (``flight.json``)
poses         reference log, every camera clock tied to it, the pose of every frame
select        frames chosen by coverage of the corridor; the corridor mask of each
detect        RGB model suite on the selected frames, corridor bands only
thermal       leak / hotspot detection on the selected thermal frames
imagery       the selected frames draped on the ground: offline map tiles and a GeoTIFF mosaic
georef        sightings on the ground with 95 % uncertainty ellipses
chainage      chainage, interval, offset and side of every sighting
fuse          sightings to defects, RGB + thermal joined, severity, evidence crops
store         GeoPackage (or PostGIS) with defects, detections and layers
report        map.html, report.html, GIS exports, summary.json
============  ================================================================================

Each stage depends only on the config keys it reads (given to the runner as a parameter), so
changing the report's options re-runs the report alone, and changing the detector re-runs
detection and what follows, not the pose stage.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from survey.config import Config, ProcessConfig
from survey.flight import STAGE_NAMES
from survey.pipeline import Pipeline, Stage, StageContext, StageResult
from survey.process.records import load_json, save_json

__all__ = ["PIPELINE", "process_flight", "process_job", "stage_params"]

log = logging.getLogger(__name__)

#: [process] keys each stage reads (the rest of [process] does not invalidate it)
KEYS: dict[str, tuple[str, ...]] = {
    "asset": ("asset_by", "asset_value", "chainage_start_m", "chainage_towards",
              "corridor_half_width_m"),
    "poses": ("log", "pose_source", "ground", "dem_vertical", "height", "video_camera",
              "thermal_hfov_deg"),
    "select": ("station_step_m", "edge_margin_px", "max_gsd_rgb_m", "max_gsd_thermal_m",
               "max_range_m", "min_gain_m", "roi_margin_m", "rgb_min_views",
               "thermal_min_views", "ground", "dem_vertical"),
    "detect": ("models", "score_threshold", "detect_gsd_m", "save_frames", "jpeg_quality",
               "crop_px"),
    "thermal": ("thermal_class", "thermal_corridor_m", "emissivity", "leaks", "crop_px",
                "jpeg_quality", "ground", "dem_vertical", "max_range_m"),
    "georef": ("gnss_sigma_m", "vertical_sigma_m", "yaw_sigma_deg", "tilt_sigma_deg",
               "ground_sigma_m", "pixel_sigma_px", "ground", "dem_vertical", "max_range_m"),
    "chainage": ("max_offset_m",),
    "fuse": ("gate_p", "max_merge_m", "min_sightings", "min_thermal_views", "crop_px", "jpeg_quality",
             "chainage_style", "max_offset_m"),
    "imagery": ("imagery", "imagery_max_zoom", "imagery_min_gsd_m", "ground", "dem_vertical",
                "max_range_m", "emissivity"),
    "layers": ("chainage_style", "station_step_m"),
    "report": ("exports", "map", "basemap", "report", "pdf", "chainage_style",
               "station_step_m"),
}  # fmt: skip


def _subset(pc: ProcessConfig, keys: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for k in keys:
        v = getattr(pc, k)
        out[k] = (
            dataclasses.asdict(v) if dataclasses.is_dataclass(v) and not isinstance(v, type) else v
        )
    return out


def stage_params(cfg: Config) -> dict[str, Any]:
    """The config subsets that fingerprint each stage (``cfg_<stage>`` run parameters)."""
    return {f"cfg_{k}": _subset(cfg.process, v) for k, v in KEYS.items()}


def _asset(ctx: StageContext) -> Any:
    from survey.process.asset import load_asset

    return load_asset(ctx.params["asset"], ctx.config.process, ctx.params.get("asset_kind"))


def _flight_inputs(params: dict[str, Any]) -> list[str]:
    return [params["flight_dir"], params["asset"]]


def _model_inputs(params: dict[str, Any]) -> list[str]:
    return list(params.get("model_files", []))


# ---------------------------------------------------------------------------------------------
# stage bodies


def st_discover(ctx: StageContext) -> None:
    from survey.flight import discover_flight

    flight = discover_flight(ctx.params["flight_dir"])
    flight.check_locatable()
    asset = _asset(ctx)
    save_json(
        ctx.out / "flight.json",
        {
            "root": str(flight.root),
            "media": [
                {"path": str(m.path.relative_to(flight.root)), "kind": m.kind,
                 "size_bytes": m.size_bytes, "camera": m.camera,
                 "srt": str(m.sidecar.relative_to(flight.root)) if m.sidecar else None}
                for m in flight.media
            ],
            "logs": [{"path": str(lf.path.relative_to(flight.root)), "kind": lf.kind}
                     for lf in flight.logs],
            "streams": [{"stream": s.stream_id, "kind": s.kind, "files": s.n_files,
                         "camera": s.camera, "poses": s.pose_source, "clock": s.sync}
                        for s in flight.streams()],
            "ignored": [[str(p.relative_to(flight.root)), why] for p, why in flight.ignored],
            "warnings": list(flight.warnings),
            "asset": asset.describe(),
        },
    )  # fmt: skip


def st_poses(ctx: StageContext) -> None:
    from survey.flight import discover_flight
    from survey.process.poses import compute_poses

    compute_poses(discover_flight(ctx.params["flight_dir"]), ctx.config, ctx.out, ctx.progress)


def st_select(ctx: StageContext) -> None:
    from survey.process.select import select_frames

    select_frames(ctx.input("poses"), _asset(ctx), ctx.config, ctx.out, ctx.progress)


def st_detect(ctx: StageContext) -> None:
    from survey.process.detect import detect_rgb

    detect_rgb(ctx.run_dir, ctx.input("poses"), ctx.input("select"), ctx.config, ctx)


def st_thermal(ctx: StageContext) -> None:
    from survey.process.thermal_stage import detect_thermal

    detect_thermal(ctx.input("poses"), ctx.input("select"), ctx.config, ctx, _asset(ctx))


def st_imagery(ctx: StageContext) -> None:
    from survey.process.imagery import build_imagery

    build_imagery(
        Path(ctx.params["flight_dir"]), ctx.input("poses"), ctx.input("select"), _asset(ctx),
        ctx.config, ctx.out, ctx.progress,
    )  # fmt: skip


def st_georef(ctx: StageContext) -> None:
    from survey.process.locate import georeference

    recs = load_json(ctx.input("detect") / "detections.json")
    recs += load_json(ctx.input("thermal") / "anomalies.json")
    s = georeference(ctx.input("poses"), recs, _asset(ctx), ctx.config, ctx.progress)
    s.save(ctx.out / "sightings.pkl")
    reasons: dict[str, int] = {}
    for r in s.reason[~s.located]:
        reasons[str(r)] = reasons.get(str(r), 0) + 1
    save_json(ctx.out / "georef.json", {"sightings": len(s), "located": int(s.located.sum()),
                                         "unlocated": reasons})  # fmt: skip


def st_chainage(ctx: StageContext) -> None:
    import numpy as np

    from survey.process.locate import Sightings, reference_to_asset

    s = reference_to_asset(
        Sightings.load(ctx.input("georef") / "sightings.pkl"), _asset(ctx), ctx.config
    )
    s.save(ctx.out / "sightings.pkl")
    on = np.isfinite(s.chainage_m)
    save_json(ctx.out / "chainage.json", {"on_asset": int(on.sum()),
                                           "off_asset": int((s.located & ~on).sum())})  # fmt: skip


def st_fuse(ctx: StageContext) -> None:
    from survey.process.fuse import fuse_sightings
    from survey.process.locate import Sightings

    s = Sightings.load(ctx.input("chainage") / "sightings.pkl")
    defects, detections, summary = fuse_sightings(
        s, _asset(ctx), ctx.config, ctx.run_dir, ctx.out, ctx.params["run_id"], ctx.progress
    )
    from survey.pipeline.items import write_item

    write_item(ctx.out / "defects.pkl", (defects, detections))  # atomic, checksummed
    save_json(ctx.out / "fuse.json", summary)


def st_store(ctx: StageContext) -> None:
    from survey.process.outputs import write_store

    info = write_store(ctx.run_dir, ctx.input("fuse"), _asset(ctx), ctx.config, ctx.params)
    save_json(ctx.out / "store.json", info)


def st_report(ctx: StageContext) -> None:
    from survey.process.outputs import write_outputs
    from survey.process.summary import build_summary

    written = write_outputs(ctx.run_dir, _asset(ctx), ctx.config, ctx.params, ctx.progress)
    save_json(ctx.out / "outputs.json", written)
    save_json(ctx.run_dir / "summary.json", build_summary(ctx.run_dir, written, ctx.params))


_F = ("flight_dir",)
PIPELINE = Pipeline(
    [
        Stage("discover", st_discover, params=(*_F, "asset", "asset_kind", "cfg_asset"),
              inputs=_flight_inputs, version="1"),
        Stage("poses", st_poses, after=("discover",), config=("telemetry",),
              params=(*_F, "cfg_poses"), version="1"),
        Stage("select", st_select, after=("discover", "poses"),
              params=("asset", "asset_kind", "cfg_asset", "cfg_select"), version="1"),
        Stage("detect", st_detect, after=("poses", "select"), config=("predict",),
              params=(*_F, "cfg_detect", "model_files", "asset_kind_resolved"),
              inputs=_model_inputs, version="1"),
        Stage("thermal", st_thermal, after=("poses", "select"),
              params=(*_F, "asset", "asset_kind", "cfg_asset", "cfg_thermal"), version="2"),
        Stage("imagery", st_imagery, after=("poses", "select"),
              params=(*_F, "asset", "asset_kind", "cfg_asset", "cfg_imagery"), version="1"),
        Stage("georef", st_georef, after=("poses", "detect", "thermal"),
              params=("asset", "asset_kind", "cfg_asset", "cfg_georef"), version="1"),
        Stage("chainage", st_chainage, after=("georef",),
              params=("asset", "asset_kind", "cfg_asset", "cfg_chainage"), version="1"),
        Stage("fuse", st_fuse, after=("poses", "select", "detect", "thermal", "chainage"),
              config=("severity",),
              params=("asset", "asset_kind", "cfg_asset", "cfg_fuse", "run_id"), version="1"),
        Stage("store", st_store, after=("fuse",), config=("store", "notify"),
              params=(*_F, "asset", "asset_kind", "run_id", "store", "cfg_layers"),
              version="1"),
        Stage("report", st_report, after=("store", "imagery"), config=("report",),
              params=("asset", "asset_kind", "store", "cfg_report"), version="1"),
    ]
)  # fmt: skip
if tuple(PIPELINE.names) != STAGE_NAMES:  # pragma: no cover - kept equal by hand
    raise RuntimeError("survey.flight.STAGE_NAMES differs from the pipeline's stages")


def model_files(cfg: Config, asset_kind: str) -> list[str]:
    """Files of the RGB models (their fingerprints invalidate ``detect``); [] when unresolved."""
    from models.errors import ModelError
    from models.semseg.suite import resolve_model
    from survey.process.rgb_models import model_specs

    out = []
    for spec in model_specs(cfg, asset_kind):
        if spec.lower() == "none":
            continue
        try:
            p = resolve_model(spec)
        except ModelError:
            continue  # reported by the detect stage, with the reason
        if p.is_dir():
            out += sorted(str(q) for q in p.glob("*.pth")) + [str(p / "config.yaml")]
        else:
            out.append(str(p))
    return out


def check_config(cfg: Config) -> None:
    """Refuse ``[process]`` values that would only fail late in a run."""
    from survey.config import ConfigError
    from survey.report.export import FORMATS

    pc = cfg.process
    bad = [f for f in pc.exports if f not in FORMATS]
    if bad:
        raise ConfigError(
            f"unknown export formats {bad}; known: {', '.join(sorted(FORMATS))}",
            where="process.exports",
        )
    for key in ("rgb_min_views", "thermal_min_views", "queue_frames", "crop_px"):
        if getattr(pc, key) < 1:
            raise ConfigError(f"must be at least 1, got {getattr(pc, key)}", where=f"process.{key}")
    for key in ("station_step_m", "max_gsd_rgb_m", "max_gsd_thermal_m", "max_range_m"):
        if not getattr(pc, key) > 0:
            raise ConfigError(f"must be positive, got {getattr(pc, key)}", where=f"process.{key}")
    if not 0.5 <= pc.gate_p < 1.0:
        raise ConfigError(f"must be in [0.5, 1), got {pc.gate_p}", where="process.gate_p")
    if pc.ground != "flat" and not Path(pc.ground).is_file():
        raise ConfigError(
            "names no DEM file (or use 'flat')", path=pc.ground, where="process.ground"
        )


def process_flight(
    flight_dir: str | Path,
    run_dir: str | Path,
    *,
    asset: str | Path | None = None,
    asset_kind: str | None = None,
    config: Config | None = None,
    store: str = "",
    run_id: str | None = None,
    rerun_from: str | None = None,
    until: str | None = None,
    progress: bool | None = None,
    force: bool = False,
) -> list[StageResult]:
    """Run (or resume) the pipeline of one flight into ``run_dir``.

    ``asset`` defaults to the flight folder's ``asset.geojson`` (or ``asset.gpkg`` ...).
    ``force`` lets ``run_dir`` be a non-empty folder that is not a run (see
    :func:`survey.pipeline.rundir.claim_run_dir`).
    """
    from survey.flight import FlightError, discover_flight

    cfg = config or Config()
    check_config(cfg)
    fd = Path(flight_dir).absolute()
    if asset is None:
        found = discover_flight(fd).asset
        if found is None:
            raise FlightError(
                "no asset geometry: pass --asset (a line file of the railway or pipeline), or "
                "put asset.geojson in the flight folder",
                path=fd,
            )
        asset = found
    rd = Path(run_dir).absolute()
    from survey.process.asset import load_asset

    kind = load_asset(asset, cfg.process, asset_kind).kind
    params: dict[str, Any] = {
        "flight_dir": str(fd),
        "asset": str(Path(asset).absolute()),
        "asset_kind": asset_kind,
        "run_id": run_id or rd.name,
        "store": store,
        "asset_kind_resolved": kind,
        "model_files": model_files(cfg, kind),
        **stage_params(cfg),
    }
    return PIPELINE.run(
        rd,
        config=cfg,
        params=params,
        rerun_from=rerun_from,
        until=until,
        progress=progress,
        force=force,
    )


def process_job(job: Any, config_toml: str) -> dict[str, Any]:
    """One flight of a batch (:func:`survey.pipeline.run_jobs` calls this in a worker)."""
    from survey.config import load_config_text

    cfg = load_config_text(config_toml, source="job")
    p = job.params
    res = process_flight(
        job.flight_dir, job.run_dir, asset=p.get("asset"), asset_kind=p.get("asset_kind"),
        config=cfg, store=p.get("store", ""), run_id=p.get("run_id"),
        rerun_from=p.get("rerun_from"), progress=False, force=bool(p.get("force", False)),
    )  # fmt: skip
    summary = load_json(Path(job.run_dir) / "summary.json")
    return {"stages": {r.name: r.status for r in res}, "summary": summary}
