"""Benchmark: CPU inference of the Detectron2 instance models, tiling, ROI restriction, memory.

Measures, on this machine's CPU:

1. seconds per 1280x720 frame (one pass, no tiling) for both presets, R50-FPN and R18-FPN
   (Jetson), with the given weights or random ones (random weights make the worst case: every
   proposal passes the 0.05 score floor, so the mask head runs on the maximum number of
   detections);
2. a 4000x3000 frame tiled (512 px tiles, 96 px overlap) in full and restricted to a 600 px
   corridor along the frame's diagonal: tiles run, seconds, detections;
3. peak resident memory of a process that runs tiled inference on a 4000x3000 and a
   5472x3648 (20 MP) frame (each in its own process, so the peaks are separate);
4. the ONNX runtime (onnxruntime CPU) per 512 px tile against PyTorch, when ``--bundle`` is
   given.

Usage::

    .venv/bin/python bench/models_inference.py [--threads 2] [--r18 RUN] [--r50 RUN] [--bundle DIR]
        [--json out.json]

Prints one JSON document with the numbers and the load average during the run (the machine is
shared: a high load average means the timings are pessimistic).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _random_run(preset: str, out: Path) -> Path:
    """A run folder with random weights (config.yaml + model_final.pth)."""
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    from models.config import load_config

    cfg = load_config(preset)
    cfg.SURVEY.CLASSES = ["defect"]
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 1
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(cfg.dump())
    DetectionCheckpointer(build_model(cfg), str(out)).save("model_final")
    return out


def _frame(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A synthetic aerial-ish frame: smooth noise with a few bright blobs and lines."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(40, 200, (h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(max(3, h * w // 400_000)):
        x, y = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
        cv2.circle(img, (x + 30, y + 30), int(rng.integers(8, 25)), (230, 230, 230), -1)
        cv2.line(
            img,
            (x, y),
            (x + int(rng.integers(-200, 200)), y + int(rng.integers(-200, 200))),
            (20, 20, 20),
            2,
        )
    return img


def _time(fn: Any, repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bench_frame(run: Path, threads: int, repeat: int) -> dict[str, Any]:
    from models.predictor import Predictor

    p = Predictor.from_run(run, score_threshold=0.05, threads=threads)
    img = _frame(720, 1280)
    p(img)  # warm-up
    t, d = _time(lambda: p(img, tiled=False), repeat)
    return {"s_per_1280x720": round(t, 3), "detections": len(d), "repeat": repeat}


def bench_tiling(run: Path, threads: int) -> dict[str, Any]:
    from models.predictor import Predictor

    p = Predictor.from_run(run, score_threshold=0.05, threads=threads)
    img = _frame(3000, 4000, seed=1)
    band = 300.0
    corridor = np.array(
        [[0, 0], [band, 0], [3999, 3000 - band], [3999, 2999], [3999 - band, 2999], [0, band]],
        float,
    )
    p(img[:512, :512])  # warm-up
    out = {}
    for name, roi in (("full", None), ("corridor_600px", corridor)):
        t0 = time.perf_counter()
        d = p(img, roi=roi, tiled=True)
        out[name] = {
            "s": round(time.perf_counter() - t0, 2),
            "tiles": d.meta["tiles"],
            "detections": len(d),
            "before_merge": d.meta["before_merge"],
        }
    return out


def _peak_child(run: Path, h: int, w: int, threads: int) -> dict[str, Any]:
    code = f"""
import resource, sys, time, json
sys.path.insert(0, {str(ROOT)!r})
sys.path.insert(0, {str(Path(__file__).parent)!r})
from models_inference import _frame
from models.predictor import Predictor
p = Predictor.from_run({str(run)!r}, score_threshold=0.05, threads={threads})
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
img = _frame({h}, {w}, seed=2)
t0 = time.perf_counter()
d = p(img, tiled=True)
print(json.dumps({{"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "rss_after_load_mb": base / 1024, "frame_mb": img.nbytes / 2**20,
                   "s": time.perf_counter() - t0, "tiles": d.meta["tiles"], "detections": len(d)}}))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    res = json.loads(r.stdout.strip().splitlines()[-1])
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in res.items()}


def bench_onnx(run: Path, bundle: Path, threads: int, repeat: int) -> dict[str, Any]:
    from models.predictor import Predictor
    from models.runtime.onnx_detector import OnnxDetector

    img = _frame(512, 512, seed=3)
    p = Predictor.from_run(run, score_threshold=0.05, threads=threads)
    o = OnnxDetector(
        bundle, threads=threads, score_threshold=0.05, providers=["CPUExecutionProvider"]
    )
    p(img)
    o(img)
    tp, _ = _time(lambda: p(img, tiled=False), repeat)
    to, _ = _time(lambda: o(img), repeat)
    return {"pytorch_s_per_512_tile": round(tp, 3), "onnxruntime_s_per_512_tile": round(to, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--r18", type=Path, help="R18 run (default: random weights)")
    ap.add_argument("--r50", type=Path, help="R50 run (default: random weights)")
    ap.add_argument("--bundle", type=Path, help="ONNX bundle of the R18 run")
    ap.add_argument("--skip", default="", help="comma list of: frame,tiling,memory,onnx")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    skip = set(a.skip.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="bench_models_"))
    r18 = a.r18 or _random_run("mask_rcnn_R18_FPN_jetson", tmp / "r18")
    r50 = a.r50 or _random_run("mask_rcnn_R50_FPN", tmp / "r50")
    res: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "threads": a.threads,
            "load_avg_start": os.getloadavg(),
        },
        "weights": {"r18": str(a.r18 or "random"), "r50": str(a.r50 or "random")},
    }
    if "frame" not in skip:
        res["frame_1280x720"] = {
            "R50-FPN": bench_frame(r50, a.threads, a.repeat),
            "R18-FPN (Jetson)": bench_frame(r18, a.threads, a.repeat),
        }
    if "tiling" not in skip:
        res["tiling_4000x3000_R18"] = bench_tiling(r18, a.threads)
    if "memory" not in skip:
        res["memory_R18"] = {
            "4000x3000": _peak_child(r18, 3000, 4000, a.threads),
            "5472x3648 (20 MP)": _peak_child(r18, 3648, 5472, a.threads),
        }
    if a.bundle and "onnx" not in skip:
        res["onnx_vs_pytorch_R18"] = bench_onnx(r18, a.bundle, a.threads, a.repeat)
    res["machine"]["load_avg_end"] = os.getloadavg()
    res["machine"]["bench_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    text = json.dumps(res, indent=2)
    print(text)
    if a.json:
        a.json.write_text(text)


if __name__ == "__main__":
    main()
