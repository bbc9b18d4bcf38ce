"""A detector that reads the simulator's truth: the COCO boxes of each video frame.

It stands in for a trained model in the onboard tests and ``survey demo --live`` when no ONNX
bundle is at hand, so that the runtime's geometry (pose, ground position, chainage, merging,
alerts) is checked against exact detections. Scores are 1.0.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from missions.errors import SimInputNotFoundError

__all__ = ["TruthDetector"]


class TruthDetector:
    """``detector(frame) -> models.detections.Detections`` from ``truth/coco_rgb_video.json``."""

    def __init__(self, flight_dir: str | Path, *, min_area_px: float = 16.0) -> None:
        path = Path(flight_dir) / "truth" / "coco_rgb_video.json"
        if not path.is_file():
            raise SimInputNotFoundError("no video truth (COCO)", path=path)
        coco = json.loads(path.read_text())
        cats = sorted(coco["categories"], key=lambda c: c["id"])
        self.class_names = tuple(c["name"] for c in cats)
        index = {c["id"]: i for i, c in enumerate(cats)}
        frame_of = {
            im["id"]: (im["frame_index"], (im["height"], im["width"])) for im in coco["images"]
        }
        self.hw = next(iter(frame_of.values()))[1] if frame_of else (0, 0)
        self._by_frame: dict[int, list[tuple[list[float], int, int]]] = defaultdict(list)
        for a in coco["annotations"]:
            if a["area"] >= min_area_px:
                fi = frame_of[a["image_id"]][0]
                self._by_frame[fi].append((a["bbox"], index[a["category_id"]], a["instance_id"]))

    def __call__(self, frame: Any) -> Any:
        from models.detections import Detections

        rows = self._by_frame.get(int(frame.index), [])
        hw = frame.image.shape[:2]
        if not rows:
            return Detections.empty(hw, self.class_names)
        b = np.array([[x, y, x + w, y + h] for (x, y, w, h), _, _ in rows], np.float32)
        return Detections(
            b,
            np.ones(len(rows), np.float32),
            np.array([c for _, c, _ in rows], np.int32),
            b.astype(np.int32),
            np.array([None] * len(rows), object),
            (int(hw[0]), int(hw[1])),
            self.class_names,
            {"instance_ids": [i for _, _, i in rows]},
        )
