"""ONNX Runtime detector: an export bundle in, :class:`~models.detections.Detections` out.

No torch, no detectron2: numpy, OpenCV-free pre-processing, onnxruntime, and the project's own
torch-free tiling and mask pasting. The exported graph takes one fixed-size tile (the bundle's
``input.shape``); smaller frames are padded with the model's pixel mean (so they normalise to
zero, as Detectron2 pads), larger ones are tiled exactly as the PyTorch predictor tiles them.
Execution providers default to TensorRT, then CUDA, then CPU — whichever this onnxruntime has.

Examples
--------
``det = OnnxDetector("exports/rail")``; ``dets = det(frame_rgb)``;
``det(frame_rgb, roi=corridor_polygon_px)``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.detections import Detections
from models.errors import RuntimeModelError
from models.runtime.bundle import Bundle, read_bundle
from models.runtime.postprocess import raw_to_detections
from models.runtime.session import PREFERRED_PROVIDERS, open_session
from models.tiling import predict_tiled

__all__ = ["PREFERRED_PROVIDERS", "OnnxDetector"]

log = logging.getLogger(__name__)


class OnnxDetector:
    """Runs an exported instance-segmentation model with onnxruntime.

    Parameters
    ----------
    bundle : path
        The export folder (``model.json`` + ``model.onnx``) or its ``model.json``.
    providers : sequence of str, optional
        onnxruntime execution providers, in order of preference (default: TensorRT, CUDA, CPU
        as available).
    threads : int, optional
        Intra-op CPU threads (default: onnxruntime's).
    score_threshold : float, optional
        Drop detections below it (default: the bundle's operating threshold).
    """

    def __init__(
        self,
        bundle: str | Path | Bundle,
        *,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        score_threshold: float | None = None,
    ) -> None:
        self.bundle = bundle if isinstance(bundle, Bundle) else read_bundle(bundle)
        meta = self.bundle.meta
        if meta["kind"] != "instance":
            raise RuntimeModelError(
                f"kind {meta['kind']!r}: a semantic bundle runs in OnnxSegmenter",
                path=self.bundle.root / "model.json",
                where="kind",
            )
        self.session = open_session(self.bundle, providers, threads)
        path = self.bundle.file("onnx")
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_hw = self.bundle.input_hw
        if list(inp.shape[-2:]) != list(self.input_hw):
            raise RuntimeModelError(
                f"graph input is {inp.shape}, model.json says {meta['input']['shape']}",
                path=path,
                where="input.shape",
            )
        self.output_names = list(meta["outputs"])
        graph_outputs = [o.name for o in self.session.get_outputs()]
        if graph_outputs[: len(self.output_names)] != self.output_names:
            raise RuntimeModelError(
                f"graph outputs {graph_outputs} != model.json {self.output_names}",
                path=path,
                where="outputs",
            )
        self.class_names = self.bundle.class_names
        self.score_threshold = float(
            meta["score_threshold"] if score_threshold is None else score_threshold
        )
        self.mask_threshold = float(meta.get("mask_threshold", 0.5))
        self.pad_value = np.asarray(
            meta["input"].get("pad_value", [0.0, 0.0, 0.0]), np.float32
        ).reshape(3, 1, 1)
        t = meta["tile"]
        self.tile_px, self.overlap_px = int(t["size"]), int(t["overlap"])
        self.merge_iou, self.merge_ios = (
            float(t.get("merge_iou", 0.5)),
            float(t.get("merge_ios", 0.7)),
        )
        self.providers = self.session.get_providers()

    def _input(self, tile: np.ndarray) -> np.ndarray:
        if tile.ndim != 3 or tile.shape[2] != 3 or tile.dtype != np.uint8:
            raise ValueError(f"expected a uint8 HxWx3 RGB image, got {tile.dtype} {tile.shape}")
        h, w = tile.shape[:2]
        H, W = self.input_hw
        if h > H or w > W:
            raise ValueError(
                f"tile {w}x{h} is larger than the model input {W}x{H}; use __call__ to tile"
            )
        arr = tile[..., ::-1] if self.bundle.bgr else tile
        x = np.empty((3, H, W), np.float32)
        x[:] = self.pad_value
        x[:, :h, :w] = arr.transpose(2, 0, 1)
        return x

    def run_raw(self, tile: np.ndarray) -> dict[str, np.ndarray]:
        """The graph's raw outputs for one tile (boxes in padded-input pixels)."""
        outs = self.session.run(self.output_names, {self.input_name: self._input(tile)})
        return dict(zip(self.output_names, outs, strict=True))

    def predict_batch(self, tiles: Sequence[np.ndarray]) -> list[Detections]:
        """Detections of each tile (each at most the model's input size)."""
        out = []
        for t in tiles:
            r = self.run_raw(t)
            out.append(
                raw_to_detections(
                    r["boxes"],
                    r["scores"],
                    r["classes"],
                    r.get("masks"),
                    t.shape[:2],
                    self.class_names,
                    score_threshold=self.score_threshold,
                    mask_threshold=self.mask_threshold,
                )
            )
        return out

    def __call__(
        self, image: np.ndarray, *, roi: np.ndarray | None = None, progress: bool = False
    ) -> Detections:
        """Detections in a frame of any size (tiled when larger than the input or given a ``roi``)."""
        h, w = image.shape[:2]
        H, W = self.input_hw
        if roi is None and h <= H and w <= W:
            return self.predict_batch([image])[0]
        return predict_tiled(
            self.predict_batch,
            image,
            tile_px=min(self.tile_px, H, W),
            overlap_px=self.overlap_px,
            roi=roi,
            batch=1,
            merge_iou=self.merge_iou,
            merge_ios=self.merge_ios,
            class_names=self.class_names,
            progress=progress,
        )

    def describe(self) -> dict[str, Any]:
        """Providers, input size and classes (for logs and ``survey inspect``)."""
        return {
            "providers": self.providers,
            "input_hw": list(self.input_hw),
            "classes": list(self.class_names),
            "score_threshold": self.score_threshold,
        }
