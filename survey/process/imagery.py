"""The ``imagery`` stage: the run's own frames draped onto the ground as offline map tiles.

The selected RGB frames (and the thermal frames, in false colour) are projected onto the
ground with the run's georeferencing (each frame's camera and pose, the DEM when there is one)
and written as XYZ web tiles (EPSG:3857, 256 px WebP with alpha) that ``map.html`` and
``survey review`` show as their base layer, with no network. Each tile pixel takes the frame
that sees it best: the smallest ground sample distance, penalised towards the image border
(where lens distortion and vignetting are worst) — the nearest-nadir pixel on a nadir flight.

How a tile is built: the ground point of every 16th pixel of the tile (17 x 17 points, their
heights from the ground surface) is projected into the frame (:meth:`geo.Georeferencer.ground_to_pixels`),
the pixel map is interpolated bilinearly to the full 256 x 256 (the mapping is smooth at 16 px:
perspective and a Brown-Conrady lens), and the frame is sampled with ``cv2.remap``. Frames
stream one at a time; tiles being painted live in a bounded cache and the rest are spilled to
disk, so memory stays bounded on a flight of any length. Lower zoom levels are built from their
four children. The finest level is also written as a GeoTIFF mosaic (tiled, sparse, JPEG in
YCbCr with an internal mask, overviews) for GIS.

Outputs (``RUN_DIR/stages/imagery/``): ``<layer>/{z}/{x}/{y}.webp``, ``<layer>.tif`` and
``imagery.json`` (per layer: zoom range, bounds, tile counts per zoom, frames used, bytes).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from survey.config import Config
from survey.process.records import StreamPoses, save_json, stream_ids
from survey.process.select import Selection

__all__ = [
    "TILE_PX",
    "ImageryLayer",
    "build_imagery",
    "lonlat_to_tile",
    "read_imagery_index",
    "tile_bounds_lonlat",
    "tile_pixel_lonlat",
    "zoom_for_gsd",
]

log = logging.getLogger(__name__)

TILE_PX = 256
STEP_PX = 16  #: spacing of the projected grid inside a tile
EARTH_M = 2 * math.pi * 6378137.0  #: Web Mercator equator length
WEBP_QUALITY = 82
MIN_ZOOM_FLOOR = 12  #: never build levels coarser than this (a 10 km line is ~1 tile at z12)
LEVELS_BELOW = 7  #: levels built below the finest


# ---------------------------------------------------------------------------------------------
# tile arithmetic (Web Mercator, XYZ / "slippy map" numbering: y grows southwards)


def zoom_for_gsd(gsd_m: float, lat_deg: float, max_zoom: int = 23) -> int:
    """The zoom whose pixel is closest (in log scale) to ``gsd_m`` at ``lat_deg``.

    >>> zoom_for_gsd(0.0298, 0.0)   # z22 is 2.99 cm/px at the equator
    22
    >>> zoom_for_gsd(0.0298, 60.0)  # half that at 60 degrees: one level less
    21
    """
    res0 = EARTH_M * math.cos(math.radians(lat_deg)) / TILE_PX
    z = int(round(math.log2(res0 / max(gsd_m, 1e-6))))
    return int(min(max(z, MIN_ZOOM_FLOOR), max_zoom))


def tile_resolution_m(z: int, lat_deg: float) -> float:
    """Ground metres per tile pixel at zoom ``z`` and latitude ``lat_deg``."""
    return EARTH_M * math.cos(math.radians(lat_deg)) / (TILE_PX * 2**z)


def lonlat_to_tile(
    lon_deg: NDArray[np.float64], lat_deg: NDArray[np.float64], z: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Fractional tile coordinates ``(x, y)`` of points at zoom ``z``."""
    n = 2.0**z
    lat = np.radians(np.clip(lat_deg, -85.05112878, 85.05112878))
    x = (np.asarray(lon_deg) + 180.0) / 360.0 * n
    y = (1.0 - np.arcsinh(np.tan(lat)) / math.pi) / 2.0 * n
    return x, y


def tile_pixel_lonlat(
    z: int, tx: int, ty: int, px: NDArray[np.float64], py: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Longitude and latitude of tile pixel positions ``(px, py)`` (pixel centres at +0.5)."""
    n = 2.0**z
    fx = (tx + np.asarray(px) / TILE_PX) / n
    fy = (ty + np.asarray(py) / TILE_PX) / n
    lon = fx * 360.0 - 180.0
    lat = np.degrees(np.arctan(np.sinh(math.pi * (1.0 - 2.0 * fy))))
    return lon, lat


def tile_bounds_lonlat(z: int, tx: int, ty: int) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` of a tile."""
    lon, lat = tile_pixel_lonlat(z, tx, ty, np.array([0.0, TILE_PX]), np.array([TILE_PX, 0.0]))
    return float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])


def _interp_matrix() -> NDArray[np.float64]:
    """(256, 17): linear interpolation from the 17 grid samples to the 256 pixel centres."""
    k = TILE_PX // STEP_PX
    pos = (np.arange(TILE_PX) + 0.5) / STEP_PX  # pixel centre in grid units (grid at 0..16)
    i0 = np.clip(np.floor(pos).astype(int), 0, k - 1)
    w = pos - i0
    m = np.zeros((TILE_PX, k + 1))
    m[np.arange(TILE_PX), i0] = 1.0 - w
    m[np.arange(TILE_PX), i0 + 1] = w
    return m


_M = _interp_matrix()
_GRID = np.arange(TILE_PX // STEP_PX + 1, dtype=np.float64) * STEP_PX  # 0, 16, ..., 256


_M32 = _M.astype(np.float32)


def _upsample(g: NDArray[np.float64]) -> NDArray[np.float32]:
    """(T, 17, 17) grid values -> (T, 256, 256) by separable bilinear interpolation."""
    return np.matmul(np.matmul(_M32, g.astype(np.float32)), _M32.T)


# ---------------------------------------------------------------------------------------------
# the canvas: tiles of the finest level being painted, bounded in memory


class _Canvas:
    """Tiles ``(x, y)`` -> (BGR uint8, score float16); the least recently used spill to disk."""

    def __init__(self, work: Path, capacity: int) -> None:
        self.work = work
        self.capacity = max(8, capacity)
        self.mem: OrderedDict[tuple[int, int], tuple[NDArray[np.uint8], NDArray[np.float16]]]
        self.mem = OrderedDict()
        self.spilled: set[tuple[int, int]] = set()
        work.mkdir(parents=True, exist_ok=True)

    def _path(self, key: tuple[int, int]) -> Path:
        return self.work / f"{key[0]}_{key[1]}.npz"

    def get(self, key: tuple[int, int]) -> tuple[NDArray[np.uint8], NDArray[np.float16]]:
        if key in self.mem:
            self.mem.move_to_end(key)
            return self.mem[key]
        if key in self.spilled:
            with np.load(self._path(key)) as z:
                tile = (z["bgr"].copy(), z["score"].copy())
            self.spilled.discard(key)
            self._path(key).unlink()
        else:
            tile = (
                np.zeros((TILE_PX, TILE_PX, 3), np.uint8),
                np.full((TILE_PX, TILE_PX), np.inf, np.float16),
            )
        self.mem[key] = tile
        while len(self.mem) > self.capacity:
            old, (bgr, score) = self.mem.popitem(last=False)
            np.savez(self._path(old), bgr=bgr, score=score)
            self.spilled.add(old)
        return tile

    def keys(self) -> list[tuple[int, int]]:
        return sorted(set(self.mem) | self.spilled)

    def pop(self, key: tuple[int, int]) -> tuple[NDArray[np.uint8], NDArray[np.float16]]:
        tile = self.get(key)
        del self.mem[key]
        return tile


# ---------------------------------------------------------------------------------------------
# layers


@dataclass
class ImageryLayer:
    """One draped layer of a run (``rgb`` or ``thermal``), as ``imagery.json`` describes it."""

    name: str
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float]  #: west, south, east, north (degrees)
    tiles: dict[int, int]  #: zoom -> number of tiles written
    frames: int  #: frames painted
    gsd_m: float  #: median GSD of the frames painted
    bytes: int  #: size of the tiles on disk
    geotiff: str = ""  #: the mosaic, relative to the stage folder
    display_c: tuple[float, float] | None = None  #: thermal: degC at the palette's ends
    seconds: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Tile URL template relative to the stage folder."""
        return f"{self.name}/{{z}}/{{x}}/{{y}}.webp"

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["tiles"] = {str(k): v for k, v in self.tiles.items()}
        d["url"] = self.url
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ImageryLayer:
        d = {k: v for k, v in d.items() if k != "url"}
        d["tiles"] = {int(k): int(v) for k, v in d["tiles"].items()}
        d["bounds"] = tuple(d["bounds"])
        if d.get("display_c") is not None:
            d["display_c"] = tuple(d["display_c"])
        return cls(**d)


def read_imagery_index(stage_dir: Path) -> list[ImageryLayer]:
    """The layers an ``imagery`` stage folder holds ([] when it holds none)."""
    p = stage_dir / "imagery.json"
    if not p.is_file():
        return []
    return [ImageryLayer.from_json(d) for d in json.loads(p.read_text("utf-8"))["layers"]]


# ---------------------------------------------------------------------------------------------
# painting


@dataclass
class _Source:
    """One stream's selected frames, ready to paint."""

    sp: StreamPoses
    rows: NDArray[np.intp]
    gsd_m: NDArray[np.float64]


def _sources(poses_dir: Path, sel_dir: Path, kinds: tuple[str, ...]) -> list[_Source]:
    out = []
    for sid in stream_ids(poses_dir):
        sp = StreamPoses.load(poses_dir, sid)
        if sp.kind not in kinds or not (sel_dir / f"{sid}.npz").is_file():
            continue
        sel = Selection.load(sel_dir, sid)
        keep = sp.ok[sel.index] if len(sel) else np.zeros(0, bool)
        out.append(_Source(sp, sel.index[keep], sel.gsd_m[keep]))
    return out


class _Painter:
    """Paints frames of one camera into the canvas at zoom ``z``."""

    def __init__(self, canvas: _Canvas, z: int, asset: Any, cfg: Config, max_gsd_m: float):
        self.canvas, self.z, self.asset, self.cfg = canvas, z, asset, cfg
        self.max_gsd_m = max_gsd_m
        self.frames = 0

    def tiles_of(self, footprint: Any) -> list[tuple[int, int]]:
        if footprint is None or footprint.is_empty:
            return []
        x0, y0, x1, y1 = footprint.bounds
        xs = np.array([x0, x1, x1, x0])
        ys = np.array([y0, y0, y1, y1])
        lon, lat = self.asset.frame.to_lonlat(xs, ys)
        tx, ty = lonlat_to_tile(lon, lat, self.z)
        return [
            (i, j)
            for i in range(int(np.floor(tx.min())), int(np.floor(tx.max())) + 1)
            for j in range(int(np.floor(ty.min())), int(np.floor(ty.max())) + 1)
        ]

    def paint(
        self, georef: Any, state: Any, img: NDArray[np.uint8], keys: list[tuple[int, int]]
    ) -> int:
        """Paint one frame (BGR, ``state`` its single pose) into the tiles ``keys``."""
        import cv2

        if not keys:
            return 0
        cam = georef.camera
        k = _GRID.size
        gx, gy = np.meshgrid(_GRID, _GRID)  # (17, 17): x across, y down
        lon = np.empty((len(keys), k, k))
        lat = np.empty_like(lon)
        for t, (tx, ty) in enumerate(keys):
            lon[t], lat[t] = tile_pixel_lonlat(self.z, tx, ty, gx, gy)
        x, y = self.asset.frame.from_lonlat(lon.ravel(), lat.ravel())
        z = np.asarray(georef.ground.height_at(x, y), np.float64).ravel()
        u, v, _ = georef.ground_to_pixels(state, x, y, np.nan_to_num(z, nan=0.0))
        # in front of the camera: the point's depth along the optical axis is positive
        en = np.stack([x - state.x_m[0], y - state.y_m[0]], -1) @ np.linalg.inv(state.J[0]).T
        ned = np.stack([en[:, 1], en[:, 0], state.h_m[0] - z], -1)
        rng = np.linalg.norm(ned, axis=1)
        front = ned @ state.R[0][:, 2] > 0
        ok_pt = front & np.isfinite(z) & np.isfinite(u) & np.isfinite(v)
        ok_pt &= rng <= self.cfg.process.max_range_m
        f = 0.5 * (cam.fx_px + cam.fy_px)
        gsd = rng / f
        shape = (len(keys), k, k)
        w, h = cam.width_px, cam.height_px
        # tiles worth sampling: some grid point in front, near the image (64 px slack covers
        # an image corner poking between grid points) and fine enough
        near = ok_pt & (u > -64) & (v > -64) & (u < w + 63) & (v < h + 63)
        near &= gsd <= self.max_gsd_m
        live = np.flatnonzero(near.reshape(len(keys), -1).any(axis=1))
        if not live.size:
            return 0
        U = _upsample(np.where(ok_pt, u, -1e4).reshape(shape)[live])
        V = _upsample(np.where(ok_pt, v, -1e4).reshape(shape)[live])
        G = _upsample(np.where(ok_pt, gsd, 0.0).reshape(shape)[live])
        OK = _upsample(ok_pt.astype(np.float64).reshape(shape)[live]) > 0.999
        margin = 1.0
        good = OK & (U >= margin) & (V >= margin) & (U <= w - 1 - margin) & (V <= h - 1 - margin)
        good &= G <= self.max_gsd_m
        ax, ay = np.float32(2.0 / w), np.float32(2.0 / h)
        cx, cy = np.float32(cam.cx_px), np.float32(cam.cy_px)
        painted = 0
        for j, t in enumerate(live):
            m = good[j]
            if not m.any():
                continue
            r2 = ((U[j] - cx) * ax) ** 2 + ((V[j] - cy) * ay) ** 2
            s = (G[j] * (np.float32(1.0) + np.float32(0.25) * r2)).astype(np.float16)
            bgr, best = self.canvas.get(keys[t])
            better = m & (s < best)
            if not better.any():
                continue
            warped = cv2.remap(img, U[j], V[j], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            bgr[better] = warped[better]
            best[better] = s[better]
            painted += 1
        if painted:
            self.frames += 1
        return painted


def _frames(root: Path, src: _Source, queue_frames: int) -> Iterator[tuple[int, Any, str]]:
    """(row, image or ThermalFrame or None, why) in file order."""
    from survey.process.frames import FrameReader, Prefetch

    reader = FrameReader(root, src.sp, src.rows)
    for row, img in Prefetch(reader, queue_frames):
        yield row, img, reader.failures.get(row, "")


def _georef(src: _Source, asset: Any, cfg: Config, img_w: int, img_h: int) -> Any:
    from survey.process.geometry import georeferencer, ground_surface

    cam = src.sp.camera.model()
    if (cam.width_px, cam.height_px) != (img_w, img_h):
        cam = cam.scaled(img_w, img_h)
    pc = cfg.process
    return georeferencer(
        cam, ground_surface(pc, src.sp.alt_ref, asset.frame), asset.frame, pc.max_range_m
    )


def _thermal_range(root: Path, srcs: list[_Source], cfg: Config) -> tuple[float, float]:
    """One display range for the whole layer: median of the frames' 2nd / 98th percentiles."""
    from thermal.palette import display_range

    los, his = [], []
    for src in srcs:
        step = max(1, len(src.rows) // 40)  # enough frames for a stable median
        sub = _Source(src.sp, src.rows[::step], src.gsd_m[::step])
        for _row, frame, _why in _frames(root, sub, cfg.process.queue_frames):
            if frame is None:
                continue
            lo, hi = display_range(frame.temperature_c(cfg.process.emissivity), 2.0, 98.0)
            los.append(lo)
            his.append(hi)
    if not los:
        return 0.0, 1.0
    return float(np.median(los)), float(max(np.median(his), np.median(los) + 1.0))


def _paint_layer(
    name: str,
    srcs: list[_Source],
    root: Path,
    asset: Any,
    cfg: Config,
    out: Path,
    progress: Any,
) -> ImageryLayer | None:
    from survey.process.geometry import footprints
    from thermal.palette import colorize

    t0 = time.perf_counter()
    pc = cfg.process
    gsds = np.concatenate([s.gsd_m for s in srcs]) if srcs else np.zeros(0)
    gsds = gsds[np.isfinite(gsds) & (gsds > 0)]
    if not gsds.size:
        return None
    gsd = float(np.median(gsds))
    lat0 = float(np.nanmedian(np.concatenate([s.sp.lat_deg[s.rows] for s in srcs])))
    z = zoom_for_gsd(max(gsd, pc.imagery_min_gsd_m), lat0, pc.imagery_max_zoom)
    canvas = _Canvas(out / f"_{name}_work", pc.imagery_cache_tiles)
    painter = _Painter(canvas, z, asset, cfg, max_gsd_m=4.0 * gsd)
    display = _thermal_range(root, srcs, cfg) if name == "thermal" else None
    failures: dict[str, str] = {}
    total = int(sum(len(s.rows) for s in srcs))
    bar = progress or (lambda it, **kw: it)

    def frames() -> Iterator[tuple[_Source, int, Any, str]]:
        for src in srcs:
            for row, img, why in _frames(root, src, pc.queue_frames):
                yield src, row, img, why

    georefs: dict[tuple[str, int, int], Any] = {}
    for src, row, img, why in bar(frames(), total=total, unit="frame"):
        if img is None:
            failures[f"{src.sp.stream_id}:{row}"] = why or "unreadable frame"
            continue
        if name == "thermal":
            assert display is not None
            img = colorize(img.temperature_c(pc.emissivity), *display)
        h, w = img.shape[:2]
        key = (src.sp.stream_id, w, h)
        if key not in georefs:
            georefs[key] = _georef(src, asset, cfg, w, h)
        g = georefs[key]
        state = g.prepare(src.sp.camera_poses(np.array([row], np.intp)))
        fp = footprints(g, state, per_side=8, max_range_m=pc.max_range_m)[0]
        painter.paint(g, state, img, painter.tiles_of(fp))
    layer_dir = out / name
    if layer_dir.exists():
        shutil.rmtree(layer_dir)
    counts, west_south_east_north = _write_levels(canvas, z, layer_dir, out / f"{name}.tif")
    shutil.rmtree(canvas.work, ignore_errors=True)
    if not counts:
        return None
    size = sum(p.stat().st_size for p in layer_dir.rglob("*.webp"))
    return ImageryLayer(
        name=name, min_zoom=min(counts), max_zoom=z, bounds=west_south_east_north,
        tiles=counts, frames=painter.frames, gsd_m=gsd, bytes=size, geotiff=f"{name}.tif",
        display_c=display, seconds=time.perf_counter() - t0, failures=failures,
    )  # fmt: skip


def _encode(bgr: NDArray[np.uint8], alpha: NDArray[np.uint8]) -> bytes:
    import cv2

    ok, buf = cv2.imencode(
        ".webp", np.dstack([bgr, alpha]), [cv2.IMWRITE_WEBP_QUALITY, WEBP_QUALITY]
    )
    if not ok:  # pragma: no cover - OpenCV always has WebP
        raise RuntimeError("WebP encoding failed")
    return bytes(buf)


def _write_tile(layer_dir: Path, z: int, x: int, y: int, bgra: NDArray[np.uint8]) -> None:
    d = layer_dir / str(z) / str(x)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".{y}.webp.tmp"
    tmp.write_bytes(_encode(bgra[..., :3], bgra[..., 3]))
    os.replace(tmp, d / f"{y}.webp")


def _write_levels(
    canvas: _Canvas, z: int, layer_dir: Path, tif: Path
) -> tuple[dict[int, int], tuple[float, float, float, float]]:
    """Finest level from the canvas (and the GeoTIFF), then each coarser one from its children."""
    import cv2

    keys = canvas.keys()
    if not keys:
        return {}, (0.0, 0.0, 0.0, 0.0)
    xs = [k[0] for k in keys]
    ys = [k[1] for k in keys]
    w_, s_, _, _ = tile_bounds_lonlat(z, min(xs), max(ys))
    _, _, e_, n_ = tile_bounds_lonlat(z, max(xs), min(ys))
    counts: dict[int, int] = {}
    level: dict[tuple[int, int], NDArray[np.uint8]] = {}
    with _GeoTiff(tif, z, min(xs), min(ys), max(xs), max(ys)) as gt:
        for key in keys:
            bgr, score = canvas.pop(key)
            alpha = np.where(np.isfinite(score), 255, 0).astype(np.uint8)
            if not alpha.any():
                continue
            bgra = np.dstack([bgr, alpha])
            _write_tile(layer_dir, z, key[0], key[1], bgra)
            gt.write(key[0], key[1], bgr, alpha)
            level[key] = cv2.resize(
                bgra, (TILE_PX // 2, TILE_PX // 2), interpolation=cv2.INTER_AREA
            )
    counts[z] = len(level)
    zmin = max(MIN_ZOOM_FLOOR, z - LEVELS_BELOW)
    for zz in range(z - 1, zmin - 1, -1):
        parents: dict[tuple[int, int], NDArray[np.uint8]] = {}
        for (x, y), half in level.items():
            p = parents.setdefault((x // 2, y // 2), np.zeros((TILE_PX, TILE_PX, 4), np.uint8))
            ox, oy = (x % 2) * (TILE_PX // 2), (y % 2) * (TILE_PX // 2)
            p[oy : oy + TILE_PX // 2, ox : ox + TILE_PX // 2] = half
        level = {}
        for (x, y), bgra in parents.items():
            _write_tile(layer_dir, zz, x, y, bgra)
            level[(x, y)] = cv2.resize(
                bgra, (TILE_PX // 2, TILE_PX // 2), interpolation=cv2.INTER_AREA
            )
        counts[zz] = len(level)
    return counts, (w_, s_, e_, n_)


class _GeoTiff:
    """The finest level as a tiled, sparse GeoTIFF in EPSG:3857 (tile-aligned blocks)."""

    def __init__(self, path: Path, z: int, x0: int, y0: int, x1: int, y1: int) -> None:
        self.path, self.z, self.x0, self.y0 = path, z, x0, y0
        self.w = (x1 - x0 + 1) * TILE_PX
        self.h = (y1 - y0 + 1) * TILE_PX
        self.ds: Any = None

    def __enter__(self) -> _GeoTiff:
        import rasterio
        from rasterio.transform import from_origin

        res = EARTH_M / (TILE_PX * 2**self.z)
        west = -EARTH_M / 2 + self.x0 * TILE_PX * res
        north = EARTH_M / 2 - self.y0 * TILE_PX * res
        self.tmp = self.path.with_suffix(".tif.tmp")
        self._env = rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True)
        self._env.__enter__()
        self.ds = rasterio.open(
            self.tmp, "w", driver="GTiff", width=self.w, height=self.h, count=3, dtype="uint8",
            crs="EPSG:3857", transform=from_origin(west, north, res, res), tiled=True,
            blockxsize=TILE_PX, blockysize=TILE_PX, compress="jpeg", photometric="ycbcr",
            jpeg_quality=85, sparse_ok=True, bigtiff="if_safer",
        )  # fmt: skip
        return self

    def write(self, x: int, y: int, bgr: NDArray[np.uint8], alpha: NDArray[np.uint8]) -> None:
        from rasterio.windows import Window

        win = Window((x - self.x0) * TILE_PX, (y - self.y0) * TILE_PX, TILE_PX, TILE_PX)
        self.ds.write(np.moveaxis(bgr[..., ::-1], -1, 0), window=win)
        self.ds.write_mask(alpha, window=win)

    def __exit__(self, *exc: object) -> None:
        from rasterio.enums import Resampling

        try:
            if exc[0] is None:
                f = [2**i for i in range(1, 7) if max(self.w, self.h) >> i >= TILE_PX]
                if f:
                    self.ds.build_overviews(f, Resampling.average)
        finally:
            self.ds.close()
            self._env.__exit__(*exc)
        if exc[0] is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# the stage


def build_imagery(
    flight_root: Path,
    poses_dir: Path,
    sel_dir: Path,
    asset: Any,
    cfg: Config,
    out: Path,
    progress: Any = None,
) -> list[ImageryLayer]:
    """The stage body: every configured layer, and ``imagery.json`` describing them."""
    wanted = [s.strip() for s in cfg.process.imagery.split("+") if s.strip() and s != "none"]
    layers: list[ImageryLayer] = []
    skipped: dict[str, str] = {}
    for name in wanted:
        kinds = ("video", "still") if name == "rgb" else ("thermal",)
        srcs = [s for s in _sources(poses_dir, sel_dir, kinds) if len(s.rows)]
        if not srcs:
            skipped[name] = "no located frames of this kind were selected"
            continue
        layer = _paint_layer(name, srcs, flight_root, asset, cfg, out, progress)
        if layer is None:
            skipped[name] = "no frame saw the ground"
            continue
        layers.append(layer)
        log.info(
            "imagery %s: %d frames, z%d-%d, %d tiles, %.1f MB in %.1f s", name, layer.frames,
            layer.min_zoom, layer.max_zoom, sum(layer.tiles.values()), layer.bytes / 1e6,
            layer.seconds,
        )  # fmt: skip
    save_json(out / "imagery.json", {"layers": [la.to_json() for la in layers],
                                     "skipped": skipped})  # fmt: skip
    return layers
