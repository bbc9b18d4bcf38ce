#!/usr/bin/env python
"""Inference time of the crack model on this CPU: a 512x512 crop and a tiled 1920x1080 frame.

    .venv/bin/python bench/crack_speed.py [--model default] [--threads 2] [--repeat 5]

Times the network (probabilities, tiled when larger than the model's tile size) and the whole
`survey predict` step for a frame (network + threshold + crack instances with skeleton length,
widths and outlines). Frames are real UAV75 / CC0 crops (a 1920x1080 frame is a mosaic of them).
Reports medians, the tile count, the model file size, parameters, and peak memory (RSS).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def mosaic(paths: list[Path], h: int, w: int) -> object:
    import numpy as np

    from models.semseg.data import read_image_bgr

    out = np.zeros((h, w, 3), np.uint8)
    k = 0
    for y in range(0, h, 448):
        for x in range(0, w, 448):
            img = read_image_bgr(paths[k % len(paths)])[:448, :448]
            k += 1
            hh, ww = min(448, h - y), min(448, w - x)
            out[y : y + hh, x : x + ww] = img[:hh, :ww]
    return out


def timed(fn, repeat: int) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "defects")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--tta", default=None, help="none|flip|d4 (default: the model's own)")
    args = ap.parse_args(argv)

    import torch

    from models.semseg.data import read_image_bgr
    from models.semseg.suite import ModelSuite, resolve_model
    from models.tiling import tile_boxes

    torch.set_num_threads(args.threads)
    path = resolve_model(args.model)
    suite = ModelSuite([args.model])
    pred = suite.members[0].predictor
    if args.tta is not None:
        from models.semseg.predict import TTA_MODES

        if args.tta not in TTA_MODES:
            raise SystemExit(f"--tta: expected one of {sorted(TTA_MODES)}, got {args.tta!r}")
        pred.tta = args.tta
    crop = read_image_bgr(sorted((args.data / "uav75" / "val_img").glob("*.jpg"))[0])
    if crop.shape[:2] != (512, 512):
        raise SystemExit(f"expected a 512x512 UAV75 crop, got {crop.shape}")
    frame = mosaic(sorted((args.data / "uav_crack_cc0" / "images").glob("*.png"))[:20], 1080, 1920)
    res = {
        "model": str(args.model),
        "file_mb": round(path.stat().st_size / 2**20, 2),
        "parameters_m": round(sum(p.numel() for p in pred.model.parameters()) / 1e6, 2),
        "threads": args.threads,
        "tta": pred.tta,
        "repeat": args.repeat,
        "crop_512_network_s": timed(lambda: pred.probabilities(crop), args.repeat),
        "crop_512_predict_s": timed(lambda: suite(crop, gsd_mm=1.0), args.repeat),
        "frame_1080p_tiles": len(tile_boxes(1080, 1920, pred.tile_px, pred.overlap_px)),
        "frame_1080p_network_s": timed(lambda: pred.probabilities(frame), args.repeat),
        "frame_1080p_predict_s": timed(lambda: suite(frame, gsd_mm=1.0), args.repeat),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
        "torch": str(torch.__version__),
    }
    for k in list(res):
        if k.endswith("_s"):
            res[k] = round(res[k], 3)
    text = json.dumps(res, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
