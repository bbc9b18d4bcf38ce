"""What is this file (or flight folder)? One dispatcher over the describers of each kind.

A describer takes a path and returns a JSON-serialisable summary ``dict`` when the path is of its
kind, or ``None`` when it is not. Each kind's describer lives beside the code that reads that kind
and is listed in :data:`DESCRIBERS` by dotted name (imported only when needed). The summary always
has ``"kind"`` (what the file is) and ``"warnings"`` (a list of strings); the rest depends on the
kind (duration, sample count, rate, time span, bounding box, fields, camera, calibration, ...).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from survey.errors import SurveyError

__all__ = ["DESCRIBERS", "UnknownFileKindError", "describe"]

Describer = Callable[[Path], dict[str, Any] | None]

#: Tried in this order; the first that recognises the path wins.
DESCRIBERS: list[str] = [
    "models.describe:describe_model_path",  # before flight folders: model.ts looks like video
    "models.semseg.describe:describe_semseg_model_file",  # NAME.pth + NAME.recipe.json
    "survey.flight:describe_flight_dir",
    "survey.thermal_files:describe_thermal",
    "survey.telemetry.inspect:describe_telemetry",
]


class UnknownFileKindError(SurveyError, ValueError):
    """No describer recognised the file."""


def _load(target: str) -> Describer | None:
    module, _, attr = target.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            return None  # that kind is not built into this installation
        raise
    fn: Describer = getattr(mod, attr)
    return fn


def describe(path: str | Path) -> dict[str, Any]:
    """Summarise ``path`` with the first describer that recognises it.

    Raises
    ------
    FileNotFoundError
        The path does not exist (a :class:`SurveyError` too).
    UnknownFileKindError
        No describer recognised it; the message says what was looked for.
    """
    p = Path(path)
    if not p.exists():
        raise _NotFound("no such file or folder", path=p)
    for target in DESCRIBERS:
        fn = _load(target)
        if fn is None:
            continue
        summary = fn(p)
        if summary is not None:
            summary.setdefault("path", str(p))
            summary.setdefault("warnings", [])
            return summary
    raise UnknownFileKindError(
        "not a file kind survey knows (flight folder, thermal image/sequence, flight log, "
        "subtitle telemetry, geotagged photo)",
        path=p,
    )


class _NotFound(SurveyError, FileNotFoundError):
    pass
