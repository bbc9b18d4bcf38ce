"""The flight simulator: a virtual drone flies a real line and writes a flight folder in real
formats, with exact ground truth.

The world is a stretch of a real line (:mod:`missions.sim.asset`, UTM, corridor coordinates),
terrain (:mod:`missions.sim.terrain`), a procedural texture painted lazily in tiles
(:mod:`missions.sim.paint`, :mod:`missions.sim.tiles`) with seeded defects and thermal
look-alikes (:mod:`missions.sim.scene`). The aircraft flies a plan with wind and turbulence
(:mod:`missions.sim.flight`); what it logs carries a realistic error model
(:mod:`missions.sim.errormodel`). Cameras (:mod:`missions.sim.camera`, :mod:`missions.sim.rig`)
are rendered by ray casting with ``cv2.remap`` (:mod:`missions.sim.render`); the files are
written by :mod:`missions.sim.formats`. :func:`simulate_flight` runs it all; its docstring
(:mod:`missions.sim.simulate`) describes the flight-folder layout precisely.
:func:`make_dataset` renders a COCO training set instead.

Public names are imported lazily (PEP 562).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY: dict[str, str] = {
    "CLASSES": "missions.sim.classes",
    "CameraModel": "missions.sim.camera",
    "DatasetSpec": "missions.sim.dataset",
    "ErrorModel": "missions.sim.errormodel",
    "FlightPlan": "missions.sim.flight",
    "SimConfig": "missions.sim.config",
    "SimResult": "missions.sim.simulate",
    "camera_rotation": "missions.sim.camera",
    "load_asset": "missions.sim.asset",
    "load_sim_config": "missions.sim.config",
    "make_dataset": "missions.sim.dataset",
    "simulate_flight": "missions.sim.simulate",
    "GroundTruth": "missions.sim.groundtruth",
}

__all__ = [*_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
