"""The post-flight application: flight discovery, telemetry, time sync, pipeline, store, review, reports and the `survey` CLI.

Public names are listed in ``__all__``. They are imported lazily on first use (PEP 562), so
importing the package, or one light module of it, stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from survey.errors import SurveyError

# public name -> module that defines it
_LAZY: dict[str, str] = {
    # defects, store, pipeline (issue 8)
    "Defect": "survey.defects",
    "DefectSet": "survey.defects",
    "Detection": "survey.defects",
    "DetectionSet": "survey.defects",
    "Review": "survey.defects",
    "DefectStore": "survey.store.base",
    "RunInfo": "survey.store.base",
    "open_store": "survey.store.base",
    "open_run_store": "survey.store.base",
    "Pipeline": "survey.pipeline.runner",
    "Stage": "survey.pipeline.runner",
    "run_jobs": "survey.pipeline.scale",
}

__all__ = ["SurveyError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
