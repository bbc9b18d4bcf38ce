"""Corridor mission planning (``survey plan``): passes, waypoints, speeds and sorties from the
asset line and a target GSD (:mod:`missions.plan.planner`), written as a QGroundControl
``.plan``, MAVLink WPL 110, KML/GeoJSON and a map (:mod:`missions.plan.mission`,
:mod:`missions.plan.preview`), and flown in the simulator (:mod:`missions.plan.simplan`)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY: dict[str, str] = {
    "Aircraft": "missions.plan.planner",
    "CorridorPlan": "missions.plan.planner",
    "PlanRequest": "missions.plan.planner",
    "plan_corridor": "missions.plan.planner",
    "plan_camera": "missions.plan.camera",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
