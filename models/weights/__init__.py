"""Models shipped with the package, by name (``survey predict --model default``).

``crack_default.pth`` is the default crack model: a self-contained model file (fp16 weights,
detectron2 config, thresholds tuned on the val splits, its training recipe and scores in
``meta``; see :mod:`models.semseg.predict`). ``crack_default.recipe.json`` repeats the recipe
for people without torch. ``scripts/train_crack_model.py`` reproduces it.
"""

from __future__ import annotations

from pathlib import Path

from models.errors import ModelError

__all__ = ["SHIPPED", "WEIGHTS_DIR", "shipped_model_path"]

WEIGHTS_DIR = Path(__file__).parent

#: shipped model name -> file in this folder
SHIPPED: dict[str, str] = {"default": "crack_default.pth", "crack": "crack_default.pth"}


def shipped_model_path(name: str) -> Path:
    """The file of a shipped model name; :class:`ModelError` when unknown or not installed."""
    if name not in SHIPPED:
        raise ModelError(
            f"unknown model name {name!r}; shipped models: {', '.join(sorted(SHIPPED))}"
        )
    p = WEIGHTS_DIR / SHIPPED[name]
    if not p.is_file():
        raise ModelError(
            f"the shipped model {name!r} is missing from this installation; "
            "train it with scripts/train_crack_model.py and export it there",
            path=p,
        )
    return p
