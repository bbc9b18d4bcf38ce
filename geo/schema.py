"""Attribute schemas of exported layers.

A schema is a sequence of field descriptions with ``name`` (column), ``short`` (Shapefile
name, at most 10 characters), ``kind`` (``"str"``, ``"float"``, ``"int"``, ``"bool"``) and
``help`` (meaning and unit). :class:`FieldSpec` is geo's own; any object with those attributes
works (the survey package's defect schema is passed to the exporters as it is). geo defines the
schemas of the layers it produces itself: frame footprints, flight path, coverage and gaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from geo.errors import ExportError

__all__ = [
    "COVERAGE_FIELDS",
    "FLIGHT_PATH_FIELDS",
    "FOOTPRINT_FIELDS",
    "GAP_FIELDS",
    "ROUTE_FIELDS",
    "FieldLike",
    "FieldSpec",
    "check_schema",
    "schema_markdown",
    "short_names",
]


class FieldLike(Protocol):
    """What an exporter needs to know about a field."""

    name: str
    short: str
    kind: str
    help: str


@dataclass(frozen=True)
class FieldSpec:
    """One attribute of a layer.

    Examples
    --------
    >>> FieldSpec("gsd_m", "gsd_m", "float", "Ground sample distance, m/px.").short
    'gsd_m'
    """

    name: str
    short: str
    kind: Literal["str", "float", "int", "bool"]
    help: str


def _f(name: str, short: str, kind: Literal["str", "float", "int", "bool"], help: str) -> FieldSpec:
    return FieldSpec(name, short, kind, help)


FOOTPRINT_FIELDS: tuple[FieldSpec, ...] = (
    _f("frame_id", "frame_id", "str", "Frame identifier (source file and index)."),
    _f("camera", "camera", "str", "Camera: rgb or thermal."),
    _f("source", "source", "str", "Source file of the frame."),
    _f("frame", "frame", "int", "Frame index in the source (-1: a still image)."),
    _f("t_s", "t_s", "float", "Frame time, UTC POSIX s."),
    _f("gsd_m", "gsd_m", "float", "Ground sample distance at the frame centre, m/px."),
    _f("alt_agl_m", "alt_agl_m", "float", "Camera height above the ground below it, m."),
    _f("gimbal_pitch_deg", "gb_pitch", "float", "Gimbal pitch, deg (-90 nadir)."),
)

FLIGHT_PATH_FIELDS: tuple[FieldSpec, ...] = (
    _f("flight_id", "flight_id", "str", "Flight identifier."),
    _f("t_start_s", "t_start_s", "float", "First pose time, UTC POSIX s."),
    _f("t_end_s", "t_end_s", "float", "Last pose time, UTC POSIX s."),
    _f("length_m", "length_m", "float", "Flown horizontal distance, m."),
    _f("n_poses", "n_poses", "int", "Number of poses."),
)

COVERAGE_FIELDS: tuple[FieldSpec, ...] = (
    _f("route_id", "route_id", "str", "Route (line ref, ELR, pipeline ID)."),
    _f("camera", "camera", "str", "Camera that saw the interval."),
    _f("chainage_start_m", "ch_start_m", "float", "Interval start, chainage m."),
    _f("chainage_end_m", "ch_end_m", "float", "Interval end, chainage m."),
    _f("chainage_label", "ch_label", "str", "Interval in the owner's notation."),
    _f("length_m", "length_m", "float", "Interval length along the line, m."),
    _f("gsd_m", "gsd_m", "float", "Finest ground sample distance in the interval, m/px."),
    _f("min_frames", "min_frames", "int", "Fewest frames that saw any point of it."),
)

ROUTE_FIELDS: tuple[FieldSpec, ...] = (
    _f("route_id", "route_id", "str", "Route (line ref, ELR, pipeline ID)."),
    _f("name", "name", "str", "Route name."),
    _f("length_m", "length_m", "float", "Route length along the line, m."),
    _f("chainage_start_m", "ch_start_m", "float", "Chainage at the route's start, m."),
    _f("chainage_end_m", "ch_end_m", "float", "Chainage at the route's end, m."),
    _f("chainage_label", "ch_label", "str", "Chainage range in the owner's notation."),
)

GAP_FIELDS: tuple[FieldSpec, ...] = (
    _f("route_id", "route_id", "str", "Route."),
    _f("camera", "camera", "str", "Camera that did not see the interval."),
    _f("chainage_start_m", "ch_start_m", "float", "Gap start, chainage m."),
    _f("chainage_end_m", "ch_end_m", "float", "Gap end, chainage m."),
    _f("chainage_label", "ch_label", "str", "Gap in the owner's notation."),
    _f("length_m", "length_m", "float", "Gap length along the line, m."),
)


def check_schema(fields: Sequence[FieldLike], what: str = "schema") -> None:
    """Raise :class:`ExportError` if names repeat or Shapefile names are too long or repeat.

    Examples
    --------
    >>> check_schema(COVERAGE_FIELDS)
    >>> check_schema([FieldSpec("a_very_long_name", "a_very_long_name", "str", "")])
    Traceback (most recent call last):
    ...
    geo.errors.ExportError: schema: Shapefile name 'a_very_long_name' of field 'a_very_long_name' is longer than 10 characters
    """
    seen: set[str] = set()
    shorts: set[str] = set()
    for f in fields:
        if f.kind not in ("str", "float", "int", "bool"):
            raise ExportError(f"{what}: field {f.name!r} has unknown kind {f.kind!r}")
        if f.name in seen:
            raise ExportError(f"{what}: field {f.name!r} appears twice")
        if len(f.short) > 10:
            raise ExportError(
                f"{what}: Shapefile name {f.short!r} of field {f.name!r} is longer than 10 "
                "characters"
            )
        if f.short.lower() in shorts:
            raise ExportError(f"{what}: Shapefile name {f.short!r} appears twice")
        seen.add(f.name)
        shorts.add(f.short.lower())


def schema_markdown(fields: Sequence[FieldLike]) -> str:
    """The schema as a Markdown table (column, Shapefile name, type, meaning)."""
    rows = ["| column | Shapefile | type | meaning |", "|---|---|---|---|"]
    rows += [f"| `{f.name}` | `{f.short}` | {f.kind} | {f.help} |" for f in fields]
    return "\n".join(rows) + "\n"


#: Word abbreviations :func:`short_names` applies before cutting a name to 10 characters.
ABBREVIATIONS: dict[str, str] = {
    "chainage": "ch",
    "severity": "sev",
    "thermal": "th",
    "uncertainty": "unc",
    "azimuth": "az",
    "confidence": "conf",
    "detection": "det",
    "reviewed": "rev",
    "decided": "dec",
    "comment": "cmt",
    "source": "src",
    "number": "n",
    "label": "lab",
}


def short_names(columns: Sequence[str]) -> dict[str, str]:
    """A Shapefile name (<= 10 characters, unique ignoring case) for each column.

    The declared rule for layers without a schema: names of 10 characters or fewer are kept;
    longer ones have their words abbreviated (:data:`ABBREVIATIONS`), are cut to 10, and a
    clash gets a numeric suffix (``_1``, ``_2``...). The exporters write the mapping beside
    the Shapefile.

    Examples
    --------
    >>> short_names(["route_id", "chainage_start_m", "chainage_end_m", "a_rather_long_name"])
    {'route_id': 'route_id', 'chainage_start_m': 'ch_start_m', 'chainage_end_m': 'ch_end_m', 'a_rather_long_name': 'a_rather_l'}
    >>> short_names(["reviewer_comment_1", "reviewer_comment_2"])
    {'reviewer_comment_1': 'reviewer_c', 'reviewer_comment_2': 'reviewer_1'}
    """
    out: dict[str, str] = {}
    used = {c.lower() for c in columns if len(c) <= 10}
    for c in columns:
        if len(c) <= 10:
            out[c] = c
            continue
        cand = "_".join(ABBREVIATIONS.get(w, w) for w in c.split("_"))[:10]
        n = 0
        base = cand
        while cand.lower() in used:
            n += 1
            suffix = f"_{n}"
            cand = base[: 10 - len(suffix)].rstrip("_") + suffix
        used.add(cand.lower())
        out[c] = cand
    return out
