"""The export bundle's sidecar ``model.json``: what the runtime needs besides the ONNX graph.

Fields: ``format`` (:data:`BUNDLE_FORMAT`), ``version``, ``kind`` (``"instance"``, or
``"semantic"``: see :mod:`models.semseg.onnx_export` for its extra fields), ``input``
(``name``, ``shape`` [3, H, W], ``channels`` "BGR"/"RGB", ``dtype``, ``pad_value`` per channel in
input order: the model's pixel mean, so padding normalises to zero as in Detectron2), ``outputs``
(names in graph order: ``boxes``, ``classes``, ``masks``, ``scores``, ``image_size``),
``class_names``, ``score_threshold``, ``mask_threshold``, ``tile`` (``size``, ``overlap``,
``merge_iou``, ``merge_ios``), plus provenance (``source_run``, ``preset``, ``opset``,
``exported_utc``, ``parity``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import RuntimeModelError

__all__ = ["BUNDLE_FORMAT", "Bundle", "read_bundle"]

BUNDLE_FORMAT = "railpipe-survey/detectron2-export"
_REQUIRED = (
    "format",
    "version",
    "kind",
    "input",
    "outputs",
    "class_names",
    "score_threshold",
    "tile",
)


@dataclass(frozen=True)
class Bundle:
    """A parsed ``model.json`` and the folder it is in."""

    root: Path
    meta: dict[str, Any]

    @property
    def input_hw(self) -> tuple[int, int]:
        shape = self.meta["input"]["shape"]
        return int(shape[1]), int(shape[2])

    @property
    def bgr(self) -> bool:
        return self.meta["input"].get("channels", "BGR") == "BGR"

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.meta["class_names"])

    def file(self, key: str) -> Path:
        name = self.meta.get("files", {}).get(key)
        if not name:
            raise RuntimeModelError(
                f"the bundle has no {key} file", path=self.root / "model.json", where=f"files.{key}"
            )
        p = self.root / name
        if not p.is_file():
            raise RuntimeModelError(f"{key} file is missing", path=p)
        return p


def read_bundle(path: str | Path) -> Bundle:
    """Read a bundle folder (or its ``model.json``, or the ``.onnx`` beside it)."""
    p = Path(path)
    meta_path = (
        p / "model.json" if p.is_dir() else p if p.suffix == ".json" else p.with_name("model.json")
    )
    if not meta_path.is_file():
        raise RuntimeModelError(
            "no model.json (export a run with `survey export-model`)", path=meta_path
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RuntimeModelError(f"not valid JSON ({exc})", path=meta_path) from exc
    missing = [k for k in _REQUIRED if k not in meta]
    if missing:
        raise RuntimeModelError(f"missing fields {missing}", path=meta_path)
    if meta["format"] != BUNDLE_FORMAT:
        raise RuntimeModelError(
            f"format is {meta['format']!r}, expected {BUNDLE_FORMAT!r}",
            path=meta_path,
            where="format",
        )
    if meta["kind"] not in ("instance", "semantic"):
        raise RuntimeModelError(
            f"kind {meta['kind']!r} is not supported by this runtime", path=meta_path, where="kind"
        )
    shape = meta["input"].get("shape")
    if not (isinstance(shape, list) and len(shape) == 3 and shape[0] == 3):
        raise RuntimeModelError(
            f"input.shape must be [3, H, W], got {shape}", path=meta_path, where="input.shape"
        )
    return Bundle(meta_path.parent, meta)
