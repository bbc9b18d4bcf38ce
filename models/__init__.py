"""Detectron2 defect segmentation: datasets, training, evaluation, tiled inference, export, and a runtime without detectron2.

Public names are listed in ``__all__``. They are imported lazily on first use (PEP 562), so
importing the package, or one light module of it, stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from models.errors import ModelError

# public name -> module that defines it
_LAZY: dict[str, str] = {}

__all__ = ["ModelError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
