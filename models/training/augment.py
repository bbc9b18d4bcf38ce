"""Augmentations for aerial views: exact 90-degree rotations, random scale, instance-aware crops.

They are Detectron2/fvcore ``Augmentation``/``Transform`` classes, so images, boxes, polygons,
masks and semantic labels all follow the same transform.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from detectron2.data import transforms as T
from fvcore.transforms.transform import NoOpTransform, Transform

__all__ = [
    "InstanceAwareCrop",
    "RandomRot90",
    "RandomScale",
    "Rot90Transform",
    "build_train_augmentations",
]


class Rot90Transform(Transform):
    """Rotate by ``k`` quarter turns counter-clockwise (as ``np.rot90``), exactly (no resampling).

    A point ``(x, y)`` of an image ``w`` wide goes to ``(y, w - x)`` per quarter turn.

    Examples
    --------
    >>> t = Rot90Transform(1, h=2, w=3)
    >>> t.apply_coords(np.array([[0.5, 0.5]])).tolist()   # centre of the top-left pixel
    [[0.5, 2.5]]
    >>> img = np.arange(6).reshape(2, 3)
    >>> bool((t.apply_image(img) == np.rot90(img)).all())
    True
    """

    def __init__(self, k: int, h: int, w: int) -> None:
        super().__init__()
        self._set_attributes({"k": int(k) % 4, "h": int(h), "w": int(w)})

    def apply_image(self, img: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.rot90(img, self.k, axes=(0, 1)))

    def apply_segmentation(self, segmentation: np.ndarray) -> np.ndarray:
        return self.apply_image(segmentation)

    def apply_coords(self, coords: np.ndarray) -> np.ndarray:
        out = np.asarray(coords, dtype=np.float64).copy()
        w, h = self.w, self.h
        for _ in range(self.k):
            x, y = out[:, 0].copy(), out[:, 1].copy()
            out[:, 0], out[:, 1] = y, w - x
            w, h = h, w
        return out

    def inverse(self) -> Transform:
        h, w = (self.w, self.h) if self.k % 2 else (self.h, self.w)
        return Rot90Transform(-self.k, h, w)


class RandomRot90(T.Augmentation):
    """A random number (0-3) of quarter turns."""

    def get_transform(self, image: np.ndarray) -> Transform:
        h, w = image.shape[:2]
        k = int(np.random.randint(4))  # noqa: NPY002
        return Rot90Transform(k, h, w) if k else NoOpTransform()


class RandomScale(T.Augmentation):
    """Resize the image by a factor drawn uniformly from ``[lo, hi]``."""

    def __init__(self, lo: float, hi: float) -> None:
        super().__init__()
        self._init(locals())

    def get_transform(self, image: np.ndarray) -> Transform:
        h, w = image.shape[:2]
        s = float(np.random.uniform(self.lo, self.hi))  # noqa: NPY002
        nh, nw = max(1, int(round(h * s))), max(1, int(round(w * s)))
        return T.ResizeTransform(h, w, nh, nw) if (nh, nw) != (h, w) else NoOpTransform()


class InstanceAwareCrop(T.Augmentation):
    """A square crop; with probability ``focus`` it contains the centre of a random instance.

    Defects are small parts of a frame: crops drawn uniformly would mostly show background.
    """

    def __init__(self, size: int, focus: float) -> None:
        super().__init__()
        self._init(locals())

    def get_transform(self, image: np.ndarray, boxes: np.ndarray | None) -> Transform:
        h, w = image.shape[:2]
        ch, cw = min(self.size, h), min(self.size, w)
        if boxes is not None and len(boxes) and np.random.rand() < self.focus:  # noqa: NPY002
            b = boxes[np.random.randint(len(boxes))]  # noqa: NPY002
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            x0 = int(np.clip(cx - np.random.uniform(0.15, 0.85) * cw, 0, w - cw))  # noqa: NPY002
            y0 = int(np.clip(cy - np.random.uniform(0.15, 0.85) * ch, 0, h - ch))  # noqa: NPY002
        else:
            x0, y0 = int(np.random.randint(w - cw + 1)), int(np.random.randint(h - ch + 1))  # noqa: NPY002
        return T.CropTransform(x0, y0, cw, ch, w, h)


def build_train_augmentations(cfg: Any) -> list[T.Augmentation]:
    """The augmentation list of ``cfg.SURVEY.AUG`` (geometry first, then photometry)."""
    a = cfg.SURVEY.AUG
    augs: list[T.Augmentation] = []
    if tuple(a.SCALE) != (1.0, 1.0):
        augs.append(RandomScale(*a.SCALE))
    if a.CROP_SIZE > 0:
        augs.append(InstanceAwareCrop(a.CROP_SIZE, a.CROP_FOCUS))
    if a.HFLIP:
        augs.append(T.RandomFlip(0.5, horizontal=True, vertical=False))
    if a.VFLIP:
        augs.append(T.RandomFlip(0.5, horizontal=False, vertical=True))
    if a.ROT90:
        augs.append(RandomRot90())
    if tuple(a.BRIGHTNESS) != (1.0, 1.0):
        augs.append(T.RandomBrightness(*a.BRIGHTNESS))
    if tuple(a.CONTRAST) != (1.0, 1.0):
        augs.append(T.RandomContrast(*a.CONTRAST))
    if tuple(a.SATURATION) != (1.0, 1.0):
        augs.append(T.RandomSaturation(*a.SATURATION))
    return augs
