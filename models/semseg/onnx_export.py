"""Export a semantic (crack) model to ONNX, with a parity check against PyTorch.

``export_semantic(model, out_dir)`` takes a model file (the shipped ``crack_default.pth``) or a
training run of the semantic kind and writes a bundle folder the torch-free runtime
(:class:`models.runtime.onnx_segmenter.OnnxSegmenter`) runs:

- ``model.onnx``: input ``image`` float32 ``[N, 3, H, W]`` in the model's channel order, 0-255,
  ``H`` and ``W`` any multiples of 32 (the backbone's size divisibility; the runtime pads each
  tile with the pixel mean as Detectron2 does, so GroupNorm sees the same map); output ``probs``
  ``[N, K, H, W]``: the softmax probabilities of the K defect classes (background left out). The
  graph is normalisation + backbone + the head's layers + the head's bilinear upsampling +
  softmax: exactly ``SemanticSegmentor.forward`` in eval mode without the post-processing crop.
- ``model.json``: the sidecar (:mod:`models.runtime.bundle`, ``kind: "semantic"``): per-class
  ``thresholds`` and ``tta`` from the model file (they were tuned together on validation data),
  tile size and overlap, provenance and the parity results.

The parity check runs :class:`~models.semseg.predict.SemSegPredictor` and the ONNX runtime on the
same frames (real validation images when the run's data are readable, else seeded noise) and
requires the probabilities to agree to ``max_abs_prob`` and the thresholded masks to IoU
``min_mask_iou``, else :class:`~models.errors.ExportError`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import ExportError, ModelError

__all__ = ["SemanticParity", "export_semantic"]

log = logging.getLogger(__name__)
OPSET = 17


@dataclass(frozen=True)
class SemanticParity:
    """Tolerances of the parity check (probabilities are float32 on both sides)."""

    max_abs_prob: float = 1e-3
    min_mask_iou: float = 0.99


def _graph(model: Any) -> Any:
    import torch
    from torch.nn import functional as F

    class SemanticGraph(torch.nn.Module):
        """Normalised input -> backbone -> head layers -> upsampled softmax (no background)."""

        mean: torch.Tensor
        std: torch.Tensor

        def __init__(self, m: Any) -> None:
            super().__init__()
            self.backbone, self.head = m.backbone, m.sem_seg_head
            self.register_buffer("mean", m.pixel_mean.detach().clone().reshape(1, 3, 1, 1))
            self.register_buffer("std", m.pixel_std.detach().clone().reshape(1, 3, 1, 1))

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            x = (image - self.mean) / self.std
            logits = self.head.layers(self.backbone(x))
            logits = F.interpolate(
                logits, scale_factor=self.head.common_stride, mode="bilinear", align_corners=False
            )
            return logits.softmax(dim=1)[:, 1:]

    return SemanticGraph(model).eval()


def _parity_frames(cfg: Any, n: int, size: int) -> list[np.ndarray]:
    """BGR frames for the parity check: the instance exporter's tiles (validation images, else
    seeded noise) and one of two tiles side by side, wider than a tile (the blended path)."""
    from models.export.exporter import _sample_tiles

    frames = [np.ascontiguousarray(t[..., ::-1]) for t in _sample_tiles(cfg, size, max(1, n))]
    frames.append(np.ascontiguousarray(np.hstack([frames[0], frames[0][:, ::-1]])))
    return frames


def export_semantic(
    model_path: str | Path,
    out_dir: str | Path,
    *,
    parity_frames: int = 3,
    tolerance: SemanticParity | None = None,
) -> dict[str, Any]:
    """Write the bundle (see the module docstring); returns the ``model.json`` dict."""
    import torch

    from models.runtime.bundle import BUNDLE_FORMAT
    from models.semseg.predict import SemSegPredictor, _load_any

    tol = tolerance or SemanticParity()
    src = Path(model_path)
    try:
        cfg, sd, meta0 = _load_any(src)
    except ModelError as exc:
        raise ExportError(str(exc)) from exc
    pred = SemSegPredictor.from_state_dict(
        cfg,
        sd,
        meta=meta0,
        thresholds=tuple(float(t) for t in meta0["thresholds"])
        if meta0.get("thresholds")
        else None,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    graph = _graph(pred.model)
    div = int(getattr(pred.model.backbone, "size_divisibility", 32) or 32)
    size = pred.tile_px
    if size % div:
        raise ExportError(f"the model's tile size {size} is not a multiple of {div}", path=src)
    sample = torch.zeros(1, 3, size, size)
    t0 = time.perf_counter()
    with torch.no_grad():
        torch.onnx.export(
            graph,
            (sample,),
            str(out / "model.onnx"),
            input_names=["image"],
            output_names=["probs"],
            dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}, "probs": {0: "n", 2: "h", 3: "w"}},
            opset_version=OPSET,
            dynamo=False,
        )
    meta: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "version": 1,
        "kind": "semantic",
        "input": {
            "name": "image",
            "shape": [3, size, size],
            "channels": cfg.INPUT.FORMAT,
            "dtype": "float32",
            "pad_value": [float(v) for v in cfg.MODEL.PIXEL_MEAN],
            "size_divisibility": div,
            "dynamic_hw": True,
        },
        "outputs": ["probs"],
        "class_names": list(pred.class_names),
        "thresholds": [float(t) for t in pred.thresholds],
        "score_threshold": float(np.mean(pred.thresholds)),
        "tta": pred.tta,
        "tile": {"size": size, "overlap": pred.overlap_px, "batch": pred.batch_tiles},
        "source_model": str(src),
        "meta_architecture": cfg.MODEL.META_ARCHITECTURE,
        "backbone": cfg.MODEL.BACKBONE.NAME,
        "opset": OPSET,
        "exported_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": {"torch": torch.__version__},
        "files": {"onnx": "model.onnx"},
        "parity_tolerance": {"max_abs_prob": tol.max_abs_prob, "min_mask_iou": tol.min_mask_iou},
        "model_meta": {k: meta0[k] for k in ("val", "recipe", "iteration") if k in meta0},
    }
    (out / "model.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")

    from models.runtime.onnx_segmenter import OnnxSegmenter

    seg = OnnxSegmenter(out, providers=["CPUExecutionProvider"])
    worst_abs, worst_iou, shapes = 0.0, 1.0, []
    for f in _parity_frames(cfg, parity_frames, size):
        a, b = pred.predict(f), seg.predict(f)
        worst_abs = max(worst_abs, float(np.abs(a.probs - b.probs).max()))
        ma, mb = a.masks, b.masks
        union = int((ma | mb).sum())
        iou = 1.0 if union == 0 else float((ma & mb).sum()) / union
        worst_iou = min(worst_iou, iou)
        shapes.append(list(f.shape[:2]))
    ok = worst_abs <= tol.max_abs_prob and worst_iou >= tol.min_mask_iou
    parity = {
        "ok": ok,
        "frames": shapes,
        "max_abs_prob": worst_abs,
        "min_mask_iou": worst_iou,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    meta["parity"] = {"onnx": parity}
    (out / "model.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    if not ok:
        raise ExportError(
            f"ONNX parity failed: max probability difference {worst_abs:.2e} "
            f"(tolerance {tol.max_abs_prob:g}), min mask IoU {worst_iou:.4f} "
            f"(tolerance {tol.min_mask_iou:g})",
            path=out / "model.onnx",
        )
    log.info("semantic ONNX export: %s", parity)
    return meta
