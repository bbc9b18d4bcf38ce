"""Image motion of a video, frame to frame: the camera-side series for clock correlation.

The global shift between consecutive frames (phase correlation on a downscaled grey image,
OpenCV) is proportional to ground speed over height for a camera looking at the ground; it
needs no calibration because :func:`survey.telemetry.sync_series.estimate_offset_by_correlation`
is scale-free. Frames are read once, in order, with OpenCV's video reader.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from survey.telemetry.errors import TelemetryFormatError

__all__ = ["video_motion"]


def video_motion(
    path: str | Path,
    *,
    width_px: int = 192,
    stride: int = 1,
    max_frames: int | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """Image motion (pixels per second, at the original resolution) between frames.

    Parameters
    ----------
    path : str or Path
        A video OpenCV can read (MP4/MOV with H.264 and the like).
    width_px : int
        Frames are shrunk to this width before matching (speed over accuracy).
    stride : int
        Compare frame ``i`` with frame ``i + stride``; the time of each value is the midpoint.
    max_frames : int, optional
        Stop after this many frames.

    Returns
    -------
    t_video_s, speed_px_s, fps
        Video times of the values (frame index / fps, midpoints), the motion and the frame rate.
    """
    import cv2

    p = Path(path)
    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        raise TelemetryFormatError("OpenCV cannot open the video", path=p)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 0.0
        if fps <= 0:
            raise TelemetryFormatError("the video states no frame rate", path=p)
        frames: list[np.ndarray] = []
        scale = 1.0
        window = None
        t_out: list[float] = []
        v_out: list[float] = []
        i = 0
        while max_frames is None or i < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
            scale = grey.shape[1] / width_px
            small = cv2.resize(
                grey, (width_px, max(8, round(grey.shape[0] / scale))), interpolation=cv2.INTER_AREA
            )
            small = small.astype(np.float32)
            if window is None:
                window = cv2.createHanningWindow(small.shape[::-1], cv2.CV_32F)
            frames.append(small)
            if len(frames) > stride:
                prev = frames.pop(0)
                (dx, dy), _resp = cv2.phaseCorrelate(prev, small, window)
                t_out.append((i - stride / 2) / fps)
                v_out.append(float(np.hypot(dx, dy)) * scale * fps / stride)
            i += 1
    finally:
        cap.release()
    if len(v_out) < 2:
        raise TelemetryFormatError(f"only {i} frames could be read from the video", path=p)
    return np.array(t_out), np.array(v_out), fps
