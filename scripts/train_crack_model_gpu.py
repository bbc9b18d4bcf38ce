#!/usr/bin/env python
"""The crack-model recipe on one CUDA GPU, in one script: train (resumable), export, report.

    .venv/bin/python scripts/train_crack_model_gpu.py --out runs/crack_gpu
    .venv/bin/python scripts/train_crack_model_gpu.py --out runs/crack_gpu --minutes 8   # a chunk

Same preset, data, seed and augmentation as ``scripts/train_crack_model.py``; what a GPU allows
changes: batch 16 (learning rate scaled by sqrt(16/4) = 2x), 8000 iterations, validation every
1000, checkpoints every 500. ``--minutes`` stops with a checkpoint after that long (a lent
device's time limit); run the same command again to continue. When the run has finished (or with
``--export-now``) the best weights are exported, fp16 with the threshold tuned on the val
splits, to ``--export`` (default ``models/weights/crack_default.pth``), and the scores printed.
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
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "crack_gpu")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "defects")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-iter", type=int, default=8000)
    ap.add_argument("--threads", type=int, default=8, help="CPU threads (data + eval)")
    ap.add_argument("--minutes", type=float, default=None, help="stop with a checkpoint after")
    ap.add_argument(
        "--export", type=Path, default=ROOT / "models" / "weights" / "crack_default.pth"
    )
    ap.add_argument("--export-now", action="store_true", help="export even if not finished")
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here; use scripts/train_crack_model.py on the CPU")

    from models.semseg.config import crack_semseg_cfg
    from models.semseg.export import export_model
    from models.semseg.train import default_crack_data, train_crack_model

    base = crack_semseg_cfg()
    scale = (args.batch / base.SOLVER.IMS_PER_BATCH) ** 0.5
    overrides = [
        "SOLVER.IMS_PER_BATCH", str(args.batch),
        "SOLVER.BASE_LR", str(base.SOLVER.BASE_LR * scale),
        "SOLVER.CHECKPOINT_PERIOD", "500",
        "TEST.EVAL_PERIOD", "1000",
    ]  # fmt: skip
    train, val = default_crack_data(args.data)
    res = train_crack_model(
        args.out,
        train=train,
        val=val,
        overrides=overrides,
        threads=args.threads,
        max_iter=args.max_iter,
        device=args.device,
        stop_after_s=None if args.minutes is None else 60 * args.minutes,
        progress=False,
    )
    print(json.dumps(res, default=str))
    if res["state"] == "finished" or args.export_now:
        meta = export_model(args.out, args.export)
        print(json.dumps({k: meta[k] for k in ("path", "bytes", "thresholds", "val")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
