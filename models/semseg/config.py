"""The crack segmentation preset: detectron2 ``SemanticSegmentor`` + ResNet-FPN + GroupNorm.

Every number of the recipe lives in the detectron2 ``CfgNode`` built here, so a saved
``config.yaml`` (written next to every checkpoint) is the whole recipe. Keys beyond
detectron2's defaults:

``MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS``, ``MODEL.SEM_SEG_HEAD.DICE_WEIGHT``
    Loss of :class:`~models.semseg.head.CrackSemSegFPNHead`.
``MODEL.SEM_SEG_HEAD.CLASS_NAMES``
    Class names, background first (``["background", "crack"]``).
``INPUT.CROP_PX``, ``INPUT.DEFECT_CROP_PROB``, ``INPUT.SCALE_RANGE``, ``INPUT.AUG.*``
    Crack-aware cropping and aerial augmentation (:mod:`models.semseg.augment`).
``SOLVER.OPTIMIZER`` (``"AdamW"``), ``SOLVER.NUM_THREADS``
    Optimiser and torch CPU threads.
``TEST.THRESHOLD``, ``TEST.TILE_PX``, ``TEST.TILE_OVERLAP_PX``, ``TEST.MIN_AREA_PX``
    Inference: defect probability threshold (tuned on the val splits), tiling, small-blob filter.
``SEED``
    Seeds model init and the per-iteration data RNG (``SEED + iteration``), so a resumed run
    sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.errors import ModelError

__all__ = ["build_semseg_model", "crack_semseg_cfg", "load_semseg_cfg"]


def crack_semseg_cfg(
    *,
    class_names: Sequence[str] = ("background", "crack"),
    depth: int = 18,
    channels: int = 128,
    class_weights: Sequence[float] | None = None,
    dice_weight: float = 1.0,
    max_iter: int = 12000,
    device: str = "cpu",
) -> Any:
    """Build the detectron2 config of the crack segmentation preset.

    Parameters
    ----------
    class_names : sequence of str
        Background first; one semantic class per defect kind.
    depth : int
        ResNet depth (18, 34 or 50).
    channels : int
        FPN and head channels.
    class_weights : sequence of float, optional
        Cross-entropy weight per class; default 1 for background, 10 for every defect class.
    dice_weight : float
        Weight of the soft dice term.
    max_iter : int
        Training iterations (cosine schedule length).
    device : str
        ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    detectron2.config.CfgNode
    """
    from detectron2.config import CfgNode as CN
    from detectron2.config import get_cfg

    import models.semseg.head  # noqa: F401  (registers CrackSemSegFPNHead)

    names = [str(n) for n in class_names]
    if len(names) < 2:
        raise ModelError(f"class_names needs background and at least one class, got {names}")
    weights = [1.0] + [10.0] * (len(names) - 1) if class_weights is None else list(class_weights)
    if len(weights) != len(names):
        raise ModelError(f"class_weights has {len(weights)} values for {len(names)} classes")

    cfg = get_cfg()
    cfg.SEED = 20240611
    m = cfg.MODEL
    m.DEVICE = device
    m.META_ARCHITECTURE = "SemanticSegmentor"
    m.WEIGHTS = ""  # from scratch: no pretrained weights exist here
    m.PIXEL_MEAN = [103.53, 116.28, 123.675]  # BGR
    m.PIXEL_STD = [57.375, 57.12, 58.395]
    m.BACKBONE.NAME = "build_resnet_fpn_backbone"
    m.BACKBONE.FREEZE_AT = 0
    m.RESNETS.DEPTH = depth
    m.RESNETS.RES2_OUT_CHANNELS = 64 if depth in (18, 34) else 256
    m.RESNETS.NORM = "GN"
    m.RESNETS.STRIDE_IN_1X1 = False
    m.RESNETS.OUT_FEATURES = ["res2", "res3", "res4", "res5"]
    m.FPN.IN_FEATURES = ["res2", "res3", "res4", "res5"]
    m.FPN.OUT_CHANNELS = channels
    m.FPN.NORM = "GN"
    h = m.SEM_SEG_HEAD
    h.NAME = "CrackSemSegFPNHead"
    h.IN_FEATURES = ["p2", "p3", "p4", "p5"]
    h.NUM_CLASSES = len(names)
    h.CONVS_DIM = channels
    h.COMMON_STRIDE = 4
    h.NORM = "GN"
    h.IGNORE_VALUE = 255
    h.LOSS_WEIGHT = 1.0
    h.CLASS_WEIGHTS = [float(w) for w in weights]
    h.DICE_WEIGHT = float(dice_weight)
    h.CLASS_NAMES = names

    cfg.INPUT.FORMAT = "BGR"
    cfg.INPUT.CROP_PX = 256
    cfg.INPUT.DEFECT_CROP_PROB = 0.8
    cfg.INPUT.SCALE_RANGE = [0.75, 1.33]
    cfg.INPUT.AUG = CN()
    a = cfg.INPUT.AUG
    a.ROT90 = True
    a.FLIP = True
    a.BRIGHTNESS = 0.25  # +-25 % of the range
    a.CONTRAST = 0.3  # x in [1-0.3, 1+0.3]
    a.GAMMA = 0.3
    a.SATURATION = 0.3
    a.BLUR_PROB = 0.2  # defocus / motion blur of a moving drone
    a.NOISE_STD = 6.0  # sensor noise, grey levels (max)
    a.JPEG_PROB = 0.3  # re-compression as in video frames
    a.SHADOW_PROB = 0.2  # soft shadow bands (structures, the drone)

    s = cfg.SOLVER
    s.OPTIMIZER = "AdamW"
    s.IMS_PER_BATCH = 4
    s.BASE_LR = 3e-4
    s.WEIGHT_DECAY = 1e-4
    s.LR_SCHEDULER_NAME = "WarmupCosineLR"
    s.WARMUP_ITERS = 200
    s.WARMUP_FACTOR = 0.01
    s.MAX_ITER = int(max_iter)
    s.CHECKPOINT_PERIOD = 250
    s.CLIP_GRADIENTS.ENABLED = True
    s.CLIP_GRADIENTS.CLIP_TYPE = "norm"
    s.CLIP_GRADIENTS.CLIP_VALUE = 5.0
    s.NUM_THREADS = 2

    cfg.TEST.EVAL_PERIOD = 1000
    cfg.TEST.THRESHOLD = 0.5
    cfg.TEST.TILE_PX = 512
    cfg.TEST.TILE_OVERLAP_PX = 64
    cfg.TEST.MIN_AREA_PX = 0
    cfg.TEST.TOLERANCE_PX = 2.0
    return cfg


def load_semseg_cfg(path: str | Path) -> Any:
    """Read a ``config.yaml`` written by :func:`models.semseg.train.train_semseg` over the preset."""
    p = Path(path)
    if not p.is_file():
        raise ModelError("config file not found", path=p)
    from detectron2.config import CfgNode as CN

    try:
        text = p.read_text(encoding="utf-8")
        loaded = CN.load_cfg(text)
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise ModelError(f"not a readable detectron2 YAML config ({exc})", path=p) from exc
    names = loaded.get("MODEL", {}).get("SEM_SEG_HEAD", {}).get("CLASS_NAMES")
    if not names:
        raise ModelError(
            "no MODEL.SEM_SEG_HEAD.CLASS_NAMES: not a semantic-segmentation config", path=p
        )
    cfg = crack_semseg_cfg(class_names=names)
    cfg.merge_from_other_cfg(loaded)
    return cfg


def build_semseg_model(cfg: Any) -> Any:
    """Build the ``SemanticSegmentor`` of ``cfg`` (random weights) on ``cfg.MODEL.DEVICE``."""
    from detectron2.modeling import build_model

    import models.semseg.head  # noqa: F401

    return build_model(cfg)
