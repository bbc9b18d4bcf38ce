"""Inference of the semantic model on images of any size (tiled), and model files.

A **model file** (``.pth``) is self-contained: ``{"model": state_dict (fp16 or fp32),
"cfg": detectron2 YAML text, "meta": {...}}``; :func:`save_model_file` writes one (the shipped
default model is one), :class:`SemSegPredictor` reads one. A training run folder of the engine
(:mod:`models.training.engine`), or a checkpoint beside its ``config.yaml``, works too.

Frames larger than ``SURVEY.TILE.SIZE`` are cut into overlapping tiles; the softmax probabilities
of the tiles are blended with weights that fall off towards the tile borders, where the
network sees less context.

Test-time augmentation (``tta``): ``"flip"`` averages the probabilities of the tile, its mirror
images and its half turn (4 passes), ``"d4"`` all 8 rotations/mirrorings; ``"none"`` is one pass.
A model file may name the mode it was tuned with (``meta["tta"]``); its thresholds belong to it.
"""

from __future__ import annotations

import logging
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import ModelError
from models.semseg.tiles import TTA_MODES, SemSegPrediction, tiled_probabilities, tta_probabilities

__all__ = ["TTA_MODES", "SemSegPrediction", "SemSegPredictor", "save_model_file"]

log = logging.getLogger(__name__)


def _torch_load(path: Path) -> Any:
    import torch

    if not zipfile.is_zipfile(path):
        raise ModelError(
            "not a readable torch model file (expected torch.save's zip format)", path=path
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # A training checkpoint also holds optimiser/scheduler objects: load it only from a
        # training run folder (config.yaml beside it), i.e. a file this project wrote.
        if not (path.parent / "config.yaml").is_file():
            raise ModelError(
                "file holds more than tensors and is not in a training run folder", path=path
            ) from None
        return torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise ModelError(
            f"not a readable torch model file ({type(exc).__name__}: {exc})", path=path
        ) from exc


def _load_any(path: Path) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """(cfg, state_dict, meta) of a model file, a run folder, or weights beside config.yaml."""
    from models.semseg.config import cfg_from_yaml_text

    if not path.exists():
        raise ModelError("model file not found", path=path)
    if path.is_dir() or (path.parent / "config.yaml").is_file():
        from models.predictor import find_weights
        from models.training.engine import load_run_config

        cfg_path, weights = find_weights(path)
        if cfg_path is None:
            raise ModelError("no config.yaml for these weights", path=path)
        cfg = load_run_config(cfg_path.parent)
        obj = _torch_load(weights)
        meta = {"iteration": obj.get("iteration")} if isinstance(obj, dict) else {}
    else:
        obj = _torch_load(path)
        text = obj.get("cfg") or obj.get("config_yaml") if isinstance(obj, dict) else None
        if not text:
            raise ModelError(
                "no embedded config: expected a model file (see models.semseg.predict) or "
                "weights beside their run's config.yaml",
                path=path,
            )
        cfg = cfg_from_yaml_text(str(text), source=str(path))
        meta = dict(obj.get("meta", {}))
    if not isinstance(obj, dict) or "model" not in obj:
        raise ModelError("no 'model' state dict in this file", path=path)
    if cfg.MODEL.META_ARCHITECTURE != "SemanticSegmentor":
        raise ModelError(
            f"a {cfg.MODEL.META_ARCHITECTURE} model, not a semantic one (use models.predictor)",
            path=path,
        )
    return cfg, obj["model"], meta


class SemSegPredictor:
    """Run a trained semantic model on BGR frames of any size.

    Parameters
    ----------
    cfg : CfgNode
        The model's config (``SURVEY.CLASSES``, ``SURVEY.SCORE_THRESHOLD``, ``SURVEY.TILE.*``).
    model : torch.nn.Module
        A detectron2 ``SemanticSegmentor`` in eval mode (see :meth:`from_file`).
    thresholds : sequence of float, optional
        Per-class probability thresholds; default ``SURVEY.SCORE_THRESHOLD`` for every class.
    batch_tiles : int, optional
        Tiles per forward pass (default ``SURVEY.TILE.BATCH``).
    tta : str, optional
        Test-time augmentation, a key of :data:`TTA_MODES` (default ``"none"``, or the mode a
        model file was tuned with).
    """

    def __init__(
        self,
        cfg: Any,
        model: Any,
        *,
        thresholds: tuple[float, ...] | None = None,
        batch_tiles: int | None = None,
        meta: dict[str, Any] | None = None,
        tta: str | None = None,
    ) -> None:
        self.cfg = cfg
        self.model = model
        self.class_names = tuple(str(n) for n in cfg.SURVEY.CLASSES)
        if len(self.class_names) + 1 != int(cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES):
            raise ModelError(
                f"SURVEY.CLASSES {list(self.class_names)} do not match "
                f"MODEL.SEM_SEG_HEAD.NUM_CLASSES = {cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES}"
            )
        default = float(cfg.SURVEY.SCORE_THRESHOLD)
        self.thresholds = tuple(thresholds) if thresholds else (default,) * len(self.class_names)
        if len(self.thresholds) != len(self.class_names):
            raise ModelError(
                f"{len(self.thresholds)} thresholds for {len(self.class_names)} classes"
            )
        self.tile_px = int(cfg.SURVEY.TILE.SIZE)
        self.overlap_px = int(cfg.SURVEY.TILE.OVERLAP)
        self.batch_tiles = max(1, int(batch_tiles or cfg.SURVEY.TILE.BATCH))
        self.meta = dict(meta or {})
        self.tta = str(tta or self.meta.get("tta") or "none")
        if self.tta not in TTA_MODES:
            raise ModelError(
                f"unknown test-time augmentation {self.tta!r}: use {sorted(TTA_MODES)}"
            )

    @classmethod
    def from_state_dict(
        cls, cfg: Any, state_dict: dict[str, Any], **kwargs: Any
    ) -> SemSegPredictor:
        """Build the model of ``cfg`` and load ``state_dict`` (fp16 weights are cast to fp32)."""
        import torch

        from models.semseg.config import build_semseg_model

        cfg = cfg.clone()
        if not torch.cuda.is_available():
            cfg.MODEL.DEVICE = "cpu"
        model = build_semseg_model(cfg).eval()
        sd = {k: v.float() if v.is_floating_point() else v for k, v in state_dict.items()}
        try:
            missing, unexpected = model.load_state_dict(sd, strict=False)
        except RuntimeError as exc:  # shape mismatches
            first = str(exc).splitlines()[1:2]
            raise ModelError(f"weights do not fit the config: {''.join(first).strip()}") from exc
        bad = [k for k in missing if "num_batches_tracked" not in k]
        if bad or unexpected:
            raise ModelError(
                f"weights do not fit the config: missing {bad[:5]}, unexpected {unexpected[:5]}"
            )
        return cls(cfg, model, **kwargs)

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> SemSegPredictor:
        """Load a model file (see the module docs) or a training checkpoint."""
        cfg, sd, meta = _load_any(Path(path))
        thr = meta.get("thresholds")
        if thr and "thresholds" not in kwargs:
            kwargs["thresholds"] = tuple(float(t) for t in thr)
        return cls.from_state_dict(cfg, sd, meta=meta, **kwargs)

    def _net(self, tiles: list[np.ndarray]) -> list[np.ndarray]:
        import torch

        inputs = [
            {"image": torch.from_numpy(np.ascontiguousarray(t.transpose(2, 0, 1)))} for t in tiles
        ]
        with torch.inference_mode():
            outs = self.model(inputs)
        return [o["sem_seg"].softmax(dim=0)[1:].float().cpu().numpy() for o in outs]

    def _forward(self, tiles: list[np.ndarray]) -> list[np.ndarray]:
        """Defect probabilities ``(K, h, w)`` of each tile, averaged over the TTA transforms."""
        return tta_probabilities(tiles, self._net, self.tta)

    def probabilities(self, image_bgr: np.ndarray, *, roi: np.ndarray | None = None) -> np.ndarray:
        """Defect probabilities ``(K, H, W)`` float32 (background left out), tiled when large.

        ``roi`` (a pixel polygon ``(K, 2)`` or a boolean mask of any resolution, as for
        :class:`models.predictor.Predictor`) limits the work to tiles touching the region and
        zeroes the probabilities outside it.
        """
        img = np.asarray(image_bgr)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ModelError(f"expected an HxWx3 uint8 BGR image, got {img.shape} {img.dtype}")
        return tiled_probabilities(
            img,
            self._forward,
            len(self.class_names),
            tile_px=self.tile_px,
            overlap_px=self.overlap_px,
            batch_tiles=self.batch_tiles,
            roi=roi,
        )

    def predict(self, image_bgr: np.ndarray, *, roi: np.ndarray | None = None) -> SemSegPrediction:
        """Probabilities and thresholded masks of one frame (``roi``: see :meth:`probabilities`)."""
        probs = self.probabilities(image_bgr, roi=roi)
        return SemSegPrediction(self.class_names, probs, self.thresholds)


def save_model_file(
    path: str | Path,
    cfg: Any,
    state_dict: dict[str, Any],
    meta: dict[str, Any],
    *,
    half: bool = True,
) -> Path:
    """Write a self-contained model file (weights in fp16 when ``half``, config, metadata)."""
    import torch

    sd = {
        k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
        for k, v in state_dict.items()
        if "num_batches_tracked" not in k
    }
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": sd, "cfg": cfg.dump(), "meta": meta}, p)
    return p
