"""Lazily painted texture tiles with a bounded LRU cache, and per-frame mosaics of them.

Level ``l`` has texels of ``base_res_m * 2**l`` metres; tile (ix, iy) of a level covers
``[ix T, (ix + 1) T) x [iy T, (iy + 1) T)`` in grid metres (T = tile_px texels). Every level is
painted directly from the procedural scene (anti-aliased), so no level depends on another and a
high flight never paints the finest level. Memory is bounded by ``max_bytes`` whatever the
flight length.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from missions.sim.paint import Painter, TileLayers

__all__ = ["Mosaic", "TileCache"]

log = logging.getLogger(__name__)
_LAYERS = ("rgb", "temp", "emis", "ids_rgb", "ids_thermal")
#: Mosaics kept (several cameras, several levels per oblique frame).
MAX_MOSAICS = 8


@dataclass
class Mosaic:
    """Tiles of one level pasted into one array per layer; texel (row, col) centre at
    ``(x0 + (col + 0.5) res, y_top - (row + 0.5) res)``."""

    level: int
    res: float
    x0: float
    y_top: float
    ix: tuple[int, int]  # inclusive tile index ranges
    iy: tuple[int, int]
    layers: dict[str, NDArray[np.generic]]

    def covers(self, ix0: int, ix1: int, iy0: int, iy1: int) -> bool:
        """Whether the mosaic holds the tile ranges."""
        return self.ix[0] <= ix0 and ix1 <= self.ix[1] and self.iy[0] <= iy0 and iy1 <= self.iy[1]


class TileCache:
    """Paints tiles on demand and keeps the most recently used ones (bounded memory)."""

    def __init__(
        self,
        painter: Painter,
        *,
        base_res_m: float = 0.01,
        tile_px: int = 512,
        max_bytes: int = 768 * 2**20,
        max_level: int = 7,
        paint_layers: frozenset[str] = frozenset(),
    ) -> None:
        self.painter, self.base_res_m, self.tile_px = painter, base_res_m, tile_px
        self.paint_layers = paint_layers  # always painted together (one paint per tile)
        self.max_bytes, self.max_level = max_bytes, max_level
        self._lru: OrderedDict[tuple[int, int, int], TileLayers] = OrderedDict()
        self._bytes = 0
        self._mosaics: dict[tuple[int, frozenset[str]], Mosaic] = {}
        self.painted = 0
        self.paint_s = 0.0

    def res(self, level: int) -> float:
        """Texel size (m) of a level."""
        return self.base_res_m * 2.0**level

    def level_for(self, gsd_m: float, oversample: float = 1.0) -> int:
        """The level whose texel is closest (in log scale) to ``gsd_m / oversample``."""
        want = gsd_m / oversample / self.base_res_m
        lvl = int(math.floor(math.log2(max(want, 1e-9)) + 0.5))
        return min(max(lvl, 0), self.max_level)

    def tile(self, level: int, ix: int, iy: int, layers: frozenset[str]) -> TileLayers:
        """The tile's layers (painting what is missing)."""
        import time

        key = (level, ix, iy)
        have = self._lru.get(key)
        if have is not None and all(getattr(have, n) is not None for n in layers):
            self._lru.move_to_end(key)
            return have
        t = self.tile_px * self.res(level)
        t0 = time.perf_counter()
        layers = layers | self.paint_layers
        need_rgb = "rgb" in layers or (have is not None and have.rgb is not None)
        need_th = bool({"temp", "emis"} & layers) or (have is not None and have.temp is not None)
        need_ids = bool({"ids_rgb", "ids_thermal"} & layers) or (
            have is not None and have.ids_rgb is not None
        )
        new = self.painter.paint(
            ix * t,
            (iy + 1) * t,
            self.res(level),
            self.tile_px,
            rgb=need_rgb,
            thermal=need_th,
            ids=need_ids,
        )
        self.paint_s += time.perf_counter() - t0
        self.painted += 1
        if have is not None:
            self._bytes -= have.nbytes()
        self._lru[key] = new
        self._lru.move_to_end(key)
        self._bytes += new.nbytes()
        while self._bytes > self.max_bytes and len(self._lru) > 1:
            _, old = self._lru.popitem(last=False)
            self._bytes -= old.nbytes()
        return new

    @property
    def cached_bytes(self) -> int:
        """Memory held by cached tiles."""
        return self._bytes

    def mosaic(
        self, level: int, bounds: tuple[float, float, float, float], layers: frozenset[str]
    ) -> Mosaic:
        """A mosaic of ``layers`` at ``level`` covering ``bounds`` (xmin, ymin, xmax, ymax).

        The last mosaic of each (level, layers) is reused while it covers the bounds (pasting
        cached tiles is cheap; painting a tile is not, so there is no margin).
        """
        t = self.tile_px * self.res(level)
        ix0, ix1 = int(math.floor(bounds[0] / t)), int(math.floor(bounds[2] / t))
        iy0, iy1 = int(math.floor(bounds[1] / t)), int(math.floor(bounds[3] / t))
        key = (level, layers)
        m = self._mosaics.get(key)
        if m is not None and m.covers(ix0, ix1, iy0, iy1):
            self._mosaics[key] = self._mosaics.pop(key)  # most recently used last
            return m
        n = self.tile_px
        nx, ny = ix1 - ix0 + 1, iy1 - iy0 + 1
        if max(nx, ny) * n > 32000:
            raise ValueError(f"mosaic of {nx}x{ny} tiles is beyond OpenCV's remap limit")
        out: dict[str, NDArray[np.generic]] = {}
        for iy in range(iy0, iy1 + 1):
            for ix in range(ix0, ix1 + 1):
                tl = self.tile(level, ix, iy, layers)
                r0, c0 = (iy1 - iy) * n, (ix - ix0) * n
                for name in layers:
                    arr = getattr(tl, name)
                    if name not in out:
                        out[name] = np.empty((ny * n, nx * n) + arr.shape[2:], arr.dtype)
                    out[name][r0 : r0 + n, c0 : c0 + n] = arr
        self._mosaics.pop(key, None)
        m = Mosaic(level, self.res(level), ix0 * t, (iy1 + 1) * t, (ix0, ix1), (iy0, iy1), out)
        self._mosaics[key] = m
        while len(self._mosaics) > MAX_MOSAICS:  # oldest first (dicts keep insertion order)
            del self._mosaics[next(iter(self._mosaics))]
        return m
