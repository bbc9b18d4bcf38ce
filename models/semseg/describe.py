"""``survey inspect`` describer of semantic model files (the shipped crack model and exports).

Light on purpose (JSON only, no torch): a model file ``NAME.pth`` written by
:func:`models.semseg.export.export_model` has ``NAME.recipe.json`` beside it with its metadata.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["describe_semseg_model_file"]


def describe_semseg_model_file(path: Path) -> dict[str, Any] | None:
    """Summary of a semantic model file, or None when ``path`` is not one."""
    p = Path(path)
    recipe = p.with_name(p.stem + ".recipe.json")
    if p.suffix != ".pth" or not p.is_file() or not recipe.is_file():
        return None
    try:
        meta = json.loads(recipe.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {"kind": "semantic model file", "warnings": [f"{recipe.name} is unreadable: {exc}"]}
    warnings = []
    size_mb = p.stat().st_size / 2**20
    if size_mb > 50:
        warnings.append(f"{size_mb:.1f} MB: over the 50 MB budget of shipped models")
    val = meta.get("val", {})
    at = val.get("at_threshold", {})
    low = [s for s, v in at.items() if v.get("f1", 0) < 0.85]
    if low:
        warnings.append(f"val F1 below 0.85 on {', '.join(low)}")
    r = meta.get("recipe", {})
    return {
        "kind": "semantic model file",
        "classes": meta.get("classes"),
        "threshold": (meta.get("thresholds") or [None])[0],
        "size_mb": round(size_mb, 1),
        "dtype": meta.get("dtype"),
        "iteration": meta.get("iteration"),
        "tta": meta.get("tta", "none"),
        "threshold_criterion": val.get("criterion", "mean"),
        "stages": [
            f"{st.get('start_iter')}-{st.get('end_iter')} of {st.get('max_iter')}"
            for st in r.get("stages") or []
        ]
        or None,
        "val_f1": {s: round(v["f1"], 3) for s, v in at.items() if "f1" in v},
        "val_precision": {s: round(v["precision"], 3) for s, v in at.items() if "precision" in v},
        "val_recall": {s: round(v["recall"], 3) for s, v in at.items() if "recall" in v},
        "tolerance_px": val.get("tolerance_px"),
        "preset": r.get("preset"),
        "seed": r.get("seed"),
        "train": r.get("train"),
        "warnings": warnings,
    }
