"""Commands that ``missions`` adds to ``survey`` through the ``survey.commands`` entry points.

``survey simulate`` flies the simulator (or renders a COCO training set with ``--dataset N``);
``survey demo`` simulates two short surveys, processes them (``missions.demo``) and says where
the map, GeoPackage and report are. Heavy imports happen
inside the commands, so ``survey --help`` stays fast.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from missions.errors import MissionError

__all__ = ["demo", "simulate"]


def _fail(exc: MissionError) -> click.ClickException:
    return click.ClickException(str(exc))


@click.command()
@click.option(
    "--asset",
    type=click.Choice(["rail", "pipeline"]),
    default=None,
    help="Asset kind (default rail).",
)
@click.option(
    "--geometry",
    type=click.Path(dir_okay=False),
    default=None,
    help="LineString/MultiLineString file (GeoJSON, GPKG, SHP); default: the bundled "
    "OSM railway, or the shared Adria-Wien pipeline route.",
)
@click.option(
    "--feature",
    default=None,
    help="Feature id, name or row index in the file (default: the longest line).",
)
@click.option("--start-m", type=float, default=None, help="Chainage where the flight starts (m).")
@click.option("--length-m", type=float, default=None, help="Length of the flown stretch (m).")
@click.option("--seed", type=int, default=None, help="Seed of everything random.")
@click.option("--terrain", default=None, help="flat, hilly, or a GeoTIFF DEM path.")
@click.option(
    "--altitude-m",
    "altitude_agl_m",
    type=float,
    default=None,
    help="Height above ground (default 25 rail, 60 pipeline).",
)
@click.option("--speed", "speed_m_s", type=float, default=None, help="Ground speed, m/s.")
@click.option("--offset-m", type=float, default=None, help="Lateral offset, positive left.")
@click.option(
    "--gimbal-pitch",
    "gimbal_pitch_deg",
    type=float,
    default=None,
    help="Gimbal pitch in degrees (-90 nadir, e.g. -45 oblique).",
)
@click.option("--gnss", type=click.Choice(["standard", "rtk"]), default=None)
@click.option("--no-errors", is_flag=True, help="Logged poses equal the true ones.")
@click.option("--video", default=None, help="RGB video WxH@fps, or 'none' (default 1280x720@30).")
@click.option("--stills-every-m", type=float, default=None, help="RGB still every N m (0 = none).")
@click.option("--still-size", default=None, help="RGB still size WxH (default 4000x3000).")
@click.option(
    "--thermal-every-s", type=float, default=None, help="Thermal frame every N s (0 = none)."
)
@click.option("--thermal-scene", type=click.Choice(["auto", "day", "night"]), default=None)
@click.option("--pipe-style", type=click.Choice(["buried", "above"]), default=None)
@click.option(
    "--density",
    "defect_density",
    type=float,
    default=None,
    help="Scale of the defect rates (default 1).",
)
@click.option(
    "--start-time",
    "start_time_utc",
    default=None,
    help="UTC time of the first frame, ISO 8601 (default: a fixed date).",
)
@click.option(
    "--camera-tz-h",
    "camera_utc_offset_h",
    type=float,
    default=None,
    help="Time zone (hours from UTC) of the cameras' wall clock in SRT/EXIF (default 0).",
)
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="TOML file with a [simulate] table (every setting), or a QGroundControl .plan "
    "(survey plan's output) to fly; options override it.",
)
@click.option(
    "--plan-pass",
    type=int,
    default=None,
    metavar="N",
    help="With a .plan of several passes: the pass to fly (1-based).",
)
@click.option(
    "--dataset",
    type=int,
    default=None,
    metavar="N",
    help="Instead of a flight, render a COCO training set of N frames.",
)
@click.option(
    "--band",
    type=click.Choice(["rgb", "thermal"]),
    default="rgb",
    help="Band of the --dataset frames.",
)
@click.option("--size", default="1024x768", help="Frame size of the --dataset frames.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--overwrite", is_flag=True, help="Replace a previous simulation in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def simulate(
    plan_path: str | None,
    plan_pass: int | None,
    dataset: int | None,
    band: str,
    size: str,
    out: str,
    overwrite: bool,
    as_json: bool,
    no_errors: bool,
    video: str | None,
    **options: Any,
) -> None:
    """Simulate a survey flight over a real line, with exact ground truth.

    Writes a flight folder in real formats (MP4 + DJI SRT, DJI JPEG stills, FLIR radiometric
    JPEGs, MAVLink tlog, CSV log) and truth/ (defects.gpkg, true and logged poses, COCO masks
    per camera, scenario.json). With --dataset N, writes a COCO training set instead.
    """
    from missions.sim.config import SimConfig, load_sim_config, parse_size

    try:
        if dataset is not None:
            from missions.sim.dataset import DatasetSpec, make_dataset

            w, h = parse_size(size)
            spec = DatasetSpec(
                n_images=dataset,
                seed=options.get("seed") or 0,
                band=band,
                width_px=w,
                height_px=h,
                assets=(options["asset"],) if options.get("asset") else ("rail", "pipeline"),
                geometry=options.get("geometry") or "",
            )
            t0 = time.perf_counter()
            summary = make_dataset(spec, out, progress=not as_json)
            summary["elapsed_s"] = round(time.perf_counter() - t0, 1)
            _report(summary, as_json, f"wrote a COCO training set to {out}")
            return
        if no_errors:
            options["errors"] = "none"
        if video is not None:
            options["video"] = "" if video.lower() in ("none", "off", "") else video
        overrides = {k: v for k, v in options.items() if v is not None}
        for k in ("geometry", "feature"):
            if k in overrides:
                overrides[k] = str(overrides[k])
        if plan_path:
            from missions.plan.simplan import is_qgc_plan, sim_config_from_plan

            if is_qgc_plan(plan_path):
                cfg = sim_config_from_plan(plan_path, plan_pass, **overrides)
            else:
                cfg = load_sim_config(plan_path, **overrides)
        else:
            cfg = SimConfig(**overrides)
        from missions.sim.simulate import simulate_flight

        res = simulate_flight(cfg, out, overwrite=overwrite, progress=not as_json)
    except MissionError as exc:
        raise _fail(exc) from exc
    summary = res.to_dict()
    if not as_json:
        summary["files"] = {
            k: (v if len(v) <= 4 else v[:3] + [f"... {len(v)} files"])
            for k, v in summary["files"].items()
        }
    _report(summary, as_json, f"wrote a simulated flight to {out}")


def _report(summary: dict[str, Any], as_json: bool, headline: str) -> None:
    if as_json:
        click.echo(json.dumps(summary, indent=1, default=str))
        return
    click.echo(headline)
    for k, v in summary.items():
        if isinstance(v, dict):
            click.echo(f"  {k}:")
            for kk, vv in v.items():
                click.echo(f"    {kk}: {vv}")
        else:
            click.echo(f"  {k}: {v}")


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="survey_demo",
    show_default=True,
    help="Where the demonstration flights and runs go (replaced if they exist).",
)
@click.option(
    "--live",
    is_flag=True,
    help="Fly a simulated rail survey through the simulated autopilot with `survey fly` "
    "(alerts as they happen), process the recording and print the diffs.",
)
def demo(out: str, live: bool) -> None:
    """The built-in demonstration: simulate a rail survey and a thermal leak survey, process
    both (located defects, map, GeoPackage, report), and say where everything is."""
    from missions.demo import run_demo

    try:
        if live:
            from missions.onboard.demo_live import run_live_demo

            run_live_demo(out, echo=click.echo)
            return
        run_demo(out, echo=click.echo)
    except MissionError as exc:
        raise _fail(exc) from exc
