"""Stage ``fuse``: sightings become defects, RGB and thermal evidence joined, evidence chosen.

1. Per sensor, :func:`geo.merge_sightings` groups sightings of one class whose positions agree
   (Mahalanobis gate ``[process] gate_p``, never two of one frame, never farther apart than
   ``max_merge_m``) and fuses each group by covariance intersection.
   A thermal group must be consistent across the thermal frames that saw its ground
   (:func:`thermal_views`, ``[process] min_thermal_views``): one seen in a single frame while
   others over the same ground saw nothing is a blip, rejected with its reason in
   ``fuse.json`` (``thermal_rejected``).
2. A thermal group and an RGB group whose fused positions agree are one defect seen by both
   cameras (``sensors = rgb+thermal``): a leak keeps its class (the finding of a pipeline
   survey), otherwise the RGB class names it; the confidence is either's (noisy-OR), the
   position is fused again, the thermal contrast kept.
3. Each defect carries the best sighting of each sensor as evidence (sharpest, most
   confident, nearest the image centre). A defect seen by one camera only also gets a crop of
   the other camera's best frame over its position, so an inspector sees both.
4. Severity and recommended action follow ``[severity]`` (:mod:`survey.report.severity`);
   ids are stable across re-processing: class code + chainage in decimetres.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from survey.config import Config
from survey.process.locate import Sightings

__all__ = ["ThermalViewCheck", "defect_id", "fuse_sightings", "thermal_views"]

log = logging.getLogger(__name__)


def defect_id(class_name: str, chainage_m: float, taken: set[str]) -> str:
    """A stable id: initials of the class and the chainage in decimetres (suffix if taken).

    Examples
    --------
    >>> defect_id("missing_fastener", 613.04, set()), defect_id("leak_candidate", float("nan"), {"LC-X1"})
    ('MF-0006130', 'LC-X2')
    """
    code = "".join(p[0] for p in class_name.split("_") if p).upper() or "D"
    if np.isfinite(chainage_m):
        base = f"{code}-{int(round(chainage_m * 10)):07d}"
        cand, k = base, 1
    else:
        base, k = f"{code}-X", 1
        cand = f"{base}{k}"
    while cand in taken:
        k += 1
        cand = f"{base}{k}" if base.endswith("X") else f"{base}-{k}"
    taken.add(cand)
    return cand


def _quality(s: Sightings, i: int) -> float:
    """Evidence quality: confidence, finer GSD, nearer the image centre."""
    r = s.records[i]
    w, h = r["width"], r["height"]
    cx, cy = r["centroid_px"]
    off = np.hypot(cx / w - 0.5, cy / h - 0.5)
    g = s.gsd_m[i] if np.isfinite(s.gsd_m[i]) else 1.0
    return float(r["score"] * (1.0 - off) / max(g, 1e-4))


def _merge(s: Sightings, sel: np.ndarray, cfg: Config) -> list[dict[str, Any]]:
    from geo.merge import merge_sightings

    pc = cfg.process
    if not sel.size:
        return []
    classes = sorted({s.records[i]["class"] for i in sel})
    cid = np.array([classes.index(s.records[i]["class"]) for i in sel])
    frame = np.array([f"{s.records[i]['stream']}:{s.records[i]['row']}" for i in sel])
    q = np.array([_quality(s, i) for i in sel])
    m = merge_sightings(
        s.x_m[sel], s.y_m[sel], s.cov_m2[sel], cid,
        score=np.array([s.records[i]["score"] for i in sel]), quality=q, frame_id=frame,
        gate_p=pc.gate_p, max_distance_m=pc.max_merge_m,
    )  # fmt: skip
    groups = []
    for k in range(len(m)):
        mem = sel[m.members(k)]
        groups.append(
            {
                "members": mem,
                "x": float(m.x_m[k]),
                "y": float(m.y_m[k]),
                "cov": m.cov_m2[k],
                "class": classes[int(m.class_id[k])],
                "score": float(m.score[k]),
                "best": int(sel[int(m.best[k])]),
            }
        )
    return groups


@dataclass(frozen=True)
class ThermalViewCheck:
    """Multi-view confirmation of the thermal groups: how many selected thermal frames saw each
    group's ground (``possible``), in how many of them it was found (``seen``), and why a
    group was rejected (``""`` when kept)."""

    seen: NDArray[np.int64]
    possible: NDArray[np.int64]
    reason: list[str]

    @property
    def kept(self) -> NDArray[np.bool_]:
        return np.array([r == "" for r in self.reason], dtype=bool)


def thermal_views(
    groups: list[dict[str, Any]], s: Sightings, sel_dir: Path, min_views: int
) -> ThermalViewCheck:
    """Check each thermal group against the thermal frames that saw its ground.

    A group is found in ``seen`` distinct frames (its members); ``possible`` counts the
    selected frames of the groups' streams whose ground footprint contains the fused position.
    With ``min_views`` > 1, a group seen in fewer than ``min_views`` frames while at least
    ``min_views`` frames saw its ground is a single-frame blip (sensor noise, a passing warm
    object, a fragment of a neighbour): rejected with the reason. Ground that fewer frames saw
    (the ends of a flight, a gap) keeps its single sighting: nothing contradicts it.
    """
    import shapely

    from survey.process.select import Selection

    n = len(groups)
    seen = np.array(
        [
            len({(s.records[i]["stream"], s.records[i]["row"]) for i in g["members"]})
            for g in groups
        ],
        dtype=np.int64,
    )
    possible = np.zeros(n, np.int64)
    if n:
        x = np.array([g["x"] for g in groups])
        y = np.array([g["y"] for g in groups])
        streams = sorted({str(s.records[i]["stream"]) for g in groups for i in g["members"]})
        for sid in streams:
            if not (sel_dir / f"{sid}.npz").is_file():
                continue
            for fp in Selection.load(sel_dir, sid).footprint:
                if fp is not None and not shapely.is_empty(fp):
                    possible += shapely.contains_xy(fp, x, y)
        possible = np.maximum(possible, seen)  # a sighting proves its frame saw the ground
    reason = [
        f"single-frame blip: seen in {seen[k]} of {possible[k]} thermal frames over its ground"
        if min_views > 1 and seen[k] < min_views <= possible[k]
        else ""
        for k in range(n)
    ]
    return ThermalViewCheck(seen, possible, reason)


def _ci(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, float, np.ndarray]:
    """Covariance intersection (equal weights) of two fused positions."""
    ia, ib = np.linalg.inv(a["cov"] + 1e-6 * np.eye(2)), np.linalg.inv(b["cov"] + 1e-6 * np.eye(2))
    P = np.linalg.inv(0.5 * (ia + ib))
    v = P @ (0.5 * (ia @ [a["x"], a["y"]] + ib @ [b["x"], b["y"]]))
    return float(v[0]), float(v[1]), P


def _associate(
    rgb: list[dict[str, Any]], th: list[dict[str, Any]], cfg: Config
) -> list[tuple[int | None, int | None]]:
    """Pairs (rgb group, thermal group) of one physical defect; singles with None."""
    from geo.uncertainty import chi2_2dof, mahalanobis2

    gate = chi2_2dof(cfg.process.gate_p)
    used_r: set[int] = set()
    pairs: list[tuple[int | None, int | None]] = []
    for j, t in enumerate(th):
        best, best_d = None, np.inf
        for i, r in enumerate(rgb):
            if i in used_r:
                continue
            dx, dy = r["x"] - t["x"], r["y"] - t["y"]
            if np.hypot(dx, dy) > cfg.process.max_merge_m:
                continue
            d2 = float(mahalanobis2(dx, dy, r["cov"] + t["cov"]))
            if d2 <= gate and d2 < best_d:
                best, best_d = i, d2
        if best is not None:
            used_r.add(best)
        pairs.append((best, j))
    pairs += [(i, None) for i in range(len(rgb)) if i not in used_r]
    return pairs


def fuse_sightings(
    s: Sightings,
    asset: Any,
    cfg: Config,
    run_dir: Path,
    out: Path,
    run_id: str,
    progress: Any = None,
) -> tuple[Any, Any, dict[str, Any]]:
    """Defects and detections (:class:`survey.defects.DefectSet`/``DetectionSet``) and a summary."""
    import shapely

    from geo.uncertainty import ellipse_axes
    from survey.process.evidence import cross_evidence
    from survey.report.severity import assess_severity, recommended_action

    pc = cfg.process
    ok = s.located & np.isfinite(s.x_m)
    sensors = np.array([r["sensor"] for r in s.records], dtype=object)
    rgb = _merge(s, np.flatnonzero(ok & (sensors == "rgb")), cfg)
    th_all = _merge(s, np.flatnonzero(ok & (sensors == "thermal")), cfg)
    views = thermal_views(th_all, s, run_dir / "stages" / "select", pc.min_thermal_views)
    th = [g for g, keep in zip(th_all, views.kept, strict=True) if keep]
    th_rejected = [
        {"x_m": round(g["x"], 2), "y_m": round(g["y"], 2), "class": g["class"],
         "score": round(g["score"], 3), "seen": int(views.seen[k]),
         "possible": int(views.possible[k]), "reason": views.reason[k]}
        for k, g in enumerate(th_all) if views.reason[k]
    ]  # fmt: skip
    pairs = _associate(rgb, th, cfg)
    frame = asset.frame
    rows: list[dict[str, Any]] = []
    for ri, ti in pairs:
        r = rgb[ri] if ri is not None else None
        t = th[ti] if ti is not None else None
        if r is not None and t is not None:
            x, y, P = _ci(r, t)
            # a leak is the finding of a pipeline survey; on rail the RGB class names the defect
            main = t if t["class"] == "leak_candidate" else r
            conf = 1.0 - (1.0 - r["score"]) * (1.0 - t["score"])
            members = np.r_[r["members"], t["members"]]
        else:
            g: dict[str, Any] = r if r is not None else t  # type: ignore[assignment]
            x, y, P, main, conf, members = g["x"], g["y"], g["cov"], g, g["score"], g["members"]
        if len(members) < pc.min_sightings:
            continue
        rows.append(
            {"x": x, "y": y, "cov": P, "class": main["class"], "conf": conf, "members": members,
             "rgb_best": r["best"] if r else None, "th_best": t["best"] if t else None}
        )  # fmt: skip
    # reference fused positions to the asset
    n = len(rows)
    xs = np.array([d["x"] for d in rows]) if n else np.zeros(0)
    ys = np.array([d["y"] for d in rows]) if n else np.zeros(0)
    ref = asset.locate(xs, ys, max_offset_m=pc.max_offset_m).location if n else None
    taken: set[str] = set()
    recs: list[dict[str, Any]] = []
    det_defect = np.full(len(s), "", dtype=object)
    lon, lat = frame.to_lonlat(xs, ys) if n else (np.zeros(0), np.zeros(0))
    order = np.lexsort((xs, np.nan_to_num(ref.chainage_m, nan=1e12))) if ref is not None else []
    for k in order:
        assert ref is not None  # order is empty when there is no row to reference
        d = rows[int(k)]
        best = d["rgb_best"] if d["rgb_best"] is not None else d["th_best"]
        poly = s.polygon[best]
        if poly is not None:
            c = shapely.centroid(poly)
            poly = shapely.affinity.translate(poly, d["x"] - c.x, d["y"] - c.y)
        else:
            poly = shapely.Point(d["x"], d["y"]).buffer(0.1)
        mem = d["members"]
        ch = float(ref.chainage_m[k])
        did = defect_id(d["class"], ch, taken)
        det_defect[mem] = did
        a, b = s.ch_start_m[mem], s.ch_end_m[mem]
        maj, mnr, az = ellipse_axes(d["cov"], 0.95)
        th_i = d["th_best"]
        rg_i = d["rgb_best"]
        recs.append(
            {
                "defect_id": did, "class_name": d["class"], "confidence": float(d["conf"]),
                "geometry_grid": poly, "lon_deg": float(lon[k]), "lat_deg": float(lat[k]),
                "area_m2": float(poly.area), "unc_major_m": float(maj), "unc_minor_m": float(mnr),
                "unc_azimuth_deg": float(az), "route_id": str(ref.route_id[k]), "chainage_m": ch,
                "chainage_start_m": float(np.nanmin(a)) if np.isfinite(a).any() else ch,
                "chainage_end_m": float(np.nanmax(b)) if np.isfinite(b).any() else ch,
                "offset_m": float(ref.offset_m[k]), "side": str(ref.side[k]),
                "first_seen_t_s": float(np.nanmin(s.t_s[mem])),
                "last_seen_t_s": float(np.nanmax(s.t_s[mem])), "n_sightings": int(len(mem)),
                "sensors": "rgb+thermal" if (rg_i is not None and th_i is not None)
                else ("rgb" if rg_i is not None else "thermal"),
                "delta_t_k": float(s.records[th_i]["delta_t_k"]) if th_i is not None else np.nan,
                "max_temp_c": float(s.records[th_i]["peak_c"]) if th_i is not None else np.nan,
                "thermal_area_m2": float(s.records[th_i]["area_m2"]) if th_i is not None else np.nan,
                "rgb_best": rg_i, "th_best": th_i, "members": mem,
            }
        )  # fmt: skip
    cross = cross_evidence(recs, s, asset, cfg, run_dir, out, progress)
    kinds = np.full(len(recs), asset.kind, dtype=object)
    cls = np.array([d["class_name"] for d in recs], dtype=object)
    area_sev = np.array(
        [d["thermal_area_m2"] if np.isfinite(d["thermal_area_m2"]) else d["area_m2"] for d in recs]
    )
    sev = assess_severity(
        cls, delta_t_k=np.array([abs(d["delta_t_k"]) for d in recs]), area_m2=area_sev,
        config=cfg.severity, chainage_m=np.array([d["chainage_m"] for d in recs]),
        side=np.array([d["side"] for d in recs], dtype=object),
    ) if recs else np.zeros(0, np.int64)  # fmt: skip
    action = recommended_action(kinds, sev, cfg.severity) if recs else np.zeros(0, object)
    defects = _defect_set(recs, s, cross, sev, action, asset, run_id)
    detections = _detection_set(s, det_defect, asset, run_id)
    summary = {
        "defects": len(defects),
        "by_class": {c: int((defects.class_name == c).sum()) for c in sorted(set(defects.class_name))},
        "by_severity": {str(v): int((defects.severity == v).sum()) for v in range(1, 6)},
        "rgb_groups": len(rgb), "thermal_groups": len(th_all),
        "thermal_rejected": th_rejected,
        "joined_rgb_thermal": int(sum(1 for a, b in pairs if a is not None and b is not None)),
        "sightings": len(s), "sightings_located": int(s.located.sum()),
    }  # fmt: skip
    return defects, detections, summary


def _defect_set(
    recs: list[dict[str, Any]], s: Sightings, cross: dict[str, dict[str, Any]], sev: Any,
    action: Any, asset: Any, run_id: str,
) -> Any:  # fmt: skip
    import geopandas as gpd

    from geo.chainage import format_chainage
    from survey.defects import DefectSet

    if not recs:
        return DefectSet()
    geom = gpd.GeoSeries([d["geometry_grid"] for d in recs], crs=asset.crs).to_crs(4326)
    ch = np.array([d["chainage_m"] for d in recs])
    cols: dict[str, Any] = {
        k: np.array([d[k] for d in recs])
        for k in ("defect_id", "class_name", "confidence", "lon_deg", "lat_deg", "area_m2",
                  "unc_major_m", "unc_minor_m", "unc_azimuth_deg", "chainage_m",
                  "chainage_start_m", "chainage_end_m", "offset_m", "side", "first_seen_t_s",
                  "last_seen_t_s", "n_sightings", "sensors", "delta_t_k", "max_temp_c")
    }  # fmt: skip
    for k in ("defect_id", "class_name", "side", "sensors"):
        cols[k] = cols[k].astype(object)
    cols["asset_id"] = np.array([d["route_id"] or asset.asset_id for d in recs], dtype=object)
    cols["chainage_label"] = format_chainage(ch, "km").astype(object)
    cols["severity"] = np.asarray(sev, np.int64)
    cols["action"] = np.asarray(action, dtype=object)
    cols["asset_kind"] = np.full(len(recs), asset.kind, dtype=object)
    cols["run_id"] = np.full(len(recs), run_id, dtype=object)
    for key, prefix in (("rgb", "rgb"), ("thermal", "thermal")):
        crop, src, frm = [], [], []
        for d in recs:
            best = d["rgb_best"] if key == "rgb" else d["th_best"]
            if best is not None:
                r = s.records[best]
                crop.append(r["crop_path"])
                src.append(_source(r, s))
                frm.append(_frame_no(r, s))
            else:
                c = cross.get(d["defect_id"], {}).get(key, {})
                crop.append(c.get("crop_path", ""))
                src.append(c.get("source", ""))
                frm.append(int(c.get("frame", -1)))
        cols[f"{prefix}_crop"] = np.array(crop, dtype=object)
        cols[f"{prefix}_source"] = np.array(src, dtype=object)
        cols[f"{prefix}_frame"] = np.array(frm, np.int64)
    cols["source_files"] = np.array(
        [";".join(sorted({_source(s.records[i], s) for i in d["members"]})) for d in recs],
        dtype=object,
    )
    return DefectSet(geom.to_numpy(), **cols)


def _source(r: dict[str, Any], s: Sightings) -> str:
    return str(r["source"])


def _frame_no(r: dict[str, Any], s: Sightings) -> int:
    return int(r["frame"])


def _detection_set(s: Sightings, defect: np.ndarray, asset: Any, run_id: str) -> Any:
    import geopandas as gpd

    from survey.defects import DetectionSet

    n = len(s)
    if not n:
        return DetectionSet()
    lon, lat = asset.frame.to_lonlat(s.x_m, s.y_m)
    geom = gpd.GeoSeries(list(s.polygon), crs=asset.crs).to_crs(4326).to_numpy()
    from geo.uncertainty import ellipse_axes

    maj, mnr, az = ellipse_axes(np.nan_to_num(s.cov_m2, nan=0.0), 0.95)
    bad = ~np.isfinite(s.cov_m2).all(axis=(1, 2))
    maj, mnr, az = (np.where(bad, np.nan, v) for v in (maj, mnr, az))
    R = s.records
    return DetectionSet(
        geom,
        detection_id=np.array([r["id"] for r in R], dtype=object),
        defect_id=defect.astype(object),
        run_id=np.full(n, run_id, dtype=object),
        class_name=np.array([r["class"] for r in R], dtype=object),
        confidence=np.clip([r["score"] for r in R], 0.0, 1.0),
        sensor=np.array([r["sensor"] for r in R], dtype=object),
        source=np.array([_source(r, s) for r in R], dtype=object),
        frame=np.array([_frame_no(r, s) for r in R], np.int64),
        t_s=s.t_s,
        frame_path=np.array([r.get("frame_path", "") for r in R], dtype=object),
        image_width=np.array([r["width"] for r in R], np.int64),
        image_height=np.array([r["height"] for r in R], np.int64),
        bbox_x=np.array([r["bbox"][0] for r in R], float),
        bbox_y=np.array([r["bbox"][1] for r in R], float),
        bbox_w=np.array([r["bbox"][2] for r in R], float),
        bbox_h=np.array([r["bbox"][3] for r in R], float),
        mask_rle=np.array([r.get("mask_rle", "") for r in R], dtype=object),
        crop_path=np.array([r["crop_path"] for r in R], dtype=object),
        lon_deg=np.where(s.located, lon, np.nan),
        lat_deg=np.where(s.located, lat, np.nan),
        unc_major_m=maj,
        unc_minor_m=mnr,
        unc_azimuth_deg=az,
        chainage_m=s.chainage_m,
        offset_m=s.offset_m,
        gsd_m=s.gsd_m,
        delta_t_k=np.array([r.get("delta_t_k", np.nan) for r in R], float),
    )
