"""The vehicle link (dronekit over UDP/TCP/serial) and what the onboard runtime needs from it.

Public names are imported lazily (PEP 562), so dronekit loads only when a link is opened.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY: dict[str, str] = {
    "CameraTrigger": "missions.link.vehicle",
    "LinkError": "missions.link.vehicle",
    "LinkState": "missions.link.vehicle",
    "PoseSample": "missions.link.vehicle",
    "VehicleLink": "missions.link.vehicle",
    "import_dronekit": "missions.link.vehicle",
    "open_link": "missions.link.vehicle",
}

__all__ = [*_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
