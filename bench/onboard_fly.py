"""Onboard runtime numbers: `survey fly` through the simulated autopilot.

Simulates a rail flight (or uses --flight), flies it at each --speed with the simulator's truth
detector (no model: the numbers are the runtime's own cost, the model's is in docs/models.md),
and prints capture-to-geotag and capture-to-alert latency p50/p99, frames analysed per second,
frames dropped, peak resident memory, and the onboard-vs-truth diff (share of the truth defects
in view found, position difference).

    PYTHONPATH=$PWD nice -n 10 .venv/bin/python bench/onboard_fly.py --length-m 150 --speed 1 --speed 8
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import tempfile
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flight", default=None, help="an existing `survey simulate` folder")
    ap.add_argument("--length-m", type=float, default=150.0)
    ap.add_argument("--video", default="640x360@5")
    ap.add_argument("--speed", type=float, action="append", default=None)
    args = ap.parse_args()
    from missions.onboard.cli import fly_simulated
    from missions.onboard.diff import diff_runs, load_run, summary
    from missions.onboard.runtime import FlyConfig

    tmp = Path(tempfile.mkdtemp(prefix="onboard-bench-"))
    if args.flight:
        flight = Path(args.flight)
    else:
        from missions.sim.config import SimConfig
        from missions.sim.simulate import simulate_flight

        flight = tmp / "flight"
        cfg = SimConfig(
            asset="rail",
            length_m=args.length_m,
            seed=3,
            video=args.video,
            stills_every_m=0.0,
            thermal_every_s=0.0,
            defect_density=3.0,
        )
        simulate_flight(cfg, flight)
    for speed in args.speed or [1.0]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        out = tmp / f"run_x{speed:g}"
        res = fly_simulated(
            flight, out, port=port, speed=speed, config=FlyConfig(alert_interval_s=1.0)
        )
        d = summary(
            diff_runs(load_run(out), load_run(flight / "truth" / "defects.gpkg"), 3.0),
            load_run(out),
            load_run(flight / "truth" / "defects.gpkg"),
        )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        keys = [
            "frames_in",
            "frames_dropped",
            "frames_analysed",
            "frames_unlocatable",
            "latency_p50_s",
            "latency_p99_s",
            "alert_latency_p50_s",
            "alert_latency_p99_s",
            "fps_analysed",
            "defects",
            "alerts_sent",
            "wall_s",
        ]
        row = {k: res[k] for k in keys}
        row.update(
            speed=speed,
            peak_rss_mb=round(rss),
            onboard_defects_matching_truth=d["both"],
            onboard_defects=d["a_defects"],
            truth_defects=d["b_defects"],
            position_diff_median_m=d["position_diff_median_m"],
        )
        print(json.dumps(row))


if __name__ == "__main__":
    main()
