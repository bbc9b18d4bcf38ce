"""Realistic sample defect sets along a real line, for tests, benchmarks and trying the tools.

:func:`sample_run` places defects of the docs/domain.md classes along a given WGS84 line at the
offsets where they occur (fasteners and rail-head damage on the rails at half the gauge,
sleepers across the track, vegetation and drainage beside it), with the polygon sizes, position
uncertainty (standard GNSS or RTK), chainage, severity (by :mod:`survey.report.severity`),
sighting times of a 5 m/s flight and 1-4 sightings each. With ``run_dir`` it also writes small
evidence crops and frame images, so review, COCO export and reports have files to show. It
builds the *inputs* of the store and report; it is not the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon

from geo.chainage import format_km as chainage_label
from survey.config import SeverityConfig
from survey.defects.table import DefectSet, DetectionSet

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

__all__ = ["SAMPLE_WAY", "SampleRun", "chainage_label", "osm_way", "sample_run", "utm_epsg"]

HALF_GAUGE_M = 0.7175 + 0.036  # rail-head centre: half of 1435 mm plus half a 72 mm head
#            class: (probability, along m, across m, offset kind)
RAIL_CLASSES: dict[str, tuple[float, float, float, str]] = {
    "missing_fastener": (0.25, 0.15, 0.12, "rail"),
    "sleeper_defect": (0.15, 0.30, 2.60, "centre"),
    "rail_head_damage": (0.12, 0.06, 0.07, "rail"),
    "broken_rail": (0.04, 0.10, 0.08, "rail"),
    "joint_defect": (0.06, 0.60, 0.20, "rail"),
    "corrugation": (0.06, 5.00, 0.07, "rail"),
    "ballast_defect": (0.10, 1.50, 1.00, "shoulder"),
    "vegetation": (0.12, 2.00, 1.50, "side"),
    "drainage": (0.07, 3.00, 2.00, "side"),
    "obstruction": (0.03, 0.50, 0.50, "track"),
}
PIPE_CLASSES: dict[str, tuple[float, float, float, str]] = {
    "leak_candidate": (0.45, 3.0, 2.0, "pipe"),
    "insulation_loss": (0.15, 20.0, 1.5, "pipe"),
    "exposed_pipe": (0.10, 2.0, 1.0, "pipe"),
    "third_party_activity": (0.10, 6.0, 4.0, "side"),
    "coating_corrosion": (0.10, 0.5, 0.5, "pipe"),
    "vegetation_stress": (0.10, 4.0, 3.0, "side"),
}
THERMAL_CLASSES = {"leak_candidate", "insulation_loss"}
FPS = 30.0


def utm_epsg(lon_deg: float, lat_deg: float) -> int:
    """EPSG code of the UTM zone holding a point.

    >>> utm_epsg(15.62, 48.2), utm_epsg(-70.0, -33.4)
    (32633, 32719)
    """
    zone = int((lon_deg + 180.0) // 6.0) % 60 + 1
    return (32600 if lat_deg >= 0 else 32700) + zone


@dataclass(frozen=True)
class SampleRun:
    """A sample run's store contents: defects, sightings, the asset route and coverage."""

    defects: DefectSet
    detections: DetectionSet
    route: gpd.GeoDataFrame
    coverage: gpd.GeoDataFrame
    length_m: float
    epsg: int


def _offsets(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    sign = rng.choice([-1.0, 1.0], n)
    if kind == "rail":
        return sign * HALF_GAUGE_M
    if kind == "centre":
        return rng.normal(0.0, 0.03, n)
    if kind == "shoulder":
        return sign * rng.uniform(1.6, 2.2, n)
    if kind == "side":
        return sign * rng.uniform(2.5, 5.0, n)
    if kind == "pipe":
        return rng.normal(0.0, 0.6, n)
    return rng.uniform(-1.0, 1.0, n)


def sample_run(
    line_lonlat: LineString,
    *,
    n_defects: int = 36,
    seed: int = 0,
    run_id: str = "sample",
    asset_id: str = "",
    asset_kind: str = "rail",
    rtk: bool = False,
    run_dir: str | Path | None = None,
    t0_s: float = 1709676000.0,
    speed_mps: float = 5.0,
) -> SampleRun:
    """Defects and sightings along ``line_lonlat`` (chainage 0 at its first vertex).

    Includes a cluster of three missing fasteners within 4 m on one rail (severity 4 by the
    cluster rule) for rail, two coverage gaps, and two unlocatable, unfused sightings.
    """
    import geopandas as gpd
    from pyproj import Transformer

    from survey.report.severity import assess_severity, recommended_action

    rng = np.random.default_rng(seed)
    lon0, lat0 = line_lonlat.coords[0]
    epsg = utm_epsg(lon0, lat0)
    fwd = Transformer.from_crs(4326, epsg, always_xy=True)
    inv = Transformer.from_crs(epsg, 4326, always_xy=True)
    line = shapely.transform(line_lonlat, lambda xy: np.column_stack(fwd.transform(*xy.T)))
    length = float(line.length)

    table = RAIL_CLASSES if asset_kind == "rail" else PIPE_CLASSES
    names = list(table)
    probs = np.array([table[c][0] for c in names])
    cls = rng.choice(names, n_defects, p=probs / probs.sum()).astype(object)
    ch = np.sort(rng.uniform(0.02, 0.98, n_defects) * length)
    if asset_kind == "rail" and n_defects >= 6:  # a cluster of missing fasteners
        cls[1:4] = "missing_fastener"
        ch[1:4] = ch[1] + np.array([0.0, 1.8, 3.6])
    offset = np.empty(n_defects)
    for c in set(cls):
        sel = cls == c
        offset[sel] = _offsets(table[c][3], int(sel.sum()), rng)
    if asset_kind == "rail" and n_defects >= 6:
        offset[1:4] = HALF_GAUGE_M

    polys, centres, ch0, ch1 = [], [], np.empty(n_defects), np.empty(n_defects)
    for i in range(n_defects):
        along, across = table[cls[i]][1], table[cls[i]][2]
        p = line.interpolate(ch[i])
        q = line.interpolate(min(ch[i] + 0.5, length))
        r = line.interpolate(max(ch[i] - 0.5, 0.0))
        d = np.array([q.x - r.x, q.y - r.y])
        d /= np.linalg.norm(d)
        right = np.array([d[1], -d[0]])
        c = np.array([p.x, p.y]) + offset[i] * right
        corners = [
            c + sa * along / 2 * d + sc * across / 2 * right
            for sa, sc in ((-1, -1), (1, -1), (1, 1), (-1, 1))
        ]
        poly = Polygon(corners)
        polys.append(poly)
        centres.append(c)
        locs = [line.line_locate_point(Point(xy)) for xy in poly.exterior.coords]
        ch0[i], ch1[i] = min(locs), max(locs)
    centres_a = np.array(centres)
    area = np.array([p.area for p in polys])
    lon, lat = inv.transform(centres_a[:, 0], centres_a[:, 1])
    geoms = [shapely.transform(p, lambda xy: np.column_stack(inv.transform(*xy.T))) for p in polys]

    major = rng.uniform(0.05, 0.15, n_defects) if rtk else rng.uniform(1.2, 3.0, n_defects)
    minor = major * rng.uniform(0.4, 0.9, n_defects)
    side = np.where(np.abs(offset) <= 0.5, "centre", np.where(offset > 0, "right", "left"))
    thermal = np.isin(cls, list(THERMAL_CLASSES))
    dt = np.where(thermal, rng.uniform(0.3, 8.0, n_defects), np.nan)
    cfg = SeverityConfig()
    sev = assess_severity(cls, delta_t_k=dt, area_m2=area, config=cfg, chainage_m=ch, side=side)
    t_mid = t0_s + ch / speed_mps
    n_s = rng.integers(1, 5, n_defects)
    ids = np.array([f"D{i + 1:04d}" for i in range(n_defects)], dtype=object)
    src_rgb, src_th = "DJI_20240305220000_0001_W.MP4", "DJI_20240305220000_0001_T.tiff"
    rgb_crop = np.array([f"evidence/{d}_rgb.jpg" for d in ids], dtype=object)
    th_crop = np.where(thermal, [f"evidence/{d}_thermal.png" for d in ids], "")
    rgb_frame = np.round((t_mid - t0_s) * FPS).astype(np.int64)
    defects = DefectSet(
        geoms,
        defect_id=ids,
        run_id=np.full(n_defects, run_id, dtype=object),
        class_name=cls,
        asset_kind=np.full(n_defects, asset_kind, dtype=object),
        asset_id=np.full(n_defects, asset_id, dtype=object),
        confidence=rng.uniform(0.45, 0.98, n_defects).round(3),
        severity=sev,
        action=recommended_action(np.full(n_defects, asset_kind), sev, cfg),
        lon_deg=lon,
        lat_deg=lat,
        area_m2=area,
        unc_major_m=major,
        unc_minor_m=minor,
        unc_azimuth_deg=rng.uniform(0.0, 180.0, n_defects),
        unc_level=np.full(n_defects, 0.95),
        chainage_m=ch,
        chainage_start_m=ch0,
        chainage_end_m=ch1,
        chainage_label=np.array([chainage_label(c) for c in ch], dtype=object),
        offset_m=offset,
        side=side.astype(object),
        first_seen_t_s=t_mid - 0.4 * (n_s - 1),
        last_seen_t_s=t_mid + 0.4 * (n_s - 1),
        n_sightings=n_s,
        sensors=np.where(thermal, "rgb+thermal", "rgb").astype(object),
        delta_t_k=dt,
        max_temp_c=np.where(thermal, 2.0 + dt, np.nan),
        rgb_crop=rgb_crop,
        rgb_source=np.full(n_defects, src_rgb, dtype=object),
        rgb_frame=rgb_frame,
        thermal_crop=th_crop.astype(object),
        thermal_source=np.where(thermal, src_th, "").astype(object),
        thermal_frame=np.where(thermal, rgb_frame // 3, -1),
        source_files=np.where(thermal, f"{src_rgb};{src_th}", src_rgb).astype(object),
    )
    detections = _sightings(defects, geoms, n_s, rng, src_rgb, t0_s)
    route = gpd.GeoDataFrame(
        {"asset_id": [asset_id], "asset_kind": [asset_kind], "length_m": [length]},
        geometry=[line_lonlat],
        crs="EPSG:4326",
    )
    coverage = _coverage(line, length, inv, asset_kind, asset_id)
    if run_dir is not None:
        _write_images(Path(run_dir), defects, detections)
    return SampleRun(defects, detections, route, coverage, length, epsg)


def _sightings(
    defects: DefectSet,
    geoms: list[Any],
    n_s: np.ndarray,
    rng: np.random.Generator,
    src_rgb: str,
    t0_s: float,
) -> DetectionSet:
    from pycocotools import mask as mask_utils

    w, h = 640, 360
    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "detection_id",
            "defect_id",
            "run_id",
            "class_name",
            "confidence",
            "sensor",
            "source",
            "frame",
            "t_s",
            "frame_path",
            "image_width",
            "image_height",
            "bbox_x",
            "bbox_y",
            "bbox_w",
            "bbox_h",
            "mask_rle",
            "crop_path",
            "lon_deg",
            "lat_deg",
            "unc_major_m",
            "unc_minor_m",
            "unc_azimuth_deg",
            "chainage_m",
            "offset_m",
            "gsd_m",
            "delta_t_k",
        )
    }
    gs: list[Any] = []
    k = 0
    for i, d in enumerate(defects):
        for j in range(int(n_s[i])):
            k += 1
            t = d.first_seen_t_s + 0.8 * j
            frame = int(round((t - t0_s) * FPS))
            bw, bh = (float(x) for x in rng.uniform(24, 90, 2).round())
            bx, by = float(rng.integers(0, w - 90)), float(rng.integers(0, h - 90))
            m = np.zeros((h, w), np.uint8, order="F")
            m[int(by) : int(by + bh), int(bx) : int(bx + bw)] = 1
            rle = mask_utils.encode(m)["counts"].decode("ascii")
            jitter = rng.normal(0, d.unc_major_m / 3, 2) / 111_000.0
            vals = dict(
                detection_id=f"S{k:05d}",
                defect_id=d.defect_id,
                run_id=d.run_id,
                class_name=d.class_name,
                confidence=float(np.clip(d.confidence + rng.normal(0, 0.05), 0, 1)),
                sensor="rgb",
                source=src_rgb,
                frame=frame,
                t_s=t,
                frame_path=f"frames/f{frame:06d}.jpg",
                image_width=w,
                image_height=h,
                bbox_x=bx,
                bbox_y=by,
                bbox_w=bw,
                bbox_h=bh,
                mask_rle=rle,
                crop_path=d.rgb_crop,
                lon_deg=d.lon_deg + jitter[0],
                lat_deg=d.lat_deg + jitter[1],
                unc_major_m=d.unc_major_m,
                unc_minor_m=d.unc_minor_m,
                unc_azimuth_deg=d.unc_azimuth_deg,
                chainage_m=d.chainage_m,
                offset_m=d.offset_m,
                gsd_m=0.008,
                delta_t_k=d.delta_t_k,
            )
            for key, v in vals.items():
                rows[key].append(v)
            gs.append(shapely.affinity.translate(geoms[i], jitter[0], jitter[1]))
    for extra in range(2):  # unlocatable sightings (no pose), fused into nothing
        k += 1
        for key, lst in rows.items():
            lst.append(
                lst[-1] if key in ("run_id", "source", "image_width", "image_height") else None
            )
        rows["detection_id"][-1], rows["defect_id"][-1] = f"S{k:05d}", ""
        rows["class_name"][-1], rows["confidence"][-1], rows["sensor"][-1] = (
            "obstruction",
            0.4,
            "rgb",
        )
        rows["frame"][-1], rows["t_s"][-1] = 10 + extra, t0_s + (10 + extra) / FPS
        rows["frame_path"][-1], rows["mask_rle"][-1], rows["crop_path"][-1] = (
            f"frames/f{10 + extra:06d}.jpg",
            "",
            "",
        )
        for key in ("bbox_x", "bbox_y"):
            rows[key][-1] = 10.0
        for key in ("bbox_w", "bbox_h"):
            rows[key][-1] = 30.0
        for key in (
            "lon_deg",
            "lat_deg",
            "unc_major_m",
            "unc_minor_m",
            "unc_azimuth_deg",
            "chainage_m",
            "offset_m",
            "gsd_m",
            "delta_t_k",
        ):
            rows[key][-1] = np.nan
        gs.append(None)
    return DetectionSet(np.array(gs, dtype=object), **rows)


def _coverage(
    line: LineString, length: float, inv: Any, asset_kind: str, route_id: str
) -> gpd.GeoDataFrame:
    """Covered intervals in geo's coverage layout (``geo.schema.COVERAGE_FIELDS``), two gaps."""
    import geopandas as gpd

    cuts = [0.0, 0.35 * length, 0.38 * length, 0.70 * length, 0.715 * length, length]
    iv = [(cuts[0], cuts[1]), (cuts[2], cuts[3]), (cuts[4], cuts[5])]
    cameras = ["rgb"] + (["thermal"] if asset_kind != "rail" else [])
    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "route_id",
            "camera",
            "chainage_start_m",
            "chainage_end_m",
            "chainage_label",
            "length_m",
            "gsd_m",
            "min_frames",
        )
    }
    geoms = []
    for cam in cameras:
        for a, b in iv:
            for k, v in zip(
                rows,
                (
                    route_id,
                    cam,
                    a,
                    b,
                    f"{chainage_label(a)} - {chainage_label(b)}",
                    b - a,
                    0.008 if cam == "rgb" else 0.08,
                    2,
                ),
                strict=True,
            ):
                rows[k].append(v)
            part = shapely.ops.substring(line, a, b).buffer(15.0, cap_style="flat")
            geoms.append(shapely.transform(part, lambda xy: np.column_stack(inv.transform(*xy.T))))
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")


def _write_images(run_dir: Path, defects: DefectSet, detections: DetectionSet) -> None:
    import cv2

    rng = np.random.default_rng(1)
    (run_dir / "evidence").mkdir(parents=True, exist_ok=True)
    (run_dir / "frames").mkdir(parents=True, exist_ok=True)
    colours = {c: tuple(int(x) for x in rng.integers(40, 255, 3)) for c in set(defects.class_name)}
    for d in defects:
        img = rng.integers(90, 150, (96, 96, 3), dtype=np.uint8)
        img[:, 28:34] = img[:, 62:68] = 200  # rails
        cv2.rectangle(img, (36, 36), (60, 60), colours[d.class_name], -1)
        cv2.imwrite(str(run_dir / d.rgb_crop), img)
        if d.thermal_crop:
            th = np.clip(rng.normal(90, 6, (64, 80)) + 60 * (d.delta_t_k / 8.0), 0, 255)
            cv2.imwrite(
                str(run_dir / d.thermal_crop),
                cv2.applyColorMap(th.astype(np.uint8), cv2.COLORMAP_INFERNO),
            )
    boxes: dict[str, list[tuple[int, int, int, int, str]]] = {}
    for det in detections:
        if det.frame_path:
            box = (
                int(det.bbox_x),
                int(det.bbox_y),
                int(det.bbox_w),
                int(det.bbox_h),
                det.class_name,
            )
            boxes.setdefault(det.frame_path, []).extend([box] if det.defect_id else [])
    for path, bxs in boxes.items():  # each frame written once, with its sightings painted in
        img = rng.integers(90, 150, (360, 640, 3), dtype=np.uint8)
        for x, y, w, h, c in bxs:
            img[y : y + h, x : x + w] = colours[c]
        cv2.imwrite(str(run_dir / path), img)


#: The default sample line: OSM way 100006586, Tullnerfelder Bahn (line 110 01) near St. Pölten,
#: 4.47 km, in ``geometry/railway_osm/Sankt_Poelten_railways.geojson`` of the shared data (ODbL).
SAMPLE_WAY = "way/100006586"


def osm_way(path: str | Path, way_id: str = SAMPLE_WAY) -> tuple[LineString, dict[str, Any]]:
    """One OSM way (LineString, tags) from a GeoJSON export of OSM railway lines."""
    import json

    from shapely.geometry import shape

    from survey.errors import SurveyError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SurveyError(f"cannot read GeoJSON: {exc}", path=path) from exc
    for feat in data.get("features", []):
        props = feat.get("properties") or {}
        if props.get("@id") == way_id or feat.get("id") == way_id:
            return shape(feat["geometry"]), props
    raise SurveyError(f"no feature with @id {way_id!r}", path=path)
