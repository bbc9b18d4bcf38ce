"""Seeded, seamless procedural noise on world-aligned texel grids (for the lazy texture tiles).

Value noise: random values on a lattice anchored to absolute grid coordinates (so neighbouring
tiles agree exactly), interpolated bicubically onto the texels with ``cv2.remap``. Octaves whose
lattice is finer than two texels are replaced by their mean (0.5), so coarse texture levels are
band-limited instead of aliased.

Examples
--------
>>> import numpy as np
>>> a = value_noise(1000.0, 2000.0, 0.01, (64, 64), cell_m=0.25, seed=3)
>>> b = value_noise(1000.32, 2000.0, 0.01, (64, 64), cell_m=0.25, seed=3)
>>> bool(np.allclose(a[:, 32:], b[:, :32], atol=1e-5))   # the same field, shifted 32 texels
True
>>> 0.0 <= float(a.min()) and float(a.max()) <= 1.0
True
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["fbm", "hash01", "value_noise"]

F32 = NDArray[np.float32]
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
_M3 = np.uint64(0xFF51AFD7ED558CCD)
_M4 = np.uint64(0xC4CEB9FE1A85EC53)


def hash01(*keys: ArrayLike, seed: int = 0) -> NDArray[np.float64]:
    """A deterministic hash of integer arrays -> floats in [0, 1) (splitmix/murmur finaliser).

    >>> float(hash01(1, 2, seed=5)) == float(hash01(1, 2, seed=5)), float(hash01(0)) < 1.0
    (True, True)
    """
    with np.errstate(over="ignore"):
        # a uint64 scalar, then an array (or a scalar) shaped like the keys
        h: Any = np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * _M1 + np.uint64(0x632BE59BD9B4E019)
        for k in keys:
            kk = np.asarray(k).astype(np.int64).astype(np.uint64)
            h = (h ^ (kk * _M2)) * _M1
            h ^= h >> np.uint64(29)
        h ^= h >> np.uint64(33)
        h *= _M3
        h ^= h >> np.uint64(33)
        h *= _M4
        h ^= h >> np.uint64(33)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def value_noise(
    x0: float,
    y_top: float,
    res_m: float,
    shape: tuple[int, int],
    *,
    cell_m: float,
    seed: int,
) -> F32:
    """Value noise in [0, 1] on a texel grid.

    Texel (row, col) has its centre at ``(x0 + (col + 0.5) res_m, y_top - (row + 0.5) res_m)``;
    the lattice has spacing ``cell_m``. When ``cell_m < 2 res_m`` the result is the constant 0.5.
    """
    h, w = shape
    if cell_m < 2 * res_m:
        return np.full(shape, 0.5, dtype=np.float32)
    f = 1
    while cell_m / (res_m * f * 2) >= 12 and h == w and h // (f * 2) >= 8:
        f *= 2
    if f > 1:
        # Smooth field: evaluate on a grid f times coarser whose samples sit on texel indices
        # -f, 0, f, ... (one sample beyond each edge), then upsample exactly (no clamping).
        from missions.sim.texture import upsample_grid

        m = int(np.ceil((h - 1) / f)) + 3
        xc = x0 + (0.5 - f) * res_m - 0.5 * res_m * f
        yc = y_top - (0.5 - f) * res_m + 0.5 * res_m * f
        coarse = value_noise(xc, yc, res_m * f, (m, m), cell_m=cell_m, seed=seed)
        return upsample_grid(coarse, f, h)
    # lattice indices covering the tile plus a margin of 2 for bicubic interpolation
    xs0 = x0 + 0.5 * res_m
    ys0 = y_top - 0.5 * res_m
    i0 = int(np.floor(xs0 / cell_m)) - 2
    j0 = int(np.floor((ys0 - (h - 1) * res_m) / cell_m)) - 2
    ni = int(np.ceil((xs0 + (w - 1) * res_m) / cell_m)) - i0 + 3
    nj = int(np.ceil(ys0 / cell_m)) - j0 + 3
    ii = np.arange(i0, i0 + ni)[None, :]
    jj = np.arange(j0 + nj - 1, j0 - 1, -1)[:, None]  # top row = largest northing
    lattice = hash01(ii, jj, seed=seed).astype(np.float32)
    # texel centre -> lattice pixel coordinates
    mx = ((xs0 + np.arange(w) * res_m) / cell_m - i0).astype(np.float32)
    my = ((j0 + nj - 1) - (ys0 - np.arange(h) * res_m) / cell_m).astype(np.float32)
    map_x = np.broadcast_to(mx[None, :], (h, w))
    map_y = np.broadcast_to(my[:, None], (h, w))
    out = cv2.remap(
        lattice, np.ascontiguousarray(map_x), np.ascontiguousarray(map_y), cv2.INTER_CUBIC
    )
    return np.clip(out, 0.0, 1.0)


def fbm(
    x0: float,
    y_top: float,
    res_m: float,
    shape: tuple[int, int],
    *,
    cell_m: float,
    octaves: int,
    seed: int,
    gain: float = 0.5,
) -> F32:
    """Fractal sum of ``octaves`` value-noise layers (cell halves, amplitude x ``gain``), in [0, 1]."""
    total = np.zeros(shape, dtype=np.float32)
    amp, norm, cell = 1.0, 0.0, cell_m
    for k in range(octaves):
        total += np.float32(amp) * value_noise(
            x0, y_top, res_m, shape, cell_m=cell, seed=seed * 131 + k
        )
        norm += amp
        amp *= gain
        cell *= 0.5
    return total / np.float32(norm)
