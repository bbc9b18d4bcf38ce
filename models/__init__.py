"""Detectron2 defect segmentation: datasets, training, evaluation, tiled inference, export, and a runtime without detectron2.

Public names are listed in ``__all__``. They are imported lazily on first use (PEP 562), so
importing the package, or one light module of it, stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from models.errors import ModelError

# public name -> module that defines it
_LAZY: dict[str, str] = {
    # errors
    "DatasetError": "models.errors",
    "DatasetNotFoundError": "models.errors",
    "ExportError": "models.errors",
    "ImageReadError": "models.errors",
    "ModelConfigError": "models.errors",
    "RunNotFoundError": "models.errors",
    "RuntimeModelError": "models.errors",
    # datasets
    "LabelledDataset": "models.datasets.base",
    "load_dataset": "models.datasets.sources",
    "combine": "models.datasets.sources",
    "register_dataset": "models.datasets.catalog",
    "semantic_target": "models.datasets.semantic",
    "check_dataset": "models.datasets.check",
    # configs and training
    "load_config": "models.config",
    "list_presets": "models.config",
    "new_run_config": "models.training.engine",
    "train": "models.training.engine",
    "load_run_config": "models.training.engine",
    "TrainResult": "models.training.engine",
    # inference
    "Detections": "models.detections",
    "Predictor": "models.predictor",
    "load_model": "models.predictor",
    "predict_tiled": "models.tiling",
    "tile_boxes": "models.tiling",
    "read_rgb": "models.images",
    # evaluation
    "EvalReport": "models.evaluation.report",
    "evaluate": "models.evaluation.coco",
    "evaluate_model": "models.evaluation.validate",
    "compare_reports": "models.evaluation.compare",
    # export and the torch-free runtime
    "export_model": "models.export.exporter",
    "OnnxDetector": "models.runtime.onnx_detector",
    "read_bundle": "models.runtime.bundle",
    "shipped_instance_model": "models.default_model",
    # cracks: semantic model, measurement, model suite
    "CrackInstances": "models.crack",
    "CrackSeverityScale": "models.crack",
    "measure_cracks": "models.crack",
    "SemSegPredictor": "models.semseg.predict",
    "ModelSuite": "models.semseg.suite",
    "evaluate_semantic": "models.semseg.evaluate",
    "train_crack_model": "models.semseg.train",
}

__all__ = ["ModelError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
