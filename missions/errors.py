"""Errors raised by ``missions``.

Every error of this package derives from :class:`MissionError`. Subclasses also derive from the
matching builtin (``ValueError``, ``FileNotFoundError`` ...) so callers can catch either.
An error about a file names the file (``path``) and the place in it (``where``).
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "GeometryError",
    "MissionError",
    "PlanError",
    "SimInputNotFoundError",
    "SimulationError",
    "TerrainError",
]


class MissionError(Exception):
    """Root of every error raised by ``missions``.

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


class SimulationError(MissionError, ValueError):
    """A simulation request is invalid: a bad argument, an impossible flight plan."""


class GeometryError(MissionError, ValueError):
    """An asset geometry file or line is unusable (no lines, too short, wrong CRS)."""


class TerrainError(MissionError, ValueError):
    """The terrain model is unusable, or the flight would go below the terrain."""


class SimInputNotFoundError(MissionError, FileNotFoundError):
    """A file the simulation needs (geometry, DEM) does not exist."""


class PlanError(MissionError, ValueError):
    """A mission plan cannot be made or read: a bad request, an unreachable target, a leg
    through a no-fly zone, a file that is not a plan."""
