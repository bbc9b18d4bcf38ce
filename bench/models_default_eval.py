"""Evaluate an instance model on the data the README reports: UAV75 val, simulator val, simulated flights.

Usage::

    .venv/bin/python bench/models_default_eval.py MODEL --shared ../shared/data \
        [--sim-val runs/sim/val] [--flight runs/simflight_rail] [--flight runs/simflight_pipe] \
        [--threads 2] [--json out.json]

MODEL is a run folder, a weights file or ``maskrcnn`` (the shipped model). Each data set is
evaluated on the model's classes (ground truth of other classes is left out and listed); the
simulated flights are evaluated on their RGB stills (``truth/coco_rgb_still.json``), tiled when
larger than 4 MP. Prints one JSON document: per data set, COCO box/mask AP, AP50, per-class
mask AP, precision/recall at the model's operating threshold, and seconds per image.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _one(pred: Any, name: str, spec: str) -> dict[str, Any]:
    from models.datasets.sources import load_dataset, remap_classes
    from models.evaluation.validate import evaluate_model

    ds = load_dataset(spec)
    dropped = {c: n for c, n in ds.instance_counts().items() if c not in pred.class_names and n}
    ds = remap_classes(ds, list(pred.class_names))
    t0 = time.perf_counter()
    rep = evaluate_model(pred, ds.records, pred.class_names)
    dt = time.perf_counter() - t0
    per = {c: r for c, r in rep.per_class.items() if r.n_gt > 0}
    return {
        "data": spec,
        "images": rep.n_images,
        "instances": rep.n_gt,
        "detections": rep.n_det,
        "box_AP": rep.bbox.get("AP"),
        "box_AP50": rep.bbox.get("AP50"),
        "mask_AP": rep.segm.get("AP"),
        "mask_AP50": rep.segm.get("AP50"),
        "threshold": rep.score_threshold,
        "precision": rep.precision,
        "recall": rep.recall,
        "f1": rep.f1,
        "best_f1_threshold": rep.meta.get("best_f1_threshold"),
        "best_f1": rep.meta.get("best_f1"),
        "per_class_mask_AP": {c: r.mask_ap for c, r in per.items()},
        "per_class_recall": {c: r.recall for c, r in per.items()},
        "classes_not_in_model": dropped,
        "s_per_image": dt / max(1, rep.n_images),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--sim-val", action="append", default=[])
    ap.add_argument("--flight", action="append", default=[], type=Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()

    from models.evaluation.report import nan_to_none
    from models.predictor import Predictor

    pred = Predictor.from_run(a.model, score_threshold=0.0, threads=a.threads)
    sets = {"UAV75 val": f"{a.shared}/defects/uav75:val"}
    sets.update({f"simulator val ({Path(s).name})": s for s in a.sim_val})
    sets.update(
        {f"simulated flight {f.name}": str(f / "truth" / "coco_rgb_still.json") for f in a.flight}
    )
    out: dict[str, Any] = {
        "model": a.model,
        "classes": list(pred.class_names),
        "threshold": float(pred.cfg.SURVEY.SCORE_THRESHOLD),
    }
    for name, spec in sets.items():
        out[name] = _one(pred, name, spec)
        print(name, json.dumps(nan_to_none(out[name]))[:300], file=sys.stderr)
    text = json.dumps(nan_to_none(out), indent=2)
    print(text)
    if a.json:
        a.json.write_text(text)


if __name__ == "__main__":
    main()
