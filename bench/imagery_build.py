"""Benchmark of the imagery stage: build time, size and tiles per km, and drape accuracy.

    .venv/bin/python bench/imagery_build.py [--length-m 300] [--errors realistic|none]
                                            [--camera video|stills|both] [--keep DIR]

Simulates a rail survey (the simulator's default 1280x720 video and 4000x3000 stills every
20 m at 25 m, thermal 640x512 at 1 Hz), processes it to the imagery stage with no RGB model,
and reports, per layer: frames painted, zoom range, tiles per zoom, MB and seconds per km of
flight, and the ratio of the layer's build time to decoding the same frames alone (the
baseline, timed in the same process right before). Then the finest RGB level is compared with
the simulator's true ground (``missions.sim.groundtruth``): median and p95 of the per-tile
shift in metres. Prints a Markdown table; the numbers go into docs/imagery.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from missions.sim.config import SimConfig  # noqa: E402
from missions.sim.groundtruth import GroundTruth, tile_alignment  # noqa: E402
from missions.sim.simulate import simulate_flight  # noqa: E402
from survey.config import load_config_text  # noqa: E402
from survey.process.frames import FrameReader  # noqa: E402
from survey.process.imagery import read_imagery_index  # noqa: E402
from survey.process.pipeline import process_flight  # noqa: E402
from survey.process.records import StreamPoses, stream_ids  # noqa: E402
from survey.process.select import Selection  # noqa: E402


def decode_seconds(flight: Path, run: Path, kinds: tuple[str, ...]) -> float:
    """The baseline: decoding the selected frames of these kinds, nothing else."""
    poses, sel = run / "stages" / "poses", run / "stages" / "select"
    t0 = time.perf_counter()
    for sid in stream_ids(poses):
        sp = StreamPoses.load(poses, sid)
        if sp.kind not in kinds or not (sel / f"{sid}.npz").is_file():
            continue
        rows = Selection.load(sel, sid).index
        for _row, frame in FrameReader(flight, sp, rows[sp.ok[rows]]):
            if frame is not None and kinds == ("thermal",):
                frame.temperature_c(0.95)  # the thermal layer needs temperatures
    return time.perf_counter() - t0


def pose_error(flight: Path, run: Path) -> str:
    """Mean east / north error of the selected RGB frames' logged positions (the drape's
    expected shift, less the lever arm and boresight no log states)."""
    import csv

    poses, sel = run / "stages" / "poses", run / "stages" / "select"
    de, dn = [], []
    for sid in stream_ids(poses):
        sp = StreamPoses.load(poses, sid)
        if sp.kind not in ("video", "still") or not (sel / f"{sid}.npz").is_file():
            continue
        truth_csv = (
            flight / "truth" / f"frames_rgb_{'video' if sp.kind == 'video' else 'still'}.csv"
        )
        with truth_csv.open() as fh:
            rows = list(csv.DictReader(fh))
        by = {(r["file"], int(r["frame_index"])): r for r in rows}
        for r in Selection.load(sel, sid).index:
            key = (sp.files[int(sp.file_index[r])], max(int(sp.frame[r]), 0))
            t = by.get(key)
            if t is None or not sp.ok[r]:
                continue
            lat = float(t["lat_deg"])
            dn.append((sp.lat_deg[r] - lat) * 111_320.0)
            de.append((sp.lon_deg[r] - float(t["lon_deg"])) * 111_320.0 * np.cos(np.radians(lat)))
    if not de:
        return "n/a"
    return f"east {np.mean(de):+.3f} m, north {np.mean(dn):+.3f} m over {len(de)} frames"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--length-m", type=float, default=300.0)
    ap.add_argument("--errors", choices=["realistic", "none"], default="realistic")
    ap.add_argument("--camera", choices=["video", "stills", "both"], default="both")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--keep", type=Path, help="keep the flight and run here")
    a = ap.parse_args()
    work = a.keep or Path(tempfile.mkdtemp(prefix="imagery_bench_"))
    flight, run = work / "flight", work / "run"
    sim = SimConfig(
        asset="rail", start_m=1200.0, length_m=a.length_m, seed=a.seed, errors=a.errors,
        video="" if a.camera == "stills" else "1280x720@30",
        stills_every_m=0.0 if a.camera == "video" else 20.0,
    )  # fmt: skip
    t0 = time.perf_counter()
    if not (flight / "truth" / "scenario.json").is_file():
        simulate_flight(sim, flight, overwrite=True)
    print(f"simulated {a.length_m:.0f} m in {time.perf_counter() - t0:.0f} s ({flight})")
    cfg = load_config_text('[process]\nmodels = ["none"]\nbasemap = ""\n', source="bench")
    process_flight(flight, run, config=cfg, progress=False, until="imagery")
    km = a.length_m / 1000.0
    base = {
        "rgb": decode_seconds(flight, run, ("video", "still")),
        "thermal": decode_seconds(flight, run, ("thermal",)),
    }
    process_flight(flight, run, config=cfg, progress=False, until="imagery", rerun_from="imagery")
    stage = run / "stages" / "imagery"
    print(f"\n{a.length_m:.0f} m rail, {a.camera}, {a.errors} errors, seed {a.seed}\n")
    print("| layer | frames | zoom | tiles (finest .. coarsest) | MB/km | s/km | x decode |")
    print("|---|---|---|---|---|---|---|")
    for la in read_imagery_index(stage):
        tiles = " / ".join(str(la.tiles[z]) for z in sorted(la.tiles, reverse=True))
        print(
            f"| {la.name} ({la.gsd_m * 100:.1f} cm) | {la.frames} | {la.min_zoom}-{la.max_zoom}"
            f" | {tiles} | {la.bytes / 1e6 / km:.1f} (+{(stage / la.geotiff).stat().st_size / 1e6 / km:.1f} GeoTIFF)"
            f" | {la.seconds / km:.0f} | {la.seconds / max(base[la.name], 1e-9):.2f} |"
        )
    rgb = next((la for la in read_imagery_index(stage) if la.name == "rgb"), None)
    if rgb is not None:
        al = tile_alignment(GroundTruth.from_flight(flight), stage / "rgb", rgb.max_zoom)
        if al.shift_m.size:
            print(
                f"\nRGB drape vs true ground: {al.shift_m.size} of {al.tiles} tiles measured, "
                f"shift median {np.median(al.shift_m):.3f} m, p95 {np.percentile(al.shift_m, 95):.3f} m"
                f" (mean east {np.mean(al.dx_m):+.3f} m, north {np.mean(al.dy_m):+.3f} m); "
                f"grey-value correlation median {np.median(al.corr):.2f}"
            )
        print(
            f"logged minus true camera position of the analysed RGB frames: {pose_error(flight, run)}"
        )
    if a.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
