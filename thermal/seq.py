"""FLIR FFF files and SEQ / CSQ sequences (one FFF block per frame, back to back).

A SEQ frame stores 16-bit counts; a CSQ frame stores them JPEG-LS compressed (decoded with
imagecodecs). Every frame carries its own camera-info record, so each frame has its own
calibration. Files are memory-mapped: a multi-gigabyte sequence is never read whole.
"""

from __future__ import annotations

import logging
import mmap
import os
from collections.abc import Iterator
from pathlib import Path

from thermal.errors import ThermalFileNotFoundError, ThermalFormatError
from thermal.fff import HEADER_LEN
from thermal.flir import frame_from_fff
from thermal.frame import ThermalFrame

__all__ = ["count_fff_frames", "iter_fff_frames"]

log = logging.getLogger(__name__)
_MAGIC = (b"FFF\0", b"AFF\0")


def _open(path: str | os.PathLike[str]) -> tuple[mmap.mmap, int]:
    try:
        fh = open(path, "rb")
    except FileNotFoundError as exc:
        raise ThermalFileNotFoundError("no such file", path=path) from exc
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise ThermalFormatError("empty file", path=path)
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ), size


def _release(buf: memoryview | mmap.mmap) -> None:
    """Release a view or close the map; when a decoder's view (kept alive by an exception's
    traceback) still points into it, leave it to the garbage collector instead of raising a
    ``BufferError`` that would hide the real error."""
    try:
        buf.release() if isinstance(buf, memoryview) else buf.close()
    except BufferError:
        pass


def _kind(path: str | os.PathLike[str], first_storage: str, n_hint: int) -> str:
    ext = Path(path).suffix.lower()
    if ext == ".csq" or first_storage == "jpeg-ls":
        return "flir-csq"
    if ext == ".seq":
        return "flir-seq"
    return "flir-fff" if n_hint <= 1 else "flir-seq"


def iter_fff_frames(
    path: str | os.PathLike[str], *, start: int = 0, step: int = 1
) -> Iterator[ThermalFrame]:
    """Yield the frames of an FFF file or a SEQ/CSQ sequence.

    Parameters
    ----------
    path : path-like
        ``.fff``, ``.seq`` or ``.csq`` file.
    start, step : int
        Yield frames ``start, start + step, ...`` (others are skipped without decoding).

    Raises
    ------
    ThermalFormatError
        A truncated or corrupt frame; frames before it have been yielded already.
    """
    src = str(path)
    mm, size = _open(path)
    try:
        pos, index = 0, 0
        fmt: str | None = None
        while pos + HEADER_LEN <= size:
            if mm[pos : pos + 4] not in _MAGIC:
                nxt = min((i for i in (mm.find(m, pos) for m in _MAGIC) if i >= 0), default=-1)
                if nxt < 0:
                    if size - pos > 64:
                        log.warning(
                            "%s: %d trailing bytes after frame %d ignored", src, size - pos, index
                        )
                    break
                pos = nxt
            where = f"frame {index} at offset {pos:#x}"
            view = memoryview(mm)[pos:]
            try:
                if index >= start and (index - start) % step == 0:
                    frame, end = frame_from_fff(
                        view, source=src, format=fmt or "flir-fff", frame_index=index, where=where
                    )
                    if fmt is None:
                        fmt = _kind(
                            path,
                            str(frame.metadata.get("raw_storage")),
                            2 if pos + end < size else 1,
                        )
                        frame = frame.replace(format=fmt)
                    yield frame
                else:
                    from thermal.fff import parse_fff

                    _, _, end = parse_fff(view, path=src, where=where)
            finally:
                _release(view)
            if end <= 0:
                raise ThermalFormatError("FFF frame of length 0", path=src, where=where)
            pos += end
            index += 1
        if index == 0:
            raise ThermalFormatError("no FFF frame found", path=src, where="offset 0")
    finally:
        _release(mm)


def count_fff_frames(path: str | os.PathLike[str]) -> int:
    """Number of frames in an FFF/SEQ/CSQ file (headers only; nothing is decoded).

    Raises
    ------
    ThermalFormatError
        A frame's header or records run past the end of the file (truncated sequence).
    """
    from thermal.fff import parse_fff

    mm, size = _open(path)
    try:
        pos, n = 0, 0
        while pos + HEADER_LEN <= size and mm[pos : pos + 4] in _MAGIC:
            view = memoryview(mm)[pos:]
            try:
                _, _, end = parse_fff(view, path=str(path), where=f"frame {n} at offset {pos:#x}")
            finally:
                _release(view)
            pos += end
            n += 1
        return n
    finally:
        _release(mm)
