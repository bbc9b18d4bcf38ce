"""Synthetic crack scenes: dark random-walk cracks on noisy concrete, with exact masks.

For tests, demos and smoke runs of the crack model without real data.

Examples
--------
>>> import numpy as np

__all__ = ["crack_pair", "write_crack_dataset"]
>>> img, mask = crack_pair(np.random.default_rng(0), size=64)
>>> img.shape, mask.dtype, bool(img[mask].mean() < img[~mask].mean())
((64, 64, 3), dtype('bool'), True)
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

__all__ = ["crack_pair", "write_crack_dataset"]


def crack_pair(
    rng: np.random.Generator, size: int = 96, width: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """A BGR image and its crack mask (bool)."""
    base = rng.normal(150, 12, (size, size, 1)).clip(0, 255)
    img = np.repeat(base, 3, axis=2).astype(np.uint8)
    mask = np.zeros((size, size), np.uint8)
    y = int(rng.integers(size // 4, 3 * size // 4))
    pts = [(0, y)]
    for x in range(8, size + 8, 8):
        y = int(np.clip(y + rng.integers(-5, 6), 2, size - 3))
        pts.append((x, y))
    cv2.polylines(mask, [np.array(pts, np.int32)], False, 1, thickness=width)
    if rng.random() < 0.5:
        mask = np.ascontiguousarray(mask.T)
    img[mask.astype(bool)] = rng.integers(40, 70)
    return img, mask.astype(bool)


def write_crack_dataset(root: Path, n: int, seed: int = 0, size: int = 96, n_val: int = 0) -> Path:
    """``root/images/*.png`` + ``root/masks/*.png`` (0/255) with ``train.txt`` (and ``val.txt``
    holding the last ``n_val`` pairs), the layout of the UAV crack CC0 set; returns ``root``."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        img, m = crack_pair(rng, size)
        cv2.imwrite(str(root / "images" / f"c{i:03d}.png"), img)
        cv2.imwrite(str(root / "masks" / f"c{i:03d}.png"), m.astype(np.uint8) * 255)
        lines.append(f"images/c{i:03d}.png masks/c{i:03d}.png")
    cut = n - n_val
    (root / "train.txt").write_text("\n".join(lines[:cut]) + "\n")
    if n_val:
        (root / "val.txt").write_text("\n".join(lines[cut:]) + "\n")
    return root
