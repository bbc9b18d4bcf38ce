"""Stage ``select``: the frames worth analysing, chosen by ground coverage of the corridor.

A video at 30 fps sees each metre of track in a hundred frames; analysing them all is what
makes CPU processing impractical. Coverage is counted at **stations** every
``station_step_m`` along each route: a station is seen by a frame when it and the points
``cover half-width`` to its left and right lie inside the frame's footprint shrunk by
``edge_margin_px`` (so a defect cut by one frame's border is whole in the next). Frames too
coarse (``max_gsd_*``) or unlocatable are not candidates; video frames are thinned to one per
``station_step_m`` of flight first.

Selection is a greedy weighted set cover with multiplicity: each station must be seen by
``min_views`` selected frames; the frame adding the most missing station-views, weighted by
its resolution (finest GSD wins: a still beats a video frame over the same ground), is taken
next, until no frame adds ``min_gain_m`` of coverage. RGB streams (videos and stills) are
selected together, thermal streams together. Stations no frame covers are the coverage gaps.

Examples
--------
>>> starts = np.array([0, 3, 6]); members = np.array([0, 1, 2, 2, 3, 4, 4, 5, 6])
>>> greedy_cover(starts, members, np.ones(3), n_stations=7, min_views=1, min_gain=1).tolist()
[0, 2, 1]
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from survey.config import Config
from survey.process.records import StreamPoses, save_json

__all__ = ["Selection", "greedy_cover", "select_frames"]

log = logging.getLogger(__name__)


def greedy_cover(
    starts: NDArray[np.intp],
    members: NDArray[np.intp],
    weight: NDArray[np.float64],
    *,
    n_stations: int,
    min_views: int,
    min_gain: int,
) -> NDArray[np.intp]:
    """Lazy greedy cover: frame ``j`` sees stations ``members[starts[j]:starts[j+1]]``.

    Returns the chosen frames in the order chosen. A frame's value is the number of stations
    it sees that still need views, times its ``weight``.
    """
    n = len(weight)
    ends = np.r_[starts[1:], len(members)]
    count = np.zeros(n_stations, np.int64)

    def gain(j: int) -> int:
        st = members[starts[j] : ends[j]]
        return int((count[st] < min_views).sum())

    heap = [(-gain(j) * weight[j], j) for j in range(n)]
    heapq.heapify(heap)
    chosen: list[int] = []
    taken = np.zeros(n, bool)
    while heap:
        neg, j = heapq.heappop(heap)
        if taken[j]:
            continue
        g = gain(j)
        val = g * weight[j]
        if heap and val < -heap[0][0] - 1e-12:
            heapq.heappush(heap, (-val, j))
            continue
        if g < min_gain:
            continue  # gains only shrink: this frame will never add enough
        taken[j] = True
        chosen.append(j)
        count[members[starts[j] : ends[j]]] += 1
    return np.asarray(chosen, dtype=np.intp)


@dataclass(frozen=True, eq=False)
class Selection:
    """Selected frames of one stream: their pose rows, GSD, footprints and corridor masks."""

    stream_id: str
    index: NDArray[np.intp]
    gsd_m: NDArray[np.float64]
    footprint: NDArray[np.object_]
    roi: NDArray[np.bool_]
    roi_step_px: int

    def __len__(self) -> int:
        return int(self.index.size)

    def save(self, folder: Path) -> None:
        import shapely

        wkb = shapely.to_wkb(self.footprint.astype(object), hex=True)
        with (folder / f"{self.stream_id}.npz").open("wb") as fh:
            np.savez_compressed(
                fh,
                index=self.index,
                gsd_m=self.gsd_m,
                roi=np.packbits(self.roi, axis=-1),
                roi_shape=np.array(self.roi.shape),
                footprint=np.asarray(wkb, dtype=str),
                roi_step_px=np.array(self.roi_step_px),
            )

    @classmethod
    def load(cls, folder: Path, stream_id: str) -> Selection:
        import shapely

        with np.load(folder / f"{stream_id}.npz") as z:
            shape = tuple(int(s) for s in z["roi_shape"])
            roi = np.unpackbits(z["roi"], axis=-1, count=shape[-1]).astype(bool).reshape(shape)
            fp = shapely.from_wkb(z["footprint"].astype(object)) if len(z["footprint"]) else []
            return cls(
                stream_id,
                z["index"].astype(np.intp),
                z["gsd_m"],
                np.asarray(fp, dtype=object),
                roi,
                int(z["roi_step_px"]),
            )


def _candidates(sp: StreamPoses, step_m: float) -> NDArray[np.intp]:
    """Located frames; video thinned to one per ``step_m`` of camera motion."""
    ok = np.flatnonzero(sp.ok)
    if sp.kind != "video" or ok.size < 2:
        return ok
    lat, lon = sp.lat_deg[ok], sp.lon_deg[ok]
    dn = np.radians(np.diff(lat)) * 6371008.8
    de = np.radians(np.diff(lon)) * 6371008.8 * np.cos(np.radians(lat[1:]))
    dist = np.r_[0.0, np.cumsum(np.hypot(dn, de))]
    bucket = np.floor(dist / step_m).astype(np.int64)
    first = np.r_[True, bucket[1:] != bucket[:-1]]
    return ok[first]


def _stations(asset: Any, step_m: float, half_m: float) -> dict[str, Any]:
    """Stations along every route: centre and left/right probe points, route and chainage."""
    import shapely

    xs, ys, lx, ly, rx, ry, rid, ch = [], [], [], [], [], [], [], []
    for r in asset.routes.routes:
        d = np.arange(step_m / 2, r.length_m, step_m)
        p = shapely.line_interpolate_point(r.line, d)
        cx, cy = shapely.get_x(p), shapely.get_y(p)
        tx, ty = r._tangent(d)
        xs.append(cx)
        ys.append(cy)
        rx.append(cx + half_m * ty)
        ry.append(cy - half_m * tx)
        lx.append(cx - half_m * ty)
        ly.append(cy + half_m * tx)
        rid.append(np.full(d.size, r.route_id, dtype=object))
        ch.append(r.measure_at(d))
    cat = np.concatenate
    return {
        "probes": [(cat(xs), cat(ys)), (cat(lx), cat(ly)), (cat(rx), cat(ry))],
        "route_id": cat(rid).astype(str),
        "chainage_m": cat(ch),
    }


def _coverage_pairs(
    fps: NDArray[np.object_], probes: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(frame, station) pairs where every probe of the station lies in the footprint."""
    import shapely

    valid = np.flatnonzero([f is not None and not f.is_empty for f in fps])
    if not valid.size:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    tree = shapely.STRtree(fps[valid])
    n_fr = len(fps)
    keys: NDArray[np.int64] | None = None
    for px, py in probes:
        si, fj = tree.query(shapely.points(px, py), predicate="within")
        k = np.unique(si.astype(np.int64) * n_fr + valid[fj])
        keys = k if keys is None else np.intersect1d(keys, k, assume_unique=True)
    if keys is None:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    return (keys % n_fr).astype(np.intp), (keys // n_fr).astype(np.intp)


def select_band(
    streams: list[StreamPoses], asset: Any, cfg: Config, band: str
) -> tuple[list[Selection], dict[str, Any]]:
    """Select the frames of one band (rgb or thermal) over all its streams."""
    from geo.footprint import gsd_at_pixels
    from survey.process.geometry import footprints, georeferencer, ground_surface, roi_masks

    pc = cfg.process
    min_views = pc.rgb_min_views if band == "rgb" else pc.thermal_min_views
    max_gsd = pc.max_gsd_rgb_m if band == "rgb" else pc.max_gsd_thermal_m
    half = _cover_half_width(asset, cfg)
    st = _stations(asset, pc.station_step_m, half)
    n_st = len(st["chainage_m"])
    per: list[dict[str, Any]] = []
    for sp in streams:
        cam = sp.camera.model()
        ground = ground_surface(pc, sp.alt_ref, asset.frame)
        g = georeferencer(cam, ground, asset.frame, pc.max_range_m)
        cand = _candidates(sp, pc.station_step_m)
        if not cand.size:
            per.append({"sp": sp, "cand": cand})
            continue
        state = g.prepare(sp.camera_poses(cand))
        fp_in = footprints(g, state, margin_px=pc.edge_margin_px, max_range_m=pc.max_range_m)
        cu, cv = (cam.width_px - 1) / 2, (cam.height_px - 1) / 2
        gsd = gsd_at_pixels(g, state, np.full(cand.size, cu), np.full(cand.size, cv),
                            np.arange(cand.size))  # fmt: skip
        fine = np.isfinite(gsd) & (gsd <= max_gsd)
        fp_in[~fine] = None
        per.append({"sp": sp, "cand": cand, "g": g, "state": state, "fp": fp_in, "gsd": gsd})
    # one cover problem over every candidate frame of the band
    all_fp = [p["fp"] for p in per if p["cand"].size]
    owner = np.concatenate(
        [np.full(p["cand"].size, i) for i, p in enumerate(per) if p["cand"].size]
    ) if all_fp else np.zeros(0, int)  # fmt: skip
    local = np.concatenate([np.arange(p["cand"].size) for p in per if p["cand"].size]) if all_fp else np.zeros(0, int)  # fmt: skip
    fps = np.concatenate(all_fp) if all_fp else np.zeros(0, object)
    gsd_all = np.concatenate([p["gsd"] for p in per if p["cand"].size]) if all_fp else np.zeros(0)
    frames, stations = _coverage_pairs(fps, st["probes"])
    order = np.lexsort((stations, frames))
    frames, stations = frames[order], stations[order]
    starts = np.searchsorted(frames, np.arange(len(fps)))
    best = np.nanmin(gsd_all) if gsd_all.size and np.isfinite(gsd_all).any() else 1.0
    weight = np.where(np.isfinite(gsd_all), best / np.maximum(gsd_all, 1e-6), 0.0)
    min_gain = max(1, int(round(pc.min_gain_m / pc.station_step_m)))
    chosen = greedy_cover(
        starts, stations, weight, n_stations=n_st, min_views=min_views, min_gain=min_gain
    )
    views = np.zeros(n_st, np.int64)
    seen_any = np.zeros(n_st, bool)
    seen_any[stations] = True
    ends = np.r_[starts[1:], len(stations)]
    for j in chosen:
        views[stations[starts[j] : ends[j]]] += 1
    selections: list[Selection] = []
    info: dict[str, Any] = {"band": band, "min_views": min_views, "streams": {}}
    for i, p in enumerate(per):
        sp = p["sp"]
        mine = np.sort(local[chosen[owner[chosen] == i]]) if chosen.size else np.zeros(0, int)
        if not mine.size:
            info["streams"][sp.stream_id] = {"frames": len(sp), "candidates": int(p["cand"].size),
                                             "selected": 0}  # fmt: skip
            continue
        g, state = p["g"], p["state"]
        sub = _subset_state(state, mine)
        full = footprints(g, sub, margin_px=0.0, max_range_m=pc.max_range_m)
        roi = roi_masks(g, sub, asset, grow_m=pc.roi_margin_m, step_px=ROI_STEP_PX)
        sel = Selection(sp.stream_id, p["cand"][mine], p["gsd"][mine], full, roi, ROI_STEP_PX)
        selections.append(sel)
        info["streams"][sp.stream_id] = {
            "frames": len(sp),
            "candidates": int(p["cand"].size),
            "selected": len(sel),
            "gsd_m": [float(np.min(sel.gsd_m)), float(np.max(sel.gsd_m))],
        }
    info["coverage"] = _coverage_summary(st, views, seen_any, min_views, pc.station_step_m)
    return selections, info


ROI_STEP_PX = 16


def _subset_state(state: Any, idx: NDArray[np.intp]) -> Any:
    from dataclasses import replace

    return replace(
        state, x_m=state.x_m[idx], y_m=state.y_m[idx], h_m=state.h_m[idx], J=state.J[idx],
        R=state.R[idx], yaw_deg=state.yaw_deg[idx],
    )  # fmt: skip


def _cover_half_width(asset: Any, cfg: Config) -> float:
    """Half-width that must be seen at each station: the track bed or the pipe's strip."""
    return min(asset.half_width_m, 2.5 if asset.kind == "rail" else 5.0)


def _runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    return list(
        zip(np.flatnonzero(d == 1).tolist(), (np.flatnonzero(d == -1) - 1).tolist(), strict=True)
    )


def _coverage_summary(
    st: dict[str, Any],
    views: NDArray[np.int64],
    seen_any: NDArray[np.bool_],
    need: int,
    step: float,
) -> dict[str, Any]:
    """Surveyed range per route (stations any candidate saw), covered length and gaps."""
    out: dict[str, Any] = {}
    for rid in np.unique(st["route_id"]):
        sel = np.flatnonzero(st["route_id"] == rid)
        if not seen_any[sel].any():
            continue
        a, b = np.flatnonzero(seen_any[sel])[[0, -1]]
        rng = sel[a : b + 1]
        ch = st["chainage_m"][rng]
        v = views[rng]
        gaps = [
            [round(float(ch[i] - step / 2), 1), round(float(ch[j] + step / 2), 1)]
            for i, j in _runs(v == 0)
        ]
        out[str(rid)] = {
            "surveyed_chainage_m": [round(float(ch[0] - step / 2), 1), round(float(ch[-1] + step / 2), 1)],
            "covered_m": round(float((v > 0).sum() * step), 1),
            "covered_min_views_m": round(float((v >= need).sum() * step), 1),
            "gaps_m": gaps,
        }  # fmt: skip
    return out


def select_frames(
    poses_dir: Path, asset: Any, cfg: Config, out: Path, progress: Any = None
) -> dict[str, Any]:
    """The stage: select RGB and thermal frames, write one :class:`Selection` per stream."""
    from survey.process.records import stream_ids

    streams = [StreamPoses.load(poses_dir, s) for s in stream_ids(poses_dir)]
    summary: dict[str, Any] = {"bands": {}}
    bar = progress or (lambda it, **kw: it)
    bands = (("rgb", ("video", "still")), ("thermal", ("thermal",)))
    for band, kinds in bar(bands, total=2, unit="band"):
        group = [s for s in streams if s.kind in kinds]
        if not group:
            continue
        sels, info = select_band(group, asset, cfg, band)
        for s in sels:
            s.save(out)
        summary["bands"][band] = info
    save_json(out / "select.json", summary)
    return summary
