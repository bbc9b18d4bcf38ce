"""The PyTorch predictor: frames in, :class:`~models.detections.Detections` out.

This is the only module that reads Detectron2 ``Instances`` (the exporter asks it for the
order of the traced outputs). Frames are ``uint8`` HxWx3 **RGB**
arrays of any size; frames larger than ``SURVEY.TILE.MAX_DIRECT_PX`` pixels, or given a region
of interest, go through tiled inference (:mod:`models.tiling`). Frames are analysed at their
own pixel scale (no resize), as the models are trained at the scale of the survey imagery.

Examples
--------
``Predictor.from_run("runs/rail")`` or ``Predictor.from_run("maskrcnn")`` (the shipped model), then
``dets = predictor(frame)``; ``predictor(frame, roi=corridor_polygon_px)`` restricts the work
to the asset corridor.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.detections import Detections
from models.errors import ModelConfigError, RunNotFoundError
from models.runtime.postprocess import raw_to_detections

__all__ = [
    "Predictor",
    "find_weights",
    "instances_to_detections",
    "load_model",
    "raw_inference",
    "traced_output_names",
]

log = logging.getLogger(__name__)


def find_weights(run: str | Path) -> tuple[Path | None, Path]:
    """``(config.yaml or None, weights)`` of a run folder, a weights file, or a shipped name.

    In a run folder ``model_best.pth`` is preferred, then ``model_final.pth``, then the newest
    periodic checkpoint. A weights file uses the ``config.yaml`` beside it, else the config
    embedded in the file (``None`` is returned for the config then). Shipped names are those of
    :data:`models.default_model.SHIPPED_INSTANCE_MODELS` (``"maskrcnn"``).
    """
    from models.default_model import SHIPPED_INSTANCE_MODELS, shipped_instance_model

    if str(run) in SHIPPED_INSTANCE_MODELS:
        run = shipped_instance_model(str(run))
    p = Path(run)
    if p.is_file():
        cfg = p.parent / "config.yaml"
        return (cfg if cfg.is_file() else None), p
    if not p.is_dir():
        raise RunNotFoundError(
            f"no run folder, weights file or shipped model of this name (shipped: {', '.join(SHIPPED_INSTANCE_MODELS)})",
            path=p,
        )
    if not (p / "config.yaml").is_file():
        raise RunNotFoundError("not a run folder (no config.yaml)", path=p)
    for name in ("model_best.pth", "model_final.pth", "model_fp16.pth", "model.pth"):
        if (p / name).is_file():
            return p / "config.yaml", p / name
    ckpts = sorted(p.glob("model_*.pth"))
    if not ckpts:
        raise RunNotFoundError("run folder has no weights (model_*.pth)", path=p)
    return p / "config.yaml", ckpts[-1]


def load_model(run: str | Path, *, device: str | None = None) -> tuple[Any, Any]:
    """Build the model of a run (or weights file, or shipped name) with its weights: ``(model, cfg)``."""
    import torch
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    from models.training.engine import config_from_text, load_run_config

    cfg_path, weights = find_weights(run)
    if cfg_path is not None:
        cfg = load_run_config(cfg_path.parent)
    else:
        try:
            blob = torch.load(str(weights), map_location="cpu", weights_only=True)
        except (RuntimeError, OSError, EOFError, ValueError) as exc:
            raise RunNotFoundError(f"not a readable weights file ({exc})", path=weights) from exc
        if not isinstance(blob, dict) or "config_yaml" not in blob:
            raise RunNotFoundError(
                "weights file has no config.yaml beside it and none embedded", path=weights
            )
        cfg = config_from_text(blob["config_yaml"], source=weights)
    cfg.defrost()
    cfg.MODEL.WEIGHTS = str(weights)
    if device:
        cfg.MODEL.DEVICE = device
    cfg.freeze()
    model = build_model(cfg).eval()
    DetectionCheckpointer(model).load(str(weights))
    return model, cfg


def instances_to_detections(
    instances: Any,
    image_hw: tuple[int, int],
    class_names: Sequence[str],
    *,
    score_threshold: float = 0.0,
    mask_threshold: float = 0.5,
) -> Detections:
    """Detectron2 ``Instances`` (pre-paste: ``pred_masks`` N x 1 x M x M) -> :class:`Detections`."""
    inst = instances.to("cpu")
    masks = inst.pred_masks.numpy() if inst.has("pred_masks") else None
    return raw_to_detections(
        inst.pred_boxes.tensor.numpy(),
        inst.scores.numpy(),
        inst.pred_classes.numpy(),
        masks,
        image_hw,
        class_names,
        score_threshold=score_threshold,
        mask_threshold=mask_threshold,
    )


def raw_inference(model: Any, inputs: list[dict[str, Any]]) -> Any:
    """The model's ``Instances`` of the first input before post-processing (what exports trace)."""
    return model.inference(inputs, do_postprocess=False)[0]


def traced_output_names(model: Any, image: Any) -> list[str]:
    """Names of the tensors a ``TracingAdapter`` around :func:`raw_inference` returns, in order.

    The adapter flattens ``Instances`` fields sorted by name, then the image size; they are
    renamed ``boxes``, ``classes``, ``masks``, ``scores`` (what :mod:`models.runtime` reads).
    """
    import torch

    with torch.no_grad():
        fields = sorted(raw_inference(model, [{"image": image}]).get_fields())
    rename = {
        "pred_boxes": "boxes",
        "pred_classes": "classes",
        "pred_masks": "masks",
        "scores": "scores",
    }
    return [rename.get(f, f) for f in fields] + ["image_size"]


class Predictor:
    """Runs a trained instance-segmentation model on frames (see the module docstring).

    Parameters
    ----------
    model, cfg
        A built Detectron2 model (in eval mode) and its config; use :meth:`from_run`.
    score_threshold : float, optional
        Drop detections below this score (default: the run's ``SURVEY.SCORE_THRESHOLD``).
    threads : int, optional
        torch CPU threads (default: leave torch's setting).
    """

    def __init__(
        self,
        model: Any,
        cfg: Any,
        *,
        score_threshold: float | None = None,
        threads: int | None = None,
    ) -> None:
        import torch

        if cfg.SURVEY.KIND != "instance":
            raise ModelConfigError(
                f"this run is a {cfg.SURVEY.KIND!r} model; Predictor runs instance models "
                "(semantic models have their own predictor in models.semseg)",
                where="SURVEY.KIND",
            )
        if threads:
            torch.set_num_threads(int(threads))
        self.model, self.cfg = model, cfg
        self.class_names = tuple(cfg.SURVEY.CLASSES)
        self.score_threshold = float(
            cfg.SURVEY.SCORE_THRESHOLD if score_threshold is None else score_threshold
        )
        self.bgr = cfg.INPUT.FORMAT == "BGR"
        self.device = torch.device(cfg.MODEL.DEVICE)
        t = cfg.SURVEY.TILE
        self.tile_px, self.overlap_px, self.batch = int(t.SIZE), int(t.OVERLAP), int(t.BATCH)
        self.merge_iou, self.merge_ios, self.max_direct_px = (
            float(t.MERGE_IOU),
            float(t.MERGE_IOS),
            int(t.MAX_DIRECT_PX),
        )

    @classmethod
    def from_run(cls, run: str | Path, *, device: str | None = None, **kw: Any) -> Predictor:
        """Load a run folder, a weights file (config beside or embedded), or a shipped name."""
        model, cfg = load_model(run, device=device)
        return cls(model, cfg, **kw)

    def predict_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """Run the network once on each image as it is (no tiling)."""
        import torch

        inputs = []
        for img in images:
            if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
                raise ValueError(f"expected a uint8 HxWx3 RGB image, got {img.dtype} {img.shape}")
            arr = img[..., ::-1] if self.bgr else img
            t = torch.as_tensor(np.ascontiguousarray(arr.transpose(2, 0, 1)), device=self.device)
            inputs.append({"image": t, "height": img.shape[0], "width": img.shape[1]})
        with torch.inference_mode():
            outs = self.model.inference(inputs, do_postprocess=False)
        return [
            instances_to_detections(
                o, im.shape[:2], self.class_names, score_threshold=self.score_threshold
            )
            for o, im in zip(outs, images, strict=True)
        ]

    def __call__(
        self,
        image: np.ndarray,
        *,
        roi: np.ndarray | None = None,
        tiled: bool | None = None,
        progress: bool = False,
        scale: float = 1.0,
    ) -> Detections:
        """Detections in one frame (tiled when large, or when ``roi`` or ``tiled=True`` is given).

        ``roi`` is a polygon ``(K, 2)`` of pixel coordinates, or a boolean mask of the frame (any
        resolution: it is scaled to the frame), marking the region to analyse. ``scale`` resizes
        the frame before inference (e.g. ``frame GSD / training GSD`` to bring a 4000x3000 still
        taken low to the ground sampling the model was trained at); detections come back in the
        frame's own pixels.
        """
        if scale != 1.0:
            import cv2

            h, w = image.shape[:2]
            nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            small = cv2.resize(image, (nw, nh), interpolation=interp)
            if roi is not None and np.asarray(roi).dtype != bool:
                roi = (np.asarray(roi, np.float64) + 0.5) * (nw / w, nh / h) - 0.5
            d = self(small, roi=roi, tiled=tiled, progress=progress)
            out = d.rescaled(nw / w, (h, w))
            out.meta["scale"] = scale
            return out
        from models.tiling import predict_tiled

        h, w = image.shape[:2]
        if tiled is None:
            tiled = roi is not None or h * w > self.max_direct_px
        if not tiled:
            return self.predict_batch([image])[0]
        return predict_tiled(
            self.predict_batch,
            image,
            tile_px=self.tile_px,
            overlap_px=self.overlap_px,
            roi=roi,
            batch=self.batch,
            merge_iou=self.merge_iou,
            merge_ios=self.merge_ios,
            class_names=self.class_names,
            progress=progress,
        )
