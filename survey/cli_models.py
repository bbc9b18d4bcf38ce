"""Model commands: ``survey train``, ``evaluate``, ``compare``, ``dataset check``, ``export-model``.

Everything heavy (torch, detectron2) is imported inside the commands, so ``survey --help`` stays
fast. Dataset specs are ``PATH[:SPLIT]`` (the source's own split, or a seeded stratified one)
or a dataset ``.toml`` listing several sources; see :mod:`models.datasets.sources`.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ["compare", "dataset", "evaluate", "export_model", "train"]


def _seed_threads(seed: int | None, threads: int | None) -> tuple[int, int]:
    from survey.cli import get_config

    g = get_config().general
    return (g.seed if seed is None else seed), (
        threads if threads is not None else (g.threads or 1)
    )


@click.command()
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    metavar="SPEC",
    help="Training data, PATH[:SPLIT] or a dataset .toml (repeatable).",
)
@click.option(
    "--val",
    "vals",
    multiple=True,
    metavar="SPEC",
    help="Validation data (repeatable); default: none.",
)
@click.option(
    "--preset",
    default="mask_rcnn_R50_FPN",
    show_default=True,
    help="Preset name (see --list-presets) or a YAML config.",
)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Run folder (runs/NAME).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--classes", help="Comma-separated class list (default: the training data's).")
@click.option(
    "--max-iter", type=int, help="Iterations to train to (with --resume: raise it to train longer)."
)
@click.option("--seed", type=int, help="Seed (default: the config's general.seed).")
@click.option("--threads", type=int, help="CPU threads (default: general.threads, else 1).")
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda"]),
    help="Where to train (default: the preset's, cpu).",
)
@click.option(
    "--init",
    "init_weights",
    type=click.Path(exists=True, dir_okay=False),
    help="Start from these weights (fine-tune an older model).",
)
@click.option(
    "--set",
    "overrides",
    nargs=2,
    multiple=True,
    metavar="KEY VALUE",
    help="Config override, e.g. --set SOLVER.BASE_LR 0.0002 (repeatable).",
)
@click.option(
    "--max-minutes",
    type=float,
    help="Stop cleanly (with a checkpoint) after this long; --resume continues.",
)
@click.option("--list-presets", is_flag=True, help="List the shipped presets and exit.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def train(
    datasets: tuple[str, ...],
    vals: tuple[str, ...],
    preset: str,
    out_dir: str | None,
    resume: bool,
    classes: str | None,
    max_iter: int | None,
    seed: int | None,
    threads: int | None,
    device: str | None,
    init_weights: str | None,
    overrides: tuple[tuple[str, str], ...],
    max_minutes: float | None,
    list_presets: bool,
    no_progress: bool,
) -> None:
    """Train a Detectron2 model from a preset: progress bar, checkpoints, --resume, validation.

    \b
    survey train --dataset ../shared/data/defects/uav75:train --val ../shared/data/defects/uav75:val \\
                 --preset mask_rcnn_R18_FPN_jetson --classes crack --out runs/cracks
    survey train --out runs/cracks --resume --max-iter 4000     # continue, train longer

    Ctrl-C (or SIGTERM, or --max-minutes) stops after the current iteration with a checkpoint.
    """
    from models.config import list_presets as presets

    if list_presets:
        for name, path in presets().items():
            click.echo(f"{name:32s} {path}")
        return
    if not out_dir:
        raise click.UsageError("--out is required")
    from models.training.engine import load_run_config, new_run_config
    from models.training.engine import train as run_training

    out = Path(out_dir)
    seed_, threads_ = _seed_threads(seed, threads)
    if (out / "config.yaml").is_file() and not resume:
        raise click.UsageError(
            f"{out} already holds a run; add --resume to continue it, or choose another --out"
        )
    if resume and (out / "config.yaml").is_file():
        if datasets or vals or classes or init_weights:
            raise click.UsageError(
                "--resume continues the run as configured; --dataset/--val/--classes/--init cannot change it"
            )
        cfg = load_run_config(out)
        cfg.defrost()
        cfg.merge_from_list([x for kv in overrides for x in kv])
        if max_iter:
            cfg.SOLVER.MAX_ITER = max_iter
        if threads is not None:
            cfg.SURVEY.THREADS = threads
        if device:
            cfg.MODEL.DEVICE = device
    else:
        if not datasets:
            raise click.UsageError("give training data with --dataset SPEC")
        cfg = new_run_config(
            preset,
            datasets,
            vals,
            overrides=[x for kv in overrides for x in kv],
            classes=[c.strip() for c in classes.split(",") if c.strip()] if classes else None,
            seed=seed_,
            threads=threads_,
            max_iter=max_iter,
            device=device,
            init_weights=init_weights,
        )
    res = run_training(
        cfg,
        out,
        resume=resume,
        progress=not no_progress,
        stop_after_s=max_minutes * 60 if max_minutes else None,
    )
    click.echo(f"{out}: iterations {res.start_iter}..{res.end_iter}, weights {res.weights}")
    if res.end_iter < int(cfg.SOLVER.MAX_ITER):
        click.echo(
            f"stopped before {cfg.SOLVER.MAX_ITER} iterations; continue with: survey train --out {out} --resume"
        )
    if res.losses:
        k = max(1, len(res.losses) // 10)
        first, last = sum(res.losses[:k]) / k, sum(res.losses[-k:]) / k
        click.echo(f"loss {first:.3f} -> {last:.3f} (mean of first/last {k} iterations)")
    if res.val_metrics:
        keys = [
            k for k in ("bbox/AP", "segm/AP", "op/precision", "op/recall") if k in res.val_metrics
        ]
        click.echo("validation: " + ", ".join(f"{k} {_pct(res.val_metrics[k])}" for k in keys))


def _pct(v: float) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f} %"


def _eval_run(
    run: str,
    specs: tuple[str, ...],
    threshold: float | None,
    iou: float,
    tiled: bool,
    progress: bool,
) -> Any:
    from models.datasets.sources import combine, load_dataset
    from models.evaluation.validate import evaluate_model
    from models.predictor import Predictor

    pred = Predictor.from_run(run, score_threshold=0.0)
    specs = specs or tuple(pred.cfg.SURVEY.DATASETS.VAL)
    if not specs:
        raise click.UsageError(f"{run} has no validation data; give --dataset SPEC")
    seed = int(pred.cfg.SURVEY.SEED)
    ds = combine([load_dataset(s, seed=seed) for s in specs], list(pred.class_names), name="eval")
    if tiled:
        pred.max_direct_px = 0
    rep = evaluate_model(
        pred,
        ds.records,
        pred.class_names,
        score_threshold=threshold,
        iou_threshold=iou,
        progress=progress,
    )
    rep.meta.update(
        run=str(run), datasets=list(specs), skipped_labels=[str(p) for p in ds.problems]
    )
    return rep


@click.command()
@click.argument("run", type=click.Path(exists=True))
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    metavar="SPEC",
    help="Data to evaluate on (default: the run's validation data).",
)
@click.option(
    "--threshold",
    type=float,
    help="Operating score threshold (default: the run's SURVEY.SCORE_THRESHOLD).",
)
@click.option(
    "--iou",
    type=float,
    default=0.5,
    show_default=True,
    help="IoU for a true positive at the operating threshold.",
)
@click.option("--tiled", is_flag=True, help="Tile every image (as for large frames).")
@click.option(
    "--out", "out_path", type=click.Path(dir_okay=False), help="Also write the report as JSON here."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def evaluate(
    run: str,
    datasets: tuple[str, ...],
    threshold: float | None,
    iou: float,
    tiled: bool,
    out_path: str | None,
    as_json: bool,
) -> None:
    """COCO box and mask AP, per-class AP, precision/recall at the operating threshold.

    RUN is a run folder, a weights file beside its config.yaml, or an exported bundle folder
    with config.yaml + model_fp16.pth.
    """
    from models.evaluation.report import format_report

    rep = _eval_run(run, datasets, threshold, iou, tiled, progress=not as_json)
    if out_path:
        rep.save(out_path)
    click.echo(json.dumps(rep.to_dict(), indent=2) if as_json else format_report(rep))


@click.command()
@click.argument("run_a", type=click.Path(exists=True))
@click.argument("run_b", type=click.Path(exists=True))
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    metavar="SPEC",
    help="Data both are evaluated on (default: RUN_A's validation data).",
)
@click.option(
    "--threshold", type=float, help="Operating score threshold for both (default: each run's own)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare(
    run_a: str, run_b: str, datasets: tuple[str, ...], threshold: float | None, as_json: bool
) -> None:
    """Evaluate two models on the same data and show each metric and the change (B - A)."""
    from models.evaluation.compare import compare_reports, format_comparison
    from models.evaluation.report import nan_to_none

    a = _eval_run(run_a, datasets, threshold, 0.5, False, progress=not as_json)
    b = _eval_run(run_b, tuple(a.meta["datasets"]), threshold, 0.5, False, progress=not as_json)
    comp = compare_reports(a, b)
    click.echo(
        json.dumps(nan_to_none(comp), indent=2)
        if as_json
        else format_comparison(comp, run_a, run_b)
    )


@click.group()
def dataset() -> None:
    """Labelled datasets: check them before training."""


@dataset.command("check")
@click.argument("spec")
@click.option("--seed", type=int, help="Seed of the computed split (default: general.seed).")
@click.option(
    "--split",
    "fractions",
    default="0.8,0.1,0.1",
    show_default=True,
    help="train,val,test fractions when the source has no split.",
)
@click.option(
    "--near-bits",
    type=int,
    default=8,
    show_default=True,
    help="Near-duplicate threshold (bits of a 256-bit dHash).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check(spec: str, seed: int | None, fractions: str, near_bits: int, as_json: bool) -> None:
    """Report on a dataset: classes, sizes, unlabelled/unreadable images, duplicates, imbalance, split.

    SPEC is a folder (COCO, labelme, VOC, mask PNGs, YOLO; detected), a COCO JSON file or a
    dataset .toml, optionally with :SPLIT.
    """
    from models.datasets.check import check_dataset, format_check

    try:
        parts = [float(x) for x in fractions.split(",")]
    except ValueError as exc:
        raise click.BadParameter(
            f"expected three numbers like 0.8,0.1,0.1 ({exc})", param_hint="--split"
        ) from exc
    if len(parts) != 3:
        raise click.BadParameter("expected train,val,test fractions", param_hint="--split")
    seed_, _ = _seed_threads(seed, None)
    rep = check_dataset(
        spec,
        seed=seed_,
        fractions=dict(zip(("train", "val", "test"), parts, strict=True)),
        near_bits=near_bits,
        progress=not as_json and sys.stderr.isatty(),
    )
    click.echo(json.dumps(rep, indent=2) if as_json else format_check(rep))


@click.command("export-model")
@click.argument("run", type=click.Path(exists=True))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Bundle folder to write.",
)
@click.option(
    "--format",
    "formats",
    default="onnx,torchscript",
    show_default=True,
    help="Comma-separated: onnx, torchscript.",
)
@click.option(
    "--size", type=int, help="Square input size in pixels (default: the run's SURVEY.TILE.SIZE)."
)
@click.option(
    "--parity-tiles",
    type=int,
    default=3,
    show_default=True,
    help="Tiles compared between PyTorch and each export.",
)
@click.option(
    "--no-weights", is_flag=True, help="Do not write config.yaml + fp16 weights into the bundle."
)
def export_model(
    run: str, out_dir: str, formats: str, size: int | None, parity_tiles: int, no_weights: bool
) -> None:
    """Export a trained model to ONNX (opset 17) and TorchScript, checking parity with PyTorch.

    RUN is a training run folder or a model file. An instance model's bundle (model.onnx,
    model.ts, model.json) runs without torch or detectron2 through models.runtime.OnnxDetector
    (onnxruntime; TensorRT/CUDA providers on a Jetson). A semantic (crack) model, such as the
    shipped crack_default.pth, exports to ONNX only (any tile size that is a multiple of 32) and
    runs through models.runtime.OnnxSegmenter with the thresholds and test-time augmentation it
    was tuned with.
    """
    from models.semseg.suite import model_kind

    if model_kind(Path(run)) == "semantic":
        from models.semseg.onnx_export import export_semantic

        wanted = {f.strip().lower() for f in formats.split(",") if f.strip()}
        if wanted - {"onnx", "torchscript"}:
            raise click.BadParameter(f"unknown formats {sorted(wanted)}", param_hint="--format")
        if "torchscript" in wanted and formats != "onnx,torchscript":
            raise click.BadParameter("a semantic model exports to ONNX only", param_hint="--format")
        if size is not None:
            raise click.BadParameter(
                "a semantic export takes any multiple of 32; the tile size is the model's",
                param_hint="--size",
            )
        sem = export_semantic(run, out_dir, parity_frames=parity_tiles)
        p = sem["parity"]["onnx"]
        click.echo(f"{out_dir}: model.onnx, model.json (semantic: {', '.join(sem['class_names'])})")
        click.echo(
            f"parity onnx: {len(p['frames'])} frames {p['frames']}, max probability diff "
            f"{p['max_abs_prob']:.2e}, min mask IoU {p['min_mask_iou']:.4f}"
        )
        return
    from models.export.exporter import export_model as run_export

    meta = run_export(
        run,
        out_dir,
        formats=[f.strip() for f in formats.split(",") if f.strip()],
        size=size,
        weights=not no_weights,
        parity_tiles=parity_tiles,
    )
    click.echo(f"{out_dir}: {', '.join(meta['files'].values())}")
    for fmt, p in meta["parity"].items():
        click.echo(
            f"parity {fmt}: {p['detections_export']}/{p['detections_torch']} detections (score >= {p['min_score']}), "
            f"unmatched {p['unmatched']}, max box diff {p['max_box_px']:.2e} px, max score diff {p['max_score']:.2e}, "
            f"min mask IoU {p['min_mask_iou']:.4f}"
        )
