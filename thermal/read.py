"""One entry point for every radiometric file: sniff the kind, dispatch to its reader.

:func:`read_thermal` returns one :class:`ThermalFrame` (the first frame of a sequence);
:func:`iter_frames` yields every frame of a sequence (one for single images);
:func:`sniff` says what a file is without decoding it.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

from thermal.errors import (
    NotRadiometricError,
    ThermalError,
    ThermalFileNotFoundError,
    ThermalFormatError,
)
from thermal.frame import ThermalFrame

__all__ = ["iter_frames", "read_thermal", "sniff"]

_VIDEO_EXT = {".mp4", ".mov", ".avi", ".mkv", ".m4v", ".ts", ".mts"}


def sniff(path: str | os.PathLike[str]) -> str:
    """The kind of file from its first bytes.

    Returns one of ``"jpeg"``, ``"fff"`` (one FFF frame, or a SEQ/CSQ sequence of them),
    ``"tiff"``, ``"fpf"``, ``"video"``, ``"png"`` or ``"unknown"``.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(32)
    except FileNotFoundError as exc:
        raise ThermalFileNotFoundError("no such file", path=p) from exc
    except IsADirectoryError as exc:
        raise ThermalFormatError("is a folder, expected a thermal file", path=p) from exc
    if head[:2] == b"\xff\xd8":
        return "jpeg"
    if head[:4] in (b"FFF\0", b"AFF\0"):
        return "fff"
    if head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        return "tiff"
    if head.startswith(b"FPF Public Image Format"):
        return "fpf"
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide") or head[:4] == b"RIFF":
        return "video"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if p.suffix.lower() in _VIDEO_EXT:
        return "video"
    return "unknown"


#: What third-party decoders (tifffile, imagecodecs, OpenCV, numpy, struct) raise on damaged
#: bytes; :func:`iter_frames` turns them into a :class:`ThermalFormatError` naming the file.
_DECODER_ERRORS = (
    ValueError,
    IndexError,
    KeyError,
    OverflowError,
    BufferError,
    ZeroDivisionError,
    TypeError,
    EOFError,
    MemoryError,
    RuntimeError,
    OSError,
)


def iter_frames(path: str | os.PathLike[str]) -> Generator[ThermalFrame, None, None]:
    """Every frame of a radiometric file; only this package's errors escape (see below).

    Raises
    ------
    NotRadiometricError
        Video, plain images and other files without radiometric data.
    UnsupportedCameraError
        Radiometric files this package cannot convert (DJI DTAT3.0).
    ThermalFormatError
        Truncated or corrupt files (also any decoder failure, with its type and message).
    """
    it = _iter_frames(path)
    index = 0
    try:
        while True:
            try:
                frame = next(it)
            except StopIteration:
                return
            except ThermalError:
                raise
            except _DECODER_ERRORS as exc:
                raise ThermalFormatError(
                    f"damaged file: the decoder failed ({type(exc).__name__}: {exc})",
                    path=str(path),
                    where=f"frame {index}",
                ) from exc
            yield frame
            index += 1
    finally:
        it.close()


def _iter_frames(path: str | os.PathLike[str]) -> Generator[ThermalFrame, None, None]:
    """Every frame of a radiometric file (a SEQ/CSQ sequence, or a single image).

    Raises
    ------
    NotRadiometricError
        Video, plain images and other files without radiometric data.
    UnsupportedCameraError
        Radiometric files this package cannot convert (DJI DTAT3.0).
    ThermalFormatError
        Truncated or corrupt files.
    """
    kind = sniff(path)
    src = str(path)
    if kind == "jpeg":
        from thermal.rjpeg import read_rjpeg

        yield read_rjpeg(path)
    elif kind == "fff":
        from thermal.seq import iter_fff_frames

        yield from iter_fff_frames(path)
    elif kind == "tiff":
        from thermal.tiff import read_radiometric_tiff

        yield read_radiometric_tiff(path)
    elif kind == "fpf":
        from thermal.fpf import read_fpf

        yield read_fpf(path)
    elif kind == "video":
        raise NotRadiometricError(
            "a video file: colourised (8-bit) thermal video carries no temperatures; record "
            "radiometric SEQ/CSQ (FLIR) or R-JPEG stills instead",
            path=src,
        )
    elif kind == "png":
        raise NotRadiometricError(
            "a PNG image: no radiometric calibration (a false-colour or 8-bit export)", path=src
        )
    else:
        raise ThermalFormatError(
            "not a thermal file this package reads (expected a FLIR/DJI R-JPEG, FFF, SEQ, CSQ, "
            "FPF or radiometric TIFF)",
            path=src,
            where="offset 0",
        )


def read_thermal(path: str | os.PathLike[str]) -> ThermalFrame:
    """Read a radiometric file (the first frame of a sequence).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from thermal import PlanckCalibration, temperature_to_raw, write_flir_rjpeg
    >>> cal = PlanckCalibration(emissivity=0.95, object_distance_m=30.0)
    >>> temp = np.full((4, 6), 12.5); temp[1, 2] = 40.0
    >>> raw = np.round(temperature_to_raw(temp, cal)).astype(np.uint16)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     frame = read_thermal(write_flir_rjpeg(f"{d}/a.jpg", raw, cal, gps=(51.3, 12.4, 120.0)))
    >>> bool((frame.raw == raw).all()), frame.gps.lat_deg, frame.calibration == cal
    (True, 51.3, True)
    >>> round(float(frame.temperature_c()[1, 2]), 2)
    40.0
    """
    it = iter_frames(path)
    try:
        return next(it)
    except StopIteration:
        raise ThermalFormatError("contains no frames", path=path) from None
    finally:
        it.close()
