#!/usr/bin/env python
"""Train the default crack model (the recipe of the shipped ``models/weights/crack_default.pth``).

    .venv/bin/python scripts/train_crack_model.py --out runs/crack_default            # start
    .venv/bin/python scripts/train_crack_model.py --out runs/crack_default            # resume
    nohup .venv/bin/python scripts/train_crack_model.py --out runs/crack_default \\
        --threads 2 > runs/crack_default.log 2>&1 &                                   # background
    .venv/bin/python scripts/train_crack_model.py --out runs/crack_default --export \\
        models/weights/crack_default.pth                                              # ship it

Data (``../shared/data/defects``, or ``--data``): UAV crack CC0 ``train.txt`` (189 crops) and
UAV75 ``train_img``/``train_lab`` (17 crops; white = crack, grey formwork joints = background);
validation on their val splits. A run folder resumes from its last checkpoint unless
``--restart``; SIGTERM/SIGINT save a checkpoint before exiting. ``--export`` writes the best
model (fp16, thresholds tuned on the val splits, recipe and scores in its metadata).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def default_data_dir() -> Path:
    env = os.environ.get("SURVEY_SHARED_DATA")
    return (Path(env) if env else ROOT.parent / "shared" / "data") / "defects"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "crack_default")
    ap.add_argument("--data", type=Path, default=default_data_dir(), help="the defects folder")
    ap.add_argument("--max-iter", type=int, default=12000)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--eval-period", type=int, default=1000)
    ap.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    ap.add_argument("--stop-after-min", type=float, default=None, help="time-boxed chunk")
    ap.add_argument("--export", type=Path, default=None, help="write the best model here, exit")
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    from models.semseg.config import crack_semseg_cfg, load_semseg_cfg
    from models.semseg.data import parse_dataset_spec

    if args.export is not None:
        from models.semseg.export import export_best

        path = export_best(args.out, args.export)
        print(json.dumps({"exported": str(path), "bytes": path.stat().st_size}))
        return 0

    d = args.data
    train = {
        "uav_crack_cc0": parse_dataset_spec(str(d / "uav_crack_cc0" / "train.txt")),
        "uav75": parse_dataset_spec(f"{d / 'uav75' / 'train_img'}:{d / 'uav75' / 'train_lab'}@255"),
    }
    val = {
        "uav_crack_cc0": parse_dataset_spec(str(d / "uav_crack_cc0" / "val.txt")),
        "uav75": parse_dataset_spec(f"{d / 'uav75' / 'val_img'}:{d / 'uav75' / 'val_lab'}@255"),
    }
    cfg_file = args.out / "config.yaml"
    if cfg_file.is_file() and (args.out / "last_checkpoint").is_file() and not args.restart:
        cfg = load_semseg_cfg(cfg_file)  # a resumed run keeps its recipe
        cfg.SOLVER.NUM_THREADS = args.threads
    else:
        cfg = crack_semseg_cfg(max_iter=args.max_iter, device=args.device)
        cfg.SOLVER.NUM_THREADS = args.threads
        cfg.SOLVER.IMS_PER_BATCH = args.batch
        cfg.SOLVER.BASE_LR = args.lr
        cfg.INPUT.CROP_PX = args.crop
        cfg.TEST.EVAL_PERIOD = args.eval_period
        if args.seed is not None:
            cfg.SEED = args.seed
    from models.semseg.train import train_semseg

    res = train_semseg(
        cfg,
        train,
        val,
        args.out,
        resume=not args.restart,
        stop_after_s=None if args.stop_after_min is None else 60 * args.stop_after_min,
        recipe_extra={"command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])])},
        progress=sys.stderr.isatty(),
    )
    print(json.dumps({k: v for k, v in res.items() if k != "sweep"}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
