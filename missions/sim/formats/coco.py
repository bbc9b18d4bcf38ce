"""A streaming COCO instance-segmentation writer (masks as compressed RLE, pycocotools).

Images and annotations are appended one by one to temporary JSON-lines files and assembled
into the final COCO file by :meth:`CocoWriter.close`, so memory does not grow with the number
of frames. Each annotation is the exact set of pixels where the renderer drew the instance
(from the rendered instance-id image); extra keys (``instance_id``, ``severity`` ...) ride
along, which COCO readers ignore.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["CocoWriter", "instances_from_ids"]


def instances_from_ids(
    ids: NDArray[np.uint16], min_pixels: int = 1
) -> list[tuple[int, dict[str, Any]]]:
    """(instance id, {segmentation RLE, area, bbox}) for every id present in an id image."""
    from pycocotools import mask as mask_utils

    counts = np.bincount(ids.reshape(-1))
    out: list[tuple[int, dict[str, Any]]] = []
    h, w = ids.shape
    for iid in np.nonzero(counts)[0]:
        if iid == 0 or counts[iid] < min_pixels:
            continue
        m = ids == iid
        rows = np.flatnonzero(m.any(axis=1))
        cols = np.flatnonzero(m.any(axis=0))
        full = np.zeros((h, w), np.uint8, order="F")
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        full[r0:r1, c0:c1] = m[r0:r1, c0:c1]
        rle = mask_utils.encode(full)
        rle["counts"] = rle["counts"].decode("ascii")
        out.append(
            (
                int(iid),
                {
                    "segmentation": rle,
                    "area": int(counts[iid]),
                    "bbox": [int(c0), int(r0), int(c1 - c0), int(r1 - r0)],
                },
            )
        )
    return out


class CocoWriter:
    """Append images and instance annotations; :meth:`close` writes the COCO JSON."""

    def __init__(
        self, path: str | Path, categories: list[dict[str, Any]], info: dict[str, Any]
    ) -> None:
        self.path = Path(path)
        self.categories, self.info = categories, info
        self._dir = tempfile.mkdtemp(prefix=".coco-", dir=self.path.parent)
        self._img = open(os.path.join(self._dir, "images.jsonl"), "w", encoding="utf-8")
        self._ann = open(os.path.join(self._dir, "annotations.jsonl"), "w", encoding="utf-8")
        self.n_images = self.n_annotations = 0

    def add_image(self, file_name: str, width: int, height: int, **extra: Any) -> int:
        """Register an image; returns its id (1-based)."""
        self.n_images += 1
        rec = {
            "id": self.n_images,
            "file_name": file_name,
            "width": width,
            "height": height,
            **extra,
        }
        self._img.write(json.dumps(rec, separators=(",", ":")) + "\n")
        return self.n_images

    def add_annotation(
        self, image_id: int, category_id: int, inst: dict[str, Any], **extra: Any
    ) -> int:
        """Add one instance (``inst`` from :func:`instances_from_ids`)."""
        self.n_annotations += 1
        rec = {
            "id": self.n_annotations,
            "image_id": image_id,
            "category_id": category_id,
            "iscrowd": 0,
            **inst,
            **extra,
        }
        self._ann.write(json.dumps(rec, separators=(",", ":")) + "\n")
        return self.n_annotations

    def close(self) -> Path:
        """Assemble the COCO file (streaming) and remove the temporary files."""
        self._img.close()
        self._ann.close()
        tmp = self.path.with_name(self.path.name + ".part")
        with open(tmp, "w", encoding="utf-8") as out:
            out.write('{"info":' + json.dumps(self.info) + ',"licenses":[],')
            out.write('"categories":' + json.dumps(self.categories) + ',"images":[')
            self._copy(os.path.join(self._dir, "images.jsonl"), out)
            out.write('],"annotations":[')
            self._copy(os.path.join(self._dir, "annotations.jsonl"), out)
            out.write("]}\n")
        os.replace(tmp, self.path)
        for name in ("images.jsonl", "annotations.jsonl"):
            os.remove(os.path.join(self._dir, name))
        os.rmdir(self._dir)
        return self.path

    @staticmethod
    def _copy(src: str, out: Any) -> None:
        with open(src, encoding="utf-8") as f:
            first = True
            for line in f:
                if not first:
                    out.write(",")
                out.write(line.rstrip("\n"))
                first = False
