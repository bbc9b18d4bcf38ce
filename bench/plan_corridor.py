#!/usr/bin/env python
"""Corridor planning numbers: planning time per km, waypoints per km, flight time, sorties.

    .venv/bin/python bench/plan_corridor.py                 # 10 km railway, 50 km pipeline
    .venv/bin/python bench/plan_corridor.py --closed-loop   # + plan, fly, process a stretch

Cases (real lines from ../shared/data): the Tullnerfelder Bahn (route ``110 01`` of the
St. Pölten OSM railways) 0+000-10+000 at 1.5 cm (video 1280x720@30, M30T, 12 m corridor) and
the Adria-Wien pipeline 0+000-50+000 at 3 cm (30 m corridor). Planning time excludes reading
the asset file (reported apart); each case is planned ``--repeat`` times and the best is kept.
The baseline, in the same process, is the same plan over the first kilometre: the per-km time
ratio shows how planning scales with length. ``--closed-loop`` plans 60 m of the bundled
railway, flies it in the simulator, processes it and reports coverage and the GSD achieved.
Prints JSON (and writes it with --json).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"
RAIL = DATA / "geometry/railway_osm/Sankt_Poelten_railways.geojson"
PIPE = DATA / "geometry/pipelines/GEM_P0664_Adria-Wien_oil_pipeline.geojson"


def _best(fn: Any, repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def case(name: str, req: Any, km: float, repeat: int) -> dict[str, Any]:
    from missions.plan import planner

    # read the asset once; time the planning alone by reusing the loaded route
    t = time.perf_counter()
    loaded = planner._load(req)
    load_s = time.perf_counter() - t
    orig = planner._load
    planner._load = lambda _req: loaded  # type: ignore[assignment]
    try:
        base_s, _ = _best(
            lambda: planner.plan_corridor(dataclasses.replace(req, to_m=req.from_m + 1000.0)),
            repeat,
        )
        plan_s, plan = _best(lambda: planner.plan_corridor(req), repeat)
    finally:
        planner._load = orig  # type: ignore[assignment]
    s = plan.summary()
    return {
        "case": name,
        "length_km": km,
        "asset_load_s": round(load_s, 3),
        "planning_s": round(plan_s, 4),
        "planning_s_per_km": round(plan_s / km, 4),
        "baseline_1km_s": round(base_s, 4),
        "per_km_ratio_to_1km": round((plan_s / km) / base_s, 2),
        "altitude_agl_m": s["altitude_agl_m"],
        "gsd_cm": round(100 * s["gsd_m"], 3),
        "passes": len(s["pass_offsets_m"]),
        "speed_m_s": s["speed_m_s"],
        "speed_limits_m_s": s["speed_limits_m_s"],
        "waypoints": s["waypoints"],
        "waypoints_per_km": round(s["waypoints"] / km, 1),
        "flight_min": round(s["flight_s"] / 60, 1),
        "sorties": len(s["sorties"]),
        "battery_per_sortie": [x["battery"] for x in s["sorties"]],
    }


def closed_loop() -> dict[str, Any]:
    from missions.plan.cli import write_plan
    from missions.plan.planner import PlanRequest, plan_corridor
    from missions.plan.simplan import sim_config_from_plan
    from missions.sim.simulate import simulate_flight
    from survey.config import Config
    from survey.process.pipeline import process_flight

    bundled = ROOT / "missions/data/railway_tullnerfelder_bahn.geojson"
    req = PlanRequest(asset=str(bundled), from_m=1000.0, to_m=1060.0, gsd_m=0.015,
                      video="1280x720@5")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="wt-18-bench-") as tmp:
        t = Path(tmp)
        plan = plan_corridor(req)
        write_plan(plan, t / "plan", basemap=None)
        cfg = dataclasses.replace(sim_config_from_plan(t / "plan" / "sortie_01.plan"),
                                  errors="none", coco_every=1000)  # fmt: skip
        t0 = time.perf_counter()
        simulate_flight(cfg, t / "flight")
        sim_s = time.perf_counter() - t0
        c = Config()
        c = dataclasses.replace(
            c, pipeline=dataclasses.replace(c.pipeline, progress=False),
            process=dataclasses.replace(c.process, models=["none"], basemap="", exports=["csv"],
                                        max_gsd_rgb_m=0.015, min_gain_m=c.process.station_step_m),
        )  # fmt: skip
        t0 = time.perf_counter()
        process_flight(t / "flight", t / "run", config=c)
        proc_s = time.perf_counter() - t0
        s = json.loads((t / "run" / "summary.json").read_text())
        sel = json.loads((t / "run" / "stages" / "select" / "select.json").read_text())
    (rid,) = s["coverage"]["rgb"]
    v = sel["bands"]["rgb"]["streams"]["video1"]
    return {
        "stretch_m": 60.0,
        "target_gsd_cm": 1.5,
        "planned_altitude_m": round(plan.altitude_agl_m, 2),
        "analysed_gsd_cm": [round(100 * g, 3) for g in v["gsd_m"]],
        "surveyed_chainage_m": s["coverage"]["rgb"][rid]["surveyed_m"],
        "covered_m": s["coverage"]["rgb"][rid]["covered_m"],
        "gaps_m": s["coverage_gaps_m"]["rgb"][rid],
        "frames": v["frames"],
        "frames_analysed": v["selected"],
        "simulate_s": round(sim_s, 1),
        "process_s": round(proc_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--closed-loop", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    from missions.plan.planner import PlanRequest

    out: dict[str, Any] = {"cases": []}
    out["cases"].append(case(
        "railway 10 km, 1.5 cm",
        PlanRequest(asset=str(RAIL), asset_kind="rail", route_id="110 01", from_m=0.0,
                    to_m=10000.0, gsd_m=0.015), 10.0, a.repeat))  # fmt: skip
    out["cases"].append(case(
        "pipeline 50 km, 3 cm",
        PlanRequest(asset=str(PIPE), asset_kind="pipeline", from_m=0.0, to_m=50000.0,
                    gsd_m=0.03), 50.0, a.repeat))  # fmt: skip
    if a.closed_loop:
        out["closed_loop"] = closed_loop()
    text = json.dumps(out, indent=1)
    print(text)
    if a.json:
        a.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
