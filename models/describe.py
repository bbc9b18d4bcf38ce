"""``survey inspect`` describers for model files: training run folders and export bundles.

Light on purpose (YAML and JSON only, no torch): a run folder is recognised by ``config.yaml`` +
``run.json``, an export bundle by its ``model.json``. Labelled datasets are described by
``survey dataset check``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

__all__ = ["describe_model_path"]


def _run(p: Path) -> dict[str, Any]:
    info = json.loads((p / "run.json").read_text(encoding="utf-8"))
    cfg = yaml.safe_load((p / "config.yaml").read_text(encoding="utf-8")) or {}
    model = cfg.get("MODEL", {})
    ckpts = sorted(x.name for x in p.glob("model_*.pth"))
    done = info.get("iterations_done")
    warnings = []
    if info.get("state") == "running":
        warnings.append(
            "the run is running, or stopped without finishing (continue it with `survey train --out DIR --resume`)"
        )
    if not ckpts:
        warnings.append("no checkpoint yet")
    best_path = p / "eval" / "best.json"
    best = json.loads(best_path.read_text()) if best_path.is_file() else None
    return {
        "kind": "model training run",
        "meta_architecture": info.get("meta_architecture", model.get("META_ARCHITECTURE")),
        "backbone": f"ResNet-{model.get('RESNETS', {}).get('DEPTH', '?')} FPN",
        "classes": info.get("classes"),
        "train": info.get("train"),
        "val": info.get("val"),
        "images": {"train": info.get("train_images"), "val": info.get("val_images")},
        "iterations": f"{done if done is not None else '?'} of {info.get('max_iter')}",
        "state": info.get("state"),
        "checkpoints": ckpts,
        "best": best,
        "warnings": warnings,
    }


def _bundle(p: Path) -> dict[str, Any]:
    meta = json.loads(p.read_text(encoding="utf-8"))
    files = meta.get("files", {})
    missing = [f for f in files.values() if not (p.parent / f).is_file()]
    bad = [k for k, v in meta.get("parity", {}).items() if not v.get("ok")]
    return {
        "kind": "exported model bundle",
        "formats": sorted(files),
        "input": meta.get("input", {}).get("shape"),
        "classes": meta.get("class_names"),
        "score_threshold": meta.get("score_threshold"),
        "opset": meta.get("opset"),
        "parity": {
            k: {kk: v.get(kk) for kk in ("max_box_px", "max_score", "min_mask_iou", "unmatched")}
            for k, v in meta.get("parity", {}).items()
        },
        "source_run": meta.get("source_run"),
        "warnings": [f"missing file {m}" for m in missing] + [f"{k} parity failed" for k in bad],
    }


def describe_model_path(path: Path) -> dict[str, Any] | None:
    """Summary of a run folder or export bundle, or None when ``path`` is neither."""
    p = Path(path)
    try:
        if p.is_dir() and (p / "config.yaml").is_file() and (p / "run.json").is_file():
            return _run(p)
        mj = p / "model.json" if p.is_dir() else p
        if mj.name == "model.json" and mj.is_file():
            head = mj.read_text(encoding="utf-8")[:4096]
            if "railpipe-survey/detectron2-export" in head:
                return _bundle(mj)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return {"kind": "model file (unreadable)", "warnings": [f"cannot read it: {exc}"]}
    return None
