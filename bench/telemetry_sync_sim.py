"""Benchmark: clock-offset estimates on simulated flights with known clocks.

Simulates short flights (``missions.sim``) with different seeds, time zones and frame rates
and reports, for each method, the error of the estimated camera-to-log offset against the
truth, the stated 1-sigma uncertainty, and the time taken.

    .venv/bin/python bench/telemetry_sync_sim.py [--seeds 3] [--out /tmp/simbench]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def run(seed: int, fps: float, zone_h: float, out: Path) -> list[dict[str, object]]:
    from missions.sim.config import SimConfig
    from missions.sim.simulate import simulate_flight
    from survey.telemetry import read_photos, read_track, sync_photos, sync_video
    from survey.telemetry.errors import TimeSyncError

    cfg = SimConfig(
        length_m=80.0,
        video=f"320x180@{fps:g}",
        stills_every_m=8.0,
        still_size="640x480",
        thermal_every_s=0.0,
        camera_utc_offset_h=zone_h,
        texture_res_m=0.05,
        coco_every=10_000,
        seed=seed,
    )
    simulate_flight(cfg, out, overwrite=True)
    clocks = json.loads((out / "truth" / "scenario.json").read_text())["time"]["clock_offsets_s"]
    frame0 = float(
        (out / "truth" / "frames_rgb_video.csv").read_text().splitlines()[1].split(",")[3]
    )
    video_true = frame0 + clocks["log"]
    photo_true = clocks["log"] - clocks["rgb_camera"]
    srt = read_track(next((out / "DCIM").rglob("*.SRT")))
    mp4 = next((out / "DCIM").rglob("*.MP4"))
    photos = read_photos(sorted((out / "DCIM").rglob("*_W.JPG")))
    rows = []
    for log_name in ("flight.tlog", "flight_log.csv"):
        log = read_track(out / "logs" / log_name)
        for what, fn, true in (
            ("video (SRT track)", lambda lg=log: sync_video(srt, lg), video_true),
            (
                "video (image motion)",
                lambda lg=log: sync_video(None, lg, video_path=mp4),
                video_true,
            ),
            ("photos", lambda lg=log: sync_photos(photos, lg), photo_true),
            (
                "photos (positions only)",
                lambda lg=log: sync_photos(photos, lg.replace(events=None)),
                photo_true,
            ),
        ):
            t0 = time.perf_counter()
            try:
                est = fn()
            except TimeSyncError as exc:
                rows.append(
                    {
                        "seed": seed,
                        "fps": fps,
                        "zone_h": zone_h,
                        "log": log_name,
                        "what": what,
                        "method": f"failed: {exc.message}",
                        "error_ms": float("nan"),
                        "sigma_ms": float("nan"),
                        "frame_ms": 1000 / fps,
                        "s": 0.0,
                    }
                )
                continue
            rows.append(
                {
                    "seed": seed,
                    "fps": fps,
                    "zone_h": zone_h,
                    "log": log_name,
                    "what": what,
                    "method": est.method,
                    "error_ms": 1000 * (est.offset_s - true),
                    "sigma_ms": 1000 * est.sigma_s,
                    "frame_ms": 1000 / fps,
                    "s": time.perf_counter() - t0,
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    base = args.out or Path(tempfile.mkdtemp(prefix="simbench"))
    cases = [
        (s, fps, zone)
        for s, (fps, zone) in zip(
            range(1, args.seeds + 1), [(30.0, 2.0), (25.0, -5.0), (59.94, 5.5)] * 4, strict=False
        )
    ]
    rows = []
    for seed, fps, zone in cases:
        rows += run(seed, fps, zone, base / f"seed{seed}")
    print(
        "| seed | fps | zone (h) | log | what | method | error (ms) | sigma (ms) | frame (ms) | time (s) |"
    )
    print("|---:|---:|---:|---|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['seed']} | {r['fps']:g} | {r['zone_h']:+g} | {r['log']} | {r['what']} | {r['method']} | "
            f"{r['error_ms']:+.1f} | {r['sigma_ms']:.1f} | {r['frame_ms']:.1f} | {r['s']:.2f} |"
        )
    worst = max(
        abs(float(r["error_ms"])) / float(r["frame_ms"])
        for r in rows
        if r["error_ms"] == r["error_ms"]
    )  # type: ignore[arg-type]
    print(f"\nworst |error| / frame interval: {worst:.2f}")


if __name__ == "__main__":
    main()
