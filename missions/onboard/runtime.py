"""The onboard loop: camera -> bounded queue -> frame choice -> model -> geotag -> defects ->
alerts, with the recorder alongside.

A capture thread puts every frame into a :class:`~missions.onboard.queues.DropOldestQueue`
(drops counted); the main loop takes the newest work, looks up the pose of the frame's exposure
in the link's telemetry buffer (latency compensation: frames carry their exposure time on the
autopilot clock, or their arrival time minus the camera latency mapped onto it), and:

- **telemetry lost** (no pose within 0.5 s of samples): the frame is still analysed and its
  sightings recorded as unlocatable (``reason`` "no telemetry"); geotagging resumes with the
  telemetry,
- **model error on one frame**: the frame is skipped and counted,
- **stop** (SIGTERM through ``stop``): the loop ends and the recorder is flushed and closed.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from missions.onboard.defects import Alerter, OnlineDefects
from missions.onboard.geotag import FrameChooser, Geotagger, Sighting
from missions.onboard.queues import DropOldestQueue
from missions.onboard.recorder import Recorder

__all__ = ["FlyConfig", "FlySummary", "Runtime"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlyConfig:
    """Settings of ``survey fly``."""

    queue_size: int = 4
    spacing: float = 0.5  # analyse a frame every this fraction of the footprint length
    min_severity: int = 3
    min_sightings: int = 1
    alert_interval_s: float = 2.0
    camera_latency_s: float = 0.0
    pose_wait_s: float = 0.5  # wall seconds to wait for telemetry newer than a frame
    save_frames: bool = True


@dataclass
class FlySummary:
    """Counts of a run (written to ``onboard/summary.json``)."""

    frames_in: int = 0
    frames_dropped: int = 0
    frames_analysed: int = 0
    frames_skipped_distance: int = 0
    frames_skipped_corridor: int = 0
    frames_unlocatable: int = 0
    model_errors: int = 0
    sightings: int = 0
    sightings_located: int = 0
    defects: int = 0
    alerts_sent: int = 0
    alert_errors: int = 0
    camera_error: str = ""
    stopped_by: str = "end of stream"
    wall_s: float = 0.0
    latency_s: list[float] = field(default_factory=list)  # capture -> geotagged, per frame
    alert_latency_s: list[float] = field(default_factory=list)  # capture -> alert sent

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        for k in ("latency_s", "alert_latency_s"):
            v = np.asarray(d.pop(k), float)
            d[k.replace("_s", "") + "_p50_s"] = float(np.percentile(v, 50)) if v.size else None
            d[k.replace("_s", "") + "_p99_s"] = float(np.percentile(v, 99)) if v.size else None
        d["fps_analysed"] = self.frames_analysed / self.wall_s if self.wall_s else None
        return d


class Runtime:
    """One onboard run (see the module docstring).

    Parameters
    ----------
    link : missions.link.vehicle.VehicleLink
    source : iterable of frames (``.index``, ``.image``, ``.t_boot_s``; ``.close()`` optional)
    detectors : callables ``frame -> models.detections.Detections``
    geotagger : Geotagger
    recorder : Recorder
    """

    def __init__(
        self,
        link: Any,
        source: Iterable[Any],
        detectors: list[Callable[[Any], Any]],
        geotagger: Geotagger,
        recorder: Recorder,
        config: FlyConfig | None = None,
    ) -> None:
        self.link, self.source, self.detectors = link, source, detectors
        self.g, self.recorder = geotagger, recorder
        self.cfg = config or FlyConfig()
        self.queue: DropOldestQueue[Any] = DropOldestQueue(self.cfg.queue_size)
        self.chooser = FrameChooser(geotagger, self.cfg.spacing)
        self.defects = OnlineDefects()
        self.alerter = Alerter(
            self._send_alert,
            min_severity=self.cfg.min_severity,
            min_sightings=self.cfg.min_sightings,
            min_interval_s=self.cfg.alert_interval_s,
        )
        self.summary = FlySummary()
        self.stop = threading.Event()
        self._arrival: dict[int, float] = {}
        self._boot_minus_mono = math.nan
        link.add_raw_listener(self._on_packet)

    # ------------------------------------------------------------------ link side
    def _on_packet(self, buf: bytes, msg: Any) -> None:
        tb = self.link.t_boot_now_s
        if math.isfinite(tb):
            off = tb - time.monotonic()
            if not math.isfinite(self._boot_minus_mono) or off > self._boot_minus_mono:
                self._boot_minus_mono = off  # the least-delayed packet maps arrival to boot time
        self.recorder.packet(buf, self.link.utc_minus_boot_s + tb)

    def _send_alert(self, text: str, severity: int) -> None:
        self.link.statustext(text, severity)

    # ------------------------------------------------------------------ capture
    def _capture(self) -> None:
        try:
            for f in self.source:
                if self.stop.is_set():
                    break
                self.summary.frames_in += 1
                self.queue.put(f)
        except Exception as exc:  # camera lost for good: end the run cleanly, keep what we have
            log.error("camera: %s", exc)
            self.summary.camera_error = str(exc)
        finally:
            self.queue.close()

    # ------------------------------------------------------------------ main loop
    def run(self) -> FlySummary:
        """Fly until the stream ends or :attr:`stop` is set; the recording is closed on exit."""
        t0 = time.monotonic()
        # GNSS time (SYSTEM_TIME) names the saved frames and stamps the tlog: wait a little for it
        while not math.isfinite(self.link.utc_minus_boot_s) and time.monotonic() - t0 < 3.0:
            time.sleep(0.02)
        cap = threading.Thread(target=self._capture, name="capture", daemon=True)
        cap.start()
        try:
            while not self.stop.is_set():
                f = self.queue.get(timeout=0.2)
                if f is None:
                    if self.queue.closed and len(self.queue) == 0:
                        break
                    self.alerter.pump()
                    continue
                self._process(f)
                self.alerter.pump()
            if self.stop.is_set():
                self.summary.stopped_by = "stop"
        finally:
            close = getattr(self.source, "close", None)
            if close is not None:
                close()
            cap.join(timeout=5.0)
            self._finish(time.monotonic() - t0)
        return self.summary

    def _t_boot(self, f: Any) -> float:
        t = float(getattr(f, "t_boot_s", math.nan))
        if math.isfinite(t):
            return t
        arr = float(getattr(f, "t_arrival_s", math.nan))
        return arr - self.cfg.camera_latency_s + self._boot_minus_mono

    def _pose_at(self, t: float) -> Any:
        """The pose at ``t``, waiting (up to ``pose_wait_s``) for the telemetry to pass ``t``."""
        end = time.monotonic() + self.cfg.pose_wait_s
        while True:
            p = self.link.pose_at(t)
            # both channels must have passed t: the attitude of a row can arrive before its
            # position, and a pose asked for between the two is late, not lost
            newest = self.link.t_pose_newest_s
            if p is not None or (math.isfinite(newest) and newest >= t):
                return p
            if time.monotonic() >= end or self.stop.is_set():
                return None
            time.sleep(0.005)

    def _process(self, f: Any) -> None:
        s = self.summary
        t = self._t_boot(f)
        pose = self._pose_at(t) if math.isfinite(t) else None
        if pose is not None and not self.chooser.choose(pose):
            return
        dets = []
        for det in self.detectors:
            try:
                dets.append(det(f))
            except Exception as exc:  # one bad frame must not stop the flight
                log.warning("model error on frame %s: %s", f.index, exc)
                s.model_errors += 1
                return
        s.frames_analysed += 1
        if pose is None:
            s.frames_unlocatable += 1
        elif math.isfinite(self.link.utc_minus_boot_s):
            self.recorder.frame(f.index, f.image, pose, self.link.utc_minus_boot_s + t)
        created_at = time.monotonic()
        sent_before = len(self.alerter.sent)
        for d in dets:
            for sg in self._sightings(pose, f, t, d):
                s.sightings += 1
                s.sightings_located += int(sg.located)
                defect = self.defects.add(sg)
                self.recorder.sighting(sg, defect)
                self.alerter.offer(defect)
        arrival = float(getattr(f, "t_arrival_s", math.nan))
        if math.isfinite(arrival):
            s.latency_s.append(created_at - arrival)
            if len(self.alerter.sent) > sent_before:
                s.alert_latency_s.append(time.monotonic() - arrival)

    def _sightings(self, pose: Any, f: Any, t: float, dets: Any) -> list[Sighting]:
        if pose is not None:
            return self.g.locate(pose, f.index, dets)
        out = []
        for i in range(len(dets.scores)):
            b = dets.boxes_xyxy[i]
            name = (
                dets.class_names[int(dets.class_ids[i])]
                if dets.class_names
                else str(dets.class_ids[i])
            )
            out.append(
                Sighting(
                    f.index,
                    t,
                    name,
                    float(dets.scores[i]),
                    float(b[0] + b[2]) / 2,
                    float(b[1] + b[3]) / 2,
                    False,
                    "no telemetry",
                )
            )
        return out

    def _finish(self, wall_s: float) -> None:
        s = self.summary
        # send what is still waiting, ignoring the rate (the run is ending)
        self.alerter.min_interval_s = 0.0
        while self.alerter.pending:
            self.alerter.pump()
        s.frames_dropped = self.queue.dropped
        s.frames_skipped_distance = self.chooser.skipped_distance
        s.frames_skipped_corridor = self.chooser.skipped_corridor
        s.defects = len(self.defects.defects)
        s.alerts_sent = len(self.alerter.sent)
        s.alert_errors = self.alerter.errors
        s.wall_s = wall_s
        summary = s.as_dict()
        summary["alerts"] = [a.text for a in self.alerter.sent]
        self.recorder.close(self.defects.defects, summary)
