#!/usr/bin/env python
"""Train the default crack model, in resumable chunks, and export it into the package.

    .venv/bin/python scripts/train_crack_model.py                      # start or continue
    nohup .venv/bin/python scripts/train_crack_model.py --threads 2 \\
        > runs/crack_default.log 2>&1 &                                 # in the background
    kill -TERM <pid>                                                    # stop with a checkpoint
    .venv/bin/python scripts/train_crack_model.py --export              # tune + ship it
    .venv/bin/python scripts/train_crack_model.py --replay models/weights/crack_default.recipe.json

``--replay`` repeats the schedule a shipped model was trained with (its recipe's ``stages``:
MAX_ITER and end iteration of each call, e.g. a cosine schedule resumed with a longer one),
continuing from wherever the run folder is; stop it with ``kill -TERM`` at any time.

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
    ap.add_argument(
        "--criterion",
        default="mean",
        choices=("mean", "min"),
        help="with --export: threshold with the best mean F1 over the val splits, or the best "
        "worst-split F1",
    )
    ap.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="RECIPE",
        help="run the stages recorded in a recipe.json (the shipped model's schedule)",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    if args.export is not None:
        from models.semseg.export import export_model

        meta = export_model(args.out, args.export, tta=args.tta, criterion=args.criterion)
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
    if args.replay is not None:
        return replay(args, train, val, overrides)
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


def iterations_done(out: Path) -> int:
    """How many iterations a run folder has done (0 for a new one)."""
    try:
        info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    return int(info.get("iterations_done") or 0) if (out / "last_checkpoint").is_file() else 0


def replay(args: argparse.Namespace, train: list[str], val: list[str], overrides: list[str]) -> int:
    """Run the stages of a recipe one after the other, skipping those the run has done."""
    from models.semseg.train import train_crack_model

    try:
        recipe = json.loads(args.replay.read_text(encoding="utf-8"))
        stages = recipe["recipe"]["stages"]
        seed = int(recipe["recipe"]["seed"])
        plan = [(int(s["end_iter"]), int(s["max_iter"])) for s in stages]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"{args.replay}: not a recipe with stages ({exc})") from None
    res: dict = {}
    for k, (end, max_iter) in enumerate(plan, 1):
        done = iterations_done(args.out)
        if done >= end:
            logging.info("stage %d/%d (to %d of %d) already done", k, len(plan), end, max_iter)
            continue
        logging.info(
            "stage %d/%d: iterations %d..%d of a %d schedule", k, len(plan), done, end, max_iter
        )
        res = train_crack_model(
            args.out,
            train=train,
            val=val,
            overrides=overrides,
            seed=seed if args.seed is None else args.seed,
            threads=args.threads,
            max_iter=max_iter,
            device=args.device,
            stop_at_iter=end if end < max_iter else None,
            progress=not args.no_progress,
        )
        if res["end_iter"] < end:  # stopped by a signal: resume later with the same command
            print(json.dumps(res, indent=1, default=str))
            return 0
    print(json.dumps(res or {"state": "finished", "out": str(args.out)}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
