"""``survey demo``: simulate two short surveys, process them, and say where everything is.

1. A **rail** survey over the bundled OpenStreetMap railway (Tullnerfelder Bahn near
   St. Pölten): RGB video with its SRT, RGB stills, radiometric thermal frames, a MAVLink tlog
   and an onboard CSV log, realistic GNSS/clock errors (with a GNSS outage), and rail defects
   (missing fasteners, sleeper defects, ballast fouling, vegetation, standing water,
   obstructions ...).
2. A **thermal leak** survey at night along a buried district-heating pipe laid on the shared
   Adria-Wien pipeline route when ``../shared/data`` is present, else along the same bundled
   line: radiometric thermal frames only, warm leaks and their look-alikes.

Both flight folders are then processed by ``survey process`` (all eleven stages): located
defects in a GeoPackage, an offline map, an HTML report and GeoJSON exports per run. The RGB
detector is the shipped rail-defect model when installed (``models/weights``); without it the
rail run still locates and reports the thermal findings and says how to get the model.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

__all__ = ["DEMO_PIPELINE", "DEMO_RAIL", "run_demo"]


def _flights() -> tuple[Any, Any]:
    from missions.sim.config import SimConfig

    rail = SimConfig(
        asset="rail",
        start_m=600.0,
        length_m=100.0,
        seed=7,
        video="1280x720@10",
        stills_every_m=25.0,
        still_size="2000x1500",
        thermal_every_s=1.0,
        defect_density=2.0,
        coco_every=10,
    )
    pipe = SimConfig(
        asset="pipeline",
        start_m=1500.0,
        length_m=150.0,
        seed=11,
        altitude_agl_m=50.0,
        video="",
        stills_every_m=0.0,
        thermal_every_s=1.0,
        defect_density=3.0,
        texture_res_m=0.04,
    )
    return rail, pipe


DEMO_RAIL, DEMO_PIPELINE = _flights()


def _pipeline_geometry() -> str:
    from missions.errors import SimInputNotFoundError
    from missions.sim.asset import RAIL_DEMO_GEOMETRY, default_geometry

    try:
        return str(default_geometry("pipeline"))
    except SimInputNotFoundError:
        return str(RAIL_DEMO_GEOMETRY)


RAIL_RGB = {"sleeper_defect", "ballast_defect", "vegetation", "drainage", "obstruction"}


def _rail_model() -> tuple[list[str], str]:
    """The RGB model for the demo: the first shipped instance model that knows rail defects."""
    from models.errors import ModelError
    from models.semseg.suite import resolve_model
    from survey.process.rgb_models import shipped_model_classes

    tried = []
    for name in ("rail", "maskrcnn"):
        try:
            classes = shipped_model_classes(name)
        except ModelError as exc:
            tried.append(f"{name}: {exc.message}")
            continue
        if classes & RAIL_RGB:
            return [name], (
                f"RGB detector: shipped model {name!r} ({resolve_model(name).name}; classes "
                f"{', '.join(sorted(classes))})"
            )
        tried.append(f"{name}: no rail classes ({', '.join(sorted(classes)) or 'none'})")
    return ["none"], (
        "RGB detection is off: no shipped model knows rail defects ("
        + "; ".join(tried)
        + "). Train one with `python bench/e2e_train_detector.py --dest "
        "models/weights/rail_sim_maskrcnn.pth` (about an hour on 2 cores)."
    )


def run_demo(out: str | Path, *, echo: Any = print) -> dict[str, Any]:
    """Simulate and process the two demo flights under ``out``; returns what was written."""
    from missions.sim.simulate import simulate_flight
    from survey.config import Config
    from survey.process.pipeline import process_flight
    from survey.process.summary import format_summary

    base = Path(out)
    t0 = time.perf_counter()
    models, note = _rail_model()
    cfg = Config()
    cfg = dataclasses.replace(
        cfg, process=dataclasses.replace(cfg.process, models=models, exports=["geojson"])
    )
    rail, pipe = DEMO_RAIL, dataclasses.replace(DEMO_PIPELINE, geometry=_pipeline_geometry())
    runs: dict[str, Any] = {}
    for name, sim, what in (
        ("rail", rail, f"a {rail.length_m:.0f} m rail survey (video, stills, thermal)"),
        ("pipeline", pipe, f"a {pipe.length_m:.0f} m night thermal survey of a buried pipe"),
    ):
        flight, run = base / "flights" / name, base / "runs" / name
        echo(f"\n== simulating {what} into {flight}")
        res = simulate_flight(sim, flight, overwrite=True, progress=True)
        echo(
            f"   {res.frames} frames, {res.defects} defects and {res.lookalikes} thermal "
            f"look-alikes in the truth ({res.elapsed_s:.0f} s)"
        )
        echo(f"== processing it: survey process {flight} --out {run}")
        if name == "rail":
            echo(f"   {note}")
        results = process_flight(flight, run, config=cfg, rerun_from="discover")
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        echo(format_summary(summary, run))
        runs[name] = {
            "flight": str(flight),
            "run": str(run),
            "defects": summary["defects"],
            "truth_defects": res.defects,
            "stages": {r.name: round(r.seconds, 1) for r in results},
        }
    echo(f"\nsurvey demo finished in {time.perf_counter() - t0:.0f} s. Open:")
    for name, r in runs.items():
        echo(f"  {name:8s} map     {Path(r['run']) / 'map.html'}")
        echo(f"  {'':8s} report  {Path(r['run']) / 'report.html'}")
        echo(f"  {'':8s} defects {Path(r['run']) / 'defects.gpkg'} (QGIS)")
        echo(f"  {'':8s} review  survey review {r['run']}")
        echo(f"  {'':8s} truth   {Path(r['flight']) / 'truth' / 'defects.gpkg'}")
    return runs
