"""Flying: corridor mission planning, the vehicle link, the onboard runtime, the recorder, and the flight simulator.

Public names are listed in ``__all__``. They are imported lazily on first use (PEP 562), so
importing the package, or one light module of it, stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from missions.errors import MissionError

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "SimConfig": "missions.sim.config",
    "make_dataset": "missions.sim.dataset",
    "simulate_flight": "missions.sim.simulate",
}

__all__ = ["MissionError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
