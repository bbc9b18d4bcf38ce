"""Online merging of sightings into defects, and rate-limited, de-duplicated alerts.

:class:`OnlineDefects` adds each located sighting to the nearest defect of the same class whose
position is within the Mahalanobis gate (chi-square 2 dof at ``gate_p``, summed covariances) and
fuses positions by inverse covariance; otherwise it starts a new defect. :class:`Alerter` sends
one alert per defect (the first time it has ``min_sightings`` sightings and a severity of at
least ``min_severity``), at most one every ``min_interval_s`` wall seconds; waiting alerts are
kept in a bounded list, most severe first.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from missions.onboard.geotag import Sighting

__all__ = ["Alert", "Alerter", "OnlineDefect", "OnlineDefects", "alert_text"]


@dataclass
class OnlineDefect:
    """One physical defect as merged so far (grid metres in the asset's frame)."""

    defect_id: int
    class_name: str
    x_m: float
    y_m: float
    cov_m2: np.ndarray
    sightings: int
    score_max: float
    first_t_boot_s: float
    lat_deg: float
    lon_deg: float
    chainage_m: float
    offset_m: float
    side: str
    severity: int = 0
    alerted: bool = False
    frames: list[int] = field(default_factory=list)


class OnlineDefects:
    """The defects found so far (see the module docstring)."""

    def __init__(
        self, gate_p: float = 0.99, max_distance_m: float = 5.0, min_cov_m2: float = 0.01
    ) -> None:
        self.gate = -2.0 * math.log(1.0 - gate_p)  # chi-square 2 dof quantile
        self.max_distance_m, self.min_cov_m2 = max_distance_m, min_cov_m2
        self.defects: list[OnlineDefect] = []

    def add(self, s: Sighting) -> OnlineDefect | None:
        """Merge one sighting; returns its defect (None when the sighting is not located)."""
        if not s.located:
            return None
        c = np.asarray(s.cov_m2, np.float64).reshape(2, 2)
        if not np.all(np.isfinite(c)):
            c = np.eye(2)
        c = c + np.eye(2) * self.min_cov_m2
        best, best_d2 = None, self.gate
        for d in self.defects:
            if d.class_name != s.class_name:
                continue
            dx = np.array([s.x_m - d.x_m, s.y_m - d.y_m])
            if math.hypot(*dx) > self.max_distance_m:
                continue
            d2 = float(dx @ np.linalg.solve(d.cov_m2 + c, dx))
            if d2 <= best_d2:
                best, best_d2 = d, d2
        if best is None:
            d = OnlineDefect(
                len(self.defects) + 1,
                s.class_name,
                s.x_m,
                s.y_m,
                c,
                1,
                s.score,
                s.t_boot_s,
                s.lat_deg,
                s.lon_deg,
                s.chainage_m,
                s.offset_m,
                s.side,
                frames=[s.frame_index],
            )
            self.defects.append(d)
            return d
        ia, ib = np.linalg.inv(best.cov_m2), np.linalg.inv(c)
        cov = np.linalg.inv(ia + ib)
        xy = cov @ (ia @ [best.x_m, best.y_m] + ib @ [s.x_m, s.y_m])
        n = best.sightings
        best.x_m, best.y_m, best.cov_m2 = float(xy[0]), float(xy[1]), cov
        best.lat_deg = (best.lat_deg * n + s.lat_deg) / (n + 1)
        best.lon_deg = (best.lon_deg * n + s.lon_deg) / (n + 1)
        best.chainage_m = (best.chainage_m * n + s.chainage_m) / (n + 1)
        best.offset_m = (best.offset_m * n + s.offset_m) / (n + 1)
        best.sightings, best.score_max = n + 1, max(best.score_max, s.score)
        best.frames.append(s.frame_index)
        return best


def alert_text(d: OnlineDefect) -> str:
    """The STATUSTEXT of a defect, at most 50 characters: ``S5 broken_rail 12+340.5 L``."""
    from geo.chainage import format_km

    side = {"left": "L", "right": "R"}.get(d.side, d.side[:1].upper())
    return f"S{d.severity} {d.class_name} {format_km(d.chainage_m)} {side}".strip()[:50]


@dataclass(frozen=True)
class Alert:
    """An alert sent (or waiting)."""

    defect_id: int
    text: str
    severity: int
    t_wall_s: float


class Alerter:
    """One alert per defect, rate-limited (see the module docstring)."""

    def __init__(
        self,
        send: Callable[[str, int], None],
        *,
        levels: dict[str, int] | None = None,
        min_severity: int = 3,
        min_sightings: int = 1,
        min_interval_s: float = 2.0,
        max_pending: int = 50,
    ) -> None:
        from survey.config import SeverityConfig
        from survey.report.severity import class_levels

        self.send = send
        self.levels = levels if levels is not None else class_levels(SeverityConfig())
        self.min_severity, self.min_sightings = min_severity, min_sightings
        self.min_interval_s, self.max_pending = min_interval_s, max_pending
        self.pending: list[OnlineDefect] = []
        self.sent: list[Alert] = []
        self.dropped = 0
        self.errors = 0
        self._last = -math.inf

    def offer(self, d: OnlineDefect | None) -> None:
        """Consider a defect that just got a sighting."""
        if d is None or d.alerted:
            return
        d.severity = int(self.levels.get(d.class_name, 3))
        if d.severity < self.min_severity or d.sightings < self.min_sightings:
            return
        d.alerted = True
        self.pending.append(d)
        self.pending.sort(key=lambda x: -x.severity)
        if len(self.pending) > self.max_pending:
            self.pending.pop()
            self.dropped += 1
        self.pump()

    def pump(self) -> None:
        """Send the most severe waiting alert when the rate allows."""
        now = time.monotonic()
        if not self.pending or now - self._last < self.min_interval_s:
            return
        d = self.pending.pop(0)
        text = alert_text(d)
        try:
            self.send(text, 2 if d.severity >= 5 else 4)  # CRITICAL / WARNING
        except Exception:  # a dead link must not stop detection; the alert is recorded
            self.errors += 1
        self._last = now
        self.sent.append(Alert(d.defect_id, text, d.severity, time.time()))
