"""Chainage formats: metres, kilometre + metres (``12+345.6``) and miles + chains.

Kilometre notation writes the whole kilometres, a plus sign and the metres with three integer
digits: 12 345.6 m is ``12+345.6``; negative chainages are ``-0+012.0``. British practice gives
miles and chains (1 chain = 22 yd = 20.1168 m, 80 chains = 1 mile); ``13m 16c`` or with yards
``13m 16c 05y``; an ELR (Engineer's Line Reference) may lead: ``EJM 13m 16c``.
"""

from __future__ import annotations

import math
import re

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import GeoValueError

__all__ = [
    "CHAIN_M",
    "MILE_M",
    "YARD_M",
    "format_chainage",
    "format_km",
    "format_miles_chains",
    "parse_chainage",
]

YARD_M = 0.9144
CHAIN_M = 22 * YARD_M  # 20.1168 m
MILE_M = 80 * CHAIN_M  # 1609.344 m


def format_km(measure_m: float, decimals: int = 1) -> str:
    """Kilometre + metres notation.

    Examples
    --------
    >>> format_km(12345.64), format_km(999.96), format_km(-12.0), format_km(5.0, 0)
    ('12+345.6', '1+000.0', '-0+012.0', '0+005')
    """
    if not math.isfinite(measure_m):
        return ""
    sign = "-" if measure_m < 0 else ""
    m = round(abs(measure_m), decimals)
    km = int(m // 1000)
    rest = m - 1000 * km
    width = 3 + (decimals + 1 if decimals > 0 else 0)
    return f"{sign}{km}+{rest:0{width}.{decimals}f}"


def format_miles_chains(measure_m: float, *, yards: bool = False, elr: str = "") -> str:
    """Miles and chains (optionally yards), as Network Rail writes them.

    Examples
    --------
    >>> format_miles_chains(13 * MILE_M + 16 * CHAIN_M, elr="EJM")
    'EJM 13m 16c'
    >>> format_miles_chains(100.0, yards=True)
    '0m 04c 21y'
    """
    if not math.isfinite(measure_m):
        return ""
    sign = "-" if measure_m < 0 else ""
    m = abs(measure_m)
    if yards:
        total_y = int(round(m / YARD_M))
        miles, rem = divmod(total_y, 1760)
        chains, yds = divmod(rem, 22)
        text = f"{sign}{miles}m {chains:02d}c {yds:02d}y"
    else:
        total_c = int(round(m / CHAIN_M))
        miles, chains = divmod(total_c, 80)
        text = f"{sign}{miles}m {chains:02d}c"
    return f"{elr} {text}" if elr else text


def format_chainage(
    measure_m: ArrayLike, style: str = "km", *, decimals: int = 1, elr: str = ""
) -> NDArray[np.str_]:
    """Vectorized formatting: ``style`` is ``"m"``, ``"km"``, ``"mc"`` (miles-chains) or
    ``"mcy"`` (miles-chains-yards); NaN gives ``""``.

    Examples
    --------
    >>> format_chainage([1500.0, np.nan], "km").tolist()
    ['1+500.0', '']
    """
    vals = np.atleast_1d(np.asarray(measure_m, dtype=np.float64))
    if style == "m":
        out = [f"{v:.{decimals}f}" if math.isfinite(v) else "" for v in vals]
    elif style == "km":
        out = [format_km(v, decimals) for v in vals]
    elif style == "mc":
        out = [format_miles_chains(v, elr=elr) for v in vals]
    elif style == "mcy":
        out = [format_miles_chains(v, yards=True, elr=elr) for v in vals]
    else:
        raise GeoValueError(f"chainage style must be 'm', 'km', 'mc' or 'mcy', got {style!r}")
    return np.array(out, dtype=str)


_KM = re.compile(r"^\s*(-?)\s*(\d+)\s*\+\s*(\d+(?:\.\d*)?)\s*$")
_MC = re.compile(
    r"^\s*(?:([A-Z]{2,4}\d?)\s+)?(-?)(\d+)\s*m(?:i|iles?)?\s*(\d+(?:\.\d*)?)\s*c(?:h|hains?)?"
    r"(?:\s*(\d+(?:\.\d*)?)\s*y(?:d|ds|ards?)?)?\s*$",
    re.IGNORECASE,
)


def parse_chainage(text: str) -> float:
    """Metres from ``"12+345.6"``, ``"EJM 13m 16c"``, ``"13m 16c 05y"`` or plain metres.

    Examples
    --------
    >>> parse_chainage("12+345.6"), parse_chainage("-0+012.0")
    (12345.6, -12.0)
    >>> round(parse_chainage("EJM 13m 16c"), 4)
    21243.3408
    """
    m = _KM.match(text)
    if m:
        sign = -1.0 if m.group(1) else 1.0
        metres = float(m.group(3))
        if metres >= 1000.0:
            raise GeoValueError(f"chainage {text!r}: metres after '+' must be below 1000")
        return sign * (1000.0 * int(m.group(2)) + metres)
    m = _MC.match(text)
    if m:
        sign = -1.0 if m.group(2) else 1.0
        chains = float(m.group(4))
        yds = float(m.group(5) or 0.0)
        if chains >= 80 or yds >= 22:
            raise GeoValueError(f"chainage {text!r}: chains must be < 80 and yards < 22")
        return sign * (int(m.group(3)) * MILE_M + chains * CHAIN_M + yds * YARD_M)
    try:
        return float(text)
    except ValueError:
        raise GeoValueError(
            f"cannot read chainage {text!r} (expected '12+345.6', '13m 16c' or metres)"
        ) from None
