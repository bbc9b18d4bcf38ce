"""Defect stores: a GeoPackage per run (default) or PostGIS, behind one interface.

Public names resolve lazily (PEP 562) so importing this package stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY: dict[str, str] = {
    "DefectNotFoundError": "survey.store.base",
    "DefectStore": "survey.store.base",
    "INSPECTOR_LAYER": "survey.store.base",
    "RunInfo": "survey.store.base",
    "StoreError": "survey.store.base",
    "default_store_path": "survey.store.base",
    "open_run_store": "survey.store.base",
    "open_store": "survey.store.base",
    "write_store_pointer": "survey.store.base",
    "GeoPackageStore": "survey.store.gpkg",
    "PostGISStore": "survey.store.postgis",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
