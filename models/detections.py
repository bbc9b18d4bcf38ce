"""``Detections``: a struct-of-arrays record of instance detections in one frame (no torch).

Parallel arrays, one row per detection (supervision's ``Detections`` is the model):

- ``boxes_xyxy`` (N, 4) float32: box corners in frame pixels (``x0, y0, x1, y1``), continuous
  coordinates as in Detectron2 where pixel ``i`` spans ``[i, i + 1)`` (subtract 0.5 for the
  OpenCV pixel-centre convention; :meth:`Detections.polygons` already uses that one);
- ``scores`` (N,) float32, ``class_ids`` (N,) int32 (indices into ``class_names``);
- ``mask_boxes`` (N, 4) int32: the integer window ``x0, y0, x1, y1`` that holds each mask;
- ``mask_rles`` (N,) object: each mask inside its window as compressed COCO RLE ``bytes``
  (``None`` for box-only models).

Keeping each mask as RLE of its own window makes a 20 MP frame with hundreds of detections cost
kilobytes, shifting a tile's detections into the frame is just adding an offset, and mask
IoU between two detections decodes only the windows involved. Index with an int array, a slice
or a boolean mask to get a subset.

Examples
--------
>>> m = np.zeros((20, 30), bool); m[5:8, 10:25] = True
>>> d = Detections.from_masks([m], scores=[0.9], class_ids=[0], class_names=("crack",))
>>> d.boxes_xyxy.tolist(), d.areas_px.tolist()
([[10.0, 5.0, 25.0, 8.0]], [45])
>>> bool((d.full_mask(0) == m).all())
True
>>> len(d[d.scores > 0.95])
0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models import rle

__all__ = ["Detections"]


def _crop_rle(crop: np.ndarray) -> bytes:
    return rle.encode(crop)["counts"]


@dataclass(frozen=True, eq=False)
class Detections:
    """Instance detections of one frame as parallel arrays (see the module docstring)."""

    boxes_xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    mask_boxes: np.ndarray
    mask_rles: np.ndarray
    image_hw: tuple[int, int]
    class_names: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.scores)
        checks = {
            "boxes_xyxy": self.boxes_xyxy.shape == (n, 4),
            "class_ids": self.class_ids.shape == (n,),
            "mask_boxes": self.mask_boxes.shape == (n, 4),
            "mask_rles": self.mask_rles.shape == (n,),
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"Detections arrays disagree in length with scores ({n}): {bad}")

    # ------------------------------------------------------------------ construction
    @classmethod
    def empty(cls, image_hw: tuple[int, int], class_names: Sequence[str] = ()) -> Detections:
        """No detections."""
        return cls(
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.float32),
            np.zeros(0, np.int32),
            np.zeros((0, 4), np.int32),
            np.empty(0, object),
            (int(image_hw[0]), int(image_hw[1])),
            tuple(class_names),
        )

    @classmethod
    def from_arrays(
        cls,
        boxes_xyxy: Any,
        scores: Any,
        class_ids: Any,
        image_hw: tuple[int, int],
        *,
        mask_crops: Sequence[tuple[np.ndarray, int, int] | None] | None = None,
        class_names: Sequence[str] = (),
        meta: dict[str, Any] | None = None,
    ) -> Detections:
        """Build from boxes/scores/classes and optional mask crops ``(bool crop, x0, y0)``."""
        boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4)
        n = len(boxes)
        mboxes = np.zeros((n, 4), np.int32)
        rles = np.empty(n, object)
        if mask_crops is not None:
            for i, mc in enumerate(mask_crops):
                if mc is None:
                    continue
                crop, x0, y0 = mc
                mboxes[i] = (x0, y0, x0 + crop.shape[1], y0 + crop.shape[0])
                rles[i] = _crop_rle(crop)
        return cls(
            boxes,
            np.asarray(scores, np.float32).reshape(n),
            np.asarray(class_ids, np.int32).reshape(n),
            mboxes,
            rles,
            (int(image_hw[0]), int(image_hw[1])),
            tuple(class_names),
            dict(meta or {}),
        )

    @classmethod
    def from_masks(
        cls,
        masks: Sequence[np.ndarray] | np.ndarray,
        scores: Any,
        class_ids: Any,
        *,
        boxes_xyxy: Any | None = None,
        class_names: Sequence[str] = (),
    ) -> Detections:
        """Build from full-frame boolean masks; boxes default to each mask's extent."""
        masks = list(masks)
        if not masks:
            raise ValueError("from_masks needs at least one mask (use Detections.empty)")
        hw = masks[0].shape[:2]
        crops, boxes = [], []
        for m in masks:
            crop, x0, y0 = tight_crop(m)
            crops.append((crop, x0, y0))
            boxes.append([x0, y0, x0 + crop.shape[1], y0 + crop.shape[0]])
        return cls.from_arrays(
            boxes if boxes_xyxy is None else boxes_xyxy,
            scores,
            class_ids,
            hw,
            mask_crops=crops,
            class_names=class_names,
        )

    @staticmethod
    def concatenate(items: Sequence[Detections]) -> Detections:
        """Stack detections of the same frame."""
        if not items:
            raise ValueError("nothing to concatenate")
        first = items[0]
        return Detections(
            np.concatenate([d.boxes_xyxy for d in items]),
            np.concatenate([d.scores for d in items]),
            np.concatenate([d.class_ids for d in items]),
            np.concatenate([d.mask_boxes for d in items]),
            np.concatenate([d.mask_rles for d in items]),
            first.image_hw,
            first.class_names,
            dict(first.meta),
        )

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, idx: Any) -> Detections:
        if isinstance(idx, int | np.integer):
            idx = [int(idx)]
        return Detections(
            self.boxes_xyxy[idx],
            self.scores[idx],
            self.class_ids[idx],
            self.mask_boxes[idx],
            self.mask_rles[idx],
            self.image_hw,
            self.class_names,
            dict(self.meta),
        )

    @property
    def has_masks(self) -> bool:
        """Whether every detection carries a mask."""
        return len(self) > 0 and all(r is not None for r in self.mask_rles)

    @property
    def class_labels(self) -> list[str]:
        """Class name of each detection."""
        return [
            self.class_names[c] if 0 <= c < len(self.class_names) else str(c)
            for c in self.class_ids
        ]

    @property
    def areas_px(self) -> np.ndarray:
        """Mask area in pixels (box area for detections without a mask), int64."""
        out = np.empty(len(self), np.int64)
        for i in range(len(self)):
            if self.mask_rles[i] is None:
                b = self.boxes_xyxy[i]
                out[i] = int(round((b[2] - b[0]) * (b[3] - b[1])))
            else:
                out[i] = rle.area(self._window_rle(i))
        return out

    def _window_rle(self, i: int) -> dict[str, Any]:
        x0, y0, x1, y1 = (int(v) for v in self.mask_boxes[i])
        return {"size": [y1 - y0, x1 - x0], "counts": self.mask_rles[i]}

    def mask_crop(self, i: int) -> tuple[np.ndarray, int, int]:
        """Mask ``i`` inside its window: ``(bool crop, x0, y0)``; a box-only row gives its box."""
        if self.mask_rles[i] is None:
            x0, y0, x1, y1 = box_window(self.boxes_xyxy[i], self.image_hw)
            return np.ones((y1 - y0, x1 - x0), bool), x0, y0
        x0, y0 = int(self.mask_boxes[i, 0]), int(self.mask_boxes[i, 1])
        return rle.decode(self._window_rle(i)), x0, y0

    def full_mask(self, i: int) -> np.ndarray:
        """Mask ``i`` as a frame-sized boolean array."""
        out = np.zeros(self.image_hw, bool)
        crop, x0, y0 = self.mask_crop(i)
        out[y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]] = crop
        return out

    def union_mask(self, class_id: int | None = None) -> np.ndarray:
        """Union of all masks (of one class) as a frame-sized boolean array."""
        out = np.zeros(self.image_hw, bool)
        for i in range(len(self)):
            if class_id is not None and self.class_ids[i] != class_id:
                continue
            crop, x0, y0 = self.mask_crop(i)
            out[y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]] |= crop
        return out

    def coco_rle(self, i: int) -> dict[str, Any]:
        """Mask ``i`` as a frame-sized compressed COCO RLE (for COCO evaluation)."""
        return rle.encode(self.full_mask(i))

    def polygons(self, i: int) -> list[np.ndarray]:
        """Outer contours of mask ``i`` as (K, 2) float arrays of frame pixel coordinates."""
        crop, x0, y0 = self.mask_crop(i)
        return [np.asarray(p).reshape(-1, 2) + (x0, y0) for p in rle.mask_to_polygons(crop)]

    # ------------------------------------------------------------------ transforms
    def shifted(self, dx: int, dy: int, image_hw: tuple[int, int]) -> Detections:
        """The same detections moved by ``(dx, dy)`` pixels into a frame of ``image_hw``."""
        off = np.array([dx, dy, dx, dy])
        return Detections(
            self.boxes_xyxy + off.astype(np.float32),
            self.scores,
            self.class_ids,
            self.mask_boxes + off.astype(np.int32),
            self.mask_rles,
            (int(image_hw[0]), int(image_hw[1])),
            self.class_names,
            dict(self.meta),
        )

    def rescaled(self, factor: float, image_hw: tuple[int, int]) -> Detections:
        """The detections of a frame resized by ``factor``, mapped onto a frame of ``image_hw``.

        Boxes are divided by ``factor``; masks are resized with nearest-neighbour sampling of
        pixel centres (what a detection at the coarse scale says about the fine pixels).
        """
        h, w = int(image_hw[0]), int(image_hw[1])
        boxes = (self.boxes_xyxy / factor).astype(np.float32)
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
        crops = None
        if len(self) and self.has_masks:
            crops = []
            for i in range(len(self)):
                crop, x0, y0 = self.mask_crop(i)
                fx0, fy0 = int(np.floor(x0 / factor)), int(np.floor(y0 / factor))
                fx1 = min(w, int(np.ceil((x0 + crop.shape[1]) / factor)))
                fy1 = min(h, int(np.ceil((y0 + crop.shape[0]) / factor)))
                xs = np.clip(
                    ((np.arange(fx0, fx1) + 0.5) * factor - x0).astype(np.int64),
                    0,
                    crop.shape[1] - 1,
                )
                ys = np.clip(
                    ((np.arange(fy0, fy1) + 0.5) * factor - y0).astype(np.int64),
                    0,
                    crop.shape[0] - 1,
                )
                big = crop[np.ix_(ys, xs)] if len(xs) and len(ys) else np.zeros((1, 1), bool)
                crops.append((big, fx0, fy0))
        return Detections.from_arrays(
            boxes,
            self.scores,
            self.class_ids,
            (h, w),
            mask_crops=crops,
            class_names=self.class_names,
            meta=dict(self.meta),
        )

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (RLE counts as ASCII strings)."""
        return {
            "image_hw": list(self.image_hw),
            "class_names": list(self.class_names),
            "boxes_xyxy": self.boxes_xyxy.round(3).tolist(),
            "scores": self.scores.round(5).tolist(),
            "class_ids": self.class_ids.tolist(),
            "mask_boxes": self.mask_boxes.tolist(),
            "mask_rles": [None if r is None else r.decode("ascii") for r in self.mask_rles],
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Detections:
        """Inverse of :meth:`to_dict`."""
        n = len(d["scores"])
        rles = np.empty(n, object)
        for i, r in enumerate(d["mask_rles"]):
            rles[i] = None if r is None else r.encode("ascii")
        return cls(
            np.asarray(d["boxes_xyxy"], np.float32).reshape(n, 4),
            np.asarray(d["scores"], np.float32),
            np.asarray(d["class_ids"], np.int32),
            np.asarray(d["mask_boxes"], np.int32).reshape(n, 4),
            rles,
            (int(d["image_hw"][0]), int(d["image_hw"][1])),
            tuple(d.get("class_names", ())),
            dict(d.get("meta", {})),
        )

    def __repr__(self) -> str:
        return f"Detections(n={len(self)}, image_hw={self.image_hw}, masks={self.has_masks})"


def tight_crop(mask: np.ndarray) -> tuple[np.ndarray, int, int]:
    """The smallest window holding a mask's pixels: ``(crop, x0, y0)`` (1x1 when empty)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return np.zeros((1, 1), bool), 0, 0
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return np.ascontiguousarray(mask[y0:y1, x0:x1], dtype=bool), int(x0), int(y0)


def box_window(box: np.ndarray, image_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """Integer pixel window covering a float box, clipped to the frame (at least 1x1)."""
    h, w = image_hw
    x0 = int(np.clip(np.floor(box[0]), 0, max(0, w - 1)))
    y0 = int(np.clip(np.floor(box[1]), 0, max(0, h - 1)))
    x1 = int(np.clip(np.ceil(box[2]), x0 + 1, w))
    y1 = int(np.clip(np.ceil(box[3]), y0 + 1, h))
    return x0, y0, x1, y1
