"""The default train mapper (``SURVEY.MAPPER = "aerial"``): record -> model input dict.

Reads the image in the model's channel order, applies the aerial augmentations of
``cfg.SURVEY.AUG`` to image, boxes, masks and (for semantic models) the per-pixel target, and
builds ``instances`` (``gt_boxes``, ``gt_classes``, ``gt_masks`` as bit masks) and/or
``sem_seg``. An unreadable image is logged by name and skipped (the loader draws another).
``SURVEY.MASK_DILATE_PX`` thickens thin, sparse instance masks (diagonal cracks), which Mask
R-CNN's 28x28 mask targets would otherwise lose (:func:`thicken_thin_masks`).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import cv2
import numpy as np
import torch
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T
from detectron2.structures import BitMasks, BoxMode

from models.datasets.semantic import semantic_target
from models.errors import ImageReadError
from models.training.augment import build_train_augmentations
from models.training.registry import MAPPERS

__all__ = ["AerialMapper", "read_image", "thicken_thin_masks"]

log = logging.getLogger(__name__)


def read_image(path: str, fmt: str = "BGR") -> np.ndarray:
    """Read an image (EXIF orientation applied) as ``uint8`` HxWx3 in ``fmt`` channel order."""
    try:
        img = utils.read_image(path, format=fmt)
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"cannot decode image ({exc})", path=path) from exc
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


class AerialMapper:
    """Callable mapping one dataset record to a Detectron2 model input (train or eval)."""

    def __init__(self, cfg: Any, is_train: bool = True) -> None:
        self.is_train = is_train
        self.fmt = cfg.INPUT.FORMAT
        self.semantic = cfg.SURVEY.KIND == "semantic"
        self.instances = not self.semantic
        self.use_masks = bool(cfg.MODEL.MASK_ON) and self.instances
        self.dilate_px = int(cfg.SURVEY.MASK_DILATE_PX)
        self.augs = T.AugmentationList(build_train_augmentations(cfg) if is_train else [])

    def __call__(self, record: dict[str, Any]) -> dict[str, Any] | None:
        d = copy.deepcopy(record)
        try:
            image = read_image(d["file_name"], self.fmt)
        except ImageReadError as exc:
            log.warning("skipped: %s", exc)
            return None
        if image.shape[:2] != (d["height"], d["width"]):
            log.warning(
                "skipped: %s: image is %dx%d, its record says %dx%d",
                d["file_name"],
                image.shape[1],
                image.shape[0],
                d["width"],
                d["height"],
            )
            return None
        annos = [a for a in d.pop("annotations", []) if not a.get("iscrowd", 0)]
        boxes = (
            np.array(
                [
                    BoxMode.convert(a["bbox"], BoxMode(a["bbox_mode"]), BoxMode.XYXY_ABS)
                    for a in annos
                ]
            )
            if annos
            else np.zeros((0, 4))
        )
        sem = semantic_target(record) if self.semantic else None
        aug_input = T.AugInput(image, boxes=boxes, sem_seg=sem)
        transforms = self.augs(aug_input)
        image = aug_input.image
        h, w = image.shape[:2]
        d["image"] = torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))
        if sem is not None:
            d["sem_seg"] = torch.as_tensor(aug_input.sem_seg.astype(np.int64))
        if self.instances:
            if not self.use_masks:
                for a in annos:
                    a.pop("segmentation", None)
            annos = [utils.transform_instance_annotations(a, transforms, (h, w)) for a in annos]
            inst = utils.annotations_to_instances(annos, (h, w), mask_format="bitmask")
            if self.use_masks and self.dilate_px > 0 and len(inst) and inst.has("gt_masks"):
                m = thicken_thin_masks(inst.gt_masks.tensor.numpy(), self.dilate_px)
                inst.gt_masks = BitMasks(torch.from_numpy(m))
            d["instances"] = utils.filter_empty_instances(inst)
        return d


def thicken_thin_masks(
    masks: np.ndarray, px: int, *, max_width_px: float = 4.0, max_fill: float = 0.3
) -> np.ndarray:
    """Dilate by ``px`` the masks that are thin *and* sparse in their box (diagonal cracks).

    Mask R-CNN learns each mask on a 28x28 grid over its box; a one-pixel crack running
    diagonally through a large box vanishes there. A mask counts as thin when twice its largest
    distance to the background is at most ``max_width_px`` and as sparse when it covers less
    than ``max_fill`` of its box; compact defects (and thin ones aligned with their box, which
    fill it) keep their exact outline.

    Examples
    --------
    >>> m = np.zeros((2, 40, 40), bool)
    >>> m[0][np.arange(40), np.arange(40)] = True     # a diagonal one-pixel crack
    >>> m[1][10:14, 5:35] = True                      # a short, box-filling bar
    >>> out = thicken_thin_masks(m, 2)
    >>> int(out[0].sum()) > 3 * int(m[0].sum()), bool((out[1] == m[1]).all())
    (True, True)
    """
    out = masks.astype(bool).copy()
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1,) * 2)
    for i, m in enumerate(out):
        ys, xs = np.nonzero(m)
        if ys.size == 0:
            continue
        box_area = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
        m8 = np.pad(m, 1).astype(np.uint8)
        width = 2.0 * float(cv2.distanceTransform(m8, cv2.DIST_L2, 3).max())
        if width <= max_width_px and ys.size < max_fill * box_area:
            out[i] = cv2.dilate(m.astype(np.uint8), k).astype(bool)
    return out


@MAPPERS.register("aerial")
def aerial_mapper(cfg: Any, is_train: bool) -> AerialMapper:
    """Factory of :class:`AerialMapper` for ``SURVEY.MAPPER = "aerial"``."""
    return AerialMapper(cfg, is_train)
