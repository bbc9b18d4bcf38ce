#!/usr/bin/env python
"""Pixel precision / recall / F1 (2 px tolerance) of a crack model on the val splits.

    .venv/bin/python bench/crack_eval.py                              # the shipped default model
    .venv/bin/python bench/crack_eval.py --model runs/crack_default   # a training run
    .venv/bin/python bench/crack_eval.py --model runs/crack_maskrcnn  # a Mask R-CNN run

Val splits: UAV crack CC0 ``val.txt`` (63 crops) and UAV75 ``val_img`` (10 crops), class list
``["crack"]`` (UAV75's grey formwork joints are background). A semantic model is scored at its
own threshold (the shipped one was tuned on these splits) and over a threshold sweep; an
instance model (Mask R-CNN) as the union of its masks, at its score threshold and swept over
scores. Counts are pooled over each split's pixels. ``--tta flip`` scores the semantic model
with test-time flips (see models.semseg.predict). Prints JSON (and writes it with --json).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def val_records(data: Path) -> list[dict]:
    from models.datasets.sources import combine, load_dataset

    parts = [load_dataset(f"{data / 'uav_crack_cc0'}:val"), load_dataset(f"{data / 'uav75'}:val")]
    return combine(parts, ["crack"]).records


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="default", help="shipped name, model file or run folder")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "defects")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tol", type=float, default=2.0, help="tolerance in pixels")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    ap.add_argument(
        "--tta", default=None, help="test-time augmentation none|flip|d4 (default: the model's)"
    )
    args = ap.parse_args(argv)

    import torch

    from models.semseg.evaluate import evaluate_instances, evaluate_semantic
    from models.semseg.suite import model_kind, resolve_model

    torch.set_num_threads(args.threads)
    path = resolve_model(args.model)
    kind = model_kind(path)
    records = val_records(args.data)
    t0 = time.perf_counter()
    if kind == "semantic":
        from models.semseg.predict import SemSegPredictor

        pred = SemSegPredictor.from_file(path, tta=args.tta)
        thr = float(pred.thresholds[0])
        res = evaluate_semantic(
            pred, records, tol_px=args.tol, operating_threshold=thr, progress=True
        )
    else:
        from models.predictor import Predictor

        pred = Predictor.from_run(path, score_threshold=0.0)
        thr = float(pred.cfg.SURVEY.SCORE_THRESHOLD)
        res = evaluate_instances(
            pred, records, tol_px=args.tol, operating_threshold=thr, progress=True
        )
    out = {
        "model": str(args.model),
        "path": str(path),
        "kind": kind,
        "images": len(records),
        "seconds": round(time.perf_counter() - t0, 1),
        "threads": args.threads,
        "tta": getattr(pred, "tta", None),
        **{k: v for k, v in res.items() if k != "groups"},
        "best_per_split": {
            g: {k: v[k] for k in ("best_threshold", "best_f1", "best_precision", "best_recall")}
            for g, v in res["groups"].items()
        },
    }
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
