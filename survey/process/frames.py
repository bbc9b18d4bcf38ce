"""Streaming the selected frames of a stream: never a whole video in memory.

:func:`iter_frames` yields ``(row, image)`` for the selected rows of a
:class:`~survey.process.records.StreamPoses`, in file and frame order. A video is decoded
front to back once: frames between selected ones are only grabbed (decoded, not converted),
and a long jump seeks to the nearest key frame first. :class:`Prefetch` runs the reader in a
thread with a bounded queue, so decoding overlaps the model and at most ``size`` decoded
frames wait in memory.

A frame that cannot be read (a truncated or corrupt video, an unreadable still) is not
skipped silently: the iterator yields ``(row, None)`` with the reason in
:attr:`FrameReader.failures`, and a video that ends early fails all its later rows with the
frame number where it stopped.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FrameReader", "Prefetch"]

log = logging.getLogger(__name__)
SEEK_GAP = 300  #: frames; a longer jump seeks instead of grabbing


class FrameReader:
    """Reads the selected frames of one stream (BGR uint8 for RGB; a ThermalFrame for thermal)."""

    def __init__(self, root: Path, poses: Any, rows: np.ndarray) -> None:
        self.root = root
        self.poses = poses
        self.rows = np.asarray(rows, dtype=np.intp)
        #: row -> why it could not be read
        self.failures: dict[int, str] = {}

    def __len__(self) -> int:
        return int(self.rows.size)

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        sp = self.poses
        order = self.rows[np.lexsort((sp.frame[self.rows], sp.file_index[self.rows]))]
        files = sp.file_index[order]
        for fi in np.unique(files):
            rows = order[files == fi]
            path = self.root / sp.files[int(fi)]
            if sp.kind == "video":
                yield from self._video(path, rows)
            else:
                for r in rows:
                    yield int(r), self._image(path, int(r))

    def _fail(self, row: int, why: str) -> None:
        self.failures[row] = why
        log.warning("%s", why)

    def _image(self, path: Path, row: int) -> Any:
        if self.poses.kind == "thermal":
            from thermal import read_thermal
            from thermal.errors import ThermalError

            try:
                return read_thermal(path)
            except ThermalError as exc:
                self._fail(row, f"unreadable thermal frame: {exc}")
                return None
        import cv2

        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            self._fail(row, f"{path}: unreadable or corrupt image")
        return img

    def _video(self, path: Path, rows: np.ndarray) -> Iterator[tuple[int, Any]]:
        import cv2

        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            for r in rows:
                self._fail(int(r), f"{path}: cannot open the video")
                yield int(r), None
            return
        pos = 0  # index of the next frame read() would return
        try:
            for k, r in enumerate(rows):
                want = int(self.poses.frame[r])
                if want - pos > SEEK_GAP:
                    cap.set(cv2.CAP_PROP_POS_FRAMES, want)
                    got = int(cap.get(cv2.CAP_PROP_POS_FRAMES))
                    pos = got if 0 <= got <= want else pos
                ok = True
                while pos < want and ok:
                    ok = cap.grab()
                    pos += 1
                img = None
                if ok:
                    ok, img = cap.read()
                    pos += 1
                if not ok or img is None:
                    why = (
                        f"{path}: the video ends or is corrupt at frame {pos - 1} "
                        f"(frame {want} wanted)"
                    )
                    for r2 in rows[k:]:
                        self._fail(int(r2), why)
                        yield int(r2), None
                    return
                yield int(r), img
        finally:
            cap.release()


class Prefetch:
    """Iterate ``source`` in a background thread through a queue of at most ``size`` items."""

    _END = object()

    def __init__(self, source: Any, size: int = 4) -> None:
        self.source = source
        self.q: queue.Queue[Any] = queue.Queue(maxsize=max(1, size))
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="frame-reader")

    def _run(self) -> None:
        try:
            for item in self.source:
                while not self._stop.is_set():
                    try:
                        self.q.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
        except BaseException as exc:  # handed to the consumer, re-raised there
            self.error = exc
        finally:
            self.q.put(self._END)

    def __iter__(self) -> Iterator[Any]:
        self.thread.start()
        try:
            while True:
                item = self.q.get()
                if item is self._END:
                    break
                yield item
            if self.error is not None:
                raise self.error
        finally:
            self._stop.set()
            while self.thread.is_alive():
                try:
                    self.q.get_nowait()
                except queue.Empty:
                    self.thread.join(timeout=0.05)
