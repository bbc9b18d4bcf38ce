"""Clock conversions: GPS week/time-of-week to UTC, wall-clock strings to POSIX seconds.

Naive wall-clock times (no zone) are converted as if they were UTC; the caller labels the
result ``time_base="local"`` so that nobody mistakes it for UTC.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta, timezone

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "GPS_EPOCH_POSIX_S",
    "gps_leap_seconds",
    "gps_to_utc_s",
    "parse_wall_clock",
]

#: 1980-01-06T00:00:00Z as POSIX seconds.
GPS_EPOCH_POSIX_S = 315964800.0

# UTC instants (POSIX s) from which GPS time is ahead of UTC by the given number of seconds.
_LEAPS = [
    (362793600, 1),  # 1981-07-01
    (394329600, 2),
    (425865600, 3),
    (489024000, 4),
    (567993600, 5),
    (631152000, 6),
    (662688000, 7),
    (709948800, 8),
    (741484800, 9),
    (773020800, 10),
    (820454400, 11),
    (867715200, 12),
    (915148800, 13),  # 1999-01-01
    (1136073600, 14),  # 2006-01-01
    (1230768000, 15),  # 2009-01-01
    (1341100800, 16),  # 2012-07-01
    (1435708800, 17),  # 2015-07-01
    (1483228800, 18),  # 2017-01-01
]


def gps_leap_seconds(utc_s: ArrayLike) -> NDArray[np.int64]:
    """GPS - UTC in whole seconds at the given UTC POSIX times.

    Examples
    --------
    >>> gps_leap_seconds([1.4e9, 1.7e9]).tolist()
    [16, 18]
    """
    starts = np.array([s for s, _ in _LEAPS], dtype=np.float64)
    values = np.array([0] + [v for _, v in _LEAPS], dtype=np.int64)
    return values[np.searchsorted(starts, np.asarray(utc_s, np.float64), side="right")]


def gps_to_utc_s(week: ArrayLike, tow_s: ArrayLike) -> NDArray[np.float64]:
    """UTC POSIX seconds from GPS week number and time of week (s), leap seconds removed.

    Examples
    --------
    ArduPilot's test log: GPS week 1973, 6448.000 s into the week (UTC 18 s behind GPS).

    >>> t = gps_to_utc_s(1973, 6448.0)
    >>> format_utc(float(t[0]))
    '2017-10-29T01:47:10.000Z'
    """
    gps = (
        GPS_EPOCH_POSIX_S + np.asarray(week, np.float64) * 604800.0 + np.asarray(tow_s, np.float64)
    )
    gps = np.atleast_1d(gps)
    first = gps - gps_leap_seconds(gps - 18)
    return gps - gps_leap_seconds(first)


_WALL_RE = re.compile(
    r"(?P<y>\d{4})[-./:](?P<mo>\d{1,2})[-./:](?P<d>\d{1,2})[ T]+"
    r"(?P<h>\d{1,2}):(?P<mi>\d{2}):(?P<s>\d{2})"
    r"(?:[.,](?P<frac>\d{1,9}))?(?:,(?P<us>\d{3}))?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?"
)


def parse_wall_clock(text: str) -> tuple[float, float | None] | None:
    """POSIX seconds of a date-time string, and its UTC offset in seconds when it states one.

    Understands the forms flight logs and cameras write: ``2021-12-25 12:27:52.373``,
    ``2020-04-02 15:19:58,720,764`` (DJI: milliseconds, microseconds), ``2017.8.5 14:11:51``,
    ``2018/07/04 09:19:31.701``, ``2022:06:02 14:35:32`` (EXIF) and ISO 8601 with ``Z`` or
    ``+02:00``. A time with a zone is converted to UTC; a naive one is read as if it were UTC.
    Returns None when ``text`` holds no date-time.

    Examples
    --------
    >>> parse_wall_clock("2020-04-02 15:19:58,720,764")
    (1585840798.720764, None)
    >>> parse_wall_clock("2022-06-02T14:35:32+02:00")
    (1654173332.0, 7200.0)
    >>> parse_wall_clock("no date") is None
    True
    """
    m = _WALL_RE.search(text)
    if m is None:
        return None
    try:
        base = calendar.timegm(
            (int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"]), int(m["mi"]), int(m["s"]))
        )
        datetime(int(m["y"]), int(m["mo"]), int(m["d"]))  # validates the day of month
    except ValueError:
        return None
    if not (1 <= int(m["mo"]) <= 12 and int(m["h"]) < 24 and int(m["mi"]) < 60):
        return None
    frac = 0.0
    if m["frac"]:
        frac = int(m["frac"]) / 10 ** len(m["frac"])
        if m["us"]:
            frac += int(m["us"]) * 1e-6
    tz = m["tz"]
    offset = None
    if tz:
        if tz == "Z":
            offset = 0.0
        else:
            sign = -1.0 if tz[0] == "-" else 1.0
            digits = tz[1:].replace(":", "")
            offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    t = base + frac - (offset or 0.0)
    return float(round(t, 6)), offset


def format_utc(t_s: float) -> str:
    """ISO 8601 text of a POSIX time (``...Z``), to the millisecond."""
    d = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=float(t_s))
    return d.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fit_clock(
    t_from_s: ArrayLike, t_to_s: ArrayLike, *, min_span_s: float = 60.0, max_iter: int = 5
) -> tuple[float, float, float]:
    """Robust linear clock model ``t_to = offset + rate * t_from``.

    Fitted by least squares with outliers (beyond 3 robust sigmas, at least 50 ms) removed in
    a few rounds. A rate other than 1 is a clock running fast or slow (one real ArduPilot
    board's boot clock runs 8 % slow against GPS time). Returns ``(offset, rate,
    residual_s)``, the residual being the median absolute residual of the kept pairs. When
    the pairs span less than ``min_span_s`` the rate cannot be told from jitter and is 1.

    Examples
    --------
    >>> boot = np.arange(0.0, 100.0, 0.2)
    >>> utc = 1.6e9 + 1.001 * boot
    >>> utc[10] += 5.0  # one late message
    >>> off, rate, res = fit_clock(boot, utc)
    >>> round(off - 1.6e9, 6), round(rate, 6), res < 1e-6
    (0.0, 1.001, True)
    """
    x = np.asarray(t_from_s, np.float64)
    y = np.asarray(t_to_s, np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() == 0:
        raise ValueError("no time pairs to fit a clock model to")
    if ok.sum() == 1 or np.ptp(x[ok]) < min_span_s:
        off = float(np.median(y[ok] - x[ok]))
        return off, 1.0, float(np.median(np.abs(y[ok] - x[ok] - off)))
    x0 = float(np.median(x[ok]))
    keep = ok.copy()
    rate, off0 = 1.0, 0.0
    for _ in range(max_iter):
        rate, off0 = np.polyfit(x[keep] - x0, y[keep], 1)
        r = y - (off0 + rate * (x - x0))
        mad = float(np.median(np.abs(r[keep])))
        new = ok & (np.abs(r) <= max(3 * 1.4826 * mad, 0.05))
        if new.sum() < 2 or np.array_equal(new, keep):
            break
        keep = new
    r = y[keep] - (off0 + rate * (x[keep] - x0))
    return float(off0 - rate * x0), float(rate), float(np.median(np.abs(r)))
