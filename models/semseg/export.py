"""Export the best model of a training run as a small self-contained fp16 model file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.errors import ModelError

__all__ = ["export_best"]


def export_best(
    run_dir: str | Path, dest: str | Path, *, extra_meta: dict[str, Any] | None = None
) -> Path:
    """Write ``run_dir/model_best.pth`` to ``dest`` in fp16 with the run's recipe in its metadata."""
    import json

    import torch

    from models.semseg.predict import _load_any, save_model_file

    run = Path(run_dir)
    src = run / "model_best.pth"
    if not src.is_file():
        raise ModelError("no model_best.pth: the run has not been validated yet", path=run)
    cfg, sd, meta = _load_any(src)
    recipe_path = run / "recipe.json"
    if recipe_path.is_file():
        recipe = json.loads(recipe_path.read_text(encoding="utf-8"))
        meta["recipe"] = {
            "seed": recipe.get("seed"),
            "command": recipe.get("command"),
            "versions": recipe.get("versions"),
            "train": {k: [Path(e["image"]).name for e in v] for k, v in recipe["train"].items()},
            "val": {k: [Path(e["image"]).name for e in v] for k, v in recipe["val"].items()},
        }
    meta["dtype"] = "float16"
    meta["torch"] = torch.__version__
    meta.update(extra_meta or {})
    return save_model_file(dest, cfg, sd, meta, half=True)
