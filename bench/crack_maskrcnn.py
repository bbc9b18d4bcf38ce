#!/usr/bin/env python
"""The Mask R-CNN baseline for cracks: train it on the crack model's data, score it the same way.

    .venv/bin/python bench/crack_maskrcnn.py --out runs/crack_maskrcnn --max-iter 1500
    .venv/bin/python bench/crack_eval.py --model runs/crack_maskrcnn

Preset ``mask_rcnn_R18_FPN_jetson`` (ResNet-18 + 128-channel FPN, GroupNorm, from scratch) on
the same training splits as the crack model (CC0 ``train.txt`` + UAV75 ``train_img``, class
``crack``), the same crop size (256, 80 % centred on a crack), batch 4 and optimiser, with the
instance masks dilated by 2 px (Mask R-CNN's 28x28 mask targets lose one-pixel cracks
otherwise; see docs/STACK). Resumable like the crack model (SIGTERM saves a checkpoint).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "crack_maskrcnn")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "defects")
    ap.add_argument("--max-iter", type=int, default=1500)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--stop-after-min", type=float, default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    from models.semseg.train import default_crack_data
    from models.training.engine import load_run_config, new_run_config, train

    tr, va = default_crack_data(args.data)
    resume = (args.out / "last_checkpoint").is_file()
    if resume:
        cfg = load_run_config(args.out)
        cfg.defrost()
        cfg.SURVEY.THREADS = args.threads
        cfg.SOLVER.MAX_ITER = args.max_iter
    else:
        cfg = new_run_config(
            "mask_rcnn_R18_FPN_jetson",
            tr,
            va,
            classes=["crack"],
            overrides=[
                "SURVEY.AUG.CROP_SIZE",
                "256",
                "SURVEY.AUG.CROP_FOCUS",
                "0.8",
                "SURVEY.MASK_DILATE_PX",
                "2",
                "SOLVER.IMS_PER_BATCH",
                "4",
                "SOLVER.CHECKPOINT_PERIOD",
                "100",
                "TEST.EVAL_PERIOD",
                "0",
            ],  # fmt: skip
            max_iter=args.max_iter,
            threads=args.threads,
            seed=0,
        )
    stop_s = None if args.stop_after_min is None else 60 * args.stop_after_min
    res = train(cfg, args.out, resume=resume, progress=False, stop_after_s=stop_s)
    state = "finished" if res.end_iter >= args.max_iter else "stopped"
    print(json.dumps({"state": state, "end_iter": res.end_iter, "weights": str(res.weights)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
