"""Benchmark: `survey process` frames/s against the bare model on the same frames; peak memory.

For each flight folder given (or simulated: a short and a long rail flight, 30 fps video):

1. runs the whole pipeline in a fresh subprocess and records its wall time per stage and its
   peak resident memory (``ru_maxrss`` of the child);
2. counts the RGB frames it analysed and derives the end-to-end rate (analysed frames per
   second of the whole run, every stage included, thermal and outputs too);
3. runs the bare model suite on the same frames (the JPEGs the run saved), whole frames at the
   same resampled scale, as ``survey predict`` would: the model's own rate;
4. reports the model time inside the pipeline (corridor bands only) against the bare model's.

    .venv/bin/python bench/e2e_speed.py --out /tmp/e2e_speed [--flight DIR ...] [--long-m 600]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CHILD = r"""
import json, resource, sys, time, dataclasses
from survey.config import Config
from survey.process.pipeline import process_flight
cfg = Config()
cfg = dataclasses.replace(cfg, pipeline=dataclasses.replace(cfg.pipeline, progress=False),
    process=dataclasses.replace(cfg.process, models=[sys.argv[3]], exports=[], basemap=""))
t = time.perf_counter()
res = process_flight(sys.argv[1], sys.argv[2], config=cfg, rerun_from="discover")
wall = time.perf_counter() - t
print(json.dumps({"wall_s": wall, "stages": {r.name: r.seconds for r in res},
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def simulate(out: Path, length_m: float, seed: int) -> Path:
    from missions.sim.config import SimConfig
    from missions.sim.simulate import simulate_flight

    f = out / f"rail_{int(length_m)}m"
    if not (f / "truth" / "scenario.json").is_file():
        cfg = SimConfig(
            asset="rail", start_m=200.0, length_m=length_m, seed=seed, video="1280x720@30",
            stills_every_m=0.0, thermal_every_s=1.0, coco_every=100_000, defect_density=2.0,
        )  # fmt: skip
        simulate_flight(cfg, f, overwrite=True, progress=True)
    return f


def bare_model(run: Path, model: str) -> dict[str, Any]:
    """The suite alone on the frames the run analysed, whole frames, same scale."""
    import cv2

    from survey.config import Config
    from survey.process.records import load_json
    from survey.process.rgb_models import load_suite, training_gsd

    det = load_json(run / "stages" / "detect" / "detect.json")
    gsd_target = float(det.get("detect_gsd_m") or 0.0)
    sel_dir = run / "stages" / "select"
    frames = sorted((run / "stages" / "detect" / "frames").rglob("*.jpg"))
    import dataclasses

    cfg = Config()
    cfg = dataclasses.replace(cfg, process=dataclasses.replace(cfg.process, models=[model]))
    suite = load_suite(cfg, [model])
    gsd_target = gsd_target or training_gsd(suite)
    gsd = _frame_gsd(sel_dir)
    t_model = 0.0
    for f in frames:
        img = cv2.imread(str(f))
        g = gsd.get(f.parent.name, 0.0)
        if gsd_target and g and g < 0.8 * gsd_target:
            s = g / gsd_target
            img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        t0 = time.perf_counter()
        suite(img)
        t_model += time.perf_counter() - t0
    return {"frames": len(frames), "model_s": t_model, "fps": len(frames) / max(t_model, 1e-9)}


def _frame_gsd(sel_dir: Path) -> dict[str, float]:
    import numpy as np

    out = {}
    for p in sel_dir.glob("*.npz"):
        with np.load(p) as z:
            out[p.stem] = float(np.median(z["gsd_m"])) if len(z["gsd_m"]) else 0.0
    return out


def measure(flight: Path, out: Path, model: str) -> dict[str, Any]:
    from survey.process.records import load_json

    run = out / f"run_{flight.name}"
    p = subprocess.run(
        [sys.executable, "-c", CHILD, str(flight), str(run), model],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    child = json.loads(p.stdout.strip().splitlines()[-1])
    det = load_json(run / "stages" / "detect" / "detect.json")
    poses = load_json(run / "stages" / "poses" / "poses.json")
    video_frames = sum(
        s.get("frames", 0) for s in poses["streams"].values() if s.get("kind") == "video"
    )
    bare = bare_model(run, model)
    n = int(det["frames"])
    return {
        "flight": flight.name,
        "video_frames": video_frames,
        "rgb_frames_analysed": n,
        "e2e_s": child["wall_s"],
        "e2e_fps": n / child["wall_s"],
        "video_fps_equivalent": video_frames / child["wall_s"],
        "stages_s": child["stages"],
        "model_in_pipeline_s": det["model_s"],
        "bare_model_s": bare["model_s"],
        "bare_model_fps": bare["fps"],
        "peak_rss_mb": child["peak_rss_mb"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/e2e_speed"))
    ap.add_argument("--flight", type=Path, action="append", default=[])
    ap.add_argument("--short-m", type=float, default=150.0)
    ap.add_argument("--long-m", type=float, default=600.0)
    ap.add_argument("--model", default="rail")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    flights = a.flight or [simulate(a.out, a.short_m, 401), simulate(a.out, a.long_m, 402)]
    rows = [measure(f, a.out, a.model) for f in flights]
    (a.out / "speed.json").write_text(json.dumps(rows, indent=1))
    print("| flight | video frames | RGB frames analysed | whole run (s) | analysed frames/s, "
          "end to end | video frames/s, end to end | model in the run (s) | bare model on the "
          "same frames (s) | bare model frames/s | peak memory (MB) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['flight']} | {r['video_frames']} | {r['rgb_frames_analysed']} | "
            f"{r['e2e_s']:.0f} | {r['e2e_fps']:.2f} | {r['video_fps_equivalent']:.1f} | "
            f"{r['model_in_pipeline_s']:.0f} | {r['bare_model_s']:.0f} | "
            f"{r['bare_model_fps']:.2f} | {r['peak_rss_mb']:.0f} |"
        )
    for r in rows:
        print(r["flight"], {k: round(v, 1) for k, v in r["stages_s"].items()})


if __name__ == "__main__":
    main()
