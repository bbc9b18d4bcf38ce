"""The ``crack_semantic`` mapper: a dataset record -> a detectron2 semantic-model input.

Training output: ``{"image": uint8 CHW tensor (BGR), "sem_seg": int64 HW tensor, "height",
"width", "file_name"}`` after the crack-aware crop and aerial augmentation of
:mod:`models.semseg.augment`; evaluation output: the whole image and its target. Decoded images
and targets are cached in memory (crack sets are a few hundred small crops). A record whose
image or label cannot be read is logged by name and skipped (``None``), as the engine expects.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from models.errors import DatasetError, ImageReadError
from models.semseg.augment import AugmentParams, augment_pair
from models.semseg.data import read_image_bgr, read_target

__all__ = ["CrackSemanticMapper"]

log = logging.getLogger(__name__)


class CrackSemanticMapper:
    """Callable mapping one record to a model input (see the module docstring).

    Parameters
    ----------
    params : AugmentParams
        Augmentation settings (``AugmentParams.from_cfg(cfg)``).
    is_train : bool
        Augment and crop (training) or pass the whole image through (evaluation).
    cache : bool
        Keep decoded images and targets in memory.
    """

    def __init__(self, params: AugmentParams, is_train: bool = True, cache: bool = True) -> None:
        self.params, self.is_train, self.cache = params, is_train, cache
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def from_cfg(cls, cfg: Any, is_train: bool = True) -> CrackSemanticMapper:
        return cls(AugmentParams.from_cfg(cfg), is_train=is_train)

    def load(self, record: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """The image (BGR uint8) and target (uint8 class map) of a record, cached."""
        key = f"{record['file_name']}|{record.get('label_file')}|{sorted(record.get('label_values', {}).items())}"
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        img = read_image_bgr(record["file_name"])
        target = read_target(record, img.shape[:2])
        if self.cache:
            self._cache[key] = (img, target)
        return img, target

    def __call__(
        self, record: dict[str, Any], rng: np.random.Generator | None = None
    ) -> dict[str, Any] | None:
        import torch

        try:
            img, lab = self.load(record)
        except (ImageReadError, DatasetError) as exc:
            log.warning("skipped: %s", exc)
            return None
        if self.is_train:
            # seeded through numpy's global state (the engine seeds it), so runs repeat
            rng = rng or np.random.default_rng(int(np.random.randint(0, 2**31 - 1)))  # noqa: NPY002
            img, lab = augment_pair(img, lab, self.params, rng)
        h, w = lab.shape
        return {
            "file_name": record["file_name"],
            "height": h,
            "width": w,
            "image": torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))),
            "sem_seg": torch.from_numpy(lab.astype(np.int64)),
        }
