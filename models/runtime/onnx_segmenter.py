"""ONNX Runtime semantic segmenter: a semantic export bundle in, crack probabilities out.

No torch, no detectron2: numpy, onnxruntime and the torch-free tiling of
:mod:`models.semseg.tiles` — the same tiles, test-time views and blending weights as the PyTorch
:class:`~models.semseg.predict.SemSegPredictor`, so the bundle's thresholds (tuned on validation
data with the model file's test-time augmentation) mean the same thing here. Each tile is padded
to a multiple of the bundle's ``size_divisibility`` with the pixel mean (it normalises to zero,
as Detectron2 pads); frames larger than the tile size are tiled.

Examples
--------
``seg = OnnxSegmenter("exports/crack")``; ``pred = seg.predict(frame_bgr)``; ``pred.union`` is
the crack mask, ``pred.probs`` the per-class probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.detections import Detections
from models.errors import RuntimeModelError
from models.runtime.bundle import Bundle, read_bundle
from models.runtime.session import open_session
from models.semseg.tiles import TTA_MODES, SemSegPrediction, tiled_probabilities, tta_probabilities

__all__ = ["OnnxSegmenter"]


class OnnxSegmenter:
    """Runs an exported semantic model (``kind: "semantic"``) with onnxruntime.

    Parameters
    ----------
    bundle : path
        The export folder (``model.json`` + ``model.onnx``) or its ``model.json``.
    providers : sequence of str, optional
        onnxruntime execution providers in order of preference (default: TensorRT, CUDA, CPU as
        available).
    threads : int, optional
        Intra-op CPU threads (default: onnxruntime's).
    tta : str, optional
        Test-time augmentation (default: the bundle's, which its thresholds were tuned with).
    """

    def __init__(
        self,
        bundle: str | Path | Bundle,
        *,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        tta: str | None = None,
    ) -> None:
        self.bundle = bundle if isinstance(bundle, Bundle) else read_bundle(bundle)
        meta = self.bundle.meta
        where = self.bundle.root / "model.json"
        if meta["kind"] != "semantic":
            raise RuntimeModelError(
                f"kind {meta['kind']!r}: an instance bundle runs in OnnxDetector",
                path=where,
                where="kind",
            )
        self.class_names = self.bundle.class_names
        thr = meta.get("thresholds") or [meta["score_threshold"]] * len(self.class_names)
        if len(thr) != len(self.class_names):
            raise RuntimeModelError(
                f"{len(thr)} thresholds for {len(self.class_names)} classes",
                path=where,
                where="thresholds",
            )
        self.thresholds = tuple(float(t) for t in thr)
        self.tta = str(tta or meta.get("tta") or "none")
        if self.tta not in TTA_MODES:
            raise RuntimeModelError(
                f"unknown test-time augmentation {self.tta!r}: use {sorted(TTA_MODES)}",
                path=where,
                where="tta",
            )
        t = meta["tile"]
        self.tile_px, self.overlap_px = int(t["size"]), int(t["overlap"])
        self.batch_tiles = max(1, int(t.get("batch", 1)))
        self.div = max(1, int(meta["input"].get("size_divisibility", 32)))
        self.pad_value = np.asarray(
            meta["input"].get("pad_value", [0.0, 0.0, 0.0]), np.float32
        ).reshape(3, 1, 1)
        self.session = open_session(self.bundle, providers, threads)
        path = self.bundle.file("onnx")
        self.input_name = self.session.get_inputs()[0].name
        outs = [o.name for o in self.session.get_outputs()]
        if outs[:1] != ["probs"]:
            raise RuntimeModelError(
                f"graph outputs {outs}, expected ['probs']", path=path, where="outputs"
            )
        self.providers = self.session.get_providers()

    def _net(self, tiles: list[np.ndarray]) -> list[np.ndarray]:
        """Probabilities ``(K, h, w)`` of BGR tiles (each padded to the size divisibility)."""
        out = []
        for tile in tiles:
            h, w = tile.shape[:2]
            H = -(-h // self.div) * self.div
            W = -(-w // self.div) * self.div
            x = np.empty((1, 3, H, W), np.float32)
            x[0] = self.pad_value
            x[0, :, :h, :w] = (tile if self.bundle.bgr else tile[..., ::-1]).transpose(2, 0, 1)
            p = self.session.run(["probs"], {self.input_name: x})[0][0]
            out.append(np.ascontiguousarray(p[:, :h, :w], np.float32))
        return out

    def probabilities(self, image_bgr: np.ndarray, *, roi: np.ndarray | None = None) -> np.ndarray:
        """Defect probabilities ``(K, H, W)`` float32 of a BGR frame of any size."""
        img = np.asarray(image_bgr)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 BGR image, got {img.shape} {img.dtype}")
        return tiled_probabilities(
            img,
            lambda tiles: tta_probabilities(tiles, self._net, self.tta),
            len(self.class_names),
            tile_px=self.tile_px,
            overlap_px=self.overlap_px,
            batch_tiles=self.batch_tiles,
            roi=roi,
        )

    def predict(self, image_bgr: np.ndarray, *, roi: np.ndarray | None = None) -> SemSegPrediction:
        """Probabilities and thresholded masks of one frame."""
        return SemSegPrediction(
            self.class_names, self.probabilities(image_bgr, roi=roi), self.thresholds
        )

    def detections(
        self,
        image_bgr: np.ndarray,
        *,
        roi: np.ndarray | None = None,
        min_area_px: int = 20,
        join_gap_px: int = 3,
    ) -> Detections:
        """Each connected crack of a frame as one detection (box, mean probability, mask):
        what the onboard runtime geotags and alerts on (:func:`models.crack.measure_cracks`
        with the batch pipeline's defaults)."""
        from models.crack import measure_cracks

        pred = self.predict(image_bgr, roi=roi)
        boxes, scores, ids, crops = [], [], [], []
        for k in range(len(self.class_names)):
            inst = measure_cracks(
                pred.masks[k],
                prob=pred.probs[k],
                min_area_px=min_area_px,
                join_gap_px=join_gap_px,
            )
            for i in range(len(inst)):
                x0, y0, x1, y1 = (int(v) for v in inst.bbox_xyxy[i])
                boxes.append([x0, y0, x1, y1])
                scores.append(float(inst.score[i]))
                ids.append(k)
                crops.append((inst.labels[y0:y1, x0:x1] == i + 1, x0, y0))
        if not boxes:
            return Detections.empty(image_bgr.shape[:2], self.class_names)
        return Detections.from_arrays(
            boxes,
            scores,
            ids,
            image_bgr.shape[:2],
            mask_crops=crops,
            class_names=self.class_names,
            meta={"kind": "semantic"},
        )

    def describe(self) -> dict[str, Any]:
        """Providers, tile size, classes and thresholds (for logs and ``survey inspect``)."""
        return {
            "providers": self.providers,
            "tile_px": self.tile_px,
            "classes": list(self.class_names),
            "thresholds": list(self.thresholds),
            "tta": self.tta,
        }
