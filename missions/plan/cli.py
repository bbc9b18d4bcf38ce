"""``survey plan``: a corridor mission from the asset line, a chainage range and a target GSD.

Writes into ``--out``: ``sortie_NN.plan`` (QGroundControl) and ``sortie_NN.waypoints``
(MAVLink WPL 110) per sortie, ``plan.geojson`` and ``plan.kml`` (previews), ``map.html`` and
``plan.json`` (the numbers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from missions.errors import MissionError

__all__ = ["plan", "write_plan"]


def write_plan(p: Any, out: str | Path, basemap: str | None = "osm") -> dict[str, Any]:
    """Write every output of plan ``p`` into folder ``out``; returns the summary with files."""
    from missions.plan.mission import write_qgc_plan, write_wpl
    from missions.plan.preview import write_map, write_previews

    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    for s in p.sorties:
        files.append(str(write_qgc_plan(p, s, o / f"sortie_{s.index:02d}.plan")))
        files.append(str(write_wpl(p, s, o / f"sortie_{s.index:02d}.waypoints")))
    files += [str(f) for f in write_previews(p, o)]
    files.append(str(write_map(p, o / "map.html", basemap=basemap)))
    summary = p.summary()
    summary["files"] = files
    (o / "plan.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary


def _chainage(text: str | None, opt: str) -> float | None:
    if text is None:
        return None
    from geo.chainage import parse_chainage
    from geo.errors import GeoError

    try:
        return parse_chainage(text)
    except GeoError as exc:
        raise click.BadParameter(str(exc), param_hint=opt) from exc


def _home(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise click.BadParameter(f"expected LAT,LON in degrees, got {text!r}",
                                 param_hint="--home") from exc  # fmt: skip
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise click.BadParameter(f"not a latitude,longitude: {text!r}", param_hint="--home")
    return lon, lat


@click.command()
@click.option(
    "--asset",
    required=True,
    type=click.Path(dir_okay=False),
    help="Asset line file (any format survey process reads).",
)
@click.option("--asset-kind", type=click.Choice(["rail", "pipeline"]), default=None)
@click.option("--route", "route_id", default=None, help="Route id when the file has several.")
@click.option("--from", "from_", default=None, help="Start chainage (0+000, 13m 16c, metres).")
@click.option("--to", default=None, help="End chainage.")
@click.option(
    "--camera",
    default="M30T",
    show_default=True,
    help="Camera model from the camera table, or a photo to read it from.",
)
@click.option(
    "--video",
    default="1280x720@30",
    show_default=True,
    help="Video mode WxH@fps, or 'none' for stills.",
)
@click.option("--still-size", default=None, help="Still size WxH (default the native size).")
@click.option("--still-interval-s", type=float, default=2.0, show_default=True)
@click.option("--gsd-cm", type=float, default=None, help="Target GSD (cm/px); default 1.5.")
@click.option("--altitude-m", type=float, default=None, help="Height above ground instead.")
@click.option(
    "--corridor-width-m",
    type=float,
    default=None,
    help="Width to cover (default 12 rail, 30 pipeline).",
)
@click.option("--gimbal-pitch", type=float, default=-90.0, show_default=True)
@click.option(
    "--overlap", type=float, default=None, help="Forward overlap (0.8 video, 0.7 stills)."
)
@click.option("--sidelap", type=float, default=0.2, show_default=True)
@click.option("--exposure-s", type=float, default=0.001, show_default=True)
@click.option("--blur-px", type=float, default=0.5, show_default=True)
@click.option(
    "--tolerance-m",
    type=float,
    default=0.5,
    show_default=True,
    help="Ground track tolerance of the waypoints.",
)
@click.option("--max-speed", type=float, default=12.0, show_default=True)
@click.option("--endurance-min", type=float, default=30.0, show_default=True)
@click.option("--reserve", type=float, default=0.25, show_default=True)
@click.option("--climb-rate", type=float, default=3.0, show_default=True)
@click.option(
    "--home",
    default=None,
    metavar="LAT,LON",
    help="Take-off point of every sortie (default: each sortie's start on the line).",
)
@click.option("--sortie-overlap-m", type=float, default=20.0, show_default=True)
@click.option(
    "--nofly",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Polygon file of no-fly zones.",
)
@click.option(
    "--dem",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="GeoTIFF DEM for terrain following.",
)
@click.option("--dem-vertical", type=click.Choice(["msl", "ellipsoid"]), default="msl")
@click.option("--firmware", type=click.Choice(["ardupilot", "px4"]), default="ardupilot")
@click.option("--basemap", default="osm", show_default=True, help="osm, a tile URL, or none.")
@click.option(
    "--upload",
    default=None,
    metavar="CONNECTION",
    help="Upload a sortie to the vehicle (pymavlink connection, e.g. udpout:HOST:14550).",
)
@click.option("--upload-sortie", type=int, default=1, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def plan(**o: Any) -> None:  # fmt: skip
    """Plan a corridor survey: passes, waypoints, speed and sorties from the asset line."""
    from missions.plan.planner import Aircraft, PlanRequest, plan_corridor

    ac = Aircraft(max_speed_m_s=o["max_speed"], endurance_s=60.0 * o["endurance_min"],
                  reserve=o["reserve"], climb_rate_m_s=o["climb_rate"])  # fmt: skip
    gsd = o["gsd_cm"] / 100.0 if o["gsd_cm"] is not None else (
        None if o["altitude_m"] is not None else 0.015)  # fmt: skip
    video = None if str(o["video"]).lower() in ("none", "off", "") else o["video"]
    req = PlanRequest(
        asset=o["asset"], from_m=_chainage(o["from_"], "--from"), to_m=_chainage(o["to"], "--to"),
        asset_kind=o["asset_kind"], route_id=o["route_id"], camera=o["camera"], video=video,
        still_size=o["still_size"], still_interval_s=o["still_interval_s"], gsd_m=gsd,
        altitude_m=o["altitude_m"], corridor_width_m=o["corridor_width_m"],
        gimbal_pitch_deg=o["gimbal_pitch"], overlap=o["overlap"], sidelap=o["sidelap"],
        exposure_s=o["exposure_s"], blur_px=o["blur_px"], track_tolerance_m=o["tolerance_m"],
        sortie_overlap_m=o["sortie_overlap_m"], nofly=o["nofly"], dem=o["dem"],
        dem_vertical=o["dem_vertical"], aircraft=ac, firmware=o["firmware"],
        home_lonlat=_home(o["home"]),
    )  # fmt: skip
    try:
        p = plan_corridor(req)
        basemap = None if str(o["basemap"]).lower() == "none" else o["basemap"]
        summary = write_plan(p, o["out"], basemap=basemap)
        if o["upload"]:
            from missions.plan.mission import home_item, mission_items
            from missions.plan.upload import upload_mission

            k = o["upload_sortie"]
            if not 1 <= k <= len(p.sorties):
                raise click.BadParameter(f"the plan has {len(p.sorties)} sorties",
                                         param_hint="--upload-sortie")  # fmt: skip
            s = p.sorties[k - 1]
            summary["uploaded_items"] = upload_mission(o["upload"], mission_items(p, s),
                                                       home_item(p, s))  # fmt: skip
    except MissionError as exc:
        raise click.ClickException(str(exc)) from exc
    if o["as_json"]:
        click.echo(json.dumps(summary, indent=1))
        return
    click.echo(
        f"planned {summary['length_m']:.0f} m of {summary['route_id']} "
        f"({summary['chainage_m'][0]:.0f}-{summary['chainage_m'][1]:.0f} m): "
        f"{len(summary['sorties'])} sortie(s), {len(summary['pass_offsets_m'])} pass(es), "
        f"{summary['waypoints']} waypoints"
    )
    click.echo(
        f"  altitude {summary['altitude_agl_m']:.1f} m AGL, GSD {100 * summary['gsd_m']:.2f} cm, "
        f"swath {summary['swath_m']:.1f} m, speed {summary['speed_m_s']:.1f} m/s "
        f"(limits {summary['speed_limits_m_s']}), flight {summary['flight_s'] / 60:.1f} min"
    )
    for s in summary["sorties"]:
        click.echo(f"  sortie {s['index']}: {s['chainage_m'][0]:.0f}-{s['chainage_m'][1]:.0f} m, "
                   f"{s['flight_s'] / 60:.1f} min, battery {100 * s['battery']:.0f} %")  # fmt: skip
    for w in summary["warnings"]:
        click.echo(f"  warning: {w}")
    if "uploaded_items" in summary:
        click.echo(f"  uploaded sortie {o['upload_sortie']} ({summary['uploaded_items']} items)")
    click.echo(f"  wrote {o['out']}: {', '.join(Path(f).name for f in summary['files'])}")
