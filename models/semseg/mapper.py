"""The dataset mapper: a :class:`~models.semseg.data.MaskSample` -> detectron2 model input.

Training output: ``{"image": uint8 CHW tensor (BGR), "sem_seg": int64 HW tensor, "height",
"width", "file_name"}`` with the crop and augmentation of :mod:`models.semseg.augment`;
evaluation output: the whole image and its label map, unchanged. Decoded images are cached in
memory (the crack sets are a few hundred small crops).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.semseg.augment import AugmentParams, augment_pair
from models.semseg.data import MaskSample, read_image_bgr, read_mask

__all__ = ["SemSegMapper"]


class SemSegMapper:
    """Turn mask samples into model inputs (callable, like detectron2's ``DatasetMapper``).

    Parameters
    ----------
    params : AugmentParams
        Augmentation settings (``AugmentParams.from_cfg(cfg)``).
    is_train : bool
        Augment and crop (training) or pass the whole image through (evaluation).
    cache : bool
        Keep decoded images and masks in memory.
    """

    def __init__(self, params: AugmentParams, is_train: bool = True, cache: bool = True) -> None:
        self.params, self.is_train, self.cache = params, is_train, cache
        self._cache: dict[tuple[str, str, int], tuple[np.ndarray, np.ndarray]] = {}
        self._rng = np.random.default_rng()

    @classmethod
    def from_cfg(cls, cfg: Any, is_train: bool = True) -> SemSegMapper:
        return cls(AugmentParams.from_cfg(cfg), is_train=is_train)

    def load(self, s: MaskSample) -> tuple[np.ndarray, np.ndarray]:
        """The decoded image (BGR uint8) and label map (uint8: 0 background, 1 defect)."""
        key = (s.image_path, s.mask_path, s.mask_min_value)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        img = read_image_bgr(s.image_path)
        mask = read_mask(s.mask_path, s.mask_min_value)
        if mask.shape != img.shape[:2]:
            from models.errors import ModelError

            raise ModelError(
                f"mask is {mask.shape[1]}x{mask.shape[0]} but its image {s.image_path} is "
                f"{img.shape[1]}x{img.shape[0]}",
                path=s.mask_path,
            )
        out = (img, mask.astype(np.uint8))
        if self.cache:
            self._cache[key] = out
        return out

    def __call__(
        self, sample: MaskSample, rng: np.random.Generator | None = None
    ) -> dict[str, Any]:
        import torch

        img, lab = self.load(sample)
        if self.is_train:
            img, lab = augment_pair(img, lab, self.params, rng if rng is not None else self._rng)
        h, w = lab.shape
        return {
            "file_name": sample.image_path,
            "height": h,
            "width": w,
            "image": torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))),
            "sem_seg": torch.from_numpy(lab.astype(np.int64)),
        }
