"""The review-to-training loop, end to end: review a run, export it, fine-tune, compare.

    .venv/bin/python bench/review_loop.py [--work /tmp/review_loop] [--iters 150]

1. Simulates a rail flight (A, the one "reviewed") and a held-out one (B) at chainages no
   test, benchmark, demo or training flight uses, and processes A with the shipped rail model.
2. Reviews A as an inspector would, with the simulator's truth standing in for their eyes:
   a defect within 1.5 m of a true defect of its class is confirmed, any other is rejected,
   and every true defect of a rail RGB class that the model missed is added with its true
   outline (`survey.review.edits.add_inspector_defect`, the review app's path).
3. `survey export A -f coco` (confirmed sightings, rejected ones as false_positive, the added
   defects projected into the frames that saw them).
4. Fine-tunes the shipped model on that export (`survey train --init`, the model's own
   classes, a short schedule), and `survey compare`s the old and the new model on B's exact
   COCO truth (frames the loop never saw).
Prints the review counts and the compare table; the numbers go into docs/imagery.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
from e2e_train_detector import RAIL_RGB, to_coco  # noqa: E402

FLIGHTS: dict[str, dict[str, Any]] = {
    "A": {"start_m": 3500.0, "length_m": 160.0, "seed": 301},
    "B": {"start_m": 3700.0, "length_m": 120.0, "seed": 302},
}
SURVEY = str(Path(sys.executable).with_name("survey"))


def sh(*args: str) -> str:
    print("$ survey", " ".join(args[1:] if args[0] == SURVEY else args), flush=True)
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r.stdout


def simulate(work: Path) -> dict[str, Path]:
    from missions.sim.config import SimConfig
    from missions.sim.simulate import simulate_flight

    out = {}
    for name, kw in FLIGHTS.items():
        d = work / f"flight_{name}"
        if not (d / "truth" / "scenario.json").is_file():
            cfg = SimConfig(video="1280x720@4", stills_every_m=0.0, thermal_every_s=0.0,
                            defect_density=4.0, **kw)  # fmt: skip
            simulate_flight(cfg, d, overwrite=True)
        out[name] = d
    return out


def review(run: Path, flight: Path) -> dict[str, int]:
    """Confirm / reject every defect against the truth, add the missed ones."""
    import geopandas as gpd

    from survey.defects import Review
    from survey.review.edits import add_inspector_defect
    from survey.review.frames import FrameIndex
    from survey.store import open_run_store

    truth = gpd.read_file(flight / "truth" / "defects.gpkg", layer="defects")
    truth = truth[truth["class"].isin(RAIL_RGB) & truth["bands"].str.contains("rgb")]
    txy = np.stack([truth.geometry.centroid.x, truth.geometry.centroid.y], -1)
    counts = {"confirmed": 0, "rejected": 0, "added": 0}
    with open_run_store(run) as st:
        ds = st.read_defects()
        info = st.read_run()
        index = FrameIndex(run, info.config_toml if info else "")
        g = gpd.GeoSeries(list(ds.geometry), crs=4326).to_crs(truth.crs)
        found = set()
        for i in range(len(ds)):
            c = g.iloc[i].centroid
            d = np.hypot(txy[:, 0] - c.x, txy[:, 1] - c.y)
            same = (truth["class"].to_numpy() == ds.class_name[i]) & (d < 1.5)
            decision = "confirmed" if same.any() else "rejected"
            if same.any():
                found.add(int(np.flatnonzero(same)[np.argmin(d[same])]))
            st.record_review(Review(defect_id=str(ds.defect_id[i]), decision=decision,
                                    reviewer="loop", decided_t_s=time.time()))  # fmt: skip
            counts[decision] += 1
        seen = index.streams
        for k in range(len(truth)):
            if k in found:
                continue
            row = truth.iloc[k]
            ll = gpd.GeoSeries([row.geometry], crs=truth.crs).to_crs(4326).iloc[0]
            if not seen or not index.frames_seeing(ll.centroid.x, ll.centroid.y, limit=1):
                continue  # no analysed frame saw it: the inspector cannot see it either
            add_inspector_defect(index, st, {
                "geometry": json.loads(json.dumps(ll.__geo_interface__)),
                "class_name": row["class"], "severity": int(row["severity"]),
                "comment": "missed by the model", "reviewer": "loop"})  # fmt: skip
            counts["added"] += 1
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/review_loop"))
    ap.add_argument("--iters", type=int, default=150)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    work = a.work
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    fl = simulate(work)
    print(f"simulated in {time.perf_counter() - t0:.0f} s")
    run = work / "run_A"
    if not (run / "summary.json").is_file():
        sh(SURVEY, "process", str(fl["A"]), "--out", str(run))
    counts = review(run, fl["A"])
    print("review:", counts)
    export = work / "coco_A"
    print(sh(SURVEY, "export", str(run), "-f", "coco", "-o", str(export)))
    _tr, _va = to_coco([fl["B"]], work / "coco_B", val_every=10**9)  # every frame of B: train
    test_b = work / "coco_B" / "instances_train.json"
    old = str(ROOT / "models" / "weights" / "rail_sim_maskrcnn.pth")
    ft = work / "finetune"
    t1 = time.perf_counter()
    sh(SURVEY, "train", "--dataset", str(export / "annotations.json"), "--preset",
       "mask_rcnn_R18_FPN_jetson", "--init", old, "--classes", ",".join(RAIL_RGB),
       "--out", str(ft), "--max-iter", str(a.iters), "--threads", str(a.threads),
       "--no-progress", "--set", "SOLVER.BASE_LR", "0.0001", "--set", "SOLVER.WARMUP_ITERS",
       "10", "--set", "SOLVER.IMS_PER_BATCH", "2", "--set", "SURVEY.AUG.CROP_SIZE", "256")  # fmt: skip
    print(f"fine-tuned {a.iters} iterations in {time.perf_counter() - t1:.0f} s")
    print(sh(SURVEY, "compare", old, str(ft), "--dataset", str(test_b)))


if __name__ == "__main__":
    main()
