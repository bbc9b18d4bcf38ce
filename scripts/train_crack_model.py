#!/usr/bin/env python
"""Train the default crack model, in resumable chunks, and export it into the package.

    .venv/bin/python scripts/train_crack_model.py                      # start or continue
    nohup .venv/bin/python scripts/train_crack_model.py --threads 2 \\
        > runs/crack_default.log 2>&1 &                                 # in the background
    kill -TERM <pid>                                                    # stop with a checkpoint
    .venv/bin/python scripts/train_crack_model.py --export              # tune + ship it

The recipe is the preset ``crack_semseg_R18_FPN`` (models/semseg/presets) with its seed, on the
UAV crack CC0 set (``train.txt``, 189 crops) and UAV75 (``train_img``, 17 crops), validated on
their val splits (63 + 10). A run folder continues from its last checkpoint with its own saved
config (``--restart`` starts over). ``--export`` evaluates the run's best weights on the val
splits, picks the threshold with the best mean F1 (2 px tolerance) and writes
``models/weights/crack_default.pth`` (fp16) and ``crack_default.recipe.json``.
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
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "crack_default", help="run folder")
    ap.add_argument("--data", type=Path, default=default_data_dir(), help="the defects folder")
    ap.add_argument("--max-iter", type=int, default=None, help="default: the preset's")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--device", default=None, help="cpu or cuda")
    ap.add_argument("--seed", type=int, default=None, help="default: the preset's")
    ap.add_argument("--batch", type=int, default=None, help="images per batch")
    ap.add_argument("--lr", type=float, default=None, help="base learning rate")
    ap.add_argument("--eval-period", type=int, default=None, help="validate every N iterations")
    ap.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    ap.add_argument("--stop-after-min", type=float, default=None, help="time-boxed chunk")
    ap.add_argument(
        "--until",
        type=int,
        default=None,
        metavar="N",
        help="stop with a checkpoint once N iterations are done (one stage of a schedule)",
    )
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument(
        "--export",
        nargs="?",
        const=ROOT / "models" / "weights" / "crack_default.pth",
        type=Path,
        help="tune the threshold on val and write the model file (default: the shipped one)",
    )
    ap.add_argument(
        "--tta",
        default="none",
        choices=("none", "flip", "d4"),
        help="with --export: test-time augmentation to tune the threshold with and record",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    if args.export is not None:
        from models.semseg.export import export_model

        meta = export_model(args.out, args.export, tta=args.tta)
        keys = ("path", "bytes", "thresholds", "tta", "val")
        print(json.dumps({k: meta[k] for k in keys}, indent=1))
        return 0

    from models.semseg.train import default_crack_data, train_crack_model

    train, val = default_crack_data(args.data)
    overrides: list[str] = []
    for key, value in (
        ("SOLVER.IMS_PER_BATCH", args.batch),
        ("SOLVER.BASE_LR", args.lr),
        ("TEST.EVAL_PERIOD", args.eval_period),
    ):
        if value is not None:
            overrides += [key, str(value)]
    res = train_crack_model(
        args.out,
        train=train,
        val=val,
        overrides=overrides,
        seed=args.seed,
        threads=args.threads,
        max_iter=args.max_iter,
        device=args.device,
        stop_after_s=None if args.stop_after_min is None else 60 * args.stop_after_min,
        stop_at_iter=args.until,
        restart=args.restart,
        progress=not args.no_progress,
    )
    print(json.dumps(res, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
