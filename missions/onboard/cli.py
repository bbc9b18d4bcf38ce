"""``survey fly`` (the onboard runtime and its ``--check`` preflight).

``survey fly --connect udp:127.0.0.1:14550 --camera /dev/video0 --asset line.geojson
--model bundle/ --intrinsics 1280,720,900,900,640,360 --out run1`` flies with a real
vehicle and camera. ``--sim FLIGHT`` starts the simulated autopilot on the ``--connect`` port
(a ``udp:127.0.0.1:PORT`` string) replaying a ``survey simulate`` folder at ``--speed``; then
``--camera sim`` is its camera, the intrinsics and the asset come from the folder, and
``--model truth`` is the simulator's truth detector. SIGTERM or Ctrl-C stops the run and
closes the recording.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from missions.errors import MissionError

__all__ = ["diff", "fly", "fly_simulated", "preflight"]


def _camera_model(intr: dict[str, Any]) -> Any:
    from geo.camera import CameraModel

    keys = ("k1", "k2", "p1", "p2", "k3")
    return CameraModel(
        int(intr["width_px"]),
        int(intr["height_px"]),
        float(intr["fx_px"]),
        float(intr["fy_px"]),
        float(intr["cx_px"]),
        float(intr["cy_px"]),
        *(float(intr.get(k, 0.0)) for k in keys),
    )


def _parse_intrinsics(text: str) -> dict[str, Any]:
    try:
        w, h, fx, fy, cx, cy = (float(x) for x in text.split(","))
    except ValueError as exc:
        raise click.BadParameter(f"expected W,H,fx,fy,cx,cy (pixels), got {text!r}") from exc
    return dict(width_px=w, height_px=h, fx_px=fx, fy_px=fy, cx_px=cx, cy_px=cy)


def _detectors(models: tuple[str, ...], sim_dir: Path | None) -> list[Any]:
    out: list[Any] = []
    for m in models:
        if m == "truth":
            if sim_dir is None:
                raise click.BadParameter("--model truth needs --sim FLIGHT", param_hint="--model")
            from missions.sim.oracle import TruthDetector

            out.append(TruthDetector(sim_dir))
        else:
            from models.runtime.bundle import read_bundle

            bundle = read_bundle(m)
            if bundle.meta["kind"] == "semantic":  # the crack model: each crack one detection
                from models.runtime.onnx_segmenter import OnnxSegmenter

                seg = OnnxSegmenter(bundle)
                out.append(lambda f, seg=seg: seg.detections(f.image))
            else:
                from models.runtime.onnx_detector import OnnxDetector

                det = OnnxDetector(bundle)
                # frames are BGR (OpenCV); the detector takes RGB
                out.append(lambda f, det=det: det(np.ascontiguousarray(f.image[..., ::-1])))
    return out


def fly_simulated(
    flight_dir: str | Path,
    out: str | Path,
    *,
    port: int,
    speed: float = 1.0,
    models: tuple[str, ...] = ("truth",),
    config: Any = None,
    on_runtime: Any = None,
) -> dict[str, Any]:
    """Fly a simulated flight through the simulated autopilot; returns the run summary."""
    from missions.link.vehicle import open_link
    from missions.sim.autopilot import SimAutopilot

    fd = Path(flight_dir)
    with SimAutopilot(fd, port=port, speed=speed, hold_until_ground=True) as ap:
        link = open_link(f"udp:127.0.0.1:{port}", timeout_s=10)
        try:
            src = ap.frame_source()
            rt = _runtime(link, src, models, fd / "asset.geojson", src.intrinsics, out, fd, config)
            if on_runtime is not None:
                on_runtime(rt, ap)
            rt.run()
        finally:
            link.close()
        summary = json.loads((Path(out) / "onboard" / "summary.json").read_text())
        summary["ground_station_texts"] = [t for _, _, t in ap.statustexts]
    return summary


def _runtime(
    link: Any,
    src: Any,
    models: tuple[str, ...],
    asset: Path,
    intr: dict[str, Any],
    out: str | Path,
    sim_dir: Path | None,
    config: Any,
) -> Any:
    from missions.onboard.geotag import Geotagger
    from missions.onboard.recorder import Recorder
    from missions.onboard.runtime import FlyConfig, Runtime
    from survey.config import ProcessConfig
    from survey.process.asset import load_asset

    cam = _camera_model(intr)
    am = load_asset(asset, ProcessConfig())
    rec = Recorder(out, camera=cam, asset_path=asset)
    return Runtime(
        link, src, _detectors(models, sim_dir), Geotagger(cam, am), rec, config or FlyConfig()
    )


def preflight(
    connect: str,
    camera: str,
    asset: Path,
    models: tuple[str, ...],
    out: Path,
    sim_dir: Path | None,
    link: Any,
) -> list[tuple[str, bool, str]]:
    """Each check as (name, passed, detail)."""
    rows: list[tuple[str, bool, str]] = []
    if camera == "sim":
        rows.append(
            (
                "camera",
                sim_dir is not None and any((sim_dir / "DCIM").glob("*/*_V.MP4")),
                "simulated video",
            )
        )
    else:
        from missions.onboard.sources import OpenCVSource

        try:
            f = next(iter(OpenCVSource(camera, retries=0)))
            rows.append(("camera", True, f"{f.image.shape[1]}x{f.image.shape[0]} from {camera}"))
        except Exception as exc:
            rows.append(("camera", False, str(exc)))
    rows.append(
        ("link", link is not None, connect if link is not None else f"no answer on {connect}")
    )
    try:
        _detectors(models, sim_dir)
        rows.append(("model", True, ", ".join(models)))
    except Exception as exc:
        rows.append(("model", False, str(exc)))
    out.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(out).free / 1e9
    rows.append(("disk", free >= 1.0, f"{free:.1f} GB free in {out} (need 1 GB)"))
    if link is not None:
        for _ in range(40):
            if math.isfinite(link.utc_minus_boot_s) and link.latest() is not None:
                break
            time.sleep(0.1)
        gnss = link.utc_minus_boot_s + link.t_boot_now_s
        if sim_dir is not None:
            rows.append(
                ("clock", math.isfinite(gnss), "simulated GNSS time received (not compared)")
            )
        else:
            d = gnss - time.time()
            rows.append(("clock", math.isfinite(d) and abs(d) < 2.0, f"GNSS - local = {d:+.2f} s"))
        p = link.latest()
        try:
            from survey.config import ProcessConfig
            from survey.process.asset import load_asset

            am = load_asset(asset, ProcessConfig())
            x, y = am.frame.from_lonlat(p.lon_deg, p.lat_deg) if p else (math.nan, math.nan)
            ref = am.routes.locate([x], [y], max_offset_m=500.0)
            dist = float(ref.distance_to_route_m[0])
            rows.append(
                (
                    "asset",
                    math.isfinite(dist),
                    f"aircraft {dist:.0f} m from {am.name}"
                    if math.isfinite(dist)
                    else "aircraft more than 500 m from the asset",
                )
            )
        except Exception as exc:
            rows.append(("asset", False, str(exc)))
    return rows


@click.command()
@click.option(
    "--connect", required=True, help="Vehicle: udp:127.0.0.1:14550, tcp:HOST:PORT, /dev/ttyTHS1."
)
@click.option(
    "--camera",
    "camera",
    default="sim",
    show_default=True,
    help="sim, a video file, an RTSP URL, a GStreamer pipeline or /dev/videoN.",
)
@click.option(
    "--asset",
    type=click.Path(dir_okay=False),
    default=None,
    help="Asset line file (default: the --sim folder's asset.geojson).",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    help="ONNX bundle folder (repeatable), or 'truth' with --sim.",
)
@click.option(
    "--intrinsics", default=None, help="Camera W,H,fx,fy,cx,cy in pixels (default: from --sim)."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="onboard_run",
    show_default=True,
    help="Recording folder.",
)
@click.option(
    "--sim",
    "sim_dir",
    type=click.Path(file_okay=False, exists=True),
    default=None,
    help="Fly a `survey simulate` folder through the simulated autopilot.",
)
@click.option(
    "--speed",
    type=float,
    default=1.0,
    show_default=True,
    help="Simulated seconds per second (--sim).",
)
@click.option("--baud", type=int, default=57600, show_default=True)
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=15.0,
    show_default=True,
    help="Seconds to wait for the vehicle.",
)
@click.option(
    "--check", is_flag=True, help="Preflight only: camera, link, model, disk, clock, asset."
)
def fly(
    connect: str,
    camera: str,
    asset: str | None,
    models: tuple[str, ...],
    intrinsics: str | None,
    out: str,
    sim_dir: str | None,
    speed: float,
    baud: int,
    timeout_s: float,
    check: bool,
) -> None:
    """Live detection, geotagging and alerts on the companion computer, recorded as a flight folder."""
    from missions.link.vehicle import LinkError, open_link

    sd = Path(sim_dir) if sim_dir else None
    ap = None
    if sd is not None:
        from missions.sim.autopilot import SimAutopilot

        if not connect.startswith("udp:127.0.0.1:"):
            raise click.BadParameter("with --sim, --connect must be udp:127.0.0.1:PORT")
        port = int(connect.rsplit(":", 1)[1])
        ap = SimAutopilot(sd, port=port, speed=speed, hold_until_ground=True).start()
    asset_p = Path(asset) if asset else (sd / "asset.geojson" if sd else None)
    if asset_p is None:
        raise click.BadParameter("--asset is required without --sim", param_hint="--asset")
    models = models or (("truth",) if sd else ())
    if not models:
        raise click.BadParameter("give --model BUNDLE (an `survey export-model` folder)")
    try:
        try:
            link = open_link(connect, timeout_s=timeout_s, baud=baud)
        except LinkError as exc:
            if not check:
                raise click.ClickException(str(exc)) from exc
            link = None
        if check:
            rows = preflight(connect, camera, asset_p, models, Path(out), sd, link)
            for name, ok, detail in rows:
                click.echo(f"{'PASS' if ok else 'FAIL'}  {name:<7} {detail}")
            if link is not None:
                link.close()
            sys.exit(0 if all(ok for _, ok, _ in rows) else 1)
        if camera == "sim":
            if ap is None:
                raise click.BadParameter("--camera sim needs --sim FLIGHT")
            src: Any = ap.frame_source()
            intr = src.intrinsics
        else:
            from missions.onboard.sources import OpenCVSource

            src = OpenCVSource(camera)
            if intrinsics is None:
                raise click.BadParameter(
                    "--intrinsics W,H,fx,fy,cx,cy is required for a real camera"
                )
            intr = _parse_intrinsics(intrinsics)
        link.watchdog()
        rt = _runtime(link, src, models, asset_p, intr, out, sd, None)
        signal.signal(signal.SIGTERM, lambda *_: rt.stop.set())
        try:
            s = rt.run()
        except KeyboardInterrupt:
            rt.stop.set()
            s = rt.summary
        link.close()
        d = s.as_dict()
        click.echo(
            f"recorded {out}: {d['frames_analysed']} frames analysed, {d['defects']} defects, "
            f"{d['alerts_sent']} alerts, {d['frames_dropped']} frames dropped"
        )
    except MissionError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if ap is not None:
            ap.stop()


@click.command()
@click.argument("run_a", type=click.Path(exists=True))
@click.argument("run_b", type=click.Path(exists=True))
@click.option("--radius-m", type=float, default=3.0, show_default=True, help="Pairing radius.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of the table.")
def diff(run_a: str, run_b: str, radius_m: float, as_json: bool) -> None:
    """Defects found by both runs, by one only, and position and class disagreements."""
    from geo.chainage import format_km
    from missions.onboard.diff import diff_runs, load_run, summary

    try:
        a, b = load_run(run_a), load_run(run_b)
    except MissionError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = diff_runs(a, b, radius_m)
    s = summary(rows, a, b)
    if as_json:
        click.echo(json.dumps(s, indent=1, default=lambda v: None))
        return
    click.echo(f"{'chainage':>10}  {'result':<7} {'A':<18} {'B':<18} {'dist m':>6}")
    for r in rows:
        dist = "" if math.isnan(r.distance_m) else f"{r.distance_m:.2f}"
        click.echo(
            f"{format_km(r.chainage_m):>10}  {r.kind:<7} {r.class_a:<18} {r.class_b:<18} {dist:>6}"
        )
    share = s["share_of_b_found_by_a"]
    click.echo(
        f"both {s['both']}, class disagreements {s['class_disagreements']}, A only {s['a_only']}, "
        f"B only {s['b_only']}; A found {share if share is None else f'{share:.0%}'} of B; "
        f"median position difference {s['position_diff_median_m']} m"
    )
