"""The batch pipeline machinery: a resumable stage runner and many flights at once.

Public names resolve lazily (PEP 562).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY: dict[str, str] = {
    "Pipeline": "survey.pipeline.runner",
    "PipelineError": "survey.pipeline.runner",
    "Stage": "survey.pipeline.runner",
    "StageContext": "survey.pipeline.runner",
    "StageResult": "survey.pipeline.runner",
    "FlightJob": "survey.pipeline.scale",
    "JobResult": "survey.pipeline.scale",
    "run_jobs": "survey.pipeline.scale",
    "apply_pipeline_options": "survey.pipeline.options",
    "pipeline_options": "survey.pipeline.options",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
