"""Train the rail-defect detector the end-to-end runs use, on simulated flights (never the test ones).

The shipped default models are crack models (UAV75); the simulator's rail defects (missing
fasteners, sleeper defects, ballast fouling, vegetation, drainage, obstructions, broken rails,
rail-head damage) need a detector trained on imagery like theirs. This script:

1. simulates training flights over the bundled railway at chainages the tests, the benchmark
   and the demo never fly (2.2-2.7 km nadir at 25 m, 3.0-3.4 km at -55 deg, 1.6-2.0 km at 15 m;
   4 fps video, dense defects);
2. turns their video frames and the simulator's exact COCO masks into a COCO dataset (rail RGB
   classes; every 8th frame held out for validation);
3. fine-tunes Mask R-CNN on EfficientNet-Lite0 + FPN from its ImageNet weights
   (``mask_rcnn_Lite0_FPN``; ``--preset mask_rcnn_R18_FPN_jetson`` trains the older from-scratch
   R18 for comparison) with this project's training engine, resuming when the run folder exists;
   the checkpoint is the best validation mask AP (every ``--eval-period`` iterations);
4. packages the best weights as one self-contained fp16 file (config and recipe embedded) and
   writes its model card ``NAME.card.json`` beside it (``survey inspect`` shows it).

    .venv/bin/python bench/e2e_train_detector.py --work /tmp/rail_train --iters 2000 \
        --dest models/weights/rail_sim_maskrcnn.pth

CPU time: the flights take ~3 min each; training on 2 threads, batch 2 of 256 px crops.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

RAIL_RGB = (
    "broken_rail",
    "missing_fastener",
    "sleeper_defect",
    "rail_head_damage",
    "ballast_defect",
    "vegetation",
    "drainage",
    "obstruction",
)

FLIGHTS: dict[str, dict[str, Any]] = {
    "f1": {"start_m": 2200.0, "length_m": 500.0, "seed": 101},
    "f2": {"start_m": 3000.0, "length_m": 400.0, "seed": 102, "gimbal_pitch_deg": -55.0},
    "f3": {"start_m": 1600.0, "length_m": 400.0, "seed": 103, "altitude_agl_m": 15.0},
    # flown the other way, higher, slightly oblique: a fourth look at the same classes
    "f4": {"start_m": 3700.0, "length_m": 400.0, "seed": 104, "altitude_agl_m": 30.0,
           "direction": -1, "gimbal_pitch_deg": -75.0},
}  # fmt: skip


def simulate(work: Path) -> list[Path]:
    from missions.sim.config import SimConfig
    from missions.sim.simulate import simulate_flight

    out = []
    for name, kw in FLIGHTS.items():
        d = work / name
        if not (d / "truth" / "coco_rgb_video.json").is_file():
            cfg = SimConfig(
                video="1280x720@4", stills_every_m=0.0, thermal_every_s=0.0, defect_density=4.0,
                **kw,
            )  # fmt: skip
            simulate_flight(cfg, d, overwrite=True, progress=True)
        out.append(d)
    return out


def to_coco(flights: list[Path], dest: Path, val_every: int = 8) -> tuple[Path, Path]:
    """Frames as JPEG + two COCO files (train, val) with the rail RGB classes."""
    import cv2

    dest.mkdir(parents=True, exist_ok=True)
    (dest / "images").mkdir(exist_ok=True)
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(RAIL_RGB)]
    parts: dict[str, dict[str, list[Any]]] = {
        s: {"images": [], "annotations": []} for s in ("train", "val")
    }
    next_img, next_ann = 1, 1
    for f in flights:
        coco = json.loads((f / "truth" / "coco_rgb_video.json").read_text())
        names = {c["id"]: c["name"] for c in coco["categories"]}
        by_img: dict[int, list[Any]] = {}
        for a in coco["annotations"]:
            by_img.setdefault(a["image_id"], []).append(a)
        video = f / coco["images"][0]["file_name"]
        cap = cv2.VideoCapture(str(video))
        for k, im in enumerate(coco["images"]):
            ok, frame = cap.read()
            if not ok:
                break
            if im.get("frame_index", k) != k:
                raise RuntimeError(f"{video}: COCO images out of frame order at {k}")
            fname = f"{f.name}_{k:05d}.jpg"
            split = "val" if k % val_every == val_every // 2 else "train"
            path = dest / "images" / fname
            if not path.is_file():
                cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, 92])
            parts[split]["images"].append(
                {"id": next_img, "file_name": f"images/{fname}", "width": im["width"],
                 "height": im["height"]}
            )  # fmt: skip
            for a in by_img.get(im["id"], []):
                n = names[a["category_id"]]
                if n not in RAIL_RGB:
                    continue
                parts[split]["annotations"].append(
                    {**{k2: a[k2] for k2 in ("bbox", "area", "segmentation", "iscrowd")},
                     "id": next_ann, "image_id": next_img, "category_id": RAIL_RGB.index(n) + 1}
                )  # fmt: skip
                next_ann += 1
            next_img += 1
        cap.release()
    out = []
    for split, d in parts.items():
        p = dest / f"instances_{split}.json"
        p.write_text(json.dumps({"images": d["images"], "annotations": d["annotations"],
                                 "categories": cats}))  # fmt: skip
        out.append(p)
        print(f"{split}: {len(d['images'])} images, {len(d['annotations'])} instances")
    return out[0], out[1]


PRESET = "mask_rcnn_Lite0_FPN"


def train(
    train_json: Path,
    val_json: Path,
    run: Path,
    iters: int,
    threads: int,
    *,
    preset: str = PRESET,
    lr: float = 4e-4,
    eval_period: int = 250,
) -> Any:
    from models.training.engine import new_run_config
    from models.training.engine import train as run_training

    cfg = new_run_config(
        preset,
        [str(train_json)],
        [str(val_json)],
        overrides=[
            "SURVEY.AUG.CROP_SIZE", "256",
            "SURVEY.AUG.CROP_FOCUS", "0.8",
            "SURVEY.AUG.SCALE", "[0.7, 1.4]",
            "SOLVER.IMS_PER_BATCH", "2",
            "SOLVER.CHECKPOINT_PERIOD", "100",
            "SOLVER.WARMUP_ITERS", "100",
            "TEST.EVAL_PERIOD", str(eval_period),
            "SOLVER.BASE_LR", str(lr),
            "SURVEY.EVAL_MAX_IMAGES", "60",
            "SURVEY.SCORE_THRESHOLD", "0.5",
        ],
        classes=list(RAIL_RGB),
        seed=0,
        threads=threads,
        max_iter=iters,
    )  # fmt: skip
    t0 = time.perf_counter()
    res = run_training(cfg, run, resume=True, progress=True)
    print(f"trained in {time.perf_counter() - t0:.0f} s: {res}")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/rail_train"))
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--preset", default=PRESET, help=f"model preset (default {PRESET})")
    ap.add_argument("--lr", type=float, default=4e-4, help="base learning rate")
    ap.add_argument("--eval-period", type=int, default=400, help="iterations between validations")
    ap.add_argument("--dest", type=Path, default=None, help="packaged fp16 model file")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    flights = simulate(a.work)
    tr, va = to_coco(flights, a.work / "coco")
    run = a.work / "run"
    train(tr, va, run, a.iters, a.threads, preset=a.preset, lr=a.lr, eval_period=a.eval_period)
    if a.dest:
        package(run, va, a.dest, preset=a.preset, lr=a.lr, iters=a.iters)


def package(run: Path, val_json: Path, dest: Path, *, preset: str, lr: float, iters: int) -> Any:
    """Choose the operating threshold on the validation frames (best F1; never a test flight),
    package the best checkpoint with it, and write the model card ``NAME.card.json`` beside it."""
    from models.datasets.sources import combine, load_dataset
    from models.default_model import package_run
    from models.evaluation.coco import evaluate
    from models.evaluation.validate import predict_records
    from models.predictor import Predictor

    pred = Predictor.from_run(run, score_threshold=0.0)
    names = list(pred.class_names)
    ds = combine([load_dataset(str(val_json))], names)
    used, dets, _ = predict_records(pred, ds.records)  # one pass at score >= 0
    thr = float(evaluate(used, dets, names).meta["best_f1_threshold"])
    rep = evaluate(used, dets, names, score_threshold=thr)
    best = json.loads((run / "eval" / "best.json").read_text())
    info = json.loads((run / "run.json").read_text())
    card = {
        "model": Path(dest).name,
        "kind": "instance",
        "recipe": {
            "module": "bench/e2e_train_detector.py",
            "preset": preset,
            "base_lr": lr,
            "classes": list(RAIL_RGB),
            "max_iter": iters,
            "seed": 0,
            "train": "simulated flights "
            + ", ".join(
                f"{k} ({v['start_m']:.0f} m + {v['length_m']:.0f} m, seed {v['seed']})"
                for k, v in FLIGHTS.items()
            ),
            "val": "every 8th video frame of the same flights",
        },
        "flights": FLIGHTS,
        "iterations": info.get("iterations_done"),
        "best_iter": best.get("iter"),
        "checkpoint_chosen_on": f"val, best {best.get('metric')} ({best.get('value'):.3f})",
        "score_threshold": thr,
        "threshold_chosen_on": "val (best F1 over all classes)",
        "val": {"images": rep.n_images, **rep.to_dict()},
        "test": None,
        "defect_classes": {c: c for c in RAIL_RGB},
        "gsd_m": 0.028,
        "sources": "the project's own simulator (missions/sim), exact COCO masks; no third-party data",
    }
    out = package_run(run, dest, meta=card, score_threshold=thr)
    Path(dest).with_suffix(".card.json").write_text(json.dumps(card, indent=1, default=str))
    print(
        f"{out}: threshold {thr} (P {rep.precision:.3f}, R {rep.recall:.3f}) on {rep.n_images} val frames"
    )
    return card


if __name__ == "__main__":
    main()
