"""``survey demo --live``: fly a simulated rail survey through the simulated autopilot, show the
alerts as the ground station receives them, record, process the recording post-flight with
``survey process``, and print the onboard-vs-post-flight and onboard-vs-truth diffs."""

from __future__ import annotations

import dataclasses
import socket
import time
from pathlib import Path
from typing import Any

__all__ = ["run_live_demo"]


def run_live_demo(out: str | Path, *, echo: Any = print, speed: float = 4.0) -> dict[str, Any]:
    """Run the live demo under ``out``; returns the two diff summaries."""
    from missions.demo import _rail_model
    from missions.onboard.cli import fly_simulated
    from missions.onboard.diff import diff_runs, load_run, summary
    from missions.onboard.runtime import FlyConfig
    from missions.sim.config import SimConfig
    from missions.sim.simulate import simulate_flight
    from survey.config import Config
    from survey.process.pipeline import process_flight

    base = Path(out)
    flight, rec, post = base / "flight", base / "onboard", base / "postflight"
    sim = SimConfig(
        asset="rail",
        start_m=600.0,
        length_m=150.0,
        seed=7,
        video="1280x720@5",
        stills_every_m=0.0,
        thermal_every_s=0.0,
        defect_density=2.0,
    )
    echo(f"== simulating a {sim.length_m:.0f} m rail survey into {flight}")
    simulate_flight(sim, flight, overwrite=True, progress=False)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    echo(
        f"== flying it at {speed:g}x through the simulated autopilot (udp:127.0.0.1:{port}); "
        "alerts as the ground station gets them:"
    )
    t0 = time.monotonic()

    def show(rt: Any, ap: Any) -> None:
        send = rt.alerter.send

        def echo_send(text: str, severity: int) -> None:
            send(text, severity)
            echo(f"   [{time.monotonic() - t0:5.1f} s] GCS <- {text}")

        rt.alerter.send = echo_send

    fs = fly_simulated(flight, rec, port=port, speed=speed, config=FlyConfig(), on_runtime=show)
    echo(
        f"   {fs['frames_analysed']} frames analysed, {fs['defects']} defects, "
        f"{fs['alerts_sent']} alerts, {fs['frames_dropped']} frames dropped; recorded in {rec}"
    )
    models, note = _rail_model()
    cfg = Config()
    cfg = dataclasses.replace(
        cfg, process=dataclasses.replace(cfg.process, models=models, exports=["geojson"])
    )
    echo(f"== processing the recording post-flight: survey process {rec} --out {post}")
    echo(f"   {note}")
    process_flight(rec, post, config=cfg, rerun_from="discover")
    onboard = load_run(rec)
    res = {}
    for name, other in (
        ("post-flight", post / "defects.gpkg"),
        ("truth", flight / "truth" / "defects.gpkg"),
    ):
        b = load_run(other)
        s = summary(diff_runs(onboard, b, 3.0), onboard, b)
        res[name] = s
        share = s["share_of_b_found_by_a"]
        echo(
            f"== onboard vs {name}: both {s['both']}, class disagreements "
            f"{s['class_disagreements']}, onboard only {s['a_only']}, {name} only {s['b_only']}"
            f"; onboard found {'-' if share is None else f'{share:.0%}'} of {name}; median "
            f"position difference {s['position_diff_median_m']} m  (survey diff {rec} {other})"
        )
    return res
