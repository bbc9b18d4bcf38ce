"""Builders for the Detectron2 instance-model tests (datasets written to tmp folders).

Fixture names start with ``d2_`` so they do not collide with other test modules of this folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image


def make_squares_coco(
    root: Path, n_images: int = 6, size: int = 96, seed: int = 0, name: str = "train"
) -> tuple[Path, list[list[tuple[int, int, int, int]]]]:
    """Dark noisy images with 1-2 bright squares each, labelled as COCO polygons.

    Returns the JSON path and the squares ``(x0, y0, x1, y1)`` per image (pixels [x0, x1)).
    """
    rng = np.random.default_rng(seed)
    img_dir = root / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    images, anns, truth = [], [], []
    for i in range(n_images):
        img = rng.integers(0, 50, (size, size, 3), dtype=np.uint8)
        squares = []
        for _ in range(int(rng.integers(1, 3))):
            s = int(rng.integers(16, 28))
            x0, y0 = (int(v) for v in rng.integers(2, size - s - 2, 2))
            if any(
                not (x0 >= b[2] + 2 or x0 + s + 2 <= b[0] or y0 >= b[3] + 2 or y0 + s + 2 <= b[1])
                for b in squares
            ):
                continue
            img[y0 : y0 + s, x0 : x0 + s] = rng.integers(200, 255, 3)
            squares.append((x0, y0, x0 + s, y0 + s))
        fn = f"{name}_{i:03d}.png"
        Image.fromarray(img).save(img_dir / fn)
        images.append({"id": i + 1, "file_name": fn, "height": size, "width": size})
        for x0, y0, x1, y1 in squares:
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i + 1,
                    "category_id": 7,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "segmentation": [[x0, y0, x1, y0, x1, y1, x0, y1]],
                    "area": (x1 - x0) * (y1 - y0),
                    "iscrowd": 0,
                }
            )
        truth.append(squares)
    path = root / f"{name}.json"
    path.write_text(
        json.dumps(
            {"images": images, "annotations": anns, "categories": [{"id": 7, "name": "spall"}]}
        )
    )
    return path, truth


@pytest.fixture
def d2_squares(tmp_path: Path) -> dict[str, Any]:
    """A COCO train (8 images) and val (3 images) pair of bright-square datasets."""
    root = tmp_path / "squares"
    train, t_truth = make_squares_coco(root, 8, seed=1, name="train")
    val, v_truth = make_squares_coco(root, 3, seed=2, name="val")
    return {"root": root, "train": train, "val": val, "train_truth": t_truth, "val_truth": v_truth}


def tiny_overrides(**extra: Any) -> list[str]:
    """Config overrides that make an R18 Mask R-CNN train fast on 96 px images."""
    base = {
        "SURVEY.AUG.CROP_SIZE": 0,
        "SURVEY.AUG.SCALE": "[1.0, 1.0]",
        "SOLVER.IMS_PER_BATCH": 2,
        "SOLVER.BASE_LR": 0.001,
        "SOLVER.WARMUP_ITERS": 2,
        "SOLVER.CHECKPOINT_PERIOD": 5,
        "TEST.EVAL_PERIOD": 0,
        "MODEL.RPN.POST_NMS_TOPK_TRAIN": 200,
        "MODEL.RPN.POST_NMS_TOPK_TEST": 100,
        "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE": 64,
        "SURVEY.TILE.SIZE": 128,
        "SURVEY.TILE.OVERLAP": 32,
    }
    base.update(extra)
    out: list[str] = []
    for k, v in base.items():
        out += [k, str(v)]
    return out


@pytest.fixture
def d2_overrides() -> Any:
    """:func:`tiny_overrides` (fixtures can hand functions to tests; conftest cannot be imported)."""
    return tiny_overrides
