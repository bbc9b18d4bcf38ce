"""Errors raised while reading flight telemetry.

All derive from :class:`survey.errors.SurveyError` (``path`` = the file, ``where`` = the line,
byte offset or message where the reader stopped) and from the matching builtin.
"""

from __future__ import annotations

from survey.errors import SurveyError

__all__ = [
    "NoPositionError",
    "TelemetryError",
    "TelemetryFormatError",
    "TimeSyncError",
    "UnknownTelemetryError",
]


class TelemetryError(SurveyError, ValueError):
    """A flight log cannot be used; the message says why and what was expected."""


class TelemetryFormatError(TelemetryError):
    """A file of a known kind has a layout the reader does not understand or is cut short."""


class UnknownTelemetryError(TelemetryError):
    """The file is not a flight-log kind that survey reads."""


class NoPositionError(TelemetryError):
    """The log was read but holds no usable global position (only local or none)."""


class TimeSyncError(SurveyError, ValueError):
    """Two clocks cannot be tied together from the data given."""
