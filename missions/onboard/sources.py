"""Camera frame sources for the onboard runtime.

Every source yields :class:`Frame` s (BGR pixels, an index, the exposure time on the
autopilot's boot clock when the source knows it, else NaN and the runtime maps the arrival
time). ``open_source`` parses ``--camera``:

- ``sim`` — the simulated camera of :class:`missions.sim.autopilot.SimAutopilot` (in step with
  its clock),
- a video file, an RTSP URL or a GStreamer pipeline, or a V4L2 device (``/dev/video0`` or an
  integer) — read through OpenCV; a lost stream is reopened with backoff.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from missions.errors import MissionError

__all__ = ["CameraError", "Frame", "OpenCVSource"]

log = logging.getLogger(__name__)


class CameraError(MissionError, OSError):
    """A camera cannot be opened or was lost for good."""


@dataclass(frozen=True)
class Frame:
    """One camera frame."""

    index: int
    image: np.ndarray
    t_boot_s: float  # exposure on the autopilot clock; NaN = unknown (use the arrival time)
    t_arrival_s: float  # time.monotonic() when it arrived


class OpenCVSource:
    """Frames from OpenCV ``VideoCapture`` (file, RTSP, GStreamer, V4L2), reopened when lost.

    Parameters
    ----------
    spec : str
        A path, URL, GStreamer pipeline (``... ! appsink``) or device (``/dev/video0``, ``0``).
    retries : int
        Reopen attempts after a lost stream (backoff 0.5 s doubling to 8 s); files end instead.
    """

    def __init__(self, spec: str, *, retries: int = 5, latency_s: float = 0.0) -> None:
        self.spec, self.retries, self.latency_s = spec, retries, latency_s
        self.reconnects = 0
        self.closed = False
        self.is_file = not (
            spec.startswith(("rtsp:", "http:", "https:", "/dev/")) or spec.isdigit() or "!" in spec
        )

    def _open(self):  # type: ignore[no-untyped-def]
        import cv2

        src: int | str = int(self.spec) if self.spec.isdigit() else self.spec
        api = cv2.CAP_GSTREAMER if "!" in self.spec else cv2.CAP_ANY
        cap = cv2.VideoCapture(src, api)
        return cap if cap.isOpened() else None

    def __iter__(self) -> Iterator[Frame]:
        cap = self._open()
        if cap is None:
            raise CameraError("OpenCV cannot open the camera", where=self.spec)
        i, delay = 0, 0.5
        try:
            while not self.closed:
                ok, img = cap.read()
                if ok:
                    delay = 0.5
                    yield Frame(i, img, math.nan, time.monotonic() - self.latency_s)
                    i += 1
                    continue
                if self.is_file:
                    return
                cap.release()
                for _ in range(self.retries):
                    log.warning("camera %s lost; reopening in %.1f s", self.spec, delay)
                    time.sleep(delay)
                    delay = min(delay * 2, 8.0)
                    cap = self._open()
                    if cap is not None:
                        self.reconnects += 1
                        break
                else:
                    raise CameraError(
                        f"camera lost, {self.retries} reopen attempts failed", where=self.spec
                    )
        finally:
            if cap is not None:
                cap.release()

    def close(self) -> None:
        """Stop after the current frame."""
        self.closed = True
