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


def _backbone(model: dict[str, Any]) -> str:
    """``ResNet-18 FPN``, ``EfficientNet-Lite0 FPN (ImageNet)``, ... from a config's MODEL."""
    name = str((model.get("BACKBONE") or {}).get("NAME", ""))
    if "efficientnet" in name:
        e = model.get("EFFICIENTNET") or {}
        lite = str(e.get("NAME", "?")).replace("efficientnet-lite", "EfficientNet-Lite")
        return f"{lite} FPN" + (" (ImageNet weights)" if e.get("PRETRAINED") else "")
    return f"ResNet-{(model.get('RESNETS') or {}).get('DEPTH', '?')} FPN"


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
        "backbone": _backbone(model),
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
    if meta.get("kind") == "semantic":
        return {
            "kind": "exported semantic model bundle",
            "formats": sorted(files),
            "input": meta.get("input", {}).get("shape"),
            "classes": meta.get("class_names"),
            "thresholds": meta.get("thresholds"),
            "tta": meta.get("tta"),
            "opset": meta.get("opset"),
            "parity": {
                k: {kk: v.get(kk) for kk in ("max_abs_prob", "min_mask_iou", "frames")}
                for k, v in meta.get("parity", {}).items()
            },
            "source_model": meta.get("source_model"),
            "warnings": [f"missing file {m}" for m in missing]
            + [f"{k} parity failed" for k in bad],
        }
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


def _card(p: Path, card: Path) -> dict[str, Any]:
    """An instance model file with its model card ``NAME.card.json`` beside it."""
    meta = json.loads(card.read_text(encoding="utf-8"))
    r = meta.get("recipe") or {}
    warnings = []
    if not p.is_file():
        warnings.append(f"the weights {p.name} are missing beside {card.name}")

    def r3(v: Any) -> Any:
        return round(float(v), 3) if isinstance(v, int | float) else v

    def scores(split: str) -> dict[str, Any]:
        s = meta.get(split) or {}
        d = s.get("defects") or {}
        return {
            "images": s.get("images"),
            "box_AP": r3((s.get("bbox") or {}).get("AP")),
            "box_AP50": r3((s.get("bbox") or {}).get("AP50")),
            "precision": r3(s.get("precision")),
            "recall": r3(s.get("recall")),
            "per_class_AP": {c: r3(v.get("box_ap")) for c, v in (s.get("per_class") or {}).items()},
            "defects_AP": {c: r3(v.get("box_ap")) for c, v in (d.get("per_class") or {}).items()},
            "defects_tp_fp_fn": {
                c: [v.get("tp"), v.get("fp"), v.get("fn")]
                for c, v in (d.get("per_class") or {}).items()
            },
        }

    return {
        "kind": "instance model file (with model card)",
        "size_mb": round(p.stat().st_size / 2**20, 1) if p.is_file() else None,
        "preset": r.get("preset"),
        "module": r.get("module"),
        "classes": r.get("classes"),
        "defect_classes": meta.get("defect_classes"),
        "iterations": meta.get("iterations"),
        "checkpoint": f"iteration {meta.get('best_iter')}, {meta.get('checkpoint_chosen_on')}",
        "score_threshold": meta.get("score_threshold"),
        "threshold_chosen_on": meta.get("threshold_chosen_on"),
        "gsd_m": meta.get("gsd_m"),
        "max_gsd_m": meta.get("max_gsd_m"),
        "data": meta.get("sources"),
        "train": r.get("train"),
        "val": scores("val"),
        "test": scores("test"),
        "warnings": warnings,
    }


def describe_model_path(path: Path) -> dict[str, Any] | None:
    """Summary of a run folder, an export bundle or a model file with a model card
    (``NAME.card.json`` beside ``NAME.pth``), or None when ``path`` is none of them."""
    p = Path(path)
    try:
        card = p.with_suffix(".card.json") if p.suffix == ".pth" else p
        if card.name.endswith(".card.json") and card.is_file():
            return _card(card.with_name(card.name[: -len(".card.json")] + ".pth"), card)
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
