"""Closed loop: plan a stretch, fly the .plan in the simulator, process the flight, and require
the whole planned stretch covered at no coarser than the target GSD. The rail case runs the
commands (`survey plan`, `survey simulate --plan FILE.plan`, `survey -c CFG process`), the
pipeline case the library calls.

``survey process`` is run with ``max_gsd_rgb_m`` = the target (coarser frames are not
candidates) and ``min_gain_m`` = one station (so the selection leaves no station a candidate
sees uncovered); the planned chainage range is mapped onto the simulated line by locating the
planned route's points on the flight's ``asset.geojson``. The logs are exact (``errors="none"``:
a GNSS outage would make frames unlocatable, which is not the plan's fault); wind and
turbulence still move the aircraft off the planned line.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from missions.errors import PlanError
from missions.plan.cli import write_plan
from missions.plan.planner import PlanRequest, plan_corridor
from missions.plan.simplan import is_qgc_plan, sim_config_from_plan
from missions.sim.simulate import simulate_flight
from survey.config import Config
from survey.process.pipeline import process_flight

RAIL = str(Path(__file__).resolve().parents[2] / "missions/data/railway_tullnerfelder_bahn.geojson")
PIPE = "geometry/pipelines/GEM_P0664_Adria-Wien_oil_pipeline.geojson"


def _process_config(target: float) -> Config:
    c = Config()
    return dataclasses.replace(
        c,
        pipeline=dataclasses.replace(c.pipeline, progress=False),
        process=dataclasses.replace(c.process, models=["none"], basemap="", exports=["csv"],
                                    max_gsd_rgb_m=target, min_gain_m=c.process.station_step_m),
    )  # fmt: skip


def _results(tmp: Path, plan: Any, c: Config) -> dict[str, Any]:
    summary = json.loads((tmp / "run" / "summary.json").read_text())
    sel = json.loads((tmp / "run" / "stages" / "select" / "select.json").read_text())
    # the planned range on the simulated line's chainage
    from survey.process.asset import load_asset

    flown = load_asset(tmp / "flight" / "asset.geojson", c.process)
    pts = np.array([plan.route.point_at(m, 0.0) for m in (plan.from_m, plan.to_m)])
    ch = flown.locate(pts[:, 0], pts[:, 1], max_offset_m=5.0).location.chainage_m
    return {"plan": plan, "summary": summary, "select": sel,
            "range": (float(ch.min()), float(ch.max())), "target": plan.request.gsd_m}  # fmt: skip


def _loop(tmp: Path, req: PlanRequest, **sim: Any) -> dict[str, Any]:
    """Plan, fly and process through the library (fast settings)."""
    plan = plan_corridor(req)
    write_plan(plan, tmp / "plan", basemap=None)
    cfg = sim_config_from_plan(tmp / "plan" / "sortie_01.plan")
    cfg = dataclasses.replace(cfg, errors="none", coco_every=1000, **sim)
    simulate_flight(cfg, tmp / "flight")
    c = _process_config(plan.request.gsd_m)
    process_flight(tmp / "flight", tmp / "run", config=c)
    return {**_results(tmp, plan, c), "cfg": cfg}


def _loop_cli(tmp: Path, plan_args: list[str], req: PlanRequest) -> dict[str, Any]:
    """The same through the commands: survey plan, survey simulate --plan, survey process."""
    from survey.cli import cli
    from survey.config import to_toml

    run = CliRunner()
    r = run.invoke(cli, ["plan", *plan_args, "--out", str(tmp / "plan"), "--basemap", "none"])
    assert r.exit_code == 0, r.output
    r = run.invoke(cli, ["simulate", "--plan", str(tmp / "plan" / "sortie_01.plan"),
                         "--no-errors", "--out", str(tmp / "flight"), "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    c = _process_config(req.gsd_m or 0.0)
    (tmp / "survey.toml").write_text(to_toml(c))
    r = run.invoke(cli, ["-c", str(tmp / "survey.toml"), "process", str(tmp / "flight"),
                         "--out", str(tmp / "run")])  # fmt: skip
    assert r.exit_code == 0, r.output
    plan = plan_corridor(req)  # the same request, for the expected values
    return _results(tmp, plan, c)


def _check_full_coverage(r: dict[str, Any]) -> None:
    a, b = r["range"]
    assert b - a == pytest.approx(r["plan"].to_m - r["plan"].from_m, abs=1.0)
    cov = r["summary"]["coverage"]["rgb"]
    gaps = r["summary"]["coverage_gaps_m"]["rgb"]
    (rid,) = cov
    lo, hi = cov[rid]["surveyed_m"]
    assert lo <= a and hi >= b, (cov, r["range"])
    inside = [g for g in gaps[rid] if g[1] > a and g[0] < b]
    assert inside == [], inside  # 100 % of the planned stretch
    g = r["select"]["bands"]["rgb"]["streams"]["video1"]["gsd_m"]
    assert g[1] <= r["target"]  # every analysed frame at the target GSD or finer
    assert g[0] >= 0.9 * r["target"]  # and not needlessly fine (the plan's height)


def test_rail_plan_flown_and_processed_covers_the_stretch(tmp_path: Path) -> None:
    args = ["--asset", RAIL, "--from", "1+000", "--to", "1+060", "--gsd-cm", "1.5",
            "--video", "1280x720@5"]  # fmt: skip
    req = PlanRequest(asset=RAIL, from_m=1000.0, to_m=1060.0, gsd_m=0.015, video="1280x720@5")
    r = _loop_cli(tmp_path, args, req)
    p = r["plan"]
    # the simulator flew what the mission items say
    sc = json.loads((tmp_path / "flight" / "truth" / "scenario.json").read_text())["config"]
    assert sc["altitude_agl_m"] == pytest.approx(p.altitude_agl_m, abs=1e-3)
    assert sc["speed_m_s"] == pytest.approx(p.speed_m_s, abs=1e-3)
    assert abs(sc["offset_m"]) < 0.1 and sc["video"] == "1280x720@5"
    assert sc["length_m"] == pytest.approx(p.sorties[0].passes[0].length_m, abs=1.0)
    _check_full_coverage(r)
    # the planner's margins hold for the simulated aircraft: its true track stays within the
    # cross-track error of the planned pass (95 %), its height within the vertical error
    import pandas as pd
    import shapely

    q = p.sorties[0].passes[0]
    t = pd.read_csv(tmp_path / "flight" / "truth" / "trajectory_true.csv")
    x, y = p.frame.from_lonlat(t.lon_deg.to_numpy(), t.lat_deg.to_numpy())
    dev = shapely.distance(
        shapely.LineString(np.column_stack([q.x_m, q.y_m])), shapely.points(x, y)
    )
    assert np.percentile(dev, 95) <= p.request.xtrack_error_m
    assert t.agl_m.max() <= p.altitude_agl_m + p.request.alt_error_m
    frames = r["summary"]["frames"]["video1"]
    # the fewest frames: about one per (footprint less the edge margins) of track
    span = r["range"][1] - r["range"][0]
    assert frames["selected"] <= 2 * (span / (p.footprint_along_m * 0.7)) + 4


@pytest.mark.slow
@pytest.mark.realdata
def test_pipeline_plan_flown_and_processed_covers_the_stretch(
    tmp_path: Path, shared_data: Path
) -> None:
    req = PlanRequest(asset=str(shared_data / PIPE), asset_kind="pipeline", from_m=20000.0,
                      to_m=20100.0, gsd_m=0.04, video="1280x720@4")  # fmt: skip
    r = _loop(tmp_path, req, texture_res_m=0.02)
    assert r["plan"].offsets_m == (0.0,) and r["plan"].corridor_width_m == 30.0
    _check_full_coverage(r)


def test_simulate_tells_plan_files_from_toml(tmp_path: Path) -> None:
    plan = plan_corridor(PlanRequest(asset=RAIL, from_m=1000.0, to_m=1100.0,
                                     corridor_width_m=40.0))  # fmt: skip
    write_plan(plan, tmp_path / "p", basemap=None)
    f = tmp_path / "p" / "sortie_01.plan"
    assert is_qgc_plan(f)
    renamed = tmp_path / "mission.json"
    renamed.write_text(f.read_text())
    assert is_qgc_plan(renamed)
    toml = tmp_path / "s.toml"
    toml.write_text("[simulate]\nlength_m = 50.0\n")
    assert not is_qgc_plan(toml)
    # three passes: one must be chosen; the chosen one is flown at its offset and direction
    with pytest.raises(PlanError, match="3 passes.*--plan-pass N"):
        sim_config_from_plan(f)
    for k in (1, 2, 3):
        cfg = sim_config_from_plan(f, k)
        off = plan.offsets_m[k - 1]
        # the simulator's offsets are to the left of its own line, which may run the other way
        assert abs(cfg.offset_m) == pytest.approx(abs(off), abs=0.2)
    assert sim_config_from_plan(f, 1).direction == -sim_config_from_plan(f, 2).direction
    with pytest.raises(PlanError, match="no pass 4"):
        sim_config_from_plan(f, 4)
    # the CLI: a .plan goes to the plan reader, a TOML file still to the settings loader
    from survey.cli import cli

    r = CliRunner().invoke(cli, ["simulate", "--plan", str(f), "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "--plan-pass N" in r.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[simulate]\nlength_m = 'x'\n")
    r = CliRunner().invoke(cli, ["simulate", "--plan", str(bad), "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "simulate.length_m" in r.output


@pytest.mark.realdata
def test_stills_and_terrain_plans_become_simulator_settings(
    tmp_path: Path, shared_data: Path
) -> None:
    plan = plan_corridor(PlanRequest(asset=RAIL, from_m=1000.0, to_m=1200.0, video=None,
                                     still_size="2000x1500", gsd_m=0.01))  # fmt: skip
    write_plan(plan, tmp_path / "s", basemap=None)
    cfg = sim_config_from_plan(tmp_path / "s" / "sortie_01.plan")
    assert cfg.video == "" and cfg.still_size == "2000x1500"
    assert cfg.stills_every_m == pytest.approx(plan.frame_spacing_m, abs=1e-6)
    assert cfg.altitude_agl_m == pytest.approx(plan.altitude_agl_m)
    # a DEM plan: AMSL waypoints; the simulator follows the same DEM at the plan's height
    from geo.frames import LocalFrame

    lon, lat = LocalFrame(32651).to_lonlat(np.linspace(292600, 292870, 10), np.full(10, 2731050.0))
    line = {"type": "Feature", "properties": {"kind": "rail"},
            "geometry": {"type": "LineString", "coordinates": np.column_stack([lon, lat]).tolist()}}  # fmt: skip
    asset = tmp_path / "dsm_line.geojson"
    asset.write_text(json.dumps({"type": "FeatureCollection", "features": [line]}))
    dem = str(shared_data / "drone_imagery/odm_p4rtk_taiwan/dsm.tif")
    p2 = plan_corridor(PlanRequest(asset=str(asset), from_m=60, to_m=200, gsd_m=0.02, dem=dem,
                                   corridor_width_m=5.0))  # fmt: skip
    write_plan(p2, tmp_path / "d", basemap=None)
    doc = json.loads((tmp_path / "d" / "sortie_01.plan").read_text())
    nav = [i for i in doc["mission"]["items"] if i["command"] == 16]
    assert {i["frame"] for i in nav} == {0} and {i["AltitudeMode"] for i in nav} == {2}
    cfg2 = sim_config_from_plan(tmp_path / "d" / "sortie_01.plan")
    assert cfg2.terrain == str(Path(dem).resolve())
    assert cfg2.altitude_agl_m == pytest.approx(p2.altitude_agl_m)
