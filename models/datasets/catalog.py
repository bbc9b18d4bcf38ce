"""Put datasets into Detectron2's ``DatasetCatalog`` and ``MetadataCatalog``.

Metadata set on each registered name: ``thing_classes`` (the class list), ``stuff_classes``
(``["background", *classes]``, for semantic models), ``ignore_label`` (255), ``has_masks``,
``source`` (the spec), ``fmt``. Re-registering a name replaces it.

Examples
--------
>>> from models.datasets.base import LabelledDataset
>>> name = register_dataset("doc-example", LabelledDataset("x", "coco", ("crack",), []))
>>> from detectron2.data import MetadataCatalog
>>> MetadataCatalog.get(name).thing_classes
['crack']
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

from models.datasets.base import LabelledDataset
from models.datasets.sources import DatasetSpec, load_dataset

__all__ = ["register_dataset", "register_spec"]


def register_dataset(name: str, ds: LabelledDataset) -> str:
    """Register ``ds`` under ``name`` (replacing an earlier registration); returns ``name``."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    records = ds.records
    DatasetCatalog.register(name, lambda: copy.deepcopy(records))
    MetadataCatalog.get(name).set(
        thing_classes=list(ds.classes),
        stuff_classes=["background", *ds.classes],
        ignore_label=255,
        has_masks=ds.has_masks,
        source=ds.name,
        fmt=ds.fmt,
    )
    return name


def register_spec(
    spec: str | Path | DatasetSpec,
    name: str | None = None,
    *,
    classes: Sequence[str] | None = None,
    seed: int = 0,
) -> str:
    """Load a dataset spec (``PATH[:SPLIT]``, TOML) and register it; returns the name used."""
    ds = load_dataset(spec, classes=classes, seed=seed)
    return register_dataset(name or str(spec), ds)
