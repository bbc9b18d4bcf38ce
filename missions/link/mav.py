"""One place that loads pymavlink with the MAVLink 2 ``ardupilotmega`` dialect.

pymavlink chooses MAVLink 1 or 2 when ``pymavlink.mavutil`` is first imported (environment
variable ``MAVLINK20``). Gimbal messages (GIMBAL_DEVICE_ATTITUDE_STATUS, id 285) exist only in
MAVLink 2, and a MAVLink 2 parser also reads MAVLink 1, so everything in ``missions`` that talks
MAVLink (the link, dronekit, the simulated autopilot) gets its ``mavutil`` from :func:`mavutil`.
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["mavutil"]


def mavutil() -> ModuleType:
    """``pymavlink.mavutil`` switched to the MAVLink 2 ``ardupilotmega`` dialect."""
    os.environ["MAVLINK20"] = "1"
    from pymavlink import mavutil as mu

    if not getattr(mu.mavlink, "WIRE_PROTOCOL_VERSION", "1.0").startswith("2"):
        mu.set_dialect("ardupilotmega")
    return mu
