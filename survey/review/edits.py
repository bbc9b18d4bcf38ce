"""Inspector edits in ``survey review``: a defect the models missed, drawn on the map.

The inspector draws an outline (or clicks a point) on the run's own imagery and names the
class, severity and a comment; :func:`inspector_defect` turns that into a full
:class:`~survey.defects.Defect` — position, area on a local metric grid, chainage, chainage
interval, offset and side on the run's asset, the advisory action for the severity — marked
``sensors="inspector"`` and confirmed by its author, and the store keeps it through any
re-processing of the run (:meth:`survey.store.DefectStore.add_defect`).
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np

from survey.defects import Defect, Review
from survey.errors import SurveyError

__all__ = ["EditError", "add_inspector_defect", "inspector_defect"]

CLASS_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class EditError(SurveyError, ValueError):
    """An inspector's edit that cannot be applied (answered as 400)."""


def _geometry(geojson: Any) -> Any:
    import shapely

    if not isinstance(geojson, dict) or geojson.get("type") not in ("Point", "Polygon"):
        raise EditError("geometry must be a GeoJSON Point or Polygon (lon, lat degrees)")
    try:
        g = shapely.geometry.shape(geojson)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise EditError(f"geometry is not valid GeoJSON: {exc}") from None
    lon, lat = np.asarray(shapely.get_coordinates(g)).T
    if not (
        len(lon)
        and np.isfinite(lon).all()
        and (np.abs(lon) <= 180).all()
        and (np.abs(lat) <= 90).all()
    ):
        raise EditError("geometry coordinates must be finite lon/lat degrees")
    if g.geom_type == "Polygon":
        if len(g.exterior.coords) < 4:
            raise EditError("a polygon needs at least three corners")
        if not g.is_valid:
            g = shapely.make_valid(g)
            if g.geom_type != "Polygon":
                raise EditError("the outline crosses itself: draw it again")
    return g


def inspector_defect(
    index: Any,
    store: Any,
    *,
    geometry: Any,
    class_name: str,
    severity: int,
    comment: str,
    reviewer: str,
) -> Defect:
    """The record of a defect an inspector drew (``index``: the run's
    :class:`~survey.review.frames.FrameIndex`; it knows the asset and the config)."""
    from geo.frames import LocalFrame
    from survey.report.severity import recommended_action

    if not isinstance(class_name, str) or not CLASS_RE.match(class_name):
        raise EditError("class_name must be a lower-case name such as missing_fastener")
    if not isinstance(severity, int) or isinstance(severity, bool) or not 1 <= severity <= 5:
        raise EditError("severity must be an integer 1..5")
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise EditError("reviewer must be named")
    if not isinstance(comment, str) or len(comment) > 2000:
        raise EditError("comment must be text of at most 2000 characters")
    g = _geometry(geometry)
    c = g.representative_point() if g.geom_type == "Polygon" else g
    lon, lat = float(c.x), float(c.y)
    frame = LocalFrame.for_lonlat(lon, lat)
    area = np.nan
    if g.geom_type == "Polygon":
        import shapely

        ex = np.asarray(g.exterior.coords)
        x, y = frame.from_lonlat(ex[:, 0], ex[:, 1])
        area = float(shapely.Polygon(np.stack([x, y], -1)).area)
    info = store.read_run()
    kind = info.asset_kind if info else "rail"
    cfg = index.cfg
    ch = index.chainage(lon, lat) or {}
    c0 = c1 = ch.get("chainage_m", np.nan)
    if g.geom_type == "Polygon" and ch:
        ex = np.asarray(g.exterior.coords)
        ends = [index.chainage(float(a), float(b)) for a, b in ex]
        vals = [e["chainage_m"] for e in ends if e]
        if vals:
            c0, c1 = min(vals), max(vals)
    existing = store.read_defects()
    unc = existing.unc_major_m if len(existing) else np.zeros(0)
    unc = unc[np.isfinite(unc)] if len(unc) else unc
    now = time.time()
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now))
    taken = set(existing.defect_id) if len(existing) else set()
    n = 1
    while f"insp-{stamp}-{n}" in taken:
        n += 1
    r = reviewer.strip()[:80]
    return Defect(
        defect_id=f"insp-{stamp}-{n}", class_name=class_name, confidence=1.0, severity=severity,
        geometry=g, lon_deg=lon, lat_deg=lat, run_id=store.run_id, asset_kind=kind,
        asset_id=info.asset_id if info else "",
        action=str(recommended_action(np.array([kind]), np.array([severity]), cfg.severity)[0]),
        area_m2=area,
        unc_major_m=float(np.median(unc)) if len(unc) else np.nan,
        unc_minor_m=float(np.median(unc)) if len(unc) else np.nan, unc_azimuth_deg=0.0,
        chainage_m=float(ch.get("chainage_m", np.nan)), chainage_start_m=float(c0),
        chainage_end_m=float(c1), chainage_label=str(ch.get("label", "")),
        offset_m=float(ch.get("offset_m", np.nan)), side=str(ch.get("side", "")),
        n_sightings=0, sensors="inspector", decision="confirmed", reviewer=r, decided_t_s=now,
        review_comment=comment, reviewed_severity=severity,
    )  # fmt: skip


def add_inspector_defect(index: Any, store: Any, body: dict[str, Any]) -> Defect:
    """Validate the review app's request, add the defect, log its author's decision."""
    allowed = {"geometry", "class_name", "severity", "comment", "reviewer"}
    unknown = set(body) - allowed
    if unknown:
        raise EditError(f"unknown keys {sorted(unknown)}; expected {sorted(allowed)}")
    d = inspector_defect(
        index, store, geometry=body.get("geometry"), class_name=body.get("class_name", ""),
        severity=body.get("severity", 0), comment=body.get("comment", ""),
        reviewer=body.get("reviewer", ""),
    )  # fmt: skip
    store.add_defect(d)
    return store.record_review(  # type: ignore[no-any-return]
        Review(
            defect_id=d.defect_id,
            decision="confirmed",
            reviewer=d.reviewer,
            decided_t_s=d.decided_t_s,
            comment=d.review_comment,
            severity=d.severity,
        )  # fmt: skip
    )
