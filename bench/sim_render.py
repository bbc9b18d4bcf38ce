"""Simulator benchmark: frames rendered per second at 1280x720, and peak memory vs flight length.

    .venv/bin/python bench/sim_render.py fps [--frames 600] [--size 1280x720]
    .venv/bin/python bench/sim_render.py memory [--lengths 500 2000]

``fps`` flies 2 km of the bundled railway at 25 m AGL, 4 m/s, and times consecutive 30 fps video
frames after a warm-up: the renderer alone (rays, terrain, texture tiles painted on demand,
remap) and the whole video stream (plus sensor model, MP4 encoding, SRT, truth row and COCO
masks). Tile painting is included, amortised over the frames as in a real run.

``memory`` runs complete simulations (video 1280x720 at 5 fps, 4000x3000 RGB stills every
``--stills-every-m`` (0 = none), thermal 1 Hz) of each length in a fresh process and reports the
peak resident memory, overall and in each quarter of the run (flat = no growth with length).

Numbers depend on the machine load: the script prints the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def bench_fps(frames: int, size: str, threads: int) -> dict[str, object]:
    import cv2
    import numpy as np

    from missions.sim.asset import load_asset
    from missions.sim.camera import CameraModel
    from missions.sim.config import SimConfig, parse_size, start_time
    from missions.sim.errormodel import ErrorModel, realize
    from missions.sim.flight import FlightPlan, plan_trajectory
    from missions.sim.paint import Painter
    from missions.sim.rig import Rig
    from missions.sim.scene import build_scene
    from missions.sim.simulate import make_terrain
    from missions.sim.streams import SimContext, VideoStream
    from missions.sim.tiles import TileCache

    if threads:
        cv2.setNumThreads(threads)
    w, h = parse_size(size)
    cfg = SimConfig(length_m=2000.0, start_m=300.0, video=f"{w}x{h}@30").resolved()
    asset = load_asset("rail", start_m=cfg.start_m, length_m=cfg.length_m, margin_m=80.0)
    terrain = make_terrain(cfg, asset)
    flown = (
        cfg.start_m - asset.chainage_start_m,
        cfg.start_m + cfg.length_m - asset.chainage_start_m,
    )
    scene = build_scene(asset, terrain, seed=7, flown_s=flown)
    traj = plan_trajectory(asset, terrain, FlightPlan(25.0, 4.0), flown, start_time(cfg), 7)
    nav = realize(ErrorModel(), traj, asset.grid, 265.0, 7)
    tiles = TileCache(Painter(scene), paint_layers=frozenset({"rgb"}))
    cam = CameraModel.preset("rgb-still").video_mode(w, h)
    out = Path(tempfile.mkdtemp(prefix="simbench-"))
    (out / "truth").mkdir()
    ctx = SimContext(out, scene, traj, nav, Rig(), tiles, 7, 0.0, False, {})
    stream = VideoStream(ctx, cam, ctx.rig.rgb, 30.0, out / "v.MP4")
    t0 = traj.t_start_s + 60.0  # cruise, away from the ramp
    warm = 30
    for i in range(warm):
        stream.frame(i, t0 + i / 30.0)
    painted0, paint_s0 = tiles.painted, tiles.paint_s
    tic, cpu0 = time.perf_counter(), time.process_time()
    for i in range(warm, warm + frames):
        stream.frame(i, t0 + i / 30.0)
    full_s = time.perf_counter() - tic
    full_cpu = time.process_time() - cpu0
    full_painted = tiles.painted - painted0
    full_paint_s = tiles.paint_s - paint_s0
    stream.close()
    # renderer alone, further along the line (fresh tiles to paint, as in a real flight)
    from missions.sim.render import CameraPose
    from missions.sim.rig import camera_poses

    r = stream.renderer
    tt = t0 + (warm + frames) / 30.0 + 1.0 + np.arange(frames) / 30.0
    poses = camera_poses(traj.sample(tt), ctx.rig.rgb, ctx.rig, asset.grid)
    painted1, paint_s1 = tiles.painted, tiles.paint_s
    tic, cpu0 = time.perf_counter(), time.process_time()
    for k in range(frames):
        r.render(
            CameraPose(
                float(poses.x_m[k]),
                float(poses.y_m[k]),
                float(poses.alt_msl_m[k]),
                poses.R_ned_from_cam[k],
            )
        )
    render_s = time.perf_counter() - tic
    render_cpu = time.process_time() - cpu0
    return {
        "size": size,
        "frames": frames,
        "opencv_threads": cv2.getNumThreads(),
        "render_only_fps": round(frames / render_s, 1),
        "render_only_fps_per_cpu_second": round(frames / render_cpu, 1),
        "render_only_tiles_painted": tiles.painted - painted1,
        "render_only_paint_s": round(tiles.paint_s - paint_s1, 2),
        "video_stream_fps": round(frames / full_s, 1),
        "video_stream_fps_per_cpu_second": round(frames / full_cpu, 1),
        "video_stream_tiles_painted": full_painted,
        "video_stream_paint_s": round(full_paint_s, 2),
        "gsd_m": round(
            stream.renderer.render(
                CameraPose(
                    float(poses.x_m[0]),
                    float(poses.y_m[0]),
                    float(poses.alt_msl_m[0]),
                    poses.R_ned_from_cam[0],
                )
            ).gsd_m,
            4,
        ),
    }


def _child_memory(length: float, stills: float) -> dict[str, object]:
    import threading

    import psutil

    from missions.sim.config import SimConfig
    from missions.sim.simulate import simulate_flight

    out = Path(tempfile.mkdtemp(prefix="simmem-"))
    cfg = SimConfig(
        length_m=length,
        start_m=300.0,
        video="1280x720@5",
        stills_every_m=stills,
        thermal_every_s=1.0,
    )
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    proc = psutil.Process()
    t0 = time.perf_counter()

    def sample() -> None:
        while not stop.wait(0.5):
            samples.append((time.perf_counter() - t0, proc.memory_info().rss / 2**20))

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    res = simulate_flight(cfg, out)
    stop.set()
    th.join()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    end = samples[-1][0] if samples else 1.0
    quarters = [
        round(max([m for t, m in samples if q * end / 4 <= t <= (q + 1) * end / 4] or [0.0]), 1)
        for q in range(4)
    ]
    return {
        "length_m": length,
        "stills_every_m": stills,
        "flight_s": round(res.flight_s, 1),
        "frames": res.frames,
        "elapsed_s": round(res.elapsed_s, 1),
        "tiles_painted": res.tiles_painted,
        "peak_rss_mb": round(peak_mb, 1),
        "peak_rss_mb_by_quarter_of_the_run": quarters,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("what", choices=["fps", "memory", "_child"])
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--threads", type=int, default=0, help="OpenCV threads (0 = its default)")
    ap.add_argument("--lengths", type=float, nargs="+", default=[500.0, 2000.0])
    ap.add_argument("--length", type=float, default=0.0)
    ap.add_argument("--stills-every-m", type=float, default=50.0)
    a = ap.parse_args()
    if a.what == "_child":
        print(json.dumps(_child_memory(a.length, a.stills_every_m)))
        return
    print(f"load average before: {_load()}  (cpus: {os.cpu_count()})", file=sys.stderr)
    if a.what == "fps":
        res: object = bench_fps(a.frames, a.size, a.threads)
    else:
        res = []
        for length in a.lengths:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "_child",
                    "--length",
                    str(length),
                    "--stills-every-m",
                    str(a.stills_every_m),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            res.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(json.dumps(res, indent=1))
    print(f"load average after: {_load()}", file=sys.stderr)


if __name__ == "__main__":
    main()
