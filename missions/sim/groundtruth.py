"""The true ground of a simulated flight, rebuilt from its ``truth/scenario.json``.

A simulation is deterministic in its config (the same seed paints the same world), so the
ground texture the cameras saw can be sampled again at any points: the independent reference
for anything draped onto the ground (the imagery layer of a run, orthophotos), free of every
camera, pose and clock error the flight logs carry.

>>> truth = GroundTruth.from_flight("flight1")                       # doctest: +SKIP
>>> bgr = truth.rgb_at(lon_deg, lat_deg, res_m=0.025)               # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from missions.errors import SimulationError
from missions.sim.config import SimConfig

__all__ = ["GroundTruth", "TileAlignment", "tile_alignment"]


class GroundTruth:
    """Samples the simulated world's true surface colour (BGR uint8) at ground points."""

    def __init__(self, config: SimConfig) -> None:
        from missions.sim.paint import Painter
        from missions.sim.simulate import build_world, sim_asset
        from missions.sim.tiles import TileCache

        cfg = config.resolved()
        self.config = cfg
        self.asset = sim_asset(cfg)
        self.terrain, scene = build_world(cfg, self.asset)
        self.tiles = TileCache(
            Painter(scene),
            base_res_m=cfg.texture_res_m,
            max_bytes=cfg.max_tile_mb * 2**20,
            paint_layers=frozenset({"rgb"}),
        )

    @classmethod
    def from_flight(cls, flight_dir: str | Path) -> GroundTruth:
        """The world of a flight folder written by ``survey simulate``."""
        p = Path(flight_dir) / "truth" / "scenario.json"
        try:
            raw = json.loads(p.read_text(encoding="utf-8"))["config"]
        except (OSError, ValueError, KeyError) as exc:
            raise SimulationError(f"not a simulated flight's scenario ({exc})", path=p) from exc
        names = {f.name for f in dataclasses.fields(SimConfig)}
        return cls(SimConfig(**{k: v for k, v in raw.items() if k in names}))

    def rgb_at(self, lon_deg: ArrayLike, lat_deg: ArrayLike, res_m: float) -> NDArray[np.uint8]:
        """True colour (BGR, as OpenCV and the cameras store it) at points, from the texture level
        closest to ``res_m`` (box-filtered, so it is what a camera of that GSD would see
        without blur, noise or vignetting). Any array shape; returns ``shape + (3,)``."""
        import cv2

        lon = np.asarray(lon_deg, np.float64)
        lat = np.asarray(lat_deg, np.float64)
        x, y = self.asset.grid.to_grid(lon.ravel(), lat.ravel())
        level = self.tiles.level_for(res_m)
        pad = 2 * self.tiles.res(level)
        m = self.tiles.mosaic(
            level,
            (x.min() - pad, y.min() - pad, x.max() + pad, y.max() + pad),
            frozenset({"rgb"}),
        )
        rgb: Any = m.layers["rgb"]
        mx = ((x - m.x0) / m.res - 0.5).astype(np.float32)
        my = ((m.y_top - y) / m.res - 0.5).astype(np.float32)
        out = np.empty((mx.size, 3), np.uint8)
        step = 16384  # OpenCV's remap takes maps below 32767 rows
        for a in range(0, mx.size, step):
            out[a : a + step] = cv2.remap(
                rgb, mx[a : a + step, None], my[a : a + step, None], cv2.INTER_LINEAR
            )[:, 0]
        return out.reshape(*lon.shape, 3)


@dataclass(frozen=True)
class TileAlignment:
    """How far draped web tiles sit from the true ground (one entry per measured tile)."""

    shift_m: NDArray[np.float64]  #: length of the phase-correlation shift, ground metres
    dx_m: NDArray[np.float64]  #: east (+) component
    dy_m: NDArray[np.float64]  #: north (+) component
    corr: NDArray[np.float64]  #: Pearson correlation of the grey values before the shift
    tiles: int  #: finest-level tiles looked at (measured or not)


def tile_alignment(
    truth: GroundTruth, layer_dir: str | Path, zoom: int, *, min_peak: float = 0.2
) -> TileAlignment:
    """Phase-correlate every fully painted, textured tile of ``layer_dir/zoom`` (XYZ WebP) with
    the true texture at the same ground points. Tiles without a clear peak (uniform grass, or
    the 0.6 m sleeper period that makes the shift ambiguous) are not measured."""
    import cv2

    from survey.process.imagery import tile_pixel_lonlat, tile_resolution_m

    c = np.arange(256) + 0.5
    gx, gy = np.meshgrid(c, c)
    win = cv2.createHanningWindow((256, 256), cv2.CV_32F)
    out: list[tuple[float, float, float, float]] = []
    paths = sorted((Path(layer_dir) / str(zoom)).glob("*/*.webp"))
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if img is None or (img.shape[2] == 4 and (img[..., 3] < 255).mean() > 0.01):
            continue
        x, y = int(p.parent.name), int(p.stem)
        lon, lat = tile_pixel_lonlat(zoom, x, y, gx, gy)
        res = tile_resolution_m(zoom, float(lat.mean()))
        a = cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2GRAY).astype(np.float32)
        b = cv2.cvtColor(truth.rgb_at(lon, lat, res), cv2.COLOR_BGR2GRAY).astype(np.float32)
        if b.std() < 8:
            continue
        (dx, dy), peak = cv2.phaseCorrelate(b, a, win)
        if peak < min_peak:
            continue
        cc = float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
        out.append((float(np.hypot(dx, dy)) * res, dx * res, -dy * res, cc))
    arr = np.asarray(out, np.float64).reshape(-1, 4)
    return TileAlignment(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], len(paths))
