"""Errors raised by ``thermal``.

Every error of this package derives from :class:`ThermalError`. Subclasses also derive from the
matching builtin (``ValueError``, ``FileNotFoundError`` ...) so callers can catch either.
An error about a file names the file (``path``) and the place in it (``where``).
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "CalibrationError",
    "NotRadiometricError",
    "ThermalError",
    "ThermalFileNotFoundError",
    "ThermalFormatError",
    "UnsupportedCameraError",
]


class ThermalError(Exception):
    """Root of every error raised by ``thermal``.

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


class ThermalFileNotFoundError(ThermalError, FileNotFoundError):
    """The thermal file does not exist."""


class ThermalFormatError(ThermalError, ValueError):
    """A thermal file is truncated, corrupt, or not of the kind its name or magic promised."""


class NotRadiometricError(ThermalError, ValueError):
    """The file is an image or video but carries no radiometric data (only colours)."""


class UnsupportedCameraError(ThermalError, ValueError):
    """The file is radiometric but its encoding cannot be decoded by this package."""


class CalibrationError(ThermalError, ValueError):
    """Calibration or object parameters are invalid (e.g. emissivity outside (0, 1])."""
