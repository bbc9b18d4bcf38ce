"""`survey plan` outputs: QGC .plan, WPL 110 through pymavlink's mavwp, GeoJSON/KML, map."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from missions.errors import PlanError
from missions.plan.mission import (
    CMD,
    check_qgc_plan,
    mission_items,
    read_qgc_plan,
    read_wpl,
    write_qgc_plan,
    write_wpl,
)
from missions.plan.planner import PlanRequest, plan_corridor

RAIL = str(Path(__file__).resolve().parents[2] / "missions/data/railway_tullnerfelder_bahn.geojson")


@pytest.fixture(scope="module")
def wide():  # type: ignore[no-untyped-def]
    """Three passes over 600 m (a 40 m corridor), stills."""
    return plan_corridor(PlanRequest(asset=RAIL, from_m=100, to_m=700, corridor_width_m=40.0,
                                     video=None, gsd_m=0.01))  # fmt: skip


def test_mission_items_in_order(wide) -> None:  # type: ignore[no-untyped-def]
    s = wide.sorties[0]
    items = mission_items(wide, s)
    cmds = [it.command for it in items]
    assert cmds[0] == CMD["NAV_TAKEOFF"] and cmds[-1] == CMD["NAV_RETURN_TO_LAUNCH"]
    assert cmds[1] == CMD["DO_MOUNT_CONTROL"] and items[1].params[0] == -90.0
    assert items[1].alt_m == 2  # MAV_MOUNT_MODE_MAVLINK_TARGETING in param7
    assert cmds.count(CMD["DO_SET_CAM_TRIGG_DIST"]) == 2 * len(s.passes)
    trig = [it for it in items if it.command == CMD["DO_SET_CAM_TRIGG_DIST"]]
    assert trig[0].params[0] == pytest.approx(wide.frame_spacing_m) and trig[1].params[0] == 0
    speeds = [it.params[1] for it in items if it.command == CMD["DO_CHANGE_SPEED"]]
    assert speeds[1] == pytest.approx(wide.speed_m_s) and speeds[0] == 10.0
    wps = [it for it in items if it.command == CMD["NAV_WAYPOINT"]]
    assert len(wps) == sum(len(p.x_m) for p in s.passes)
    assert all(it.frame == 3 and it.alt_m == pytest.approx(wide.altitude_agl_m) for it in wps)
    # waypoints are the passes' positions
    lon, lat = wide.lonlat(s.passes[0].x_m, s.passes[0].y_m)
    assert wps[0].lat_deg == pytest.approx(lat[0], abs=1e-12)
    assert wps[0].lon_deg == pytest.approx(lon[0], abs=1e-12)
    # PX4: the gimbal manager command instead
    px4 = plan_corridor(PlanRequest(asset=RAIL, from_m=100, to_m=300, firmware="px4"))
    c = [it.command for it in mission_items(px4, px4.sorties[0])]
    assert CMD["DO_GIMBAL_MANAGER_PITCHYAW"] in c and CMD["VIDEO_START_CAPTURE"] in c


def test_qgc_plan_is_valid_and_reads_back(wide, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s = wide.sorties[0]
    f = write_qgc_plan(wide, s, tmp_path / "a.plan")
    doc, items = read_qgc_plan(f)
    assert doc["fileType"] == "Plan" and doc["mission"]["firmwareType"] == 3
    assert doc["mission"]["globalPlanAltitudeMode"] == 1
    assert [i.command for i in items] == [i.command for i in mission_items(wide, s)]
    home = doc["mission"]["plannedHomePosition"]
    lon, lat = wide.lonlat(*s.home_xy)
    assert home[:2] == pytest.approx([float(lat), float(lon)], abs=1e-12)
    nav = [it for it in doc["mission"]["items"] if it["command"] == 16]
    assert all(it["AltitudeMode"] == 1 and it["params"][6] == it["Altitude"] for it in nav)
    meta = doc["railpipeSurvey"]
    assert [p["offset_m"] for p in meta["passes"]] == pytest.approx(list(wide.offsets_m))
    # broken files are refused naming the place
    bad = dict(doc, fileType="Mission")
    with pytest.raises(PlanError, match="fileType: expected 'Plan'"):
        check_qgc_plan(bad)
    doc["mission"]["items"][3]["params"] = [0, 0]
    (tmp_path / "b.plan").write_text(json.dumps(doc))
    with pytest.raises(PlanError, match=r"b.plan, mission.items\[3\].params: expected 7"):
        read_qgc_plan(tmp_path / "b.plan")
    (tmp_path / "c.plan").write_text("{not json")
    with pytest.raises(PlanError, match="c.plan, line 1: not JSON"):
        read_qgc_plan(tmp_path / "c.plan")


def test_wpl_round_trips_through_mavwp(wide, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pymavlink import mavwp

    s = wide.sorties[0]
    f = write_wpl(wide, s, tmp_path / "a.waypoints")
    assert f.read_text().startswith("QGC WPL 110\n")
    loader = mavwp.MAVWPLoader()
    assert loader.load(str(f)) == len(mission_items(wide, s)) + 1
    back = read_wpl(f)
    home = back[0]
    lon, lat = wide.lonlat(*s.home_xy)
    assert home.command == 16 and home.frame == 0
    assert (home.lat_deg, home.lon_deg) == pytest.approx((float(lat), float(lon)), abs=1e-6)
    for a, b in zip(back[1:], mission_items(wide, s), strict=True):
        assert (a.command, a.frame) == (b.command, b.frame)
        # mavwp writes 6 decimals (0.1 m of latitude)
        assert a.lat_deg == pytest.approx(b.lat_deg, abs=1e-6)
        assert a.lon_deg == pytest.approx(b.lon_deg, abs=1e-6)
        assert a.alt_m == pytest.approx(b.alt_m, abs=1e-6)
        p = [0.0 if not np.isfinite(v) else v for v in b.params]
        assert a.params == pytest.approx(tuple(p), abs=1e-6)
    (tmp_path / "x.waypoints").write_text("hello\n")
    with pytest.raises(PlanError, match="x.waypoints: not a QGC WPL file"):
        read_wpl(tmp_path / "x.waypoints")


def test_survey_plan_cli_writes_everything(tmp_path: Path) -> None:
    import geopandas as gpd

    from survey.cli import cli

    out = tmp_path / "plan"
    r = CliRunner().invoke(cli, ["plan", "--asset", RAIL, "--from", "0+000", "--to", "2+000",
                                 "--gsd-cm", "1.5", "--out", str(out), "--basemap", "none",
                                 "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["chainage_m"] == [0.0, 2000.0] and summary["altitude_agl_m"] == 13.2
    for name in ("sortie_01.plan", "sortie_01.waypoints", "plan.geojson", "plan.kml",
                 "map.html", "plan.json"):  # fmt: skip
        assert (out / name).is_file(), name
    read_qgc_plan(out / "sortie_01.plan")
    g = gpd.read_file(out / "plan.geojson")
    assert {"asset", "pass", "swath", "waypoint", "chainage", "sortie", "home"} <= set(g.layer)
    assert (g.layer == "waypoint").sum() == summary["waypoints"]
    k = gpd.read_file(out / "plan.kml")
    assert len(k) == len(g)
    html = (out / "map.html").read_text()
    assert "Sortie 1" in html and "https://unpkg" not in html
    bad = CliRunner().invoke(cli, ["plan", "--asset", RAIL, "--from", "0+abc", "--to", "1",
                                   "--out", str(out)])  # fmt: skip
    assert bad.exit_code != 0 and "cannot read chainage" in bad.output
    bad = CliRunner().invoke(cli, ["plan", "--asset", RAIL, "--from", "0", "--to", "99+000",
                                   "--out", str(out)])  # fmt: skip
    assert bad.exit_code == 1 and "no route holds chainage" in bad.output
    bad = CliRunner().invoke(cli, ["plan", "--asset", RAIL, "--from", "0", "--to", "500",
                                   "--home", "48.3", "--out", str(out)])  # fmt: skip
    assert bad.exit_code != 0 and "expected LAT,LON" in bad.output
    r = CliRunner().invoke(cli, ["plan", "--asset", RAIL, "--from", "0", "--to", "500",
                                 "--home", "48.35,15.76", "--corridor-width-m", "40",
                                 "--basemap", "none", "--out", str(tmp_path / "h")])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "warning: 3 passes" in r.output
    home = json.loads((tmp_path / "h" / "sortie_01.plan").read_text())["mission"]
    assert home["plannedHomePosition"][:2] == pytest.approx([48.35, 15.76], abs=1e-9)
