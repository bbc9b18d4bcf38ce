"""Raw network outputs (boxes, scores, classes, 28x28 mask probabilities) -> :class:`Detections`.

Shared by the ONNX runtime and the TorchScript runner; the PyTorch predictor does the same
through :func:`models.predictor.instances_to_detections` (same paste, same filters).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.detections import Detections
from models.paste import paste_mask

__all__ = ["raw_to_detections"]


def raw_to_detections(
    boxes: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    masks: np.ndarray | None,
    image_hw: tuple[int, int],
    class_names: Sequence[str],
    *,
    score_threshold: float = 0.0,
    mask_threshold: float = 0.5,
) -> Detections:
    """Clip boxes to the image, drop empty ones and those below the threshold, paste masks."""
    h, w = image_hw
    b = np.asarray(boxes, np.float32).reshape(-1, 4).copy()
    b[:, 0::2] = b[:, 0::2].clip(0, w)
    b[:, 1::2] = b[:, 1::2].clip(0, h)
    s = np.asarray(scores, np.float32).reshape(-1)
    c = np.asarray(classes).astype(np.int32).reshape(-1)
    keep = np.flatnonzero((s >= score_threshold) & (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1]))
    crops = None
    if masks is not None:
        m = np.asarray(masks, np.float32)
        crops = [paste_mask(m[i], b[i], image_hw, mask_threshold) for i in keep]
    return Detections.from_arrays(
        b[keep], s[keep], c[keep], image_hw, mask_crops=crops, class_names=class_names
    )
