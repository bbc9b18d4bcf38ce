"""labelme JSON folders -> :class:`LabelledDataset`.

One JSON per image (``shapes``, ``imagePath``, ``imageHeight``, ``imageWidth``). Shape types:
``polygon``, ``rectangle``, ``circle`` become polygons; ``line``/``linestrip`` (how cracks are
often drawn) are rasterised exactly ``line_width_px`` wide (pixel centres within half the width
of the line) and kept as RLE; ``mask`` (labelme 5) is
decoded into RLE; ``point`` shapes carry no area and are skipped. Shapes sharing a
``group_id`` and label form one instance, as in labelme's own converter.

The class list is, in order of preference: ``classes`` given by the caller, a ``labels.txt``
or ``classes.txt`` in the folder (one name a line; ``__ignore__``/``_background_`` skipped), or
the sorted set of labels found.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from models import rle
from models.datasets.base import BOX_MODE_XYXY_ABS, LabelledDataset, Problem, report_problem
from models.errors import DatasetError, DatasetNotFoundError

__all__ = ["load_labelme", "looks_like_labelme", "read_class_file", "thick_polyline"]

_SKIP_LABELS = {"__ignore__", "_background_", "background"}


def looks_like_labelme(path: Path) -> bool:
    """Whether ``path`` is a folder holding labelme JSON files (checks the first one)."""
    if not path.is_dir():
        return False
    for j in sorted(path.glob("*.json"))[:1]:
        head = j.read_bytes()[:65536]
        return b'"shapes"' in head and b'"imagePath"' in head
    return False


def read_class_file(path: Path) -> tuple[str, ...]:
    """Class names from a text file, one per line (labelme's ``labels.txt`` convention)."""
    names = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    return tuple(n for n in names if n and n not in _SKIP_LABELS)


def _shape_mask(shape: dict[str, Any], h: int, w: int, line_width_px: int) -> np.ndarray | None:
    kind = shape.get("shape_type") or "polygon"
    pts = np.asarray(shape.get("points") or [], dtype=np.float64).reshape(-1, 2)
    m = np.zeros((h, w), np.uint8)
    if kind == "polygon":
        if len(pts) < 3:
            raise ValueError("polygon with fewer than 3 points")
        return rle.polygons_to_mask([pts.ravel().tolist()], h, w)
    if kind == "rectangle":
        if len(pts) != 2:
            raise ValueError("rectangle needs 2 points")
        (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
        return rle.polygons_to_mask([[x0, y0, x1, y0, x1, y1, x0, y1]], h, w)
    if kind == "circle":
        if len(pts) != 2:
            raise ValueError("circle needs centre and a point on it")
        r = float(np.hypot(*(pts[1] - pts[0])))
        cv2.circle(m, tuple(int(round(v)) for v in pts[0]), max(1, int(round(r))), 1, -1)
        return m.astype(bool)
    if kind in ("line", "linestrip"):
        if len(pts) < 2:
            raise ValueError(f"{kind} needs at least 2 points")
        return thick_polyline(pts, h, w, line_width_px)
    if kind == "mask":
        data = shape.get("mask")
        if not data or len(pts) != 2:
            raise ValueError("mask shape needs 'mask' (base64 PNG) and 2 corner points")
        sub = np.asarray(Image.open(io.BytesIO(base64.b64decode(data)))).astype(bool)
        if sub.ndim == 3:
            sub = sub[..., 0]
        x0, y0 = (int(round(v)) for v in pts.min(0))
        hh, ww = min(sub.shape[0], h - y0), min(sub.shape[1], w - x0)
        out = np.zeros((h, w), bool)
        out[y0 : y0 + hh, x0 : x0 + ww] = sub[:hh, :ww]
        return out
    if kind == "point":
        return None
    raise ValueError(f"unsupported shape_type {kind!r}")


def thick_polyline(pts: np.ndarray, h: int, w: int, width_px: float) -> np.ndarray:
    """Pixels whose centre lies within ``width_px / 2`` of a polyline (exact width, round ends).

    Examples
    --------
    >>> m = thick_polyline(np.array([[2.0, 5.0], [12.0, 5.0]]), 10, 16, 3)
    >>> np.flatnonzero(m.any(axis=1)).tolist(), np.flatnonzero(m.any(axis=0)).tolist()[::10]
    ([4, 5, 6], [1, 11])
    """
    out = np.zeros((h, w), bool)
    r = max(width_px, 1.0) / 2.0
    for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:], strict=True):
        xa, xb = int(max(0, np.floor(min(x0, x1) - r))), int(min(w, np.ceil(max(x0, x1) + r) + 1))
        ya, yb = int(max(0, np.floor(min(y0, y1) - r))), int(min(h, np.ceil(max(y0, y1) + r) + 1))
        if xb <= xa or yb <= ya:
            continue
        yy, xx = np.mgrid[ya:yb, xa:xb].astype(np.float64)
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / max(dx * dx + dy * dy, 1e-12), 0.0, 1.0)
        d2 = (xx - x0 - t * dx) ** 2 + (yy - y0 - t * dy) ** 2
        out[ya:yb, xa:xb] |= d2 <= r * r + 1e-9
    return out


def load_labelme(
    folder: str | Path,
    classes: tuple[str, ...] | None = None,
    *,
    name: str | None = None,
    line_width_px: int = 3,
    strict: bool = False,
) -> LabelledDataset:
    """Read every labelme JSON in ``folder`` (not recursive)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetNotFoundError("labelme folder not found", path=folder)
    if classes is None:
        for fname in ("labels.txt", "classes.txt"):
            if (folder / fname).is_file():
                classes = read_class_file(folder / fname)
                break
    problems: list[Problem] = []
    parsed: list[tuple[Path, dict[str, Any]]] = []
    for j in sorted(folder.glob("*.json")):
        try:
            data = json.loads(j.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
                raise ValueError("no 'shapes' list")
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
            report_problem(problems, strict, j, "", f"not a labelme JSON ({exc})")
            continue
        parsed.append((j, data))
    if classes is None:
        found = {str(s.get("label", "")) for _, d in parsed for s in d["shapes"]}
        classes = tuple(sorted(c for c in found if c and c not in _SKIP_LABELS))
    index = {c: i for i, c in enumerate(classes)}

    records = []
    for j, data in parsed:
        img = (j.parent / str(data.get("imagePath") or "")).resolve()
        if not data.get("imagePath") or not img.is_file():
            img = next(
                (p for p in j.parent.glob(j.stem + ".*") if p.suffix.lower() != ".json"), img
            )
        if not img.is_file():
            report_problem(
                problems, strict, j, "imagePath", f"image {data.get('imagePath')!r} not found"
            )
            continue
        try:
            h, w = int(data["imageHeight"]), int(data["imageWidth"])
        except (KeyError, TypeError, ValueError):
            report_problem(problems, strict, j, "imageHeight/imageWidth", "missing image size")
            continue
        groups: dict[tuple[str, Any], np.ndarray] = {}
        bad = False
        for k, s in enumerate(data["shapes"]):
            label = str(s.get("label", ""))
            if label in _SKIP_LABELS:
                continue
            if label not in index:
                if classes and label:
                    continue  # a class outside the declared list
                report_problem(
                    problems, strict, j, f"shapes[{k}]", f"label {label!r} is not a declared class"
                )
                continue
            try:
                m = _shape_mask(s, h, w, line_width_px)
            except (ValueError, OSError) as exc:
                report_problem(problems, strict, j, f"shapes[{k}]", str(exc))
                bad = True
                continue
            if m is None or not m.any():
                continue
            gid = s.get("group_id")
            key = (label, gid if gid is not None else f"_{k}")
            groups[key] = groups[key] | m if key in groups else m
        if bad and strict:
            raise DatasetError("unusable shape", path=j)
        anns = []
        for (label, _), m in groups.items():
            ys, xs = np.nonzero(m)
            anns.append(
                {
                    "bbox": [
                        float(xs.min()),
                        float(ys.min()),
                        float(xs.max() + 1),
                        float(ys.max() + 1),
                    ],
                    "bbox_mode": BOX_MODE_XYXY_ABS,
                    "category_id": index[label],
                    "segmentation": rle.json_rle(rle.encode(m)),
                    "iscrowd": 0,
                    "area": float(m.sum()),
                }
            )
        records.append(
            {
                "file_name": str(img),
                "image_id": j.stem,
                "height": h,
                "width": w,
                "annotations": anns,
            }
        )
    return LabelledDataset(name or folder.name, "labelme", tuple(classes), records, problems, True)
