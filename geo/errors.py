"""Errors raised by ``geo``.

Every error of this package derives from :class:`GeoError`. Subclasses also derive from the
matching builtin (``ValueError``, ``FileNotFoundError`` ...) so callers can catch either.
An error about a file names the file (``path``) and the place in it (``where``).
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "CameraModelError",
    "CrsError",
    "ExportError",
    "GeoError",
    "GeoFileNotFoundError",
    "GeoFormatError",
    "GeoValueError",
    "RouteError",
]


class GeoError(Exception):
    """Root of every error raised by ``geo``.

    Parameters
    ----------
    message : str
        What went wrong and what was expected.
    path : str or PathLike, optional
        The offending file.
    where : str, optional
        The place in the file or the config key (``"line 12"``, ``"offset 0x40"``, ``"geo.dem"``).
    """

    def __init__(
        self, message: str, *, path: str | PathLike[str] | None = None, where: str | None = None
    ) -> None:
        self.message, self.path, self.where = message, None if path is None else str(path), where
        loc = ", ".join(x for x in (self.path, self.where) if x)
        super().__init__(f"{loc}: {message}" if loc else message)


class GeoFileNotFoundError(GeoError, FileNotFoundError):
    """An input file (DEM, asset network, image) does not exist."""


class GeoFormatError(GeoError, ValueError):
    """A file is truncated, corrupt, of the wrong kind, or lacks a required field."""


class GeoValueError(GeoError, ValueError):
    """An argument is out of range, of the wrong shape, or inconsistent with another."""


class CameraModelError(GeoError, ValueError):
    """A camera model cannot be built: missing or contradictory intrinsics, unknown camera."""


class CrsError(GeoError, ValueError):
    """A coordinate reference system is missing, unknown, or not usable for the operation."""


class RouteError(GeoError, ValueError):
    """An asset route cannot be built or a measure cannot be resolved on it."""


class ExportError(GeoError, ValueError):
    """A layer does not fit its schema or the output format (field names, types, geometry)."""
